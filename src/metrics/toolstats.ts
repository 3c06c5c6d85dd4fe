/**
 * What tool calls that ended came to, per container and tool name: how many of each outcome, and
 * histograms of their duration and peak memory. This is what the metrics carry of single calls (a
 * series per call id would grow without bound); the calls running now are in `status` and `top`.
 * Bounded: a container keeps at most MAX_TOOLS names (the agent chooses them); later ones count
 * under OTHER_TOOL. Forgotten with the container.
 */
import type { CallRecord } from '../state/records.js';

export const MAX_TOOLS = 20;
export const OTHER_TOOL = 'other';

/** Upper bounds, seconds: a quick `ls` to a build of half an hour. */
export const DURATION_BUCKETS: readonly number[] = [0.1, 0.5, 1, 5, 15, 60, 300, 1800];
/** Upper bounds, bytes: 16 MiB to 8 GiB. */
export const PEAK_BUCKETS: readonly number[] = [16, 64, 256, 1024, 4096, 8192].map((m) => m * 2 ** 20);

export const OUTCOMES: readonly CallRecord['outcome'][] = ['ok', 'failed', 'oom-killed', 'killed', 'cut-off', 'ended'];

export interface Histogram {
  /** Per bucket of the bounds, not cumulative; one more at the end for +Inf. */
  counts: number[];
  sum: number;
  count: number;
}

export interface ToolSummary {
  /** The call's name (untrusted), or OTHER_TOOL. */
  tool: string;
  outcomes: Record<CallRecord['outcome'], number>;
  duration: Histogram;
  peak: Histogram;
}

const histogram = (bounds: readonly number[]): Histogram => ({ counts: bounds.map(() => 0).concat(0), sum: 0, count: 0 });

function observe(h: Histogram, bounds: readonly number[], v: number): void {
  const i = bounds.findIndex((b) => v <= b);
  h.counts[i < 0 ? bounds.length : i]! += 1;
  h.sum += v;
  h.count += 1;
}

/** The tool name a container's series go under: its own while the container has fewer than MAX_TOOLS, else OTHER_TOOL. */
export function foldTool(known: ReadonlySet<string>, name: string): string {
  return known.has(name) || known.size < MAX_TOOLS ? name : OTHER_TOOL;
}

export class ToolStats {
  private readonly byContainer = new Map<string, Map<string, ToolSummary>>();

  /** A call's record, once it is logged. Calls without a duration or a peak count in their outcome only. */
  note(container: string, rec: Pick<CallRecord, 'name' | 'outcome' | 'durationMs' | 'memory'>): void {
    let tools = this.byContainer.get(container);
    if (!tools) this.byContainer.set(container, (tools = new Map()));
    const tool = foldTool(new Set([...tools.keys()].filter((k) => k !== OTHER_TOOL)), rec.name);
    let s = tools.get(tool);
    if (!s) {
      s = { tool, outcomes: Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as ToolSummary['outcomes'], duration: histogram(DURATION_BUCKETS), peak: histogram(PEAK_BUCKETS) };
      tools.set(tool, s);
    }
    s.outcomes[rec.outcome] += 1;
    if (rec.durationMs !== null) observe(s.duration, DURATION_BUCKETS, rec.durationMs / 1000);
    if (rec.memory.peak !== null) observe(s.peak, PEAK_BUCKETS, rec.memory.peak);
  }

  /** Copies, sorted by tool name. */
  container(id: string): ToolSummary[] {
    return [...(this.byContainer.get(id)?.values() ?? [])].sort((a, b) => a.tool.localeCompare(b.tool)).map((s) => structuredClone(s));
  }

  forgetContainer(id: string): void {
    this.byContainer.delete(id);
  }
}
