export interface Declared {
  id: string;
  /** Its rank (PRIORITY_RANK of src/config/policy.ts), as its record keeps it. */
  priority: number;
  /** Containers this agent needs running: they must not be frozen before it. */
  dependsOn: readonly string[];
}

/**
 * Pure: each agent's priority raised to that of every agent depending on it, directly or through a
 * chain. Cycles are harmless: priorities only ever rise to a common maximum.
 */
export function effectivePriorities(agents: readonly Declared[]): Map<string, number> {
  const eff = new Map(agents.map((a) => [a.id, a.priority]));
  for (let changed = true, rounds = 0; changed && rounds <= agents.length; rounds++) {
    changed = false;
    for (const a of agents) {
      for (const dep of a.dependsOn) {
        const mine = eff.get(a.id)!;
        const theirs = eff.get(dep);
        if (theirs !== undefined && theirs < mine) {
          eff.set(dep, mine);
          changed = true;
        }
      }
    }
  }
  return eff;
}
