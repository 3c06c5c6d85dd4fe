// nri.enable against the socket: the rule the daemon follows and doctor reports.
import t from 'tap';
import { describeNriStartup, nriStartup } from '../../../src/config/nri.js';

t.test('off, start now, or watch for the socket', async (t) => {
  const table: [Parameters<typeof nriStartup>[0], boolean, string][] = [
    [false, true, 'off'],
    [false, false, 'off'],
    [true, true, 'start'],
    [true, false, 'start'],
    ['auto', true, 'start'],
    ['auto', false, 'watch'],
  ];
  for (const [enable, present, want] of table) t.equal(nriStartup(enable, present), want, `${String(enable)} ${present ? 'with' : 'without'} the socket`);
});

t.test('said in one line each way', async (t) => {
  const lines = [describeNriStartup(false, true), describeNriStartup(true, false), describeNriStartup(true, true), describeNriStartup('auto', false)];
  t.equal(new Set(lines).size, 4, 'four different lines');
  for (const l of lines) t.notMatch(l, /\n/);
});
