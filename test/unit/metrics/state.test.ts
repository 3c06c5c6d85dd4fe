import t from 'tap';
import { RISE_WINDOW_MS, RiseWatch, stateOf, throttleMargin } from '../../../src/metrics/state.js';
import { Tally } from '../../../src/metrics/tally.js';
import { type CallView, EMPTY_STATE, type LadderState } from '../../../src/policy/ladder.js';
import { memory } from '../../fixtures/snapshot.js';

const MiB = 1 << 20;
const quiet = { stalled: false, highRising: false };

t.test('stateOf: frozen, then throttled by any sign, else running', async (t) => {
  t.equal(stateOf(memory({ frozen: true, current: 64 * MiB, high: 32 * MiB }), { stalled: true, highRising: true }), 'frozen', 'frozen wins');
  t.equal(stateOf(memory({ current: 10 * MiB, high: 64 * MiB }), { stalled: true, highRising: false }), 'throttled', 'the supervisor says stalled');
  t.equal(stateOf(memory({ current: 10 * MiB, high: 64 * MiB }), { stalled: false, highRising: true }), 'throttled', 'memory.events high rising');
  t.equal(stateOf(memory({ current: 64 * MiB - 4096, high: 64 * MiB }), quiet), 'throttled', 'at memory.high');
  t.equal(stateOf(memory({ current: 70 * MiB, high: 64 * MiB }), quiet), 'throttled', 'over memory.high');
  t.equal(stateOf(memory({ current: 62 * MiB, high: 64 * MiB }), quiet), 'running', 'more than the margin below');
  t.equal(stateOf(memory({ current: 10 * MiB, high: 'max' }), quiet), 'running', 'no memory.high');
  t.equal(throttleMargin(16 * MiB), MiB);
  t.equal(throttleMargin(1000 * MiB), 20 * MiB, '2% of a large memory.high');
});

t.test('RiseWatch: rising for a while after the count grows, never on first sight', async (t) => {
  const w = new RiseWatch();
  t.notOk(w.rising('a', 5, 1000), 'first sight has no past');
  t.notOk(w.rising('a', 5, 1500), 'unchanged');
  t.ok(w.rising('a', 6, 2000), 'grew');
  t.ok(w.rising('a', 6, 2000 + RISE_WINDOW_MS), 'still within the window');
  t.notOk(w.rising('a', 6, 2001 + RISE_WINDOW_MS), 'then no longer');
  t.ok(w.rising('a', 9, 60_000), 'a rise between two distant looks counts at the later one');
  w.retain(new Set(['b']));
  t.notOk(w.rising('a', 10, 60_001), 'a forgotten cgroup starts over');
});

const view = (key: string, frozen = false): CallView => ({ key, session: key.split('/')[0]!, current: 0, high: MiB, max: 2 * MiB, fullStallUs: 0, frozen });
const stalledState = (keys: string[]): LadderState => ({ ...EMPTY_STATE, stalledSinceMs: Object.fromEntries(keys.map((k) => [k, 1])) });

t.test('Tally counts actions per call and per container', async (t) => {
  const tally = new Tally();
  tally.noteAction({ kind: 'raise-high', call: 'c1/a', to: 5 }, 0);
  tally.noteAction({ kind: 'raise-high', call: 'c1/a', to: 6 }, 0);
  tally.noteAction({ kind: 'freeze', call: 'c1/b', reason: 'r' }, 0);
  tally.noteAction({ kind: 'thaw', call: 'c1/b' }, 0);
  tally.noteAction({ kind: 'kill', call: 'c2/x', reason: 'r' }, 0);
  tally.noteAction({ kind: 'reclaim', call: 'c1/b', bytes: 64, reason: 'r' }, 0);
  const zero = { frozenMs: 0, reclaims: 0, reclaimedBytes: 0 };
  t.same(tally.call('c1/a'), { freezes: 0, thaws: 0, raises: 2, kills: 0, stalls: 0, stallsResolved: 0, ...zero });
  t.same(tally.call('c1/b'), { freezes: 1, thaws: 1, raises: 0, kills: 0, stalls: 0, stallsResolved: 0, ...zero, reclaims: 1 });
  t.same(tally.container('c1'), { freezes: 1, thaws: 1, raises: 2, kills: 0, stalls: 0, stallsResolved: 0, ...zero, reclaims: 1 });
  t.equal(tally.container('c2').kills, 1);
  tally.container('c1').raises = 99;
  t.equal(tally.container('c1').raises, 2, 'callers get copies');
  tally.forgetContainer('c1');
  t.equal(tally.container('c1').raises, 0);
  t.equal(tally.call('c1/a').raises, 0, "and its calls' counters");
  t.equal(tally.container('c2').kills, 1, 'other containers keep theirs');
});

t.test('Tally: stalls begin and resolve from the ladder decisions', async (t) => {
  const tally = new Tally();
  const calls = [view('c/a'), view('c/b'), view('c/f'), view('c/k')];
  tally.noteDecision(calls, EMPTY_STATE, { actions: [], state: stalledState(['c/a', 'c/b', 'c/f', 'c/k']), watching: true });
  t.equal(tally.container('c').stalls, 4, 'four stalls began');
  tally.noteDecision(calls, stalledState(['c/a', 'c/b', 'c/f', 'c/k']), { actions: [], state: stalledState(['c/a', 'c/b', 'c/f', 'c/k']), watching: true });
  t.equal(tally.container('c').stalls, 4, 'a stall that goes on is not counted again');
  const d = {
    actions: [{ kind: 'freeze' as const, call: 'c/f', reason: 'r' }, { kind: 'kill' as const, call: 'c/k', reason: 'r' }],
    state: { ...stalledState(['c/b']), killed: { 'c/k': 5 } },
    watching: true,
  };
  tally.noteDecision(calls, stalledState(['c/a', 'c/b', 'c/f', 'c/k']), d);
  t.equal(tally.call('c/a').stallsResolved, 1, 'a left the stall and runs on');
  t.equal(tally.call('c/f').stallsResolved, 0, 'frozen is not resolved');
  t.equal(tally.call('c/k').stallsResolved, 0, 'killed is not resolved');
  t.equal(tally.container('c').stallsResolved, 1);
  tally.noteDecision([view('c/b')], stalledState(['c/b']), { actions: [], state: stalledState([]), watching: false });
  t.equal(tally.call('c/a').stalls, 0, 'a call gone from the decision takes its counters');
  t.equal(tally.call('c/b').stallsResolved, 1);
  t.equal(tally.container('c').stallsResolved, 2, 'the container keeps counting');
});

t.test('Tally counts the time a call stood frozen, up to now while the freeze lasts', async (t) => {
  const tally = new Tally();
  tally.noteAction({ kind: 'freeze', call: 'c1/a', reason: 'r' }, 1000);
  t.same(tally.ladderOf('c1/a', 3500), { frozenMs: 2500, reclaimedBytes: 0 }, 'still frozen');
  tally.noteReclaimed('c1/a', 64);
  tally.noteAction({ kind: 'thaw', call: 'c1/a' }, 4000);
  t.same(tally.ladderOf('c1/a', 9000), { frozenMs: 3000, reclaimedBytes: 64 }, 'thawed: the count stops');
  tally.noteAction({ kind: 'freeze', call: 'c1/a', reason: 'r' }, 10_000);
  tally.noteAction({ kind: 'kill', call: 'c1/a', reason: 'r' }, 10_500);
  t.equal(tally.call('c1/a').frozenMs, 3500, 'a kill ends a freeze too');
  t.equal(tally.container('c1').frozenMs, 3500);
  t.same(tally.ladderOf('c1/never', 1), { frozenMs: 0, reclaimedBytes: 0 });
});
