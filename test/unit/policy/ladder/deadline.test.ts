import t from 'tap';
import { deadlines } from '../../../../src/policy/ladder/deadline.js';
import { call, round, snap } from './fixture.js';

t.test('deadline: a call the ladder froze this long is ended, with the reason', async (t) => {
  const calls = [call('f', 'low', { frozen: true }), call('h', 'high')];
  t.same(deadlines(round(snap(30_000, calls), { frozenSinceMs: { f: 0 } })), [
    { kind: 'kill', call: 'f', reason: 'frozen for 30 s (limit 30 s) while memory was short' },
  ]);
  t.same(deadlines(round(snap(29_999, calls), { frozenSinceMs: { f: 0 } })), [], 'not before');
});

t.test('deadline: a call stalled without progress this long is ended, with the reason', async (t) => {
  const s = call('s', 'normal', { fullStallUs: 45_000_000 });
  const state = { seen: { s: { fullStallUs: 44_100_000, atMs: 44_000 } }, stalledSinceMs: { s: 10_000 } };
  t.same(deadlines(round(snap(45_000, [s]), state)), [{ kind: 'kill', call: 's', reason: 'throttled at memory.high for 35 s (limit 30 s) without progress' }]);
  const moving = { ...s, fullStallUs: 44_200_000 };
  t.same(deadlines(round(snap(45_000, [moving]), state)), [], 'progress at the last look ends the stall, and the clock with it');
});

t.test('a call killed earlier and not gone yet is not ended again', async (t) => {
  t.same(deadlines(round(snap(60_000, [call('f', 'low', { frozen: true })]), { frozenSinceMs: { f: 0 }, killed: { f: 31_000 } })), []);
});

t.test('every call past its deadline goes in the same decision', async (t) => {
  const calls = [call('a', 'low', { frozen: true }), call('b', 'normal', { frozen: true })];
  t.same(
    deadlines(round(snap(40_000, calls), { frozenSinceMs: { a: 0, b: 5_000 } })).map((a) => a.call),
    ['a', 'b'],
  );
});
