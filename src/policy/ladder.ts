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
 *   4. while a budget stays short, the frozen calls give their memory back (memory.reclaim, to swap),
 *      lowest priority first, a bounded step per decision, until it gives little; a frozen call
 *      resumes where it stopped once thawed;
 *   5. last resort, when freezing and reclaim have not helped: the lowest-priority tool call is
 *      killed, never an agent's framework;
 *   and a call stalled or frozen longer than the deadline is ended with its reason.
 */

import type { Policy } from '../config/types.js';
import type { Bytes } from '../limits.js';
import { deadlines } from './ladder/deadline.js';
import { freezeInSession, freezeUnder } from './ladder/freeze.js';
import { killOver } from './ladder/kill.js';
import { raises } from './ladder/raise.js';
import { reclaimUnder } from './ladder/reclaim.js';
import { begin, finish, take } from './ladder/round.js';
import { thaw } from './ladder/thaw.js';

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
  /** memory.swap.max; absent where the kernel has no swap accounting (nothing bounds it but the host's swap). */
  swapMax?: Bytes;
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

/** A reclaim the daemon finished since the previous decision: what it asked and what came back. */
export interface ReclaimResult {
  call: string;
  askedBytes: number;
  /** The call's memory.current before minus after (0 when it grew): what its budgets got back. */
  gotBytes: number;
}

export interface Snapshot {
  nowMs: number;
  calls: CallView[];
  sessions: SessionView[];
  budgets: BudgetView[];
  /** Free swap on the host; without any, reclaim frees page cache only and never holds a kill back. */
  swapFreeBytes?: number;
  reclaimed?: ReclaimResult[];
}

export type Action =
  | { kind: 'raise-high'; call: string; to: number }
  | { kind: 'freeze'; call: string; reason: string }
  | { kind: 'thaw'; call: string }
  | { kind: 'reclaim'; call: string; bytes: number; reason: string }
  | { kind: 'kill'; call: string; reason: string };

export interface LadderState {
  /** Per call: the PSI total and time of the previous look, to measure the stall since then. */
  seen: Record<string, { fullStallUs: number; atMs: number }>;
  stalledSinceMs: Record<string, number>;
  /** Only calls the ladder froze: it thaws nothing it did not freeze. */
  frozenSinceMs: Record<string, number>;
  /** Calls killed but not gone yet: their memory is on its way out, so no second victim meanwhile. */
  killed: Record<string, number>;
  /** Reclaims asked for and not reported back yet: one at a time per call. */
  reclaimingSinceMs: Record<string, number>;
  /** Frozen calls whose last reclaim gave little back: not asked again until they thaw. */
  dry: Record<string, true>;
}

export const EMPTY_STATE: LadderState = { seen: {}, stalledSinceMs: {}, frozenSinceMs: {}, killed: {}, reclaimingSinceMs: {}, dry: {} };

export interface Decision {
  actions: Action[];
  state: LadderState;
  /**
   * True while the ladder has something in hand (a stall, a freeze, a kill not yet done) or has just
   * acted: the outcome must be looked at without waiting for a kernel event. The daemon looks again
   * every `recheck` while any tool call exists, which covers all of these.
   */
  watching: boolean;
}

/**
 * Each rung is a rule in src/policy/ladder/ that reads the decision so far and returns its actions.
 * The order below is their precedence: no rule acts on a call an earlier one killed, and a freeze or
 * thaw skips a call already acted on.
 */
export function decide(snap: Snapshot, state: LadderState, cfg: LadderConfig): Decision {
  const round = begin(snap, state, cfg);
  take(round, ...deadlines(round));
  const { actions, shortBudgets, fullSessions } = raises(round);
  take(round, ...actions);
  for (const b of snap.budgets) {
    take(round, killOver(round, b) ?? freezeUnder(round, b, shortBudgets));
    // After: it sees this decision's kill under the budget, and a call frozen just now is not frozen yet.
    take(round, reclaimUnder(round, b, shortBudgets));
  }
  for (const [session, stalled] of fullSessions) take(round, freezeInSession(round, session, stalled));
  take(round, thaw(round, fullSessions));
  return finish(round);
}
