// The daemon's sched_ext scheduler link: off unless asked; where it cannot run, one warning and the
// reason in status; classes per container in and out of the map; an ejection by the kernel noticed at
// the next look, reported with the kernel's reason, and not undone; stop unloads.
import t from 'tap';
import type { SchedExit, SchedExtStatus, SchedStats } from '../../../src/bpf/sched.js';
import { SCHED_STATS } from '../../../src/bpf/sched.js';
import { AgentcgroupError } from '../../../src/errors.js';
import { type SchedulerHandle, SchedulerLink, describeExit } from '../../../src/daemon/scheduler.js';
import type { SchedClass } from '../../../src/policy/schedclass.js';
import { containerClasses, toolClass } from '../../../src/policy/schedclass.js';
import type { ContainerRecord } from '../../../src/state/records.js';
import type { Watched } from '../../../src/state/watched.js';

class FakeScheduler implements SchedulerHandle {
  classes = new Map<bigint, SchedClass>();
  /** Supervisor tgids, each with whether the scheduler was attached when it was added. */
  supervisors: [number, boolean][] = [];
  failSupervisor = false;
  attached = false;
  closed = false;
  exit: SchedExit | undefined;
  failSet = false;
  readonly exitFd = 42;
  constructor(private readonly sys: { status: SchedExtStatus }) {}
  setClass(id: bigint, cls: SchedClass): void {
    if (this.failSet) throw new AgentcgroupError('bpf-map', 'map update classes: No space left on device (E2BIG)');
    this.classes.set(id, cls);
  }
  removeClass(id: bigint): boolean {
    return this.classes.delete(id);
  }
  addSupervisor(tgid: number): void {
    if (this.failSupervisor) throw new AgentcgroupError('bpf-map', 'cannot update eBPF map supervisors: Operation not permitted (EPERM)');
    this.supervisors.push([tgid, this.attached]);
  }
  attach(): void {
    this.attached = true;
    this.sys.status = { state: 'enabled', ops: 'agentcgroup', switchAll: '1', enableSeq: '1' };
  }
  stats(): SchedStats {
    const s = Object.fromEntries(SCHED_STATS.map((k) => [k, 0n])) as SchedStats;
    s.runNsAgent = 1_500_000_000n;
    s.runNsTool = 250_000_000n;
    s.runNsSupervisor = 50_000_000n;
    return s;
  }
  exitInfo(): SchedExit | undefined {
    return this.exit;
  }
  close(): void {
    this.closed = true;
    if (this.attached) this.sys.status = { ...this.sys.status, state: 'disabled', ops: '' };
    this.attached = false;
  }
}

const DISABLED: SchedExtStatus = { state: 'disabled', ops: '', switchAll: '0', enableSeq: '0' };

function watched(id: string, priority: number, agent: bigint): Watched {
  const record = { id, cgroup: `ctr/${id}`, priority } as ContainerRecord;
  return { record, fs: undefined as unknown as Watched['fs'], cgroupId: agent - 1n, agentCgroupId: agent };
}

function setup(opts: { enable?: boolean; status?: SchedExtStatus; open?: () => never; failSupervisor?: boolean; failPid?: boolean } = {}) {
  const sys = { status: opts.status ?? { ...DISABLED } };
  const log: string[] = [];
  const handles: FakeScheduler[] = [];
  const watches = new Map<number, () => void>();
  const link = new SchedulerLink(opts.enable ?? true, {
    open:
      opts.open ??
      (() => {
        const h = new FakeScheduler(sys);
        h.failSupervisor = opts.failSupervisor ?? false;
        handles.push(h);
        return h;
      }),
    sysfs: () => sys.status,
    toolsCgroupId: (c) => c.agentCgroupId + 100n,
    pid: () => {
      if (opts.failPid) throw new AgentcgroupError('pid-ns', 'this process runs in a pid namespace of its own (pid:[4026532201]), not the host\'s');
      return 4242;
    },
    opsName: 'agentcgroup',
    watch: (fd, onReady) => {
      watches.set(fd, onReady);
      return { close: () => void watches.delete(fd) };
    },
    log: { info: (l) => log.push(l), warn: (l) => log.push(`WARN ${l}`) },
  });
  return { link, sys, log, handles, watches };
}

t.test('classes: the agent leaf is agent, tools/ follows the priority rank', async (t) => {
  t.same([toolClass(0), toolClass(1), toolClass(2)], ['toolLow', 'tool', 'toolHigh']);
  t.same(containerClasses({ agent: 5n, tools: 6n }, 2), [
    [5n, 'agent'],
    [6n, 'toolHigh'],
  ]);
});

t.test('off by policy: nothing is opened and status says why', async (t) => {
  let opened = 0;
  const { link, log } = setup({
    enable: false,
    open: () => {
      opened++;
      throw new Error('not reached');
    },
  });
  link.start();
  link.follow(watched('a', 1, 10n));
  t.equal(opened, 0);
  t.same(link.snapshot(), { state: 'off', detail: 'sched_ext.enable is false', classes: 0, runSeconds: null });
  t.same(log, []);
});

t.test('running: each container classed, counted, and its classes removed when it goes', async (t) => {
  const { link, sys, log, handles, watches } = setup();
  link.start();
  t.equal(sys.status.state, 'enabled');
  t.match(log, [/system's scheduler until the daemon stops/]);
  link.follow(watched('a', 0, 10n));
  link.follow(watched('b', 2, 20n));
  const h = handles[0]!;
  t.same([...h.classes], [
    [10n, 'agent'],
    [110n, 'toolLow'],
    [20n, 'agent'],
    [120n, 'toolHigh'],
  ]);
  const s = link.snapshot();
  t.equal(s.state, 'running');
  t.equal(s.classes, 4);
  t.same(s.runSeconds, { other: 0, agent: 1.5, toolHigh: 0, tool: 0.25, toolLow: 0, supervisor: 0.05 });
  t.same(h.supervisors, [[4242, false]], "the daemon's own pid is the supervisor, before the scheduler runs");
  t.equal(s.detail, 'agentcgroup: frameworks and this daemon ahead of tool calls, tool calls by priority');
  link.unfollow('a');
  t.same([...h.classes.keys()], [20n, 120n]);
  t.equal(link.snapshot().classes, 2);
  link.stop();
  t.ok(h.closed, 'stop closes the object (the link with it)');
  t.equal(watches.size, 0, 'the exit ring is no longer watched');
  t.equal(sys.status.state, 'disabled');
  t.equal(link.snapshot().state, 'off');
  link.follow(watched('c', 1, 30n));
  t.equal(h.classes.has(30n), false, 'nothing is classed after stop');
});

t.test('unavailable: no sched_ext, another scheduler, a load or attach failure: one warning, the reason kept', async (t) => {
  const none = setup({ status: { state: undefined, ops: undefined, switchAll: undefined, enableSeq: undefined } });
  none.link.start();
  t.same(none.link.snapshot(), { state: 'unavailable', detail: 'this kernel has no sched_ext (no /sys/kernel/sched_ext)', classes: 0, runSeconds: null });
  t.equal(none.handles.length, 0, 'nothing opened');
  t.match(none.log, [/^WARN sched_ext\.enable: the scheduler does not run, cpu\.weight alone shares the CPU: this kernel has no sched_ext/]);

  const other = setup({ status: { state: 'enabled', ops: 'scx_rusty_\u001b[31m', switchAll: '1', enableSeq: '3' } });
  other.link.start();
  t.equal(other.link.snapshot().state, 'unavailable');
  t.equal(other.link.snapshot().detail, 'another sched_ext scheduler runs (scx_rusty_\\u001b[31m)', 'its name escaped: any root program names it');

  const bad = setup({
    open: () => {
      throw new AgentcgroupError('bpf-load', 'cannot load agentsched.bpf.o: kfunc scx_bpf_now not found in kernel BTF (ESRCH)');
    },
  });
  bad.link.start();
  t.equal(bad.link.snapshot().detail, 'cannot load it: cannot load agentsched.bpf.o: kfunc scx_bpf_now not found in kernel BTF (ESRCH)');
  t.equal(bad.log.length, 1);

  const busy = setup();
  const closed: boolean[] = [];
  const busyLink = new SchedulerLink(true, {
    open: () => ({
      setClass() {},
      addSupervisor() {},
      removeClass: () => false,
      attach() {
        throw new AgentcgroupError('bpf-attach', 'bpf_link_create: Device or resource busy (EBUSY)');
      },
      stats: () => ({}) as SchedStats,
      exitInfo: () => undefined,
      exitFd: 7,
      close: () => void closed.push(true),
    }),
    sysfs: () => DISABLED,
    toolsCgroupId: () => 1n,
    pid: () => 1,
    opsName: 'agentcgroup',
    watch: () => ({ close() {} }),
    log: { info() {}, warn() {} },
  });
  busyLink.start();
  t.equal(busyLink.snapshot().detail, "cannot make it the system's scheduler: bpf_link_create: Device or resource busy (EBUSY)");
  t.same(closed, [true], 'the loaded object is freed when attach fails');
  t.equal(busy.handles.length, 0);
});

t.test('ejected by the kernel: seen at the next look, its reason reported once, not re-attached', async (t) => {
  const { link, sys, log, handles } = setup();
  link.start();
  link.follow(watched('a', 1, 10n));
  const h = handles[0]!;
  // sysrq S: the kernel disables the BPF scheduler; ops.exit recorded why.
  sys.status = { ...sys.status, state: 'disabled', ops: '' };
  h.exit = { kind: 67, exitCode: 0n, reason: 'disabled by sysrq-S', msg: '' };
  const s = link.snapshot();
  t.same(s, { state: 'ejected', detail: 'the kernel stopped it: disabled by sysrq-S', classes: 0, runSeconds: null });
  t.ok(h.closed, 'the object is freed');
  t.equal(log.filter((l) => l.startsWith('WARN')).length, 1);
  t.match(log.at(-1), /the kernel stopped it: disabled by sysrq-S; tasks are back on the fair class/);
  link.snapshot();
  link.follow(watched('b', 1, 20n));
  t.equal(log.filter((l) => l.startsWith('WARN')).length, 1, 'said once');
  t.equal(handles.length, 1, 'not loaded again');
  t.equal(link.snapshot().state, 'ejected');
  link.stop();
  t.equal(link.snapshot().state, 'ejected', 'stop after an ejection keeps the reason');
});

t.test('an ejection is said when the exit ring turns readable, with no status asked', async (t) => {
  const { link, sys, log, handles, watches } = setup();
  link.start();
  t.same([...watches.keys()], [42], "the scheduler's exit ring is watched while it runs");
  sys.status = { ...sys.status, state: 'disabling' };
  handles[0]!.exit = { kind: 1026, exitCode: 0n, reason: 'runnable task stall', msg: 'node[7] failed to run for 5.1s' };
  watches.get(42)!();
  t.match(log.at(-1), /^WARN sched_ext: the kernel stopped it: runnable task stall: node\[7\] failed to run for 5\.1s; tasks are back on the fair class/);
  t.ok(handles[0]!.closed);
  t.equal(watches.size, 0, 'unwatched before its fd is closed');
  t.equal(link.snapshot().state, 'ejected');
});

t.test('a container whose classes cannot be set runs unclassed, with one warning', async (t) => {
  const { link, log, handles } = setup();
  link.start();
  handles[0]!.failSet = true;
  link.follow(watched('a', 1, 10n));
  t.match(log.at(-1), /^WARN container a: sched_ext: cannot class its cgroups, its framework gets no precedence: map update classes/);
  t.equal(link.snapshot().classes, 0);
  link.unfollow('a');
});

t.test("describeExit: the kernel's reason and message, bounded and escaped; else the kind", async (t) => {
  t.equal(describeExit(undefined), 'the kernel stopped it (no reason recorded)');
  t.equal(describeExit({ kind: 1026, exitCode: 0n, reason: 'runnable task stall', msg: 'node[123] failed to run for 5.2s' }), 'the kernel stopped it: runnable task stall: node[123] failed to run for 5.2s');
  t.equal(describeExit({ kind: 9999, exitCode: 0n, reason: '', msg: '' }), 'the kernel stopped it: exit kind 9999');
  t.equal(describeExit({ kind: 1024, exitCode: 0n, reason: 'x\ny', msg: '' }), 'the kernel stopped it: x\\u000ay');
  t.equal(describeExit({ kind: 1026, exitCode: 0n, reason: '', msg: '' }), 'the kernel stopped it: a task stalled', 'no reason: the kind, where it is the same on every kernel');
});

t.test('the daemon cannot be put in the supervisor class: one warning, status says so, the scheduler runs', async (t) => {
  const cases: [string, { failSupervisor?: boolean; failPid?: boolean }, RegExp][] = [
    ['the map refuses it', { failSupervisor: true }, /cannot update eBPF map supervisors: Operation not permitted \(EPERM\)$/],
    ['its own pid is unknown to BPF (a pid namespace of its own)', { failPid: true }, /runs in a pid namespace of its own \(pid:\[4026532201\]\), not the host's$/],
  ];
  for (const [what, opts, why] of cases) {
    const { link, log, handles } = setup(opts);
    link.start();
    t.equal(handles[0]!.attached, true, `${what}: attached all the same`);
    t.same(handles[0]!.supervisors, [], `${what}: no supervisor`);
    t.equal(link.snapshot().state, 'running');
    t.equal(link.snapshot().detail, 'agentcgroup: frameworks ahead of tool calls, this daemon scheduled as a host task, tool calls by priority');
    t.equal(log.length, 2);
    t.match(log[0], /^WARN sched_ext: cannot put the daemon in the supervisor class, it waits with tool calls for CPU: /, what);
    t.match(log[0], why, what);
  }
});
