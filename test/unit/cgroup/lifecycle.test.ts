// Killing a cgroup on both kernels: through cgroup.kill (Linux 5.14 and later), or before it frozen,
// each process sent SIGKILL, thawed. The blocking forms serve the hook; the daemon's forms wait on the
// kernel's own notifications and leave its thread free meanwhile, however long the processes take.
import t from 'tap';
import { Cgroupfs } from '../../../src/cgroup/cgroupfs.js';
import { killAndRemove, killAndRemoveAsync, killCgroup, pidsBelow } from '../../../src/cgroup/lifecycle.js';
import { AgentcgroupError } from '../../../src/errors.js';
import { FakeKernel, type KernelOptions } from '../../fixtures/fakekernel.js';

const KERNELS: [string, KernelOptions][] = [
  ['with cgroup.kill', {}],
  ['without cgroup.kill (before 5.14)', { cgroupKill: false }],
];

/** A cgroup `c` with a process, a child cgroup `c/sub` with two more. */
function world(options: KernelOptions) {
  const kernel = new FakeKernel('/cg', undefined, options);
  const fs = new Cgroupfs('/cg', kernel);
  fs.create('c');
  fs.create('c/sub');
  kernel.spawnAt('c', 101);
  kernel.spawnAt('c/sub', 102);
  kernel.spawnAt('c/sub', 103);
  kernel.spawnAt('', 1);
  kernel.log.length = 0;
  return { kernel, fs };
}

/** The promise's outcome, or 'pending' if it has not settled after `ms`. */
async function within<T>(ms: number, p: Promise<T>): Promise<T | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'pending'>((resolve) => (timer = setTimeout(() => resolve('pending'), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether `p` has settled by the time the event loop has turned for `ms`: the caller's thread ran meanwhile. */
function tracked<T>(p: Promise<T>) {
  const state = { settled: false };
  p.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}

const codeOf = (err: unknown) => (err instanceof AgentcgroupError ? err.code : String(err));

t.test('the kill goes through cgroup.kill where there is one, else freeze, SIGKILL each process, thaw', async (t) => {
  const withKill = world({});
  killAndRemove(withKill.fs, 'c/sub');
  t.same(withKill.kernel.log, ['write c/sub/cgroup.kill 1'], 'one write, no signal');

  const without = world({ cgroupKill: false });
  killAndRemove(without.fs, 'c/sub');
  t.same(
    without.kernel.log,
    ['write c/sub/cgroup.kill 1', 'write c/sub/cgroup.freeze 1', 'kill 102', 'kill 103', 'write c/sub/cgroup.freeze 0'],
    'cgroup.kill tried (ENOENT), then frozen before the pids are read and signalled, thawed after',
  );
  for (const w of [withKill, without]) {
    t.notOk(w.kernel.isDir('/cg/c/sub'), 'removed');
    t.equal(w.kernel.whereIs(101), 'c', 'nothing outside it is touched');
    t.equal(w.kernel.whereIs(1), '', 'nor anything above');
  }
});

t.test('without cgroup.kill, the cgroups below are killed too, and a pid outside our namespace (0) is never signalled', async (t) => {
  const { kernel, fs } = world({ cgroupKill: false });
  kernel.spawnAt('c/sub', 0);
  t.same(pidsBelow(fs, 'c').sort(), [101, 102, 103]);
  await killCgroup(fs, 'c');
  t.same(kernel.log.filter((l) => l.startsWith('kill')).sort(), ['kill 101', 'kill 102', 'kill 103']);
  t.equal(kernel.readFile('/cg/c/cgroup.freeze'), '0\n', 'thawed');
});

t.test('a cgroup that is gone is not a kernel without cgroup.kill', async (t) => {
  const { kernel, fs } = world({});
  t.throws(() => killAndRemove(fs, 'c/nope'), { code: 'cgroup-enoent' });
  await t.rejects(killAndRemoveAsync(fs, 'c/nope'), { code: 'cgroup-enoent' });
  await t.rejects(killCgroup(fs, 'c/nope'), { code: 'cgroup-enoent' });
  t.same(kernel.log.filter((l) => !l.startsWith('write c/nope/cgroup.kill')), [], 'no freeze, no signal');
});

for (const [name, options] of KERNELS) {
  t.test(`${name}: the daemon's form waits for the processes to die without blocking, then removes the cgroup`, async (t) => {
    const { kernel, fs } = world({ ...options, slowDeaths: true });
    const done = killAndRemoveAsync(fs, 'c/sub');
    const state = tracked(done);
    // Were the wait a blocking one, this timer could only fire after it had given up.
    await new Promise((resolve) => setTimeout(resolve, 30));
    t.equal(state.settled, false, 'still waiting, and the thread ran on');
    t.same(kernel.pendingDeaths, [102, 103], 'both were sent SIGKILL');
    t.ok(kernel.isDir('/cg/c/sub'), 'not removed while populated');
    t.equal(kernel.watching, 1, 'waiting on a watch of cgroup.events');
    kernel.reap();
    t.equal(await within(2000, done), undefined, 'done as soon as the kernel says the cgroup is empty');
    t.notOk(kernel.isDir('/cg/c/sub'), 'removed');
    t.equal(kernel.watching, 0, 'the watch is closed');
  });

  t.test(`${name}: processes that already died before the watch was armed are seen at once`, async (t) => {
    // Deaths are immediate here and tell no watch (none exists yet): only the look after arming sees them.
    const { kernel, fs } = world(options);
    t.equal(await within(2000, killAndRemoveAsync(fs, 'c/sub')), undefined);
    t.notOk(kernel.isDir('/cg/c/sub'));
    t.equal(kernel.watching, 0);
  });

  t.test(`${name}: processes that never die end the wait at the deadline, the cgroup kept and thawed`, async (t) => {
    const { kernel, fs } = world({ ...options, slowDeaths: true });
    await t.rejects(killAndRemoveAsync(fs, 'c/sub', 50), { code: 'cgroup-timeout', message: /did not empty after being killed within 50 ms/ });
    t.ok(kernel.isDir('/cg/c/sub'), 'kept: rmdir would fail');
    t.equal(kernel.readFile('/cg/c/sub/cgroup.freeze'), '0\n', 'not left frozen');
    t.equal(kernel.watching, 0, 'the watch is closed');
    t.throws(() => killAndRemove(fs, 'c/sub', 50), { code: 'cgroup-timeout' }, 'the blocking form gives up too');
  });

  t.test(`${name}: a cgroup removed by someone else while we wait is cgroup-enoent`, async (t) => {
    const { kernel, fs } = world({ ...options, slowDeaths: true });
    const done = killAndRemoveAsync(fs, 'c/sub');
    await new Promise((resolve) => setImmediate(resolve));
    kernel.reap();
    kernel.rmdir('/cg/c/sub');
    const err = await done.then(() => undefined, (e: unknown) => e);
    t.equal(codeOf(err), 'cgroup-enoent', 'the finalizers take this as gone already');
    t.equal(kernel.watching, 0);
  });

  t.test(`${name}: killCgroup, for the supervisor, resolves once the signals are sent`, async (t) => {
    const { kernel, fs } = world({ ...options, slowDeaths: true });
    t.equal(await within(2000, killCgroup(fs, 'c')), undefined, 'without waiting for the deaths');
    t.same(kernel.pendingDeaths, [101, 102, 103], 'everything in c and below');
    t.ok(kernel.isDir('/cg/c/sub'), 'nothing removed');
    t.equal(kernel.readFile('/cg/c/cgroup.freeze'), '0\n', 'not left frozen');
  });
}

t.test('without cgroup.kill, a failure while frozen still thaws, and says what failed', async (t) => {
  const { kernel, fs } = world({ cgroupKill: false, slowDeaths: true });
  kernel.failures.set('c/cgroup.events', 'EIO');
  await t.rejects(killCgroup(fs, 'c'), { code: 'cgroup-eio' });
  t.same(kernel.log, ['write c/cgroup.kill 1', 'write c/cgroup.freeze 1', 'write c/cgroup.freeze 0'], 'no signal sent before the freeze showed; thawed');
});

t.test('without cgroup.kill, a thaw that fails too is reported with the first failure', async (t) => {
  const { kernel, fs } = world({ cgroupKill: false });
  kernel.failures.set('c/cgroup.events', 'EIO');
  const write = kernel.writeFile.bind(kernel);
  kernel.writeFile = (path, data) => {
    if (path.endsWith('/cgroup.freeze') && data === '0') throw Object.assign(new Error('EBUSY'), { code: 'EBUSY' });
    write(path, data);
  };
  await t.rejects(killCgroup(fs, 'c'), { code: 'thaw-failed', message: /cgroup\.events.*; thaw also failed: .*cgroup\.freeze/ });
});
