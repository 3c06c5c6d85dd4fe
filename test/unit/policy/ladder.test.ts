import t from 'tap';
import { type CallView, type LadderConfig, type LadderState, type Snapshot, EMPTY_STATE, decide } from '../../../src/policy/ladder.js';
import { effectivePriorities } from '../../../src/policy/priority.js';

const M = 1 << 20;
const cfg: LadderConfig = { stallRatio: 0.5, raiseStep: 0.1, freezeAt: 0.9, thawBelow: 0.75, killAt: 0.98, reclaim: false, reclaimStepBytes: 64 * M, deadlineMs: 30_000 };

function call(key: string, session: string, over: Partial<CallView> = {}): CallView {
  return { key, session, current: 100 * M, high: 300 * M, max: 500 * M, fullStallUs: 0, frozen: false, ...over };
}

function snap(nowMs: number, calls: CallView[], budgetUse: number, extra: Partial<Snapshot> = {}): Snapshot {
  return {
    nowMs,
    calls,
    sessions: [
      { id: 'low', priority: 0, current: 0, max: 'max', budgets: ['host'] },
      { id: 'normal', priority: 1, current: 0, max: 'max', budgets: ['host'] },
      { id: 'high', priority: 2, current: 0, max: 'max', budgets: ['host'] },
    ],
    budgets: [{ id: 'host', limit: 1000 * M, current: budgetUse * 1000 * M }],
    ...extra,
  };
}

/** Runs decisions in sequence, carrying the state, and returns the last. */
function run(snaps: Snapshot[], state: LadderState = EMPTY_STATE) {
  let d = decide(snaps[0]!, state, cfg);
  for (const s of snaps.slice(1)) d = decide(s, d.state, cfg);
  return d;
}

t.test('nothing stalled and room everywhere: no action, no reason to look again', async (t) => {
  const d = run([snap(0, [call('a', 'low')], 0.3), snap(1000, [call('a', 'low')], 0.3)]);
  t.same(d.actions, []);
  t.equal(d.watching, false);
});

t.test('a call fully stalled most of the last interval gets memory.high raised one step', async (t) => {
  const d = run([snap(0, [call('a', 'normal', { current: 300 * M })], 0.4), snap(1000, [call('a', 'normal', { current: 300 * M, fullStallUs: 800_000 })], 0.4)]);
  t.same(d.actions, [{ kind: 'raise-high', call: 'a', to: 350 * M }], '10% of memory.max');
  t.equal(d.watching, true, 'looks again while it is stalled');
});

t.test('a little stall is not "no progress"', async (t) => {
  const d = run([snap(0, [call('a', 'normal')], 0.4), snap(1000, [call('a', 'normal', { fullStallUs: 200_000 })], 0.4)]);
  t.same(d.actions, []);
});

t.test('the raise stops at memory.max and never exceeds the room of the session or a budget', async (t) => {
  const near = run([snap(0, [call('a', 'normal', { high: 480 * M })], 0.4), snap(1000, [call('a', 'normal', { high: 480 * M, fullStallUs: 900_000 })], 0.4)]);
  t.same(near.actions, [{ kind: 'raise-high', call: 'a', to: 500 * M }]);
  const tight = run([
    snap(0, [call('a', 'normal'), call('b', 'low')], 0.96),
    snap(1000, [call('a', 'normal', { fullStallUs: 900_000 }), call('b', 'low')], 0.96),
  ]);
  t.notOk(tight.actions.some((a) => a.kind === 'raise-high'), 'no room in the host budget for 50M');
  t.same(tight.actions, [{ kind: 'freeze', call: 'b', reason: 'host memory at 96% of 1000M' }], 'instead the lower-priority call is frozen');
});

t.test('under budget pressure the lowest priority is frozen first, and never the last running call', async (t) => {
  const calls = [call('h', 'high'), call('n', 'normal'), call('l', 'low', { current: 50 * M })];
  const first = decide(snap(0, calls, 0.92), EMPTY_STATE, cfg);
  t.same(first.actions.map((a) => `${a.kind} ${a.call}`), ['freeze l']);
  const second = decide(snap(500, calls.map((c) => (c.key === 'l' ? { ...c, frozen: true } : c)), 0.93), first.state, cfg);
  t.same(second.actions.map((a) => `${a.kind} ${a.call}`), ['freeze n']);
  const third = decide(snap(1000, calls.map((c) => (c.key === 'h' ? c : { ...c, frozen: true })), 0.95), second.state, cfg);
  t.same(third.actions, [], 'the high-priority call keeps running: something must finish');
});

t.test('thaw waits for the lower mark, then goes highest priority first', async (t) => {
  const frozen = (k: string, s: string) => call(k, s, { frozen: true });
  let d = decide(snap(0, [call('h', 'high'), call('n', 'normal'), call('l', 'low')], 0.92), EMPTY_STATE, cfg);
  d = decide(snap(100, [call('h', 'high'), call('n', 'normal'), frozen('l', 'low')], 0.92), d.state, cfg);
  const calls = [call('h', 'high'), frozen('n', 'normal'), frozen('l', 'low')];
  const between = decide(snap(200, calls, 0.8), d.state, cfg);
  t.same(between.actions, [], 'between the marks: hold (hysteresis)');
  const below = decide(snap(300, calls, 0.5), between.state, cfg);
  t.same(below.actions, [{ kind: 'thaw', call: 'n' }]);
  const later = decide(snap(400, [call('h', 'high'), call('n', 'normal'), frozen('l', 'low')], 0.6), below.state, cfg);
  t.same(later.actions, [{ kind: 'thaw', call: 'l' }]);
  t.equal(decide(snap(500, [call('h', 'high'), call('n', 'normal'), call('l', 'low')], 0.6), later.state, cfg).watching, false, 'all clear');
});

t.test('a call someone else froze is not thawed by the ladder', async (t) => {
  const d = decide(snap(0, [call('x', 'low', { frozen: true }), call('h', 'high')], 0.1), EMPTY_STATE, cfg);
  t.same(d.actions, []);
});

t.test('at the kill mark the lowest-priority call goes, frozen ones first, one at a time', async (t) => {
  const calls = [call('h', 'high', { current: 400 * M }), call('l', 'low', { current: 300 * M, frozen: true }), call('n', 'normal', { current: 200 * M })];
  const state: LadderState = { ...EMPTY_STATE, frozenSinceMs: { l: 0 } };
  const d = decide(snap(1000, calls, 0.99), state, cfg);
  t.same(d.actions, [{ kind: 'kill', call: 'l', reason: 'host memory at 99% of 1000M and freezing did not relieve it' }]);
  const again = decide(snap(1500, calls, 0.99), d.state, cfg);
  t.notOk(again.actions.some((a) => a.kind === 'kill'), 'no second victim while the first is dying');
});

t.test('deadlines: frozen or stalled too long ends the call with the reason', async (t) => {
  const state: LadderState = { ...EMPTY_STATE, frozenSinceMs: { l: 0 } };
  const d = decide(snap(31_000, [call('l', 'low', { frozen: true }), call('h', 'high')], 0.8), state, cfg);
  t.same(d.actions, [{ kind: 'kill', call: 'l', reason: 'frozen for 31 s (limit 30 s) while memory was short' }]);

  const stalls: Snapshot[] = [];
  for (let i = 0; i <= 30; i++) stalls.push(snap(i * 1000, [call('s', 'normal', { high: 500 * M, fullStallUs: i * 900_000 })], 0.3));
  t.same(run(stalls.slice(0, 30)).actions, [], 'at its memory.max, 29 s stalled: nothing yet');
  const end = run(stalls);
  t.same(end.actions, [{ kind: 'kill', call: 's', reason: 'throttled at memory.high for 30 s (limit 30 s) without progress' }]);
  t.same(decide(snap(31_000, [call('s', 'normal', { high: 500 * M })], 0.3), end.state, cfg).actions, [], 'killed once, not again while it dies');
});

t.test('separate budgets press only their own calls', async (t) => {
  const sessions = [
    { id: 'a1', priority: 0, current: 0, max: 'max' as const, budgets: ['pool', 'host'] },
    { id: 'a2', priority: 2, current: 0, max: 'max' as const, budgets: ['pool', 'host'] },
    { id: 'b1', priority: 0, current: 0, max: 'max' as const, budgets: ['host'] },
  ];
  const budgets = [
    { id: 'pool', limit: 500 * M, current: 480 * M },
    { id: 'host', limit: 4000 * M, current: 1000 * M },
  ];
  const d = decide({ nowMs: 0, calls: [call('x', 'a1'), call('y', 'a2'), call('z', 'b1')], sessions, budgets }, EMPTY_STATE, cfg);
  t.same(d.actions.map((a) => `${a.kind} ${a.call}`), ['freeze x'], 'the pool is short; the host is not');
  const still = decide({ nowMs: 500, calls: [call('x', 'a1', { frozen: true }), call('y', 'a2'), call('z', 'b1')], sessions, budgets }, d.state, cfg);
  t.same(still.actions, [], 'the host having room does not thaw a call the pool is short for');
  const eased = [{ id: 'pool', limit: 500 * M, current: 200 * M }, budgets[1]!];
  const thawed = decide({ nowMs: 1000, calls: [call('x', 'a1', { frozen: true }), call('y', 'a2'), call('z', 'b1')], sessions, budgets: eased }, still.state, cfg);
  t.same(thawed.actions, [{ kind: 'thaw', call: 'x' }], 'it thaws once the pool eases');
});

t.test('dependencies lift priorities: a needed agent is not frozen before the one that needs it', async (t) => {
  const eff = effectivePriorities([
    { id: 'db', priority: 0, dependsOn: [] },
    { id: 'web', priority: 1, dependsOn: ['db'] },
    { id: 'lead', priority: 2, dependsOn: ['web'] },
    { id: 'other', priority: 1, dependsOn: ['ghost'] },
    { id: 'loop', priority: 0, dependsOn: ['db'] },
  ]);
  t.same(Object.fromEntries(eff), { db: 2, web: 2, lead: 2, other: 1, loop: 0 });
});

t.test('a session too full for its stalled call freezes another call of that session, not a neighbour', async (t) => {
  const sessions = [
    { id: 'one', priority: 1, current: 590 * M, max: 600 * M, budgets: ['host'] },
    { id: 'two', priority: 0, current: 100 * M, max: 'max' as const, budgets: ['host'] },
  ];
  const budgets = [{ id: 'host', limit: 4000 * M, current: 800 * M }];
  const calls = (stall: number, frozenB = false) => [
    call('a', 'one', { current: 300 * M, fullStallUs: stall }),
    call('b', 'one', { current: 200 * M, frozen: frozenB }),
    call('c', 'two'),
  ];
  const first = decide({ nowMs: 0, calls: calls(0), sessions, budgets }, EMPTY_STATE, cfg);
  const d = decide({ nowMs: 1000, calls: calls(900_000), sessions, budgets }, first.state, cfg);
  t.same(d.actions, [{ kind: 'freeze', call: 'b', reason: 'its session is full and call a cannot grow' }]);
  const later = decide({ nowMs: 2000, calls: calls(1_800_000, true), sessions, budgets }, d.state, cfg);
  t.notOk(later.actions.some((a) => a.kind === 'thaw'), 'not thawed while the session is still full');
});
