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
import { FakeKernel, type KernelOptions } from '../../fixtures/fakekernel.js';

const MiB = 1 << 20;
const turn = () => new Promise((r) => setImmediate(r));

interface WorldOptions {
  noPsi?: boolean;
  sessionSeen?: (c: Watched, max: Bytes) => void;
  kernel?: KernelOptions;
  /** /proc/meminfo's SwapFree, bytes; none by default. */
  swapFree?: number;
}

function world(t: Test, opts: WorldOptions = {}) {
  const kernel = new FakeKernel('/cg', undefined, opts.kernel);
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
    const record = { id, cgroup: C, pid: 1, priority: 1, dependsOn: [], tool: { memoryHigh: 'max', memoryMax: 'max', cpuWeight: 100 } } as unknown as ContainerRecord;
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
  const ladders: string[] = [];
  const swap = opts.swapFree === undefined ? {} : { SwapTotal: opts.swapFree, SwapFree: opts.swapFree };
  const sup = new Supervisor(
    { ...DEFAULT_POLICY, ladder: { ...DEFAULT_POLICY.ladder, recheckMs: 60_000 } },
    {
      events,
      meminfo: () => ({ MemTotal: 64_000 * MiB, MemAvailable: 60_000 * MiB, ...swap }),
      containers: () => containers,
      calls: {
        noteKill: (callId, reason) => (killed.push(`${callId}: ${reason}`), callId !== 'by-exec'),
        // Frozen time is the clock's (Tally's own tests count it): only what was given back is shown.
        noteLadder: (callId, l) => (ladders.push(`${callId} ${l.reclaimedBytes / MiB}M`), callId !== 'by-exec'),
      },
      store: {
        writeReason: (id, callId, reason) => reasons.push(`${id}/${callId}: ${reason}`),
        writeLadder: (id, callId, l) => ladders.push(`file ${id}/${callId} ${l.reclaimedBytes / MiB}M`),
      },
      log: { info: (l) => log.push(l), warn: (l) => log.push(`WARN ${l}`) },
      hostPressure: '/proc/pressure/memory',
      ...(opts.sessionSeen ? { sessionSeen: opts.sessionSeen } : {}),
    },
  );
  t.teardown(() => sup.stop());
  return { kernel, fs, events, sup, add, call, log, killed, reasons, ladders };
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

/**
 * The pod budget at 95% (freeze_at 90%, kill_at 98%) with swap free: 'low' (priority 0, 300M) and
 * 'high' (priority 2, 500M) running. The ladder freezes low, then reclaims it.
 */
function shortWithSwap(t: Test, kernel: KernelOptions, lowCall = 'l') {
  const w = world(t, { kernel, swapFree: 4096 * MiB });
  w.sup.start();
  const low = w.add('low');
  (low.record as { priority: number }).priority = 0;
  const high = w.add('high');
  (high.record as { priority: number }).priority = 2;
  w.kernel.setStat('pod', 'memory.current', String(950 * MiB));
  const cgLow = w.call(low, lowCall, 300 * MiB);
  const cgHigh = w.call(high, 'h', 500 * MiB);
  w.sup.follow(low);
  w.sup.follow(high);
  return { w, low, high, cgLow, cgHigh };
}

/** Runs one look of the ladder now, and lets what it started (a reclaim on the thread pool) finish. */
async function look(w: ReturnType<typeof world>, target: Watched): Promise<void> {
  w.events.change(`/cg/${target.record.cgroup}/tools`);
  for (let i = 0; i < 5; i++) await turn();
}

const fill = (w: ReturnType<typeof world>, mib: number) => w.kernel.setStat('pod', 'memory.current', String(mib * MiB));

t.test('with swap, a frozen call gives memory back step by step until the budget is below freeze_at; at kill_at too, while it holds enough', async (t) => {
  const { w, low, cgLow } = shortWithSwap(t, { memoryReclaim: true });
  await look(w, low);
  t.equal(w.fs.read(cgLow, 'cgroup.freeze').trim(), '1', 'at freeze_at the low-priority call is frozen');
  await look(w, low);
  // 950M: one 64M step to 886M, below freeze_at (900M): no second.
  const steps = () => w.log.filter((l) => /container low: call l gave back 64M of 64M asked in \d+ ms: budget \/pod memory at \d+% of 1000M with calls frozen/.test(l)).length;
  t.equal(steps(), 1, w.log.join('\n'));
  t.equal(w.fs.read(cgLow, 'memory.current').trim(), String(236 * MiB), 'one 64M step came out of it');
  fill(w, 995);
  await look(w, low);
  t.same(w.killed, [], 'at kill_at, the frozen call holds more than the 95M over freeze_at: no kill');
  t.equal(steps(), 3, 'two more steps: 995M to 931M to 867M');
  t.equal(w.fs.read(cgLow, 'cgroup.freeze').trim(), '1', 'still frozen: thaw waits for thaw_below');
  t.same(w.ladders.at(-1), 'l 192M', 'its record is told: 192M reclaimed');
  t.equal(w.sup.tally.call('low/l').reclaims, 3);
  t.equal(w.sup.tally.call('low/l').reclaimedBytes, 192 * MiB);
});

t.test('a call that gives little back is dry: at kill_at it is killed, the last resort', async (t) => {
  const { w, low, cgLow } = shortWithSwap(t, { memoryReclaim: true, reclaimable: 0.01 });
  await look(w, low);
  await look(w, low);
  t.match(w.log.join('\n'), /call l gave back 3M of 64M asked/, 'EAGAIN (short of the ask) is an answer, not a fault');
  t.notMatch(w.log.join('\n'), /WARN/);
  fill(w, 995);
  await look(w, low);
  t.match(w.killed, [/^l: budget \/pod memory at \d+% of 1000M and freezing and reclaim did not relieve it$/]);
  t.equal(w.kernel.whereIs(101), undefined, 'killed');
  t.match(w.ladders.at(-1), /^l 3M$/, 'its record keeps what it gave');
  t.ok(w.kernel.isDir(`/cg/${cgLow}`));
});

t.test('no memory.reclaim (before 5.19): said once, and the ladder kills as it did without the rung', async (t) => {
  const { w, low } = shortWithSwap(t, {});
  await look(w, low);
  await look(w, low);
  t.equal(w.log.filter((l) => /no memory\.reclaim/.test(l)).length, 1, w.log.join('\n'));
  t.notMatch(w.log.join('\n'), /gave back/, 'nothing to report of a reclaim that could not begin');
  fill(w, 995);
  await look(w, low);
  await look(w, low);
  t.match(w.killed, [/^l: budget \/pod memory at \d+% of 1000M and freezing did not relieve it$/]);
  t.equal(w.log.filter((l) => /no memory\.reclaim/.test(l)).length, 1, 'once');
});

t.test('a tool call of exec gets what the ladder did through the store, beside its marker', async (t) => {
  const { w, low } = shortWithSwap(t, { memoryReclaim: true }, 'by-exec');
  await look(w, low);
  await look(w, low);
  t.match(w.ladders.slice(0, 2), ['by-exec 64M', 'file low/by-exec 64M'], 'the call book does not have it: the store does');
});

t.test("each call's swap.max (the carve's tool template) is seen by the ladder: a frozen call that may not swap is not bet on", async (t) => {
  for (const swapMax of ['max', 0] as const) {
    const { w, low, cgLow } = shortWithSwap(t, { memoryReclaim: true, swapAccounting: true });
    low.record.tool.swapMax = swapMax;
    await look(w, low);
    t.equal(w.fs.read(cgLow, 'cgroup.freeze').trim(), '1');
    fill(w, 995);
    await look(w, low);
    if (swapMax === 'max') t.same(w.killed, [], 'swap.max max: kill waits for the reclaim');
    else t.match(w.killed, [/^l: /], 'swap.max 0: kill, as without swap');
  }
});

t.test('a host without swap is told once at start what the reclaim rung can do', async (t) => {
  const none = world(t);
  none.sup.start();
  t.match(none.log.join('\n'), /no swap on this host: the reclaim rung can take only frozen calls' page cache/);
  const some = world(t, { swapFree: 1024 * MiB });
  some.sup.start();
  t.notMatch(some.log.join('\n'), /no swap/);
});
