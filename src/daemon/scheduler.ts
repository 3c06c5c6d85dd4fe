/**
 * The daemon's sched_ext scheduler (policy sched_ext.enable): loaded and made the system's scheduler
 * when the daemon starts, its class map kept in step with the containers the daemon follows (the
 * agent leaf, and tools/ by the container's priority: policy/schedclass.ts), unloaded when the daemon
 * stops. The kernel unloads it too when the daemon dies (the BPF link goes with the process, SIGKILL
 * included) and throws it out on its own if it lets a task wait 5 s (its watchdog) or an admin asks
 * (sysrq S): every task then goes back to the fair class. Such an ejection is reported (status, the
 * metrics, one warning) and not undone: a scheduler the kernel threw out once would likely be thrown
 * out again, and an admin's sysrq is meant to stick. A daemon restart loads it anew.
 *
 * Nothing here can stop the daemon: where the scheduler cannot run (no sched_ext, another scheduler,
 * a kernel without the kfuncs it needs) the daemon says why once and runs on cpu.weight alone.
 */
import type { SchedExit, SchedExtStatus, SchedStats } from '../bpf/sched.js';
import { runsOurs } from '../bpf/schedext.js';
import { describeError } from '../errors.js';
import type { SchedulerStatus } from '../metrics/snapshot.js';
import { type SchedClass, containerClasses } from '../policy/schedclass.js';
import type { Watched } from '../state/watched.js';
import { oneLine } from '../text.js';
import type { Log } from './calls.js';

/** What the daemon needs of the loaded scheduler: AgentScheduler (src/bpf/sched.ts), or a fake. */
export interface SchedulerHandle {
  setClass(cgroupId: bigint, cls: SchedClass): void;
  /** Queues a process's threads with the agent tasks (the daemon's own: tool calls wait on it). */
  addSupervisor(tgid: number): void;
  removeClass(cgroupId: bigint): boolean;
  attach(): void;
  stats(): SchedStats;
  exitInfo(): SchedExit | undefined;
  /** Readable once the scheduler stopped (ops.exit wrote its record); closed by close(). */
  readonly exitFd: number;
  close(): void;
}

export interface SchedulerDeps {
  /** Opens and loads (verifies) the scheduler; throws one line where it cannot. */
  open(): SchedulerHandle;
  /** /sys/kernel/sched_ext now (bpf/sched.ts schedExtStatus). */
  sysfs(): SchedExtStatus;
  /** The id of a container's tools/ cgroup; throws if it is gone. */
  toolsCgroupId(c: Watched): bigint;
  /** The daemon's own pid as BPF sees it (the host's pid namespace), for the supervisor class; throws one line where it cannot be known. */
  pid(): number;
  /** The ops.name our scheduler registers as, to tell it from another one in sysfs. */
  opsName: string;
  /** Calls `onReady` when `fd` turns readable (the daemon's epoll set), until closed. */
  watch(fd: number, onReady: () => void): { close(): void };
  log: Log;
}

const RUN_NS: Readonly<Record<SchedClass, keyof SchedStats>> = {
  other: 'runNsOther',
  agent: 'runNsAgent',
  toolHigh: 'runNsToolHigh',
  tool: 'runNsTool',
  toolLow: 'runNsToolLow',
  supervisor: 'runNsSupervisor',
};

/** enum scx_exit_kind values that are the same on every sched_ext kernel (those between moved in 6.13+). */
const EXIT_KINDS: Readonly<Record<number, string>> = { 64: 'unregistered', 1024: 'error', 1025: 'BPF error', 1026: 'a task stalled' };

/** One line for an ejection: the kernel's own reason and message (bounded, printable), else its kind. */
export function describeExit(e: SchedExit | undefined): string {
  if (e === undefined) return 'the kernel stopped it (no reason recorded)';
  const [reason, msg] = [e.reason, e.msg].map((s) => oneLine(s, 200));
  if (reason) return `the kernel stopped it: ${reason}${msg ? `: ${msg}` : ''}`;
  return `the kernel stopped it: ${EXIT_KINDS[e.kind] ?? `exit kind ${e.kind}`}${msg ? `: ${msg}` : ''}`;
}

export class SchedulerLink {
  #handle: SchedulerHandle | undefined;
  #exitWatch: { close(): void } | undefined;
  #status: SchedulerStatus;
  /** The cgroup ids classed per followed container, to remove them when it goes. */
  readonly #classed = new Map<string, bigint[]>();

  constructor(
    private readonly enable: boolean,
    private readonly d: SchedulerDeps,
  ) {
    this.#status = { state: 'off', detail: enable ? 'not started' : 'sched_ext.enable is false', classes: 0, runSeconds: null };
  }

  /** Loads and attaches it when the policy asks; says once why not where it cannot. */
  start(): void {
    if (!this.enable) return;
    const why = this.#cannotRun();
    if (why !== undefined) {
      this.#unavailable(why);
      return;
    }
    let handle: SchedulerHandle;
    try {
      handle = this.d.open();
    } catch (err) {
      this.#unavailable(`cannot load it: ${describeError(err)}`);
      return;
    }
    // Before attach: the daemon is never a host task under this scheduler, not even for a moment.
    let self = 'frameworks and this daemon ahead of tool calls';
    try {
      handle.addSupervisor(this.d.pid());
    } catch (err) {
      self = 'frameworks ahead of tool calls, this daemon scheduled as a host task';
      this.d.log.warn(`sched_ext: cannot put the daemon in the supervisor class, it waits with tool calls for CPU: ${describeError(err)}`);
    }
    try {
      handle.attach();
    } catch (err) {
      handle.close();
      this.#unavailable(`cannot make it the system's scheduler: ${describeError(err)}`);
      return;
    }
    this.#handle = handle;
    // An ejection is then said when it happens, not at the next status; the look below finds it.
    this.#exitWatch = this.d.watch(handle.exitFd, () => void this.#live());
    this.#status = { state: 'running', detail: `${this.d.opsName}: ${self}, tool calls by priority`, classes: 0, runSeconds: null };
    this.d.log.info(`sched_ext: agentcgroup's scheduler is the system's scheduler until the daemon stops`);
  }

  /** Classes a container's agent leaf and tools/ (nothing while the scheduler does not run). */
  follow(c: Watched): void {
    const h = this.#live();
    if (h === undefined) return;
    const id = c.record.id;
    try {
      const pairs = containerClasses({ agent: c.agentCgroupId, tools: this.d.toolsCgroupId(c) }, c.record.priority);
      const done: bigint[] = [];
      this.#classed.set(id, done);
      for (const [cg, cls] of pairs) {
        h.setClass(cg, cls);
        done.push(cg);
      }
    } catch (err) {
      // Unclassed, its tasks are scheduled like the rest of the host's: fair among themselves.
      this.d.log.warn(`container ${id}: sched_ext: cannot class its cgroups, its framework gets no precedence: ${describeError(err)}`);
    }
  }

  unfollow(containerId: string): void {
    const ids = this.#classed.get(containerId);
    this.#classed.delete(containerId);
    const h = this.#handle;
    if (h === undefined || ids === undefined) return;
    try {
      for (const cg of ids) h.removeClass(cg);
    } catch (err) {
      this.d.log.warn(`container ${containerId}: sched_ext: cannot remove its classes: ${describeError(err)}`);
    }
  }

  /** For status and the metrics: read when asked, so an ejection shows at the next look. */
  snapshot(): SchedulerStatus {
    const h = this.#live();
    if (h === undefined) return { ...this.#status };
    let runSeconds: SchedulerStatus['runSeconds'] = null;
    try {
      const s = h.stats();
      runSeconds = Object.fromEntries(Object.entries(RUN_NS).map(([cls, key]) => [cls, Number(s[key]) / 1e9])) as NonNullable<SchedulerStatus['runSeconds']>;
    } catch {
      // Counters are extra: the state stands without them.
    }
    let classes = 0;
    for (const ids of this.#classed.values()) classes += ids.length;
    return { ...this.#status, classes, runSeconds };
  }

  /** Unloads it: every task goes back to the fair class. */
  stop(): void {
    const h = this.#handle;
    if (h === undefined) return;
    this.#release(h);
    this.#status = { state: 'off', detail: 'the daemon stopped', classes: 0, runSeconds: null };
    this.d.log.info('sched_ext: scheduler unloaded, tasks are back on the fair class');
  }

  /** The handle while ours still runs; on an ejection, the reason recorded once and the object freed. */
  #live(): SchedulerHandle | undefined {
    const h = this.#handle;
    if (h === undefined) return undefined;
    const now = this.d.sysfs();
    if (runsOurs(now, this.d.opsName)) return h;
    // "enabling" cannot be ours (attach returned after the switch); anything else means it is gone.
    let exit: SchedExit | undefined;
    try {
      exit = h.exitInfo();
    } catch {
      exit = undefined;
    }
    this.#release(h);
    this.#status = { state: 'ejected', detail: describeExit(exit), classes: 0, runSeconds: null };
    this.d.log.warn(`sched_ext: ${this.#status.detail}; tasks are back on the fair class, cpu.weight alone shares the CPU until the daemon restarts`);
    return undefined;
  }

  /** Forgets and frees the object: the fd watch first, as close() closes the fd it watches. */
  #release(h: SchedulerHandle): void {
    this.#exitWatch?.close();
    this.#exitWatch = undefined;
    this.#handle = undefined;
    this.#classed.clear();
    h.close();
  }

  #cannotRun(): string | undefined {
    const now = this.d.sysfs();
    if (now.state === undefined) return 'this kernel has no sched_ext (no /sys/kernel/sched_ext)';
    if (now.state !== 'disabled' && now.ops !== undefined && now.ops !== '' && now.ops !== this.d.opsName) {
      return `another sched_ext scheduler runs (${oneLine(now.ops, 64)})`;
    }
    return undefined;
  }

  #unavailable(why: string): void {
    this.#status = { state: 'unavailable', detail: why, classes: 0, runSeconds: null };
    this.d.log.warn(`sched_ext.enable: the scheduler does not run, cpu.weight alone shares the CPU: ${why}`);
  }
}
