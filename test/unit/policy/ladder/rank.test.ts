import t from 'tap';
import { rankVictims } from '../../../../src/policy/ladder/rank.js';
import { M, call } from './fixture.js';

const PRIORITY: Record<string, number> = { low: 0, normal: 1, high: 2 };
const prio = (c: { session: string }) => PRIORITY[c.session]!;
const keys = (cs: { key: string }[]) => cs.map((c) => c.key);

t.test('lower priority gives way first, whatever it holds', async (t) => {
  const ranked = rankVictims([call('h', 'high', { current: 10 * M }), call('l', 'low', { current: 1 * M }), call('n', 'normal', { current: 900 * M })], prio);
  t.same(keys(ranked), ['l', 'n', 'h']);
});

t.test('at equal priority the call holding the most gives way first: a kill frees the most', async (t) => {
  const ranked = rankVictims([call('small', 'normal', { current: 50 * M }), call('big', 'normal', { current: 400 * M }), call('mid', 'normal', { current: 200 * M })], prio);
  t.same(keys(ranked), ['big', 'mid', 'small']);
});

t.test('full ties keep the order given, and the input is left alone', async (t) => {
  const calls = [call('a', 'normal'), call('b', 'normal'), call('c', 'low')];
  t.same(keys(rankVictims(calls, prio)), ['c', 'a', 'b']);
  t.same(keys(calls), ['a', 'b', 'c']);
});

t.test('priority is whatever the caller says (effective priority, dependencies included)', async (t) => {
  const lifted = (c: { key: string }) => (c.key === 'db' ? 2 : 0);
  t.same(keys(rankVictims([call('db', 'low'), call('x', 'low')], lifted)), ['x', 'db']);
});

t.test('nothing to rank is an empty order', async (t) => {
  t.same(rankVictims([], prio), []);
});
