/**
 * The storm scenario's report (not run yet; see test/integration/agents/storm.c): while one container
 * runs a fork/exec storm, how soon another container's tool calls are in their own cgroups, whether
 * the daemon still answers, and what the shared ring lost. One row per phase (quiet, then each kind
 * of storm). Pure: the guest script measures, this only reads storm's output line and prints.
 */
import { quantile } from '../replay/stats.js';

/** storm.c's one line of output. */
export interface StormLine {
  mode: 'exec' | 'fork';
  workers: number;
  seconds: number;
  started: number;
  failed: number;
  perSecond: number;
}

/** One tool call of the probe container. */
export interface Probe {
  /** Exec to in its own cgroup (its call record's placement.afterExecUs); null: no exec event placed it (lost to a full ring: a rescan did, or nothing). */
  placedUs: number | null;
  /** Stopped at exec until placed: its event reached the ring in time to hold it. */
  held: boolean;
}

export interface PhaseRun {
  /** e.g. "quiet", "storm as a tool call", "storm as the framework". */
  phase: string;
  /** null for the quiet phase. */
  storm: StormLine | null;
  probes: Probe[];
  /** Round trips of an admin `ping` during the phase: whether the daemon's event loop still turns. */
  pingUs: number[];
  /** The tracker's counts over the phase (differences of status --json's trackerCounts). */
  eventsDropped: number;
  rescans: number;
}

/** Reads storm's output line; anything else (a crash, a usage line) is named, not half-read. */
export function parseStormLine(text: string): StormLine {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text.trim()) as Record<string, unknown>;
  } catch {
    throw new Error(`storm printed no result line: ${JSON.stringify(text.slice(0, 200))}`);
  }
  const n = (k: string) => {
    if (typeof o[k] !== 'number' || !Number.isFinite(o[k])) throw new Error(`storm's result has no number ${k}: ${text.trim().slice(0, 200)}`);
    return o[k] as number;
  };
  if (o.mode !== 'exec' && o.mode !== 'fork') throw new Error(`storm's result has no mode: ${text.trim().slice(0, 200)}`);
  return { mode: o.mode, workers: n('workers'), seconds: n('seconds'), started: n('started'), failed: n('failed'), perSecond: n('perSecond') };
}

const ms = (us: number) => (Number.isNaN(us) ? 'n/a' : `${(us / 1000).toFixed(1)} ms`);
const spread = (values: readonly number[]) => `${ms(quantile(values, 0.5))} / ${ms(quantile(values, 0.99))} / ${ms(values.length ? Math.max(...values) : NaN)}`;

const COLUMNS: { head: string; cell: (r: PhaseRun) => string }[] = [
  { head: 'phase', cell: (r) => r.phase },
  { head: 'storm', cell: (r) => (r.storm ? `${r.storm.mode} x${r.storm.workers}: ${Math.round(r.storm.perSecond)}/s${r.storm.failed ? `, ${r.storm.failed} refused` : ''}` : '-') },
  { head: 'probe calls', cell: (r) => String(r.probes.length) },
  { head: 'placed p50 / p99 / max', cell: (r) => spread(r.probes.flatMap((p) => (p.placedUs === null ? [] : [p.placedUs]))) },
  { head: 'not placed by its exec', cell: (r) => String(r.probes.filter((p) => p.placedUs === null).length) },
  { head: 'held', cell: (r) => `${r.probes.filter((p) => p.held).length}/${r.probes.length}` },
  { head: 'admin ping p50 / p99 / max', cell: (r) => spread(r.pingUs) },
  { head: 'events lost', cell: (r) => String(r.eventsDropped) },
  { head: 'rescans', cell: (r) => String(r.rescans) },
];

/** A markdown table, one row per phase. */
export function report(runs: readonly PhaseRun[]): string[] {
  const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [row(COLUMNS.map((c) => c.head)), row(COLUMNS.map(() => '---')), ...runs.map((r) => row(COLUMNS.map((c) => c.cell(r).replace(/\|/g, '\\|'))))];
}
