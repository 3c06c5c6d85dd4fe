import { formatBytes } from '../config/size.js';
import type { Bytes } from '../limits.js';
import type { CallRecord, LadderRecord, RunningCall } from '../state/records.js';
import { jsonObject, quote } from '../text.js';

/** What the kernel said about a finished call's cgroup, read just before it is removed. */
export interface CallStats {
  peak: number | null;
  /**
   * memory.max at the end, when read: a resize of the session may have changed it since the call
   * began (the record keeps the memory.high it began with, which only the ladder raises).
   */
  max?: Bytes;
  events: CallRecord['events'];
  pressure: CallRecord['pressure'];
}

export interface CallEnd {
  exit: number | null;
  signal: string | null;
  end: Date;
}

const fmt = (b: Bytes | null) => (b === null ? '?' : formatBytes(b));

/** A call whose cgroup could not be read. */
export const NO_STATS: CallStats = { peak: null, events: { high: 0, max: 0, oom: 0, oom_kill: 0 }, pressure: { someUs: 0, fullUs: 0 } };

function outcomeOf(stats: CallStats, end: CallEnd): CallRecord['outcome'] {
  if (stats.events.oom_kill > 0) return 'oom-killed';
  if (end.signal) return 'killed';
  if (end.exit === null) return 'ended';
  return end.exit === 0 ? 'ok' : 'failed';
}

/** Pure: the call log line for a call that ran to an end we saw. */
export function finishedRecord(call: RunningCall, container: string | null, stats: CallStats, end: CallEnd, supervisorReason?: string, ladder?: LadderRecord): CallRecord {
  const outcome = outcomeOf(stats, end);
  const reason =
    outcome === 'oom-killed'
      ? `memory.max ${fmt(stats.max ?? call.limits.max)} reached (peak ${fmt(stats.peak)})`
      : supervisorReason !== undefined
        ? `ended by agentcgroup: ${supervisorReason}`
        : end.signal
          ? `ended by ${end.signal}`
          : undefined;
  const rec = buildRecord(call, container, stats, end, outcome, reason);
  if (ladder && (ladder.frozenMs > 0 || ladder.reclaimedBytes > 0)) rec.ladder = ladder;
  return rec;
}

const COUNT = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** Pure: the daemon's ladder file as exec reads it back; anything but two counts is no record of it. */
export function parseLadderRecord(text: string): LadderRecord | undefined {
  const { frozenMs, reclaimedBytes } = jsonObject(text) ?? {};
  return COUNT(frozenMs) && COUNT(reclaimedBytes) ? { frozenMs, reclaimedBytes } : undefined;
}

/** Pure: the record of a call the container's teardown cut off; its cgroup is gone, so no stats. */
export function cutOffRecord(container: string, call: RunningCall, now: Date): CallRecord {
  return buildRecord(call, container, NO_STATS, { exit: null, signal: null, end: now }, 'cut-off', 'the container stopped before the call ended');
}

function buildRecord(
  call: RunningCall,
  container: string | null,
  stats: CallStats,
  end: CallEnd,
  outcome: CallRecord['outcome'],
  reason: string | undefined,
): CallRecord {
  const rec: CallRecord = {
    id: call.callId,
    container,
    name: call.name,
    argv: call.argv,
    cgroup: call.cgroup,
    start: call.start,
    end: end.end.toISOString(),
    durationMs: end.end.getTime() - Date.parse(call.start),
    exit: end.exit,
    signal: end.signal,
    outcome,
    memory: { peak: stats.peak, high: call.limits.high, max: stats.max ?? call.limits.max },
    events: stats.events,
    pressure: stats.pressure,
  };
  if (reason !== undefined) rec.reason = reason;
  if (call.placement) rec.placement = call.placement;
  if (call.startedBy) rec.startedBy = call.startedBy;
  if (call.agentMemory !== undefined) rec.agentMemory = call.agentMemory;
  return rec;
}

/** A call that waited frozen is slower for a reason the agent cannot see: said with what it gave back. */
function frozenClause(l: LadderRecord | undefined): string | undefined {
  if (!l || l.frozenMs === 0) return undefined;
  const back = l.reclaimedBytes > 0 ? `, ${formatBytes(l.reclaimedBytes)} of it swapped out meanwhile` : '';
  return `was frozen ${(l.frozenMs / 1000).toFixed(1)} s while memory was short${back}`;
}

/**
 * Pure: what the caller's stderr should say, since an agent otherwise sees a bare 137. Undefined when
 * the call was never limited.
 */
export function callNotice(rec: CallRecord): string | undefined {
  const name = quote(rec.name);
  if (rec.outcome === 'oom-killed') return `agentcgroup: tool call ${name} killed: ${rec.reason}`;
  if (rec.reason?.startsWith('ended by agentcgroup: ')) return `agentcgroup: tool call ${name} ${rec.reason.replace('ended by agentcgroup: ', 'ended: ')}`;
  const frozen = frozenClause(rec.ladder);
  if (rec.events.high > 0) {
    const stall = rec.pressure.fullUs > 0 ? `, stalled ${(rec.pressure.fullUs / 1e6).toFixed(1)} s` : '';
    return `agentcgroup: tool call ${name} was throttled at memory.high ${fmt(rec.memory.high)} (${rec.events.high} times, peak ${fmt(rec.memory.peak)}${stall})${frozen ? `, and ${frozen}` : ''}`;
  }
  return frozen && `agentcgroup: tool call ${name} ${frozen}`;
}
