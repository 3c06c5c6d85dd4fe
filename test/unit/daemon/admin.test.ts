import t from 'tap';
import { ADMIN_VERSION, adminRequestLine, answerAdmin } from '../../../src/daemon/admin.js';
import { sampleSnapshot } from '../../fixtures/snapshot.js';

const src = { pid: 42, snapshot: () => sampleSnapshot() };

t.test('each op answers in its own shape', async (t) => {
  t.same(answerAdmin(adminRequestLine('ping'), src), { v: 1, ok: true, pid: 42, version: ADMIN_VERSION });
  const snap = await answerAdmin(adminRequestLine('snapshot'), src);
  t.ok(snap.ok && 'containers' in snap && snap.containers[0]?.framework.length === 2, 'the snapshot, with what was taken for the framework');
  const metrics = await answerAdmin(adminRequestLine('metrics'), src);
  t.match(metrics.ok && 'text' in metrics ? metrics.text : '', /^# HELP /);
});

t.test('bad requests get one line, never a throw', async (t) => {
  t.same(answerAdmin('{', src), { v: 1, ok: false, error: 'not JSON' });
  t.same(answerAdmin('{"op":"status"}', src), { v: 1, ok: false, error: 'unknown op "status": one of ping, snapshot, metrics' });
  t.same(answerAdmin('{}', src), { v: 1, ok: false, error: 'unknown op undefined: one of ping, snapshot, metrics' });
  const failing = { pid: 1, snapshot: () => { throw new Error('EIO: cgroup vanished'); } };
  t.same(answerAdmin(adminRequestLine('snapshot'), failing), { v: 1, ok: false, error: 'EIO: cgroup vanished' });
});
