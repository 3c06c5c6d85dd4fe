import t from 'tap';
import { EMPTY_STATE, type LadderState } from '../../../../src/policy/ladder.js';
import { raises, stalledSince } from '../../../../src/policy/ladder/stall.js';
import { M, call, cfg, host, round, session, snap } from './fixture.js';


const lookedAt = (atMs: number, fullStallUs = 0): Partial<LadderState> => ({ seen: { a: { fullStallUs, atMs } } });

t.test('stall_ratio: a call fully stalled for that share of the interval since the last look makes no progress', async (t) => {
  const prev = { ...EMPTY_STATE, ...lookedAt(0) };
  t.equal(stalledSince(call('a', 'normal', { fullStallUs: 500_000 }), prev, 1000, cfg), 0, 'half of 1 s at 50%: stalled since the last look');
  t.equal(stalledSince(call('a', 'normal', { fullStallUs: 400_000 }), prev, 1000, cfg), undefined, 'a little stall is progress');
  t.equal(stalledSince(call('a', 'normal', { fullStallUs: 5_000_000 }), EMPTY_STATE, 1000, cfg), undefined, 'no earlier look: no interval to judge');
  t.equal(stalledSince(call('a', 'normal', { fullStallUs: 900_000, frozen: true }), prev, 1000, cfg), undefined, 'a frozen call waits on the freeze, not on memory.high');
});

t.test('a stall that goes on keeps the time it began', async (t) => {
  const prev: LadderState = { ...EMPTY_STATE, seen: { a: { fullStallUs: 900_000, atMs: 1000 } }, stalledSinceMs: { a: 0 } };
  t.equal(stalledSince(call('a', 'normal', { fullStallUs: 1_800_000 }), prev, 2000, cfg), 0);
});

const stalled = (over: Parameters<typeof call>[2] = {}) => call('a', 'normal', { fullStallUs: 900_000, ...over });

t.test('raise_step: a stalled call gets memory.high raised by that share of its memory.max', async (t) => {
  t.same(raises(round(snap(1000, [stalled()]), lookedAt(0))).actions, [{ kind: 'raise-high', call: 'a', to: 350 * M }]);
  t.same(raises(round(snap(1000, [call('a', 'normal')]), lookedAt(0))).actions, [], 'not stalled: nothing');
});

t.test('the raise stops at memory.max; at memory.max, or with no memory.high, there is nothing to raise', async (t) => {
  t.same(raises(round(snap(1000, [stalled({ high: 480 * M })]), lookedAt(0))).actions, [{ kind: 'raise-high', call: 'a', to: 500 * M }]);
  const atMax = raises(round(snap(1000, [stalled({ high: 500 * M })]), lookedAt(0)));
  t.same([atMax.actions, [...atMax.shortBudgets], [...atMax.fullSessions]], [[], [], []], 'nobody else has to give way for it either');
  t.same(raises(round(snap(1000, [stalled({ high: 'max' })]), lookedAt(0))).actions, []);
});

t.test('no raise beyond the room of the session: the session is named as full', async (t) => {
  const sessions = [session('normal', 1, { max: 600 * M, current: 590 * M })];
  const r = raises(round(snap(1000, [stalled()], [host(0.3)], sessions), lookedAt(0)));
  t.same(r.actions, []);
  t.same([...r.fullSessions], [['normal', 'a']]);
  t.same([...r.shortBudgets], []);
});

t.test('no raise beyond the room of any budget above: each short budget is named', async (t) => {
  const tight = raises(round(snap(1000, [stalled()], [host(0.97)]), lookedAt(0)));
  t.same(tight.actions, [], '30M of room for a 50M step');
  t.same([...tight.shortBudgets], ['host']);
  const sessions = [session('normal', 1, { budgets: ['pool', 'host'] })];
  const pool = { id: 'pool', limit: 400 * M, current: 380 * M };
  const inPool = raises(round(snap(1000, [stalled()], [pool, host(0.3)], sessions), lookedAt(0)));
  t.same(inPool.actions, []);
  t.same([...inPool.shortBudgets], ['pool'], 'the host has room; only the pool is short');
});
