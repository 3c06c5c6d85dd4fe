// `npm run bench:fast-paths` (this machine, no containers, nothing under /sys/fs/cgroup): what the
// per-container and per-call paths cost as processes, side by side in one run, interleaved run by run
// (bench/timing.ts), each against doing the same without us:
//
// 1. Runtime verbs an engine calls per container (and per exec), against runc itself with its state
//    in a temp directory: `state`, `kill`, `delete --force` of a container that is not there (runc
//    does its whole lookup and fails), `list`, `--version`. Variants: runc; the native runtime front
//    (dist/agentcgroup-runtime, what install.sh installs as agentcgroup-runtime); the shim under Node
//    (`node dist/agentcgroup.cjs runtime`); the single binary as the shim (`dist/agentcgroup runtime`,
//    what Docker ran before the front), when built. Goal: the front within 2 ms of runc.
// 2. A tool call through the in-container exec client, against running the command directly:
//    `/bin/true`; the C client (dist/agentcgroup-exec) and the TypeScript one (`node
//    dist/agentcgroup.cjs exec`), each against a daemon stand-in in another process that answers
//    `begin` and `end` at once (test/fixtures/fakeexecd.ts). That is the client's own cost: its start,
//    two round trips, the fork and exec of the command. The daemon's move of the client into the
//    call's cgroup is the kernel's cost (a cgroup.procs write), measured in the guest (bench:tracker,
//    the daemon scenario). Goal: the C client within 5 ms of the command alone.
//
// Prints min / median / max wall milliseconds, the medians against the baseline, and a verdict per
// goal. BENCH_RUNS (default 40) sets the runs per variant, after 3 unmeasured ones.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fakeExecd } from '../test/fixtures/fakeexecd.js';
import { type Outcome, type Variant, interleaved, stats, table } from './timing.js';

const CLI = resolve('dist/agentcgroup.cjs');
const BINARY = resolve('dist/agentcgroup');
const FRONT = resolve('dist/agentcgroup-runtime');
const CLIENT = resolve('dist/agentcgroup-exec');

async function serveExec(): Promise<void> {
  const d = await fakeExecd();
  process.stdout.write(`${d.path}\n`);
}

async function startExecd(): Promise<{ path: string; stop: () => void }> {
  const child = spawn(process.execPath, [process.argv[1]!, '--serve-exec'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_OPTIONS: '' } });
  const path = await new Promise<string>((r, j) => {
    child.stdout.once('data', (d: Buffer) => r(d.toString().trim()));
    child.once('exit', (code) => j(new Error(`the exec daemon stand-in exited (${code})`)));
  });
  return { path, stop: () => child.kill('SIGTERM') };
}

function runc(): string {
  for (const p of ['/usr/sbin/runc', '/usr/bin/runc', '/usr/local/sbin/runc', '/usr/local/bin/runc']) if (existsSync(p)) return p;
  throw new Error('no runc: install the Debian package runc');
}

function verdict(times: ReadonlyMap<string, number[]>, name: string, base: string, goalMs: number): string {
  const over = stats(times.get(name)!).median - stats(times.get(base)!).median;
  return `  ${name}: ${over.toFixed(2)} ms over ${base} (goal <= ${goalMs} ms): ${over <= goalMs ? 'met' : 'NOT met'}`;
}

async function main(): Promise<void> {
  for (const f of [CLI, FRONT, CLIENT]) if (!existsSync(f)) throw new Error(`${f} missing: npm run build`);
  const runs = Number(process.env.BENCH_RUNS ?? 40);
  const dir = mkdtempSync(join(tmpdir(), 'acg-bench-fast-'));
  const execd = await startExecd();
  try {
    const rc = runc();
    const env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', AGENTCGROUP_RUNTIME: rc, AGENTCGROUP_POLICY: join(dir, 'none.yaml') };
    const shims = (args: string[]): Variant[] => [
      { name: 'runc', file: rc, argv: [rc, ...args], env },
      { name: 'front', file: FRONT, argv: ['agentcgroup-runtime', ...args], env },
      { name: 'node shim', file: process.execPath, argv: ['node', CLI, 'runtime', ...args], env },
      ...(existsSync(BINARY) ? [{ name: 'binary shim', file: BINARY, argv: ['agentcgroup', 'runtime', ...args], env }] : []),
    ];
    const root = ['--root', join(dir, 'runc-state')];
    const verbs: [string, string[]][] = [
      ['state (no such container)', [...root, 'state', 'nosuch']],
      ['kill (no such container)', [...root, 'kill', 'nosuch', 'KILL']],
      ['delete --force (no such container)', [...root, 'delete', '--force', 'nosuch']],
      ['list', [...root, 'list']],
      ['--version', ['--version']],
    ];
    console.log(`runtime verbs as processes, ${runs} runs each after 3 unmeasured, interleaved; wall ms`);
    const verdicts: string[] = [];
    for (const [what, args] of verbs) {
      const variants = shims(args);
      // Each variant must end as runc ends: the same exit status and stdout.
      let expected: Outcome | undefined;
      const check = (v: Variant, o: Outcome) => {
        if (v.name === 'runc') expected = o;
        else if (o.status !== expected?.status || o.stdout !== expected.stdout) throw new Error(`${what}: ${v.name} ended otherwise than runc (exit ${o.status} vs ${expected?.status}): ${o.stderr.slice(0, 300)}`);
      };
      const times = interleaved(variants, runs, check);
      console.log(`\n${what} (runc exits ${expected?.status})`);
      for (const line of table(times, 'runc')) console.log(line);
      verdicts.push(`${what}: ${verdict(times, 'front', 'runc', 2).trim()}`);
    }

    const callEnv = { PATH: env.PATH, AGENTCGROUP_EXEC_SOCKET: execd.path };
    const calls: Variant[] = [
      { name: 'direct', file: '/bin/true', argv: ['true'], env: callEnv },
      { name: 'C client', file: CLIENT, argv: ['agentcgroup-exec', '--', '/bin/true'], env: callEnv },
      { name: 'node client', file: process.execPath, argv: ['node', CLI, 'exec', '--', '/bin/true'], env: callEnv },
    ];
    const ok = (v: Variant, o: Outcome) => {
      if (o.status !== 0) throw new Error(`${v.name}: exit ${o.status}: ${o.stderr.slice(0, 300)}`);
    };
    const callTimes = interleaved(calls, runs, ok);
    console.log(`\na tool call, /bin/true, through the exec client (daemon stand-in answering at once) vs directly; wall ms`);
    for (const line of table(callTimes, 'direct')) console.log(line);
    verdicts.push(`tool call: ${verdict(callTimes, 'C client', 'direct', 5).trim()}`);

    console.log('\ngoals');
    for (const v of verdicts) console.log(`  ${v}`);
  } finally {
    execd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

(process.argv.includes('--serve-exec') ? serveExec() : main()).catch((err: unknown) => {
  console.error(`bench:fast-paths: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
