import { isIPv4, isIPv6 } from 'node:net';

/** Where the daemon serves Prometheus text over HTTP: a loopback address only. */
export interface ListenAddress {
  host: string;
  port: number;
}

export type ListenParse = { ok: true; address: ListenAddress } | { ok: false; problem: string };

const FORMS = 'like 127.0.0.1:9464 or [::1]:9464';

/**
 * `127.0.0.1:9464` or `[::1]:9464`. Names are refused, not resolved: `localhost` may resolve to
 * anything /etc/hosts says, and the metrics name every container and tool call on the host.
 */
export function parseListenAddress(text: string): ListenParse {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  const v6 = m?.[1];
  const host = v6 ?? m?.[2] ?? '';
  if (!(v6 !== undefined ? isIPv6(v6) : isIPv4(host)) || !(port >= 1 && port <= 65535)) return { ok: false, problem: `must be a loopback address and port ${FORMS}, or off` };
  const loopback = v6 !== undefined ? new URL(`http://[${v6}]/`).hostname === '[::1]' : host.startsWith('127.');
  if (!loopback) return { ok: false, problem: `must be a loopback address (${FORMS}, or off): metrics are served to this host only` };
  return { ok: true, address: { host: v6 !== undefined ? '::1' : host, port } };
}

export function formatListenAddress(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
