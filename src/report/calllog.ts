/**
 * Reading call logs for `agentcgroup report`: every `<container>.jsonl` of the call log directory (or
 * one container's), line by line in one streaming pass, so many and large logs cost memory only for
 * the figures kept. A line that is no call record is counted as skipped, never fatal: a log cut at its
 * size bound, or written by another version.
 */
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { AgentcgroupError } from '../errors.js';
import { validateContainerId } from '../oci/ids.js';
import { jsonObject, printable, quote } from '../text.js';
import type { ReportRecord } from './aggregate.js';

// A record line is a few KiB at most (argv is bounded by limits.argvBytes); a longer one is no record.
const LINE_MAX = 256 * 1024;

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** The fields report reads, from one log line; undefined when it is not a call record. */
export function parseRecordLine(line: string, container: string): ReportRecord | undefined {
  const r = line.length > LINE_MAX ? undefined : jsonObject(line);
  if (!r) return undefined;
  const start = typeof r.start === 'string' ? Date.parse(r.start) : NaN;
  const memory = (r.memory ?? {}) as Record<string, unknown>;
  const events = (r.events ?? {}) as Record<string, unknown>;
  const pressure = (r.pressure ?? {}) as Record<string, unknown>;
  if (typeof r.name !== 'string' || typeof r.outcome !== 'string' || !Number.isFinite(start)) return undefined;
  return {
    container,
    name: r.name,
    start,
    durationMs: num(r.durationMs) ?? null,
    outcome: r.outcome,
    ...(typeof r.reason === 'string' ? { reason: r.reason } : {}),
    peak: num(memory.peak) ?? null,
    throttled: (num(events.high) ?? 0) > 0,
    stallUs: num(pressure.fullUs) ?? 0,
    ...(num(r.agentMemory) !== undefined ? { agentMemory: num(r.agentMemory)! } : {}),
    high: num(memory.high) ?? null,
    max: num(memory.max) ?? null,
  };
}

/** The logs to read: one container's, or every one in the directory (sorted, so the output is stable). */
export function callLogs(dir: string, container?: string): { container: string; file: string }[] {
  if (container !== undefined) {
    const id = validateContainerId(container);
    const file = join(dir, `${id}.jsonl`);
    if (!statSync(file, { throwIfNoEntry: false })?.isFile()) throw new AgentcgroupError('no-call-log', `no call log for container ${quote(id)} in ${printable(dir)}`);
    return [{ container: id, file }];
  }
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new AgentcgroupError('no-call-log', `cannot read the call log directory ${printable(dir)} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return names
    .filter((n) => n.endsWith('.jsonl'))
    .sort()
    .map((n) => ({ container: n.slice(0, -'.jsonl'.length), file: join(dir, n) }))
    .filter((l) => statSync(l.file, { throwIfNoEntry: false })?.isFile() === true);
}

/** Where readCallLogs puts what it reads: a ReportBuilder, or plan's records per container. */
export interface RecordSink {
  add(r: ReportRecord): void;
  /** A line that is no call record. */
  skipped(): void;
}

/** Feeds every record of `logs` started at or after `sinceMs` to `into`. */
export async function readCallLogs(logs: readonly { container: string; file: string }[], into: RecordSink, sinceMs = -Infinity): Promise<void> {
  for (const { container, file } of logs) {
    const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
    for await (const line of lines) {
      if (line === '') continue;
      const rec = parseRecordLine(line, container);
      if (rec === undefined) into.skipped();
      else if (rec.start >= sinceMs) into.add(rec);
    }
  }
}

/** `--since`: a duration back from now (90s, 30m, 12h, 7d), or an ISO 8601 time; ms since the epoch. */
export function parseSince(text: string, now: number): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(text.trim());
  if (m) return now - Number(m[1]) * { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[m[2] as 's' | 'm' | 'h' | 'd'];
  const at = /^\d{4}-\d\d-\d\d/.test(text) ? Date.parse(text) : NaN;
  if (Number.isFinite(at)) return at;
  throw new AgentcgroupError('bad-since', `--since ${quote(text, 40)}: expected a duration back from now (90s, 30m, 12h, 7d) or a time (2026-12-01T10:00:00Z)`);
}
