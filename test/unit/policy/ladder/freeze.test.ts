import t from 'tap';
import { freezeInSession, freezeUnder } from '../../../../src/policy/ladder/freeze.js';
import { take } from '../../../../src/policy/ladder/round.js';
import { M, call, host, round, session, snap } from './fixture.js';

const none = new Set<string>();

t.test('freeze_at: one call of the lowest priority is frozen, with the reason', async (t) => {
  const calls = [call('h', 'high'), call('n', 'normal'), call('l', 'low')];
  t.same(freezeUnder(round(snap(0, calls, [host(0.92)])), host(0.92), none), { kind: 'freeze', call: 'l', reason: 'host memory at 92% of 1000M' });
  t.equal(freezeUnder(round(snap(0, calls, [host(0.85)])), host(0.85), none), undefined, 'below the mark: nothing');
});

t.test('below freeze_at, a budget too short for a stalled call\'s raise freezes too', async (t) => {
  const calls = [call('n', 'normal'), call('l', 'low')];
  t.equal(freezeUnder(round(snap(0, calls, [host(0.5)])), host(0.5), new Set(['host']))?.call, 'l');
});

t.test('frozen calls are not frozen again: the next lowest is', async (t) => {
  const calls = [call('h', 'high'), call('n', 'normal'), call('l', 'low', { frozen: true })];
  t.equal(freezeUnder(round(snap(0, calls, [host(0.93)]), { frozenSinceMs: { l: 0 } }), host(0.93), none)?.call, 'n');
});

t.test('never the last running call under a budget: something must finish and free memory', async (t) => {
  const calls = [call('h', 'high'), call('n', 'normal', { frozen: true }), call('l', 'low', { frozen: true })];
  t.equal(freezeUnder(round(snap(0, calls, [host(0.99)])), host(0.99), none), undefined);
});

t.test('the top priority is never frozen while a lower one runs, however small the lower one is', async (t) => {
  const calls = [call('h', 'high', { current: 800 * M }), call('l', 'low', { current: 1 * M })];
  t.equal(freezeUnder(round(snap(0, calls, [host(0.95)])), host(0.95), none)?.call, 'l');
});

t.test('at equal priority the largest runs on, to finish and free the most', async (t) => {
  const calls = [call('big', 'normal', { current: 400 * M }), call('small', 'normal', { current: 50 * M })];
  t.equal(freezeUnder(round(snap(0, calls, [host(0.95)])), host(0.95), none)?.call, 'small');
});

t.test('a budget freezes only calls that draw from it', async (t) => {
  const sessions = [session('a1', 0, { budgets: ['pool', 'host'] }), session('a2', 2, { budgets: ['pool', 'host'] }), session('b1', 0)];
  const pool = { id: 'pool', limit: 500 * M, current: 480 * M };
  const calls = [call('z', 'b1'), call('x', 'a1'), call('y', 'a2')];
  t.equal(freezeUnder(round(snap(0, calls, [pool, host(0.3)], sessions)), pool, none)?.call, 'x');
});

t.test('a call already acted on in this decision is left to that action', async (t) => {
  const r = round(snap(0, [call('h', 'high'), call('l', 'low')], [host(0.95)]));
  take(r, { kind: 'raise-high', call: 'l', to: 400 * M });
  t.equal(freezeUnder(r, host(0.95), none), undefined);
});

t.test('a session too full for its stalled call freezes another call of that session, not a neighbour', async (t) => {
  const sessions = [session('one', 1, { max: 600 * M, current: 590 * M }), session('two', 0)];
  const calls = [call('a', 'one', { current: 300 * M }), call('c', 'two'), call('b', 'one', { current: 200 * M })];
  t.same(freezeInSession(round(snap(0, calls, [host(0.5)], sessions)), 'one', 'a'), { kind: 'freeze', call: 'b', reason: 'its session is full and call a cannot grow' });
  t.equal(freezeInSession(round(snap(0, calls.slice(0, 2), [host(0.5)], sessions)), 'one', 'a'), undefined, 'no other call in the session: nothing');
});

t.test('the reason names the stalled call by its id, without its container', async (t) => {
  const calls = [call('ctr/a', 'one'), call('ctr/b', 'one')];
  const a = freezeInSession(round(snap(0, calls, [host(0.5)], [session('one', 1)])), 'one', 'ctr/a');
  t.match(a?.kind === 'freeze' ? a.reason : '', /call a cannot grow$/);
});
