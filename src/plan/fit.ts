/**
 * `agentcgroup plan`'s model, pure: how likely N agents sharing MEMORY are to need more than it at a
 * given moment. Each agent is a memory profile over time (profiles.ts: a recorded trace, or a
 * container's call log); agent k runs profile k mod P. Agents are not in step, so a moment is each
 * agent at an independent uniform point of its own profile; seeded Monte Carlo over such moments
 * gives the chance the total passes the memory (a call must be frozen, or without agentcgroup an OOM
 * kill), passes 90% of it (memory tight: reclaim, throttled calls), and the total's mean and p99.
 */
import { rng } from './traces.js';

/** Memory over time, a step function: bytes from each point's time until the next point's. */
export interface Profile {
  name: string;
  /** [ms from the start, bytes], sorted by time, the first at 0. */
  points: [number, number][];
  /** The profile's length, ms: the last point lasts until then. */
  durationMs: number;
}

export interface Fit {
  agents: number;
  /** P(total > memory): the share of moments some call must wait frozen (or, unsupervised, be killed). */
  pOver: number;
  /** P(total > tightAt × memory): the share of moments memory is tight (reclaim, throttled calls). */
  pPressure: number;
  meanBytes: number;
  p99Bytes: number;
}

export const peakOf = (p: Profile): number => p.points.reduce((m, [, b]) => Math.max(m, b), 0);

/** Bytes at `t` ms (0 <= t < durationMs): binary search of the step function. */
export function at(p: Profile, t: number): number {
  let lo = 0;
  let hi = p.points.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (p.points[mid]![0] <= t) lo = mid;
    else hi = mid - 1;
  }
  return p.points[lo]![1];
}

export interface FitOptions {
  memory: number;
  /** Where memory counts as tight, a share of it (0.9). */
  tightAt: number;
  trials: number;
  seed: number;
}

export function fit(profiles: readonly Profile[], agents: number, o: FitOptions): Fit {
  if (profiles.length === 0) throw new Error('no profiles to plan with');
  const r = rng(o.seed + agents);
  const totals = new Float64Array(o.trials);
  let over = 0;
  let pressure = 0;
  let sum = 0;
  for (let i = 0; i < o.trials; i++) {
    let total = 0;
    for (let k = 0; k < agents; k++) {
      const p = profiles[k % profiles.length]!;
      total += at(p, r() * p.durationMs);
    }
    totals[i] = total;
    sum += total;
    if (total > o.memory) over++;
    if (total > o.memory * o.tightAt) pressure++;
  }
  totals.sort();
  return { agents, pOver: over / o.trials, pPressure: pressure / o.trials, meanBytes: sum / o.trials, p99Bytes: totals[Math.min(o.trials - 1, Math.ceil(0.99 * o.trials) - 1)]! };
}

/** The most agents whose pOver stays at or under `risk`, trying 1, 2, ... up to `max`; every fit tried, in order. */
export function mostAgents(profiles: readonly Profile[], risk: number, o: FitOptions, max = 256): { agents: number; tried: Fit[] } {
  const tried: Fit[] = [];
  let best = 0;
  for (let n = 1; n <= max; n++) {
    const f = fit(profiles, n, o);
    tried.push(f);
    if (f.pOver > risk) break;
    best = n;
  }
  return { agents: best, tried };
}
