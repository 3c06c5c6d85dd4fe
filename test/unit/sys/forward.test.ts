// The one mapping from a child's end to the status passed on: a shell's 128+N for a signal.
import t from 'tap';
import { shellStatus } from '../../../src/sys/forward.js';
import { exitStatus } from '../../../src/runtime/shim.js';

t.test('an exit code as is, 128+N for signal N, 1 when nothing is known', async (t) => {
  t.equal(shellStatus({ exit: 0, signal: null }), 0);
  t.equal(shellStatus({ exit: 3, signal: null }), 3);
  t.equal(shellStatus({ exit: null, signal: 'SIGKILL' }), 137);
  t.equal(shellStatus({ exit: null, signal: 'SIGTERM' }), 143);
  t.equal(shellStatus({ exit: null, signal: null }), 1);
});

t.test('the runtime shim passes on the same statuses', async (t) => {
  t.equal(exitStatus({ code: 5 }), 5);
  t.equal(exitStatus({ signal: 'SIGKILL' }), 137);
});
