import type { Action } from '../ladder.js';
import { type Round, ended } from './round.js';

const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;

/**
 * A call frozen or stalled for `deadlineMs` is ended with the reason, whatever the other rungs would
 * do: neither state ends by itself, and ending the call frees its memory and tells its owner why.
 */
export function deadlines(round: Round): Action[] {
  const { snap, next, cfg } = round;
  const now = snap.nowMs;
  const limit = seconds(cfg.deadlineMs);
  const out: Action[] = [];
  for (const c of snap.calls) {
    if (ended(round, c.key)) continue;
    const frozenAt = next.frozenSinceMs[c.key];
    const stalledAt = next.stalledSinceMs[c.key];
    if (frozenAt !== undefined && now - frozenAt >= cfg.deadlineMs) {
      out.push({ kind: 'kill', call: c.key, reason: `frozen for ${seconds(now - frozenAt)} (limit ${limit}) while memory was short` });
    } else if (stalledAt !== undefined && now - stalledAt >= cfg.deadlineMs) {
      out.push({ kind: 'kill', call: c.key, reason: `throttled at memory.high for ${seconds(now - stalledAt)} (limit ${limit}) without progress` });
    }
  }
  return out;
}
