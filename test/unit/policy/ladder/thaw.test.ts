import t from 'tap';
import { take } from '../../../../src/policy/ladder/round.js';
import { thaw } from '../../../../src/policy/ladder/thaw.js';
import { M, call, host, round, session, snap } from './fixture.js';

const frozen = (key: string, s: string, current = 100 * M) => call(key, s, { frozen: true, current });
const ours = { frozenSinceMs: { n: 0, l: 0, h: 0, a: 0, b: 0 } };
const noneFull = new Map<string, string>();

t.test('thaw_below: between the marks nothing thaws (hysteresis); below, one call, highest priority first', async (t) => {
  const calls = [call('h', 'high'), frozen('n', 'normal'), frozen('l', 'low')];
  t.equal(thaw(round(snap(0, calls, [host(0.8)]), ours), noneFull), undefined);
  t.same(thaw(round(snap(0, calls, [host(0.5)]), ours), noneFull), { kind: 'thaw', call: 'n' });
});

t.test('at equal priority the smallest thaws first: the reverse of the order in which calls give way', async (t) => {
  const calls = [frozen('a', 'normal', 300 * M), frozen('b', 'normal', 50 * M)];
  t.equal(thaw(round(snap(0, calls, [host(0.5)]), ours), noneFull)?.call, 'b');
});

t.test('only once every budget the call draws from is below the mark', async (t) => {
  const sessions = [session('p', 0, { budgets: ['pool', 'host'] })];
  const calls = [frozen('l', 'p')];
  const short = { id: 'pool', limit: 500 * M, current: 450 * M };
  t.equal(thaw(round(snap(0, calls, [short, host(0.1)], sessions), ours), noneFull), undefined, 'the host having room is not enough');
  const eased = { ...short, current: 200 * M };
  t.equal(thaw(round(snap(0, calls, [eased, host(0.1)], sessions), ours), noneFull)?.call, 'l');
});

t.test('not while its session is above the mark or full for a stalled call of its own', async (t) => {
  const calls = [frozen('l', 'low')];
  const high = [session('low', 0, { max: 400 * M, current: 380 * M })];
  t.equal(thaw(round(snap(0, calls, [host(0.1)], high), ours), noneFull), undefined, 'session at 95% of its memory.max');
  t.equal(thaw(round(snap(0, calls, [host(0.1)]), ours), new Map([['low', 'other']])), undefined, 'its session waits for room for a stalled call');
});

t.test('a call someone else froze is theirs to thaw', async (t) => {
  t.equal(thaw(round(snap(0, [frozen('x', 'low')], [host(0.1)])), noneFull), undefined);
});

t.test('no thaw in a decision that freezes', async (t) => {
  const r = round(snap(0, [call('h', 'high'), call('m', 'normal'), frozen('l', 'low')], [host(0.1)]), ours);
  take(r, { kind: 'freeze', call: 'm', reason: 'its session is full and call h cannot grow' });
  t.equal(thaw(r, noneFull), undefined);
});
