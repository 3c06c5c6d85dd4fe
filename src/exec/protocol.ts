/**
 * The in-container `exec` protocol. Inside a container cgroupfs is read-only, and must stay so: a
 * container must never raise its own limits. So `agentcgroup exec` run inside a container asks the
 * daemon, over the container's socket, to place it.
 *
 * One connection per tool call, newline-delimited JSON, one request and one response at a time:
 *
 *   client -> {"v":1,"op":"begin","name":"pytest","argv":["pytest","-x"]}
 *   daemon <- {"v":1,"ok":true,"call":"pytest-mx1q2-a1b2c3"}
 *             The daemon finds the caller's container from the peer's credentials (SO_PEERCRED pid ->
 *             /proc/<pid>/cgroup), never from the request; creates C/tools/<call> with the limits
 *             recorded at carve time; and moves the caller into it. The client then spawns the
 *             command, which inherits the cgroup.
 *   client -> {"v":1,"op":"end","call":"pytest-mx1q2-a1b2c3","exit":0,"signal":null}
 *   daemon <- {"v":1,"ok":true,"notice":"agentcgroup: tool call \"pytest\" was throttled ..."}
 *             The daemon reads the call's stats, moves the caller back to C/agent, ends stragglers,
 *             removes the cgroup and appends the call record. A connection that closes before `end`
 *             is treated as an end with no exit status (the call is killed and logged).
 *
 * Any failure: {"v":1,"ok":false,"error":"<one line>"}, and the connection is closed (an open call
 * ends with it). The container is untrusted, so the daemon bounds what it holds for it
 * (daemon/lines.ts, policy `limits`): at most `limits.exec_connections` connections per container,
 * the next one refused; a connection silent for 10 minutes with no call open is closed; requests sent
 * ahead wait unread until the one before is answered; a client leaving its replies unread is dropped.
 */
import { AgentcgroupError } from '../errors.js';

export const PROTOCOL_VERSION = 1;
/** Requests are tiny; a caller sending more is misbehaving. */
export const MAX_MESSAGE_BYTES = 64 * 1024;
export const MAX_ARGS = 1024;

export type Request =
  | { v: 1; op: 'begin'; name: string; argv: string[] }
  | { v: 1; op: 'end'; call: string; exit: number | null; signal: string | null };

export type Response = { v: 1; ok: true; call?: string; notice?: string } | { v: 1; ok: false; error: string };

function bad(problem: string): never {
  throw new AgentcgroupError('bad-request', `exec request: ${problem}`);
}

const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');
/** A call id as the daemon makes them, and as `end` must name one. */
export const CALL_ID = /^[a-z0-9_.-]{1,64}$/;

/** Validates one line from the untrusted side (the container). */
export function parseRequest(line: string): Request {
  if (Buffer.byteLength(line) > MAX_MESSAGE_BYTES) bad(`longer than ${MAX_MESSAGE_BYTES} bytes`);
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    bad('not JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('not an object');
  const r = raw as Record<string, unknown>;
  if (r.v !== PROTOCOL_VERSION) bad(`unsupported version ${JSON.stringify(r.v)} (this daemon speaks ${PROTOCOL_VERSION})`);
  if (r.op === 'begin') {
    if (typeof r.name !== 'string' || r.name.length === 0 || r.name.length > 256) bad('name must be a string of 1 to 256 characters');
    if (!isStringArray(r.argv) || r.argv.length === 0 || r.argv.length > MAX_ARGS) bad(`argv must be 1 to ${MAX_ARGS} strings`);
    if (r.argv.some((a) => a.includes('\0'))) bad('argv must not contain NUL');
    return { v: 1, op: 'begin', name: r.name, argv: r.argv };
  }
  if (r.op === 'end') {
    if (typeof r.call !== 'string' || !CALL_ID.test(r.call)) bad('call must be a call id');
    if (r.exit !== null && !(Number.isInteger(r.exit) && (r.exit as number) >= 0 && (r.exit as number) <= 255)) bad('exit must be null or 0..255');
    if (r.signal !== null && !(typeof r.signal === 'string' && /^SIG[A-Z0-9]{1,10}$/.test(r.signal))) bad('signal must be null or a signal name');
    return { v: 1, op: 'end', call: r.call, exit: r.exit as number | null, signal: r.signal as string | null };
  }
  return bad(`unknown op ${JSON.stringify(r.op)?.slice(0, 40)}`);
}

export function encode(message: Request | Response): string {
  return `${JSON.stringify(message)}\n`;
}
