// `npm run bench:hook-front` (this machine, no containers, no cgroup writes): what one hook call costs
// as a process, side by side in one run:
//   node       `node dist/agentcgroup.cjs hook`, the hook as a Node start
//   binary     `dist/agentcgroup hook`, the single binary (when built), what hooks.d ran before the front
//   front+op   the native front asking a daemon stand-in that runs the real admin op `hook`
//              (daemon/hookop.ts: the caller's policy read afresh, the state parsed, the bundle read)
//   front+echo the front against a daemon that answers at once: the front's own cost and one round trip
//   front→node the front with no daemon, exec'ing the Node hook: what the fallback adds
// Two hook calls, each doing all of its work with nothing under /sys/fs/cgroup: createRuntime for a
// container that opts out (io.agentcgroup.enable=false: policy, state and bundle read), and poststop of
// a container never carved (its run state looked up and removed). Everything lives in a temp directory.
// Prints min / median / max wall milliseconds per call and the medians against `node` (bench/timing.ts).
// BENCH_RUNS (default 30) sets the runs per variant, after 3 unmeasured ones.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { replyAdmin } from '../src/daemon/admin.js';
import { answerHook } from '../src/daemon/hookop.js';
import { serveLines } from '../src/daemon/sockets.js';
import { daemonReachable } from '../src/hook/daemoncheck.js';
import { viewDifference } from '../src/sys/procview.js';
import { type Outcome, type Variant, interleaved, table } from './timing.js';

const CLI = resolve('dist/agentcgroup.cjs');
const BINARY = resolve('dist/agentcgroup');
const FRONT = resolve('dist/agentcgroup-hook');

async function serve(mode: string, socket: string): Promise<void> {
  if (mode === 'op') {
    const deps = { viewDifference: (pid: number) => viewDifference(pid), daemonReachable: (p: string) => daemonReachable(p) };
    await serveLines(socket, 0o600, (p) => (p.uid === 0 ? undefined : 'root only'), (line, peer, reply) =>
      replyAdmin(line, { pid: process.pid, snapshot: () => { throw new Error('not in this bench'); }, hook: (msg, p) => answerHook(msg, p, deps) }, peer, reply),
    );
  } else {
    const answer = `${JSON.stringify({ v: 1, ok: true, exit: 0, stderr: '' })}\n`;
    await new Promise<void>((r) => createServer((s) => s.once('data', () => s.write(answer)).on('error', () => {})).listen(socket, r));
  }
  process.stdout.write('ready\n');
}

async function startServer(mode: string, socket: string) {
  const child = spawn(process.execPath, [process.argv[1]!, '--serve', mode, socket], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_OPTIONS: '' } });
  await new Promise<void>((r, j) => {
    child.stdout.once('data', () => r());
    child.once('exit', (code) => j(new Error(`the ${mode} server exited (${code})`)));
  });
  return child;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root: the admin socket serves uid 0 only, as the daemon does');
  for (const f of [CLI, FRONT]) if (!existsSync(f)) throw new Error(`${f} missing: npm run build`);
  const runs = Number(process.env.BENCH_RUNS ?? 30);
  const dir = mkdtempSync(join(tmpdir(), 'acg-bench-front-'));
  const servers: ReturnType<typeof spawn>[] = [];
  try {
    const policy = join(dir, 'policy.yaml');
    writeFileSync(policy, `paths:\n  run_dir: ${join(dir, 'run')}\n  call_log_dir: ${join(dir, 'calls')}\n`);
    const bundle = join(dir, 'bundle');
    mkdirSync(bundle);
    writeFileSync(join(bundle, 'config.json'), JSON.stringify({ ociVersion: '1.0.2', annotations: { 'io.agentcgroup.enable': 'false' } }));
    const state = (status: string) => JSON.stringify({ ociVersion: '1.0.2', id: 'bench1', status, pid: status === 'stopped' ? 0 : 1, bundle, annotations: {} });
    const opSocket = join(dir, 'op.sock');
    const echoSocket = join(dir, 'echo.sock');
    servers.push(await startServer('op', opSocket), await startServer('echo', echoSocket));

    const hookArgv = (argv0: string, ...pre: string[]) => [argv0, ...pre, 'hook', '--policy', policy];
    const env = { PATH: '/usr/bin:/bin' };
    const variants: Variant[] = [
      { name: 'node', file: process.execPath, argv: hookArgv('node', CLI), env },
      ...(existsSync(BINARY) ? [{ name: 'binary', file: BINARY, argv: hookArgv('agentcgroup'), env }] : []),
      { name: 'front+op', file: FRONT, argv: hookArgv('agentcgroup'), env: { ...env, AGENTCGROUP_ADMIN_SOCKET: opSocket, AGENTCGROUP_BINARY: '/nonexistent' } },
      { name: 'front+echo', file: FRONT, argv: hookArgv('agentcgroup'), env: { ...env, AGENTCGROUP_ADMIN_SOCKET: echoSocket, AGENTCGROUP_BINARY: '/nonexistent' } },
      // Falls back to node with the script as the "binary"'s first argument: argv [node, CLI, hook, ...].
      { name: 'front→node', file: FRONT, argv: hookArgv('node', CLI), env: { ...env, AGENTCGROUP_ADMIN_SOCKET: join(dir, 'none.sock'), AGENTCGROUP_BINARY: process.execPath } },
    ];
    const calls: [string, string][] = [
      ['createRuntime, opted out', state('created')],
      ['poststop, never carved', state('stopped')],
    ];
    console.log(`hook calls as processes, ${runs} runs each after 3 unmeasured, interleaved; wall ms (min / median / max)`);
    const check = (v: Variant, o: Outcome) => {
      if (o.status !== 0 || o.stderr !== '') throw new Error(`${v.name}: exit ${o.status}, ${o.stderr}`);
    };
    for (const [call, stdin] of calls) {
      console.log(`\n${call}`);
      for (const line of table(interleaved(variants, runs, check, stdin), 'node')) console.log(line);
    }
  } finally {
    for (const s of servers) s.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

const at = process.argv.indexOf('--serve');
(at >= 0 ? serve(process.argv[at + 1]!, process.argv[at + 2]!) : main()).catch((err: unknown) => {
  console.error(`bench:hook-front: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
