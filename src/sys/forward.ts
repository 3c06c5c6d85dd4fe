/**
 * Running a child as if we had exec'd it (Node cannot execve in place): every catchable signal an
 * engine or a terminal sends us goes on to the child, and its end is reported as it happened.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { constants } from 'node:os';
import { AgentcgroupError } from '../errors.js';

/** Signals passed on to the child (runc run passes these on to the container in turn). */
export const FORWARDED: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

export interface ChildEnding {
  exit: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * The exit status to pass on for a child's end, as a shell reports it: its exit code, or 128+N when
 * signal N ended it (so a caller sees 137 for SIGKILL, as it would had we exec'd the child); 1 when
 * neither is known.
 */
export function shellStatus(end: ChildEnding): number {
  return end.signal ? 128 + (constants.signals[end.signal] ?? 0) : (end.exit ?? 1);
}

/**
 * Spawns `cmd` and forwards signals until it ends. `on` picks the end event: 'close' waits for its stdio
 * too (a pipe we read), 'exit' does not (stdio the child shares with processes that outlive it).
 * `started` sees the child before it ends, to read its extra pipes.
 */
export function spawnForwarding(
  cmd: string,
  args: readonly string[],
  options: SpawnOptions,
  what: string,
  on: 'close' | 'exit' = 'close',
  started: (child: ChildProcess) => void = () => {},
): Promise<ChildEnding> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...args], options);
    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    for (const s of FORWARDED) process.on(s, forward);
    const done = () => FORWARDED.forEach((s) => process.off(s, forward));
    started(child);
    child.once('error', (err: NodeJS.ErrnoException) => {
      done();
      reject(new AgentcgroupError('spawn-failed', `cannot run ${what}: ${err.code ?? err.message}`, { cause: err }));
    });
    child.once(on, (exit: number | null, signal: NodeJS.Signals | null) => {
      done();
      resolve({ exit, signal });
    });
  });
}
