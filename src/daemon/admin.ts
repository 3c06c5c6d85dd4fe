/**
 * The root-only admin socket's protocol: one JSON line in, one JSON line out, for `status`, `top`,
 * `metrics` and the tests. Typed on both ends: the daemon answers with answerAdmin, the CLI asks
 * with adminRequestLine and checks replies through metrics/snapshot.ts.
 *
 *   -> {"op":"ping"}       <- {"v":1,"ok":true,"pid":1234,"version":1}
 *   -> {"op":"snapshot"}   <- {"v":1,"ok":true,"containers":[...],"calls":2,"tracker":true,"at":"..."}
 *   -> {"op":"metrics"}    <- {"v":1,"ok":true,"text":"# HELP ..."}
 *   -> {"op":"hook",...}   <- {"v":1,"ok":true,"exit":0,"stderr":"..."}   (hookop.ts: for the native hook front)
 *   anything else          <- {"v":1,"ok":false,"error":"<one line>"}
 */
import { describeError } from '../errors.js';
import { renderPrometheus } from '../metrics/prometheus.js';
import type { DaemonSnapshot } from '../metrics/snapshot.js';
import type { PeerCred } from '../sys/libc.js';
import type { HookOpReply } from './hookop.js';
import { failure } from './lines.js';

/** Bumped when a reply changes shape in a way an older CLI would misread. */
export const ADMIN_VERSION = 1;

export const ADMIN_OPS = ['ping', 'snapshot', 'metrics'] as const;
export type AdminOp = (typeof ADMIN_OPS)[number];

export type AdminReply =
  | { v: 1; ok: true; pid: number; version: number }
  | ({ v: 1; ok: true } & DaemonSnapshot)
  | { v: 1; ok: true; text: string }
  | HookOpReply
  | { v: 1; ok: false; error: string };

export function adminRequestLine(op: AdminOp): string {
  return `${JSON.stringify({ op })}\n`;
}

/** What an answer needs of the daemon. */
export interface AdminSource {
  pid: number;
  snapshot(): DaemonSnapshot;
  /** The op `hook` (hookop.ts answerHook), for the caller `peer`; without it the op is unknown. */
  hook?(msg: Record<string, unknown>, peer: PeerCred): Promise<HookOpReply>;
}

/** The answer to one request line: at once, but for a hook run. */
export function answerAdmin(line: string, src: AdminSource, peer?: PeerCred): AdminReply | Promise<AdminReply> {
  let msg: Record<string, unknown>;
  let op: unknown;
  try {
    msg = JSON.parse(line) as Record<string, unknown>;
    op = msg.op;
  } catch {
    return { v: 1, ok: false, error: 'not JSON' };
  }
  if (op === 'hook' && src.hook && peer) return src.hook(msg, peer).catch((err: unknown) => failure(describeError(err)));
  try {
    switch (op) {
      case 'ping':
        return { v: 1, ok: true, pid: src.pid, version: ADMIN_VERSION };
      case 'snapshot':
        return { v: 1, ok: true, ...src.snapshot() };
      case 'metrics':
        return { v: 1, ok: true, text: renderPrometheus(src.snapshot()) };
    }
  } catch (err) {
    return { v: 1, ok: false, error: describeError(err) };
  }
  const known = src.hook ? [...ADMIN_OPS, 'hook'] : ADMIN_OPS;
  return { v: 1, ok: false, error: `unknown op ${JSON.stringify(op)?.slice(0, 64) ?? 'undefined'}: one of ${known.join(', ')}` };
}

/** Answers `line` through `reply`: at once, or once a hook run is done. */
export function replyAdmin(line: string, src: AdminSource, peer: PeerCred, reply: (r: AdminReply) => void): void {
  const answer = answerAdmin(line, src, peer);
  if (answer instanceof Promise) void answer.then(reply);
  else reply(answer);
}
