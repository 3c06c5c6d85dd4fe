import t from 'tap';
import { EMPTY_STATE, type LadderState } from '../../../../src/policy/ladder.js';
import { stalledSince } from '../../../../src/policy/ladder/stall.js';
import { call, cfg } from './fixture.js';

t.test('stall_ratio: a call fully stalled for that share of the interval since the last look makes no progress', async (t) => {
  const prev: LadderState = { ...EMPTY_STATE, seen: { a: { fullStallUs: 0, atMs: 0 } } };
  t.equal(stalledSince(call('a', 'normal', { fullStallUs: 500_000 }), prev, 1000, cfg), 0, 'half of 1 s at 50%: stalled since the last look');
  t.equal(stalledSince(call('a', 'normal', { fullStallUs: 400_000 }), prev, 1000, cfg), undefined, 'a little stall is progress');
  t.equal(stalledSince(call('a', 'normal', { fullStallUs: 5_000_000 }), EMPTY_STATE, 1000, cfg), undefined, 'no earlier look: no interval to judge');
  t.equal(stalledSince(call('a', 'normal', { fullStallUs: 900_000, frozen: true }), prev, 1000, cfg), undefined, 'a frozen call waits on the freeze, not on memory.high');
});

t.test('a stall that goes on keeps the time it began', async (t) => {
  const prev: LadderState = { ...EMPTY_STATE, seen: { a: { fullStallUs: 900_000, atMs: 1000 } }, stalledSinceMs: { a: 0 } };
  t.equal(stalledSince(call('a', 'normal', { fullStallUs: 1_800_000 }), prev, 2000, cfg), 0);
});
