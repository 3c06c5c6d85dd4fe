import type { Action, BudgetView } from '../ladder.js';
import { rankVictims } from './rank.js';
import { reclaimMayMakeRoom } from './reclaim.js';
import { type Round, callsUnder, drawsOn, frozenByUs, priorityOf, shortOf, useOf } from './round.js';

/**
 * Rung 5, the last resort: at `killAt` one tool call under the budget is killed, never an agent's
 * framework (it is not a tool call), and not while reclaim may still make room (swap to push frozen
 * calls into). Freezing stops growth but frees nothing; a kill frees what the victim holds, so the
 * lowest priority holding the most goes.
 */
export function killOver(round: Round, b: BudgetView): Action | undefined {
  if (useOf(b) < round.cfg.killAt || dying(round, b) || reclaimMayMakeRoom(round, b)) return undefined;
  const under = callsUnder(round, b.id);
  // Frozen ones first: ranking is stable, and a call we froze is already doing nothing for its owner.
  // A call someone else froze is not ours to kill.
  const candidates = [...under.filter((c) => frozenByUs(round, c)), ...under.filter((c) => !c.frozen)];
  const victim = rankVictims(candidates, (c) => priorityOf(round, c))[0];
  const tried = round.cfg.reclaim ? 'freezing and reclaim did not relieve it' : 'freezing did not relieve it';
  return victim && { kind: 'kill', call: victim.key, reason: `${shortOf(b)} and ${tried}` };
}

/** A victim of an earlier decision still there: its memory is on its way out, so no second one meanwhile. */
function dying(round: Round, b: BudgetView): boolean {
  return round.snap.calls.some((c) => round.prev.killed[c.key] !== undefined && drawsOn(round, c, b.id));
}
