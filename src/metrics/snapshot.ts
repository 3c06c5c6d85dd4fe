/**
 * What the daemon reports of the containers it follows and their tool calls: the one shape behind
 * `status --json`, `top` and the Prometheus text. Types and the client-side check of a reply.
 */
import type { MemoryStatus } from '../cgroup/stats.js';
import type { PumpCounts } from '../bpf/pump.js';
import type { LineageView } from '../policy/lineage.js';
import { AgentcgroupError } from '../errors.js';
import { UNCARVED_STAGES, type UncarvedRecord } from '../state/uncarved.js';
import { DURATION_BUCKETS, type Histogram, OUTCOMES, PEAK_BUCKETS, type ToolSummary } from './toolstats.js';

/** frozen: cgroup.freeze took effect; throttled: held at memory.high; running: neither. */
export type CallState = 'running' | 'throttled' | 'frozen';
export const CALL_STATES: readonly CallState[] = ['running', 'throttled', 'frozen'];

/** What the graduated response did, counted by the daemon since it started following the container. */
export interface Counters {
  freezes: number;
  thaws: number;
  /** memory.high raised for a stalled call. */
  raises: number;
  kills: number;
  /** Time frozen by the ladder (ms), counted when a freeze ends (thaw or kill). */
  frozenMs: number;
  /** memory.reclaim steps asked of frozen calls, and the memory they gave back (bytes). */
  reclaims: number;
  reclaimedBytes: number;
  /** Stalls at memory.high the supervisor saw begin, and those that ended with the call running on. */
  stalls: number;
  stallsResolved: number;
}

export const COUNTER_NAMES: readonly (keyof Counters)[] = ['freezes', 'thaws', 'raises', 'kills', 'frozenMs', 'reclaims', 'reclaimedBytes', 'stalls', 'stallsResolved'];

export function zeroCounters(): Counters {
  return { freezes: 0, thaws: 0, raises: 0, kills: 0, frozenMs: 0, reclaims: 0, reclaimedBytes: 0, stalls: 0, stallsResolved: 0 };
}

export interface CallSnapshot {
  id: string;
  /** The command's name as the call log has it (untrusted: the agent chose it). */
  name: string;
  owner: 'exec' | 'daemon' | null;
  start: string | null;
  state: CallState;
  /** The supervisor counts it as stalled at memory.high, making no progress. */
  stalled: boolean;
  memory: MemoryStatus;
  counters: Counters;
}

export interface ContainerSnapshot {
  id: string;
  /** C, relative to the cgroup2 root. */
  cgroup: string;
  /** Effective priority rank (low 0, normal 1, high 2). */
  priority: number;
  state: CallState;
  memory: MemoryStatus;
  /** The agent leaf: the framework's own memory. */
  agent: MemoryStatus | null;
  /** What the daemon took for the framework, its launchers and sessions (names are the container's: untrusted). */
  framework: LineageView[];
  counters: Counters;
  calls: CallSnapshot[];
  /** Calls that ended, per tool name (bounded: toolstats.ts); absent from an older daemon. */
  tools?: ToolSummary[];
}

/** A container that started uncarved (its hook or the shim failed open): what its record says. */
export type UncarvedView = Pick<UncarvedRecord, 'id' | 'at' | 'stage' | 'reason'>;

/** The tracker's ring since the daemon opened it: its TrackerPump's counts, as they are. */
export type TrackerCounts = PumpCounts;

export const TRACKER_COUNT_NAMES: readonly (keyof TrackerCounts)[] = ['events', 'batches', 'eventsDropped', 'rescans'];

/** The daemon as an NRI plugin: registered with the runtime, trying to, or not at all; `detail` says which runtime or why. */
export type NriState = 'connected' | 'waiting' | 'off';
export const NRI_STATES: readonly NriState[] = ['connected', 'waiting', 'off'];

export interface NriStatus {
  state: NriState;
  /** One line: the runtime's name and version, what it waits for, or why it is off (the runtime's words are untrusted text). */
  detail: string;
}

/**
 * agentcgroup's sched_ext scheduler (policy sched_ext.enable): off (not asked for, or the daemon
 * stopped), running, unavailable (asked for, cannot run: `detail` says why) or ejected (the kernel
 * stopped it: `detail` has its reason).
 */
export type SchedulerState = 'running' | 'off' | 'unavailable' | 'ejected';
export const SCHEDULER_STATES: readonly SchedulerState[] = ['running', 'off', 'unavailable', 'ejected'];
export const SCHED_CLASS_NAMES = ['agent', 'toolHigh', 'tool', 'toolLow', 'other', 'supervisor'] as const;
/** Classes an older daemon's reply may lack: read as 0 (it had no such class), not as another version. */
const SCHED_CLASSES_ADDED: ReadonlySet<string> = new Set(['supervisor']);

export interface SchedulerStatus {
  state: SchedulerState;
  /** One line: what it does, or why it does not run. */
  detail: string;
  /** cgroups the daemon gave a class (two per container followed). */
  classes: number;
  /** CPU time run by each class since it was loaded; null while it does not run. */
  runSeconds: Record<(typeof SCHED_CLASS_NAMES)[number], number> | null;
}

export interface DaemonSnapshot {
  containers: ContainerSnapshot[];
  /** Tool calls running, over all containers. */
  calls: number;
  tracker: boolean;
  /** null without a tracker, or from a daemon that does not count. */
  trackerCounts: TrackerCounts | null;
  /** When the cgroups were read (ISO 8601). */
  at: string;
  /** The NRI link; null from a daemon that has none (an older version), absent where no one asked. */
  nri?: NriStatus | null;
  /** Containers running uncarved; absent from an older daemon. */
  uncarved?: UncarvedView[];
  /** The sched_ext scheduler; null from an older daemon, absent where no one asked. */
  scheduler?: SchedulerStatus | null;
}

class Shape extends Error {}

type Obj = Record<string, unknown>;

function obj(v: unknown, where: string): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Shape(`${where} is not an object`);
  return v as Obj;
}

function num(o: Obj, k: string, where: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Shape(`${where}.${k} is not a number`);
  return v;
}

function str(o: Obj, k: string, where: string): string {
  const v = o[k];
  if (typeof v !== 'string') throw new Shape(`${where}.${k} is not a string`);
  return v;
}

function list(o: Obj, k: string, where: string): unknown[] {
  const v = o[k];
  if (!Array.isArray(v)) throw new Shape(`${where}.${k} is not a list`);
  return v;
}

function oneOf<T extends string | null>(o: Obj, k: string, allowed: readonly T[], where: string): T {
  if (!allowed.includes(o[k] as T)) throw new Shape(`${where}.${k} is not one of ${allowed.join(', ')}`);
  return o[k] as T;
}

const bytes = (o: Obj, k: string, where: string) => (o[k] === 'max' ? 'max' : num(o, k, where));
function flag(o: Obj, k: string, where: string): boolean {
  if (typeof o[k] !== 'boolean') throw new Shape(`${where}.${k} is not true or false`);
  return o[k] as boolean;
}

function memory(v: unknown, where: string): MemoryStatus {
  const o = obj(v, where);
  const events = obj(o.events, `${where}.events`);
  const pressure = obj(o.pressure, `${where}.pressure`);
  const line = (k: string) => {
    const l = obj(pressure[k], `${where}.pressure.${k}`);
    return { avg10: num(l, 'avg10', `${where}.pressure.${k}`), totalUs: num(l, 'totalUs', `${where}.pressure.${k}`) };
  };
  return {
    current: num(o, 'current', where),
    high: bytes(o, 'high', where),
    max: bytes(o, 'max', where),
    peak: o.peak === null ? null : num(o, 'peak', where),
    events: Object.fromEntries(Object.keys(events).map((k) => [k, num(events, k, `${where}.events`)])),
    pressure: { some: line('some'), full: line('full') },
    frozen: flag(o, 'frozen', where),
  };
}

function counters(v: unknown, where: string): Counters {
  const o = obj(v, where);
  return Object.fromEntries(COUNTER_NAMES.map((k) => [k, num(o, k, where)])) as unknown as Counters;
}

/** Absent from an older daemon's reply: no NRI link, not another version. */
function nriStatus(v: unknown, where: string): NriStatus | null {
  if (v === undefined || v === null) return null;
  const o = obj(v, where);
  return { state: oneOf(o, 'state', NRI_STATES, where), detail: str(o, 'detail', where) };
}

/** Absent from an older daemon's reply: no scheduler, not another version. */
function schedulerStatus(v: unknown, where: string): SchedulerStatus | null {
  if (v === undefined || v === null) return null;
  const o = obj(v, where);
  return {
    state: oneOf(o, 'state', SCHEDULER_STATES, where),
    detail: str(o, 'detail', where),
    classes: num(o, 'classes', where),
    runSeconds: runSeconds(o.runSeconds, `${where}.runSeconds`),
  };
}

/** CPU seconds by class; null while the scheduler does not run. */
function runSeconds(v: unknown, where: string): SchedulerStatus['runSeconds'] {
  if (v === null || v === undefined) return null;
  const run = obj(v, where);
  return Object.fromEntries(SCHED_CLASS_NAMES.map((k) => [k, run[k] === undefined && SCHED_CLASSES_ADDED.has(k) ? 0 : num(run, k, where)])) as SchedulerStatus['runSeconds'];
}

/** Absent from an older daemon's reply: read as not counted, not as another version. */
function trackerCounts(v: unknown, where: string): TrackerCounts | null {
  if (v === undefined || v === null) return null;
  const o = obj(v, where);
  return Object.fromEntries(TRACKER_COUNT_NAMES.map((k) => [k, num(o, k, where)])) as unknown as TrackerCounts;
}

function call(v: unknown, where: string): CallSnapshot {
  const o = obj(v, where);
  return {
    id: str(o, 'id', where),
    name: str(o, 'name', where),
    owner: oneOf(o, 'owner', ['exec', 'daemon', null], where),
    start: o.start === null ? null : str(o, 'start', where),
    state: oneOf(o, 'state', CALL_STATES, where),
    stalled: flag(o, 'stalled', where),
    memory: memory(o.memory, `${where}.memory`),
    counters: counters(o.counters, `${where}.counters`),
  };
}

function histogram(v: unknown, bounds: readonly number[], where: string): Histogram {
  const o = obj(v, where);
  const counts = list(o, 'counts', where).map((n, i) => num({ n }, 'n', `${where}.counts[${i}]`));
  if (counts.length !== bounds.length + 1) throw new Shape(`${where}.counts has ${counts.length} buckets, not ${bounds.length + 1}`);
  return { counts, sum: num(o, 'sum', where), count: num(o, 'count', where) };
}

function tool(v: unknown, where: string): ToolSummary {
  const o = obj(v, where);
  const outcomes = obj(o.outcomes, `${where}.outcomes`);
  return {
    tool: str(o, 'tool', where),
    outcomes: Object.fromEntries(OUTCOMES.map((k) => [k, num(outcomes, k, `${where}.outcomes`)])) as ToolSummary['outcomes'],
    duration: histogram(o.duration, DURATION_BUCKETS, `${where}.duration`),
    peak: histogram(o.peak, PEAK_BUCKETS, `${where}.peak`),
  };
}

function uncarved(v: unknown, where: string): UncarvedView {
  const o = obj(v, where);
  return { id: str(o, 'id', where), at: str(o, 'at', where), stage: oneOf(o, 'stage', UNCARVED_STAGES, where), reason: str(o, 'reason', where) };
}

function lineage(v: unknown, where: string): LineageView {
  const o = obj(v, where);
  return { pid: num(o, 'pid', where), role: oneOf(o, 'role', ['launcher', 'framework', 'session'] as const, where), name: str(o, 'name', where) };
}

function container(v: unknown, where: string): ContainerSnapshot {
  const o = obj(v, where);
  return {
    id: str(o, 'id', where),
    cgroup: str(o, 'cgroup', where),
    priority: num(o, 'priority', where),
    state: oneOf(o, 'state', CALL_STATES, where),
    memory: memory(o.memory, `${where}.memory`),
    agent: o.agent === null ? null : memory(o.agent, `${where}.agent`),
    framework: list(o, 'framework', where).map((f, i) => lineage(f, `${where}.framework[${i}]`)),
    counters: counters(o.counters, `${where}.counters`),
    calls: list(o, 'calls', where).map((c, i) => call(c, `${where}.calls[${i}]`)),
    ...(o.tools === undefined ? {} : { tools: list(o, 'tools', where).map((x, i) => tool(x, `${where}.tools[${i}]`)) }),
  };
}

/**
 * The daemon's `snapshot` reply, checked before anything renders it: a daemon of another version
 * gets one line naming the first field that differs, never a stack trace from deep in a renderer.
 */
export function parseSnapshot(reply: unknown): DaemonSnapshot {
  try {
    const o = obj(reply, 'reply');
    return {
      containers: list(o, 'containers', 'reply').map((c, i) => container(c, `containers[${i}]`)),
      calls: num(o, 'calls', 'reply'),
      tracker: flag(o, 'tracker', 'reply'),
      trackerCounts: trackerCounts(o.trackerCounts, 'reply.trackerCounts'),
      at: str(o, 'at', 'reply'),
      nri: nriStatus(o.nri, 'reply.nri'),
      scheduler: schedulerStatus(o.scheduler, 'reply.scheduler'),
      ...(o.uncarved === undefined ? {} : { uncarved: list(o, 'uncarved', 'reply').map((u, i) => uncarved(u, `uncarved[${i}]`)) }),
    };
  } catch (err) {
    if (err instanceof Shape) throw new AgentcgroupError('bad-reply', `the daemon's snapshot is not what this agentcgroup reads (${err.message}): is it another version?`);
    throw err;
  }
}
