/** Running a seeded fast-check property inside tap: fixed seed, overridable, with the count asserted. */
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';

/**
 * A private temp dir, removed after the test. Not t.testdir(): its path is fixed per test name, so two
 * runs of one file in the same checkout (the lead's npm test beside a developer's) would share it.
 */
export function scratchDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'agentcgroup-fuzz-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** AGENTCGROUP_FUZZ_SEED explores other cases; a failure's report names the seed and path to replay. */
export const SEED = process.env.AGENTCGROUP_FUZZ_SEED === undefined ? 20_240_611 : Number(process.env.AGENTCGROUP_FUZZ_SEED);

/**
 * Messages for tap as plain ASCII: tap drops a whole subtest, silently passing it, when an assertion
 * message holds U+2028, and generated values hold anything.
 */
export function ascii(s: string): string {
  return s.replace(/[^\x20-\x7e\n]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Tallies of what the cases ended as, so a suite that only ever reaches refusals shows it. */
export type Tally = Map<string, number>;

export function bump(tally: Tally, key: string): void {
  tally.set(key, (tally.get(key) ?? 0) + 1);
}

/**
 * Checks `property` over `runs` cases from `arb`. The property throws an Error listing what was
 * violated; fast-check shrinks it to a small counterexample and reports it with the seed and path.
 */
export async function fuzz<T>(t: Test, name: string, arb: fc.Arbitrary<T>, runs: number, property: (value: T) => Promise<void>): Promise<number> {
  let count = 0;
  const details = await fc.check(
    fc.asyncProperty(arb, async (v) => {
      count++;
      await property(v);
    }),
    { seed: SEED, numRuns: runs, endOnFailure: false },
  );
  if (details.failed) {
    const why = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    // Cut: a counterexample can be a megabyte of YAML.
    t.fail(ascii(`${name}: ${why}\n${fc.defaultReportMessage(details) ?? ''}`).slice(0, 6000));
  } else t.pass(`${name}: ${runs} cases hold`);
  // Shrinking runs extra cases; what counts is that every generated case ran.
  t.ok(count >= runs, `${name}: ${count} cases run (at least ${runs})`);
  t.comment(`${name}: ${count} cases, seed ${SEED}`);
  return count;
}
