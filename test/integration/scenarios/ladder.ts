// The graduated response on a real kernel, with real memory hogs sized so that the ladder decides the
// outcome: (a) a burst over memory.high without swap stalls, and the daemon raises memory.high until
// it finishes (without the daemon it does not); (b) three agents of different priority under one
// 800M budget: a static split kills, the ladder freezes the low-priority calls, the high-priority one
// finishes, the frozen ones resume and finish, nothing is OOM-killed; (c) a daemon killed while
// something is frozen leaves nothing frozen once restarted, and thaws on SIGTERM.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Checker, scenario } from '../harness.js';
import { CLI, type Scratch, eventually, exited, makeBundle, readOr, run, runDetached, scratch, startDaemon, within } from '../bundle.js';

const MiB = 1 << 20;
// The agents rank themselves by annotation, which a host must allow (by default none may).
const LADDER = 'ladder:\n  recheck: 200ms\n  deadline: 120s\n  freeze_at: 80%\n  thaw_below: 60%\n  kill_at: 97%\nannotations:\n  allow: [priority, "tool.*"]\n  max_priority: high\n';

/**
 * Grows to `mb` MiB in 10 MiB steps every `every` ms, holds it `hold` ms, exits 0: a test run or a
 * build. Given a fifth argument, a path, it holds until that file exists instead (and exits 0 then,
 * grown or not): pressure that lasts until the test ends it, not for as long as luck allows.
 */
const ALLOC = `const [mb, every, hold] = process.argv.slice(2, 5).map(Number); const release = process.argv[5]; const keep = []; let n = 0;
if (release) setInterval(() => { if (require('fs').existsSync(release)) process.exit(0); }, 100);
const t = setInterval(() => { keep.push(Buffer.alloc(10 << 20, 1)); n += 10; if (n >= mb) { clearInterval(t); if (!release) setTimeout(() => process.exit(0), hold); } }, every);`;

function execCall(s: Scratch, id: string, name: string, argv: string[]): { child: ChildProcess; stderr: () => string; code: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, 'exec', '--container', id, '--name', name, '--policy', s.policy, '--', ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return { child, stderr: () => err, code: exited(child) };
}

async function stall(c: Checker): Promise<void> {
  const s = scratch(LADDER);
  const annotations = { 'io.agentcgroup.tool.memory_high': '64M', 'io.agentcgroup.tool.memory_max': '256M' };
  const bundle = makeBundle(s, 'it-stall', { args: ['/bin/sleep', '600'], memoryLimit: 512 * MiB, annotations });
  c.equal(runDetached('crun', bundle, 'it-stall', join(s.dir, 'run.log')).status, 0, '(a) container starts');
  writeFileSync(join(s.dir, 'alloc.js'), ALLOC);
  // Many small allocations, as real tools make: each return to user space over memory.high is throttled.
  const burst = [process.execPath, join(s.dir, 'alloc.js'), '160', '50', '0'];

  const without = execCall(s, 'it-stall', 'burst', burst);
  const finishedAlone = (await within(without.code, 15_000)) !== 'timeout';
  c.ok(!finishedAlone, '(a) without the daemon a call growing to 160M over a 64M memory.high is still stalled after 15 s');
  without.child.kill('SIGKILL');
  await without.code;
  await eventually(() => run('ls', [join('/sys/fs/cgroup/it-stall/tools')]).stdout.trim() === '', 60_000);

  const daemon = await startDaemon(s);
  const started = Date.now();
  const withLadder = execCall(s, 'it-stall', 'burst', burst);
  // However slow the machine, the call ends: it finishes, or the ladder ends it after 120 s without
  // progress. The bound here only keeps a hang from costing the rest of the scenario.
  const code = await within(withLadder.code, 240_000);
  c.equal(code, 0, '(a) with the daemon the same burst finishes, exit 0', { seconds: (Date.now() - started) / 1000 });
  // Had the deadline ended it, the daemon's log would say it killed the call, and why; the raises rescued
  // it instead. (No wall-clock limit here: a loaded machine could miss one without anything being wrong.)
  c.ok(!/container it-stall: call \S+ killed/.test(readOr(daemon.log)), '(a) rescued before the ladder deadline (120 s without progress), not ended by it', readOr(daemon.log));
  c.match(readOr(daemon.log), /made no progress at memory\.high: raised to \d+M/, '(a) the daemon raised memory.high');
  c.match(withLadder.stderr(), /was throttled at memory\.high 64M/, '(a) the caller is told it was throttled');
  daemon.child.kill('SIGTERM');
  await exited(daemon.child);
  run('crun', ['delete', '-f', 'it-stall']);
}

interface Agents {
  s: Scratch;
  ids: string[];
}

function budgetAgents(): Agents {
  const s = scratch(LADDER);
  writeFileSync(join(s.dir, 'alloc.js'), ALLOC);
  const budget = '/sys/fs/cgroup/it-budget';
  writeFileSync('/sys/fs/cgroup/cgroup.subtree_control', '+memory +cpu +pids');
  mkdirSync(budget, { recursive: true });
  writeFileSync(join(budget, 'cgroup.subtree_control'), '+memory +cpu +pids');
  writeFileSync(join(budget, 'memory.max'), String(800 * MiB));
  const ids = ['low', 'normal', 'high'].map((p) => {
    const id = `it-${p}`;
    const annotations = { 'io.agentcgroup.priority': p, 'io.agentcgroup.tool.memory_high': 'max', 'io.agentcgroup.tool.memory_max': '420M' };
    const bundle = makeBundle(s, id, { args: ['/bin/sleep', '900'], annotations, cgroupsPath: `/it-budget/${id}` });
    if (runDetached('crun', bundle, id, join(s.dir, `${id}.log`)).status !== 0) throw new Error(readOr(join(s.dir, `${id}.log`)));
    return id;
  });
  return { s, ids };
}

/**
 * One call per agent, started together, each holding `mb` MiB plus node itself (near 40M) for 5 s, or,
 * given `release`, until that file exists.
 */
function bursts(a: Agents, release?: string, mb = 270) {
  return a.ids.map((id) => execCall(a.s, id, 'alloc', [process.execPath, join(a.s.dir, 'alloc.js'), String(mb), '300', '5000', ...(release ? [release] : [])]));
}

async function priorities(c: Checker): Promise<void> {
  const a = budgetAgents();
  const oomBefore = Number(/oom_kill (\d+)/.exec(readOr('/sys/fs/cgroup/it-budget/memory.events'))?.[1] ?? 0);
  const staticCodes = await Promise.all(bursts(a).map((b) => b.code));
  c.ok(staticCodes.some((code) => code === 137), '(b) without the ladder, three 300M calls in an 800M budget: something is OOM-killed', staticCodes);

  const daemon = await startDaemon(a.s);
  const oomAfterStatic = Number(/oom_kill (\d+)/.exec(readOr('/sys/fs/cgroup/it-budget/memory.events'))?.[1] ?? 0);
  const calls = bursts(a);
  const codes = await Promise.all(calls.map((b) => within(b.code, 240_000)));
  c.equal(codes.join(','), '0,0,0', '(b) with the ladder all three calls finish with exit 0');
  const oomEnd = Number(/oom_kill (\d+)/.exec(readOr('/sys/fs/cgroup/it-budget/memory.events'))?.[1] ?? 0);
  c.equal(oomEnd - oomAfterStatic, 0, '(b) nothing OOM-killed in the budget', { oomBefore, oomAfterStatic, oomEnd });
  const log = readOr(daemon.log);
  c.match(log, /container it-low: call alloc-\S+ frozen: budget \/it-budget memory at \d+%/, '(b) the low-priority call was frozen');
  c.ok(!/container it-high: call \S+ frozen/.test(log), '(b) the high-priority call never was', log);
  c.match(log, /container it-low: call alloc-\S+ thawed/, '(b) and the frozen call resumed');
  daemon.child.kill('SIGTERM');
  await exited(daemon.child);
  await killAndRestart(c, a);
  for (const id of a.ids) run('crun', ['delete', '-f', id]);
  run('rmdir', ['/sys/fs/cgroup/it-budget']);
}

const frozenCalls = (ids: string[]) =>
  ids.flatMap((id) =>
    run('sh', ['-c', `grep -l '^frozen 1' /sys/fs/cgroup/it-budget/${id}/tools/*/cgroup.events 2>/dev/null`]).stdout.split('\n').filter(Boolean),
  );

/** A line of the daemon's log saying it froze a call: the daemon's own word, beside the kernel's. */
const FROZE = /container it-\S+: call alloc-\S+ frozen: /;

// The calls hold their memory until `release` exists, so the pressure lasts through the daemon's SIGKILL
// and restart however long those take under emulation (with 5 s holds, a slow restart found the pressure
// gone and nothing to freeze again). Each wait is for the kernel's `frozen 1` in cgroup.events.
// Each call grows to 220M plus node (10-35M), so the three hold the budget at 84-96%: over freeze_at
// (80%) for as long as they run, under kill_at (97%) and the budget's memory.max, so neither the ladder
// nor the kernel ends one and the pressure cannot go away by itself. (Calls that outgrew the budget
// together lost one to a kill, by the ladder or the OOM killer, and what was left could fall under
// freeze_at: nothing to freeze again.)
async function killAndRestart(c: Checker, a: Agents): Promise<void> {
  const release = join(a.s.dir, 'release-c');
  let daemon = await startDaemon(a.s, 'daemon-c.log');
  const calls = bursts(a, release, 220);
  c.ok(await eventually(() => frozenCalls(a.ids).length > 0, 120_000), '(c) under pressure a call is frozen');
  daemon.child.kill('SIGKILL');
  await exited(daemon.child);
  c.ok(frozenCalls(a.ids).length > 0, '(c) the SIGKILLed daemon left it frozen');
  daemon = await startDaemon(a.s, 'daemon-c2.log');
  const log = daemon.log;
  c.match(readOr(log), /thawed \S+ left frozen by a previous daemon/, '(c) the restarted daemon thawed it at start');
  // Frozen again by this daemon: its log says so, and the kernel reports the call frozen.
  const again = await eventually(() => FROZE.test(readOr(log)) && frozenCalls(a.ids).length > 0, 120_000);
  c.ok(again, '(c) and freezes again while the pressure lasts', { frozen: frozenCalls(a.ids), log: readOr(log) });
  daemon.child.kill('SIGTERM');
  await exited(daemon.child);
  c.equal(frozenCalls(a.ids).join(','), '', '(c) SIGTERM thaws what the daemon froze before it exits');
  writeFileSync(release, '');
  const codes = await Promise.all(calls.map((b) => within(b.code, 120_000)));
  c.equal(codes.join(','), '0,0,0', '(c) the calls ran on after the daemon left, none killed', codes);
}

scenario(async (c) => {
  await stall(c);
  await priorities(c);
});
