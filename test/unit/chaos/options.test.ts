import t from 'tap';
import { DEFAULT_FLAGS, parseFlags } from '../../chaos/options.js';

t.test('defaults: at least 200 cycles', async (t) => {
  t.same(parseFlags([]), DEFAULT_FLAGS);
  t.ok(DEFAULT_FLAGS.cycles >= 200);
});

t.test('flags override', async (t) => {
  t.same(parseFlags(['--seed', '9', '--cycles', '300', '--concurrency', '2']), { cycles: 300, seed: 9, concurrency: 2, front: false });
  t.same(parseFlags(['--front', '--cycles', '30']), { ...DEFAULT_FLAGS, cycles: 30, front: true }, '--front takes no value');
});

t.test('bad input names the flag', async (t) => {
  t.throws(() => parseFlags(['--cycles']), /--cycles: expected a positive integer, got ""/);
  t.throws(() => parseFlags(['--cycles', '1.5']), /--cycles/);
  t.throws(() => parseFlags(['--seed', '0']), /--seed/);
  t.throws(() => parseFlags(['--cylces', '3']), /unknown option --cylces/);
});
