import type { Action, BudgetView, CallView, Decision, LadderConfig, LadderState, ReclaimResult, SessionView, Snapshot } from '../ladder.js';
import { stalledSince } from './stall.js';

/**
 * One decision in the making. The rules read it and return actions; only `take` changes it, so a rule
 * sees exactly what the rules before it decided and the state follows from the actions alone.
 */
export interface Round {
  readonly snap: Snapshot;
  readonly cfg: LadderConfig;
  /** The state the previous decision handed on. */
  readonly prev: LadderState;
  /** The state this decision hands on, as far as the rules so far have taken it. */
  readonly next: LadderState;
  readonly actions: Action[];
  readonly calls: ReadonlyMap<string, CallView>;
  readonly sessions: ReadonlyMap<string, SessionView>;
  readonly budgets: ReadonlyMap<string, BudgetView>;
}

export function begin(snap: Snapshot, prev: LadderState, cfg: LadderConfig): Round {
  const next: LadderState = { seen: {}, stalledSinceMs: {}, frozenSinceMs: {}, killed: {}, reclaimingSinceMs: {}, dry: {} };
  const reported = new Map((snap.reclaimed ?? []).map((r) => [r.call, r]));
  for (const c of snap.calls) {
    const killedAt = prev.killed[c.key];
    if (killedAt !== undefined) {
      next.killed[c.key] = killedAt;
      continue;
    }
    next.seen[c.key] = { fullStallUs: c.fullStallUs, atMs: snap.nowMs };
    const frozenAt = prev.frozenSinceMs[c.key];
    if (frozenAt !== undefined) next.frozenSinceMs[c.key] = frozenAt;
    const stalledAt = stalledSince(c, prev, snap.nowMs, cfg);
    if (stalledAt !== undefined) next.stalledSinceMs[c.key] = stalledAt;
    carryReclaim(c, prev, next, reported.get(c.key), snap.nowMs, cfg);
  }
  return {
    snap,
    cfg,
    prev,
    next,
    actions: [],
    calls: new Map(snap.calls.map((c) => [c.key, c])),
    sessions: new Map(snap.sessions.map((s) => [s.id, s])),
    budgets: new Map(snap.budgets.map((b) => [b.id, b])),
  };
}

/**
 * A reported reclaim is over: a quarter of the step or less back means the call has little left that
 * the kernel can take (no swap, its swap.max reached, or all of it out already), so it is dry. Dry
 * lasts while the call stays frozen: once thawed and running it holds new memory. A reclaim never
 * reported within the deadline is taken as over, so nothing waits on it forever.
 */
function carryReclaim(c: CallView, prev: LadderState, next: LadderState, done: ReclaimResult | undefined, nowMs: number, cfg: LadderConfig): void {
  if (done) {
    if (done.gotBytes * 4 <= done.askedBytes) next.dry[c.key] = true;
  } else if (prev.reclaimingSinceMs[c.key] !== undefined) {
    if (nowMs - prev.reclaimingSinceMs[c.key]! < cfg.deadlineMs) next.reclaimingSinceMs[c.key] = prev.reclaimingSinceMs[c.key]!;
    else next.dry[c.key] = true;
  }
  if (prev.dry[c.key] && c.frozen) next.dry[c.key] = true;
  if (!c.frozen) delete next.dry[c.key];
}

export function take(round: Round, ...actions: (Action | undefined)[]): void {
  for (const a of actions) {
    if (!a) continue;
    round.actions.push(a);
    if (a.kind === 'kill') round.next.killed[a.call] = round.snap.nowMs;
    else if (a.kind === 'freeze') round.next.frozenSinceMs[a.call] = round.snap.nowMs;
    else if (a.kind === 'reclaim') round.next.reclaimingSinceMs[a.call] = round.snap.nowMs;
    else if (a.kind === 'thaw') {
      delete round.next.frozenSinceMs[a.call];
      delete round.next.dry[a.call];
    }
  }
}

export function finish(round: Round): Decision {
  const { next, actions } = round;
  for (const key of Object.keys(next.killed)) {
    delete next.frozenSinceMs[key];
    delete next.stalledSinceMs[key];
    delete next.dry[key];
  }
  const watching = [next.frozenSinceMs, next.stalledSinceMs, next.killed, next.reclaimingSinceMs].some((m) => Object.keys(m).length > 0) || actions.length > 0;
  return { actions, state: next, watching };
}

/** Killed, in this decision or an earlier one: its memory is on its way out, no rule acts on it again. */
export const ended = (round: Round, key: string): boolean => round.next.killed[key] !== undefined;

/** A freeze or thaw on a call already acted on would undo or repeat what this decision just did. */
export const acted = (round: Round, key: string): boolean => round.actions.some((a) => a.call === key);

/** A call frozen by someone else (a paused container) is theirs to thaw, and the ladder's to leave alone. */
export const frozenByUs = (round: Round, c: CallView): boolean => c.frozen && round.next.frozenSinceMs[c.key] !== undefined;

export const priorityOf = (round: Round, c: CallView): number => round.sessions.get(c.session)?.priority ?? 0;

export const budgetsOf = (round: Round, c: CallView): BudgetView[] =>
  (round.sessions.get(c.session)?.budgets ?? []).map((id) => round.budgets.get(id)).filter((b): b is BudgetView => !!b);

export const drawsOn = (round: Round, c: CallView, budget: string): boolean => round.sessions.get(c.session)?.budgets.includes(budget) ?? false;

/** The calls a budget's rungs may act on. */
export const callsUnder = (round: Round, budget: string): CallView[] => round.snap.calls.filter((c) => !ended(round, c.key) && drawsOn(round, c, budget));

export const useOf = (b: BudgetView): number => b.current / b.limit;

const fmtMiB = (b: number) => `${Math.round(b / (1 << 20))}M`;

/** The reason a budget gives for freezing or killing, as the call's owner reads it. */
export const shortOf = (b: BudgetView): string => `${b.id === 'host' ? 'host' : `budget ${b.id}`} memory at ${Math.round(useOf(b) * 100)}% of ${fmtMiB(b.limit)}`;
