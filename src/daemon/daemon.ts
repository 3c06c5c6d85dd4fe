import { type FSWatcher, existsSync, statSync, watch } from 'node:fs';
import { dirname, join } from 'node:path';
import { trackerObjectPath } from '../bpf/object-path.js';
import { Tracker } from '../bpf/tracker.js';
import { Cgroupfs } from '../cgroup/cgroupfs.js';
import type { Policy } from '../config/types.js';
import { describeError } from '../errors.js';
import type { HostEnv } from '../host/env.js';
import { AGENT_LEAF, TOOLS_PARENT } from '../layout.js';
import { sweepStale } from '../lifecycle/finalize.js';
import { SnapshotCollector } from '../metrics/collect.js';
import { type MetricsListener, serveMetrics } from '../metrics/http.js';
import { renderPrometheus } from '../metrics/prometheus.js';
import type { DaemonSnapshot } from '../metrics/snapshot.js';
import { clearNoticeMarker } from '../state/notice.js';
import { adminSocketPath } from '../state/paths.js';
import { StateStore } from '../state/records.js';
import type { Watched } from '../state/watched.js';
import { EPOLLIN } from '../sys/libc.js';
import { type ProcessOps, procfs } from '../sys/procfs.js';
import { answerAdmin } from './admin.js';
import { CallBook, type Log } from './calls.js';
import { serveExec } from './execserver.js';
import { TrackerRouter } from './router.js';
import { type LineServer, serveLines } from './sockets.js';
import { Supervisor } from './supervisor.js';
import { FdWaiter } from './waiter.js';

interface Entry extends Watched {
  exec: LineServer | undefined;
}

/**
 * The supervisor: follows carved containers (their records appear and vanish in the run dir), puts
 * every tool call the tracker sees into its own cgroup, serves the admin and exec sockets. It waits
 * only on epoll (ring buffer) and inotify (records, cgroup.events): no timers, no children.
 */
export class Daemon {
  private readonly store: StateStore;
  private readonly containers = new Map<string, Entry>();
  private readonly calls: CallBook;
  private readonly waiter = new FdWaiter();
  private readonly supervisor: Supervisor;
  private readonly procs: ProcessOps;
  private readonly router: TrackerRouter;
  private tracker: Tracker | undefined;
  private admin: LineServer | undefined;
  private recordsWatcher: FSWatcher | undefined;
  /**
   * Where a container's end shows, by path: the directory holding its cgroup (C removed) and its agent
   * leaf's cgroup.events (init and all in its pid namespace gone). Either wakes a sync, which sweeps.
   */
  private readonly endWatchers = new Map<string, FSWatcher>();
  private syncing = Promise.resolve();
  private readonly collector = new SnapshotCollector();
  private metrics: MetricsListener | undefined;

  constructor(
    private readonly policy: Policy,
    private readonly host: HostEnv,
    private readonly log: Log,
  ) {
    this.store = new StateStore(policy.paths.runDir, policy.paths.callLogDir);
    this.procs = procfs(host.procRoot);
    this.calls = new CallBook(this.store, host.procRoot, this.procs, log);
    this.calls.flushEvents = () => this.drainTracker();
    this.router = new TrackerRouter(this.calls, this.procs, log);
    this.supervisor = new Supervisor(policy, host.procRoot, this.waiter, () => [...this.containers.values()], this.calls, this.store, log);
    this.waiter.onError = (err) => log.warn(`event handling: ${describeError(err)}`);
  }

  async start(bpfObject = trackerObjectPath()): Promise<void> {
    const runDir = this.policy.paths.runDir;
    this.store.ensureDirs();
    try {
      this.tracker = Tracker.open(bpfObject);
      const tracker = this.tracker;
      this.waiter.add(tracker.epollFd, EPOLLIN, () => this.drainTracker());
    } catch (err) {
      this.log.warn(`eBPF tracker unavailable, tool calls are separated only through agentcgroup exec: ${describeError(err)}`);
    }
    clearNoticeMarker(runDir);
    this.supervisor.start();
    this.admin = await serveLines(adminSocketPath(runDir), 0o600, (p) => (p.uid === 0 ? undefined : `uid ${p.uid} refused: the admin socket is for root`), (line, _peer, reply) =>
      reply(answerAdmin(line, { pid: process.pid, snapshot: () => this.snapshot() })),
    );
    this.recordsWatcher = watch(join(runDir, 'containers'), () => this.sync());
    await this.sync();
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
    this.log.info(`agentcgroup daemon ready: ${this.containers.size} container(s), tracker ${this.tracker ? 'on' : 'off'}`);
  }

  async stop(): Promise<void> {
    // Nothing new is held once the programs are detached; what the ring still holds is continued,
    // and a sweep continues anything a racing exec stopped after the last event was read.
    this.tracker?.detach();
    this.drainTracker();
    for (const c of this.containers.values()) this.router.continueStranded(c);
    this.recordsWatcher?.close();
    for (const path of [...this.endWatchers.keys()]) this.forgetEnd(path);
    await this.syncing;
    this.supervisor.stop();
    for (const id of [...this.containers.keys()]) await this.removeContainer(id);
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
        containers: [...this.containers.values()],
        runningCalls: (id) => this.store.runningCalls(id),
        counters: sup.tally,
        isStalled: (key) => sup.isStalled(key),
        roles: (c) => this.router.roles(c),
        tracker: this.tracker !== undefined,
      },
      new Date(),
    );
  }

  private draining = false;

  /**
   * Not re-entrant: libbpf advances the ring only after a callback returns, so consuming again from
   * inside one (a call ending while an event is handled) would deliver the same event again.
   */
  private drainTracker(): void {
    if (this.draining || !this.tracker) return;
    this.draining = true;
    try {
      this.tracker.consume((e) => this.router.onEvent(e));
    } finally {
      this.draining = false;
    }
  }

  /** Serialized: the records watcher can fire while a previous sync is still creating sockets. */
  private sync(): Promise<void> {
    this.syncing = this.syncing.then(() => this.syncNow()).catch((err) => this.log.warn(`sync: ${describeError(err)}`));
    return this.syncing;
  }

  private async syncNow(): Promise<void> {
    // Containers that ended are finalized here too: their poststop may have been killed, or never run.
    const swept = sweepStale(this.store, this.host);
    for (const id of swept.finalized) this.log.info(`container ${id} ended: calls still running logged as cut off, its state removed`);
    for (const w of swept.warnings) this.log.warn(w);
    const ids = new Set(this.store.containerIds());
    for (const id of [...this.containers.keys()]) if (!ids.has(id)) await this.removeContainer(id);
    for (const id of ids) if (!this.containers.has(id)) await this.addContainer(id);
  }

  private async addContainer(id: string): Promise<void> {
    let entry: Entry;
    try {
      const record = this.store.loadContainer(id);
      // Still being carved: the hook rewrites the record when done, and that change brings us back.
      if (!record || record.state !== 'carved') return;
      const fs = new Cgroupfs(record.cgroupRoot, this.host.fsOps);
      const ino = (cg: string) => statSync(fs.path(cg), { bigint: true }).ino;
      entry = { record, fs, cgroupId: ino(record.cgroup), agentCgroupId: ino(`${record.cgroup}/${AGENT_LEAF}`), exec: undefined };
    } catch (err) {
      // A record whose cgroup is gone belongs to a container being torn down: poststop will remove it.
      this.log.warn(`container ${id}: not followed: ${describeError(err)}`);
      return;
    }
    this.containers.set(id, entry);
    this.watchEnd(dirname(entry.fs.path(entry.record.cgroup)));
    this.watchEnd(entry.fs.path(`${entry.record.cgroup}/${AGENT_LEAF}`, 'cgroup.events'));
    this.tracker?.watch(entry.cgroupId);
    this.router.follow(entry);
    if (this.policy.tracker.hold) this.tracker?.holdIn(entry.agentCgroupId);
    this.adoptCalls(entry);
    this.router.sweep(entry);
    this.supervisor.follow(entry);
    try {
      entry.exec = await serveExec(entry, { runDir: this.policy.paths.runDir, calls: this.calls, procs: this.procs, drainTracker: () => this.drainTracker(), log: this.log });
    } catch (err) {
      this.log.warn(`container ${id}: exec socket unavailable: ${describeError(err)}`);
    }
  }

  private async removeContainer(id: string): Promise<void> {
    const c = this.containers.get(id);
    if (!c) return;
    this.containers.delete(id);
    this.forgetEnd(c.fs.path(`${c.record.cgroup}/${AGENT_LEAF}`, 'cgroup.events'));
    this.tracker?.release(c.agentCgroupId);
    this.tracker?.unwatch(c.cgroupId);
    this.router.unfollow(c);
    this.supervisor.unfollow(id);
    this.calls.forget(c);
    await c.exec?.close();
  }

  private watchEnd(path: string): void {
    if (this.endWatchers.has(path)) return;
    try {
      const w = watch(path, () => {
        // Gone with its cgroup; a budget cgroup made again later is watched afresh.
        if (!existsSync(path)) this.forgetEnd(path);
        void this.sync();
      });
      w.on('error', () => this.forgetEnd(path));
      this.endWatchers.set(path, w);
    } catch (err) {
      this.log.warn(`cannot watch ${path} for containers ending: ${describeError(err)}`);
    }
  }

  private forgetEnd(path: string): void {
    this.endWatchers.get(path)?.close();
    this.endWatchers.delete(path);
  }

  /** Calls this daemon (or its previous run) began and whose cgroups still exist are followed again. */
  private adoptCalls(c: Entry): void {
    const present = new Set(c.fs.exists(`${c.record.cgroup}/${TOOLS_PARENT}`) ? c.fs.children(`${c.record.cgroup}/${TOOLS_PARENT}`) : []);
    for (const call of this.store.runningCalls(c.record.id)) {
      if (call.owner !== 'daemon') continue;
      if (present.has(call.callId)) this.calls.adopt(c, call);
      else this.calls.settleLost(c, call);
    }
  }
}
