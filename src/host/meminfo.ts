import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentcgroupError } from '../errors.js';

/** MemTotal in bytes: the session size of a container that has no memory limit of its own. */
export function hostMemoryBytes(procRoot: string): number {
  let text: string;
  try {
    text = readFileSync(join(procRoot, 'meminfo'), 'utf8');
  } catch (err) {
    throw new AgentcgroupError('no-meminfo', `cannot read ${procRoot}/meminfo: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  const m = /^MemTotal:\s+(\d+) kB$/m.exec(text);
  if (!m) throw new AgentcgroupError('no-meminfo', `${procRoot}/meminfo has no MemTotal line`);
  return Number(m[1]) * 1024;
}
