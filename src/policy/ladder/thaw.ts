import type { Action, CallView } from '../ladder.js';
import { rankVictims } from './rank.js';
import { type Round, acted, budgetsOf, ended, frozenByUs, priorityOf, useOf } from './round.js';

/**
 * Thaw with hysteresis: below `thawBelow`, lower than the freeze mark, so a thaw does not freeze again
 * at once. One call per decision, the one that would give way last, so the next look sees what it
 * costs before another thaws.
 */
export function thaw(round: Round, fullSessions: ReadonlyMap<string, string>): Action | undefined {
  // A freeze or reclaim in this decision says memory is short somewhere: no thaw can be safe at the same moment.
  if (round.actions.some((a) => a.kind === 'freeze' || a.kind === 'reclaim')) return undefined;
  // A call still giving memory back waits for its reclaim to end: thawed now, it would fault it all back.
  const thawable = round.snap.calls.filter(
    (c) => frozenByUs(round, c) && !ended(round, c.key) && !acted(round, c.key) && round.next.reclaimingSinceMs[c.key] === undefined && eased(round, c, fullSessions),
  );
  const first = rankVictims(thawable, (c) => priorityOf(round, c)).at(-1);
  return first && { kind: 'thaw', call: first.key };
}

/**
 * Every budget the call draws from is below the mark, the host's room not being enough for a call a
 * pool is short for, and so is its session if that has a limit and no stalled call waiting for room.
 */
function eased(round: Round, c: CallView, fullSessions: ReadonlyMap<string, string>): boolean {
  const s = round.sessions.get(c.session);
  const session = !fullSessions.has(c.session) && (!s || s.max === 'max' || s.current / s.max < round.cfg.thawBelow);
  return session && budgetsOf(round, c).every((b) => useOf(b) < round.cfg.thawBelow);
}
