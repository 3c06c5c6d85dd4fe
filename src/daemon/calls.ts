import { constants } from 'node:os';
import { basename } from 'node:path';
import { parseCount, parseFlatKeyed } from '../cgroup/stats.js';
import { AGENT_LEAF, TOOLS_PARENT } from '../layout.js';
import { AgentcgroupError, describeError } from '../errors.js';
import { createCallCgroup, finishCallCgroupAsync, newCallId } from '../exec/callcgroup.js';
import { NO_STATS, callNotice, finishedRecord } from '../exec/record.js';
import { type CallRecord, type LadderRecord, type RunningCall, type StateStore, callOomScoreAdj } from '../state/records.js';
import { settleCall } from '../state/settle.js';
import type { Watched } from '../state/watched.js';
import type { ProcHandle, ProcessOps } from '../sys/procfs.js';
import { oneLine } from '../text.js';
import type { Closable, KernelEvents } from './kernelevents.js';

interface Live {
  call: RunningCall;
  container: Watched;
  cg: string;
  watcher: Closable | undefined;
  /** The leader, by pidfd: what the kill reason is written through. Closed at the end unless lent. */
  leader: ProcHandle | undefined;
  ownsLeader: boolean;
  /** Raw wait status of the leader, from the tracker's exit event. */
  status?: number;
  /** Set for calls a client began over the exec socket: it ends them. */
  onFinish?: (notice: string | undefined) => void;
  /** Set when the supervisor ended the call: goes into its record. */
  reason?: string;
  /** Set when the supervisor froze it or reclaimed its memory: goes into its record. */
  ladder?: LadderRecord;
}

export interface Log {
  info(line: string): void;
  warn(line: string): void;
}

/** A wait status split the way a shell reports it. */
function splitStatus(status: number | undefined): { exit: number | null; signal: string | null } {
  if (status === undefined) return { exit: null, signal: null };
  const sig = status & 0x7f;
  if (sig === 0) return { exit: (status >> 8) & 0xff, signal: null };
  const name = Object.entries(constants.signals).find(([, n]) => n === sig)?.[0];
  return { exit: null, signal: name ?? `SIG${sig}` };
}

/**
 * Tool calls the daemon owns: it made their cgroup and moved their first process in, and it ends
 * them when the cgroup empties (inotify on cgroup.events: no polling). The marker in the run dir
 * lets a restarted daemon adopt them again.
 */
export class CallBook {
  private readonly live = new Map<string, Live>();
  /** Every process known to be part of a live call: its leader and what it forked before the move. */
  private readonly members = new Map<number, string>();
  /** Calls ended whose stragglers and record are still being seen to. */
  private readonly settling = new Set<Promise<void>>();
  /** Drains pending tracker events, so an exit status is known before a call is logged. */
  flushEvents: () => void = () => {};
  private readonly endedListeners: ((callId: string, container: Watched, logged: CallRecord | undefined) => void)[] = [];

  constructor(
    private readonly store: StateStore,
    /** Bounded reads of the container's processes (a cmdline is theirs to make huge), and pidfds. */
    private readonly procs: Pick<ProcessOps, 'cmdline' | 'cgroup' | 'open'>,
    private readonly events: Pick<KernelEvents, 'watch'>,
    private readonly log: Log,
    /** Runs a check on a later turn of the event loop. */
    private readonly later: (fn: () => void) => void = setImmediate,
  ) {}

  /** Told after a call's record is written; `logged`: the record, when this daemon wrote it (not a teardown before it). */
  onEnded(listener: (callId: string, container: Watched, logged: CallRecord | undefined) => void): void {
    this.endedListeners.push(listener);
  }

  list(): RunningCall[] {
    return [...this.live.values()].map((l) => l.call);
  }

  callOfMember(pid: number): string | undefined {
    return this.members.get(pid);
  }

  leaderOf(callId: string): number | undefined {
    return this.live.get(callId)?.call.leader;
  }

  /**
   * Starts a call around a process that already runs in the agent leaf. Without a name it is named
   * after its argv[0] (busybox applets all exec /proc/self/exe), else after `fallback`. Returns its id.
   * `handle`, when given, is the caller's pidfd on `pid` (the exec socket's peer): used, not closed.
   */
  begin(
    container: Watched,
    pid: number,
    given: {
      name?: string;
      argv?: string[];
      fallback: string;
      forkNs?: bigint;
      execNs?: bigint;
      held?: boolean;
      startedBy?: RunningCall['startedBy'];
      handle?: ProcHandle;
    },
  ): string {
    const rec = container.record;
    const leader = given.handle ?? this.procs.open(pid);
    const argv = given.argv ?? this.procs.cmdline(pid) ?? [given.fallback];
    const name = given.name ?? (basename(argv[0] ?? '') || given.fallback);
    const callId = newCallId(name);
    const cg = createCallCgroup(container.fs, rec.cgroup, callId, rec.tool);
    const agentMemory = this.agentMemory(container);
    const call: RunningCall = {
      callId,
      name,
      argv,
      cgroup: `/${cg}`,
      start: new Date().toISOString(),
      limits: { high: rec.tool.memoryHigh, max: rec.tool.memoryMax },
      owner: 'daemon',
      leader: pid,
      ...(given.startedBy ? { startedBy: given.startedBy } : {}),
      ...(agentMemory === undefined ? {} : { agentMemory }),
    };
    this.store.markRunning(rec.id, call);
    const live: Live = { call, container, cg, watcher: undefined, leader, ownsLeader: given.handle === undefined };
    this.live.set(callId, live);
    this.members.set(pid, callId);
    if (this.tryMove(container, cg, leader, pid)) {
      // Same clock as the tracker's bpf_ktime_get_ns (CLOCK_MONOTONIC).
      const movedNs = process.hrtime.bigint();
      if (given.execNs !== undefined) {
        const us = (from: bigint) => Number((movedNs - from) / 1000n);
        call.placement = { afterForkUs: given.forkNs === undefined ? null : us(given.forkNs), afterExecUs: us(given.execNs), heldAtExec: given.held === true };
        this.store.markRunning(rec.id, call);
      }
      // It inherited the framework's (the engine's) value: a tool call sits above it, the OOM killer's first pick.
      leader?.setOomScoreAdj(callOomScoreAdj(rec));
    } else this.members.delete(pid);
    this.watchEmpty(live);
    return callId;
  }

  /** The supervisor is about to kill a daemon-owned call: remember why, and tell the call itself. */
  noteKill(callId: string, reason: string): boolean {
    const l = this.live.get(callId);
    if (!l) return false;
    l.reason = reason;
    // The agent reads its tool's stderr: the reason goes where a bare SIGKILL would leave nothing. An
    // exec client is told over its socket instead (the notice it prints).
    if (l.leader && !l.onFinish) {
      const outcome = l.leader.tellStderr(`agentcgroup: tool call ${oneLine(l.call.name, 80)} ended: ${reason}\n`);
      if (outcome !== 'written') this.log.info(`call ${l.call.callId}: kill reason not written to its stderr (${outcome})`);
    }
    return true;
  }

  /** What the supervisor did to a daemon-owned call so far; false when the call is not the daemon's. */
  noteLadder(callId: string, ladder: LadderRecord): boolean {
    const l = this.live.get(callId);
    if (!l) return false;
    l.ladder = ladder;
    return true;
  }

  /**
   * Puts another process into an existing call: a child its leader forked before the leader was moved
   * (the kernel does not move children along), or one found in the agent leaf with its parent.
   */
  join(callId: string, pid: number): void {
    const l = this.live.get(callId);
    if (!l) return;
    const handle = this.procs.open(pid);
    try {
      if (this.tryMove(l.container, l.cg, handle, pid)) this.members.set(pid, callId);
    } finally {
      handle?.close();
    }
  }

  /**
   * After a (re)start: the calls this daemon, or its previous run, began in the container. Those whose
   * cgroups still exist are followed again; the others are logged as lost.
   */
  adoptRunning(c: Watched): void {
    const tools = `${c.record.cgroup}/${TOOLS_PARENT}`;
    const present = new Set(c.fs.exists(tools) ? c.fs.children(tools) : []);
    for (const call of this.store.runningCalls(c.record.id)) {
      if (call.owner !== 'daemon') continue;
      if (present.has(call.callId)) this.adopt(c, call);
      else this.settleLost(c, call);
    }
  }

  /** The agent leaf's memory.current now; undefined when it cannot be read (the call begins all the same). */
  private agentMemory(container: Watched): number | undefined {
    try {
      return parseCount(container.fs.read(`${container.record.cgroup}/${AGENT_LEAF}`, 'memory.current'));
    } catch {
      return undefined;
    }
  }

  /** After a restart: a call whose cgroup and marker survived is followed again. */
  private adopt(container: Watched, call: RunningCall): void {
    const cg = call.cgroup.replace(/^\/+/, '');
    // The leader's pid is not trusted after a restart (it may name another process by now).
    const live: Live = { call, container, cg, watcher: undefined, leader: undefined, ownsLeader: false };
    this.live.set(call.callId, live);
    this.watchEmpty(live);
  }

  /**
   * A marker whose cgroup is gone: a previous daemon removed it and died before logging the call. It
   * is logged now with what is still known (no stats, no exit status), so no call goes unrecorded.
   */
  private settleLost(container: Watched, call: RunningCall): void {
    const id = container.record.id;
    settleCall(this.store, finishedRecord(call, id, NO_STATS, { exit: null, signal: null, end: new Date() }), id, (line) => this.log.warn(line));
  }

  /** The exec socket's client ends its call explicitly (and its own process is still inside). */
  attachClient(callId: string, onFinish: (notice: string | undefined) => void): RunningCall | undefined {
    const l = this.live.get(callId);
    if (!l) return undefined;
    l.onFinish = onFinish;
    return l.call;
  }

  noteExit(pid: number, status: number): void {
    const callId = this.members.get(pid);
    if (callId === undefined) return;
    this.members.delete(pid);
    const l = this.live.get(callId);
    if (l && l.call.leader === pid) l.status = status;
  }

  rename(callId: string, name: string, argv: string[]): void {
    const l = this.live.get(callId);
    if (!l) return;
    l.call.name = name;
    l.call.argv = argv;
    this.store.markRunning(l.container.record.id, l.call);
  }

  /** Moves a (client) process out of its call, back to the agent leaf, at the engine's oom_score_adj again. */
  release(callId: string, client: ProcHandle): void {
    const l = this.live.get(callId);
    if (!l || !this.tryMove(l.container, `${l.container.record.cgroup}/${AGENT_LEAF}`, client, client.pid)) return;
    const engine = l.container.record.oomScoreAdj?.engine;
    if (engine !== undefined) client.setOomScoreAdj(engine);
  }

  /**
   * Ends a call: stats, stragglers killed, cgroup removed, record appended. Idempotent: the call stops
   * being live at once; killing stragglers is waited for on inotify, never on this thread.
   */
  finish(callId: string, end?: { exit: number | null; signal: string | null }): void {
    const l = this.live.get(callId);
    if (!l) return;
    if (!end) this.flushEvents();
    this.drop(callId, l);
    const result = end ?? splitStatus(l.status);
    const done = this.settle(l, result).catch((err) => this.log.warn(`call ${callId}: ${describeError(err)}`));
    this.settling.add(done);
    void done.finally(() => this.settling.delete(done));
  }

  /** Every call ended so far has its record: for an orderly stop, and for tests. */
  async settled(): Promise<void> {
    while (this.settling.size > 0) await Promise.all([...this.settling]);
  }

  private async settle(l: Live, result: { exit: number | null; signal: string | null }): Promise<void> {
    const callId = l.call.callId;
    let stats = NO_STATS;
    try {
      stats = await finishCallCgroupAsync(l.container.fs, l.cg);
    } catch (err) {
      // Removed already by a finalizer (its container ended): nothing to report.
      if (!(err instanceof AgentcgroupError && err.code === 'cgroup-enoent')) this.log.warn(`call ${callId}: ${describeError(err)}`);
    }
    const rec = finishedRecord(l.call, l.container.record.id, stats, { ...result, end: new Date() }, l.reason, l.ladder);
    // Unless the container's teardown logged it as cut off first: one record per call.
    const ours = settleCall(this.store, rec, l.container.record.id, (line) => this.log.warn(line));
    const notice = callNotice(rec);
    if (notice) this.log.info(notice.replace(/^agentcgroup: /, `container ${l.container.record.id}: `));
    l.onFinish?.(notice);
    for (const listener of this.endedListeners) listener(callId, l.container, ours ? rec : undefined);
  }

  /** The container is gone (its cgroup with it): stop watching its calls; poststop logs them as cut off. */
  forget(container: Watched): void {
    for (const [id, l] of this.live) if (l.container === container) this.drop(id, l);
  }

  /** No longer live: its watch, its members and its pidfd go. */
  private drop(callId: string, l: Live): void {
    this.live.delete(callId);
    l.watcher?.close();
    if (l.ownsLeader) l.leader?.close();
    for (const [pid, id] of this.members) if (id === callId) this.members.delete(pid);
  }

  private watchEmpty(l: Live): void {
    const check = () => {
      try {
        if (parseFlatKeyed(l.container.fs.read(l.cg, 'cgroup.events')).populated === 0 && !l.onFinish) this.finish(l.call.callId);
      } catch {
        // The cgroup vanished with its container; forget() or poststop handles the rest.
      }
    };
    const events = l.container.fs.path(l.cg, 'cgroup.events');
    try {
      l.watcher = this.events.watch(events, check);
    } catch (err) {
      this.log.warn(`call ${l.call.callId}: cannot watch ${events}: ${describeError(err)}`);
    }
    // The process may have ended between the move and the watch; checked on the next turn, not inside
    // the tracker callback that began the call.
    this.later(check);
  }

  /**
   * Moves one process of the container into `cg`. False when it could not be moved: it has exited
   * (no news), or it is not the container's (never moved: its pid was the container's process's
   * once). The pidfd is checked around every step, so the pid written is the process that was checked.
   */
  private tryMove(container: Watched, cg: string, handle: ProcHandle | undefined, pid: number): boolean {
    if (!handle?.alive()) return false;
    const where = this.procs.cgroup(pid);
    if (!handle.alive()) return false;
    if (where === undefined || !where.startsWith(`/${container.record.cgroup}/`)) {
      this.log.warn(`container ${container.record.id}: process ${pid} is not the container's (it is in ${oneLine(where ?? 'no cgroup', 200)}): not moved`);
      return false;
    }
    try {
      container.fs.movePid(cg, pid);
    } catch (err) {
      if (!(err instanceof AgentcgroupError && err.code === 'cgroup-esrch')) this.log.warn(`cannot move process ${pid} to ${cg}: ${describeError(err)}`);
      return false;
    }
    // Reaped within the write: the pid may have been the next process's by then. Its pid numbers
    // come round only after the whole pid space, so this is news worth a line, not a routine case.
    if (!handle.alive()) this.log.warn(`container ${container.record.id}: process ${pid} exited while it was moved to ${cg}`);
    return true;
  }
}
