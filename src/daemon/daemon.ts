import { statSync } from 'node:fs';
import { join } from 'node:path';
import { trackerObjectPath } from '../bpf/object-path.js';
import { AgentScheduler, SCHED_OPS_NAME, schedExtStatus } from '../bpf/sched.js';
import { TrackerPump } from '../bpf/pump.js';
import { Tracker } from '../bpf/tracker.js';
import { Cgroupfs } from '../cgroup/cgroupfs.js';
import type { Policy } from '../config/types.js';
import { describeError } from '../errors.js';
import { TOOLS_PARENT } from '../layout.js';
import { daemonReachable } from '../hook/daemoncheck.js';
import type { HookSpec } from '../hook/register.js';
import type { HostEnv } from '../host/env.js';
import { hostMemoryBytes, readMeminfo } from '../host/meminfo.js';
import { sweepStaleAsync } from '../lifecycle/finalize.js';
import { SnapshotCollector } from '../metrics/collect.js';
import { type MetricsListener, serveMetrics } from '../metrics/http.js';
import { renderPrometheus } from '../metrics/prometheus.js';
import type { DaemonSnapshot, UncarvedView } from '../metrics/snapshot.js';
import { ToolStats } from '../metrics/toolstats.js';
import { listUncarved } from '../state/uncarved.js';
import { clearNoticeMarker } from '../state/notice.js';
import { adminSocketPath } from '../state/paths.js';
import { StateStore } from '../state/records.js';
import type { Watched } from '../state/watched.js';
import { EPOLLIN } from '../sys/libc.js';
import { kernelPid } from '../sys/kernelpid.js';
import { viewDifference } from '../sys/procview.js';
import { type ProcessOps, procfs } from '../sys/procfs.js';
import { replyAdmin } from './admin.js';
import { type HookOpDeps, answerHook } from './hookop.js';
import { CallBook, type Log } from './calls.js';
import { serveExec } from './execserver.js';
import { type KernelEvents, kernelEvents } from './kernelevents.js';
import { NriLink } from './nrilink.js';
import { ContainerRegistry } from './registry.js';
import { SessionResizer } from './resizer.js';
import { TrackerRouter } from './router.js';
import { SchedulerLink } from './scheduler.js';
import { type LineServer, serveLines } from './sockets.js';
import { Supervisor } from './supervisor.js';
import { FdWaiter } from './waiter.js';

/**
 * The daemon, wired: the container registry follows carved containers, and for each one the tracker
 * router places tool calls as they exec, the call book keeps them, the supervisor runs the ladder, the
 * resizer makes the limits follow the engine's resizes and an exec server takes calls begun from
 * inside. Where the container runtime offers NRI, the NRI link carves and finalizes containers as the
 * runtime creates and removes them (nrilink.ts, nriagent.ts). It waits only on epoll (ring buffer, PSI
 * triggers), inotify (records, cgroup.events, C's memory.max) and the NRI socket: no timers while no
 * call runs, no connection is open and the runtime is reachable, no children.
 */
export class Daemon {
  private readonly store: StateStore;
  private readonly waiter = new FdWaiter();
  private readonly events: KernelEvents;
  private readonly procs: ProcessOps;
  private readonly calls: CallBook;
  private readonly router: TrackerRouter;
  private readonly supervisor: Supervisor;
  private readonly resizer: SessionResizer;
  private readonly registry: ContainerRegistry;
  private readonly execServers = new Map<string, LineServer>();
  private readonly collector = new SnapshotCollector();
  /** Calls that ended, per container and tool name: the metrics' histograms. */
  private readonly toolStats = new ToolStats();
  private tracker: Tracker | undefined;
  /** Drains the ring in bounded batches, yielding to the event loop between them; counts and makes up for drops. */
  private pump: TrackerPump | undefined;
  private admin: LineServer | undefined;
  private metrics: MetricsListener | undefined;
  private readonly nri: NriLink;
  /** agentcgroup's sched_ext scheduler, while policy sched_ext.enable asks for it and the kernel can run it. */
  private readonly scheduler: SchedulerLink;
  /** What a hook run for the native hook front needs (hookop.ts). */
  private readonly hookDeps: HookOpDeps;

  /** `hook`: our hook command, for containers the NRI link has carved by hooks (runtime/prepare.ts hookSpec); asked for only then. */
  constructor(
    private readonly policy: Policy,
    private readonly host: HostEnv,
    private readonly log: Log,
    hook: () => HookSpec,
  ) {
    this.store = new StateStore(policy.paths.runDir, policy.paths.callLogDir, policy.limits);
    const ownAdmin = adminSocketPath(policy.paths.runDir);
    this.hookDeps = {
      fsOps: host.fsOps,
      viewDifference: (pid) => viewDifference(pid),
      // Our own socket answers while we serve it: no connection to ourselves to find that out.
      daemonReachable: (path) => (path === ownAdmin && this.admin !== undefined ? Promise.resolve(true) : daemonReachable(path)),
    };
    this.events = kernelEvents(this.waiter);
    this.procs = procfs(host.procRoot);
    this.calls = new CallBook(this.store, this.procs, this.events, log);
    this.calls.flushEvents = () => this.drainTracker();
    this.calls.onEnded((_, c, logged) => logged && this.toolStats.note(c.record.id, logged));
    this.router = new TrackerRouter(this.calls, this.procs, log);
    const cgroupId = (fs: Cgroupfs, cg: string) => statSync(fs.path(cg), { bigint: true }).ino;
    this.scheduler = new SchedulerLink(policy.schedExt.enable, {
      open: () => AgentScheduler.open(),
      sysfs: () => schedExtStatus(),
      toolsCgroupId: (c) => cgroupId(c.fs, `${c.record.cgroup}/${TOOLS_PARENT}`),
      pid: () => kernelPid(),
      opsName: SCHED_OPS_NAME,
      watch: (fd, onReady) => {
        this.waiter.add(fd, EPOLLIN, onReady);
        return { close: () => this.waiter.remove(fd) };
      },
      log,
    });
    this.registry = new ContainerRegistry(
      {
        store: this.store,
        events: this.events,
        recordsDir: join(policy.paths.runDir, 'containers'),
        sweep: () => sweepStaleAsync(this.store, host),
        fsFor: (record) => new Cgroupfs(record.cgroupRoot, host.fsOps),
        cgroupId,
        log,
      },
      { added: (c) => this.follow(c), removed: (c) => this.unfollow(c) },
    );
    this.resizer = new SessionResizer({ events: this.events, store: this.store, hostMemory: () => hostMemoryBytes(host.procRoot), log });
    this.supervisor = new Supervisor(policy, {
      events: this.events,
      meminfo: () => readMeminfo(host.procRoot),
      containers: () => this.registry.list(),
      calls: this.calls,
      store: this.store,
      log,
      hostPressure: join(host.procRoot, 'pressure/memory'),
      sessionSeen: (c, max) => this.resizer.check(c, max),
    });
    this.waiter.onError = (err) => log.warn(`event handling: ${describeError(err)}`);
    this.nri = new NriLink({
      policy,
      store: this.store,
      host,
      hook,
      log,
      events: this.events,
      sync: () => this.registry.sync(),
      resized: (id) => {
        const c = this.registry.list().find((w) => w.record.id === id);
        if (c) this.resizer.check(c);
      },
    });
  }

  /** Resolves, once everything serves, with the one line it logs as ready (systemd's STATUS= too). */
  async start(bpfObject = trackerObjectPath()): Promise<string> {
    const runDir = this.policy.paths.runDir;
    this.store.ensureDirs();
    try {
      const tracker = Tracker.open(bpfObject);
      this.tracker = tracker;
      this.pump = new TrackerPump({
        consume: (budget) => tracker.consume((e) => this.router.onEvent(e), budget),
        drops: () => tracker.drops(),
        schedule: (fn) => void setImmediate(fn),
        rescan: (lost) => {
          this.log.warn(`eBPF tracker: ${lost} event(s) lost to a full ring buffer: rescanning the agent leaves`);
          for (const c of this.registry.list()) this.router.sweep(c);
        },
        onError: (err) => this.log.warn(`event handling: ${describeError(err)}`),
      });
      this.waiter.add(tracker.epollFd, EPOLLIN, () => this.pump?.kick());
    } catch (err) {
      this.log.warn(`eBPF tracker unavailable, tool calls are separated only through agentcgroup exec: ${describeError(err)}`);
    }
    clearNoticeMarker(runDir);
    // Before the registry: the containers it follows at start get their classes as it takes them up.
    this.scheduler.start();
    this.supervisor.start();
    this.admin = await serveLines(
      adminSocketPath(runDir),
      0o600,
      (p) => (p.uid === 0 ? undefined : `uid ${p.uid} refused: the admin socket is for root`),
      (line, peer, reply) => replyAdmin(line, { pid: process.pid, snapshot: () => this.snapshot(), hook: (msg, p) => answerHook(msg, p, this.hookDeps) }, peer, reply),
      undefined,
      { log: (l) => this.log.warn(l) },
    );
    await this.registry.start();
    // After the registry: what the runtime reports at Synchronize is checked against the records.
    await this.nri.start();
    const listen = this.policy.metrics.listen;
    if (listen) {
      try {
        this.metrics = await serveMetrics(listen, () => renderPrometheus(this.snapshot()));
        this.log.info(`metrics at ${this.metrics.url}`);
      } catch (err) {
        // The admin socket still serves them: a taken port is no reason to leave tool calls unsupervised.
        this.log.warn(`metrics.listen: cannot serve HTTP metrics: ${describeError(err)}`);
      }
    }
    const nri = this.nri.snapshot();
    const sched = this.scheduler.snapshot().state;
    const ready = `agentcgroup daemon ready: ${this.registry.list().length} container(s), tracker ${this.tracker ? 'on' : 'off'}, NRI ${nri.state} (${nri.detail}), sched_ext ${sched}`;
    this.log.info(ready);
    return ready;
  }

  async stop(): Promise<void> {
    // The runtime first: no container is carved or finalized by us once the rest is going.
    await this.nri.stop();
    // Nothing new is held once the programs are detached; what the ring still holds is continued,
    // and a sweep continues anything a racing exec stopped after the last event was read.
    this.tracker?.detach();
    this.drainTracker();
    this.pump?.stop();
    for (const c of this.registry.list()) this.router.continueStranded(c);
    this.supervisor.stop();
    await this.registry.stop();
    // After the registry: its unfollows no longer touch a map that is gone.
    this.scheduler.stop();
    await this.calls.settled();
    await this.admin?.close();
    await this.metrics?.close();
    // The poll handle goes before the tracker closes the fds it watches.
    this.waiter.close();
    this.tracker?.close();
  }

  /** Read from the cgroups now: what status --json, top and the metrics show. */
  snapshot(): DaemonSnapshot {
    const sup = this.supervisor;
    return this.collector.collect(
      {
        containers: this.registry.list(),
        runningCalls: (id) => this.store.runningCalls(id),
        counters: sup.tally,
        isStalled: (key) => sup.isStalled(key),
        roles: (c) => this.router.roles(c),
        tracker: this.tracker !== undefined,
        ...(this.pump ? { trackerCounts: () => this.pump!.counts() } : {}),
        nri: () => this.nri.snapshot(),
        tools: (id) => this.toolStats.container(id),
        uncarved: () => this.uncarved(),
        scheduler: () => this.scheduler.snapshot(),
      },
      new Date(),
    );
  }

  /**
   * Containers running uncarved, read from their records when asked (as the cgroups are); those
   * ended go on the way. One the daemon follows as carved after all is not uncarved.
   */
  private uncarved(): UncarvedView[] {
    const carved = new Set(this.registry.list().map((c) => c.record.id));
    return listUncarved(this.policy.paths.runDir, this.host.procRoot)
      .filter((u) => !carved.has(u.id))
      .map(({ id, at, stage, reason }) => ({ id, at, stage, reason }));
  }

  /** What the ring holds now, handled before going on (a call's exit status, a client's own call). */
  private drainTracker(): void {
    this.pump?.flush();
  }

  /** A container starts being followed: each part takes it up, the exec socket last. */
  private async follow(c: Watched): Promise<void> {
    // First: a resize while no daemon ran is taken up before any call is begun from the template.
    this.resizer.follow(c);
    this.tracker?.watch(c.cgroupId);
    this.router.follow(c);
    if (this.policy.tracker.hold) this.tracker?.holdIn(c.agentCgroupId);
    this.calls.adoptRunning(c);
    this.router.sweep(c);
    this.supervisor.follow(c);
    this.scheduler.follow(c);
    try {
      this.execServers.set(
        c.record.id,
        await serveExec(c, {
          runDir: this.policy.paths.runDir,
          calls: this.calls,
          procs: this.procs,
          members: (cg) => c.fs.procs(cg),
          limits: this.policy.limits,
          drainTracker: () => this.drainTracker(),
          log: this.log,
        }),
      );
    } catch (err) {
      this.log.warn(`container ${c.record.id}: exec socket unavailable: ${describeError(err)}`);
    }
  }

  private async unfollow(c: Watched): Promise<void> {
    this.tracker?.release(c.agentCgroupId);
    this.tracker?.unwatch(c.cgroupId);
    this.router.unfollow(c);
    this.supervisor.unfollow(c.record.id);
    this.scheduler.unfollow(c.record.id);
    this.resizer.unfollow(c.record.id);
    this.toolStats.forgetContainer(c.record.id);
    this.calls.forget(c);
    const exec = this.execServers.get(c.record.id);
    this.execServers.delete(c.record.id);
    await exec?.close();
  }
}
