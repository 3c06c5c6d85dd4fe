import { describeError } from '../errors.js';
import { AGENT_LEAF } from '../layout.js';
import type { Bytes, Limits } from '../limits.js';
import type { ContainerRecord } from '../state/records.js';
import { type Step, checkZones, resolveMemory, sessionBytesOf } from './plan.js';

/** One cgroup's memory.high and memory.max: a throttle zone while high sits below max. */
export interface MemoryPair {
  high: Bytes;
  max: Bytes;
}

/** A session as the engine sized it: C's memory.max, and the bytes it stands for (sessionBytesOf). */
export interface Session {
  max: Bytes;
  bytes: number;
}

/** What of a carve record a resize reads. */
export type ResizeInput = Pick<ContainerRecord, 'cgroup' | 'sessionBytes' | 'sessionMax' | 'sizes' | 'agent' | 'tool'>;

export type Resize =
  /** C's memory.max is the one the limits were resolved against. */
  | { kind: 'unchanged' }
  /** A record of an older version keeps no sizes to recompute from: its limits stay as carved. */
  | { kind: 'unsized'; to: Session }
  /** At the new size the policy has no throttle zone (a percentage beside bytes): the limits stay. */
  | { kind: 'refused'; to: Session; why: string }
  /**
   * The limits at the new size, and the writes to C and its agent leaf in order; the agent leaf's are
   * left out when the new size resolves as the old did (a memory.max past the host's memory, or sizes
   * in bytes).
   */
  | { kind: 'resize'; from: Session; to: Session; sessionHigh: Bytes; agent: Limits; tool: Limits; steps: Step[] };

/** 'max' is no limit: above every number. */
const value = (b: Bytes) => (b === 'max' ? Infinity : b);
const smaller = (a: Bytes, b: Bytes): Bytes => (value(a) <= value(b) ? a : b);
const larger = (a: Bytes, b: Bytes): Bytes => (value(a) >= value(b) ? a : b);

export const pairOf = (l: Limits): MemoryPair => ({ high: l.memoryHigh, max: l.memoryMax });

/**
 * Pure: the writes that take one cgroup from `from` to `to`, only those that change something. A
 * shrinking memory.max goes after memory.high, a growing one before it: so, both pairs being sound,
 * memory.high is never above memory.max in between: the throttle zone never goes, not even for a
 * moment in which a burst would meet the OOM killer instead of the throttle.
 */
export function pairSteps(cgroup: string, from: MemoryPair, to: MemoryPair): Step[] {
  const write = (file: string, v: Bytes): Step => ({ op: 'write', cgroup, file, value: String(v) });
  const high = from.high === to.high ? [] : [write('memory.high', to.high)];
  const max = from.max === to.max ? [] : [write('memory.max', to.max)];
  return value(to.max) < value(from.max) ? [...high, ...max] : [...max, ...high];
}

/**
 * Pure: what follows when C's memory.max becomes `sessionMax`. The policy's sizes are resolved again
 * against the new session, as the carve resolved them: C's memory.high and the agent leaf are
 * written here; the tool template is for the record (new calls) and for planCallResize (running ones).
 */
export function planResize(rec: ResizeInput, sessionMax: Bytes, hostMemory: number): Resize {
  const to: Session = { max: sessionMax, bytes: sessionBytesOf(sessionMax, hostMemory) };
  if (rec.sizes === undefined || rec.sessionMax === undefined) return to.bytes === rec.sessionBytes ? { kind: 'unchanged' } : { kind: 'unsized', to };
  if (sessionMax === rec.sessionMax) return { kind: 'unchanged' };
  const after = resolveMemory(rec.sizes, to.bytes);
  try {
    checkZones(after);
  } catch (err) {
    return { kind: 'refused', to, why: describeError(err) };
  }
  const agent: Limits = { ...rec.agent, ...after.agent };
  const tool: Limits = { ...rec.tool, ...after.tool };
  const sessionHigh = after.session.memoryHigh;
  const steps: Step[] = [
    // C's memory.max is the engine's and changed already: after a shrink our memory.high may sit above
    // it, so C's zone is put back first. Written even when its value stays: an engine that resizes
    // through systemd (the systemd cgroup driver of runc and crun, Docker's default on cgroup v2) has
    // it rewrite every memory file of C's unit, memory.high to max among them, just before memory.max.
    { op: 'write', cgroup: rec.cgroup, file: 'memory.high', value: String(sessionHigh) },
    ...pairSteps(`${rec.cgroup}/${AGENT_LEAF}`, pairOf(rec.agent), pairOf(agent)),
  ];
  return { kind: 'resize', from: { max: rec.sessionMax, bytes: rec.sessionBytes }, to, sessionHigh, agent, tool, steps };
}

/**
 * Pure: the writes for a running tool call whose template went from `was` to `now`; `current` is
 * what its cgroup has now. Its memory.max follows the template: a call's cap is its share of the
 * session, as for a call begun now, so a shrink that leaves a call above its new cap ends it as the
 * kernel would have at that size. Its memory.high moves only in the template's direction: a grow never
 * lowers it (a raise the ladder gave a stalled call stays, and every call gets at least the new
 * template's room), a shrink never raises it (a raise was granted against room the smaller session no
 * longer has; the ladder grants it again, step by step, if the call stalls and there is room). Never
 * above the new memory.max. A template that did not change leaves running calls alone.
 */
export function planCallResize(cgroup: string, current: MemoryPair, was: MemoryPair, now: MemoryPair): Step[] {
  if (was.high === now.high && was.max === now.max) return [];
  const high = value(now.high) >= value(was.high) ? larger(current.high, now.high) : smaller(current.high, now.high);
  return pairSteps(cgroup, current, { high: smaller(high, now.max), max: now.max });
}
