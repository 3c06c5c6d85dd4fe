/**
 * Guest-side helpers for real-engine scenarios: a busybox OCI bundle whose hooks call the built CLI,
 * a policy that keeps our state in a scratch directory, and small process utilities.
 */
import { type ChildProcess, spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import type { BindMount } from '../../src/exec/socketmount.js';

export const CLI = resolve('dist/agentcgroup.cjs');

/**
 * For stand-in agents whose framework is a busybox shell loop: a shell is a launcher by default (it
 * would only start the framework), so the container takes shells off its launcher list, as a user
 * whose framework is a shell script would. (Naming `sh` in tracker.framework would make every
 * `sh -c` it runs part of the framework too.)
 */
export const SHELL_FRAMEWORK: Record<string, string> = { 'io.agentcgroup.tracker.launchers': 'tini,dumb-init,catatonit,env' };

/**
 * The sched_ext scheduler object a daemon started from here loads: AGENTCGROUP_SCHED_OBJECT if set,
 * else agentsched.bpf.o beside the CLI (dist/, which `npm run build` fills); undefined when it is not there.
 */
export function schedObject(): string | undefined {
  const path = process.env.AGENTCGROUP_SCHED_OBJECT || resolve(dirname(CLI), 'agentsched.bpf.o');
  return existsSync(path) ? path : undefined;
}

export interface Scratch {
  dir: string;
  policy: string;
  runDir: string;
  callDir: string;
}

/**
 * The runtime shim as install.sh puts it, running this checkout's build: the native runtime front
 * (dist/agentcgroup-runtime) as `agentcgroup-runtime`, and beside it, where the front looks for the
 * binary, `agentcgroup`: a script running the built CLI with the scratch policy (and noting each run
 * in bin/calls.log). The path engines run.
 */
export function runtimeFront(s: Scratch): string {
  const binDir = join(s.dir, 'bin');
  mkdirSync(binDir, { recursive: true });
  const front = join(binDir, 'agentcgroup-runtime');
  copyFileSync(resolve('dist/agentcgroup-runtime'), front);
  chmodSync(front, 0o755);
  const binary = join(binDir, 'agentcgroup');
  // Each run of the binary leaves its arguments in calls.log: which verbs the front did not take.
  writeFileSync(binary, `#!/bin/sh\necho "$*" >> ${join(binDir, 'calls.log')}\nAGENTCGROUP_POLICY=${s.policy} exec ${process.execPath} ${CLI} "$@"\n`);
  chmodSync(binary, 0o755);
  return front;
}

/** What runtimeFront's binary was run with, a line per run: the calls the front did not take itself. */
export function binaryRuns(s: Scratch): string[] {
  return readOr(join(s.dir, 'bin', 'calls.log')).split('\n').filter((l) => l !== '');
}

/** Every run of the binary a create (or run): each other verb went from the front to the runtime. */
export const onlyCreates = (runs: string[]): boolean => runs.length > 0 && runs.every((l) => /^runtime .*\b(create|run)\b/.test(l));

export function scratch(policyExtra = ''): Scratch {
  const dir = mkdtempSync('/tmp/agentcg-it-');
  const runDir = join(dir, 'run');
  const callDir = join(dir, 'calls');
  const policy = join(dir, 'policy.yaml');
  writeFileSync(policy, `paths:\n  run_dir: ${runDir}\n  call_log_dir: ${callDir}\n${policyExtra}`);
  // As if the "daemon not running" warning had been given: scenarios without a daemon stay quiet.
  mkdirSync(runDir, { recursive: true });
  writeFileSync(join(runDir, 'daemon-absent-warned'), '');
  return { dir, policy, runDir, callDir };
}

/**
 * The in-container exec client as install.sh leaves it (root's, 0755; dist/agentcgroup-exec, which
 * `npm run build` makes), in the scratch directory, and named by its policy (paths.exec_client).
 */
export function installExecClient(s: Scratch): string {
  const client = join(s.dir, 'lib', 'agentcgroup-exec');
  mkdirSync(dirname(client), { recursive: true });
  copyFileSync(resolve('dist/agentcgroup-exec'), client);
  chmodSync(client, 0o755);
  writeFileSync(s.policy, readFileSync(s.policy, 'utf8').replace(/^paths:\n/m, `paths:\n  exec_client: ${client}\n`));
  return client;
}

export interface BundleOptions {
  args: string[];
  /** The host's root, read-only, instead of a busybox rootfs: for containers that run node. */
  hostRoot?: boolean;
  /** linux.cgroupsPath, to place the container under a budget cgroup. */
  cgroupsPath?: string;
  /** Extra mounts (source on the host, destination in the container). */
  binds?: { source: string; destination: string; readonly?: boolean }[];
  /** Mounts exactly as given, after the binds (what the shim or the daemon would add). */
  mounts?: BindMount[];
  memoryLimit?: number;
  /** linux.resources.unified: cgroup v2 files the runtime writes before the hooks (as kubelet's memory.oom.group). */
  unified?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Which of our hook stages go into config.json (none for hooks.d-driven engines). */
  hookStages?: ('createRuntime' | 'poststart' | 'poststop')[];
}

/** A bundle from `crun spec`, with a read-only busybox rootfs. */
export function makeBundle(s: Scratch, name: string, opts: BundleOptions): string {
  const bundle = join(s.dir, name);
  mkdirSync(join(bundle, 'rootfs/bin'), { recursive: true });
  copyFileSync('/bin/busybox', join(bundle, 'rootfs/bin/busybox'));
  for (const tool of ['sh', 'sleep', 'cat', 'dd', 'head', 'env', 'ls']) symlinkSync('busybox', join(bundle, 'rootfs/bin', tool));
  must(spawnSync('crun', ['spec'], { cwd: bundle, encoding: 'utf8' }), 'crun spec');
  const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  config.process.terminal = false;
  // `crun spec` lists ambient capabilities outside the inheritable set; runc 1.3 warns about each on
  // every start (as the engines' own specs have none, neither do ours).
  delete config.process.capabilities?.ambient;
  config.process.args = opts.args;
  config.process.env = ['PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', 'HOME=/tmp'];
  config.process.cwd = opts.hostRoot ? process.cwd() : '/';
  config.root = { path: 'rootfs', readonly: true };
  const binds = [...(opts.binds ?? [])];
  if (opts.hostRoot) {
    // pivot_root cannot take the guest's own root: build one from the host's /usr (merged /usr layout)
    // and this checkout, read-only.
    for (const d of ['usr', 'run', 'tmp', process.cwd().slice(1)]) mkdirSync(join(bundle, 'rootfs', d), { recursive: true });
    for (const l of ['lib', 'lib64', 'sbin']) symlinkSync(`usr/${l}`, join(bundle, 'rootfs', l));
    binds.unshift({ source: '/usr', destination: '/usr', readonly: true }, { source: process.cwd(), destination: process.cwd(), readonly: true });
    config.mounts.push({ destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=755'] });
  }
  for (const b of binds) {
    config.mounts.push({ destination: b.destination, type: 'bind', source: b.source, options: ['rbind', b.readonly ? 'ro' : 'rw'] });
  }
  config.mounts.push(...(opts.mounts ?? []));
  config.annotations = opts.annotations ?? {};
  if (opts.cgroupsPath) config.linux.cgroupsPath = opts.cgroupsPath;
  if (opts.memoryLimit) config.linux.resources = { ...config.linux.resources, memory: { limit: opts.memoryLimit } };
  if (opts.unified) config.linux.resources = { ...config.linux.resources, unified: opts.unified };
  const hook = { path: process.execPath, args: ['node', CLI, 'hook', '--policy', s.policy], env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'] };
  config.hooks = Object.fromEntries((opts.hookStages ?? ['createRuntime', 'poststop']).map((st) => [st, [hook]]));
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(config, null, 1));
  return bundle;
}

export function must<T extends SpawnSyncReturns<string>>(r: T, what: string): T {
  if (r.status !== 0) throw new Error(`${what} failed (${r.status ?? r.signal}): ${r.stderr || r.stdout}`.slice(0, 2000));
  return r;
}

export function run(cmd: string, args: string[], input?: string): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: 'utf8', input: input ?? '', timeout: 120_000 });
}

export function readOr(path: string, fallback = ''): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * `p`, or 'timeout' once `ms` have passed. The timer is cleared as soon as `p` settles: a pending one
 * would keep the scenario's process alive, up to its time limit, after its checks are done.
 */
export function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

/**
 * Polls until check() is true or the time is up; returns the last result. The default is generous: it
 * costs nothing when the check passes, and the guest is emulated on machines that may be busy. The
 * check may be async (a question to a daemon's API).
 */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await sleep(100);
  }
  return check();
}

/** Starts a detached container; its stdio (and the runtime's, with our hooks' messages) go to a log file. */
export function runDetached(runtime: string, bundle: string, id: string, log: string): { status: number | null; log: string } {
  const fd = openSync(log, 'a');
  try {
    const r = spawnSync(runtime, ['run', '-d', '--bundle', bundle, id], { stdio: ['ignore', fd, fd], timeout: 120_000 });
    return { status: r.status, log: readOr(log) };
  } finally {
    closeSync(fd);
  }
}

/** Starts `agentcgroup daemon` with the scratch policy; resolves once its admin socket answers. */
export async function startDaemon(s: Scratch, logName = 'daemon.log'): Promise<{ child: ChildProcess; log: string }> {
  const log = join(s.dir, logName);
  const fd = openSync(log, 'a');
  const child = spawn(process.execPath, [CLI, 'daemon', '--policy', s.policy], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const ready = await eventually(() => readOr(log).includes('daemon ready'), 60_000);
  if (!ready) throw new Error(`daemon did not start: ${readOr(log)}`);
  return { child, log };
}

/**
 * The child's exit code (null when a signal ended it), once it has exited. A child a signal ended has
 * exitCode null but signalCode set: it has exited too, and its 'exit' event will not come again.
 */
export function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve(child.exitCode) : new Promise((r) => child.once('exit', (code) => r(code)));
}

/** One request line to a unix socket; the first reply line, or `error CODE`. */
export function adminAsk(path: string, line: string): Promise<string> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    let buf = '';
    s.on('connect', () => s.write(`${line}\n`));
    s.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\n')) s.end();
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code}`));
    s.on('close', () => resolve(buf.trim()));
  });
}
