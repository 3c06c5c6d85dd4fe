// Where a scenario's time went, from the `ms` stamps its records carry (harness.ts): the longest
// stretches between one record and the next, each named by the check that ended it. CI has a time
// budget; this is what the tier prints so the next person knows which steps to look at.

export interface Stamped {
  check?: string;
  done?: true;
  ms?: number;
}

export interface Stretch {
  /** The check recorded at the end of the stretch ('(end)' for the done record). */
  before: string;
  ms: number;
}

/** The `n` longest stretches, longest first; the first starts at the scenario's own start (0 ms). */
export function slowest(records: readonly Stamped[], n: number): Stretch[] {
  const out: Stretch[] = [];
  let last = 0;
  for (const r of records) {
    if (r.ms === undefined) continue;
    out.push({ before: r.check ?? '(end)', ms: r.ms - last });
    last = r.ms;
  }
  return out.sort((a, b) => b.ms - a.ms).slice(0, n);
}

export function describeSlowest(records: readonly Stamped[], n: number): string {
  return slowest(records, n)
    .map((s) => `${(s.ms / 1000).toFixed(1)} s before "${s.before}"`)
    .join('; ');
}
