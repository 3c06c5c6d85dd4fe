import type { CallView, LadderConfig, LadderState } from '../ladder.js';

/**
 * When the call's stall without progress began, if it is stalled now: fully stalled (PSI `full`) for
 * at least `stallRatio` of the time since the last look. Without swap, memory.high does not reclaim
 * anonymous memory, it only stalls: a call held there makes no progress until someone acts.
 */
export function stalledSince(c: CallView, prev: LadderState, nowMs: number, cfg: LadderConfig): number | undefined {
  const seen = prev.seen[c.key];
  // A frozen call is held by a freeze, not by memory.high: more room would not move it.
  if (!seen || nowMs <= seen.atMs || c.frozen) return undefined;
  const ratio = (c.fullStallUs - seen.fullStallUs) / 1000 / (nowMs - seen.atMs);
  return ratio >= cfg.stallRatio ? (prev.stalledSinceMs[c.key] ?? seen.atMs) : undefined;
}
