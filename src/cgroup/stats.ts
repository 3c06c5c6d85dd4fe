/** Parsers for cgroup v2 stat files. Pure: text in, numbers out. */

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

/** A single number file (memory.peak, memory.current); `max` is Infinity. */
export function parseLimit(text: string): number {
  const t = text.trim();
  if (t === 'max') return Infinity;
  if (!/^\d+$/.test(t)) throw new Error(`not a cgroup number: ${JSON.stringify(t)}`);
  return Number(t);
}
