/**
 * What the daemon reads of processes and the one signal it sends them, behind one seam the unit
 * tests replace. Everything read here belongs to a container's process, so it is untrusted: reads are
 * bounded (a cmdline can be megabytes) and a process that vanished reads as undefined.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { closeFd, pidfdAlive, pidfdOpen, writeToProcessFd } from './pidfd.js';
import { MAX_READ, readBounded } from './procread.js';

export interface ProcStat {
  /** R, S, D, T (stopped), t (traced), Z... */
  state: string;
  ppid: number;
  pgrp: number;
  /** The controlling terminal's device number; 0: none. */
  ttyNr: number;
}

/**
 * One process, held by a pidfd: every act through it first checks that the pid still names the
 * process it was opened on, so a container's process that exits cannot have us act on whatever
 * process the host gives its pid to next.
 */
export interface ProcHandle {
  readonly pid: number;
  /** Not yet reaped: its pid names no other process. */
  alive(): boolean;
  /** Its own /proc/<pid>/oom_score_adj; false when it is gone. */
  setOomScoreAdj(value: number): boolean;
  /**
   * A line onto its stderr through its own open file (never a path reopened as root), without ever
   * waiting on a reader: what happened, for the log.
   */
  tellStderr(line: string): string;
  close(): void;
}

export interface ProcessOps {
  cmdline(pid: number): string[] | undefined;
  comm(pid: number): string | undefined;
  stat(pid: number): ProcStat | undefined;
  /** The process's cgroup v2 path (`0::/...` line of /proc/<pid>/cgroup). */
  cgroup(pid: number): string | undefined;
  /** SIGCONT: a process the tracker held at exec goes on. False when it is gone. */
  resume(pid: number): boolean;
  /** A handle on the process now behind `pid`; undefined when there is none. */
  open(pid: number): ProcHandle | undefined;
}

export function parseStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const f = text.slice(close + 2).split(' ');
  const n = (i: number) => Number(f[i]);
  if (f.length < 5 || !/^[A-Za-z]$/.test(f[0] ?? '') || [1, 2, 4].some((i) => !Number.isInteger(n(i)))) return undefined;
  return { state: f[0] ?? '?', ppid: n(1), pgrp: n(2), ttyNr: n(4) };
}

/** Pure: argv from /proc/<pid>/cmdline (NUL-separated; a cut read keeps its whole words only). */
export function parseCmdline(text: string, complete: boolean): string[] | undefined {
  const parts = text.split('\0');
  if (parts.at(-1) === '' || !complete) parts.pop();
  return parts.length > 0 ? parts : undefined;
}

/** Pure: /proc/<pid>/oom_score_adj, an integer from -1000 to 1000; undefined for anything else. */
export function procfs(procRoot: string): ProcessOps {
  const at = (pid: number, file: string) => join(procRoot, String(pid), file);
  return {
    cmdline(pid) {
      const text = readBounded(at(pid, 'cmdline'));
      return text === undefined ? undefined : parseCmdline(text, Buffer.byteLength(text) < MAX_READ);
    },
    comm(pid) {
      return readBounded(at(pid, 'comm'))?.replace(/\n$/, '');
    },
    stat(pid) {
      const text = readBounded(at(pid, 'stat'));
      return text === undefined ? undefined : parseStat(text);
    },
    cgroup(pid) {
      const text = readBounded(at(pid, 'cgroup'));
      return text?.split('\n').find((l) => l.startsWith('0::'))?.slice(3);
    },
    resume(pid) {
      try {
        process.kill(pid, 'SIGCONT');
        return true;
      } catch {
        return false;
      }
    },
    open(pid) {
      const fd = pidfdOpen(pid);
      return fd === undefined ? undefined : pidfdHandle(fd, pid, procRoot);
    },
  };
}

function pidfdHandle(fd: number, pid: number, procRoot: string): ProcHandle {
  let open = true;
  const alive = () => open && pidfdAlive(fd);
  return {
    pid,
    alive,
    setOomScoreAdj(value) {
      let file: number | undefined;
      try {
        file = openSync(join(procRoot, String(pid), 'oom_score_adj'), 'w');
        // Alive after the open: the file was opened on this process, and stays bound to it.
        if (!alive()) return false;
        writeSync(file, String(value));
        return true;
      } catch {
        return false;
      } finally {
        if (file !== undefined) closeSync(file);
      }
    },
    tellStderr(line) {
      return alive() ? writeToProcessFd(fd, 2, line) : 'gone';
    },
    close() {
      if (open) closeFd(fd);
      open = false;
    },
  };
}
