// The reclaim rung on a real kernel with compressed swap (zram): three agents of different priority
// under one 800M budget, one call each growing to 360M plus node, more than freezing alone can hold:
// frozen at 80% (about 213M each), two calls and the third at its full size are over 800M whichever
// runs on. (At 330M that sum was about 800M: whether (a) killed depended on the guest's timing, and in
// one CI run the last call ended first and the frozen two thawed.)
// (a) The ladder as before (ladder.reclaim: false): it freezes, the budget still fills (the kernel
// swaps at the budget's memory.max, which keeps it at 100%, over kill_at) and a call is killed.
// (b) With the rung: the frozen calls' memory.current drops while they are frozen, nothing is killed,
// every call exits 0, and their records say how long each was frozen and how much it gave back.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Checker, scenario } from '../harness.js';
import { CLI, type Scratch, eventually, exited, makeBundle, readOr, run, runDetached, scratch, startDaemon, within } from '../bundle.js';
import { zramOff, zramOn } from '../zram.js';

const MiB = 1 << 20;
const BUDGET = '/sys/fs/cgroup/it-rbudget';
const ladder = (reclaim: boolean) =>
  `ladder:\n  recheck: 200ms\n  deadline: 300s\n  freeze_at: 80%\n  thaw_below: 60%\n  kill_at: 97%\n  reclaim: ${reclaim}\nannotations:\n  allow: [priority, "tool.*"]\n  max_priority: high\n`;

/**
 * Grows to `mb` MiB in 10 MiB steps every 300 ms, holds it 5 s, exits 0. Each step is a copy of one
 * buffer whose pages are a quarter pseudo-random, three quarters zeros: about 3:1 for zram, as a
 * build's or a test run's heap. (Pages of one repeated byte would cost zram nothing and prove little.)
 */
const ALLOC = `const [mb] = process.argv.slice(2).map(Number); const keep = []; let n = 0;
const pattern = Buffer.alloc(10 << 20); let x = 88172645463325252n;
for (let p = 0; p < pattern.length; p += 4096) for (let i = 0; i < 1024; i += 8) { x ^= x << 13n; x ^= x >> 7n; x ^= x << 17n; x &= 0xffffffffffffffffn; pattern.writeBigUInt64LE(x, p + i); }
const t = setInterval(() => { keep.push(Buffer.from(pattern)); n += 10; if (n >= mb) { clearInterval(t); setTimeout(() => process.exit(0), 5000); } }, 300);`;

interface Agents {
  s: Scratch;
  ids: string[];
}

function agents(reclaim: boolean, tag: string): Agents {
  const s = scratch(ladder(reclaim));
  writeFileSync(join(s.dir, 'alloc.js'), ALLOC);
  const ids = ['low', 'normal', 'high'].map((p) => {
    const id = `it-r${tag}-${p}`;
    const annotations = { 'io.agentcgroup.priority': p, 'io.agentcgroup.tool.memory_high': 'max', 'io.agentcgroup.tool.memory_max': '420M' };
    const bundle = makeBundle(s, id, { args: ['/bin/sleep', '900'], annotations, cgroupsPath: `/it-rbudget/${id}` });
    if (runDetached('crun', bundle, id, join(s.dir, `${id}.log`)).status !== 0) throw new Error(readOr(join(s.dir, `${id}.log`)));
    return id;
  });
  return { s, ids };
}

function execCall(s: Scratch, id: string): { child: ChildProcess; code: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, 'exec', '--container', id, '--name', 'alloc', '--policy', s.policy, '--', process.execPath, join(s.dir, 'alloc.js'), '360'], {
    stdio: 'ignore',
  });
  return { child, code: exited(child) };
}

const oomKills = () => Number(/oom_kill (\d+)/.exec(readOr(join(BUDGET, 'memory.events')))?.[1] ?? 0);

/** Each call cgroup the kernel reports frozen, with its memory.current now. */
function frozenNow(ids: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const id of ids) {
    const tools = join(BUDGET, id, 'tools');
    for (const call of run('ls', [tools]).stdout.split('\n').filter(Boolean)) {
      const cg = join(tools, call);
      if (/^frozen 1$/m.test(readOr(join(cg, 'cgroup.events')))) out.set(cg, Number(readOr(join(cg, 'memory.current')).trim()));
    }
  }
  return out;
}

interface Outcome {
  codes: (number | null | 'timeout')[];
  log: string;
  oom: number;
  /** Per call cgroup: memory.current when first seen frozen, and the least seen while it stayed frozen. */
  frozen: Map<string, { first: number; least: number }>;
  records: { outcome: string; ladder?: { frozenMs: number; reclaimedBytes: number } }[];
}

async function round(a: Agents): Promise<Outcome> {
  const daemon = await startDaemon(a.s);
  const oomBefore = oomKills();
  const calls = a.ids.map((id) => execCall(a.s, id));
  const frozen = new Map<string, { first: number; least: number }>();
  let done = false;
  const all = Promise.all(calls.map((c) => within(c.code, 400_000))).finally(() => (done = true));
  // The kernel's own word on what a freeze and a reclaim did, sampled while the calls run.
  while (!done) {
    for (const [cg, current] of frozenNow(a.ids)) {
      const seen = frozen.get(cg);
      frozen.set(cg, seen ? { first: seen.first, least: Math.min(seen.least, current) } : { first: current, least: current });
    }
    await Promise.race([all, new Promise((r) => setTimeout(r, 250))]);
  }
  const codes = await all;
  daemon.child.kill('SIGTERM');
  await exited(daemon.child);
  const records = a.ids.flatMap((id) =>
    readOr(join(a.s.callDir, `${id}.jsonl`))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Outcome['records'][number]),
  );
  return { codes, log: readOr(daemon.log), oom: oomKills() - oomBefore, frozen, records };
}

function cleanup(a: Agents): void {
  for (const id of a.ids) run('crun', ['delete', '-f', id]);
}

async function withoutRung(c: Checker): Promise<void> {
  const a = agents(false, 'a');
  const o = await round(a);
  const killed = /container it-ra-\S+: call alloc-\S+ killed: /.test(o.log) || o.codes.some((x) => x !== 0);
  c.ok(killed, '(a) the ladder without reclaim: freezing is not enough, a call is killed', { codes: o.codes, oom: o.oom, log: o.log });
  c.match(o.log, /frozen: budget \/it-rbudget memory at \d+%/, '(a) it froze first');
  cleanup(a);
}

async function withRung(c: Checker): Promise<void> {
  const a = agents(true, 'b');
  const o = await round(a);
  c.equal(o.codes.join(','), '0,0,0', '(b) with the reclaim rung every call exits 0', { log: o.log });
  c.ok(!/call alloc-\S+ killed: /.test(o.log), '(b) the ladder killed nothing', o.log);
  c.equal(o.oom, 0, '(b) nothing OOM-killed in the budget');
  const drops = [...o.frozen].map(([cg, m]) => ({ cg, dropMiB: Math.round((m.first - m.least) / MiB) }));
  c.ok(drops.some((d) => d.dropMiB >= 64), "(b) a frozen call's memory.current dropped while it was frozen (a reclaim step or more)", drops);
  c.match(o.log, /call alloc-\S+ gave back \d+M of \d+M asked in \d+ ms/, '(b) the daemon says what each reclaim gave back');
  const laddered = o.records.filter((r) => r.ladder);
  c.ok(laddered.length > 0 && laddered.every((r) => r.outcome === 'ok'), '(b) the frozen calls have a ladder entry in their records, and ended ok', o.records);
  c.ok(
    laddered.some((r) => r.ladder!.frozenMs > 0 && r.ladder!.reclaimedBytes >= 64 * MiB),
    '(b) the records say how long a call was frozen and how much it gave back',
    laddered.map((r) => r.ladder),
  );
  c.ok(!o.records.some((r) => r.ladder && r.outcome !== 'ok'), '(b) no record of a frozen call ends other than ok');
  cleanup(a);
}

scenario(async (c) => {
  writeFileSync('/sys/fs/cgroup/cgroup.subtree_control', '+memory +cpu +pids');
  mkdirSync(BUDGET, { recursive: true });
  writeFileSync(join(BUDGET, 'cgroup.subtree_control'), '+memory +cpu +pids');
  writeFileSync(join(BUDGET, 'memory.max'), String(800 * MiB));
  const zram = zramOn(1024 * MiB);
  c.ok(/zram0/.test(readOr('/proc/swaps')), `zram swap on (${zram.algorithm})`);
  try {
    await withoutRung(c);
    await withRung(c);
  } finally {
    zramOff();
    run('rmdir', [BUDGET]);
  }
});
