import type { MemoryStatus } from '../cgroup/stats.js';
import type { CallState } from './snapshot.js';

/**
 * Within this much of memory.high a cgroup is at its throttle: reclaim runs there, and without swap
 * a call that needs more sits there, stalled. 1 MiB, or 2% of a large memory.high.
 */
export function throttleMargin(high: number): number {
  return Math.max(1 << 20, high / 50);
}

/**
 * frozen wins (a frozen call is not throttled, it is stopped); throttled when the supervisor counts
 * the call as stalled, when memory.events `high` rose lately, or when memory.current sits at
 * memory.high; running otherwise.
 */
export function stateOf(m: MemoryStatus, signs: { stalled: boolean; highRising: boolean }): CallState {
  if (m.frozen) return 'frozen';
  const atHigh = m.high !== 'max' && m.current >= m.high - throttleMargin(m.high);
  return signs.stalled || signs.highRising || atHigh ? 'throttled' : 'running';
}

/** How long a rise of memory.events `high` keeps counting as "rising": two refreshes of `top`. */
export const RISE_WINDOW_MS = 2000;

/**
 * Remembers, per cgroup, the memory.events `high` count of the last look and when it last grew, so
 * that any client's snapshot says "throttled since the last look" without the daemon polling.
 */
export class RiseWatch {
  private readonly seen = new Map<string, { count: number; roseAtMs: number }>();

  /** A cgroup seen for the first time has no past: only its current memory says whether it is throttled. */
  rising(key: string, count: number, nowMs: number): boolean {
    const prev = this.seen.get(key);
    const roseAtMs = prev && count > prev.count ? nowMs : (prev?.roseAtMs ?? -Infinity);
    this.seen.set(key, { count, roseAtMs });
    return nowMs - roseAtMs <= RISE_WINDOW_MS;
  }

  /** Forgets cgroups that are gone. */
  retain(keys: ReadonlySet<string>): void {
    for (const k of this.seen.keys()) if (!keys.has(k)) this.seen.delete(k);
  }
}
