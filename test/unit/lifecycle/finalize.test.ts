// The daemon's way of finalizing ended containers: the same outcome as the hook's (every call logged
// once, stragglers killed, our cgroups and state removed), on both kernels, but the stragglers' deaths
// are waited for on the kernel's notifications while the daemon's thread runs on.
import t from 'tap';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { HostEnv } from '../../../src/host/env.js';
import { cutOffRecord } from '../../../src/exec/record.js';
import { finalizeContainer, finalizeContainerAsync, sweepStaleAsync } from '../../../src/lifecycle/finalize.js';
import { StateStore } from '../../../src/state/records.js';
import { settleCall } from '../../../src/state/settle.js';
import type { KernelOptions } from '../../fixtures/fakekernel.js';
import { CG_ROOT, PID, hookEnv } from '../../fixtures/hookenv.js';

/** Carved, with a tool call started from the host (999, 1000) still in C after init died. */
async function stoppedWithStragglers(dir: string, kernel: KernelOptions) {
  const h = hookEnv(dir, { kernel: { ...kernel, slowDeaths: true } });
  await h.hook(['createRuntime'], h.state('created'));
  const store = new StateStore(h.runDir, h.callDir);
  store.markRunning('ctr1', { callId: 'pytest-1', name: 'pytest', argv: ['pytest'], cgroup: '/ctr1/tools/pytest-1', start: new Date().toISOString(), limits: { high: 1, max: 2 }, owner: 'exec' });
  const k = h.kernel;
  for (const call of ['pytest-1', 'make-2']) k.mkdir(`${CG_ROOT}/ctr1/tools/${call}`);
  k.spawnAt('ctr1/tools/pytest-1', 999);
  k.spawnAt('ctr1/tools/make-2', 1000);
  k.kill(PID);
  k.reap();
  const host: HostEnv = { procRoot: h.proc, fsOps: k, now: () => new Date() };
  const outcomes = () => readFileSync(store.callLog('ctr1'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { outcome: string }).outcome);
  return { h, k, store, host, outcomes };
}

/** Resolves after the event loop has turned for `ms`: had the sweep blocked, only after it was done. */
const turn = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const [name, kernel] of [['with cgroup.kill', {}], ['without cgroup.kill', { cgroupKill: false }]] as const) {
  t.test(`${name}: a sweep waits for the stragglers without blocking, then finalizes as poststop would`, async (t) => {
    const { k, store, host, outcomes } = await stoppedWithStragglers(t.testdir(), kernel);
    let settled = false;
    const sweep = sweepStaleAsync(store, host).finally(() => (settled = true));
    await turn(30);
    t.equal(settled, false, 'still waiting, and the thread ran on');
    t.same(k.pendingDeaths, [999, 1000], 'every straggler was sent SIGKILL at once');
    t.equal(k.watching, 2, 'one watch per call cgroup');
    k.reap();
    t.same(await sweep, { finalized: ['ctr1'], warnings: [] });
    t.same(k.subdirs(`${CG_ROOT}/ctr1`), [], 'our cgroups are gone');
    t.ok(k.isDir(`${CG_ROOT}/ctr1`), 'C stays: the runtime has only stopped the container');
    t.notOk(existsSync(store.containerFile('ctr1')), 'our record is gone');
    t.same(outcomes(), ['cut-off'], 'the call in flight is logged once');
    t.equal(k.watching, 0, 'no watch left behind');
  });
}

t.test('a call cgroup that cannot be removed is a warning; the rest is still finalized', async (t) => {
  const { k, store, host } = await stoppedWithStragglers(t.testdir(), {});
  k.failures.set('ctr1/tools/make-2', 'EBUSY');
  const finalizing = finalizeContainerAsync('ctr1', store, host, 'deleted');
  await turn(10);
  k.reap();
  const { warnings } = await finalizing;
  t.match(warnings, [/cannot remove cgroup \S+make-2: the cgroup is busy/, /cannot remove cgroup \S+tools: the cgroup is busy/], 'what could not be removed is named');
  t.notOk(k.isDir(`${CG_ROOT}/ctr1/tools/pytest-1`), 'the other call is removed');
  t.ok(k.isDir(`${CG_ROOT}/ctr1`), 'C, not empty, stays');
  t.notOk(existsSync(store.containerFile('ctr1')), 'our record is gone all the same');
});

/** A call the daemon begins as it would for a late exec event: its cgroup, then its marker. */
function beginLate(k: { mkdir(path: string): void }, store: StateStore, callId: string): void {
  k.mkdir(`${CG_ROOT}/ctr1/tools/${callId}`);
  store.markRunning('ctr1', { callId, name: 'sh', argv: ['/bin/sh'], cgroup: `/ctr1/tools/${callId}`, start: new Date().toISOString(), limits: { high: 1, max: 2 }, owner: 'daemon' });
}

const records = (store: StateStore) => readFileSync(store.callLog('ctr1'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; outcome: string });

t.test('a call begun while the finalizer waits on stragglers gets its record: its marker is not removed unlogged', async (t) => {
  const { k, store, host } = await stoppedWithStragglers(t.testdir(), {});
  const sweep = sweepStaleAsync(store, host);
  await turn(10);
  // The daemon, behind on its tracker events, places an exec of the container's as the sweep waits.
  beginLate(k, store, 'sh-late-1');
  k.reap();
  await sweep;
  t.same(records(store).map((r) => [r.id, r.outcome]), [['pytest-1', 'cut-off'], ['sh-late-1', 'cut-off']], 'both calls logged, once');
  t.notOk(existsSync(store.callsDir('ctr1')), 'the markers went with their records');
  const late = { callId: 'sh-late-1', name: 'sh', argv: ['/bin/sh'], cgroup: '/ctr1/tools/sh-late-1', start: new Date().toISOString(), limits: { high: 1, max: 2 }, owner: 'daemon' as const };
  t.equal(settleCall(store, cutOffRecord('ctr1', late, new Date()), 'ctr1', () => t.fail('no failure')), false, 'the daemon, ending it, finds it claimed: no second record');
  t.equal(records(store).length, 2);
});

t.test('a marker written again after the finalizer logged its call is not logged twice', async (t) => {
  const { k, store, host } = await stoppedWithStragglers(t.testdir(), {});
  const sweep = sweepStaleAsync(store, host);
  await turn(10);
  // The daemon rewrites the marker of a call the finalizer has claimed already (its placement, a rename).
  store.markRunning('ctr1', { callId: 'pytest-1', name: 'pytest', argv: ['pytest', '-x'], cgroup: '/ctr1/tools/pytest-1', start: new Date().toISOString(), limits: { high: 1, max: 2 }, owner: 'exec' });
  k.reap();
  await sweep;
  t.same(records(store).map((r) => r.id), ['pytest-1'], 'one record');
  t.notOk(existsSync(store.callsDir('ctr1')), 'the rewritten marker is gone with the rest');
});

t.test("the hook's finalizer too: a call the daemon begins while a straggler is killed is logged, not removed unlogged", async (t) => {
  const { k, store, host } = await stoppedWithStragglers(t.testdir(), {});
  let begun = false;
  // Another process (the daemon) writes its marker while the hook blocks on the straggler's death.
  const fsOps = Object.create(k) as typeof k;
  fsOps.writeFile = (path: string, data: string) => {
    k.writeFile(path, data);
    if (!path.endsWith('/cgroup.kill')) return;
    k.reap();
    if (begun) return;
    begun = true;
    beginLate(k, store, 'sh-late-2');
  };
  const { warnings } = finalizeContainer('ctr1', store, { ...host, fsOps }, 'stopped');
  t.ok(begun, 'the marker came while the hook was at work');
  t.same(records(store).map((r) => [r.id, r.outcome]), [['pytest-1', 'cut-off'], ['sh-late-2', 'cut-off']], 'both calls logged, once');
  t.match(warnings, [/tools: the cgroup is busy/], "the late call's cgroup keeps tools/ (its owner removes it)");
  t.notOk(existsSync(store.callsDir('ctr1')), 'no marker left');
});

/** pytest-1 claimed, as StateStore.claimRunning does it, by a process with pid `pid`. */
function claimedBy(store: StateStore, pid: number): void {
  renameSync(join(store.callsDir('ctr1'), 'pytest-1.json'), join(store.callsDir('ctr1'), `pytest-1.ending.${pid}`));
}

async function finalizeReaping(k: { reap(): void }, store: StateStore, host: HostEnv): Promise<string[]> {
  const finalizing = finalizeContainerAsync('ctr1', store, host, 'stopped');
  await turn(10);
  k.reap();
  return (await finalizing).warnings;
}

t.test('a claimer killed between its claim and its record (a daemon SIGKILLed as it ended the call): the teardown logs the call, cut off', async (t) => {
  const { k, store, host } = await stoppedWithStragglers(t.testdir(), {});
  claimedBy(store, 424242);
  t.notOk(existsSync(join(host.procRoot, '424242')), 'the claimer is gone');
  t.same(await finalizeReaping(k, store, host), []);
  t.same(records(store).map((r) => [r.id, r.outcome]), [['pytest-1', 'cut-off']], 'one record, from what the claim kept of the marker');
  t.notOk(existsSync(store.callsDir('ctr1')), 'the claim went with the rest');
});

t.test('a claim whose record was written, or whose claimer still runs, gets no record from the teardown', async (t) => {
  await t.test('written', async (t) => {
    const { k, store, host } = await stoppedWithStragglers(t.testdir(), {});
    const call = store.runningCalls('ctr1')[0]!;
    claimedBy(store, 424242);
    store.appendCall('ctr1', cutOffRecord('ctr1', call, new Date()));
    await finalizeReaping(k, store, host);
    t.same(records(store).map((r) => r.id), ['pytest-1'], 'still one record');
  });
  await t.test('the claimer runs', async (t) => {
    const { k, store, host } = await stoppedWithStragglers(t.testdir(), {});
    mkdirSync(join(host.procRoot, '515151'), { recursive: true });
    claimedBy(store, 515151);
    await finalizeReaping(k, store, host);
    t.notOk(existsSync(store.callLog('ctr1')), 'no record here: the claimer writes its own');
  });
});

t.test('a claim names its claimer, and goes when the claimer has written its record', async (t) => {
  const { store } = await stoppedWithStragglers(t.testdir(), {});
  t.ok(store.claimRunning('ctr1', 'pytest-1'));
  t.ok(existsSync(join(store.callsDir('ctr1'), `pytest-1.ending.${process.pid}`)));
  t.same(store.orphanClaims('ctr1', () => true), [], 'its claimer alive: no orphan');
  t.same(store.orphanClaims('ctr1', () => false).map((o) => [o.callId, o.pid, o.call?.name]), [['pytest-1', process.pid, 'pytest']]);
  store.clearRunning('ctr1', 'pytest-1');
  t.same(store.orphanClaims('ctr1', () => false), [], 'cleared');
});
