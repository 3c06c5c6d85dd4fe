import { dirname } from 'node:path';
import { type MemoryStatus, parseCount, parseLimit, readMemoryStatus } from '../cgroup/stats.js';
import { killCgroup } from '../cgroup/lifecycle.js';
import { TOOLS_PARENT } from '../layout.js';
import type { Policy } from '../config/types.js';
import type { Bytes } from '../limits.js';
import { AgentcgroupError, describeError } from '../errors.js';
import { Tally } from '../metrics/tally.js';
import { type Action, type BudgetView, type CallView, EMPTY_STATE, type LadderState, type ReclaimResult, type SessionView, type Snapshot, decide } from '../policy/ladder.js';
import { effectivePriorities } from '../policy/priority.js';
import type { StateStore } from '../state/records.js';
import type { Watched } from '../state/watched.js';
import type { CallBook, Log } from './calls.js';
import type { Closable, KernelEvents } from './kernelevents.js';

/** 150 ms of memory stall within 1 s: the kernel's wake-up call for the ladder (see PSI triggers). */
const PSI_TRIGGER = 'some 150000 1000000';
const mib = (b: number) => `${Math.round(b / (1 << 20))}M`;
const HOST = 'host';

export interface SupervisorDeps {
  events: KernelEvents;
  /** /proc/meminfo in bytes (MemTotal, MemAvailable): the host's own budget. */
  meminfo(): Record<string, number>;
  /** The containers followed now. */
  containers(): Watched[];
  calls: Pick<CallBook, 'noteKill' | 'noteLadder'>;
  store: Pick<StateStore, 'writeReason' | 'writeLadder'>;
  log: Log;
  /** The pressure file of the whole host: /proc/pressure/memory. */
  hostPressure: string;
  /**
   * Told C's memory.max at each look, which reads it anyway: the resizer's safety net, should an
   * engine change it in a way inotify does not report.
   */
  sessionSeen?(c: Watched, max: Bytes): void;
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
  private readonly sources = new Map<string, Closable[]>();
  private timer: NodeJS.Timeout | undefined;
  private pending = false;
  private stopped = false;
  private readonly log: Log;
  /** A missing pressure trigger is said once, not for every cgroup of every container. */
  private noPsiSaid = false;
  /** Containers whose cgroups could not be read at the last look: said when it starts, not at each look. */
  private readonly unreadable = new Set<string>();
  /** Reclaims finished since the last look, for the ladder to see. */
  private reclaimed: ReclaimResult[] = [];
  /** False once memory.reclaim proved missing (kernel before 5.19): the ladder then decides without it. */
  private canReclaim = true;

  constructor(
    private readonly policy: Policy,
    private readonly d: SupervisorDeps,
  ) {
    this.log = d.log;
  }

  /** Host-wide pressure wakes us too. */
  start(): void {
    this.sources.set(HOST, [this.psiTrigger(this.d.hostPressure)].filter((s): s is Closable => !!s));
    if (this.policy.ladder.reclaim && (this.meminfo()?.SwapTotal ?? 0) === 0) {
      this.log.info('no swap on this host: the reclaim rung can take only frozen calls\' page cache, so kill stays the last resort (doctor, README: compressed swap)');
    }
  }

  follow(c: Watched): void {
    // Nothing of ours is frozen unless we froze it in this run: a previous run's freezes are undone.
    for (const call of this.toolCalls(c)) {
      if (c.fs.read(call, 'cgroup.freeze').trim() === '1') {
        c.fs.write(call, 'cgroup.freeze', '0');
        this.log.info(`container ${c.record.id}: thawed ${call} left frozen by a previous daemon`);
      }
    }
    const sources: Closable[] = [];
    for (const cg of [c.record.cgroup, ...this.budgetCgroups(c)]) {
      const s = this.psiTrigger(c.fs.path(cg, 'memory.pressure'));
      if (s) sources.push(s);
    }
    // A new tool call (a child of tools/) and a throttled one (memory.events) wake the ladder.
    for (const [cg, file] of [[`${c.record.cgroup}/${TOOLS_PARENT}`, ''], [c.record.cgroup, 'memory.events']] as const) {
      try {
        sources.push(this.d.events.watch(c.fs.path(cg, file), () => this.soon()));
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
    this.unreadable.delete(id);
    this.tally.forgetContainer(id);
  }

  /** The ladder's own view: the call (`<container>/<call-id>`) made no progress at memory.high at the last look. */
  isStalled(key: string): boolean {
    return key in this.state.stalledSinceMs;
  }

  /** On the way out: thaw whatever the ladder froze, so nothing stays frozen without us. */
  stop(): void {
    // A look already queued must not arm the recheck again after this.
    this.stopped = true;
    clearTimeout(this.timer);
    for (const key of Object.keys(this.state.frozenSinceMs)) this.apply({ kind: 'thaw', call: key }, Date.now());
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
    if (this.stopped) return;
    let watching = false;
    let snap: Snapshot | undefined;
    try {
      snap = this.snapshot();
      const d = decide(snap, this.state, { ...this.policy.ladder, reclaim: this.policy.ladder.reclaim && this.canReclaim });
      this.tally.noteDecision(snap.calls, this.state, d);
      this.state = d.state;
      for (const a of d.actions) this.apply(a, snap.nowMs);
      watching = d.watching;
    } catch (err) {
      // Looked at again at the next recheck: a fault now must not leave the ladder asleep.
      this.log.warn(`supervisor: ${describeError(err)}`);
      watching = true;
    }
    // Anonymous memory gives no warning before a budget is full (no stall until reclaim fails), so
    // while tool calls run they are looked at every `recheck`; with none running, or none in any
    // container we follow, the kernel's events (a new tools/ child, pressure, memory.events) wake us.
    if (watching || (snap?.calls.length ?? 0) > 0) this.timer = setTimeout(() => this.evaluate(), this.policy.ladder.recheckMs);
  }

  /**
   * What the ladder decides on. A container or call whose files cannot be read now (it is ending, or
   * the kernel lacks a file) is left out of this look, not the whole look; said once per container.
   */
  private snapshot(): Snapshot {
    const watched = this.d.containers();
    const eff = effectivePriorities(watched.map((c) => ({ id: c.record.id, priority: c.record.priority, dependsOn: c.record.dependsOn })));
    const budgets = new Map<string, BudgetView>();
    // Read once a look: the host's budget and its free swap come from the same /proc/meminfo.
    const mem = this.meminfo();
    const host = mem && hostBudget(mem);
    if (host) budgets.set(HOST, host);
    const sessions: SessionView[] = [];
    const calls: CallView[] = [];
    for (const c of watched) {
      const C = c.record.cgroup;
      try {
        const ids: string[] = [];
        for (const cg of this.budgetCgroups(c)) {
          const id = `/${cg}`;
          ids.push(id);
          const limit = parseLimit(c.fs.read(cg, 'memory.max'));
          if (!budgets.has(id) && limit !== 'max') budgets.set(id, { id, limit, current: parseCount(c.fs.read(cg, 'memory.current')) });
        }
        if (host) ids.push(HOST);
        const session = { id: c.record.id, priority: eff.get(c.record.id) ?? c.record.priority, current: parseCount(c.fs.read(C, 'memory.current')), max: parseLimit(c.fs.read(C, 'memory.max')), budgets: ids };
        // Before the calls are read: those a resize changes are seen with their new limits.
        this.d.sessionSeen?.(c, session.max);
        const own: CallView[] = [];
        for (const cg of this.toolCalls(c)) {
          let m: MemoryStatus;
          try {
            m = readMemoryStatus(c.fs, cg);
          } catch {
            continue; // Ended between the listing and the read.
          }
          const view: CallView = { key: `${c.record.id}/${cg.split('/').pop()}`, session: c.record.id, current: m.current, high: m.high, max: m.max, fullStallUs: m.pressure.full.totalUs, frozen: m.frozen };
          // What the carve's tool template gave every call (absent without swap accounting): no read needed.
          if (c.record.tool.swapMax !== undefined) view.swapMax = c.record.tool.swapMax;
          own.push(view);
        }
        sessions.push(session);
        calls.push(...own);
        this.unreadable.delete(c.record.id);
      } catch (err) {
        if (!this.unreadable.has(c.record.id)) this.log.warn(`container ${c.record.id}: left out of the ladder while its cgroups cannot be read: ${describeError(err)}`);
        this.unreadable.add(c.record.id);
      }
    }
    const reclaimed = this.reclaimed;
    this.reclaimed = [];
    return { nowMs: Date.now(), calls, sessions, budgets: [...budgets.values()], swapFreeBytes: mem?.SwapFree ?? 0, reclaimed };
  }

  /** /proc/meminfo in bytes; none when it cannot be read (the host is then no budget, and there is no swap to count on). */
  private meminfo(): Record<string, number> | undefined {
    try {
      return this.d.meminfo();
    } catch {
      return undefined;
    }
  }

  private apply(a: Action, nowMs: number): void {
    const [id, callId] = a.call.split('/') as [string, string];
    const c = this.d.containers().find((k) => k.record.id === id);
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
          if (!this.d.calls.noteKill(callId, a.reason)) this.d.store.writeReason(id, callId, a.reason);
          c.fs.write(cg, 'cgroup.kill', '1');
          this.log.info(`container ${id}: call ${callId} killed: ${a.reason}`);
          break;
        case 'reclaim':
          this.reclaim(c, cg, a);
          break;
      }
      this.tally.noteAction(a, nowMs);
      if (a.kind === 'thaw' || a.kind === 'kill') this.recordLadder(a.call);
    } catch (err) {
      // The call may have ended between the snapshot and the action.
      this.log.warn(`container ${id}: ${a.kind} ${callId}: ${describeError(err)}`);
    }
  }

  /**
   * memory.reclaim off the event loop: the kernel may take seconds to push a frozen call's pages to
   * swap, and the daemon must go on meanwhile. What came back is the call's memory.current before
   * minus after (what its budgets got, whatever the kernel counts), told to the ladder at its next look.
   */
  private reclaim(c: Watched, cg: string, a: Extract<Action, { kind: 'reclaim' }>): void {
    const [id, callId] = a.call.split('/') as [string, string];
    const current = () => parseCount(c.fs.read(cg, 'memory.current'));
    const before = current();
    const started = Date.now();
    const done = (err: unknown) => {
      let got = 0;
      try {
        got = Math.max(0, before - current());
      } catch {
        // Ended meanwhile: it gave everything back, and nothing is left to count.
      }
      // Short of the ask is EAGAIN, the kernel's word for "this is all I could take": not a fault.
      const code = err instanceof AgentcgroupError ? err.code : undefined;
      const missing = c.fs.lacksFile(cg, err);
      this.reclaimed.push({ call: a.call, askedBytes: a.bytes, gotBytes: got });
      if (missing) {
        this.canReclaim = false;
        this.log.warn(`no memory.reclaim (Linux 5.19 and later have it): frozen calls keep their memory and the ladder kills as its last resort`);
      } else {
        if (err && code !== 'cgroup-eagain' && code !== 'cgroup-enoent') this.log.warn(`container ${id}: reclaim ${callId}: ${describeError(err)}`);
        this.tally.noteReclaimed(a.call, got);
        this.recordLadder(a.call);
        this.log.info(`container ${id}: call ${callId} gave back ${mib(got)} of ${mib(a.bytes)} asked in ${Date.now() - started} ms: ${a.reason}`);
      }
      this.soon();
    };
    c.fs.writeAsync(cg, 'memory.reclaim', String(a.bytes)).then(() => done(undefined), done);
  }

  /** The call's record gets what the ladder did to it, kept up to date at each change: it may end at any time. */
  private recordLadder(key: string): void {
    const [id, callId] = key.split('/') as [string, string];
    const ladder = this.tally.ladderOf(key, Date.now());
    if (ladder.frozenMs === 0 && ladder.reclaimedBytes === 0) return;
    try {
      if (!this.d.calls.noteLadder(callId, ladder)) this.d.store.writeLadder(id, callId, ladder);
    } catch (err) {
      // Its marker's directory went with the container: no record to add to.
      this.log.warn(`container ${id}: ${callId}: cannot keep what the ladder did in its record: ${describeError(err)}`);
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

  /**
   * A PSI trigger wakes the ladder on a stall. Without PSI (booted with psi=0) the ladder still runs
   * on the other events and every `recheck`: said once, not for each cgroup.
   */
  private psiTrigger(path: string): Closable | undefined {
    try {
      return this.d.events.pressure(path, PSI_TRIGGER, () => this.soon());
    } catch (err) {
      if (!this.noPsiSaid) this.log.warn(`no pressure trigger on ${path}, the ladder wakes on memory.events, new calls and every recheck: ${describeError(err)}`);
      this.noPsiSaid = true;
      return undefined;
    }
  }
}

/** The host as a budget; none when /proc/meminfo lacks its lines. */
function hostBudget(m: Record<string, number>): BudgetView | undefined {
  if (m.MemTotal === undefined || m.MemAvailable === undefined) return undefined;
  return { id: HOST, limit: m.MemTotal, current: m.MemTotal - m.MemAvailable };
}
