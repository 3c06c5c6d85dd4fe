// A container whose poststop was SIGKILLed (or never ran) leaves its record: the next poststop of any
// container finalizes it, exactly as its own would have, once the container has ended (C gone, or
// nothing left in its agent leaf); a container still alive or being carved is left alone; a call
// gets one record however many finalizers race for it.
import t from 'tap';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KernelOptions } from '../../fixtures/fakekernel.js';
import { CG_ROOT, PID, hookEnv } from '../../fixtures/hookenv.js';
import { type RunningCall, StateStore } from '../../../src/state/records.js';

const call = (callId: string): RunningCall => ({
  callId,
  name: 'pytest',
  argv: ['pytest'],
  cgroup: `/ctr1/tools/${callId}`,
  start: new Date(Date.now() - 1000).toISOString(),
  limits: { high: 1, max: 2 },
  owner: 'daemon',
});

function carvedWithCall(dir: string, kernel: KernelOptions = {}) {
  const h = hookEnv(dir, { kernel });
  const store = new StateStore(h.runDir, h.callDir);
  const sockDir = join(h.runDir, 'sock/ctr1');
  return {
    h,
    store,
    sockDir,
    async setUp() {
      await h.hook(['createRuntime'], h.state('created'));
      store.markRunning('ctr1', call('pytest-1'));
      mkdirSync(sockDir, { recursive: true });
      writeFileSync(join(sockDir, 'exec.sock'), '');
    },
    records: () => (existsSync(store.callLog('ctr1')) ? readFileSync(store.callLog('ctr1'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; outcome: string }) : []),
  };
}

t.test('a container gone without its poststop is finalized by the next poststop of another', async (t) => {
  const e = carvedWithCall(t.testdir());
  await e.setUp();
  e.h.runtimeRemoves();
  const r = await e.h.hook(['poststop'], e.h.state('stopped', { id: 'ctr2' }));
  t.same(r, { code: 0, out: '', err: '' }, 'quiet');
  t.notOk(existsSync(e.store.containerFile('ctr1')), 'its record is removed');
  t.notOk(existsSync(e.store.callsDir('ctr1')), 'its call markers too');
  t.notOk(existsSync(e.sockDir), 'and its exec socket directory');
  t.same(e.records().map((r) => [r.id, r.outcome]), [['pytest-1', 'cut-off']], 'the call it cut off is logged once');
});

t.test('a container that is still there is not swept', async (t) => {
  const e = carvedWithCall(t.testdir());
  await e.setUp();
  await e.h.hook(['poststop'], e.h.state('stopped', { id: 'ctr2' }));
  t.ok(existsSync(e.store.containerFile('ctr1')), 'record kept');
  t.same(e.store.runningCalls('ctr1').map((c) => c.callId), ['pytest-1'], 'its running call too');
  t.ok(existsSync(e.sockDir), 'and its socket directory');
  t.same(e.records(), [], 'nothing logged');
});

/** A tool call started from the host still runs in C when init dies: runc cannot remove C. */
async function stoppedWithStraggler(dir: string, kernel: KernelOptions = {}) {
  const e = carvedWithCall(dir, kernel);
  await e.setUp();
  const k = e.h.kernel;
  k.mkdir(`${CG_ROOT}/ctr1/tools/pytest-1`);
  k.spawnAt('ctr1/tools/pytest-1', 999);
  k.kill(PID);
  return { e, k };
}

for (const [name, kernel] of [['', {}], [' (a kernel without cgroup.kill)', { cgroupKill: false }]] as const) {
  t.test(`a stopped container is swept: its tool calls ended, our cgroups removed, C left to the runtime${name}`, async (t) => {
    const { e, k } = await stoppedWithStraggler(t.testdir(), kernel);
    await e.h.hook(['poststop'], e.h.state('stopped', { id: 'ctr2' }));
    t.equal(k.whereIs(999), undefined, 'the straggler was killed');
    // Stopped is not deleted: engines read C's memory.events after the exit (OOMKilled).
    t.ok(k.isDir(`${CG_ROOT}/ctr1`), 'C stays until the runtime deletes the container');
    t.same(k.subdirs(`${CG_ROOT}/ctr1`), [], 'empty of ours, so the runtime can remove it');
    t.notOk(existsSync(e.store.containerFile('ctr1')), 'our record is gone');
    t.same(e.records().map((r) => r.outcome), ['cut-off']);
  });

  t.test(`its own poststop ends a straggler the runtime could not, and removes the C it left${name}`, async (t) => {
    const { e, k } = await stoppedWithStraggler(t.testdir(), kernel);
    // runc delete: rmdir of C fails with EBUSY, the runtime forgets the container, poststop runs.
    await e.h.hook(['poststop'], e.h.state('stopped'));
    t.equal(k.whereIs(999), undefined, 'the straggler was killed');
    t.notOk(k.isDir(`${CG_ROOT}/ctr1`), 'C is gone');
    t.notOk(existsSync(e.store.containerFile('ctr1')), 'and our record');
  });
}

t.test('a carve in progress (agent leaf still empty) is not swept', async (t) => {
  const e = carvedWithCall(t.testdir());
  await e.setUp();
  const rec = e.store.loadContainer('ctr1')!;
  e.store.saveContainer({ ...rec, state: 'carving' });
  e.h.kernel.writeFile(`${CG_ROOT}/ctr1/agent/cgroup.kill`, '1');
  await e.h.hook(['poststop'], e.h.state('stopped', { id: 'ctr2' }));
  t.ok(existsSync(e.store.containerFile('ctr1')), 'record kept');
  t.ok(e.h.kernel.isDir(`${CG_ROOT}/ctr1/agent`), 'cgroups kept');
});

t.test('its own poststop removes the exec socket directory with the rest', async (t) => {
  const e = carvedWithCall(t.testdir());
  await e.setUp();
  e.h.runtimeRemoves();
  await e.h.hook(['poststop'], e.h.state('stopped'));
  t.notOk(existsSync(e.sockDir));
  t.equal(e.records().length, 1);
});

t.test('a call is claimed by one finalizer only', async (t) => {
  const store = new StateStore(join(t.testdir(), 'run'), join(t.testdir(), 'calls'));
  store.markRunning('c', call('a-1'));
  t.equal(store.claimRunning('c', 'a-1'), true, 'the first claim wins');
  t.equal(store.claimRunning('c', 'a-1'), false, 'a second one loses');
  t.same(store.runningCalls('c'), [], 'a claimed call is no longer running');
  store.clearRunning('c', 'a-1');
  t.same(readdirSync(store.callsDir('c')), [], 'clearing removes the claim');
  t.equal(store.claimRunning('c', 'never'), false, 'a call without a marker cannot be claimed');
});

