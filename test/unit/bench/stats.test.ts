import t from 'tap';
import { type AgentRun, type CallLine, callDurations, density, fate, ladderActions, ladderTotals, mean, median, outsideLeaf, parseAgentOut, parseFlat, parseMax, placement, quantile, slowdown, survived, waste } from '../../../bench/replay/stats.js';

t.test('parseAgentOut reads the agent\'s lines and skips a torn one', async (t) => {
  const o = parseAgentOut('P\nS 1000\nR 0 2000 5000 0\nR 1 6000 9000 137\nD 10000\nR 2 1');
  t.equal(o.parked, true);
  t.equal(o.startUs, 1000);
  t.equal(o.doneUs, 10000);
  t.same(o.calls, [
    { idx: 0, startUs: 2000, endUs: 5000, status: 0 },
    { idx: 1, startUs: 6000, endUs: 9000, status: 137 },
  ]);
  t.same(parseAgentOut(''), { parked: false, startUs: undefined, doneUs: undefined, calls: [], cgroups: [] });
});

t.test('the framework\'s own cgroup lines tell whether it stayed in the agent leaf', async (t) => {
  const run = (out: string): AgentRun => ({ agent: 0, out: parseAgentOut(out), plannedCalls: 1, memoryPeak: 0, memoryMax: Infinity, oomKills: 0 });
  const leaf = run('P\nS 1\nG /replay-d2-3/rp-d2-3-0/agent\nR 0 1 2 0\nG /replay-d2-3/rp-d2-3-0/agent\nD 3\n');
  t.same(leaf.out.cgroups, ['/replay-d2-3/rp-d2-3-0/agent', '/replay-d2-3/rp-d2-3-0/agent']);
  t.equal(leaf.out.doneUs, 3, 'the other lines parse as before');
  t.equal(placement(leaf), 'leaf');
  const moved = run('P\nS 1\nG /replay-d2-3/rp-d2-3-0/tools/agent-7\nG /replay-d2-3/rp-d2-3-0/tools/agent-7\nD 3\n');
  t.equal(placement(moved), 'moved');
  t.equal(outsideLeaf(moved), '/replay-d2-3/rp-d2-3-0/tools/agent-7');
  t.equal(placement(run('P\nS 1\nG /replay-a2-1/rp-a2-1-0\nD 2\n')), 'moved', 'no agent leaf: no hook carved one');
  t.equal(placement(run('P\nS 1\nD 2\n')), 'unknown');
  t.same(parseAgentOut('G relative\nG \n').cgroups, [], 'only absolute paths');
});

t.test('quantiles are nearest-rank', async (t) => {
  const v = Array.from({ length: 100 }, (_, i) => 100 - i);
  t.equal(quantile(v, 0.5), 50);
  t.equal(quantile(v, 0.95), 95);
  t.equal(quantile([3], 0.95), 3);
  t.equal(median([1, 2, 3, 4]), 2);
  t.ok(Number.isNaN(quantile([], 0.5)));
  t.equal(mean([1, 2, 3]), 2);
});

t.test('kernel files', async (t) => {
  t.same(parseFlat('low 0\nhigh 3\nmax 2\noom 1\noom_kill 1\n'), { low: 0, high: 3, max: 2, oom: 1, oom_kill: 1 });
  t.equal(parseMax('max\n'), Infinity);
  t.equal(parseMax('1048576\n'), 1048576);
});

const agent = (out: string, over: Partial<AgentRun> = {}): AgentRun => ({ agent: 0, out: parseAgentOut(out), plannedCalls: 2, memoryPeak: 0, memoryMax: Infinity, oomKills: 0, ...over });

t.test('fate: finished only when the plan ran out and every call exited 0', async (t) => {
  t.equal(fate(agent('S 0\nR 0 0 1 0\nR 1 1 2 0\nD 3')), 'finished');
  t.ok(survived(agent('S 0\nR 0 0 1 0\nR 1 1 2 0\nD 3')));
  t.equal(fate(agent('S 0\nR 0 0 1 137\nR 1 1 2 0\nD 3', { oomKills: 1 })), 'call-killed');
  t.equal(fate(agent('S 0\nR 0 0 1 0\nR 1 1 2 1\nD 3')), 'call-failed');
  t.equal(fate(agent('S 0\nR 0 0 1 0\nD 3')), 'call-failed', 'a call never reported');
  t.equal(fate(agent('S 0\nR 0 0 1 0', { oomKills: 1 })), 'agent-killed');
  t.equal(fate(agent('S 0\nR 0 0 1 0')), 'unfinished');
});

t.test('slowdown compares the same calls, exit 0 in both', async (t) => {
  const alone = callDurations([agent('R 0 0 1000 0\nR 1 0 2000 0'), { ...agent('R 0 0 4000 0'), agent: 1 }]);
  t.same([...alone.entries()], [['0/0', 1], ['0/1', 2], ['1/0', 4]]);
  const run = callDurations([agent('R 0 0 2000 0\nR 1 0 2000 137'), { ...agent('R 0 0 4000 0'), agent: 1 }]);
  const s = slowdown(run, alone);
  t.equal(s.n, 2, 'the killed call is left out');
  t.equal(s.p50, 2 / 1);
  t.equal(s.p95, 4 / 4);
});

t.test('density stops at the first loss; waste; ladder actions', async (t) => {
  t.equal(density([{ agents: 2, ok: true }, { agents: 3, ok: true }, { agents: 4, ok: false }, { agents: 6, ok: true }]), 3);
  t.equal(density([{ agents: 4, ok: true }, { agents: 2, ok: true }]), 4);
  t.equal(density([{ agents: 2, ok: false }]), 0);
  t.equal(waste(400, 100), 0.75);
  t.equal(waste(100, 150), 0);
  t.ok(Number.isNaN(waste(Infinity, 1)));
  const log = [
    'agentcgroup: container x: call tool-1 frozen: budget /b memory at 91% of 448M',
    'agentcgroup: container x: call tool-1 thawed',
    'agentcgroup: container x: call tool-2 made no progress at memory.high: raised to 40M',
    'agentcgroup: container y: call tool-3 killed: budget /b memory at 98% of 448M and freezing did not relieve it',
    'agentcgroup: container y: thawed /c/tools/t left frozen by a previous daemon',
    '',
  ].join('\n');
  t.same(ladderActions(log), { freezes: 1, thaws: 1, raises: 1, kills: 1 });
});

t.test('ladderTotals: the ladder fields of the call records summed; records without one add nothing', async (t) => {
  t.same(
    ladderTotals([
      { outcome: 'ok', ladder: { frozenMs: 1500, reclaimedBytes: 64 << 20 } },
      { outcome: 'ok' },
      { outcome: 'killed', ladder: { frozenMs: 500, reclaimedBytes: 0 } },
      { outcome: 'ok', ladder: { frozenMs: 'x', reclaimedBytes: -1 } },
    ]),
    { calls: 3, frozenMs: 2000, reclaimedBytes: 64 << 20 },
    'untrusted values count the call, not the number',
  );
  t.same(ladderTotals([{ outcome: 'ok' }, JSON.parse('{"ladder":null}') as CallLine]), { calls: 0, frozenMs: 0, reclaimedBytes: 0 }, 'an older daemon, or JSON null: zeros');
});
