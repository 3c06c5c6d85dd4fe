/** Parsers for cgroup v2 stat files, pure (text in, numbers out), and the one reader of a cgroup's memory. */
import type { Bytes } from '../limits.js';
import type { Cgroupfs } from './cgroupfs.js';

/** Flat keyed files such as memory.events, cgroup.events and pids.events: `key value` lines. */
export function parseFlatKeyed(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && /^\d+$/.test(value)) out[key] = Number(value);
  }
  return out;
}

export interface PressureLine {
  avg10: number;
  avg60: number;
  avg300: number;
  /** Microseconds of stall since the cgroup was created. */
  total: number;
}

export interface Pressure {
  some?: PressureLine;
  full?: PressureLine;
}

/** memory.pressure, cpu.pressure, io.pressure and /proc/pressure/*. */
export function parsePressure(text: string): Pressure {
  const out: Pressure = {};
  for (const line of text.split('\n')) {
    const m = /^(some|full) avg10=([\d.]+) avg60=([\d.]+) avg300=([\d.]+) total=(\d+)$/.exec(line.trim());
    if (!m) continue;
    out[m[1] as 'some' | 'full'] = { avg10: Number(m[2]), avg60: Number(m[3]), avg300: Number(m[4]), total: Number(m[5]) };
  }
  return out;
}

/**
 * A limit file (memory.max, memory.high): bytes, or `max` kept as the word. One representation of
 * "no limit" from the kernel's file to the JSON of a record or a snapshot (JSON has no Infinity);
 * arithmetic that wants a number decides what `max` means where it computes.
 */
export function parseLimit(text: string): Bytes {
  const t = text.trim();
  return t === 'max' ? 'max' : parseCount(t);
}

/** A single number file that is never `max` (memory.current, memory.peak). */
export function parseCount(text: string): number {
  const t = text.trim();
  if (!/^\d+$/.test(t)) throw new Error(`not a cgroup number: ${JSON.stringify(t)}`);
  return Number(t);
}

/** One cgroup's memory as agentcgroup reports it (status, top, metrics). */
export interface MemoryStatus {
  current: number;
  high: Bytes;
  max: Bytes;
  /** null before 5.19, which has no memory.peak. */
  peak: number | null;
  /** memory.events counters: low, high, max, oom, oom_kill (and whatever else the kernel lists). */
  events: Record<string, number>;
  /** memory.pressure: avg10 in percent, total in microseconds. */
  pressure: { some: { avg10: number; totalUs: number }; full: { avg10: number; totalUs: number } };
  /** cgroup.events `frozen 1`: the freeze has taken effect. */
  frozen: boolean;
}

/**
 * Pure over `read`, which returns a file's text or undefined when it is absent. memory.current must be
 * there (throws otherwise: the cgroup is gone); every other file may be missing on an older kernel.
 */
export function memoryStatus(read: (file: string) => string | undefined): MemoryStatus {
  const current = read('memory.current');
  if (current === undefined) throw new Error('no memory.current');
  const optional = <T>(file: string, parse: (text: string) => T, fallback: T): T => {
    const text = read(file);
    return text === undefined ? fallback : parse(text);
  };
  const psi = optional('memory.pressure', parsePressure, {});
  const line = (l: PressureLine | undefined) => ({ avg10: l?.avg10 ?? 0, totalUs: l?.total ?? 0 });
  return {
    current: parseCount(current),
    high: optional('memory.high', parseLimit, 'max'),
    max: optional('memory.max', parseLimit, 'max'),
    peak: optional('memory.peak', parseCount, null),
    events: optional('memory.events', parseFlatKeyed, {}),
    pressure: { some: line(psi.some), full: line(psi.full) },
    frozen: optional('cgroup.events', parseFlatKeyed, {}).frozen === 1,
  };
}

/**
 * A cgroup's memory as the kernel shows it now: what a call's record, the supervisor's snapshot and
 * status/top/metrics all read. A file that cannot be read counts as absent (see memoryStatus); the
 * cgroup being gone throws.
 */
export function readMemoryStatus(fs: Pick<Cgroupfs, 'read'>, cgroup: string): MemoryStatus {
  return memoryStatus((file) => {
    try {
      return fs.read(cgroup, file);
    } catch {
      return undefined;
    }
  });
}
