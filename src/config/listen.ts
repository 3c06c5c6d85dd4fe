import { isIPv4, isIPv6 } from 'node:net';

/** Where the daemon serves Prometheus text over HTTP: a loopback address only. */
export interface ListenAddress {
  host: string;
  port: number;
}

export type ListenParse = { ok: true; address: ListenAddress } | { ok: false; problem: string };

/**
 * The port the examples and the DaemonSet use. Not 9464 (OpenTelemetry's Prometheus exporter), and
 * outside 9100-9999, the range Prometheus' wiki of default port allocations hands out to exporters
 * (all of it taken by now); below the Linux ephemeral ports (32768 on) and Kubernetes' NodePorts
 * (30000-32767), and no default of the kubelet, kube-proxy or etcd.
 */
export const METRICS_PORT = 19464;

const FORMS = `like 127.0.0.1:${METRICS_PORT} or [::1]:${METRICS_PORT}`;

/**
 * `127.0.0.1:19464` or `[::1]:19464`. Names are refused, not resolved: `localhost` may resolve to
 * anything /etc/hosts says, and the metrics name every container and tool call on the host.
 * `anyAddress` (the daemon's --metrics-listen, in a pod's own network namespace) also takes other
 * addresses, 0.0.0.0 and [::] among them.
 */
export function parseListenAddress(text: string, opts: { anyAddress?: boolean } = {}): ListenParse {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  const v6 = m?.[1];
  const host = v6 ?? m?.[2] ?? '';
  if (!(v6 !== undefined ? isIPv6(v6) : isIPv4(host)) || !(port >= 1 && port <= 65535)) return { ok: false, problem: `must be a ${opts.anyAddress ? 'numeric' : 'loopback'} address and port ${FORMS}, or off` };
  if (opts.anyAddress) return { ok: true, address: { host: v6 !== undefined ? new URL(`http://[${v6}]/`).hostname.slice(1, -1) : host, port } };
  const loopback = v6 !== undefined ? new URL(`http://[${v6}]/`).hostname === '[::1]' : host.startsWith('127.');
  if (!loopback) return { ok: false, problem: `must be a loopback address (${FORMS}, or off): metrics are served to this host only` };
  return { ok: true, address: { host: v6 !== undefined ? '::1' : host, port } };
}

export function formatListenAddress(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
