/**
 * What the bench measured, reduced to the numbers it reports. Pure: the agents' own output files and
 * the values read from the kernel in, summaries out. Nothing here looks at a trace.
 */
import { AGENT_LEAF } from '../../src/layout.js';

export interface CallResult {
  idx: number;
  startUs: number;
  endUs: number;
  /** Exit code, or 128 + signal (137: SIGKILL, by the OOM killer or cgroup.kill). */
  status: number;
}

export interface AgentOut {
  /** The agent reached the starting line (it waits there for the bench's go). */
  parked: boolean;
  startUs: number | undefined;
  doneUs: number | undefined;
  calls: CallResult[];
  /** The framework's own cgroup (its /proc/self/cgroup) after the start and before the end line. */
  cgroups: string[];
}

/** Parses what agent.c appends to its OUT file; a torn last line (the agent was killed) is ignored. */
export function parseAgentOut(text: string): AgentOut {
  const out: AgentOut = { parked: false, startUs: undefined, doneUs: undefined, calls: [], cgroups: [] };
  for (const line of text.split('\n')) {
    if (/^G \/\S*$/.test(line)) {
      out.cgroups.push(line.slice(2));
      continue;
    }
    const f = line.trim().split(/\s+/);
    const n = f.slice(1).map(Number);
    if (n.some((v) => !Number.isFinite(v))) continue;
    if (f[0] === 'P' && n.length === 0) out.parked = true;
    else if (f[0] === 'S' && n.length === 1) out.startUs = n[0];
    else if (f[0] === 'D' && n.length === 1) out.doneUs = n[0];
    else if (f[0] === 'R' && n.length === 4) out.calls.push({ idx: n[0]!, startUs: n[1]!, endUs: n[2]!, status: n[3]! });
  }
  return out;
}

/** Nearest-rank quantile of unsorted values; NaN for none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))]!;
}

export const median = (values: readonly number[]): number => quantile(values, 0.5);

export const mean = (values: readonly number[]): number => (values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length);

/** memory.events (flat keyed) as numbers. */
export function parseFlat(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && Number.isFinite(Number(v))) out[k] = Number(v);
  }
  return out;
}

/** memory.max: bytes, or Infinity for "max". */
export function parseMax(text: string): number {
  const t = text.trim();
  return t === 'max' ? Infinity : Number(t);
}

/** One agent of one run, as measured. */
export interface AgentRun {
  agent: number;
  out: AgentOut;
  plannedCalls: number;
  /** From the agent's container cgroup, read before the runtime removed it. */
  memoryPeak: number;
  memoryMax: number;
  oomKills: number;
}

export type Fate = 'finished' | 'call-killed' | 'call-failed' | 'agent-killed' | 'unfinished';

/**
 * finished: the plan ran to its end and every tool call exited 0. agent-killed: the framework itself
 * died (no end line, and the kernel counted an OOM kill in the container). call-killed: it ran to the
 * end but lost a tool call to SIGKILL (the OOM killer, or the ladder's last resort).
 */
export function fate(a: AgentRun): Fate {
  if (a.out.doneUs === undefined) return a.oomKills > 0 ? 'agent-killed' : 'unfinished';
  if (a.out.calls.some((c) => c.status === 137)) return 'call-killed';
  if (a.out.calls.length !== a.plannedCalls || a.out.calls.some((c) => c.status !== 0)) return 'call-failed';
  return 'finished';
}

export const survived = (a: AgentRun): boolean => fate(a) === 'finished';

/** The framework died before its plan's end: the agent is lost, with its context. */
export const lost = (a: AgentRun): boolean => a.out.doneUs === undefined;

export type PriorityClass = 'high' | 'low';
/** The priority mix: even agents of the pick high, odd ones low (in every mode, so classes compare). */
export const classOf = (agent: number): PriorityClass => (agent % 2 === 0 ? 'high' : 'low');

/**
 * How the daemon placed the calls of one run, from its call records: held at exec (stopped until in
 * their cgroup), and of the calls that allocate at once and ran to their end (outcome ok), how many
 * their own cgroup saw whole (its memory.peak at least 90% of the plan's peak: the rest went to the
 * agent leaf before the move).
 */
export interface Placed {
  calls: number;
  heldAtExec: number;
  burst: number;
  burstWhole: number;
}

/** The fields of a daemon call record (src/state/records.ts CallRecord) the bench reads; untrusted JSON. */
export interface CallLine {
  outcome?: string;
  argv?: unknown;
  placement?: { heldAtExec?: boolean };
  memory?: { peak?: number | null };
  /** Present when the ladder froze or reclaimed the call. */
  ladder?: { frozenMs?: unknown; reclaimedBytes?: unknown };
}

/** What the ladder did to the calls of one run, from their records: time frozen, bytes reclaimed. */
export interface LadderTotals {
  /** Calls whose record says the ladder froze or reclaimed them. */
  calls: number;
  frozenMs: number;
  reclaimedBytes: number;
}

/** Sums the records' `ladder` fields; a record without one (not touched, or an older daemon) adds nothing. */
export function ladderTotals(records: readonly CallLine[]): LadderTotals {
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);
  const out: LadderTotals = { calls: 0, frozenMs: 0, reclaimedBytes: 0 };
  for (const r of records) {
    if (typeof r.ladder !== 'object' || r.ladder === null) continue;
    out.calls++;
    out.frozenMs += num(r.ladder.frozenMs);
    out.reclaimedBytes += num(r.ladder.reclaimedBytes);
  }
  return out;
}

/** Summarises call records (the daemon's JSONL) against the planned peak (KiB) of each burst call's spec. */
export function placed(records: readonly CallLine[]): Placed {
  const out: Placed = { calls: 0, heldAtExec: 0, burst: 0, burstWhole: 0 };
  for (const r of records) {
    out.calls++;
    if (r.placement?.heldAtExec === true) out.heldAtExec++;
    const spec = Array.isArray(r.argv) && typeof r.argv[1] === 'string' ? r.argv[1] : '';
    const pts = spec.split(',').map((p) => p.split(':').map(Number));
    // A burst holds its peak from its first point on (bench/replay/plan.ts burstPoints).
    const peak = Math.max(0, ...pts.map((p) => p[1] ?? 0).filter(Number.isFinite));
    // Only calls that ran to their end reached their planned peak: one killed or frozen early did not.
    if (pts.length < 2 || peak < 1024 || pts[0]![1] !== peak || r.outcome !== 'ok') continue;
    out.burst++;
    if ((r.memory?.peak ?? 0) >= 0.9 * peak * 1024) out.burstWhole++;
  }
  return out;
}

/**
 * Where the framework sat: `leaf` when every cgroup it reported is the agent leaf (mode (d)'s hook carved
 * one), `moved` when one was not (the daemon took the framework for a tool call), `unknown` when it
 * reported none.
 */
export function placement(a: AgentRun): 'leaf' | 'moved' | 'unknown' {
  if (a.out.cgroups.length === 0) return 'unknown';
  return outsideLeaf(a) === undefined ? 'leaf' : 'moved';
}

/** The first cgroup the framework reported that is not the agent leaf. */
export const outsideLeaf = (a: AgentRun): string | undefined => a.out.cgroups.find((c) => !c.endsWith(`/${AGENT_LEAF}`));

/** Duration (ms) of each call that exited 0, keyed `agent/idx`; only agents `which` keeps. */
export function callDurations(agents: readonly AgentRun[], which: (a: AgentRun) => boolean = () => true): Map<string, number> {
  const m = new Map<string, number>();
  for (const a of agents) if (which(a)) for (const c of a.out.calls) if (c.status === 0) m.set(`${a.agent}/${c.idx}`, (c.endUs - c.startUs) / 1000);
  return m;
}

export interface Slowdown {
  p50: number;
  p95: number;
  /** Calls compared: those that exited 0 in both runs. */
  n: number;
}

/** p50 and p95 of the calls' durations in `run` over the same calls' in `reference`. */
export function slowdown(run: Map<string, number>, reference: Map<string, number>): Slowdown {
  const keys = [...run.keys()].filter((k) => reference.has(k));
  const a = keys.map((k) => run.get(k)!);
  const b = keys.map((k) => reference.get(k)!);
  return { p50: quantile(a, 0.5) / quantile(b, 0.5), p95: quantile(a, 0.95) / quantile(b, 0.95), n: keys.length };
}

/**
 * Largest agent count whose run kept every agent (`ok`), searching upward in order and stopping at the
 * first that did not: the density of a mode within the budget. 0 when even the smallest failed.
 */
export function density(points: readonly { agents: number; ok: boolean }[]): number {
  let best = 0;
  for (const p of [...points].sort((x, y) => x.agents - y.agents)) {
    if (!p.ok) break;
    best = p.agents;
  }
  return best;
}

/** Share of the reserved memory not used on average (0 to 1); NaN when nothing is reserved. */
export function waste(reservedBytes: number, avgUsedBytes: number): number {
  return reservedBytes > 0 && Number.isFinite(reservedBytes) ? Math.max(0, 1 - avgUsedBytes / reservedBytes) : NaN;
}

/** Counts of the daemon's ladder actions in a slice of its log. */
export function ladderActions(log: string): { freezes: number; thaws: number; raises: number; kills: number } {
  const count = (re: RegExp) => (log.match(re) ?? []).length;
  return {
    freezes: count(/: call \S+ frozen: /g),
    thaws: count(/: call \S+ thawed\n/g),
    raises: count(/ made no progress at memory\.high: raised to /g),
    kills: count(/: call \S+ killed: /g),
  };
}
