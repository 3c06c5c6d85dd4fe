import t from 'tap';
import { hostPolicy, nextCount, parseOptions, parseVariant, variantName } from '../../../bench/replay/options.js';
import { type BenchResult, type RunRecord, markdown, overheadRows, priorityRows, priorityTable, reclaimRows, reclaimTable, reserved, rows, seedVerdictTable, setMarkdown, spreadTable, stopReason, summaries, verdicts, withinBudget } from '../../../bench/replay/report.js';
import { type AgentRun, parseAgentOut, placed } from '../../../bench/replay/stats.js';
import { plot } from '../../../bench/replay/svg.js';

const M = 1 << 20;

/** An agent with two calls of the given durations (ms) and statuses; done unless `dead`. */
function agent(i: number, ms: [number, number], status: [number, number] = [0, 0], over: Partial<AgentRun> = {}, dead = false): AgentRun {
  const out = `P\nS 0\nR 0 0 ${ms[0] * 1000} ${status[0]}\nR 1 0 ${ms[1] * 1000} ${status[1]}\n${dead ? '' : 'D 1\n'}`;
  return { agent: i, out: parseAgentOut(out), plannedCalls: 2, memoryPeak: 50 * M, memoryMax: Infinity, oomKills: 0, ...over };
}

function run(kind: RunRecord['kind'], mode: RunRecord['mode'], agents: AgentRun[], over: Partial<RunRecord> = {}): RunRecord {
  return { kind, mode, variant: mode, agents, budgetBytes: 400 * M, budgetPeak: 300 * M, budgetAvg: 100 * M, budgetOomKills: 0, wallMs: 10_000, timedOut: false, ...over };
}

function result(): BenchResult {
  const alone = [0, 1, 2, 3].map((i) => run('alone', 'a', [agent(i, [100, 1000])]));
  const ok = (n: number, ms: [number, number] = [100, 1000]) => [...Array(n).keys()].map((i) => agent(i, ms));
  return {
    kernel: '6.1',
    seed: 1,
    variants: ['a', 'b', 'c', 'd'],
    shape: 'mixed',
    searchEnd: 'every mode stopped',
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

t.test('summaries: density with no agent lost, with every agent whole, and without the budget condition', async (t) => {
  const s = summaries(result());
  const by = Object.fromEntries(s.map((x) => [x.variant.key, x]));
  t.equal(by.a!.density, 4);
  t.equal(by.b!.density, 2, '4 x 150M does not fit in 400M');
  t.equal(by.b!.densityNoLoss, 2, 'nor with no agent lost');
  t.equal(by.b!.densitySurvivalOnly, 4);
  t.equal(by.c!.density, 2, 'a call killed at 4');
  t.equal(by.c!.densityNoLoss, 4, 'but its agent kept going: nothing lost');
  t.equal(by.d!.density, 4);
  t.equal(by.d!.censored, true, 'none lost up to the largest count');
  t.equal(by.b!.censored, false, 'over budget at 4 counts as the limit');
});

/** The modes as kubelet runs them: an OOM in a container kills all of it. */
function v2(): BenchResult {
  const res = result();
  const ok = (n: number, ms: [number, number] = [100, 1000]) => [...Array(n).keys()].map((i) => agent(i, ms));
  const k = (mode: RunRecord['mode'], variant: string, agents: AgentRun[], over: Partial<RunRecord> = {}) => run('mode', mode, agents, { variant, ...over });
  const deadLast = (n: number) => [...ok(n - 1), agent(n - 1, [100, 500], [0, 137], { oomKills: 3 }, true)];
  res.variants = ['ak', 'bk', 'ck', 'dk', 'dkp'];
  res.runs = [
    ...res.runs.filter((r) => r.kind === 'alone'),
    k('a', 'ak', ok(2)),
    k('a', 'ak', deadLast(4)),
    k('b', 'bk', ok(2).map((a) => ({ ...a, memoryMax: 150 * M }))),
    k('b', 'bk', ok(4).map((a) => ({ ...a, memoryMax: 150 * M }))),
    k('c', 'ck', ok(2).map((a) => ({ ...a, memoryMax: 200 * M }))),
    k('c', 'ck', deadLast(4).map((a) => ({ ...a, memoryMax: 100 * M }))),
    k('d', 'dk', ok(2)),
    k('d', 'dk', ok(4, [100, 1050]), { placed: { calls: 8, heldAtExec: 8, burst: 4, burstWhole: 4 }, ladder: { freezes: 3, thaws: 3, raises: 0, kills: 0 } }),
    k('d', 'dkp', ok(2)),
    k('d', 'dkp', [0, 1, 2, 3].map((i) => agent(i, i % 2 === 0 ? [100, 900] : [100, 1100])), { placed: { calls: 8, heldAtExec: 7, burst: 4, burstWhole: 3 } }),
  ];
  return res;
}

t.test('rows: agents lost first; classes apart; stopReason', async (t) => {
  const r = rows(v2());
  const ak4 = r.find((x) => x.variant.key === 'ak' && x.agents === 4)!;
  t.equal(ak4.agentsLost, 1);
  t.equal(ak4.callsKilled, 1);
  t.same(ak4.variant, { key: 'ak', mode: 'a', oomGroup: true, priorities: false, reclaim: false });
  t.ok(r.find((x) => x.variant.key === 'dk' && x.agents === 4)!.vsA, 'against the pool set up alike, ak: no plain (a) ran');
  const p4 = r.find((x) => x.variant.key === 'dkp' && x.agents === 4)!;
  t.equal(p4.classes.high.p95, 0.9, 'even agents: high');
  t.equal(p4.classes.low.p95, 1.1, 'odd agents: low');
  const runs = v2().runs.filter((x) => x.kind === 'mode' && x.agents.length === 4);
  t.same(runs.map(stopReason), ['1 agent lost', "the agents' memory.max values (600 MiB) no longer fit the budget", '1 agent lost', undefined, undefined]);
  const timedOut = { ...runs[3]!, timedOut: true };
  t.equal(stopReason(timedOut), 'the run timed out');
  const half = { ...runs[3]!, agents: runs[3]!.agents.map((a, i) => (i < 3 ? { ...a, out: { ...a.out, calls: a.out.calls.map((c) => ({ ...c, status: 137 })) } } : a)) };
  t.equal(stopReason(half), 'fewer than half the agents finished whole', 'calls killed, no agent lost, but most agents hurt');
});

t.test('verdicts v2: judged on agentcgroup as kubelet runs it, against each baseline as kubelet runs it', async (t) => {
  const v = verdicts(v2());
  const by = Object.fromEntries(v.map((x) => [x.target.replace(/ \(.*$/, ''), x]));
  const lostV = by['agentcgroup loses no agent where every baseline loses one']!;
  t.equal(lostV.met, true);
  t.equal(lostV.measured, 'at 4 agents (ak lost its first at 4, bk no longer fit the budget at 4, ck lost its first at 4): dk lost 0 of 4');
  const peak = v.find((x) => x.target.startsWith('density (no agent lost) of agentcgroup >= 2x'))!;
  t.equal(peak.met, true);
  t.match(peak.measured, /^dk 4\+, bk 2 \(2\.00x or more\)/);
  const pool = v.find((x) => x.target.startsWith('density (no agent lost) of agentcgroup above the pool as kubelet runs it'))!;
  t.equal(pool.met, true);
  t.equal(pool.measured, 'dk 4+, ak 2');
  const slow = v.find((x) => x.target.startsWith('p95 tool-call slowdown'))!;
  t.equal(slow.met, true);
  t.match(slow.measured, /2 agents 1\.00x, 4 agents 1\.05x/);
  const prio = v.find((x) => x.target.startsWith('the priority mix'))!;
  t.equal(prio.met, true);
  t.equal(prio.measured, 'high p95 -14.3%, low p95 +4.8% (mean over the 1 counts where the ladder acted: dkp 4)', 'high 900/1050, low 1100/1050; at 2 nothing acted');
  const calm = v2();
  for (const r of calm.runs) delete r.ladder;
  const none = verdicts(calm).find((x) => x.target.startsWith('the priority mix'))!;
  t.equal(none.met, undefined, 'no contention: nothing to judge');
  t.equal(none.measured, 'the ladder acted at none of the counts both ran (2, 4): nothing to give way');
  const burst = v.find((x) => x.target.startsWith('calls that allocate at once'))!;
  t.equal(burst.met, false);
  t.equal(burst.measured, "7 of 8 burst calls' own memory.peak saw >= 90% of their planned peak; 15 of 16 calls held at exec");

  const plain = v2();
  plain.variants.unshift('a');
  plain.runs.push(run('mode', 'a', [0, 1].map((i) => agent(i, [100, 1000]))), run('mode', 'a', [0, 1, 2, 3].map((i) => agent(i, [100, 1000]))));
  t.equal(verdicts(plain)[0]!.measured, lostV.measured, 'dk is judged against the baselines as kubelet runs them: the plain pool, losing nothing, is not one');

  const lossy = v2();
  lossy.runs.find((r) => r.variant === 'dk' && r.agents.length === 4)!.agents[0]!.out.doneUs = undefined;
  const again = verdicts(lossy);
  t.equal(again[0]!.met, false, 'agentcgroup lost one there too');
  t.equal(again.find((x) => x.target.startsWith('density (no agent lost) of agentcgroup above the pool'))!.met, false, 'dk 2, ak 2: not above');
});

t.test('placed: calls held at exec, and burst calls whose own cgroup saw their peak', async (t) => {
  const rec = (spec: string, peak: number, held = true, outcome = 'ok') => ({ outcome, argv: ['tool', spec], placement: { heldAtExec: held }, memory: { peak } });
  t.same(
    placed([rec('0:10240,100:10240', 10240 * 1024), rec('0:10240,100:0', 5 * 1024 * 1024, false), rec('0:0,50:10240,100:10240', 0), rec('0:0,10:0', 0), { argv: 'x' }, rec('0:10240,100:10240', 0, true, 'oom-killed')]),
    { calls: 6, heldAtExec: 4, burst: 2, burstWhole: 1 },
    'a ramp is not a burst; a burst seen at half its peak is not whole; one killed is not judged; a record without argv counts as a call only',
  );
});

t.test('priority table and the spread across seeds', async (t) => {
  const res = v2();
  t.same(priorityRows(res).map((p) => [p.without.key, p.with.key, p.agents]), [['dk', 'dkp', 2], ['dk', 'dkp', 4]]);
  t.match(priorityTable(res), /\| \(d\) agentcgroup, oom\.group \/ dkp \| 4 \| 1\.00x \/ 1\.05x \| 1\.00x \/ 0\.90x \| -14\.3% \|/);
  t.match(priorityTable(res), /paper \(allocation latency, not call time\)/);
  const other = { ...v2(), seed: 2 };
  other.runs = other.runs.filter((r) => !(r.variant === 'dk' && r.agents.length === 4));
  const spread = spreadTable([res, other]);
  t.match(spread, /\| \(d\) agentcgroup, oom\.group \| 2 \/ 2 \/ 4 \(\+: none lost up to the largest count in some seed\) \|/, 'min / median / max (nearest rank)');
  t.match(spread, /\| \(a\) no limits, oom\.group \| 2 \| 2 \| 1 \|/, 'the same in both seeds: one value');
  const verdictsAcross = seedVerdictTable([res, other]);
  t.match(verdictsAcross, /\| agentcgroup loses no agent where every baseline loses one \| 1 of 2 \| seed 1: at 4 agents .*<br>seed 2: .*did not run there/);
  const md = setMarkdown([res, other], undefined, 100);
  t.match(md, /## Across seeds \(min \/ median \/ max\)/);
  t.match(md, /## Seed 1\n[\s\S]*### Runs[\s\S]*## Seed 2\n/);
  t.match(md, /### Priorities/);
  t.equal(setMarkdown([], undefined, 1), '# agentcgroup trace replay\n\nNo replay ran.\n');
});

t.test('with the front measured (daemon running), the podman target is judged on it, the binary\'s figures still said', async (t) => {
  const res = result();
  res.overheads = { ...res.overheads!, podmanFront: { without: [1000], with: [1060] }, crunFront: { without: [300], with: [330] } };
  const hook = (r: BenchResult) => verdicts(r).find((x) => x.target.startsWith('hook overhead'))!;
  const v = hook(res);
  t.equal(v.met, true, '1.06x through the front meets 1.10x, though the binary alone (1.50x) would not');
  t.match(v.target, /as installed: the native hook front, daemon running/);
  t.match(v.measured, /^podman run --rm through the front, daemon running 1\.06x \(\+60 ms\), bare crun 1\.10x \(\+30 ms\); without the daemon, the binary: podman run --rm 1\.50x/);
  t.same(overheadRows(res.overheads).map((r) => r.key), ['podman', 'podmanFront', 'crun', 'crunFront', 'exec', 'startup', 'hostStartup']);
  res.overheads.podmanFront = { without: [1000], with: [1200] };
  t.equal(hook(res).met, false, '1.20x through the front does not');
  const binary = hook(result());
  t.equal(binary.met, false, 'no front measured: judged on the binary, 1.50x');
  t.match(binary.measured, /2 start-ups of the binary: 400 ms in the guest, 80 ms on the host/);
  t.same(overheadRows(result().overheads!).map((x) => Math.round(x.addedMs)), [500, 1000, 590, 200, 40]);
});

t.test('the framework outside the agent leaf in (d) fails its target, with where it was and the calls the daemon saw', async (t) => {
  const res = result();
  const d = res.runs.filter((r) => r.mode === 'd');
  const at = (cg: string) => (a: AgentRun): AgentRun => ({ ...a, out: { ...a.out, cgroups: [cg, cg] } });
  d[0]!.agents = d[0]!.agents.map(at('/replay-d2-5/rp-d2-5-0/agent'));
  d[1]!.agents = d[1]!.agents.map(at('/replay-d4-6/rp-d4-6-0/agent'));
  d[0]!.outcomes = { ok: 4 };
  d[1]!.outcomes = { ok: 8 };
  const leaf = () => verdicts(res).find((x) => x.target.startsWith('agentcgroup leaves the framework'))!;
  const ok = leaf();
  t.equal(ok.met, true);
  t.equal(ok.measured, "0 of 6 agents' frameworks outside the agent leaf; the daemon recorded 12 tool calls for 12 planned");
  d[1]!.agents[2] = at('/replay-d4-6/rp-d4-6-2/tools/agent-412')(d[1]!.agents[2]!);
  d[1]!.outcomes = { ok: 3, killed: 1 };
  const moved = leaf();
  t.equal(moved.met, false);
  t.equal(moved.measured, "1 of 6 agents' frameworks outside the agent leaf (e.g. /replay-d4-6/rp-d4-6-2/tools/agent-412); the daemon recorded 8 tool calls for 12 planned");
});

t.test('markdown and svg render every mode', async (t) => {
  const md = markdown(result());
  t.match(md, /\nAgents' init: tini version 0\.19\.0 as `docker run --init` runs it\.\n/);
  for (const m of ['(a) no limits', '(b) static max = own peak', '(c) static max = equal share', '(d) agentcgroup']) t.ok(md.includes(m), m);
  t.match(md, /memory scaled \/8.*time scaled \/20/);
  t.match(md, /\| \(c\) static max = equal share \| 4 \| 0 \| 1 \| 3\/4 \(75%\) \|/, 'agents lost, then calls killed, then finished whole');
  t.match(md, /Search: every mode stopped\./);
  const svg = plot(rows(result()), [2, 4], 'caption <&>');
  t.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  t.match(svg, /caption &lt;&amp;&gt;/);
  t.equal((svg.match(/<polyline/g) ?? []).length, 12, 'three panels, four modes');
  t.match(svg, /target 1\.10x/);
  t.match(svg, /agents lost \(framework died\)/);
  const k = plot(rows(v2()), [2, 4], '');
  t.equal((k.match(/<polyline[^>]*stroke-dasharray="6 3"/g) ?? []).length, 3 * 4, 'the oom.group modes dashed');
  t.equal((k.match(/<polyline[^>]*stroke-dasharray="1 3"/g) ?? []).length, 3, 'the priority mix dotted');
  t.match(k, /\(d\) agentcgroup, oom\.group, priorities/);
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
  const o = parseOptions(['--seed', '3', '--agents', '2,4,8', '--budget', '512', '--modes', 'a,dkp', '--no-overheads', '--recheck', '100ms']);
  t.same(o.seeds, [3]);
  t.same(o.agents, [2, 4, 8]);
  t.equal(o.budgetMiB, 512);
  t.same(o.modes, [{ key: 'a', mode: 'a', oomGroup: false, priorities: false, reclaim: false }, { key: 'dkp', mode: 'd', oomGroup: true, priorities: true, reclaim: false }]);
  t.same(parseOptions([]).modes.map((m) => m.key), ['a', 'ak', 'b', 'bk', 'c', 'ck', 'd', 'dk', 'dkp'], 'each mode also as kubelet runs it; the priority mix as kubelet runs it');
  t.same(parseOptions([]).seeds, [1, 2, 3]);
  t.same(parseOptions(['--seeds', '4,7']).seeds, [4, 7]);
  t.equal(parseOptions([]).shape, 'mixed');
  t.equal(parseOptions(['--native']).native, true);
  t.throws(() => parseOptions(['--modes', 'ap']), /unknown mode "ap"/, 'priorities are agentcgroup\'s');
  t.throws(() => parseOptions(['--modes', 'a,a']), /a given twice/);
  t.throws(() => parseOptions(['--shape', 'spiky']), /--shape: expected ramp, burst, mixed/);
  t.throws(() => parseOptions(['--agents', '2,50']), /50 is above --max-agents 40/);
  t.equal(o.overheads, false);
  t.equal(o.recheck, '100ms');
  t.equal(parseOptions([]).memoryDiv, 8);
  t.equal(parseOptions([]).init, 'tini', 'agents run under an init wrapper unless told');
  t.equal(parseOptions(['--init', 'none']).init, 'none');
  t.throws(() => parseOptions(['--init', 'dumb-init']), /--init: expected tini or catatonit or sh or none/);
  t.equal(parseOptions(['--init', 'catatonit']).init, 'catatonit');
  t.throws(() => parseOptions(['--agents', '4,2']), /must increase/);
  t.throws(() => parseOptions(['--modes', 'e']), /unknown mode/);
  t.throws(() => parseOptions(['--bogus', '1']), /unknown option --bogus/);
  t.throws(() => parseOptions(['--seed']), /missing value/);
  t.throws(() => parseOptions(['--budget', '-1']), /positive/);
});

t.test('nextCount: the listed counts, then on by the last gap (or --grow) up to the most there may be', async (t) => {
  const walk = (agents: number[], grow: number, max: number) => {
    const out: number[] = [];
    for (let n = nextCount({ agents, grow }, undefined, max); n !== undefined; n = nextCount({ agents, grow }, n, max)) out.push(n);
    return out;
  };
  t.same(walk([2, 4, 6], 0, 11), [2, 4, 6, 8, 10]);
  t.same(walk([2, 4, 6], 3, 12), [2, 4, 6, 9, 12]);
  t.same(walk([5], 0, 8), [5, 6, 7, 8], 'one count listed: one more at a time');
  t.same(walk([2, 4], 0, 3), [2], 'fewer traces than the list');
});

/** v2 with the reclaim rung beside plain freeze: dkr at both counts, dkpr at 4 only. */
function withRung(): BenchResult {
  const res = v2();
  const ok = (n: number, ms: [number, number] = [100, 1000]) => [...Array(n).keys()].map((i) => agent(i, ms));
  const d = (variant: string, agents: AgentRun[], over: Partial<RunRecord> = {}) => run('mode', 'd', agents, { variant, ...over });
  const dk4 = res.runs.find((r) => r.variant === 'dk' && r.agents.length === 4)!;
  // Plain freeze at 4: one call killed by the ladder, one agent lost to an OOM kill.
  dk4.agents = [...ok(2), agent(2, [100, 500], [0, 137]), agent(3, [100, 500], [0, 137], { oomKills: 1 }, true)];
  dk4.ladder = { freezes: 3, thaws: 1, raises: 0, kills: 1 };
  dk4.ladderCalls = { calls: 3, frozenMs: 4500, reclaimedBytes: 0 };
  res.variants = [...res.variants, 'dkr', 'dkpr'];
  res.runs.push(
    d('dkr', ok(2), { ladder: { freezes: 0, thaws: 0, raises: 0, kills: 0 }, ladderCalls: { calls: 0, frozenMs: 0, reclaimedBytes: 0 } }),
    d('dkr', ok(4, [100, 1300]), { ladder: { freezes: 3, thaws: 3, raises: 0, kills: 0 }, ladderCalls: { calls: 3, frozenMs: 6000, reclaimedBytes: 192 * M } }),
    d('dkpr', [0, 1, 2, 3].map((i) => agent(i, i % 2 === 0 ? [100, 1000] : [100, 1400]))),
  );
  res.swap = '/dev/zram0 (zram, lz4, 1.0 GiB); set up by the bench before the first run, for every mode alike';
  return res;
}

t.test('options: the reclaim rung (r, agentcgroup only, last) and the swap it needs', async (t) => {
  t.same(parseVariant('dkr'), { key: 'dkr', mode: 'd', oomGroup: true, priorities: false, reclaim: true });
  t.same(parseVariant('dkpr'), { key: 'dkpr', mode: 'd', oomGroup: true, priorities: true, reclaim: true });
  t.equal(parseVariant('dk').reclaim, false);
  t.throws(() => parseVariant('akr'), /unknown mode "akr"/, 'the rung is the daemon\'s');
  t.throws(() => parseVariant('drk'), /unknown mode "drk"/, 'r comes last');
  t.equal(variantName(parseVariant('dkr')), '(d) agentcgroup, oom.group, reclaim rung');
  t.equal(variantName(parseVariant('dk')), '(d) agentcgroup, oom.group');
  t.match(hostPolicy('200ms', parseVariant('dk')), /^ladder:\n  recheck: 200ms\n  reclaim: false\n/m, 'plain freeze says so: the default is the rung');
  t.match(hostPolicy('200ms', parseVariant('dkr')), /^  reclaim: true$/m);
  t.match(hostPolicy('200ms', parseVariant('dkr')), /allow: \[priority\]/);

  t.equal(parseOptions([]).swap, 'none', 'no rung: no swap set up, the runs as before');
  t.equal(parseOptions(['--modes', 'dk,dkr']).swap, 'zram', 'the rung needs somewhere to push memory');
  t.equal(parseOptions(['--modes', 'dk,dkr']).zramBytes, 1 << 30);
  t.equal(parseOptions(['--modes', 'dk,dkr', '--swap', 'none']).swap, 'none');
  t.equal(parseOptions(['--modes', 'ak,dk', '--swap', 'zram']).swap, 'zram', 'zram for plain modes too, when asked');
  t.equal(parseOptions(['--swap', 'zram', '--zram-size', '512M']).zramBytes, 512 * M);
  t.equal(parseOptions(['--swap', 'zram', '--zram-size', '2g']).zramBytes, 2 * 1024 * M);
  t.equal(parseOptions(['--zram-size', '1048576', '--modes', 'dkr']).zramBytes, M, 'bytes; the flag order does not matter');
  t.throws(() => parseOptions(['--swap', 'zram', '--zram-size', '1.5G']), /--zram-size: expected a size of at least 1M/);
  t.throws(() => parseOptions(['--swap', 'zram', '--zram-size', '4K']), /at least 1M/);
  t.throws(() => parseOptions(['--zram-size', '512M']), /--zram-size: only with --swap zram/);
  t.throws(() => parseOptions(['--swap', 'zswap']), /--swap: expected zram or none, got "zswap"/);
  t.equal(parseOptions(['--native', '--modes', 'dk,dkr']).swap, 'none', "--native: the host's own swap, untouched");
  t.throws(() => parseOptions(['--native', '--swap', 'zram']), /^--swap zram: --native leaves this host's swap as it is/);
  t.throws(() => parseOptions(['--swap', 'zram', '--native']), /--native leaves/, 'whatever the order');
});

t.test('reclaim rung vs plain freeze: a row each per count, kills, losses, slowdown and the ladder\'s work', async (t) => {
  const res = withRung();
  const pairs = reclaimRows(res);
  t.same(pairs.map((p) => [p.plain.variant.key, p.reclaim.variant.key, p.agents]), [['dk', 'dkr', 2], ['dk', 'dkr', 4], ['dkp', 'dkpr', 4]], 'each beside the same mode without the rung, counts in order');
  const four = pairs.find((p) => p.reclaim.variant.key === 'dkr' && p.agents === 4)!;
  t.equal(four.plain.callsKilled, 2, 'the ladder\'s kill and the OOM kill alike');
  t.equal(four.plain.agentsLost, 1);
  t.equal(four.reclaim.callsKilled, 0);
  t.same(four.reclaim.ladderCalls, { calls: 3, frozenMs: 6000, reclaimedBytes: 192 * M });
  const table = reclaimTable(res);
  t.match(table, /^\| agents \| mode \| calls killed \(by the ladder\) \| agents lost \| p50 \/ p95 ×alone \|/);
  t.match(table, /\| 4 \| \(d\) agentcgroup, oom\.group \| 2 \(1\) \| 1 \| 1\.00x \/ 1\.00x \| 3\/1 \| 3 \| 4\.5 \| 0 \|/);
  t.match(table, /\| 4 \| \(d\) agentcgroup, oom\.group, reclaim rung \| 0 \(0\) \| 0 \| 1\.00x \/ 1\.30x \| 3\/3 \| 3 \| 6\.0 \| 192 \|/);
  t.match(table, /\| 4 \| \(d\) agentcgroup, oom\.group, priorities, reclaim rung \| 0 \| 0 \| [^|]+ \| — \| — \| — \| — \|/, 'no ladder counts, no records read: said, not made 0');
  t.equal(table.split('\n').length, 2 + 6, 'header, rule, two rows per pair');

  const md = markdown(res);
  t.match(md, /## Reclaim rung vs plain freeze \(swap: \/dev\/zram0 \(zram, lz4, 1\.0 GiB\); set up by the bench/);
  t.match(md, /calls' memory shape: mixed\. Swap: \/dev\/zram0/, 'the header says the swap');
  t.notMatch(markdown(v2()), /Reclaim rung vs plain freeze/, 'no rung ran: no table');
  t.notMatch(markdown(v2()), /Swap:/, 'results from before the swap was said');
});

t.test('with the rung beside plain freeze, targets stay on plain freeze and priorities pair like with like', async (t) => {
  const res = withRung();
  res.variants = ['ak', 'bk', 'ck', 'dkr', 'dk', 'dkp', 'dkpr'];
  const lostV = verdicts(res)[0]!;
  t.match(lostV.measured, /: dk lost 1 of 4$/, 'judged on dk, though dkr comes first');
  t.same(priorityRows(res).map((p) => [p.without.key, p.with.key, p.agents]), [['dk', 'dkp', 2], ['dk', 'dkp', 4], ['dkr', 'dkpr', 4]]);
  const onlyRung = withRung();
  onlyRung.runs = onlyRung.runs.filter((r) => !['dk', 'dkp'].includes(r.variant));
  onlyRung.variants = ['ak', 'bk', 'ck', 'dkr'];
  t.match(verdicts(onlyRung)[0]!.measured, /: dkr lost 0 of 4$/, 'the rung alone ran: judged on it');
  t.same(reclaimRows(onlyRung), []);
  const svg = plot(rows(res), [2, 4], '');
  t.equal((svg.match(/<polyline[^>]*stroke-dasharray="8 3 2 3"/g) ?? []).length, 3 * 1, 'the rung dash-dotted (dkpr ran at one count: no line)');
});
