// The tracker router against a simulated kernel and /proc: what a held exec becomes, and that every
// held process is continued exactly once whatever the decision or its failure.
import t from 'tap';
import type { TrackerEvent } from '../../../src/bpf/tracker.js';
import { Cgroupfs } from '../../../src/cgroup/cgroupfs.js';
import { DEFAULT_POLICY } from '../../../src/config/policy.js';
import { type CallSink, TrackerRouter } from '../../../src/daemon/router.js';
import type { ContainerRecord } from '../../../src/state/records.js';
import type { Watched } from '../../../src/state/watched.js';
import type { ProcStat, ProcessOps } from '../../../src/sys/procfs.js';
import { FakeKernel } from '../../fixtures/fakekernel.js';

interface FakeProc {
  argv: string[];
  stat: ProcStat;
  cgroup: string;
}

function world() {
  const kernel = new FakeKernel('/cg');
  const fs = new Cgroupfs('/cg', kernel);
  fs.create('c1');
  fs.create('c1/agent');
  fs.create('c1/tools');
  const record = { id: 'c1', cgroup: 'c1', pid: 1, framework: [...DEFAULT_POLICY.tracker.framework] } as ContainerRecord;
  const c: Watched = { record, fs, cgroupId: 100n, agentCgroupId: 101n };
  const procs = new Map<number, FakeProc>();
  const resumed: number[] = [];
  const ops: ProcessOps = {
    open: () => undefined,
    cmdline: (pid) => procs.get(pid)?.argv,
    comm: (pid) => procs.get(pid)?.argv[0]?.split('/').pop()?.slice(0, 15),
    stat: (pid) => procs.get(pid)?.stat,
    cgroup: (pid) => procs.get(pid)?.cgroup,
    resume: (pid) => {
      resumed.push(pid);
      const p = procs.get(pid);
      if (p) p.stat.state = 'S';
      return p !== undefined;
    },
  };
  const begun: { pid: number; startedBy: string }[] = [];
  let failBegin = false;
  const calls: CallSink = {
    begin: (_c, pid, given) => {
      if (failBegin) throw new Error('EBUSY');
      begun.push({ pid, startedBy: `${given.startedBy?.role}:${given.startedBy?.name}` });
      return `call-${pid}`;
    },
    join: () => {},
    noteExit: () => {},
    onEnded: () => {},
  };
  const log: string[] = [];
  const router = new TrackerRouter(calls, ops, { info: (l) => log.push(l), warn: (l) => log.push(`WARN ${l}`) });
  router.follow(c);
  const spawn = (pid: number, ppid: number, argv: string[], opts: { state?: string; tty?: number; pgrp?: number } = {}) => {
    procs.set(pid, { argv, cgroup: '/c1/agent', stat: { state: opts.state ?? 'S', ppid, pgrp: opts.pgrp ?? 1, ttyNr: opts.tty ?? 0 } });
    kernel.spawnAt('c1/agent', pid);
  };
  const event = (type: TrackerEvent['type'], pid: number, ppid: number, held = false): TrackerEvent => ({
    type,
    tsNs: 1n,
    cgroupId: 101n,
    watchId: 100n,
    pid,
    tgid: pid,
    ppid,
    exitCode: 0,
    comm: procs.get(pid)?.argv[0]?.split('/').pop() ?? '',
    filename: procs.get(pid)?.argv[0] ?? '',
    held,
  });
  return { c, router, spawn, event, resumed, begun, log, fail: () => (failBegin = true) };
}

t.test('tini, then the framework, then its call: each held exec continued once, the call begun first', async (t) => {
  const w = world();
  w.spawn(1, 0, ['/usr/bin/tini', '--', 'python3', 'agent.py']);
  w.router.onEvent(w.event('exec', 1, 0, true));
  w.spawn(7, 1, ['python3', 'agent.py']);
  w.router.onEvent(w.event('fork', 7, 1));
  w.router.onEvent(w.event('exec', 7, 1, true));
  w.spawn(9, 7, ['bash', '-c', 'pytest']);
  w.router.onEvent(w.event('fork', 9, 7));
  w.router.onEvent(w.event('exec', 9, 7, true));
  t.same(w.resumed, [1, 7, 9]);
  t.same(w.begun, [{ pid: 9, startedBy: 'framework:python3' }]);
  t.same(w.router.roles(w.c).map((r) => `${r.role}:${r.name}`), ['launcher:tini', 'framework:python3']);
});

t.test('a held process is continued even when its call cannot be begun, and for a container not followed', async (t) => {
  const w = world();
  w.spawn(1, 0, ['/usr/bin/tini', '--', 'python3', 'agent.py']);
  w.spawn(7, 1, ['python3', 'agent.py']);
  w.router.onEvent(w.event('exec', 7, 1, true));
  w.fail();
  w.spawn(9, 7, ['bash', '-c', 'x']);
  w.router.onEvent(w.event('exec', 9, 7, true));
  t.same(w.resumed, [7, 9]);
  t.match(w.log.join('\n'), /WARN container c1: cannot start a call for process 9: EBUSY/);
  w.router.unfollow(w.c);
  w.spawn(11, 7, ['ls']);
  w.router.onEvent(w.event('exec', 11, 7, true));
  t.same(w.resumed, [7, 9, 11], 'not followed any more, still continued');
});

t.test('an exec not held is never continued by us', async (t) => {
  const w = world();
  w.spawn(1, 0, ['/usr/bin/tini', '--', 'python3', 'agent.py']);
  w.spawn(7, 1, ['python3', 'agent.py']);
  w.router.onEvent(w.event('exec', 7, 1, false));
  t.same(w.resumed, []);
});

t.test('sweep after a restart: calls found in the agent leaf are begun and what a dead daemon held goes on', async (t) => {
  const w = world();
  w.spawn(1, 0, ['/usr/bin/tini', '--', 'python3', 'agent.py']);
  w.spawn(7, 1, ['python3', 'agent.py']);
  w.spawn(8, 7, ['python3', 'agent.py']); // a worker the framework forked: the same command line
  w.spawn(9, 7, ['bash', '-c', 'make'], { state: 'T' });
  w.spawn(12, 7, ['vim'], { state: 'T', tty: 34816, pgrp: 12 }); // stopped in a terminal job: the job's own
  w.router.sweep(w.c);
  t.same(w.begun.map((b) => b.pid), [9, 12]);
  t.same(w.resumed, [9], 'only the stop a hold could have left');
  t.same(w.router.roles(w.c).map((r) => `${r.pid}:${r.role}`), ['1:launcher', '7:framework']);
});

t.test('an exec outside the agent leaf (inside a call) decides nothing and adds nothing to the roles', async (t) => {
  const w = world();
  w.spawn(1, 0, ['/bin/sleep', '900']);
  w.router.onEvent(w.event('exec', 1, 0, true));
  w.spawn(40, 4000, ['/bin/sh']);
  w.router.onEvent({ ...w.event('exec', 40, 4000, false), cgroupId: 555n });
  t.same(w.begun, []);
  t.same(w.router.roles(w.c).map((r) => `${r.pid}:${r.role}`), ['1:framework']);
});
