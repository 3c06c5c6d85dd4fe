/**
 * Agents' memory over time for `agentcgroup plan`, pure: from recorded traces (the container's memory
 * about once a second, ../shared/traces), or from a container's call log (the framework's baseline as
 * the daemon read it when calls began, plus each call's peak for the call's whole duration: an upper
 * bound of what the container held then).
 */
import type { ReportRecord } from '../report/aggregate.js';
import type { Profile } from './fit.js';
import type { Trace } from './traces.js';

const MiB = 1 << 20;

/** A trace's memory, MB divided by `memoryDiv` read as MiB (the replay benchmark's scale; 1: as recorded, MB as MiB). */
export function traceProfile(t: Trace, memoryDiv = 1): Profile {
  const t0 = t.samples[0]![0];
  const points = t.samples.map(([ts, mb]): [number, number] => [Math.round((ts - t0) * 1000), Math.round((mb / memoryDiv) * MiB)]);
  const durationMs = Math.max(1000, points.at(-1)![0] + 1000);
  return { name: t.task, points, durationMs };
}

/**
 * A container's profile from its call records: `baseline` (its framework: given, or the median
 * agentMemory its records carry), and every call's peak on top for the call's duration. Undefined
 * when no baseline is known or no call has a time.
 */
export function callLogProfile(name: string, records: readonly ReportRecord[], baseline?: number): Profile | undefined {
  const bases = records.map((r) => r.agentMemory).filter((v): v is number => v !== undefined).sort((a, b) => a - b);
  const base = baseline ?? (bases.length ? bases[Math.floor((bases.length - 1) / 2)]! : undefined);
  const calls = records.filter((r) => r.durationMs !== null && r.durationMs >= 0);
  if (base === undefined || calls.length === 0) return undefined;
  const t0 = Math.min(...calls.map((r) => r.start));
  const edges: [number, number][] = [];
  for (const r of calls) {
    edges.push([r.start - t0, r.peak ?? 0], [r.start - t0 + r.durationMs!, -(r.peak ?? 0)]);
  }
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const points: [number, number][] = [[0, base]];
  let level = base;
  for (const [t, d] of edges) {
    level += d;
    if (points.at(-1)![0] === t) points.at(-1)![1] = level;
    else points.push([t, level]);
  }
  const durationMs = Math.max(1, edges.at(-1)![0]);
  return { name, points: points.filter(([t]) => t < durationMs), durationMs };
}
