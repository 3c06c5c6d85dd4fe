import type { Action, BudgetView, CallView } from '../ladder.js';
import { rankVictims } from './rank.js';
import { type Round, acted, callsUnder, ended, priorityOf, shortOf, useOf } from './round.js';

/**
 * Rung 3: a budget at `freezeAt`, or too short for a stalled call's raise, freezes one running call
 * under it per decision. Never the last one: something must be left to finish and free memory.
 */
export function freezeUnder(round: Round, b: BudgetView, shortBudgets: ReadonlySet<string>): Action | undefined {
  if (useOf(b) < round.cfg.freezeAt && !shortBudgets.has(b.id)) return undefined;
  const running = callsUnder(round, b.id).filter((c) => !c.frozen);
  if (running.length < 2) return undefined;
  return freeze(round, running, shortOf(b));
}

/** A session too full for its stalled call to grow: another of its own calls gives way, not a neighbour's. */
export function freezeInSession(round: Round, session: string, stalled: string): Action | undefined {
  const others = round.snap.calls.filter((c) => c.session === session && c.key !== stalled && !c.frozen && !ended(round, c.key));
  if (others.length === 0) return undefined;
  return freeze(round, others, `its session is full and call ${stalled.split('/').pop()} cannot grow`);
}

function freeze(round: Round, running: readonly CallView[], reason: string): Action | undefined {
  const prio = (c: CallView) => priorityOf(round, c);
  const ranked = rankVictims(running, prio);
  const last = ranked.at(-1)!;
  // The top priority never while a lower one runs. Among equals the largest runs on: a freeze frees
  // nothing, so the call whose end frees the most is the one to let finish.
  const victim = ranked.find((c) => prio(c) < prio(last)) ?? last;
  return acted(round, victim.key) ? undefined : { kind: 'freeze', call: victim.key, reason };
}
