import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentcgroupError } from '../errors.js';

/** Pure: the `Key:  N kB` lines of /proc/meminfo, in bytes (lines without a kB unit are left out). */
export function parseMeminfo(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^([^:\s]+):\s+(\d+) kB$/gm)) out[m[1]!] = Number(m[2]) * 1024;
  return out;
}

/** The one reader of /proc/meminfo: the carve's session size and the supervisor's host budget. */
export function readMeminfo(procRoot: string): Record<string, number> {
  try {
    return parseMeminfo(readFileSync(join(procRoot, 'meminfo'), 'utf8'));
  } catch (err) {
    throw new AgentcgroupError('no-meminfo', `cannot read ${procRoot}/meminfo: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
}

/** MemTotal in bytes: the session size of a container that has no memory limit of its own. */
export function hostMemoryBytes(procRoot: string): number {
  const total = readMeminfo(procRoot).MemTotal;
  if (total === undefined) throw new AgentcgroupError('no-meminfo', `${procRoot}/meminfo has no MemTotal line`);
  return total;
}
