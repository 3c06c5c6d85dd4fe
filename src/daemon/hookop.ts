/**
 * The admin op `hook`: the daemon runs one hook stage for the native hook front
 * (src/hook/native/agentcgroup-hook.c), which a runtime runs in place of `agentcgroup hook` with the
 * same argv, environment and stdin, so that a container start costs no Node start-up. The work is the
 * hook's own (hook/run.ts runHook): the caller's argv, the caller's policy file read afresh, the
 * caller's AGENTCGROUP_* variables, its stdin; the answer is what the hook process would have exited
 * with and printed. One line each way (admin.ts), every string in base64 (standard, padded), since the
 * front is C and builds and checks these lines without a JSON library:
 *
 *   -> {"op":"hook","argv":[B64,...],"env":[B64 of "NAME=value",...],"stdin":B64}
 *   <- {"v":1,"ok":true,"exit":0,"stderr":B64}       exactly these keys in this order
 *   <- {"v":1,"ok":false,"error":"<one line>"}        the front runs the binary instead
 *
 * Anything the daemon cannot answer exactly as the hook process would is declined rather than
 * guessed, and the front then execs the binary with the same argv and stdin: an argv of another
 * shape than our hook lines (options the hook has no use for, --help, a second argument), a path
 * relative to the caller's working directory, or a caller that sees the host otherwise than the
 * daemon (another mount, pid, cgroup or user namespace, another root: the daemon in its Kubernetes
 * pod). Only root reaches the admin socket (0600, and SO_PEERCRED uid 0), so the policy path and the
 * environment are trusted as much as the hook's own; the state is the container's business and
 * validated as the hook validates it. Bounds: a request is one admin line (lines.ts MAX_LINE, 64
 * KiB), so the front forwards only states that fit and runs the binary for the rest; the waits are
 * the hook's (poststop's stragglers within its 5 s, on inotify, never blocking the daemon); the
 * carve is the synchronous cgroupfs work the daemon already does for NRI (at poststart, which our hook
 * lines do not register, with its freeze confirmed by polling, as NRI's catch-up carve does).
 */
import { basename, isAbsolute } from 'node:path';
import type { FsOps } from '../cgroup/cgroupfs.js';
import { SHIM_LINK_NAME } from '../hook/register.js';
import { type HookOutcome, runHook } from '../hook/run.js';
import { teardownContainerAsync } from '../hook/teardown.js';
import { HOOK_ENV } from '../host/env.js';
import type { PeerCred } from '../sys/libc.js';
import { failure } from './lines.js';

/** The front's own bounds (agentcgroup-hook.c MAX_ARGS, MAX_ENV, REPLY_MAX; a unit test holds the two together). */
export const HOOK_OP_LIMITS = {
  /** argv entries, argv[0] included. */
  args: 64,
  /** AGENTCGROUP_* variables. */
  env: 32,
  /** The reply line, newline included: a longer one makes the front run the binary. */
  replyBytes: 256 * 1024,
} as const;

/** Of the hook's messages, this much at most is relayed (far beyond a real hook's few lines); the rest is cut whole lines at a time. */
const STDERR_MAX = 128 * 1024;

export interface HookRequest {
  argv: string[];
  env: Record<string, string>;
  stdin: string;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Names the front forwards: its AGENTCGROUP_* variables. */
const ENV_ENTRY = /^(AGENTCGROUP_[A-Za-z0-9_]*)=(.*)$/s;

function decoded(v: unknown): string | undefined {
  return typeof v === 'string' && BASE64.test(v) ? Buffer.from(v, 'base64').toString('utf8') : undefined;
}

/** The request's fields checked and decoded, or one line saying what is wrong with them. */
export function parseHookRequest(msg: Record<string, unknown>): HookRequest | string {
  const { argv, env, stdin } = msg;
  if (!Array.isArray(argv) || argv.length === 0 || argv.length > HOOK_OP_LIMITS.args) return `argv: an array of 1 to ${HOOK_OP_LIMITS.args} base64 strings`;
  if (!Array.isArray(env) || env.length > HOOK_OP_LIMITS.env) return `env: an array of at most ${HOOK_OP_LIMITS.env} base64 strings`;
  const args: string[] = [];
  for (const a of argv) {
    const s = decoded(a);
    if (s === undefined || s.includes('\0')) return 'argv: an array of base64 strings without NUL';
    args.push(s);
  }
  const vars: Record<string, string> = {};
  for (const e of env) {
    const m = ENV_ENTRY.exec(decoded(e) ?? '');
    if (!m || m[2]!.includes('\0')) return 'env: each entry base64 of AGENTCGROUP_NAME=value, without NUL';
    if (Object.hasOwn(vars, m[1]!)) return `env: ${m[1]} twice`;
    vars[m[1]!] = m[2]!;
  }
  const text = decoded(stdin);
  if (text === undefined) return 'stdin: a base64 string';
  return { argv: args, env: vars, stdin: text };
}

/**
 * What the single binary run with this argv would take as `agentcgroup hook`'s arguments (commander,
 * src/cli/hook.ts), for the shapes our hook lines have: `ARGV0 hook [STAGE] [--policy FILE |
 * --policy=FILE]`, in any order; any other shape is one line saying why it is declined.
 */
export function hookArguments(argv: readonly string[]): { stage: string | undefined; policyFile: string | undefined } | string {
  const [argv0, command, ...rest] = argv;
  // As the single binary decides (runtime/self.ts shimArgv): this name alone makes it the runtime shim.
  if (argv0 === undefined || basename(argv0) === SHIM_LINK_NAME) return `argv[0] makes the binary the runtime shim`;
  // Under node the script would come first: only the single binary's argv is taken.
  if (command !== 'hook') return 'not the hook command';
  let stage: string | undefined;
  let policyFile: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    let value: string | undefined;
    if (a === '--policy') value = rest[++i];
    else if (a.startsWith('--policy=')) value = a.slice('--policy='.length);
    else if (a.startsWith('-')) return 'an option other than --policy';
    else if (stage !== undefined) return 'more than one argument';
    else {
      stage = a;
      continue;
    }
    if (value === undefined || value.startsWith('-')) return '--policy without a file';
    if (policyFile !== undefined) return '--policy twice';
    policyFile = value;
  }
  return { stage, policyFile };
}

/** Variables the hook ignores when empty (host/env.ts); an empty AGENTCGROUP_PROC_ROOT is a relative path. */
const UNSET_WHEN_EMPTY: ReadonlySet<string> = new Set(['AGENTCGROUP_POLICY', 'AGENTCGROUP_CGROUP_ROOT']);

/** A path the hook would resolve against its working directory, which the daemon does not share. */
function relativePath(env: Record<string, string>, policyFile: string | undefined): string | undefined {
  const paths: [string, string | undefined][] = [...HOOK_ENV.map((k): [string, string | undefined] => [k, env[k]]), ['--policy', policyFile]];
  for (const [name, value] of paths) {
    if (value === undefined || (value === '' && UNSET_WHEN_EMPTY.has(name))) continue;
    if (!isAbsolute(value)) return `${name} is not an absolute path`;
  }
  return undefined;
}

/**
 * The reply to a hook run. Its stderr is cut, whole lines at a time with a last line saying so, only
 * where it would not fit the front's bound.
 */
export function hookReply(out: HookOutcome): { v: 1; ok: true; exit: number; stderr: string } {
  let text = out.stderr;
  const size = Buffer.byteLength(text);
  if (size > STDERR_MAX) {
    let kept = '';
    for (const line of text.split(/(?<=\n)/)) {
      if (Buffer.byteLength(kept) + Buffer.byteLength(line) > STDERR_MAX - 256) break;
      kept += line;
    }
    text = `${kept}agentcgroup: warning: ${size - Buffer.byteLength(kept)} more bytes of this hook's messages cut\n`;
  }
  return { v: 1, ok: true, exit: out.exit, stderr: Buffer.from(text).toString('base64') };
}

export interface HookOpDeps {
  /** Unit tests only: a simulated cgroupfs. */
  fsOps?: FsOps | undefined;
  /** procview.ts viewDifference: undefined when the caller sees the host as the daemon does. */
  viewDifference(pid: number): string | undefined;
  /** Whether a daemon answers on an admin socket (this daemon's own, the caller's policy permitting, answers at once). */
  daemonReachable(socketPath: string): Promise<boolean>;
}

export type HookOpReply = ReturnType<typeof hookReply> | ReturnType<typeof failure>;

/** Runs the hook a front asks for, or declines (the front then runs the binary). Never throws. */
export async function answerHook(msg: Record<string, unknown>, peer: PeerCred, deps: HookOpDeps): Promise<HookOpReply> {
  const req = parseHookRequest(msg);
  if (typeof req === 'string') return failure(req);
  const args = hookArguments(req.argv);
  if (typeof args === 'string') return failure(`declined: ${args}`);
  const relative = relativePath(req.env, args.policyFile);
  if (relative !== undefined) return failure(`declined: ${relative}`);
  const apart = deps.viewDifference(peer.pid);
  if (apart !== undefined) return failure(`declined: ${apart}`);
  const out = await runHook(
    { stage: args.stage, policyFile: args.policyFile, env: req.env, uid: peer.uid, readStdin: async () => req.stdin, fsOps: deps.fsOps },
    { teardown: teardownContainerAsync, daemonReachable: (path) => deps.daemonReachable(path) },
  );
  return hookReply(out);
}
