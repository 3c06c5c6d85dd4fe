// `agentcgroup plan`: the sampling model against answers known in closed form, profiles from traces
// and from call logs, the policy it prints (the hook's parser accepts it), its errors, and its
// prediction against what the replay benchmark measured in a guest for the same agents.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULTS } from '../../bench/replay/options.js';
import { parsePolicyYaml } from '../../src/config/policy.js';
import { type Profile, at, fit, mostAgents } from '../../src/plan/fit.js';
import { callLogProfile, traceProfile } from '../../src/plan/profiles.js';
import { parseRecordLine } from '../../src/report/calllog.js';
import { runCli } from '../fixtures/cli.js';

const MiB = 1 << 20;
/** Half the time at `high` bytes, half at 0. */
const half = (high: number): Profile => ({ name: 'half', points: [[0, high], [500, 0]], durationMs: 1000 });
const opts = { memory: 150, tightAt: 0.9, trials: 40_000, seed: 7 };

t.test('a step function, read at any time', async (t) => {
  const p: Profile = { name: 'p', points: [[0, 5], [100, 9], [250, 1]], durationMs: 400 };
  t.same([at(p, 0), at(p, 99), at(p, 100), at(p, 249), at(p, 399)], [5, 5, 9, 9, 1]);
});

t.test('the chance of needing more than the memory, against closed forms', async (t) => {
  // Two agents, each at 100 half the time: both at once a quarter of the time.
  const two = fit([half(100)], 2, opts);
  t.ok(Math.abs(two.pOver - 0.25) < 0.01, `2 agents: ${two.pOver} ≈ 1/4`);
  t.ok(Math.abs(two.meanBytes - 100) < 2, 'mean 2 × 50');
  // Three: more than 150 when at least two are high: 1/2 (3 choose 2 + 1 over 8).
  t.ok(Math.abs(fit([half(100)], 3, opts).pOver - 0.5) < 0.01);
  t.equal(fit([half(100)], 1, opts).pOver, 0, 'one agent never needs more than 150');
  t.same(fit([half(100)], 3, opts), fit([half(100)], 3, opts), 'the same seed, the same answer');
  const most = mostAgents([half(100)], 0.3, opts);
  t.equal(most.agents, 2, 'at risk 30%: two fit (25%), three do not (50%)');
  t.same(most.tried.map((f) => f.agents), [1, 2, 3], 'and it stops at the first count past the risk');
  t.throws(() => fit([], 1, opts), /no profiles/);
});

t.test('profiles: a trace scaled as the replay scales it; a call log as baseline plus call peaks', async (t) => {
  const trace = { task: 't', model: 'm', samples: [[10, 80, 0], [11, 160, 0], [13, 80, 0]] as [number, number, number][], tools: [] };
  t.same(traceProfile(trace, 8), { name: 't', points: [[0, 10 * MiB], [1000, 20 * MiB], [3000, 10 * MiB]], durationMs: 4000 });
  const rec = (start: string, durationMs: number, peak: number, agentMemory?: number) =>
    parseRecordLine(JSON.stringify({ name: 'x', outcome: 'ok', start, durationMs, memory: { peak, high: 1, max: 2 }, ...(agentMemory === undefined ? {} : { agentMemory }) }), 'c1')!;
  const records = [rec('2026-12-01T00:00:00.000Z', 1000, 50, 100), rec('2026-12-01T00:00:00.500Z', 1000, 30, 110), rec('2026-12-01T00:00:03.000Z', 500, 10, 90)];
  const p = callLogProfile('c1', records)!;
  t.same(p.points, [[0, 150], [500, 180], [1000, 130], [1500, 100], [3000, 110]], 'the median baseline (100), overlapping calls add');
  t.equal(p.durationMs, 3500);
  t.equal(callLogProfile('c1', [rec('2026-12-01T00:00:00.000Z', 10, 5)]), undefined, 'no baseline known: no profile');
  t.same(callLogProfile('c1', [rec('2026-12-01T00:00:00.000Z', 10, 5)], 40)?.points, [[0, 45]], 'unless given');
});

t.test('plan on the command line: a policy the hook accepts, the plan in its comments', async (t) => {
  const dir = t.testdir({});
  const traces = join(dir, 'traces.jsonl');
  // Two agents' traces, 200 MB steady with a 1000 MB burst a tenth of the time.
  const line = (task: string) => JSON.stringify({ task, model: 'm', tools: [], samples: Array.from({ length: 10 }, (_, i) => [i, i === 3 ? 1000 : 200, 0]) });
  writeFileSync(traces, `${line('a')}\n${line('b')}\n`);
  const r = await runCli(['plan', '--memory', '2G', '--traces', traces]);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /^# agentcgroup plan: 2G for \d+ agents: the most whose chance of needing more than the memory stays at or under 1\.0%\./);
  t.match(r.out, /--memory 1\.2G \(its session: 25% over the largest agent peak seen\)/, '1000 MB read as MiB, +25%');
  const policy = parsePolicyYaml(r.out, 'plan');
  t.equal(policy.tool.memoryHigh.kind, 'percent', 'the policy parses');
  const n = Number(/for (\d+) agents/.exec(r.out)?.[1]);
  // n agents at 200 MiB steady, a burst of 800 more each a tenth of the time, in 2 GiB: the next count
  // past the answer must be riskier than 1%, the answer not.
  const json = JSON.parse((await runCli(['plan', '--memory', '2G', '--traces', traces, '--json'])).out);
  t.equal(json.agents, n);
  t.ok(json.chosen.pOver <= 0.01 && json.tried.at(-1).pOver > 0.01, 'the answer within the risk, the next count past it');
  const fixed = JSON.parse((await runCli(['plan', '--memory', '2G', '--traces', traces, '--agents', '4', '--json'])).out);
  t.match(fixed, { agents: 4, tried: [{ agents: 4 }] });

  const logs = await runCli(['plan', '--memory', '256M', '--profile', 'test/fixtures/calls', '--baseline', '24M', '--agents', '3']);
  t.equal(logs.code, 0, logs.err);
  t.match(logs.out, /From test\/fixtures\/calls \(3 profiles/);

  for (const [args, pattern] of [
    [['plan', '--memory', '2G'], /give one of --traces FILE or --profile DIR/],
    [['plan', '--memory', '50%', '--traces', traces], /--memory must be a size in bytes/],
    [['plan', '--memory', '2G', '--traces', traces, '--risk', '2'], /--risk "2": expected a number from 0 to 1/],
    [['plan', '--memory', '1M', '--traces', traces], /not even one agent fits/],
    [['plan', '--memory', '2G', '--traces', join(dir, 'none')], /ENOENT|no such file/],
  ] as const) {
    const e = await runCli([...args]);
    t.equal(e.code, 1, args.join(' '));
    t.match(e.err, pattern);
    t.equal(e.err.split('\n').length, 2, 'one line');
  }
});

t.test("plan's prediction against what the replay benchmark measured for the same agents and budget", async (t) => {
  // The replay ran each agent's trace once, all together, in a 448 MiB budget with no per-agent limit
  // (mode a); test/fixtures/replay-a-448M.json holds what it measured. The plan samples the same
  // agents (--pick-seed 1, memory /8). Tolerance: the plan's p99 total within 15% of the peak the
  // replay measured, at every count that fit; where the replay lost a call, the plan's p99 is over the
  // budget; and --agents auto at 1% answers the largest count the replay kept whole.
  const measured = JSON.parse(readFileSync('test/fixtures/replay-a-448M.json', 'utf8')) as { budgetMiB: number; runs: { agents: number; survived: number; peakMiB: number }[] };
  const plan = async (...args: string[]) => {
    const r = await runCli(['plan', '--memory', `${measured.budgetMiB}M`, '--traces', DEFAULTS.traces, '--memory-div', '8', '--pick-seed', '1', '--json', ...args]);
    t.equal(r.code, 0, r.err);
    return JSON.parse(r.out) as { agents: number; chosen: { p99Bytes: number; pOver: number } };
  };
  for (const run of measured.runs) {
    const p99 = (await plan('--agents', String(run.agents))).chosen.p99Bytes / MiB;
    if (run.survived === run.agents) t.ok(Math.abs(p99 - run.peakMiB) <= 0.15 * run.peakMiB, `${run.agents} agents: plan p99 ${p99.toFixed(0)} MiB, replay peak ${run.peakMiB} MiB`);
    else t.ok(p99 > measured.budgetMiB, `${run.agents} agents: the replay lost a call; plan p99 ${p99.toFixed(0)} MiB is over the ${measured.budgetMiB} MiB budget`);
  }
  const whole = Math.max(...measured.runs.filter((r) => r.survived === r.agents).map((r) => r.agents));
  t.equal((await plan('--agents', 'auto', '--risk', '0.01')).agents, whole, `auto at 1%: ${whole}, the most the replay kept whole`);
});
