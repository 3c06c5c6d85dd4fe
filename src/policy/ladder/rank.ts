import type { CallView } from '../ladder.js';

/**
 * The one order in which tool calls give way, first to last: lowest priority first and, at equal
 * priority, the call holding the most memory first (killing it frees the most). Ties keep the order
 * given. A kill takes the front, a freeze the front unless all share the top priority (freeze.ts),
 * a thaw the back: the call that would give way last comes back first.
 */
export function rankVictims(calls: readonly CallView[], priorityOf: (c: CallView) => number): CallView[] {
  return [...calls].sort((x, y) => priorityOf(x) - priorityOf(y) || y.current - x.current);
}
