// Our state directories as found at a start: a real directory, root's, writable by nobody else, from
// the run dir (or call log dir) down; read bits tightened, anything worse refused in one line. And no
// record is written through a symlink planted where a temporary file (or the record) would go.
import t, { type Test } from 'tap';
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { cutOffRecord } from '../../../src/exec/record.js';
import { ensurePrivateDir, judgeDir } from '../../../src/state/files.js';
import { type RunningCall, StateStore } from '../../../src/state/records.js';

const mode = (p: string) => statSync(p).mode & 0o7777;
const asRoot = { skip: process.geteuid?.() !== 0 && 'needs root to chown' };

t.test('judgeDir: owner and write bits refuse, read bits tighten', async (t) => {
  t.same(judgeDir({ uid: 0, mode: 0o40700 }, 0), { ok: true, tighten: false });
  t.same(judgeDir({ uid: 0, mode: 0o40755 }, 0), { ok: true, tighten: true });
  t.same(judgeDir({ uid: 1000, mode: 0o40700 }, 1000), { ok: true, tighten: false }, 'our own, unprivileged');
  t.same(judgeDir({ uid: 1000, mode: 0o40700 }, 0), { ok: false, problem: 'owned by uid 1000, not root' });
  t.same(judgeDir({ uid: 0, mode: 0o40770 }, 0), { ok: false, problem: 'mode 0770 lets others than its owner write in it' });
  t.same(judgeDir({ uid: 0, mode: 0o41777 }, 0), { ok: false, problem: 'mode 1777 lets others than its owner write in it' }, 'sticky is no help');
  t.same(judgeDir({ uid: 0, mode: 0o40702 }, 0), { ok: false, problem: 'mode 0702 lets others than its owner write in it' });
});

t.test('a missing directory is made 0700 whatever the umask, with its parents', async (t) => {
  const old = process.umask(0);
  t.teardown(() => process.umask(old));
  const run = join(t.testdir(), 'run');
  ensurePrivateDir(join(run, 'calls', 'c1'), run);
  for (const p of [run, join(run, 'calls'), join(run, 'calls', 'c1')]) t.equal(mode(p), 0o700, p);
});

t.test('an existing directory others may only read is tightened to 0700', async (t) => {
  const dir = t.testdir({ run: {} });
  const run = join(dir, 'run');
  chmodSync(run, 0o755);
  ensurePrivateDir(run);
  t.equal(mode(run), 0o700);
});

/** ensurePrivateDir's refusal: one line naming the path and the problem. */
function refused(t: Test, fn: () => void, path: string, problem: RegExp) {
  t.throws(fn, { code: 'unsafe-dir' });
  try {
    fn();
  } catch (err) {
    const msg = (err as Error).message;
    t.ok(msg.startsWith(`${path}: `), `names ${path}: ${msg}`);
    t.match(msg, problem);
    t.notMatch(msg, /\n/, 'one line');
  }
}

t.test('writable by others: refused, the mode left as found', async (t) => {
  for (const m of [0o775, 0o777, 0o1777, 0o757]) {
    const run = join(t.testdir(), `run-${m.toString(8)}`);
    mkdirSync(run);
    chmodSync(run, m);
    refused(t, () => ensurePrivateDir(run), run, /lets others than its owner write in it/);
    t.equal(mode(run), m, `${m.toString(8)} untouched`);
  }
});

t.test("another user's directory: refused", asRoot, async (t) => {
  const run = join(t.testdir(), 'run');
  mkdirSync(run, { mode: 0o700 });
  chownSync(run, 4242, 4242);
  refused(t, () => ensurePrivateDir(run), run, /owned by uid 4242, not root/);
});

t.test('a symlink (even to a fine directory) or a file in its place: refused, the target untouched', async (t) => {
  const dir = t.testdir({ elsewhere: {}, file: 'x' });
  chmodSync(join(dir, 'elsewhere'), 0o755);
  symlinkSync(join(dir, 'elsewhere'), join(dir, 'run'));
  refused(t, () => ensurePrivateDir(join(dir, 'run')), join(dir, 'run'), /a symlink, not a directory/);
  t.equal(mode(join(dir, 'elsewhere')), 0o755, 'not tightened through the link');
  refused(t, () => ensurePrivateDir(join(dir, 'run', 'calls'), join(dir, 'run')), join(dir, 'run'), /a symlink/);
  t.same(readdirSync(join(dir, 'elsewhere')), [], 'nothing made through the link');
  refused(t, () => ensurePrivateDir(join(dir, 'file')), join(dir, 'file'), /not a directory/);
});

t.test('every directory from the root down is judged; the ones above the root are not', async (t) => {
  const dir = t.testdir({ run: { calls: {} } });
  const run = join(dir, 'run');
  chmodSync(dir, 0o777); // the operator's: /run, /var/lib
  chmodSync(run, 0o777);
  refused(t, () => ensurePrivateDir(join(run, 'calls', 'c1'), run), run, /write/);
  chmodSync(run, 0o700);
  chmodSync(join(run, 'calls'), 0o777);
  refused(t, () => ensurePrivateDir(join(run, 'calls', 'c1'), run), join(run, 'calls'), /write/);
  chmodSync(join(run, 'calls'), 0o700);
  ensurePrivateDir(join(run, 'calls', 'c1'), run);
  t.equal(mode(join(run, 'calls', 'c1')), 0o700);
  t.throws(() => ensurePrivateDir(dir, run), /is not under/);
});

const call: RunningCall = { callId: 'pytest-1', name: 'pytest', argv: ['pytest'], cgroup: '/c/tools/pytest-1', start: '2026-01-01T00:00:00.000Z', limits: { high: 1, max: 2 }, owner: 'daemon' };

t.test('a record is never written through a symlink planted where its temporary file would go', async (t) => {
  const dir = t.testdir({ victim: 'host file\n' });
  const store = new StateStore(join(dir, 'run'), join(dir, 'calls'));
  const marker = join(store.callsDir('c'), 'pytest-1.json');
  ensurePrivateDir(store.callsDir('c'), store.runDir);
  // The name the temporary file had before it was random.
  symlinkSync(join(dir, 'victim'), `${marker}.${process.pid}.tmp`);
  store.markRunning('c', call);
  t.equal(readFileSync(join(dir, 'victim'), 'utf8'), 'host file\n');
  t.same(JSON.parse(readFileSync(marker, 'utf8')), call);
  t.ok(lstatSync(marker).isFile());
});

t.test("a symlink in a reason file's place is replaced; in a call log's, refused", async (t) => {
  const dir = t.testdir({ victim: 'host file\n' });
  const victim = join(dir, 'victim');
  const store = new StateStore(join(dir, 'run'), join(dir, 'calls'));
  store.markRunning('c', call);
  symlinkSync(victim, store.reasonFile('c', 'pytest-1'));
  store.writeReason('c', 'pytest-1', 'memory.max hit 3 times');
  t.equal(readFileSync(store.reasonFile('c', 'pytest-1'), 'utf8'), 'memory.max hit 3 times');
  ensurePrivateDir(store.callLogDir);
  symlinkSync(victim, store.callLog('c'));
  t.throws(() => store.appendCall('c', cutOffRecord('c', call, new Date())), { code: 'ELOOP' });
  t.equal(readFileSync(victim, 'utf8'), 'host file\n');
});

t.test('a reason file is not written once its call directory is gone (its container went)', async (t) => {
  const store = new StateStore(join(t.testdir(), 'run'), join(t.testdir(), 'calls'));
  t.throws(() => store.writeReason('gone', 'pytest-1', 'x'), { code: 'ENOENT' });
});

t.test('the state store checks its roots: a run dir that is a symlink, a world-writable call log dir', async (t) => {
  const dir = t.testdir({ elsewhere: {}, calls: {} });
  symlinkSync(join(dir, 'elsewhere'), join(dir, 'run'));
  const store = new StateStore(join(dir, 'run'), join(dir, 'calls'));
  refused(t, () => store.ensureDirs(), join(dir, 'run'), /symlink/);
  refused(t, () => store.markRunning('c', call), join(dir, 'run'), /symlink/);
  const fine = new StateStore(join(dir, 'run2'), join(dir, 'calls'));
  chmodSync(join(dir, 'calls'), 0o777);
  refused(t, () => fine.ensureDirs(), join(dir, 'calls'), /write/);
  chmodSync(join(dir, 'calls'), 0o755);
  fine.ensureDirs();
  t.same([mode(fine.runDir), mode(join(fine.runDir, 'containers')), mode(fine.callLogDir)], [0o700, 0o700, 0o700]);
});
