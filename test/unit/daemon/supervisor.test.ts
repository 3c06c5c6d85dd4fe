// The supervisor against the simulated kernel and its events: what wakes the ladder, what it does to
// the cgroups, and that faults (no PSI, a container whose files cannot be read) leave it working.
import t, { type Test } from 'tap';
import { Cgroupfs } from '../../../src/cgroup/cgroupfs.js';
import { DEFAULT_POLICY } from '../../../src/config/policy.js';
import { Supervisor } from '../../../src/daemon/supervisor.js';
import type { Bytes } from '../../../src/limits.js';
import type { ContainerRecord } from '../../../src/state/records.js';
import type { Watched } from '../../../src/state/watched.js';
import { FakeEvents } from '../../fixtures/fakeevents.js';
import { FakeKernel } from '../../fixtures/fakekernel.js';

const MiB = 1 << 20;
const turn = () => new Promise((r) => setImmediate(r));

function world(t: Test, opts: { noPsi?: boolean; sessionSeen?: (c: Watched, max: Bytes) => void } = {}) {
  const kernel = new FakeKernel('/cg');
  const fs = new Cgroupfs('/cg', kernel);
  fs.enableControllers('', ['memory', 'cpu', 'pids']);
  fs.create('pod');
  fs.write('pod', 'memory.max', String(1000 * MiB));
  fs.enableControllers('pod', ['memory', 'cpu', 'pids']);
  const containers: Watched[] = [];
  const add = (id: string) => {
    const C = `pod/${id}`;
    fs.create(C);
    fs.enableControllers(C, ['memory', 'cpu', 'pids']);
    fs.create(`${C}/agent`);
    fs.create(`${C}/tools`);
    fs.enableControllers(`${C}/tools`, ['memory', 'cpu', 'pids']);
    const record = { id, cgroup: C, pid: 1, priority: 1, dependsOn: [] } as unknown as ContainerRecord;
    const c: Watched = { record, fs, cgroupId: 1n, agentCgroupId: 2n };
    containers.push(c);
    return c;
  };
  const call = (c: Watched, callId: string, current: number) => {
    const cg = `${c.record.cgroup}/tools/${callId}`;
    fs.create(cg);
    kernel.spawnAt(cg, 100 + containers.length);
    kernel.setStat(cg, 'memory.current', String(current));
    return cg;
  };
  const events = new FakeEvents();
  if (opts.noPsi) events.noPsi.add('*');
  const log: string[] = [];
  const killed: string[] = [];
  const reasons: string[] = [];
  const sup = new Supervisor(
    { ...DEFAULT_POLICY, ladder: { ...DEFAULT_POLICY.ladder, recheckMs: 60_000 } },
    {
      events,
      meminfo: () => ({ MemTotal: 64_000 * MiB, MemAvailable: 60_000 * MiB }),
      containers: () => containers,
      calls: { noteKill: (callId, reason) => (killed.push(`${callId}: ${reason}`), callId !== 'by-exec') },
      store: { writeReason: (id, callId, reason) => reasons.push(`${id}/${callId}: ${reason}`) },
      log: { info: (l) => log.push(l), warn: (l) => log.push(`WARN ${l}`) },
      hostPressure: '/proc/pressure/memory',
      ...(opts.sessionSeen ? { sessionSeen: opts.sessionSeen } : {}),
    },
  );
  t.teardown(() => sup.stop());
  return { kernel, fs, events, sup, add, call, log, killed, reasons };
}

/** One container, c1, in a pod budget at 99.5%: the ladder's kill rung. */
function nearlyFull(t: Test) {
  const w = world(t);
  w.sup.start();
  const c = w.add('c1');
  w.kernel.setStat('pod', 'memory.current', String(995 * MiB));
  w.kernel.setStat('pod/c1', 'memory.current', String(990 * MiB));
  return { w, c };
}

t.test('follow arms the kernel events that wake the ladder, unfollow disarms them all', async (t) => {
  const w = world(t);
  w.sup.start();
  t.equal(w.events.armed, 1, 'host pressure');
  const c = w.add('c1');
  w.sup.follow(c);
  t.ok(w.events.watching('/cg/pod/c1/tools'), 'a new call');
  t.ok(w.events.watching('/cg/pod/c1/memory.events'), 'a throttled one');
  t.equal(w.events.armed, 5, 'plus PSI triggers on C and its budget pod/');
  w.sup.unfollow('c1');
  t.equal(w.events.armed, 1);
});

t.test('a budget about to run out: the biggest call is killed, its reason told first', async (t) => {
  const { w, c } = nearlyFull(t);
  w.call(c, 'small', 10 * MiB);
  const big = w.call(c, 'big', 900 * MiB);
  w.sup.follow(c);
  await turn();
  t.match(w.killed, [/^big: /]);
  t.equal(w.kernel.isDir(`/cg/${big}`), true);
  t.equal(w.kernel.whereIs(102), undefined, 'cgroup.kill emptied it');
  t.match(w.log.join('\n'), /container c1: call big killed/);
});

t.test('a call exec runs is not the call book\'s: its reason is left for exec', async (t) => {
  const { w, c } = nearlyFull(t);
  w.call(c, 'by-exec', 900 * MiB);
  w.sup.follow(c);
  await turn();
  t.match(w.reasons, [/^c1\/by-exec: /]);
});

t.test('no PSI (psi=0): said once, and the ladder still looks on the other events', async (t) => {
  const w = world(t, { noPsi: true });
  w.sup.start();
  const c1 = w.add('c1');
  const c2 = w.add('c2');
  w.sup.follow(c1);
  w.sup.follow(c2);
  t.equal(w.log.filter((l) => /no pressure trigger/.test(l)).length, 1);
  w.kernel.setStat('pod', 'memory.current', String(995 * MiB));
  w.call(c2, 'big', 900 * MiB);
  w.events.change('/cg/pod/c2/tools');
  await turn();
  t.match(w.killed, [/^big: /], 'woken by the new call, without any trigger');
});

t.test('a container whose cgroups cannot be read is left out of one look, not the whole ladder', async (t) => {
  const w = world(t);
  w.sup.start();
  const c1 = w.add('c1');
  const c2 = w.add('c2');
  w.kernel.setStat('pod', 'memory.current', String(995 * MiB));
  w.call(c2, 'big', 900 * MiB);
  w.kernel.failures.set('pod/c1/memory.current', 'EIO');
  w.sup.follow(c1);
  w.sup.follow(c2);
  await turn();
  t.match(w.killed, [/^big: /], 'c2 still supervised');
  t.equal(w.log.filter((l) => /c1: left out of the ladder/.test(l)).length, 1);
});

t.test('a call frozen by a previous daemon is thawed when its container is followed again', async (t) => {
  const w = world(t);
  const c = w.add('c1');
  const cg = w.call(c, 'old', MiB);
  w.fs.write(cg, 'cgroup.freeze', '1');
  w.sup.follow(c);
  t.equal(w.fs.read(cg, 'cgroup.freeze').trim(), '0');
  t.match(w.log.join('\n'), /thawed pod\/c1\/tools\/old left frozen by a previous daemon/);
});

t.test("each look tells the resizer C's memory.max as it read it", async (t) => {
  const seen: string[] = [];
  const w = world(t, { sessionSeen: (c, max) => void seen.push(`${c.record.id} ${max}`) });
  w.sup.start();
  const c1 = w.add('c1');
  const c2 = w.add('c2');
  w.fs.write('pod/c1', 'memory.max', String(512 * MiB));
  w.sup.follow(c1);
  w.sup.follow(c2);
  await turn();
  t.same(seen, [`c1 ${512 * MiB}`, 'c2 max']);
});
