// The call book against the simulated kernel, /proc and inotify: a call's life (begin, members, exit
// status, end when its cgroup empties, one record), and what a recycled pid can no longer make it do.
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { Cgroupfs } from '../../../src/cgroup/cgroupfs.js';
import { CallBook } from '../../../src/daemon/calls.js';
import { type ContainerRecord, StateStore } from '../../../src/state/records.js';
import type { Watched } from '../../../src/state/watched.js';
import { FakeEvents } from '../../fixtures/fakeevents.js';
import { FakeKernel } from '../../fixtures/fakekernel.js';
import { FakeProcs } from '../../fixtures/fakeprocs.js';

const TOOL = { memoryHigh: 256 << 20, memoryMax: 512 << 20, cpuWeight: 100, oomScoreAdj: 0 };

function world(t: Test) {
  const kernel = new FakeKernel('/cg');
  const fs = new Cgroupfs('/cg', kernel);
  fs.create('system.slice');
  fs.enableControllers('', ['memory', 'cpu', 'pids']);
  fs.create('c1');
  fs.enableControllers('c1', ['memory', 'cpu', 'pids']);
  fs.create('c1/agent');
  fs.create('c1/tools');
  fs.enableControllers('c1/tools', ['memory', 'cpu', 'pids']);
  const record = { id: 'c1', cgroup: 'c1', pid: 1, tool: TOOL, framework: [], oomScoreAdj: { engine: 300, tool: 800 } } as unknown as ContainerRecord;
  const c: Watched = { record, fs, cgroupId: 100n, agentCgroupId: 101n };
  const dir = t.testdir();
  const store = new StateStore(`${dir}/run`, `${dir}/log`);
  const procs = new FakeProcs(kernel);
  const events = new FakeEvents();
  const log: string[] = [];
  const later: (() => void)[] = [];
  const calls = new CallBook(store, procs, events, { info: (l) => log.push(l), warn: (l) => log.push(`WARN ${l}`) }, (f) => later.push(f));
  const turn = () => later.splice(0).forEach((f) => f());
  const records = () =>
    readFileSync(store.callLog('c1'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { id: string; exit: number | null; signal: string | null; reason?: string });
  /** The process exits; the kernel tells cgroup.events of its call. */
  const exit = (pid: number, callId: string) => {
    procs.reap(pid);
    events.change(fs.path(`c1/tools/${callId}`, 'cgroup.events'));
  };
  return { kernel, fs, c, store, procs, events, calls, log, turn, records, exit };
}

t.test('a call: moved in, made the OOM killer first pick, ended with its leader exit status when its cgroup empties', async (t) => {
  const w = world(t);
  const ended: [string, string | undefined][] = [];
  w.calls.onEnded((callId, _, logged) => ended.push([callId, logged?.outcome]));
  w.procs.spawn(1, 'c1/agent', ['python3', 'agent.py']);
  w.procs.spawn(20, 'c1/agent', ['/usr/bin/pytest', '-q'], 1);
  const id = w.calls.begin(w.c, 20, { fallback: 'call' });
  t.match(id, /^pytest-/);
  t.equal(w.kernel.whereIs(20), `c1/tools/${id}`);
  t.equal(w.procs.get(20)?.oomScoreAdj, 800, "the record's tool value, above the engine's");
  t.same(w.store.runningCalls('c1').map((r) => r.callId), [id]);
  w.turn();
  t.equal(w.store.runningCalls('c1').length, 1, 'still running: its leader is inside');
  w.calls.noteExit(20, 3 << 8);
  w.exit(20, id);
  await w.calls.settled();
  t.same(w.records().map((r) => [r.id, r.exit]), [[id, 3]]);
  t.same(ended, [[id, 'failed']], 'listeners get the record this daemon logged (the metrics count it)');
  t.equal(w.store.runningCalls('c1').length, 0);
  t.equal(w.kernel.isDir(`/cg/c1/tools/${id}`), false, 'its cgroup removed');
  t.equal(w.procs.openHandles, 0, 'its pidfd closed');
  t.equal(w.events.armed, 0, 'its watch closed');
});

t.test("a call's record keeps the agent leaf's memory as it began: the framework's footprint", async (t) => {
  const w = world(t);
  w.procs.spawn(1, 'c1/agent', ['python3', 'agent.py']);
  w.procs.spawn(20, 'c1/agent', ['/usr/bin/pytest', '-q'], 1);
  w.kernel.setStat('c1/agent', 'memory.current', String(185 << 20));
  const id = w.calls.begin(w.c, 20, { fallback: 'call' });
  t.equal(w.store.runningCalls('c1')[0]?.agentMemory, 185 << 20, 'in the running marker');
  w.kernel.setStat('c1/agent', 'memory.current', String(900 << 20));
  w.exit(20, id);
  await w.calls.settled();
  t.equal((w.records()[0] as { agentMemory?: number }).agentMemory, 185 << 20, 'and in the record, as it was at the start');
});

t.test('a pid recycled to a host process is never moved into a call', async (t) => {
  const w = world(t);
  w.procs.spawn(1, 'c1/agent', ['sh']);
  w.procs.spawn(20, 'c1/agent', ['make'], 1);
  const id = w.calls.begin(w.c, 20, { fallback: 'call' });
  // A child forked before the move, reaped; the host gives its pid to one of its own services.
  w.procs.spawn(21, 'c1/agent', ['make'], 20);
  w.procs.reap(21);
  w.procs.spawn(21, 'system.slice', ['sshd']);
  w.calls.join(id, 21);
  t.equal(w.kernel.whereIs(21), 'system.slice');
  t.equal(w.calls.callOfMember(21), undefined, 'not a member');
  t.match(w.log.join('\n'), /WARN container c1: process 21 is not the container's \(it is in \/system.slice\): not moved/);
  // A tracker event for a pid that is a host process by the time it is handled.
  const before = w.store.runningCalls('c1').length;
  w.procs.spawn(30, 'system.slice', ['cron']);
  w.procs.get(30)!.oomScoreAdj = -17;
  w.calls.begin(w.c, 30, { fallback: 'call' });
  t.equal(w.kernel.whereIs(30), 'system.slice');
  t.equal(w.procs.get(30)?.oomScoreAdj, -17, 'its oom_score_adj untouched');
  t.equal(w.calls.callOfMember(30), undefined);
  t.equal(w.store.runningCalls('c1').length, before + 1, 'the call is logged (it ended before it was placed)');
});

t.test('an exec client whose process exited: its handle, not its pid, decides', async (t) => {
  const w = world(t);
  w.procs.spawn(1, 'c1/agent', ['sh']);
  w.procs.spawn(40, 'c1/agent', ['agentcgroup', 'exec'], 1);
  const client = w.procs.open(40)!;
  w.procs.reap(40);
  w.procs.spawn(40, 'c1/agent', ['other'], 1); // same container, same pid, another process
  const id = w.calls.begin(w.c, 40, { fallback: 'x', handle: client });
  t.equal(w.kernel.whereIs(40), 'c1/agent', 'the process now at that pid is not moved');
  t.equal(w.calls.callOfMember(40), undefined, 'a member that exited is dropped');
  w.turn();
  await w.calls.settled();
  t.same(w.records().map((r) => r.id), [id], 'ended at once: nothing of it ever ran inside');
  t.equal(client.alive(), false);
  client.close();
  t.equal(w.procs.openHandles, 0, 'a lent handle is the lender to close');
});

t.test('the kill reason goes to the call through its own stderr, escaped; an exec client hears it over its socket', async (t) => {
  const w = world(t);
  w.procs.spawn(1, 'c1/agent', ['sh']);
  w.procs.spawn(20, 'c1/agent', ['x\u001b[2J'], 1);
  const id = w.calls.begin(w.c, 20, { name: 'x\u001b[2J', fallback: 'call' });
  t.equal(w.calls.noteKill(id, 'over its budget'), true);
  t.same(w.procs.get(20)?.stderr, ['agentcgroup: tool call x\\u001b[2J ended: over its budget\n']);
  w.procs.spawn(21, 'c1/agent', ['agentcgroup', 'exec'], 1);
  const client = w.procs.open(21)!;
  const id2 = w.calls.begin(w.c, 21, { name: 'make', fallback: 'make', handle: client });
  let notice: string | undefined;
  w.calls.attachClient(id2, (n) => (notice = n));
  w.calls.noteKill(id2, 'over its budget');
  t.same(w.procs.get(21)?.stderr, [], 'nothing written on its stderr');
  w.calls.release(id2, client);
  w.calls.finish(id2, { exit: null, signal: 'SIGKILL' });
  await w.calls.settled();
  t.match(notice, /over its budget/);
  t.equal(w.kernel.whereIs(21), 'c1/agent', 'the client is back in the agent leaf');
  t.equal(w.procs.get(21)?.oomScoreAdj, 300, "at the engine's value again");
  t.equal(w.calls.noteKill('nope', 'x'), false, 'not ours: the caller leaves the reason for exec');
  client.close();
});

t.test('after a restart: calls whose cgroups survived are followed, the others logged as lost', async (t) => {
  const w = world(t);
  w.procs.spawn(1, 'c1/agent', ['sh']);
  w.procs.spawn(20, 'c1/agent', ['a'], 1);
  w.procs.spawn(21, 'c1/agent', ['b'], 1);
  const a = w.calls.begin(w.c, 20, { fallback: 'a' });
  const b = w.calls.begin(w.c, 21, { fallback: 'b' });
  w.calls.forget(w.c); // the daemon stops
  t.equal(w.events.armed, 0);
  t.equal(w.procs.openHandles, 0);
  w.procs.reap(21);
  w.fs.remove(`c1/tools/${b}`);
  const again = new CallBook(w.store, w.procs, w.events, { info: () => {}, warn: () => {} }, (f) => f());
  again.adoptRunning(w.c);
  await again.settled();
  t.same(w.records().map((r) => [r.id, r.exit]), [[b, null]], 'the lost one logged with what is known');
  t.equal(w.store.runningCalls('c1').length, 1);
  w.procs.reap(20);
  w.events.change(w.fs.path(`c1/tools/${a}`, 'cgroup.events'));
  await again.settled();
  t.same(w.records().map((r) => r.id), [b, a], 'the adopted one ends as before');
});
