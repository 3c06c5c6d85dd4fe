import t from 'tap';
import { killOver } from '../../../../src/policy/ladder/kill.js';
import { M, call, host, round, session, snap } from './fixture.js';

const REASON = 'host memory at 99% of 1000M and freezing did not relieve it';

t.test('kill_at: the lowest-priority tool call is killed, with the reason', async (t) => {
  const calls = [call('h', 'high', { current: 400 * M }), call('n', 'normal', { current: 300 * M }), call('l', 'low', { current: 10 * M })];
  t.same(killOver(round(snap(0, calls, [host(0.99)])), host(0.99)), { kind: 'kill', call: 'l', reason: REASON });
  t.equal(killOver(round(snap(0, calls, [host(0.97)])), host(0.97)), undefined, 'below the mark: no kill');
});

t.test('at equal priority the call holding the most goes', async (t) => {
  const calls = [call('a', 'normal', { current: 100 * M }), call('b', 'normal', { current: 300 * M })];
  t.equal(killOver(round(snap(0, calls, [host(0.99)])), host(0.99))?.call, 'b');
});

t.test('frozen ones first: a call the ladder froze goes before an equal running one', async (t) => {
  const calls = [call('run', 'low'), call('froze', 'low', { frozen: true })];
  t.equal(killOver(round(snap(0, calls, [host(0.99)]), { frozenSinceMs: { froze: 0 } }), host(0.99))?.call, 'froze');
});

t.test('one at a time: no second victim while the first is still there', async (t) => {
  const calls = [call('gone', 'low'), call('n', 'normal')];
  t.equal(killOver(round(snap(1000, calls, [host(0.99)]), { killed: { gone: 500 } }), host(0.99)), undefined);
  t.equal(killOver(round(snap(1000, [call('n', 'normal')], [host(0.99)]), { killed: { gone: 500 } }), host(0.99))?.call, 'n', 'once it is gone, the next');
});

t.test('a budget kills only calls that draw from it', async (t) => {
  const sessions = [session('a', 0, { budgets: ['pool', 'host'] }), session('b', 0)];
  const pool = { id: 'pool', limit: 200 * M, current: 199 * M };
  const calls = [call('x', 'a', { current: 50 * M }), call('y', 'b', { current: 500 * M })];
  t.equal(killOver(round(snap(0, calls, [pool, host(0.5)], sessions)), pool)?.call, 'x');
});

t.test('a call someone else froze is not the ladder\'s to kill; with nothing else, nothing is killed', async (t) => {
  const paused = call('p', 'low', { frozen: true, current: 900 * M });
  t.equal(killOver(round(snap(0, [paused, call('n', 'normal')], [host(0.99)])), host(0.99))?.call, 'n');
  t.equal(killOver(round(snap(0, [paused], [host(0.99)])), host(0.99)), undefined);
});
