/**
 * Bounded reads of /proc files of a container's process: a process that vanished reads as undefined.
 * Free of native modules, so the hook reads an init's oom_score_adj without loading koffi.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';

export const MAX_READ = 4096;

/** Up to MAX_READ bytes of a /proc file, or undefined when the process is gone. */
export function readBounded(path: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const buf = Buffer.alloc(MAX_READ);
    const n = readSync(fd, buf, 0, MAX_READ, 0);
    return buf.toString('utf8', 0, n);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Pure: /proc/<pid>/stat after the comm, which may itself hold spaces and parentheses. */
export function parseOomScoreAdj(text: string): number | undefined {
  const m = /^(-?\d{1,4})\n?$/.exec(text);
  const n = m ? Number(m[1]) : NaN;
  return n >= -1000 && n <= 1000 ? n : undefined;
}

/** A process's oom_score_adj, or undefined when it is gone (or the file holds no such value). */
export function readOomScoreAdj(procRoot: string, pid: number): number | undefined {
  const text = readBounded(join(procRoot, String(pid), 'oom_score_adj'));
  return text === undefined ? undefined : parseOomScoreAdj(text);
}

