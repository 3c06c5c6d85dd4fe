import type { Action, CallView, Decision, LadderState } from '../policy/ladder.js';
import { type Counters, zeroCounters } from './snapshot.js';

const FIELD: Record<Action['kind'], keyof Counters> = { 'raise-high': 'raises', freeze: 'freezes', thaw: 'thaws', kill: 'kills', reclaim: 'reclaims' };

/**
 * What the graduated response did, per tool call (`<container>/<call-id>`, the ladder's keys) and per
 * container. A call's counters go with the call; the container's keep counting for as long as the
 * daemon follows it.
 */
export class Tally {
  private readonly calls = new Map<string, Counters>();
  private readonly containers = new Map<string, Counters>();
  /** Calls frozen now, since when (ms): their time is counted when the freeze ends. */
  private readonly frozenAt = new Map<string, number>();

  /** An action the supervisor carried out (not one that failed), at `nowMs`. */
  noteAction(a: Action, nowMs: number): void {
    this.add(a.call, FIELD[a.kind]);
    if (a.kind === 'freeze') this.frozenAt.set(a.call, nowMs);
    else if (a.kind === 'thaw' || a.kind === 'kill') this.endFreeze(a.call, nowMs);
  }

  private endFreeze(key: string, nowMs: number): void {
    const at = this.frozenAt.get(key);
    if (at === undefined) return;
    this.frozenAt.delete(key);
    this.add(key, 'frozenMs', Math.max(0, nowMs - at));
  }

  /** A call's ladder record as of now: a freeze still on counts up to `nowMs`. */
  ladderOf(key: string, nowMs: number): { frozenMs: number; reclaimedBytes: number } {
    const c = this.calls.get(key) ?? zeroCounters();
    const at = this.frozenAt.get(key);
    return { frozenMs: c.frozenMs + (at === undefined ? 0 : Math.max(0, nowMs - at)), reclaimedBytes: c.reclaimedBytes };
  }

  /** What a finished reclaim gave back. */
  noteReclaimed(key: string, bytes: number): void {
    this.add(key, 'reclaimedBytes', bytes);
  }

  /**
   * One decision of the ladder over `calls` (the calls it saw): a stall begins when a call enters the
   * stalled set; it is resolved when the call leaves it and runs on (not frozen, not being killed,
   * not gone). Counters of calls no longer there are dropped.
   */
  noteDecision(calls: readonly CallView[], before: LadderState, d: Decision): void {
    const stopped = new Set(d.actions.filter((a) => a.kind === 'freeze' || a.kind === 'kill').map((a) => a.call));
    const runningOn = new Set(calls.filter((c) => !c.frozen && !stopped.has(c.key) && !(c.key in d.state.killed)).map((c) => c.key));
    const after = d.state.stalledSinceMs;
    for (const key of Object.keys(after)) if (!(key in before.stalledSinceMs)) this.add(key, 'stalls');
    for (const key of Object.keys(before.stalledSinceMs)) if (!(key in after) && runningOn.has(key)) this.add(key, 'stallsResolved');
    this.retainCalls(new Set(calls.map((c) => c.key)));
  }

  call(key: string): Counters {
    return { ...(this.calls.get(key) ?? zeroCounters()) };
  }

  container(id: string): Counters {
    return { ...(this.containers.get(id) ?? zeroCounters()) };
  }

  private retainCalls(keys: ReadonlySet<string>): void {
    for (const k of this.calls.keys()) if (!keys.has(k)) this.calls.delete(k);
    for (const k of this.frozenAt.keys()) if (!keys.has(k)) this.frozenAt.delete(k);
  }

  forgetContainer(id: string): void {
    this.containers.delete(id);
    for (const k of this.calls.keys()) if (containerOf(k) === id) this.calls.delete(k);
    for (const k of this.frozenAt.keys()) if (containerOf(k) === id) this.frozenAt.delete(k);
  }

  private add(key: string, field: keyof Counters, by = 1): void {
    for (const [map, k] of [[this.calls, key], [this.containers, containerOf(key)]] as const) {
      const c = map.get(k) ?? zeroCounters();
      c[field] += by;
      map.set(k, c);
    }
  }
}

/** Container ids never contain a slash (they are validated as ids), so the first one splits the key. */
function containerOf(key: string): string {
  return key.slice(0, key.indexOf('/'));
}
