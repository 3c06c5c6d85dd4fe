/**
 * test/vm/tiers.json as the integration tier reads it (pure): which guests boot, with how many vCPUs,
 * and which scenarios each runs. test/run.mjs selects guests the same way (selects()) to prepare each
 * kernel once.
 */

export interface Guest {
  /** `host` or a Debian suite (test/vm/guest.ts VM_KERNEL). */
  kernel: string;
  label: string;
  cpus: number;
  scenarios: 'all' | string[];
}

export interface Tiers {
  /** Scenarios that drive another suite's engines: left out of "all" on the host's kernel. */
  needsEngines: string[];
  /** Scenarios that need a kernel with sched_ext: left out of "all", run only where a guest names them. */
  needsSchedExt: string[];
  guests: Guest[];
}

/** Whether AGENTCGROUP_GUESTS (split into names; none: every guest) picks this guest, by kernel or label. */
export function selects(names: readonly string[], g: Guest): boolean {
  return names.length === 0 || names.includes(g.kernel) || names.includes(g.label);
}

/** The scenarios a guest runs, from every scenario there is. */
export function guestScenarios(tiers: Tiers, g: Guest, all: readonly string[]): string[] {
  if (g.scenarios !== 'all') return g.scenarios;
  return all.filter((n) => (!tiers.needsEngines.includes(n) || g.kernel !== 'host') && !tiers.needsSchedExt.includes(n));
}

/** What is wrong with the file itself, a line each: unknown scenarios, a needsSchedExt scenario no guest runs, a bad vCPU count. */
export function tierProblems(tiers: Tiers, all: readonly string[]): string[] {
  const out: string[] = [];
  for (const g of tiers.guests) {
    if (!Number.isInteger(g.cpus) || g.cpus < 1) out.push(`guest ${g.label}: cpus must be a positive integer, not ${JSON.stringify(g.cpus)}`);
    for (const n of g.scenarios === 'all' ? [] : g.scenarios) if (!all.includes(n)) out.push(`test/vm/tiers.json names ${n} for ${g.label}, which is no scenario`);
  }
  for (const n of [...tiers.needsEngines, ...tiers.needsSchedExt]) if (!all.includes(n)) out.push(`test/vm/tiers.json needs lists name ${n}, which is no scenario`);
  for (const n of tiers.needsSchedExt) {
    if (!tiers.guests.some((g) => guestScenarios(tiers, g, all).includes(n))) out.push(`test/vm/tiers.json lists ${n} in needsSchedExt but no guest names it`);
  }
  return out;
}
