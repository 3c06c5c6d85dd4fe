/**
 * `agentcgroup report` for a terminal: aligned tables, a bar for each tool's p95 peak against the
 * largest peak seen, names escaped (they are the containers' text). Pure.
 */
import { formatBytes } from '../config/size.js';
import { oneLine } from '../text.js';
import type { Report, ToolRow } from './aggregate.js';

const BAR = 12;

const ms = (v: number | undefined) => (v === undefined ? '-' : v < 1000 ? `${Math.round(v)}ms` : v < 60_000 ? `${(v / 1000).toFixed(1)}s` : `${(v / 60_000).toFixed(1)}m`);
const bytes = (v: number | null | undefined) => (v === null || v === undefined ? '-' : formatBytes(v));

function bar(v: number | undefined, max: number): string {
  if (v === undefined || max <= 0) return ''.padEnd(BAR);
  const n = Math.max(v > 0 ? 1 : 0, Math.round((v / max) * BAR));
  return '#'.repeat(n).padEnd(BAR, '.');
}

/** Columns left-aligned for text, right-aligned for figures. */
function table(head: string[], rows: string[][], left: ReadonlySet<number>): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (left.has(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)];
}

function toolCells(t: ToolRow, maxPeak: number): string[] {
  return [
    oneLine(t.tool, 32),
    String(t.count),
    ms(t.durationMs?.p50),
    ms(t.durationMs?.p95),
    bytes(t.peak?.p50),
    bytes(t.peak?.p95),
    bytes(t.peak?.max),
    bar(t.peak?.p95, maxPeak),
    String(t.throttled),
    String(t.oomKilled),
    String(t.ladderKilled),
    String(t.failed),
    ms(t.stallMs),
  ];
}

export function renderReport(r: Report): string {
  const lines = [`${r.records} tool calls from ${r.containers.length} container${r.containers.length === 1 ? '' : 's'}${r.since ? ` since ${r.since}` : ''}${r.skipped ? `; ${r.skipped} line${r.skipped === 1 ? '' : 's'} not a call record, skipped` : ''}`];
  if (r.records === 0) return `${lines[0]}\n`;
  const maxPeak = Math.max(0, ...r.tools.map((t) => t.peak?.max ?? 0));
  lines.push(
    '',
    ...table(['TOOL', 'CALLS', 'P50', 'P95', 'PEAK50', 'PEAK95', 'MAX', 'PEAK95 OF ALL', 'THROTTLED', 'OOM', 'LADDER', 'FAILED', 'STALLED'], r.tools.map((t) => toolCells(t, maxPeak)), new Set([0, 7])),
    '',
    ...table(
      ['CONTAINER', 'CALLS', 'IN CALLS', 'FRAMEWORK', 'CALL PEAK', 'AT PEAK', 'PEAK/BASE', 'OOM'],
      r.containers.map((c) => [
        oneLine(c.container, 64),
        String(c.calls),
        ms(c.callMs),
        bytes(c.framework),
        bytes(c.peakMax),
        bytes(c.atPeak),
        c.peakToBaseline === null ? '-' : `${c.peakToBaseline.toFixed(1)}x`,
        String(c.oomKilled),
      ]),
      new Set([0]),
    ),
    '',
    'P50/P95: call duration; PEAK: memory.peak of the call\'s cgroup; THROTTLED: calls that hit memory.high; OOM: killed by the kernel at memory.max; LADDER: ended by the daemon\'s last resort; STALLED: time all of a call\'s tasks waited on memory (PSI full), summed. FRAMEWORK: the agent leaf\'s memory as calls began (median); AT PEAK: the most the container held at a call\'s peak; PEAK/BASE: the two as a ratio.',
  );
  return `${lines.join('\n')}\n`;
}
