// A small world for the ladder's rules: sessions by priority under the host, calls of 100M with a
// memory.high of 300M and a memory.max of 500M unless told otherwise.
import { type BudgetView, type CallView, type LadderConfig, type LadderState, type SessionView, type Snapshot, EMPTY_STATE } from '../../../../src/policy/ladder.js';
import { type Round, begin } from '../../../../src/policy/ladder/round.js';

export const M = 1 << 20;
export const cfg: LadderConfig = { stallRatio: 0.5, raiseStep: 0.1, freezeAt: 0.9, thawBelow: 0.75, killAt: 0.98, reclaim: false, reclaimStepBytes: 64 * M, deadlineMs: 30_000 };

export function call(key: string, session: string, over: Partial<CallView> = {}): CallView {
  return { key, session, current: 100 * M, high: 300 * M, max: 500 * M, fullStallUs: 0, frozen: false, ...over };
}

export function session(id: string, priority: number, over: Partial<SessionView> = {}): SessionView {
  return { id, priority, current: 0, max: 'max', budgets: ['host'], ...over };
}

/** The host as a budget of 1000M at `use` (0 to 1). */
export const host = (use: number): BudgetView => ({ id: 'host', limit: 1000 * M, current: use * 1000 * M });

export const SESSIONS = [session('low', 0), session('normal', 1), session('high', 2)];

export function snap(nowMs: number, calls: CallView[], budgets: BudgetView[] = [host(0.3)], sessions: SessionView[] = SESSIONS): Snapshot {
  return { nowMs, calls, sessions, budgets };
}

export function round(s: Snapshot, state: Partial<LadderState> = {}, over: Partial<LadderConfig> = {}): Round {
  return begin(s, { ...EMPTY_STATE, ...state }, { ...cfg, ...over });
}

/** `kind call` per action, for short assertions. */
export const brief = (actions: readonly { kind: string; call: string }[]): string[] => actions.map((a) => `${a.kind} ${a.call}`);
