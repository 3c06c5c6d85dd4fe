/**
 * Real agent traces (../shared/traces/agent-traces.jsonl, see its README): parsing and a seeded pick,
 * for the replay benchmark and `agentcgroup plan --traces`.
 * Pure: text in, values out.
 */

/** [t_s, mem_mb, cpu_pct], about once a second. */
export type Sample = [number, number, number];
/** [start_s, end_s, tool, cmd]; cmd is the shell command for Bash, "" otherwise. */
export type ToolWindow = [number, number, string, string];

export interface Trace {
  task: string;
  model: string;
  samples: Sample[];
  tools: ToolWindow[];
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function tuple(v: unknown, kinds: ('n' | 's')[]): boolean {
  return Array.isArray(v) && v.length === kinds.length && kinds.every((k, i) => (k === 'n' ? isNum(v[i]) : typeof v[i] === 'string'));
}

/** One JSON object a line; a malformed line is an error naming its line number. */
export function parseTraces(text: string): Trace[] {
  const out: Trace[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new Error(`traces line ${i + 1}: not JSON`);
    }
    const o = v as Record<string, unknown>;
    if (typeof o.task !== 'string' || typeof o.model !== 'string' || !Array.isArray(o.samples) || !Array.isArray(o.tools)) {
      throw new Error(`traces line ${i + 1}: expected task, model, samples and tools`);
    }
    if (!o.samples.every((s) => tuple(s, ['n', 'n', 'n']))) throw new Error(`traces line ${i + 1}: a sample is not [t_s, mem_mb, cpu_pct]`);
    if (!o.tools.every((w) => tuple(w, ['n', 'n', 's', 's']))) throw new Error(`traces line ${i + 1}: a tool is not [start_s, end_s, tool, cmd]`);
    if (o.samples.length === 0) throw new Error(`traces line ${i + 1}: no samples`);
    const samples = (o.samples as Sample[]).slice().sort((a, b) => a[0] - b[0]);
    const tools = (o.tools as ToolWindow[]).slice().sort((a, b) => a[0] - b[0]);
    out.push({ task: o.task, model: o.model, samples, tools });
  });
  return out;
}

/** mulberry32: a small seeded generator, so a seed picks the same traces everywhere. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const durationS = (t: Trace): number => (t.samples.at(-1)?.[0] ?? 0) - (t.samples[0]?.[0] ?? 0);
export const bashCalls = (t: Trace): ToolWindow[] => t.tools.filter((w) => w[2] === 'Bash');

export interface PickOptions {
  seed: number;
  /** How many to take; undefined: every run that passes the filter. */
  count?: number;
  /** Only runs this long (seconds of the original trace): short enough to replay, long enough to matter. */
  minS: number;
  maxS: number;
  /** Only runs with at least this many Bash calls (the calls that are processes). */
  minBash: number;
}

/**
 * A seeded shuffle (Fisher-Yates) of the runs that pass the filter, first `count` taken. The order is
 * kept: the first k are the agents of a run with k agents, so larger runs add agents to smaller ones.
 */
export function pickTraces(traces: readonly Trace[], o: PickOptions): Trace[] {
  const eligible = traces.filter((t) => durationS(t) >= o.minS && durationS(t) <= o.maxS && bashCalls(t).length >= o.minBash);
  const count = o.count ?? eligible.length;
  if (eligible.length < count) throw new Error(`only ${eligible.length} traces last ${o.minS}-${o.maxS} s with ${o.minBash}+ Bash calls; ${count} wanted`);
  const r = rng(o.seed);
  const a = eligible.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a.slice(0, count);
}
