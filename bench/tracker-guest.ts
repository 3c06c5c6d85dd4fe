/**
 * `npm run bench:tracker` (runs inside the test guest; prints, asserts nothing). What a tool call
 * charges to the agent leaf before it is in its own cgroup, and what the hold costs it in start
 * latency, with the hold and without, side by side in one run: the same container and framework
 * (a python agent under tini, bench/tracker/agent.py), phases alternating between a daemon with
 * `tracker.hold: true` and one with `false`, so drift in the guest weighs on both alike.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Kind, type Mode, type Sample, report } from './tracker/report.js';
import { parseFlat } from './replay/stats.js';
import { eventually, exited, makeBundle, readOr, run, runDetached, scratch, startDaemon } from '../test/integration/bundle.js';

const PHASES = Number(process.env.BENCH_PHASES ?? 4);
const CALLS = Number(process.env.BENCH_CALLS ?? 10);
const MiB = 1 << 20;
const ID = 'bench-tracker';

interface CallRecord {
  name: string;
  start: string;
  memory: { peak: number | null };
  placement?: { afterExecUs: number };
}

function must(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.stdout}`);
}

/** A 64 MiB file on ext4 (a loop device over tmpfs): reading it fills page cache, as a repo checkout would. */
function dataDisk(dir: string): string {
  const mods = process.env.AGENTCGROUP_VM_MODROOT;
  for (const mod of ['loop', 'ext4']) spawnSync('modprobe', mods ? ['-d', mods, mod] : [mod]);
  const img = join(dir, 'data.img');
  const mnt = join(dir, 'data');
  mkdirSync(mnt);
  must('truncate', ['-s', '160M', img]);
  must('mkfs.ext4', ['-q', '-F', img]);
  must('mount', ['-o', 'loop', img, mnt]);
  must('dd', ['if=/dev/urandom', `of=${join(mnt, 'file64')}`, 'bs=1M', 'count=64', 'status=none']);
  return mnt;
}

async function main(): Promise<void> {
  const s = scratch();
  const policies: Record<Mode, string> = { hold: s.policy, 'no hold': join(s.dir, 'policy-nohold.yaml') };
  writeFileSync(policies['no hold'], `${readOr(s.policy)}tracker:\n  hold: false\n`);
  const ctl = join(s.dir, 'ctl');
  const out = join(s.dir, 'out');
  mkdirSync(ctl);
  mkdirSync(out);
  const data = dataDisk(s.dir);
  const agent = resolve('bench/tracker/agent.py');
  const bundle = makeBundle(s, ID, {
    args: ['/usr/bin/tini', '--', 'python3', agent, '/ctl', '/out', String(PHASES), String(CALLS)],
    hostRoot: true,
    memoryLimit: 2048 * MiB,
    binds: [
      { source: ctl, destination: '/ctl' },
      { source: out, destination: '/out' },
      { source: data, destination: '/data', readonly: true },
    ],
  });
  const started = Date.now();
  const windows: { mode: Mode; from: number; to: number }[] = [];
  const cache: { mode: Mode; bytes: number }[] = [];
  let C = '';
  const agentFileBytes = () => parseFlat(readOr(join('/sys/fs/cgroup', C, 'agent/memory.stat'))).file ?? NaN;
  for (let phase = 0; phase < PHASES; phase++) {
    const mode: Mode = phase % 2 === 0 ? 'hold' : 'no hold';
    const daemon = await startDaemon({ ...s, policy: policies[mode] }, `daemon-${phase}.log`);
    if (phase === 0) {
      if (runDetached('crun', bundle, ID, join(s.dir, 'run.log')).status !== 0) throw new Error(readOr(join(s.dir, 'run.log')));
      C = (JSON.parse(readOr(join(s.runDir, 'containers', `${ID}.json`))) as { cgroup: string }).cgroup;
    }
    const from = Date.now();
    writeFileSync(join(ctl, `start-${phase}`), '');
    console.error(`bench:tracker: phase ${phase + 1} of ${PHASES} (${mode})`);
    const before = new Map<string, number>();
    // The framework asks for a cold cache before each cat and for a reading after it.
    const finished = await eventually(() => {
      for (const f of readdirSync(ctl)) {
        const m = /^(drop|read)-(.+)$/.exec(f);
        if (!m) continue;
        rmSync(join(ctl, f));
        if (m[1] === 'drop') {
          must('sh', ['-c', 'sync; echo 3 > /proc/sys/vm/drop_caches']);
          before.set(m[2]!, agentFileBytes());
          writeFileSync(join(ctl, `dropped-${m[2]}`), '');
        } else {
          cache.push({ mode, bytes: Math.max(0, agentFileBytes() - (before.get(m[2]!) ?? NaN)) });
          writeFileSync(join(ctl, `measured-${m[2]}`), '');
        }
      }
      return existsSync(join(ctl, `done-${phase}`)) || !existsSync(join('/sys/fs/cgroup', C, 'agent'));
    }, Number(process.env.BENCH_PHASE_S ?? 1200) * 1000);
    if (!finished || !existsSync(join(ctl, `done-${phase}`))) {
      const procs = spawnSync('sh', ['-c', `for p in $(cat /sys/fs/cgroup/${C}/agent/cgroup.procs /sys/fs/cgroup/${C}/tools/*/cgroup.procs 2>/dev/null); do echo "$p $(cut -d' ' -f3 /proc/$p/stat) $(tr '\\0' ' ' < /proc/$p/cmdline)"; done`], { encoding: 'utf8' }).stdout;
      throw new Error(`phase ${phase + 1} did not finish (container ended, or timed out); ctl: ${readdirSync(ctl).join(' ')}; processes:\n${procs}\nout: ${readOr(join(out, 'calls.jsonl')).slice(-500)}\ndaemon: ${readOr(daemon.log).slice(-2000)}\ncontainer: ${readOr(join(s.dir, 'run.log')).slice(-1000)}`);
    }
    windows.push({ mode, from, to: Date.now() });
    daemon.child.kill('SIGTERM');
    await exited(daemon.child);
  }
  run('crun', ['delete', '-f', ID]);
  spawnSync('umount', [data]);

  const modeAt = (iso: string) => windows.find((w) => Date.parse(iso) >= w.from && Date.parse(iso) <= w.to)?.mode;
  const records = readOr(join(s.callDir, `${ID}.jsonl`)).split('\n').filter(Boolean).map((l) => JSON.parse(l) as CallRecord);
  const kindOf: Record<string, Kind> = { dd: 'dd', python3: 'python', cat: 'cache', true: 'true' };
  const walls = readOr(join(out, 'calls.jsonl')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { phase: number; kind: Kind; wallNs: number });
  const samples: Sample[] = [];
  const cacheLeft = { hold: cache.filter((c) => c.mode === 'hold'), 'no hold': cache.filter((c) => c.mode === 'no hold') };
  const wallLeft = (mode: Mode, kind: Kind) => walls.filter((w) => w.kind === kind && (w.phase % 2 === 0 ? 'hold' : 'no hold') === mode);
  const taken = new Map<string, number>();
  for (const r of records) {
    const mode = modeAt(r.start);
    const kind = kindOf[r.name];
    if (!mode || !kind) continue;
    const key = `${mode}/${kind}`;
    const n = taken.get(key) ?? 0;
    taken.set(key, n + 1);
    const agentBytes = kind === 'cache' ? (cacheLeft[mode][n]?.bytes ?? null) : kind === 'true' ? null : r.memory.peak === null ? null : Math.max(0, 64 * MiB - r.memory.peak);
    samples.push({ mode, kind, agentBytes, wallUs: (wallLeft(mode, kind)[n]?.wallNs ?? NaN) / 1000, placedUs: r.placement?.afterExecUs ?? null });
  }
  console.log(`agentcgroup tracker benchmark: kernel ${readOr('/proc/sys/kernel/osrelease').trim()}, ${PHASES} phases alternating hold / no hold, ${CALLS} calls of each kind per phase, ${records.length} calls logged, ${((Date.now() - started) / 1000).toFixed(0)} s`);
  for (const line of report(samples)) console.log(line);
}

main().catch((err: unknown) => {
  console.error(`bench:tracker failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
