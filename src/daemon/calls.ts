import { type FSWatcher, readFileSync, watch, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { basename, join } from 'node:path';
import { parseFlatKeyed } from '../cgroup/stats.js';
import { AGENT_LEAF } from '../layout.js';
import { AgentcgroupError, describeError } from '../errors.js';
import { createCallCgroup, finishCallCgroup, newCallId } from '../exec/callcgroup.js';
import { NO_STATS, callNotice, finishedRecord } from '../exec/record.js';
import type { RunningCall, StateStore } from '../state/records.js';
import { settleCall } from '../state/settle.js';
import type { Watched } from '../state/watched.js';
import type { ProcessOps } from '../sys/procfs.js';

interface Live {
  call: RunningCall;
  container: Watched;
  cg: string;
  watcher: FSWatcher | undefined;
  /** Raw wait status of the leader, from the tracker's exit event. */
  status?: number;
  /** Set for calls a client began over the exec socket: it ends them. */
  onFinish?: (notice: string | undefined) => void;
  /** Set when the supervisor ended the call: goes into its record. */
  reason?: string;
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
  /** Drains pending tracker events, so an exit status is known before a call is logged. */
  flushEvents: () => void = () => {};
  private readonly endedListeners: ((callId: string, container: Watched) => void)[] = [];

  constructor(
    private readonly store: StateStore,
    private readonly procRoot: string,
    /** Bounded reads of the container's processes (a cmdline is theirs to make huge). */
    private readonly procs: Pick<ProcessOps, 'cmdline'>,
    private readonly log: Log,
  ) {}

  /** Told after a call's record is written. */
  onEnded(listener: (callId: string, container: Watched) => void): void {
    this.endedListeners.push(listener);
  }

  list(): RunningCall[] {
    return [...this.live.values()].map((l) => l.call);
  }

  callOfMember(pid: number): string | undefined {
    return this.members.get(pid);
  }

  /**
   * Starts a call around a process that already runs in the agent leaf. Without a name it is named
   * after its argv[0] (busybox applets all exec /proc/self/exe), else after `fallback`. Returns its id.
   */
  begin(
    container: Watched,
    pid: number,
    given: { name?: string; argv?: string[]; fallback: string; forkNs?: bigint; execNs?: bigint; held?: boolean; startedBy?: RunningCall['startedBy'] },
  ): string {
    const rec = container.record;
    const argv = given.argv ?? this.procs.cmdline(pid) ?? [given.fallback];
    const name = given.name ?? (basename(argv[0] ?? '') || given.fallback);
    const callId = newCallId(name);
    const cg = createCallCgroup(container.fs, rec.cgroup, callId, rec.tool);
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
    };
    this.store.markRunning(rec.id, call);
    const live: Live = { call, container, cg, watcher: undefined };
    this.live.set(callId, live);
    this.members.set(pid, callId);
    if (this.tryMove(container, cg, pid)) {
      // Same clock as the tracker's bpf_ktime_get_ns (CLOCK_MONOTONIC).
      const movedNs = process.hrtime.bigint();
      if (given.execNs !== undefined) {
        const us = (from: bigint) => Number((movedNs - from) / 1000n);
        call.placement = { afterForkUs: given.forkNs === undefined ? null : us(given.forkNs), afterExecUs: us(given.execNs), heldAtExec: given.held === true };
        this.store.markRunning(rec.id, call);
      }
      // Inherited from the framework, whose -900 keeps it safe: a tool call must be the OOM killer's first pick.
      this.tryWrite(join(this.procRoot, String(pid), 'oom_score_adj'), '0');
    }
    this.watchEmpty(live);
    return callId;
  }

  /** The supervisor is about to kill a daemon-owned call: remember why, and tell the call itself. */
  noteKill(callId: string, reason: string): boolean {
    const l = this.live.get(callId);
    if (!l) return false;
    l.reason = reason;
    // The agent reads its tool's stderr: the reason goes where a bare SIGKILL would leave nothing.
    if (l.call.leader !== undefined) {
      const line = `agentcgroup: tool call ${JSON.stringify(l.call.name)} ended: ${reason}\n`;
      // Appended: a stderr redirected to a file must not be truncated by us.
      this.tryWrite(join(this.procRoot, String(l.call.leader), 'fd/2'), line, 'a');
    }
    return true;
  }

  /**
   * Puts another process into an existing call: a child its leader forked before the leader was moved
   * (the kernel does not move children along), or one found in the agent leaf with its parent.
   */
  join(callId: string, pid: number): void {
    const l = this.live.get(callId);
    if (!l) return;
    this.members.set(pid, callId);
    this.tryMove(l.container, l.cg, pid);
  }

  /** After a restart: a call whose cgroup and marker survived is followed again. */
  adopt(container: Watched, call: RunningCall): void {
    const cg = call.cgroup.replace(/^\/+/, '');
    const live: Live = { call, container, cg, watcher: undefined };
    this.live.set(call.callId, live);
    this.watchEmpty(live);
  }

  /**
   * A marker whose cgroup is gone: a previous daemon removed it and died before logging the call. It
   * is logged now with what is still known (no stats, no exit status), so no call goes unrecorded.
   */
  settleLost(container: Watched, call: RunningCall): void {
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

  /** Moves a (client) process out of its call, back to the agent leaf. */
  release(callId: string, pid: number): void {
    const l = this.live.get(callId);
    if (l) this.tryMove(l.container, `${l.container.record.cgroup}/${AGENT_LEAF}`, pid);
  }

  /** Ends a call: stats, stragglers killed, cgroup removed, record appended. Idempotent. */
  finish(callId: string, end?: { exit: number | null; signal: string | null }): void {
    const l = this.live.get(callId);
    if (!l) return;
    if (!end) this.flushEvents();
    this.live.delete(callId);
    l.watcher?.close();
    for (const [pid, id] of this.members) if (id === callId) this.members.delete(pid);
    let stats = NO_STATS;
    try {
      stats = finishCallCgroup(l.container.fs, l.cg);
    } catch (err) {
      this.log.warn(`call ${callId}: ${describeError(err)}`);
    }
    const result = end ?? splitStatus(l.status);
    const rec = finishedRecord(l.call, l.container.record.id, stats, { ...result, end: new Date() }, l.reason);
    // Unless the container's teardown logged it as cut off first: one record per call.
    settleCall(this.store, rec, l.container.record.id, (line) => this.log.warn(line));
    const notice = callNotice(rec);
    if (notice) this.log.info(notice.replace(/^agentcgroup: /, `container ${l.container.record.id}: `));
    l.onFinish?.(notice);
    for (const listener of this.endedListeners) listener(callId, l.container);
  }

  /** The container is gone (its cgroup with it): stop watching its calls; poststop logs them as cut off. */
  forget(container: Watched): void {
    for (const [id, l] of this.live) {
      if (l.container !== container) continue;
      l.watcher?.close();
      this.live.delete(id);
      for (const [pid, callId] of this.members) if (callId === id) this.members.delete(pid);
    }
  }

  private watchEmpty(l: Live): void {
    const events = l.container.fs.path(l.cg, 'cgroup.events');
    const check = () => {
      try {
        if (parseFlatKeyed(readFileSync(events, 'utf8')).populated === 0 && !l.onFinish) this.finish(l.call.callId);
      } catch {
        // The cgroup vanished with its container; forget() or poststop handles the rest.
      }
    };
    try {
      l.watcher = watch(events, check);
    } catch (err) {
      this.log.warn(`call ${l.call.callId}: cannot watch ${events}: ${describeError(err)}`);
    }
    // The process may have ended between the move and the watch; checked on the next turn, not inside
    // the tracker callback that began the call.
    setImmediate(check);
  }

  /** False when the process could not be moved; one that already ended (ESRCH) is no news. */
  private tryMove(container: Watched, cg: string, pid: number): boolean {
    try {
      container.fs.movePid(cg, pid);
      return true;
    } catch (err) {
      if (!(err instanceof AgentcgroupError && err.code === 'cgroup-esrch')) this.log.warn(`cannot move process ${pid} to ${cg}: ${describeError(err)}`);
      return false;
    }
  }

  private tryWrite(path: string, value: string, flag: 'w' | 'a' = 'w'): void {
    try {
      writeFileSync(path, value, { flag });
    } catch {
      // The process is gone: nothing to protect or expose.
    }
  }
}
