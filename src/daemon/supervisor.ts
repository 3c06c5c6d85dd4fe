import { type FSWatcher, closeSync, openSync, watch, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseCount, parseLimit, readMemoryStatus } from '../cgroup/stats.js';
import { TOOLS_PARENT } from '../layout.js';
import type { Policy } from '../config/types.js';
import { describeError } from '../errors.js';
import { readMeminfo } from '../host/meminfo.js';
import { Tally } from '../metrics/tally.js';
import { type Action, type BudgetView, type CallView, EMPTY_STATE, type LadderState, type SessionView, type Snapshot, decide } from '../policy/ladder.js';
import { effectivePriorities } from '../policy/priority.js';
import type { StateStore } from '../state/records.js';
import { EPOLLPRI } from '../sys/libc.js';
import type { Watched } from '../state/watched.js';
import type { CallBook, Log } from './calls.js';
import type { FdWaiter } from './waiter.js';

/** 150 ms of memory stall within 1 s: the kernel's wake-up call for the ladder (see PSI triggers). */
const PSI_TRIGGER = 'some 150000 1000000';
const HOST = 'host';

interface Source {
  close(): void;
}

/**
 * The effects half of the graduated response: turns kernel events (PSI triggers, memory.events) into
 * snapshots, asks the pure ladder what to do, and does it. While any tool call exists it also looks
 * again every `recheck`; with none it sleeps until a kernel event.
 */
export class Supervisor {
  private state: LadderState = EMPTY_STATE;
  /** What the ladder did, per container and call, for status and metrics. */
  readonly tally = new Tally();
  private readonly sources = new Map<string, Source[]>();
  private timer: NodeJS.Timeout | undefined;
  private pending = false;

  constructor(
    private readonly policy: Policy,
    private readonly procRoot: string,
    private readonly waiter: FdWaiter,
    private readonly containers: () => Watched[],
    private readonly calls: CallBook,
    private readonly store: StateStore,
    private readonly log: Log,
  ) {}

  /** Host-wide pressure wakes us too. */
  start(): void {
    this.sources.set(HOST, [this.psiTrigger(join(this.procRoot, 'pressure/memory'))].filter((s): s is Source => !!s));
  }

  follow(c: Watched): void {
    // Nothing of ours is frozen unless we froze it in this run: a previous run's freezes are undone.
    for (const call of this.toolCalls(c)) {
      if (c.fs.read(call, 'cgroup.freeze').trim() === '1') {
        c.fs.write(call, 'cgroup.freeze', '0');
        this.log.info(`container ${c.record.id}: thawed ${call} left frozen by a previous daemon`);
      }
    }
    const sources: Source[] = [];
    for (const cg of [c.record.cgroup, ...this.budgetCgroups(c)]) {
      const s = this.psiTrigger(c.fs.path(cg, 'memory.pressure'));
      if (s) sources.push(s);
    }
    // A new tool call (a child of tools/) and a throttled one (memory.events) wake the ladder.
    for (const [cg, file] of [[`${c.record.cgroup}/${TOOLS_PARENT}`, ''], [c.record.cgroup, 'memory.events']] as const) {
      try {
        const w: FSWatcher = watch(c.fs.path(cg, file), () => this.soon());
        sources.push(w);
      } catch (err) {
        this.log.warn(`container ${c.record.id}: cannot watch ${c.fs.path(cg, file)}: ${describeError(err)}`);
      }
    }
    this.soon();
    this.sources.set(c.record.id, sources);
  }

  unfollow(id: string): void {
    for (const s of this.sources.get(id) ?? []) s.close();
    this.sources.delete(id);
    this.tally.forgetContainer(id);
  }

  /** The ladder's own view: the call (`<container>/<call-id>`) made no progress at memory.high at the last look. */
  isStalled(key: string): boolean {
    return key in this.state.stalledSinceMs;
  }

  /** On the way out: thaw whatever the ladder froze, so nothing stays frozen without us. */
  stop(): void {
    clearTimeout(this.timer);
    for (const key of Object.keys(this.state.frozenSinceMs)) this.apply({ kind: 'thaw', call: key });
    for (const id of [...this.sources.keys()]) this.unfollow(id);
  }

  /** Coalesces a burst of events into one evaluation. */
  private soon(): void {
    if (this.pending) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      this.evaluate();
    });
  }

  private evaluate(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    let snap: Snapshot;
    try {
      snap = this.snapshot();
    } catch (err) {
      this.log.warn(`supervisor: cannot read the cgroups: ${describeError(err)}`);
      return;
    }
    const d = decide(snap, this.state, this.policy.ladder);
    this.tally.noteDecision(snap.calls, this.state, d);
    this.state = d.state;
    for (const a of d.actions) this.apply(a);
    // Anonymous memory gives no warning before a budget is full (no stall until reclaim fails), so
    // while tool calls run they are looked at every `recheck`; with none running, or none in any
    // container we follow, the kernel's events (a new tools/ child, pressure, memory.events) wake us.
    if (d.watching || snap.calls.length > 0) this.timer = setTimeout(() => this.evaluate(), this.policy.ladder.recheckMs);
  }

  private snapshot(): Snapshot {
    const watched = this.containers();
    const eff = effectivePriorities(watched.map((c) => ({ id: c.record.id, priority: c.record.priority, dependsOn: c.record.dependsOn })));
    const budgets = new Map<string, BudgetView>([[HOST, this.hostBudget()]]);
    const sessions: SessionView[] = [];
    const calls: CallView[] = [];
    for (const c of watched) {
      const C = c.record.cgroup;
      const ids: string[] = [];
      for (const cg of this.budgetCgroups(c)) {
        const id = `/${cg}`;
        ids.push(id);
        const limit = parseLimit(c.fs.read(cg, 'memory.max'));
        if (!budgets.has(id) && limit !== 'max') budgets.set(id, { id, limit, current: parseCount(c.fs.read(cg, 'memory.current')) });
      }
      ids.push(HOST);
      sessions.push({ id: c.record.id, priority: eff.get(c.record.id) ?? c.record.priority, current: parseCount(c.fs.read(C, 'memory.current')), max: parseLimit(c.fs.read(C, 'memory.max')), budgets: ids });
      for (const cg of this.toolCalls(c)) {
        const m = readMemoryStatus(c.fs, cg);
        calls.push({
          key: `${c.record.id}/${cg.split('/').pop()}`,
          session: c.record.id,
          current: m.current,
          high: m.high,
          max: m.max,
          fullStallUs: m.pressure.full.totalUs,
          frozen: m.frozen,
        });
      }
    }
    return { nowMs: Date.now(), calls, sessions, budgets: [...budgets.values()] };
  }

  private apply(a: Action): void {
    const [id, callId] = a.call.split('/') as [string, string];
    const c = this.containers().find((k) => k.record.id === id);
    if (!c) return;
    const cg = `${c.record.cgroup}/${TOOLS_PARENT}/${callId}`;
    try {
      switch (a.kind) {
        case 'raise-high':
          c.fs.write(cg, 'memory.high', String(a.to));
          this.log.info(`container ${id}: call ${callId} made no progress at memory.high: raised to ${Math.round(a.to / (1 << 20))}M`);
          break;
        case 'freeze':
          c.fs.write(cg, 'cgroup.freeze', '1');
          this.log.info(`container ${id}: call ${callId} frozen: ${a.reason}`);
          break;
        case 'thaw':
          c.fs.write(cg, 'cgroup.freeze', '0');
          this.log.info(`container ${id}: call ${callId} thawed`);
          break;
        case 'kill':
          // The reason first, where the call's owner will read it: the daemon's own record, or exec's.
          if (!this.calls.noteKill(callId, a.reason)) this.store.writeReason(id, callId, a.reason);
          c.fs.write(cg, 'cgroup.kill', '1');
          this.log.info(`container ${id}: call ${callId} killed: ${a.reason}`);
          break;
      }
      this.tally.noteAction(a);
    } catch (err) {
      // The call may have ended between the snapshot and the action.
      this.log.warn(`container ${id}: ${a.kind} ${callId}: ${describeError(err)}`);
    }
  }

  private toolCalls(c: Watched): string[] {
    const tools = `${c.record.cgroup}/${TOOLS_PARENT}`;
    return c.fs.exists(tools) ? c.fs.children(tools).map((n) => `${tools}/${n}`) : [];
  }

  /** Ancestors of C with a memory.max of their own: shared budgets its calls compete in. */
  private budgetCgroups(c: Watched): string[] {
    const out: string[] = [];
    for (let cg = dirname(c.record.cgroup); cg !== '.' && cg !== '/' && cg !== ''; cg = dirname(cg)) {
      try {
        if (parseLimit(c.fs.read(cg, 'memory.max')) !== 'max') out.push(cg);
      } catch {
        // No memory controller this high up: not a budget.
      }
    }
    return out;
  }

  private hostBudget(): BudgetView {
    const m = readMeminfo(this.procRoot);
    const total = m.MemTotal ?? 0;
    return { id: HOST, limit: total, current: total - (m.MemAvailable ?? 0) };
  }

  /** A PSI trigger: the kernel makes the fd POLLPRI-ready when the stall crosses the threshold. */
  private psiTrigger(path: string): Source | undefined {
    let fd: number;
    try {
      fd = openSync(path, 'r+');
      writeSync(fd, `${PSI_TRIGGER}\0`);
    } catch (err) {
      this.log.warn(`no pressure trigger on ${path}: ${describeError(err)}`);
      return undefined;
    }
    this.waiter.add(fd, EPOLLPRI, () => this.soon());
    return {
      close: () => {
        this.waiter.remove(fd);
        closeSync(fd);
      },
    };
  }
}
