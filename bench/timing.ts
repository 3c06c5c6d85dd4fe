// Timing whole processes for the host benchmarks (bench:hook-front, bench:fast-paths): variants run
// interleaved run by run after unmeasured warm-up runs, so drift on a shared machine lands on all of
// them alike; each run's outcome is checked, so a variant that fails is never timed as fast.
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

export interface Variant {
  name: string;
  file: string;
  /** argv[0] first. */
  argv: string[];
  env: NodeJS.ProcessEnv;
}

export interface Outcome {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** One run of `v`: wall milliseconds from spawn to exit, and how it ended. */
export function timeProcess(v: Variant, stdin = ''): { ms: number; outcome: Outcome } {
  const began = performance.now();
  const r = spawnSync(v.file, v.argv.slice(1), { argv0: v.argv[0]!, input: stdin, env: v.env, encoding: 'utf8' });
  const ms = performance.now() - began;
  if (r.error) throw new Error(`${v.name}: ${r.error.message}`);
  return { ms, outcome: { status: r.status, stdout: r.stdout, stderr: r.stderr } };
}

export interface Stats {
  min: number;
  median: number;
  max: number;
}

export function stats(xs: readonly number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s.at(-1)! };
}

/**
 * `runs` timed runs of each variant, interleaved, after `warmup` unmeasured rounds; `check` sees each
 * run's outcome and throws when it is not the one expected.
 */
export function interleaved(variants: readonly Variant[], runs: number, check: (v: Variant, o: Outcome) => void, stdin = '', warmup = 3): Map<string, number[]> {
  const times = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  for (let i = 0; i < warmup + runs; i++) {
    for (const v of variants) {
      const { ms, outcome } = timeProcess(v, stdin);
      check(v, outcome);
      if (i >= warmup) times.get(v.name)!.push(ms);
    }
  }
  return times;
}

/** min / median / max per variant, then the median against `base`'s as a ratio and as milliseconds over it. */
export function table(times: ReadonlyMap<string, number[]>, base: string): string[] {
  const b = stats(times.get(base)!).median;
  const lines = [`  ${'variant'.padEnd(14)} ${'min'.padStart(8)} ${'median'.padStart(8)} ${'max'.padStart(8)}   ${`median/${base}`.padStart(14)} ${'over it, ms'.padStart(12)}`];
  for (const [name, xs] of times) {
    const s = stats(xs);
    const f = (n: number) => n.toFixed(2).padStart(8);
    lines.push(`  ${name.padEnd(14)} ${f(s.min)} ${f(s.median)} ${f(s.max)}   ${(s.median / b).toFixed(3).padStart(14)} ${(s.median - b).toFixed(2).padStart(12)}`);
  }
  return lines;
}
