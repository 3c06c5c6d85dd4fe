import t from 'tap';
import { burstPoints, callSpec, planAgent, planText, shapeOf } from '../../../bench/replay/plan.js';
import type { Trace } from '../../../src/plan/traces.js';

// Framework at 200 MB (400 before the second call), a Bash call 10-14 s bursting to 1000 MB, a Read
// 20-21 s (framework time), two overlapping Bash calls 30-34 and 32-36 s.
function trace(): Trace {
  const mem = (t: number) => (t >= 11 && t <= 13 ? 1000 : t >= 30 && t <= 36 ? 600 : t >= 25 ? 400 : 200);
  return {
    task: 'demo',
    model: 'm',
    samples: Array.from({ length: 41 }, (_, t) => [t, mem(t), 1] as [number, number, number]),
    tools: [
      [10, 14, 'Bash', 'pytest'],
      [20, 21, 'Read', ''],
      [30, 34, 'Bash', 'make'],
      [32, 36, 'Bash', 'make test'],
    ],
  };
}

t.test('scaling: memory and time divided, Bash calls only, baseline from outside Bash windows', async (t) => {
  const p = planAgent(trace(), { memoryDiv: 8, timeDiv: 10 });
  t.equal(p.durationMs, 4000);
  t.equal(p.calls.length, 3);
  t.equal(p.baselineKiB, 200 * 128, 'median framework level: 200 MB / 8');
  t.equal(p.tracePeakKiB, 1000 * 128);
  const [first] = p.calls;
  t.equal(first!.startMs, 1000);
  t.equal(first!.durationMs, 400);
  t.same(first!.points[0], [0, 0], 'a call starts holding nothing');
  t.same(first!.points.at(-1), [400, 0], 'and holds its last sample until its end (14 s: back at the framework level)');
  t.equal(first!.peakKiB, 800 * 128, 'above the framework: (1000 - 200) MB / 8');
  t.same(first!.points.find((q) => q[0] === 100), [100, 800 * 128], '11 s into the trace is 100 ms into the call');
});

t.test('overlapping calls share what is above the framework, and start without waiting for each other', async (t) => {
  const p = planAgent(trace(), { memoryDiv: 1, timeDiv: 1 });
  const [, a, b] = p.calls;
  // Framework before 30 s: 400 MB. 30-31 s only `make` runs, 32-34 s both: (600 - 400) / 2 each.
  t.same(a!.points.find((q) => q[0] === 1000), [1000, 200 * 1024]);
  t.same(a!.points.find((q) => q[0] === 3000), [3000, 100 * 1024]);
  t.same(b!.points.find((q) => q[0] === 1000), [1000, 100 * 1024]);
  t.same(b!.points.find((q) => q[0] === 4000), [4000, 200 * 1024], 'alone again after 34 s');
  const i = p.lines.indexOf(`C 1 ${callSpec(a!.points)}`);
  t.ok(i > 0);
  t.equal(p.lines[i + 1], 'W 2000', 'the second starts 2 s after the first');
  t.equal(p.lines[i + 2], `C 2 ${callSpec(b!.points)}`);
  t.equal(p.lines[i + 3], 'J', 'and the framework then waits for both');
});

t.test('the framework timeline: holds, waits and joins in order, closed loop', async (t) => {
  const p = planAgent(trace(), { memoryDiv: 8, timeDiv: 10 });
  t.equal(p.lines[0], `H ${200 * 128}`);
  t.equal(p.lines[1], 'W 1000', 'think time before the first call at 10 s, scaled');
  t.match(p.lines[2]!, /^C 0 0:0,/);
  t.equal(p.lines[3], 'J');
  t.equal(p.lines[4], 'W 1100', 'from the end of the call (14 s) to the change at 25 s');
  t.equal(p.lines[5], `H ${400 * 128}`, 'the framework grows to 400 MB at 25 s, outside any Bash window');
  t.ok(p.lines.filter((l) => l.startsWith('H')).length === 2, 'levels within 512 KiB of the held one add no line; the Read window is framework time');
  t.equal(p.lines.at(-1), 'W 400', 'after the last call, the rest of the trace');
  const waits = p.lines.filter((l) => l.startsWith('W')).reduce((s, l) => s + Number(l.slice(2)), 0);
  // The group's first call overlaps the wait before the second, which ends the group.
  const calls = p.calls[0]!.durationMs + p.calls[2]!.durationMs;
  t.equal(waits + calls, p.durationMs, 'think time plus call time is the trace length, nominally');
  t.equal(planText(p), `${p.lines.join('\n')}\n`);
});

t.test('a call shorter than a sample period holds nothing and lasts its window', async (t) => {
  const tr = trace();
  tr.tools = [[5.2, 5.5, 'Bash', 'ls']];
  const [c] = planAgent(tr, { memoryDiv: 8, timeDiv: 1 }).calls;
  t.same(c!.points, [[0, 0], [300, 0]]);
  t.equal(callSpec(c!.points), '0:0,300:0');
});

t.test('burst calls hold their peak from their first millisecond, then give back as the trace does', async (t) => {
  t.same(burstPoints([[0, 0], [50, 10], [100, 40], [150, 20], [200, 5]]), [[0, 40], [50, 40], [100, 40], [150, 20], [200, 5]]);
  t.same(burstPoints([[0, 0], [10, 0]]), [[0, 0], [10, 0]], 'nothing to hold');
  const ramp = planAgent(trace(), { memoryDiv: 8, timeDiv: 10 });
  const burst = planAgent(trace(), { memoryDiv: 8, timeDiv: 10 }, () => 'burst');
  for (const [r, b] of ramp.calls.map((c, i) => [c, burst.calls[i]!] as const)) {
    t.equal(b.shape, 'burst');
    t.equal(b.peakKiB, r.peakKiB, 'same peak');
    t.equal(b.durationMs, r.durationMs, 'same duration');
    t.equal(b.points[0]![1], b.peakKiB, 'the peak at once');
  }
  t.match(planText(burst), new RegExp(`C 0 0:${burst.calls[0]!.peakKiB},`), "the agent is given the burst's points");
});

t.test('mixed: a seeded half of the calls burst, the same calls for the same seed and agent', async (t) => {
  const pick = (seed: number, agent: number) => Array.from({ length: 400 }, (_, i) => shapeOf('mixed', seed, agent)(i));
  const bursts = pick(1, 0).filter((s) => s === 'burst').length;
  t.ok(bursts > 160 && bursts < 240, `about half: ${bursts} of 400`);
  t.same(pick(1, 0), pick(1, 0), 'deterministic');
  t.not(pick(1, 0).join(), pick(2, 0).join(), 'another seed, other calls');
  t.not(pick(1, 0).join(), pick(1, 1).join(), 'another agent, other calls');
  t.equal(shapeOf('ramp', 1, 0)(3), 'ramp');
  t.equal(shapeOf('burst', 1, 0)(3), 'burst');
});
