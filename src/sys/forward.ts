/**
 * Running a child as if we had exec'd it (Node cannot execve in place): every catchable signal an
 * engine or a terminal sends us goes on to the child, and its end is reported as it happened.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { constants } from 'node:os';
import { AgentcgroupError } from '../errors.js';
import { type SignalStateReader, type WaitClock, procSignalState, realClock, signalRelay, waitUntilTaken } from './sigready.js';

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
 * How long a signal may wait for the child to take it over (see sigready.ts) before it is delivered
 * anyway: crun's window lasts from a hook's end to its wait loop, milliseconds, more on a slow machine.
 */
export const TAKEN_BOUND_MS = 5000;
/** How often the child's /proc entry is looked at while a signal waits. */
export const TAKEN_POLL_MS = 5;

export interface TakenWait {
  read?: SignalStateReader;
  boundMs?: number;
  pollMs?: number;
  clock?: WaitClock;
}

/**
 * The forwarder of signals to `child`. Without `wait`, each goes on at once. With it, for a child that
 * passes signals on (a runtime's foreground run or exec), each waits until the child has taken it
 * over, it is gone, or the bound passes, in the order they came.
 */
export function signalForwarder(child: Pick<ChildProcess, 'pid' | 'kill'>, wait: TakenWait | undefined): { forward: (sig: NodeJS.Signals) => void; stop: () => void } {
  const deliver = (sig: NodeJS.Signals) => void child.kill(sig);
  const pid = child.pid;
  if (wait === undefined || pid === undefined) return { forward: deliver, stop: () => {} };
  const read = wait.read ?? procSignalState();
  const clock = wait.clock ?? realClock;
  let gone = false;
  const relay = signalRelay(
    deliver,
    (sig, deadline) => waitUntilTaken((p) => (gone ? undefined : read(p)), pid, constants.signals[sig], deadline, wait.pollMs ?? TAKEN_POLL_MS, clock),
    wait.boundMs ?? TAKEN_BOUND_MS,
    clock.now,
  );
  return {
    forward: relay.push,
    stop: () => {
      gone = true;
      relay.stop();
    },
  };
}

/**
 * Spawns `cmd` and forwards signals until it ends. `on` picks the end event: 'close' waits for its stdio
 * too (a pipe we read), 'exit' does not (stdio the child shares with processes that outlive it).
 * `started` sees the child before it ends, to read its extra pipes. `waitTaken`: hold each signal until
 * the child can pass it on (signalForwarder).
 */
export function spawnForwarding(
  cmd: string,
  args: readonly string[],
  options: SpawnOptions,
  what: string,
  on: 'close' | 'exit' = 'close',
  started: (child: ChildProcess) => void = () => {},
  waitTaken?: TakenWait,
): Promise<ChildEnding> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...args], options);
    const forwarder = signalForwarder(child, waitTaken);
    const forward = forwarder.forward;
    for (const s of FORWARDED) process.on(s, forward);
    const done = () => {
      FORWARDED.forEach((s) => process.off(s, forward));
      forwarder.stop();
    };
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
