/**
 * Whether a child we forward signals to will pass a signal on, or die of it: a runtime in front of a
 * container (crun or runc `run`, `exec`) forwards signals to the container only once it has set that
 * up; one delivered before ends the runtime by its default action and leaves the container running.
 *
 * crun 1.8 (and crun today) blocks every signal early, but restores its mask after each hook that has
 * a timeout with sigprocmask(SIG_UNBLOCK, &oldmask), oldmask being the full mask it had blocked: from
 * a createRuntime hook with a timeout (the shim adds one) until wait_for_process() blocks them again
 * and opens its signalfd, nothing is blocked, and the container's process already runs in that
 * window. A signal blocked and pending before that hook is delivered when the hook unblocks it.
 * So a signal is taken when the child catches it (runc: Go catches every signal from its start), or
 * blocks it and reads it from a signalfd (crun's wait_for_process): blocked alone is not enough.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { readBounded } from './procread.js';

/** Signal masks as /proc shows them: bit N-1 for signal N. */
export interface SignalMasks {
  blocked: bigint;
  caught: bigint;
  ignored: bigint;
}

export interface SignalState {
  masks: SignalMasks;
  /** The masks of the process's signalfds; undefined when its fds cannot be looked at. Read lazily. */
  signalfds: () => readonly bigint[] | undefined;
}

/** Reads the signal state of `pid`; undefined when it is gone. */
export type SignalStateReader = (pid: number) => SignalState | undefined;

const bit = (signo: number): bigint => 1n << BigInt(signo - 1);

function hexField(text: string, name: string): bigint | undefined {
  const m = new RegExp(`^${name}:\\s*([0-9a-fA-F]{1,32})$`, 'm').exec(text);
  return m ? BigInt(`0x${m[1]}`) : undefined;
}

/** Pure: SigBlk, SigCgt and SigIgn of /proc/<pid>/status; undefined when one is missing. */
export function parseSignalMasks(status: string): SignalMasks | undefined {
  const blocked = hexField(status, 'SigBlk');
  const caught = hexField(status, 'SigCgt');
  const ignored = hexField(status, 'SigIgn');
  return blocked === undefined || caught === undefined || ignored === undefined ? undefined : { blocked, caught, ignored };
}

/** Pure: the `sigmask:` line of a signalfd's /proc/<pid>/fdinfo/<fd> (the signals it reads, not inverted). */
export function parseSignalfdMask(fdinfo: string): bigint | undefined {
  return hexField(fdinfo, 'sigmask');
}

/**
 * Pure: the process passes signal `signo` on rather than dying of it. Blocked with signalfds that
 * could not be looked at counts as taken (the best that can be known then).
 */
export function takesSignal(state: SignalState, signo: number): boolean {
  const b = bit(signo);
  if ((state.masks.caught & b) !== 0n) return true;
  if ((state.masks.blocked & b) === 0n) return false;
  const fds = state.signalfds();
  return fds === undefined || fds.some((m) => (m & b) !== 0n);
}

const SIGNALFD_LINK = 'anon_inode:[signalfd]';

/** The signal state of processes under `procRoot` (/proc; a directory of the same shape in tests). */
export function procSignalState(procRoot = '/proc'): SignalStateReader {
  return (pid) => {
    const dir = join(procRoot, String(pid));
    const status = readBounded(join(dir, 'status'));
    const masks = status === undefined ? undefined : parseSignalMasks(status);
    if (masks === undefined) return undefined;
    const signalfds = (): bigint[] | undefined => {
      try {
        const found: bigint[] = [];
        for (const fd of readdirSync(join(dir, 'fd'))) {
          if (readlinkSync(join(dir, 'fd', fd)) !== SIGNALFD_LINK) continue;
          const info = readBounded(join(dir, 'fdinfo', fd));
          const mask = info === undefined ? undefined : parseSignalfdMask(info);
          if (mask !== undefined) found.push(mask);
        }
        return found;
      } catch {
        // Not ours to look at (another user's, not dumpable), or closed while we looked.
        return undefined;
      }
    };
    return { masks, signalfds };
  };
}

export type Waited = 'taken' | 'gone' | 'timeout';

export interface WaitClock {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

export const realClock: WaitClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/**
 * Until `pid` takes signal `signo` (see takesSignal), is gone, or `deadline` (clock time) passes,
 * looking every `pollMs`: the kernel has no event for a change of signal mask, and this runs only
 * while a signal waits, in a window of milliseconds.
 */
export async function waitUntilTaken(read: SignalStateReader, pid: number, signo: number, deadline: number, pollMs: number, clock: WaitClock = realClock): Promise<Waited> {
  for (;;) {
    const state = read(pid);
    if (state === undefined) return 'gone';
    if (takesSignal(state, signo)) return 'taken';
    const left = deadline - clock.now();
    if (left <= 0) return 'timeout';
    await clock.sleep(Math.min(pollMs, left));
  }
}

export interface SignalRelay {
  push: (sig: NodeJS.Signals) => void;
  /** Drops what is queued and delivers nothing more (the child is gone). */
  stop: () => void;
}

/**
 * Delivers signals in the order they came, each once `ready` (given the signal and the clock time it
 * may wait until) has settled: one that waits holds back those after it, so none overtakes another
 * and none is lost. Delivery follows `ready`'s promise, so it is never synchronous with push().
 */
export function signalRelay(deliver: (sig: NodeJS.Signals) => void, ready: (sig: NodeJS.Signals, deadline: number) => Promise<unknown>, boundMs: number, now: () => number = Date.now): SignalRelay {
  const queue: { sig: NodeJS.Signals; deadline: number }[] = [];
  let pumping = false;
  let stopped = false;
  const pump = async () => {
    pumping = true;
    for (let next = queue[0]; next !== undefined && !stopped; next = queue[0]) {
      try {
        await ready(next.sig, next.deadline);
      } catch {
        // Whatever went wrong looking, the signal still goes on.
      }
      if (stopped) break;
      queue.shift();
      deliver(next.sig);
    }
    pumping = false;
  };
  return {
    push(sig) {
      if (stopped) return;
      // Each signal's wait is bounded from when it came, so a queue of them waits no longer than one.
      queue.push({ sig, deadline: now() + boundMs });
      if (!pumping) void pump();
    },
    stop() {
      stopped = true;
      queue.length = 0;
    },
  };
}
