/**
 * `npm run bench:tracker` (runs inside the test guest; prints, asserts nothing). How fast the daemon
 * puts a tool call the agent spawned on its own into the call's cgroup, and what the call could charge
 * to the agent leaf before that. The agent is a container's init that forks+execs the calls itself.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, makeBundle, readOr, run, runDetached, scratch, startDaemon } from '../test/integration/bundle.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 1000);
const BURSTS = Number(process.env.BENCH_BURSTS ?? 50);
const BATCH = 10;
const MiB = 1 << 20;

interface Record {
  name: string;
  argv: string[];
  memory: { peak: number | null };
  placement?: { afterForkUs: number | null; afterExecUs: number };
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

function summary(values: number[]): string {
  const v = [...values].sort((a, b) => a - b);
  const ms = (us: number) => (us / 1000).toFixed(2);
  return `p50 ${ms(quantile(v, 0.5))} ms  p99 ${ms(quantile(v, 0.99))} ms  max ${ms(v.at(-1) ?? NaN)} ms  (n=${v.length})`;
}

async function main(): Promise<void> {
  const s = scratch();
  const ctl = join(s.dir, 'ctl');
  mkdirSync(ctl);
  // Phase 1: CALLS short calls in batches of BATCH. Phase 2: BURSTS calls that allocate 32 MiB at once.
  const agent = [
    'sleep 3',
    `i=0; while [ $i -lt ${CALLS} ]; do env sleep 0.3 & i=$((i+1)); [ $((i % ${BATCH})) -eq 0 ] && wait; done; wait`,
    ': > /ctl/phase2; sleep 2',
    `j=0; while [ $j -lt ${BURSTS} ]; do env dd if=/dev/zero of=/dev/null bs=32M count=1 2>/dev/null; j=$((j+1)); done`,
    ': > /ctl/done; sleep 3600',
  ].join('; ');
  const bundle = makeBundle(s, 'bench', { args: ['/bin/sh', '-c', agent], memoryLimit: 1024 * MiB, binds: [{ source: ctl, destination: '/ctl' }] });
  const daemon = await startDaemon(s);
  const started = Date.now();
  if (runDetached('crun', bundle, 'bench', join(s.dir, 'run.log')).status !== 0) throw new Error(readOr(join(s.dir, 'run.log')));
  const agentCg = join('/sys/fs/cgroup', 'bench', 'agent');
  await eventually(() => existsSync(join(ctl, 'phase2')), 60 * 60_000);
  const peakBefore = Number(readOr(join(agentCg, 'memory.peak')));
  await eventually(() => existsSync(join(ctl, 'done')), 60 * 60_000);
  const peakAfter = Number(readOr(join(agentCg, 'memory.peak')));
  await eventually(() => readOr(join(s.callDir, 'bench.jsonl')).split('\n').filter(Boolean).length >= CALLS + BURSTS, 120_000);
  const records = readOr(join(s.callDir, 'bench.jsonl'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record);
  run('crun', ['delete', '-f', 'bench']);
  daemon.child.kill('SIGTERM');

  const sleeps = records.filter((r) => r.argv.join(' ') === 'sleep 0.3');
  const placed = sleeps.filter((r) => r.placement);
  const afterFork = placed.map((r) => r.placement!.afterForkUs).filter((v): v is number => v !== null);
  const bursts = records.filter((r) => r.name === 'dd');
  const lost = bursts.map((r) => Math.max(0, 32 * MiB - (r.memory.peak ?? 0)));
  console.log(`agentcgroup tracker benchmark: kernel ${readOr('/proc/sys/kernel/osrelease').trim()}, ${CALLS} calls in batches of ${BATCH}, ${BURSTS} bursts of 32 MiB, ${((Date.now() - started) / 1000).toFixed(0)} s`);
  console.log(`calls logged: ${sleeps.length} of ${CALLS}; placed by the daemon: ${placed.length}`);
  console.log(`fork -> in its tool-call cgroup:  ${summary(afterFork)}`);
  console.log(`exec -> in its tool-call cgroup:  ${summary(placed.map((r) => r.placement!.afterExecUs))}`);
  console.log(`bytes charged to the agent leaf before the move: agent memory.peak rose ${((peakAfter - peakBefore) / MiB).toFixed(1)} MiB over ${bursts.length} bursts; per burst, 32 MiB minus the call's own peak: ${summary(lost.map((b) => (b / MiB) * 1000)).replace(/ ms/g, ' MiB')}`);
}

main().catch((err: unknown) => {
  console.error(`bench:tracker failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
