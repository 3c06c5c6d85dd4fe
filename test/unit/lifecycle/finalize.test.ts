// The daemon's way of finalizing ended containers: the same outcome as the hook's (every call logged
// once, stragglers killed, our cgroups and state removed), on both kernels, but the stragglers' deaths
// are waited for on the kernel's notifications while the daemon's thread runs on.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import type { HostEnv } from '../../../src/host/env.js';
import { finalizeContainerAsync, sweepStaleAsync } from '../../../src/lifecycle/finalize.js';
import { StateStore } from '../../../src/state/records.js';
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
