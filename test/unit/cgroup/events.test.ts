// Waiting for cgroup.events on the real file operations, in a temp directory standing in for a
// cgroup: inotify on a file written by hand (cgroupfs notifies the same way, kernfs_notify), the
// blocking poll, and the file operations the kill relies on (no file created by a write, SIGKILL).
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cgroupfs, type FsOps, realFsOps } from '../../../src/cgroup/cgroupfs.js';
import { pollForEvent, waitForEvent } from '../../../src/cgroup/events.js';

function cgroupDir(t: Test, events: string) {
  const root = t.testdir();
  mkdirSync(join(root, 'c'));
  writeFileSync(join(root, 'c/cgroup.events'), events);
  return { root, fs: new Cgroupfs(root, realFsOps), events: join(root, 'c/cgroup.events') };
}

t.test('inotify: a change is seen when it comes, not at the deadline', async (t) => {
  const { fs, events } = cgroupDir(t, 'populated 1\nfrozen 0\n');
  const start = Date.now();
  const waiting = waitForEvent(fs, 'c', 'populated', 0, 20_000);
  setTimeout(() => writeFileSync(events, 'populated 1\nfrozen 1\n'), 20);
  setTimeout(() => writeFileSync(events, 'populated 0\nfrozen 1\n'), 60);
  t.equal(await waiting, true);
  t.ok(Date.now() - start < 5000, `within ${Date.now() - start} ms`);
});

t.test('inotify: a state reached before the watch is armed is seen at once', async (t) => {
  const { fs } = cgroupDir(t, 'populated 0\nfrozen 0\n');
  t.equal(await waitForEvent(fs, 'c', 'populated', 0, 20_000), true);
});

t.test('inotify: never reached is false at the deadline', async (t) => {
  const { fs } = cgroupDir(t, 'populated 1\nfrozen 0\n');
  const start = Date.now();
  t.equal(await waitForEvent(fs, 'c', 'populated', 0, 50), false);
  t.ok(Date.now() - start >= 45, 'not before it');
});

t.test('inotify: a cgroup removed while waited on, or never there, is cgroup-enoent', async (t) => {
  const { root, fs } = cgroupDir(t, 'populated 1\nfrozen 0\n');
  const waiting = waitForEvent(fs, 'c', 'populated', 0, 20_000);
  setTimeout(() => rmSync(join(root, 'c'), { recursive: true }), 20);
  await t.rejects(waiting, { code: 'cgroup-enoent' });
  await t.rejects(waitForEvent(fs, 'gone', 'populated', 0, 20_000), { code: 'cgroup-enoent' });
});

t.test('polled: true once there, false at the deadline', async (t) => {
  const { fs } = cgroupDir(t, 'populated 1\nfrozen 1\n');
  t.equal(pollForEvent(fs, 'c', 'frozen', 1, 1000), true);
  const start = Date.now();
  t.equal(pollForEvent(fs, 'c', 'populated', 0, 40), false);
  t.ok(Date.now() - start >= 35, 'not before the deadline');
});

t.test('a write never creates a file: a missing one (cgroup.kill before 5.14) is cgroup-enoent', async (t) => {
  const { root, fs } = cgroupDir(t, 'populated 1\nfrozen 0\n');
  t.throws(() => fs.write('c', 'cgroup.kill', '1'), { code: 'cgroup-enoent' });
  t.notOk(existsSync(join(root, 'c/cgroup.kill')), 'not created');
  writeFileSync(join(root, 'c/cgroup.freeze'), '0\n');
  fs.write('c', 'cgroup.freeze', '1');
  t.equal(fs.read('c', 'cgroup.freeze'), '1', 'an existing file is replaced by the value');
});

t.test('sigkill: a real process dies; one gone already is no error; 0 and negatives are refused unsent', async (t) => {
  const fs = new Cgroupfs('/nowhere', realFsOps);
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  await new Promise((resolve) => child.on('spawn', resolve));
  fs.sigkill(child.pid!);
  t.equal(await exited, 'SIGKILL');
  t.doesNotThrow(() => fs.sigkill(child.pid!), 'reaped: ESRCH is no news');

  const sent: number[] = [];
  const recording = new Cgroupfs('/nowhere', { ...realFsOps, kill: (pid) => sent.push(pid) } satisfies FsOps);
  for (const pid of [0, -1, 1.5, Number.NaN]) t.throws(() => recording.sigkill(pid), { code: 'bad-pid' }, `pid ${pid}`);
  t.same(sent, [], 'nothing reached kill(2)');
  const refusing = new Cgroupfs('/nowhere', {
    ...realFsOps,
    kill: () => {
      throw Object.assign(new Error('EPERM'), { code: 'EPERM' });
    },
  });
  t.throws(() => refusing.sigkill(4242), { code: 'kill-eperm', message: /cannot kill process 4242/ });
});
