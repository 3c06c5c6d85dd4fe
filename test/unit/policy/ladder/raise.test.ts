import t from 'tap';
import type { LadderState } from '../../../../src/policy/ladder.js';
import { raises } from '../../../../src/policy/ladder/raise.js';
import { M, call, host, round, session, snap } from './fixture.js';

/** Looked at at `atMs` without a stall: a call stalled now has been stalled since then. */
const lookedAt = (atMs: number): Partial<LadderState> => ({ seen: { a: { fullStallUs: 0, atMs } } });
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
