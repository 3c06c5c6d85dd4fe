import t from 'tap';
import { DEFAULT_FLAGS, parseFlags } from '../../chaos/options.js';

t.test('defaults: at least 200 cycles', async (t) => {
  t.same(parseFlags([]), DEFAULT_FLAGS);
  t.ok(DEFAULT_FLAGS.cycles >= 200);
});

t.test('flags override', async (t) => {
  t.same(parseFlags(['--seed', '9', '--cycles', '300', '--concurrency', '2']), { cycles: 300, seed: 9, concurrency: 2, front: false, schedExt: false, daemonKillPercent: 9 });
  t.same(parseFlags(['--front', '--cycles', '30']), { ...DEFAULT_FLAGS, cycles: 30, front: true }, '--front takes no value');
  t.same(parseFlags(['--sched-ext', '--cycles', '8']), { ...DEFAULT_FLAGS, cycles: 8, schedExt: true }, '--sched-ext takes no value');
  t.same(parseFlags(['--cycles', '8', '--sched-ext', '--front']), { ...DEFAULT_FLAGS, cycles: 8, schedExt: true, front: true }, 'in any order');
  t.notOk(DEFAULT_FLAGS.schedExt, 'off unless asked for');
  t.equal(DEFAULT_FLAGS.daemonKillPercent, 9, "the plan's own share of daemon kills");
  t.same(parseFlags(['--sched-ext', '--daemon-kill-percent', '40']), { ...DEFAULT_FLAGS, schedExt: true, daemonKillPercent: 40 });
});

t.test('bad input names the flag', async (t) => {
  t.throws(() => parseFlags(['--cycles']), /--cycles: expected a positive integer, got ""/);
  t.throws(() => parseFlags(['--cycles', '1.5']), /--cycles/);
  t.throws(() => parseFlags(['--seed', '0']), /--seed/);
  t.throws(() => parseFlags(['--cylces', '3']), /unknown option --cylces \(.*--sched-ext, --daemon-kill-percent\)/);
  t.throws(() => parseFlags(['--sched_ext']), /unknown option --sched_ext/);
  t.throws(() => parseFlags(['--daemon-kill-percent', '100']), /--daemon-kill-percent: expected an integer from 1 to 99, got "100"/);
  t.throws(() => parseFlags(['--daemon-kill-percent']), /--daemon-kill-percent: expected an integer from 1 to 99, got ""/);
});
