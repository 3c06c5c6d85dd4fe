import t from 'tap';
import { bashCalls, durationS, parseTraces, pickTraces, rng, type Trace } from '../../../src/plan/traces.js';

const line = (task: string, seconds: number, bash: number) =>
  JSON.stringify({
    task,
    model: 'm',
    samples: Array.from({ length: seconds + 1 }, (_, i) => [i, 190, 5]),
    tools: Array.from({ length: bash }, (_, i) => [i, i + 0.5, 'Bash', 'pytest']).concat([[0, 0.1, 'Read', '']]),
  });

t.test('parseTraces reads one run a line, sorted by time, and names a bad line', async (t) => {
  const text = `${JSON.stringify({ task: 'x', model: 'm', samples: [[2, 200, 1], [1, 190, 1]], tools: [[1, 2, 'Bash', 'ls']] })}\n\n`;
  const [tr] = parseTraces(text);
  t.same(tr!.samples.map((s) => s[0]), [1, 2]);
  t.equal(durationS(tr!), 1);
  t.equal(bashCalls(tr!).length, 1);
  t.throws(() => parseTraces('{"task":1}'), /line 1: expected task/);
  t.throws(() => parseTraces(`${line('a', 3, 1)}\nnot json`), /line 2: not JSON/);
  t.throws(() => parseTraces('{"task":"x","model":"m","samples":[[1,2]],"tools":[]}'), /line 1: a sample/);
  t.throws(() => parseTraces('{"task":"x","model":"m","samples":[[1,2,3]],"tools":[[1,2,"Bash"]]}'), /line 1: a tool/);
});

t.test('rng is deterministic per seed and within [0, 1)', async (t) => {
  const a = rng(7);
  const b = rng(7);
  const xs = Array.from({ length: 100 }, () => a());
  t.same(xs, Array.from({ length: 100 }, () => b()));
  t.ok(xs.every((x) => x >= 0 && x < 1));
  t.not(rng(8)(), rng(7)());
});

t.test('pickTraces filters, shuffles by seed, and keeps the order as the agents', async (t) => {
  const traces: Trace[] = parseTraces(
    [line('short', 30, 5), line('long', 900, 5), line('quiet', 120, 1), ...Array.from({ length: 10 }, (_, i) => line(`ok${i}`, 100 + i, 4))].join('\n'),
  );
  const o = { seed: 3, count: 4, minS: 60, maxS: 600, minBash: 3 };
  const picked = pickTraces(traces, o);
  t.equal(picked.length, 4);
  t.ok(picked.every((p) => p.task.startsWith('ok')), 'too short, too long and too few Bash calls are left out');
  t.same(pickTraces(traces, o).map((p) => p.task), picked.map((p) => p.task), 'same seed, same agents');
  t.same(pickTraces(traces, { ...o, count: 6 }).slice(0, 4).map((p) => p.task), picked.map((p) => p.task), 'more agents extend the fewer');
  t.notSame(pickTraces(traces, { ...o, seed: 4 }).map((p) => p.task), picked.map((p) => p.task), 'another seed, other agents');
  t.throws(() => pickTraces(traces, { ...o, count: 11 }), /only 10 traces/);
});
