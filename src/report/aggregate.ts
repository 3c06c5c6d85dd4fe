/**
 * `agentcgroup report`'s arithmetic, pure: call records folded, one at a time, into per-tool and
 * per-container figures. A tool is the call's name (the program: pytest, git, npm, make, python...);
 * a record's text fields come from containers and are only counted and shown, escaped, never trusted.
 */

/** What a record must hold to be counted (src/state/records.ts CallRecord, checked at the edge: calllog.ts). */
export interface ReportRecord {
  container: string;
  name: string;
  start: number;
  durationMs: number | null;
  outcome: string;
  reason?: string;
  peak: number | null;
  /** memory.events high: the call was throttled at memory.high at least once. */
  throttled: boolean;
  /** pressure full, microseconds: the time the call's tasks were all stalled on memory. */
  stallUs: number;
  /** The agent leaf's memory.current as the call began (daemon-placed calls): the framework's footprint. */
  agentMemory?: number;
  /** The call's memory.high and memory.max as recorded (bytes; null for max). */
  high: number | null;
  max: number | null;
}

interface Acc {
  count: number;
  highs: number[];
  maxes: number[];
  /** OOM-killed after memory.high had throttled them: the zone between the two did not hold them. */
  throttledThenOom: number;
  /** Ended by the ladder after a stall at memory.high, or frozen, past the deadline. */
  stalledKills: number;
  frozenKills: number;
  durations: number[];
  peaks: number[];
  throttled: number;
  oomKilled: number;
  ladderKilled: number;
  failed: number;
  stallUs: number;
}

export interface ToolRow {
  tool: string;
  count: number;
  durationMs: { p50: number; p95: number } | null;
  peak: { p50: number; p95: number; max: number } | null;
  throttled: number;
  oomKilled: number;
  /** Ended by the daemon's ladder (its last resort), not by the kernel. */
  ladderKilled: number;
  /** Of those: after a stall at memory.high, after a freeze. */
  stalledKills: number;
  frozenKills: number;
  /** OOM-killed though memory.high had throttled them first. */
  throttledThenOom: number;
  /** The limits the calls ran under (the median: a resize or a policy change may vary them). */
  memoryHigh: number | null;
  memoryMax: number | null;
  failed: number;
  stallMs: number;
}

export interface ContainerRow {
  container: string;
  calls: number;
  /** Σ call durations, ms. */
  callMs: number;
  /** The largest call's memory.peak. */
  peakMax: number | null;
  /** The framework's baseline: the median of the agent leaf's memory as calls began; null when no call says. */
  framework: number | null;
  /** The most the container held at a call's peak: the framework as that call began plus its peak. */
  atPeak: number | null;
  /** atPeak over the baseline: how far a tool call takes the container above its usual footprint. */
  peakToBaseline: number | null;
  oomKilled: number;
}

export interface Report {
  records: number;
  /** Lines that were no call record (cut, garbled, another version): counted, never fatal. */
  skipped: number;
  since?: string;
  tools: ToolRow[];
  containers: ContainerRow[];
}

const LADDER = /^ended by agentcgroup/;
// A tool is named by the program; an absurd name (a container's choice) is cut, not trusted.
const NAME_MAX = 64;

function fresh(): Acc {
  return { count: 0, highs: [], maxes: [], throttledThenOom: 0, stalledKills: 0, frozenKills: 0, durations: [], peaks: [], throttled: 0, oomKilled: 0, ladderKilled: 0, failed: 0, stallUs: 0 };
}

/** The nearest-rank quantile of sorted values. */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const median = (xs: readonly number[]): number | null => (xs.length ? quantile([...xs].sort((x, y) => x - y), 0.5) : null);

export class ReportBuilder {
  private readonly tools = new Map<string, Acc>();
  private readonly containers = new Map<string, Acc & { frameworks: number[]; atPeak: number }>();
  private records = 0;
  private skippedLines = 0;

  add(r: ReportRecord): void {
    this.records++;
    const tool = r.name.slice(0, NAME_MAX) || '?';
    const t = this.tools.get(tool) ?? fresh();
    this.tools.set(tool, t);
    const c = this.containers.get(r.container) ?? { ...fresh(), frameworks: [], atPeak: -1 };
    this.containers.set(r.container, c);
    for (const a of [t, c]) {
      a.count++;
      if (r.durationMs !== null && r.durationMs >= 0) a.durations.push(r.durationMs);
      if (r.peak !== null) a.peaks.push(r.peak);
      if (r.throttled) a.throttled++;
      if (r.outcome === 'oom-killed') a.oomKilled++;
      if (r.outcome === 'killed' && LADDER.test(r.reason ?? '')) {
        a.ladderKilled++;
        if (/: throttled at memory\.high/.test(r.reason ?? '')) a.stalledKills++;
        if (/: frozen for/.test(r.reason ?? '')) a.frozenKills++;
      }
      if (r.outcome === 'oom-killed' && r.throttled) a.throttledThenOom++;
      if (r.high !== null) a.highs.push(r.high);
      if (r.max !== null) a.maxes.push(r.max);
      if (r.outcome === 'failed') a.failed++;
      a.stallUs += r.stallUs;
    }
    if (r.agentMemory !== undefined) {
      c.frameworks.push(r.agentMemory);
      c.atPeak = Math.max(c.atPeak, r.agentMemory + (r.peak ?? 0));
    }
  }

  skipped(): void {
    this.skippedLines++;
  }

  /** Tools by call count, then name; containers by name. */
  build(since?: string): Report {
    const tools = [...this.tools].map(([tool, a]): ToolRow => {
      const d = [...a.durations].sort((x, y) => x - y);
      const p = [...a.peaks].sort((x, y) => x - y);
      return {
        tool,
        count: a.count,
        durationMs: d.length ? { p50: quantile(d, 0.5), p95: quantile(d, 0.95) } : null,
        peak: p.length ? { p50: quantile(p, 0.5), p95: quantile(p, 0.95), max: p.at(-1)! } : null,
        throttled: a.throttled,
        oomKilled: a.oomKilled,
        ladderKilled: a.ladderKilled,
        stalledKills: a.stalledKills,
        frozenKills: a.frozenKills,
        throttledThenOom: a.throttledThenOom,
        memoryHigh: median(a.highs),
        memoryMax: median(a.maxes),
        failed: a.failed,
        stallMs: Math.round(a.stallUs / 1000),
      };
    });
    tools.sort((x, y) => y.count - x.count || (x.tool < y.tool ? -1 : 1));
    const containers = [...this.containers].map(([container, a]): ContainerRow => {
      const framework = a.frameworks.length ? quantile([...a.frameworks].sort((x, y) => x - y), 0.5) : null;
      const atPeak = a.atPeak >= 0 ? a.atPeak : null;
      return {
        container,
        calls: a.count,
        callMs: a.durations.reduce((s, v) => s + v, 0),
        peakMax: a.peaks.length ? a.peaks.reduce((m, v) => (v > m ? v : m), 0) : null,
        framework,
        atPeak,
        peakToBaseline: framework && atPeak !== null ? atPeak / framework : null,
        oomKilled: a.oomKilled,
      };
    });
    containers.sort((x, y) => (x.container < y.container ? -1 : 1));
    return { records: this.records, skipped: this.skippedLines, ...(since === undefined ? {} : { since }), tools, containers };
  }
}
