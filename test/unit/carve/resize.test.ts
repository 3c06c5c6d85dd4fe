// A resize's plan: pure, so which limits follow a new memory.max of C, and in which order they are
// written, is checked here without a kernel; test/unit/daemon/resizer.test.ts applies it.
import t from 'tap';
import fc from 'fast-check';
import type { Step } from '../../../src/carve/plan.js';
import { type MemoryPair, type ResizeInput, pairSteps, planCallResize, planResize } from '../../../src/carve/resize.js';
import type { Size } from '../../../src/config/types.js';
import type { Bytes } from '../../../src/limits.js';
import { SEED } from '../fuzz/fuzz.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const HOST = 8 * GiB;
const pct = (percent: number): Size => ({ kind: 'percent', percent });
const bytes = (n: number): Size => ({ kind: 'bytes', bytes: n });
const MAX: Size = { kind: 'max' };
/** The kernel keeps pages: what a percentage of `session` resolves to. */
const share = (session: number, percent: number) => Math.floor((session * percent) / 100 / 4096) * 4096;

/** A record as the carve left it at a 1G session: agent 40%/60%, tool 70%/85%, session memory.high 90%. */
function carvedAt(session: number, sizes: ResizeInput['sizes'] = { session: { memoryHigh: pct(90) }, agent: { memoryHigh: pct(40), memoryMax: pct(60) }, tool: { memoryHigh: pct(70), memoryMax: pct(85) } }): ResizeInput {
  return {
    cgroup: 'pod/ctr',
    sessionBytes: session,
    sessionMax: session,
    sizes,
    agent: { memoryHigh: share(session, 40), memoryMax: share(session, 60), cpuWeight: 100 },
    tool: { memoryHigh: share(session, 70), memoryMax: share(session, 85), cpuWeight: 100, pidsMax: 4096, oomGroup: true },
  };
}

const writes = (steps: Step[]) => steps.map((s) => (s.op === 'write' ? `${s.cgroup}/${s.file}=${s.value}` : s.op));

t.test('the same memory.max: nothing to do', async (t) => {
  t.same(planResize(carvedAt(GiB), GiB, HOST), { kind: 'unchanged' });
});

t.test('a grow: C memory.high first, then the agent leaf memory.max before memory.high; the tool template follows', async (t) => {
  const r = planResize(carvedAt(GiB), 2 * GiB, HOST);
  if (r.kind !== 'resize') throw new Error(r.kind);
  t.same(r.from, { max: GiB, bytes: GiB });
  t.same(r.to, { max: 2 * GiB, bytes: 2 * GiB });
  t.same(writes(r.steps), [
    `pod/ctr/memory.high=${share(2 * GiB, 90)}`,
    `pod/ctr/agent/memory.max=${share(2 * GiB, 60)}`,
    `pod/ctr/agent/memory.high=${share(2 * GiB, 40)}`,
  ]);
  t.same(r.agent, { memoryHigh: share(2 * GiB, 40), memoryMax: share(2 * GiB, 60), cpuWeight: 100 }, 'what is not memory stays');
  t.same(r.tool, { memoryHigh: share(2 * GiB, 70), memoryMax: share(2 * GiB, 85), cpuWeight: 100, pidsMax: 4096, oomGroup: true });
  t.equal(r.sessionHigh, share(2 * GiB, 90));
});

t.test('a shrink: the agent leaf memory.high goes down before memory.max', async (t) => {
  const r = planResize(carvedAt(GiB), 512 * MiB, HOST);
  if (r.kind !== 'resize') throw new Error(r.kind);
  t.same(writes(r.steps), [
    `pod/ctr/memory.high=${share(512 * MiB, 90)}`,
    `pod/ctr/agent/memory.high=${share(512 * MiB, 40)}`,
    `pod/ctr/agent/memory.max=${share(512 * MiB, 60)}`,
  ]);
  t.equal(r.tool.memoryMax, share(512 * MiB, 85));
});

t.test("'max' <-> bytes: no limit is the host's memory, and a limit past it is no limit either", async (t) => {
  const toMax = planResize(carvedAt(GiB), 'max', HOST);
  if (toMax.kind !== 'resize') throw new Error(toMax.kind);
  t.same(toMax.to, { max: 'max', bytes: HOST });
  t.equal(toMax.tool.memoryHigh, share(HOST, 70), 'percentages of the machine');
  t.same(writes(toMax.steps).slice(1), [`pod/ctr/agent/memory.max=${share(HOST, 60)}`, `pod/ctr/agent/memory.high=${share(HOST, 40)}`]);

  const unlimited = { ...carvedAt(HOST), sessionMax: 'max' as const };
  const fromMax = planResize(unlimited, GiB, HOST);
  if (fromMax.kind !== 'resize') throw new Error(fromMax.kind);
  t.same(fromMax.from, { max: 'max', bytes: HOST });
  t.same(writes(fromMax.steps), [`pod/ctr/memory.high=${share(GiB, 90)}`, `pod/ctr/agent/memory.high=${share(GiB, 40)}`, `pod/ctr/agent/memory.max=${share(GiB, 60)}`]);

  const past = planResize(unlimited, 16 * GiB, HOST);
  if (past.kind !== 'resize') throw new Error(past.kind);
  t.same(writes(past.steps), [`pod/ctr/memory.high=${share(HOST, 90)}`], "the same session: only C's memory.high, which the engine may have reset");
  t.same(past.to, { max: 16 * GiB, bytes: HOST }, 'but the new memory.max is for the record, so it is not planned again');
});

t.test('sizes in bytes and max stay; only percentages follow', async (t) => {
  const rec = carvedAt(GiB, { session: { memoryHigh: MAX }, agent: { memoryHigh: MAX, memoryMax: MAX }, tool: { memoryHigh: bytes(200 * MiB), memoryMax: pct(50) } });
  rec.agent = { memoryHigh: 'max', memoryMax: 'max', cpuWeight: 100 };
  rec.tool = { ...rec.tool, memoryHigh: 200 * MiB, memoryMax: share(GiB, 50) };
  const r = planResize(rec, 2 * GiB, HOST);
  if (r.kind !== 'resize') throw new Error(r.kind);
  t.same(writes(r.steps), ['pod/ctr/memory.high=max'], "the agent leaf has no percentage; C's memory.high is written all the same");
  t.same([r.tool.memoryHigh, r.tool.memoryMax], [200 * MiB, GiB]);
  t.equal(r.sessionHigh, 'max');
});

t.test('a percentage never resolves below one page, even for a memory.max of 0', async (t) => {
  const r = planResize(carvedAt(GiB), 0, HOST);
  if (r.kind !== 'resize') throw new Error(r.kind);
  t.same([r.agent.memoryHigh, r.agent.memoryMax, r.tool.memoryHigh, r.tool.memoryMax, r.sessionHigh], [4096, 4096, 4096, 4096, 4096]);
});

t.test('a size that has no throttle zone at the new session is refused, in one line naming it', async (t) => {
  const rec = carvedAt(GiB, { session: { memoryHigh: pct(90) }, agent: { memoryHigh: MAX, memoryMax: MAX }, tool: { memoryHigh: pct(70), memoryMax: bytes(GiB) } });
  t.equal(planResize(rec, 1.25 * GiB, HOST).kind, 'resize', '70% of 1.25G is still below 1G');
  const r = planResize(rec, 2 * GiB, HOST);
  t.same(r, { kind: 'refused', to: { max: 2 * GiB, bytes: 2 * GiB }, why: 'tool: memory_high 1.4G is above memory_max 1G' });
});

t.test('a record of an older version has nothing to recompute from', async (t) => {
  const { sizes: _, sessionMax: __, ...older } = carvedAt(GiB);
  t.same(planResize(older, GiB, HOST), { kind: 'unchanged' });
  t.same(planResize(older, 2 * GiB, HOST), { kind: 'unsized', to: { max: 2 * GiB, bytes: 2 * GiB } });
  t.same(planResize({ ...older, sessionBytes: HOST }, 'max', HOST), { kind: 'unchanged' }, 'carved without a limit: still none');
});

t.test('a running call: memory.max follows the template; memory.high never lowered by a grow, never raised by a shrink', async (t) => {
  const was = { high: 700 * MiB, max: 850 * MiB };
  const grown = { high: 1400 * MiB, max: 1700 * MiB };
  const cg = 'pod/ctr/tools/pytest-1';
  const plan = (current: MemoryPair, from: MemoryPair, to: MemoryPair) => writes(planCallResize(cg, current, from, to));
  t.same(plan(was, was, grown), [`${cg}/memory.max=${1700 * MiB}`, `${cg}/memory.high=${1400 * MiB}`], 'as the template says');
  t.same(plan({ high: 1500 * MiB, max: 1700 * MiB }, grown, { high: 1450 * MiB, max: 1750 * MiB }), [`${cg}/memory.max=${1750 * MiB}`], 'a raise above the new template stays');
  t.same(plan({ high: 800 * MiB, max: 850 * MiB }, was, grown), [`${cg}/memory.max=${1700 * MiB}`, `${cg}/memory.high=${1400 * MiB}`], 'a raise below it gets the template');
  t.same(plan({ high: 800 * MiB, max: 850 * MiB }, was, { high: 350 * MiB, max: 425 * MiB }), [`${cg}/memory.high=${350 * MiB}`, `${cg}/memory.max=${425 * MiB}`], 'a shrink takes back a raise');
  t.same(plan({ high: 300 * MiB, max: 850 * MiB }, was, { high: 350 * MiB, max: 425 * MiB }), [`${cg}/memory.max=${425 * MiB}`], 'and raises nothing');
  t.same(plan({ high: 800 * MiB, max: 850 * MiB }, { high: 700 * MiB, max: 1000 * MiB }, { high: 700 * MiB, max: 750 * MiB }), [`${cg}/memory.high=${750 * MiB}`, `${cg}/memory.max=${750 * MiB}`], 'a kept raise stops at the new memory.max');
  t.same(plan({ high: 'max', max: 850 * MiB }, was, grown), [`${cg}/memory.max=${1700 * MiB}`, `${cg}/memory.high=${1700 * MiB}`], "a high of 'max' is above everything");
  t.same(plan({ high: 800 * MiB, max: 850 * MiB }, was, was), [], 'a template that did not change leaves the call alone');
});

// Whatever the pairs, written in the planned order one write at a time, the cgroup never has its
// memory.high above its memory.max in between.
t.test('pairSteps never puts memory.high above memory.max between two writes', async (t) => {
  const limit = fc.oneof(fc.constant<Bytes>('max'), fc.integer({ min: 1, max: 64 }).map((n) => n * 64 * MiB));
  const pair = fc.tuple(limit, limit).map(([a, b]): MemoryPair => (a === 'max' || (b !== 'max' && a > b) ? { high: b, max: a } : { high: a, max: b }));
  const num = (b: Bytes) => (b === 'max' ? Infinity : b);
  const sound = fc.property(pair, pair, (from, to) => {
    const now = { ...from };
    for (const s of pairSteps('cg', from, to)) {
      if (s.op !== 'write') return false;
      now[s.file === 'memory.high' ? 'high' : 'max'] = s.value === 'max' ? 'max' : Number(s.value);
      if (num(now.high) > num(now.max)) return false;
    }
    return now.high === to.high && now.max === to.max;
  });
  t.doesNotThrow(() => fc.assert(sound, { numRuns: 2000, seed: SEED }));
});
