/**
 * The graduated response, as a pure function: what the kernel and the daemon's bookkeeping say now,
 * plus what the ladder remembers, in; actions and the new memory out. No I/O, no clock of its own.
 *
 * Rungs, in order of harm:
 *   1. the kernel throttles a call above its memory.high (nothing to do here);
 *   2. a throttled call that makes no progress (without swap, memory.high is a stall) gets its
 *      memory.high raised a step toward its memory.max, while its session and every budget above it
 *      have room for the step;
 *   3. when a budget (the host, or an ancestor cgroup with a memory.max) runs short, the tool calls of
 *      the lowest-priority agents under it are frozen, one per decision; they thaw, highest priority
 *      first, once use falls below a lower mark (hysteresis);
 *   4. last resort, when freezing has not helped: the lowest-priority tool call is killed, never an
 *      agent's framework;
 *   and a call stalled or frozen longer than the deadline is ended with its reason.
 */

import type { Policy } from '../config/types.js';
import type { Bytes } from '../limits.js';

/** The policy's `ladder` section; how often to look again is the daemon's business, not the decision's. */
export type LadderConfig = Omit<Policy['ladder'], 'recheckMs'>;

export interface CallView {
  /** Unique across containers: `<container>/<call-id>`. */
  key: string;
  session: string;
  current: number;
  high: Bytes;
  max: Bytes;
  /** memory.pressure `full total` (µs): the time every task of the call was stalled on memory. */
  fullStallUs: number;
  frozen: boolean;
}

export interface SessionView {
  id: string;
  /** Effective priority, dependencies included (higher is more important). */
  priority: number;
  current: number;
  max: Bytes;
  /** The budgets this session draws from, nearest first; the host is always last. */
  budgets: string[];
}

export interface BudgetView {
  id: string;
  limit: number;
  current: number;
}

export interface Snapshot {
  nowMs: number;
  calls: CallView[];
  sessions: SessionView[];
  budgets: BudgetView[];
}

export type Action =
  | { kind: 'raise-high'; call: string; to: number }
  | { kind: 'freeze'; call: string; reason: string }
  | { kind: 'thaw'; call: string }
  | { kind: 'kill'; call: string; reason: string };

export interface LadderState {
  /** Per call: the PSI total and time of the previous look, to measure the stall since then. */
  seen: Record<string, { fullStallUs: number; atMs: number }>;
  stalledSinceMs: Record<string, number>;
  /** Only calls the ladder froze: it thaws nothing it did not freeze. */
  frozenSinceMs: Record<string, number>;
  /** Calls killed but not gone yet: their memory is on its way out, so no second victim meanwhile. */
  killed: Record<string, number>;
}

export const EMPTY_STATE: LadderState = { seen: {}, stalledSinceMs: {}, frozenSinceMs: {}, killed: {} };

export interface Decision {
  actions: Action[];
  state: LadderState;
  /** True while anything is stalled or frozen: the daemon then looks again soon; otherwise never. */
  watching: boolean;
}

const fmtMiB = (b: number) => `${Math.round(b / (1 << 20))}M`;
const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;

function isStalled(c: CallView, prev: LadderState['seen'][string] | undefined, nowMs: number, cfg: LadderConfig): boolean {
  if (!prev || nowMs <= prev.atMs || c.frozen) return false;
  const ratio = (c.fullStallUs - prev.fullStallUs) / 1000 / (nowMs - prev.atMs);
  return ratio >= cfg.stallRatio;
}

/** Room left in a budget or session after what it holds now. */
function room(limit: Bytes, current: number): number {
  return limit === 'max' ? Infinity : limit - current;
}

export function decide(snap: Snapshot, state: LadderState, cfg: LadderConfig): Decision {
  const now = snap.nowMs;
  const actions: Action[] = [];
  const next: LadderState = { seen: {}, stalledSinceMs: {}, frozenSinceMs: {}, killed: {} };
  const sessions = new Map(snap.sessions.map((s) => [s.id, s]));
  const budgets = new Map(snap.budgets.map((b) => [b.id, b]));
  const live = new Map(snap.calls.map((c) => [c.key, c]));
  const ended = new Set<string>();
  for (const c of snap.calls) {
    const at = state.killed[c.key];
    if (at !== undefined) {
      next.killed[c.key] = at;
      ended.add(c.key);
    }
  }
  const prio = (c: CallView) => sessions.get(c.session)?.priority ?? 0;
  const budgetsOf = (c: CallView) => (sessions.get(c.session)?.budgets ?? []).map((id) => budgets.get(id)).filter((b): b is BudgetView => !!b);

  for (const c of snap.calls) {
    if (ended.has(c.key)) continue;
    next.seen[c.key] = { fullStallUs: c.fullStallUs, atMs: now };
    const frozenAt = state.frozenSinceMs[c.key];
    if (frozenAt !== undefined) next.frozenSinceMs[c.key] = frozenAt;
    if (isStalled(c, state.seen[c.key], now, cfg)) next.stalledSinceMs[c.key] = state.stalledSinceMs[c.key] ?? state.seen[c.key]!.atMs;
  }

  // Deadlines first: a call stuck too long is ended whatever else happens.
  for (const c of snap.calls) {
    if (ended.has(c.key)) continue;
    const frozenAt = next.frozenSinceMs[c.key];
    const stalledAt = next.stalledSinceMs[c.key];
    if (frozenAt !== undefined && now - frozenAt >= cfg.deadlineMs) {
      actions.push({ kind: 'kill', call: c.key, reason: `frozen for ${seconds(now - frozenAt)} (limit ${seconds(cfg.deadlineMs)}) while memory was short` });
      ended.add(c.key);
    } else if (stalledAt !== undefined && now - stalledAt >= cfg.deadlineMs) {
      actions.push({ kind: 'kill', call: c.key, reason: `throttled at memory.high for ${seconds(now - stalledAt)} (limit ${seconds(cfg.deadlineMs)}) without progress` });
      ended.add(c.key);
    }
  }

  // Rung 2: raise a stalled call's memory.high by a step where its session and budgets have room.
  // Where they have none, the session's or the budget's other calls must give way (rung 3).
  const starved = new Set<string>();
  const starvedSessions = new Map<string, string>();
  for (const key of Object.keys(next.stalledSinceMs)) {
    const c = live.get(key)!;
    const high = c.high;
    if (ended.has(key) || high === 'max') continue;
    const ceiling = c.max === 'max' ? Infinity : c.max;
    // At its own memory.max: the kernel's OOM killer ends it inside its cgroup, or the deadline does.
    if (high >= ceiling) continue;
    const step = Math.max(1 << 20, Math.floor(((c.max === 'max' ? high : c.max) * cfg.raiseStep) / 4096) * 4096);
    const to = Math.min(ceiling, high + step);
    const session = sessions.get(c.session);
    const sessionFits = room(session?.max ?? 'max', session?.current ?? 0) >= to - high;
    const short = budgetsOf(c).filter((b) => room(b.limit, b.current) < to - high);
    if (sessionFits && short.length === 0) actions.push({ kind: 'raise-high', call: key, to });
    else if (!sessionFits) starvedSessions.set(c.session, key);
    for (const b of short) starved.add(b.id);
  }

  // Rungs 3 and 4, per budget: freeze under pressure, kill as the last resort.
  const useOf = (b: BudgetView) => b.current / b.limit;
  const frozenByUs = (c: CallView) => c.frozen && next.frozenSinceMs[c.key] !== undefined;
  const callsUnder = (budget: string) => snap.calls.filter((c) => !ended.has(c.key) && sessions.get(c.session)?.budgets.includes(budget));
  const label = (b: BudgetView) => `${b.id === 'host' ? 'host' : `budget ${b.id}`} memory at ${Math.round(useOf(b) * 100)}% of ${fmtMiB(b.limit)}`;
  for (const b of snap.budgets) {
    const use = useOf(b);
    const dying = snap.calls.some((c) => next.killed[c.key] !== undefined && sessions.get(c.session)?.budgets.includes(b.id));
    const under = callsUnder(b.id);
    const running = under.filter((c) => !c.frozen).sort((x, y) => prio(x) - prio(y) || y.current - x.current);
    if (use >= cfg.killAt && !dying && under.length > 0) {
      // Freezing stops growth but frees nothing: what holds the most at the lowest priority goes.
      const victim = [...under.filter(frozenByUs), ...running].sort((x, y) => prio(x) - prio(y) || y.current - x.current)[0]!;
      actions.push({ kind: 'kill', call: victim.key, reason: `${label(b)} and freezing did not relieve it` });
      ended.add(victim.key);
      continue;
    }
    if ((use >= cfg.freezeAt || starved.has(b.id)) && running.length > 1) {
      // Never the last running call under a budget: something must be left to finish and free memory.
      const top = Math.max(...running.map(prio));
      const victim = running.find((c) => prio(c) < top) ?? running[running.length - 1]!;
      if (!actions.some((a) => a.call === victim.key)) {
        actions.push({ kind: 'freeze', call: victim.key, reason: label(b) });
        next.frozenSinceMs[victim.key] = now;
      }
    }
  }

  // A session too full for its stalled call to grow: another of its own calls is frozen.
  for (const [session, stalled] of starvedSessions) {
    const others = snap.calls.filter((c) => c.session === session && c.key !== stalled && !c.frozen && !ended.has(c.key)).sort((x, y) => x.current - y.current);
    const victim = others[0];
    if (victim && !actions.some((a) => a.call === victim.key)) {
      actions.push({ kind: 'freeze', call: victim.key, reason: `its session is full and call ${stalled.split('/').pop()} cannot grow` });
      next.frozenSinceMs[victim.key] = now;
    }
  }

  // Thaw with hysteresis: one call per decision, highest priority first, and only once every budget it
  // draws from is below the lower mark (the host having room does not thaw a call a pool is short for).
  const sessionEased = (c: CallView) => {
    const s = sessions.get(c.session);
    return !starvedSessions.has(c.session) && (!s || s.max === 'max' || s.current / s.max < cfg.thawBelow);
  };
  const thawable = snap.calls
    .filter((c) => frozenByUs(c) && !ended.has(c.key) && !actions.some((a) => a.call === c.key) && sessionEased(c) && budgetsOf(c).every((b) => useOf(b) < cfg.thawBelow))
    .sort((x, y) => prio(y) - prio(x));
  if (thawable[0] && !actions.some((a) => a.kind === 'freeze')) {
    actions.push({ kind: 'thaw', call: thawable[0].key });
    delete next.frozenSinceMs[thawable[0].key];
  }

  for (const a of actions) if (a.kind === 'kill') next.killed[a.call] = now;
  for (const key of ended) {
    delete next.frozenSinceMs[key];
    delete next.stalledSinceMs[key];
  }
  const watching = [next.frozenSinceMs, next.stalledSinceMs, next.killed].some((m) => Object.keys(m).length > 0) || actions.length > 0;
  return { actions, state: next, watching };
}
