// The container registry against a run dir of records, the simulated kernel and hand-fired inotify:
// which containers are followed, when they stop being followed, and that a failed set-up is undone.
import t, { type Test } from 'tap';
import { Cgroupfs } from '../../../src/cgroup/cgroupfs.js';
import { ContainerRegistry, type Followers } from '../../../src/daemon/registry.js';
import { type ContainerRecord, StateStore } from '../../../src/state/records.js';
import type { Watched } from '../../../src/state/watched.js';
import { FakeEvents } from '../../fixtures/fakeevents.js';
import { FakeKernel } from '../../fixtures/fakekernel.js';

function world(t: Test) {
  const kernel = new FakeKernel('/cg');
  const fs = new Cgroupfs('/cg', kernel);
  const dir = t.testdir();
  const store = new StateStore(`${dir}/run`, `${dir}/log`);
  const events = new FakeEvents();
  const log: string[] = [];
  const followed: string[] = [];
  let failNext = false;
  const followers: Followers = {
    added: async (c: Watched) => {
      followed.push(`+${c.record.id}`);
      if (failNext) {
        failNext = false;
        throw new Error('exec socket: EMFILE');
      }
    },
    removed: async (c: Watched) => void followed.push(`-${c.record.id}`),
  };
  /** Ended containers, as the finalizer would find them: their records go. */
  const ended = new Set<string>();
  const reg = new ContainerRegistry(
    {
      store,
      events,
      recordsDir: `${dir}/run/containers`,
      sweep: async () => {
        const finalized = [...ended].filter((id) => store.containerIds().includes(id));
        for (const id of finalized) store.removeContainer(id);
        return { finalized, warnings: [] };
      },
      fsFor: () => fs,
      cgroupId: (_fs, cg) => BigInt(cg.length),
      log: { info: (l) => log.push(l), warn: (l) => log.push(`WARN ${l}`) },
    },
    followers,
  );
  /** A record written as the hook writes it; inotify tells the registry unless `quiet`. */
  const carve = (id: string, state: ContainerRecord['state'] = 'carved', quiet = false) => {
    if (!fs.exists(`pod/${id}`)) {
      if (!fs.exists('pod')) fs.create('pod');
      fs.create(`pod/${id}`);
      fs.create(`pod/${id}/agent`);
    }
    store.saveContainer({ version: 1, id, cgroupRoot: '/cg', cgroup: `pod/${id}`, bundle: '/b', pid: 1, stage: 'createRuntime', state, carvedAt: '', sessionBytes: 1, agent: {}, tool: {}, framework: [], priority: 1, dependsOn: [] } as unknown as ContainerRecord);
    if (!quiet) events.change(`${dir}/run/containers`);
  };
  return { reg, store, events, log, followed, carve, ended, fail: () => (failNext = true) };
}

t.test('a carved record is followed; one still carving waits for its rewrite; a removed record is let go', async (t) => {
  const w = world(t);
  await w.reg.start();
  w.carve('a', 'carving');
  await w.reg.sync();
  t.same(w.followed, []);
  w.carve('a');
  await w.reg.sync();
  t.same(w.followed, ['+a']);
  t.same(w.reg.list().map((c) => [c.record.id, c.cgroupId]), [['a', 5n]]);
  w.store.removeContainer('a');
  w.events.change(w.store.runDir + '/containers');
  await w.reg.sync();
  t.same(w.followed, ['+a', '-a']);
  t.same(w.reg.list(), []);
});

t.test("a container's end (its agent leaf's cgroup.events) brings a sweep that finalizes it", async (t) => {
  const w = world(t);
  await w.reg.start();
  w.carve('a');
  w.carve('b');
  await w.reg.sync();
  t.ok(w.events.watching('/cg/pod/a/agent/cgroup.events'));
  w.ended.add('a');
  w.events.change('/cg/pod/a/agent/cgroup.events');
  await w.reg.sync();
  t.same(w.followed, ['+a', '+b', '-a']);
  t.match(w.log.join('\n'), /container a ended/);
  t.notOk(w.events.watching('/cg/pod/a/agent/cgroup.events'), 'no watch left on a container let go');
  t.ok(w.events.watching('/cg/pod/b/agent/cgroup.events'), 'the others still watched');
});

t.test('a set-up that fails half way is undone, and tried again at the next change', async (t) => {
  const w = world(t);
  await w.reg.start();
  w.fail();
  w.carve('a', 'carved', true);
  await w.reg.sync();
  t.same(w.followed, ['+a', '-a']);
  t.same(w.reg.list(), []);
  t.match(w.log.join('\n'), /WARN container a: not followed: exec socket: EMFILE/);
  w.events.change(w.store.runDir + '/containers');
  await w.reg.sync();
  t.same(w.followed, ['+a', '-a', '+a']);
});

t.test('a record whose cgroup is gone is not followed; stop lets every container go and closes every watch', async (t) => {
  const w = world(t);
  await w.reg.start();
  w.carve('a');
  w.store.saveContainer({ ...w.store.loadContainer('a')!, id: 'ghost', cgroup: 'pod/ghost' });
  w.events.change(w.store.runDir + '/containers');
  await w.reg.sync();
  t.same(w.followed, ['+a', '+ghost']);
  await w.reg.stop();
  t.same(w.followed, ['+a', '+ghost', '-a', '-ghost']);
  t.equal(w.events.armed, 0);
});
