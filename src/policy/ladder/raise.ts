import type { Bytes } from '../../limits.js';
import type { Action } from '../ladder.js';
import { type Round, budgetsOf, ended } from './round.js';

export interface Raises {
  actions: Action[];
  /** Budgets without room for a stalled call's step: their lower-priority calls give way even below freeze_at. */
  shortBudgets: Set<string>;
  /** Per session without room for its stalled call's step, that call: another call of the session gives way. */
  fullSessions: Map<string, string>;
}

/** Room left in a budget or session after what it holds now. */
function room(limit: Bytes, current: number): number {
  return limit === 'max' ? Infinity : limit - current;
}

/** Rung 2: a stalled call's memory.high rises a step toward its memory.max, where everything above it has room. */
export function raises(round: Round): Raises {
  const out: Raises = { actions: [], shortBudgets: new Set(), fullSessions: new Map() };
  for (const key of Object.keys(round.next.stalledSinceMs)) {
    const c = round.calls.get(key)!;
    const high = c.high;
    if (ended(round, key) || high === 'max') continue;
    const ceiling = c.max === 'max' ? Infinity : c.max;
    // At its own memory.max: the kernel's OOM killer ends it inside its cgroup, or the deadline does.
    if (high >= ceiling) continue;
    const step = Math.max(1 << 20, Math.floor(((c.max === 'max' ? high : c.max) * round.cfg.raiseStep) / 4096) * 4096);
    const to = Math.min(ceiling, high + step);
    const session = round.sessions.get(c.session);
    const sessionFits = room(session?.max ?? 'max', session?.current ?? 0) >= to - high;
    const short = budgetsOf(round, c).filter((b) => room(b.limit, b.current) < to - high);
    if (sessionFits && short.length === 0) out.actions.push({ kind: 'raise-high', call: key, to });
    else if (!sessionFits) out.fullSessions.set(c.session, key);
    for (const b of short) out.shortBudgets.add(b.id);
  }
  return out;
}
