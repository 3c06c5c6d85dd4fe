import t from 'tap';
import { parseOptions } from '../../../bench/replay/options.js';
import { type BenchResult, type RunRecord, markdown, overheadRows, reserved, rows, summaries, verdicts, withinBudget } from '../../../bench/replay/report.js';
import { type AgentRun, parseAgentOut } from '../../../bench/replay/stats.js';
import { plot } from '../../../bench/replay/svg.js';

const M = 1 << 20;

/** An agent with two calls of the given durations (ms) and statuses; done unless `dead`. */
function agent(i: number, ms: [number, number], status: [number, number] = [0, 0], over: Partial<AgentRun> = {}, dead = false): AgentRun {
  const out = `P\nS 0\nR 0 0 ${ms[0] * 1000} ${status[0]}\nR 1 0 ${ms[1] * 1000} ${status[1]}\n${dead ? '' : 'D 1\n'}`;
  return { agent: i, out: parseAgentOut(out), plannedCalls: 2, memoryPeak: 50 * M, memoryMax: Infinity, oomKills: 0, ...over };
}

function run(kind: RunRecord['kind'], mode: RunRecord['mode'], agents: AgentRun[], over: Partial<RunRecord> = {}): RunRecord {
  return { kind, mode, agents, budgetBytes: 400 * M, budgetPeak: 300 * M, budgetAvg: 100 * M, budgetOomKills: 0, wallMs: 10_000, timedOut: false, ...over };
}

function result(): BenchResult {
  const alone = [0, 1, 2, 3].map((i) => run('alone', 'a', [agent(i, [100, 1000])]));
  const ok = (n: number, ms: [number, number] = [100, 1000]) => [...Array(n).keys()].map((i) => agent(i, ms));
  return {
    kernel: '6.1',
    seed: 1,
    memoryDiv: 8,
    timeDiv: 20,
    budgetBytes: 400 * M,
    agentCounts: [2, 4],
    init: 'tini version 0.19.0 as `docker run --init` runs it',
    inputs: [{ agent: 0, task: 'x', model: 'm', durationMs: 1000, calls: 2, baselineKiB: 1024, tracePeakKiB: 4096, maxCallKiB: 2048 }],
    runs: [
      ...alone,
      run('mode', 'a', ok(2)),
      run('mode', 'a', ok(4, [110, 1200])),
      run('mode', 'b', ok(2).map((a) => ({ ...a, memoryMax: 150 * M }))),
      run('mode', 'b', ok(4).map((a) => ({ ...a, memoryMax: 150 * M }))),
      run('mode', 'c', ok(2).map((a) => ({ ...a, memoryMax: 200 * M }))),
      run('mode', 'c', [...ok(3), agent(3, [100, 500], [0, 137], { oomKills: 1 })].map((a) => ({ ...a, memoryMax: 100 * M }))),
      run('mode', 'd', ok(2), { ladder: { freezes: 0, thaws: 0, raises: 0, kills: 0 } }),
      run('mode', 'd', ok(4, [100, 1050]), { ladder: { freezes: 2, thaws: 2, raises: 0, kills: 0 } }),
    ],
    overheads: { podman: { without: [1000, 1100, 900], with: [1500, 1400, 1600] }, crun: { without: [300], with: [1300] }, exec: { without: [10], with: [600] }, startup: { without: [5], with: [205] }, hostStartup: { without: [1], with: [41] }, command: 'podman run' },
    notes: ['a note'],
    elapsedS: 100,
  };
}

t.test('rows: survival, slowdown against the agents alone and against (a), reservations and waste', async (t) => {
  const r = rows(result());
  t.equal(r.length, 8);
  const c4 = r.find((x) => x.mode === 'c' && x.agents === 4)!;
  t.equal(c4.survived, 3);
  t.equal(c4.fates['call-killed'], 1);
  t.equal(c4.callsKilled, 1);
  const a4 = r.find((x) => x.mode === 'a' && x.agents === 4)!;
  t.equal(a4.vsAlone.p95, 1.2);
  t.equal(a4.vsA, undefined, '(a) is not compared with itself');
  const d4 = r.find((x) => x.mode === 'd' && x.agents === 4)!;
  t.equal(d4.vsAlone.p95, 1.05);
  t.equal(d4.vsA!.p95, 1050 / 1200);
  t.same(d4.reserved, { bytes: 400 * M, how: 'pool' });
  t.equal(d4.waste, 0.75);
  const b4 = r.find((x) => x.mode === 'b' && x.agents === 4)!;
  t.same(b4.reserved, { bytes: 600 * M, how: 'Σ max' });
  t.equal(b4.overcommitted, true);
  t.notOk(withinBudget(result().runs.find((x) => x.mode === 'b' && x.agents.length === 4)!));
  t.equal(reserved(result().runs.find((x) => x.mode === 'c')!).bytes, 400 * M);
});

t.test('summaries: density with and without the budget condition for static reservations', async (t) => {
  const s = summaries(result());
  const by = Object.fromEntries(s.map((x) => [x.mode, x]));
  t.equal(by.a!.density, 4);
  t.equal(by.b!.density, 2, '4 x 150M does not fit in 400M');
  t.equal(by.b!.densitySurvivalOnly, 4);
  t.equal(by.c!.density, 2);
  t.equal(by.d!.density, 4);
  t.equal(by.d!.censored, true, 'no loss up to the largest count');
  t.equal(by.c!.censored, false);
  t.equal(by.b!.censored, false, 'over budget at 4 counts as the limit');
});

t.test('verdicts name the measured values', async (t) => {
  const v = verdicts(result());
  t.same(v.map((x) => x.met), [true, true, true, undefined, false]);
  t.match(v[0]!.measured, /4 agents: \(c\) 3\/4, \(d\) 4\/4/);
  t.match(v[1]!.measured, /\(d\) 4\+ agents, \(b\) 2 \(2\.00x or more\)/, '(d) lost nothing: its density is a lower bound');
  t.match(v[3]!.measured, /0 of 6 agents' frameworks outside the agent leaf, 6 did not say/, 'agents that wrote no cgroup line: not known');
  t.match(v[4]!.measured, /podman run --rm 1\.50x \(\+500 ms\)/);
  t.match(v[4]!.measured, /2 start-ups of the binary: 400 ms in the guest, 80 ms on the host/);
  const o = overheadRows(result().overheads!);
  t.same(o.map((x) => Math.round(x.addedMs)), [500, 1000, 590, 200, 40]);
});

t.test('with the front measured (daemon running), the podman target is judged on it, the binary\'s figures still said', async (t) => {
  const res = result();
  res.overheads = { ...res.overheads!, podmanFront: { without: [1000], with: [1060] }, crunFront: { without: [300], with: [330] } };
  const v = verdicts(res)[4]!;
  t.equal(v.met, true, '1.06x through the front meets 1.10x, though the binary alone (1.50x) would not');
  t.match(v.target, /as installed: the native hook front, daemon running/);
  t.match(v.measured, /^podman run --rm through the front, daemon running 1\.06x \(\+60 ms\), bare crun 1\.10x \(\+30 ms\); without the daemon, the binary: podman run --rm 1\.50x/);
  t.same(overheadRows(res.overheads).map((r) => r.key), ['podman', 'podmanFront', 'crun', 'crunFront', 'exec', 'startup', 'hostStartup']);
  res.overheads.podmanFront = { without: [1000], with: [1200] };
  t.equal(verdicts(res)[4]!.met, false, '1.20x through the front does not');
});

t.test('the framework outside the agent leaf in (d) fails its target, with where it was and the calls the daemon saw', async (t) => {
  const res = result();
  const d = res.runs.filter((r) => r.mode === 'd');
  const at = (cg: string) => (a: AgentRun): AgentRun => ({ ...a, out: { ...a.out, cgroups: [cg, cg] } });
  d[0]!.agents = d[0]!.agents.map(at('/replay-d2-5/rp-d2-5-0/agent'));
  d[1]!.agents = d[1]!.agents.map(at('/replay-d4-6/rp-d4-6-0/agent'));
  d[0]!.outcomes = { ok: 4 };
  d[1]!.outcomes = { ok: 8 };
  const ok = verdicts(res)[3]!;
  t.equal(ok.met, true);
  t.equal(ok.measured, "0 of 6 agents' frameworks outside the agent leaf; the daemon recorded 12 tool calls for 12 planned");
  d[1]!.agents[2] = at('/replay-d4-6/rp-d4-6-2/tools/agent-412')(d[1]!.agents[2]!);
  d[1]!.outcomes = { ok: 3, killed: 1 };
  const moved = verdicts(res)[3]!;
  t.equal(moved.met, false);
  t.equal(moved.measured, "1 of 6 agents' frameworks outside the agent leaf (e.g. /replay-d4-6/rp-d4-6-2/tools/agent-412); the daemon recorded 8 tool calls for 12 planned");
});

t.test('markdown and svg render every mode', async (t) => {
  const md = markdown(result());
  t.match(md, /\nAgents' init: tini version 0\.19\.0 as `docker run --init` runs it\.\n/);
  for (const m of ['(a) no limits', '(b) static max = own peak', '(c) static max = equal share', '(d) agentcgroup']) t.ok(md.includes(m), m);
  t.match(md, /memory scaled \/8.*time scaled \/20/);
  t.match(md, /\| \(c\) static max = equal share \| 4 \| 3\/4 \(75%\) \|/);
  const svg = plot(rows(result()), [2, 4], 'caption <&>');
  t.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  t.match(svg, /caption &lt;&amp;&gt;/);
  t.equal((svg.match(/<polyline/g) ?? []).length, 12, 'three panels, four modes');
  t.match(svg, /target 1\.10x/);
});

t.test('--overheads-only: the overheads and no replay; a report of no runs still renders', async (t) => {
  t.match(parseOptions(['--overheads-only']), { overheads: true, replay: false });
  t.match(parseOptions(['--overheads-only', '--no-overheads']), { overheads: false, replay: true }, 'the later wins');
  t.match(parseOptions([]), { overheads: true, replay: true });
  const res = { ...result(), runs: [] };
  const md = markdown(res);
  t.match(md, /hook overhead <= 1\.10x/, 'the overhead verdict is there');
});

t.test('options', async (t) => {
  const o = parseOptions(['--seed', '3', '--agents', '2,4,8', '--budget', '512', '--modes', 'a,d', '--no-overheads', '--recheck', '100ms']);
  t.equal(o.seed, 3);
  t.same(o.agents, [2, 4, 8]);
  t.equal(o.budgetMiB, 512);
  t.same(o.modes, ['a', 'd']);
  t.equal(o.overheads, false);
  t.equal(o.recheck, '100ms');
  t.equal(parseOptions([]).memoryDiv, 8);
  t.equal(parseOptions([]).init, 'tini', 'agents run under an init wrapper unless told');
  t.equal(parseOptions(['--init', 'none']).init, 'none');
  t.throws(() => parseOptions(['--init', 'dumb-init']), /--init: expected tini or none/);
  t.throws(() => parseOptions(['--agents', '4,2']), /must increase/);
  t.throws(() => parseOptions(['--modes', 'e']), /unknown mode/);
  t.throws(() => parseOptions(['--bogus', '1']), /unknown option --bogus/);
  t.throws(() => parseOptions(['--seed']), /missing value/);
  t.throws(() => parseOptions(['--budget', '-1']), /positive/);
});
