import type { Action, BudgetView, CallView } from '../ladder.js';
import { rankVictims } from './rank.js';
import { type Round, acted, callsUnder, drawsOn, ended, frozenByUs, priorityOf, shortOf, useOf } from './round.js';

/** Below this a frozen call has nothing worth a reclaim: it counts as given back all it can. */
const LEAST = 1 << 20;

/**
 * Rung 4: while a budget stays at `freezeAt` (or too short for a stalled call's raise), one call frozen
 * under it gives memory back: `memory.reclaim` of one step, lowest priority and largest first. One
 * reclaim at a time per budget, so each look sees what the last one gave; a call whose reclaim gave
 * little back is dry until it thaws (round.ts). Without swap the kernel can take only its page cache.
 */
export function reclaimUnder(round: Round, b: BudgetView, shortBudgets: ReadonlySet<string>): Action | undefined {
  if (!round.cfg.reclaim || (useOf(b) < round.cfg.freezeAt && !shortBudgets.has(b.id))) return undefined;
  const under = callsUnder(round, b.id);
  if (under.some((c) => reclaiming(round, c)) || victimsLeaving(round, b)) return undefined;
  const victim = rankVictims(
    under.filter((c) => reclaimable(round, c) && !acted(round, c.key)),
    (c) => priorityOf(round, c),
  )[0];
  if (!victim) return undefined;
  const bytes = Math.floor(Math.min(round.cfg.reclaimStepBytes, victim.current) / 4096) * 4096;
  return { kind: 'reclaim', call: victim.key, bytes, reason: `${shortOf(b)} with calls frozen` };
}

/**
 * Whether kill should wait under this budget: only while swap is free and the calls frozen under it
 * that can still give memory (a reclaim under way included) hold enough to bring it back below
 * `freezeAt`. A guess that reclaim "may" help is not enough: while kill waits the budget sits full,
 * and the kernel's OOM killer, not the ladder, picks a victim. Without swap a reclaim takes page
 * cache only, too little to bet a kill on.
 */
export function reclaimMayMakeRoom(round: Round, b: BudgetView): boolean {
  const swapFree = round.snap.swapFreeBytes ?? 0;
  if (!round.cfg.reclaim || swapFree <= 0) return false;
  const giving = callsUnder(round, b.id).filter((c) => swappable(c) && (reclaiming(round, c) || reclaimable(round, c)));
  const held = giving.reduce((sum, c) => sum + c.current, 0);
  const over = b.current - round.cfg.freezeAt * b.limit;
  return giving.length > 0 && Math.min(held, swapFree) >= over;
}

const reclaiming = (round: Round, c: CallView): boolean => round.next.reclaimingSinceMs[c.key] !== undefined;

/** Frozen by the ladder (the kernel says so too), not dry, nothing asked of it still in flight. */
function reclaimable(round: Round, c: CallView): boolean {
  return frozenByUs(round, c) && !ended(round, c.key) && !reclaiming(round, c) && !round.next.dry[c.key] && c.current >= LEAST;
}

const swappable = (c: CallView): boolean => c.swapMax === undefined || c.swapMax === 'max' || c.swapMax > 0;

/** A call killed under the budget, in this decision or one before: its memory is on its way out. */
const victimsLeaving = (round: Round, b: BudgetView): boolean => round.snap.calls.some((c) => round.next.killed[c.key] !== undefined && drawsOn(round, c, b.id));
