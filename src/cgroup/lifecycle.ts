/**
 * Freezing, killing and removing cgroups. Each operation is written once, as steps: its writes done
 * in place, and each wait for the kernel's confirmation in cgroup.events handed out (yielded) to a
 * driver. The hook's driver polls (a short-lived process, nothing else to do); the daemon's waits on
 * inotify and never blocks its thread.
 */
import { AgentcgroupError, describeError } from '../errors.js';
import type { Cgroupfs } from './cgroupfs.js';
import { type EventKey, pollForEvent, waitForEvent } from './events.js';
import { parseFlatKeyed } from './stats.js';

/** For a hook: tasks stop or die at their next return to user space, so this is ample. */
export const SYNC_TIMEOUT_MS = 5000;
/**
 * For the daemon, which waits without blocking anything: long enough for a process stuck in an
 * uninterruptible sleep (a slow disk, NFS) to come back and die.
 */
export const ASYNC_TIMEOUT_MS = 60_000;

/** One confirmation to wait for, and what it means, for the message when it never comes. */
interface Confirmation {
  cgroup: string;
  key: EventKey;
  want: 0 | 1;
  what: string;
}

type Steps = Generator<Confirmation, void, void>;

function timedOut(fs: Cgroupfs, c: Confirmation, timeoutMs: number): AgentcgroupError {
  return new AgentcgroupError('cgroup-timeout', `cgroup ${fs.path(c.cgroup)} did not ${c.what} within ${timeoutMs} ms`);
}

/** How one wait ended: the confirmation came or not by the deadline, or the wait itself failed. */
type Outcome = { reached: boolean } | { error: unknown };

/** On to the next step, or the failure thrown into the steps where they wait (so they can thaw). */
function resume(fs: Cgroupfs, steps: Steps, c: Confirmation, outcome: Outcome, timeoutMs: number): IteratorResult<Confirmation, void> {
  if ('error' in outcome) return steps.throw(outcome.error);
  return outcome.reached ? steps.next() : steps.throw(timedOut(fs, c, timeoutMs));
}

/** One deadline for all of an operation's waits. */
function runSync(fs: Cgroupfs, steps: Steps, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  for (let next = steps.next(); !next.done; ) {
    const c = next.value;
    let outcome: Outcome;
    try {
      outcome = { reached: pollForEvent(fs, c.cgroup, c.key, c.want, deadline - Date.now()) };
    } catch (error) {
      outcome = { error };
    }
    next = resume(fs, steps, c, outcome, timeoutMs);
  }
}

async function runAsync(fs: Cgroupfs, steps: Steps, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let next = steps.next(); !next.done; ) {
    const c = next.value;
    const outcome = await waitForEvent(fs, c.cgroup, c.key, c.want, deadline - Date.now()).then(
      (reached): Outcome => ({ reached }),
      (error: unknown): Outcome => ({ error }),
    );
    next = resume(fs, steps, c, outcome, timeoutMs);
  }
}

function* freezing(fs: Cgroupfs, cgroup: string, frozen: boolean): Steps {
  fs.write(cgroup, 'cgroup.freeze', frozen ? '1' : '0');
  yield { cgroup, key: 'frozen', want: frozen ? 1 : 0, what: frozen ? 'freeze' : 'thaw' };
}

/**
 * Every process of `cgroup` and the cgroups below it, by pid. A 0 is a process outside our pid
 * namespace: it cannot be signalled from here, and kill(0) would hit our own process group.
 */
export function pidsBelow(fs: Cgroupfs, cgroup: string): number[] {
  return [...fs.procs(cgroup), ...fs.children(cgroup).flatMap((c) => pidsBelow(fs, `${cgroup}/${c}`))].filter((pid) => pid > 0);
}

/**
 * Before Linux 5.14 (no cgroup.kill): frozen, nothing in the cgroup can fork between reading
 * cgroup.procs and the signals, nor exit on its own and free its pid for reuse; SIGKILL still ends a
 * frozen task (cgroup v2). Thawed afterwards whatever happened, or the cgroup would stay frozen for
 * good.
 */
function* signalFrozen(fs: Cgroupfs, cgroup: string): Steps {
  let failure: { err: unknown } | undefined;
  try {
    yield* freezing(fs, cgroup, true);
    for (const pid of pidsBelow(fs, cgroup)) fs.sigkill(pid);
  } catch (err) {
    failure = { err };
  }
  try {
    fs.write(cgroup, 'cgroup.freeze', '0');
  } catch (thawErr) {
    // Gone with the cgroup, the freeze is no one's problem: the first failure says what happened.
    if (!failure) throw thawErr;
    if (!fs.exists(cgroup)) throw failure.err;
    throw new AgentcgroupError('thaw-failed', `${describeError(failure.err)}; thaw also failed: ${describeError(thawErr)}`, { cause: failure.err });
  }
  if (failure) throw failure.err;
}

/** Every process in `cgroup` and below it is sent SIGKILL; done once sent, not once they are gone. */
function* killing(fs: Cgroupfs, cgroup: string): Steps {
  try {
    fs.write(cgroup, 'cgroup.kill', '1');
    return;
  } catch (err) {
    // cgroup.kill is missing, not the cgroup: a kernel before 5.14.
    if (!fs.lacksFile(cgroup, err)) throw err;
  }
  yield* signalFrozen(fs, cgroup);
}

function* ending(fs: Cgroupfs, cgroup: string): Steps {
  if (parseFlatKeyed(fs.read(cgroup, 'cgroup.events')).populated !== 0) {
    yield* killing(fs, cgroup);
    yield { cgroup, key: 'populated', want: 0, what: 'empty after being killed' };
  }
  fs.remove(cgroup);
}

/** Freezes or thaws `cgroup` and waits, blocking, for the kernel to confirm. For the hook. */
export function setFrozen(fs: Cgroupfs, cgroup: string, frozen: boolean, timeoutMs = SYNC_TIMEOUT_MS): void {
  runSync(fs, freezing(fs, cgroup, frozen), timeoutMs);
}

/** Ends every process left in a leaf cgroup and removes it, blocking until it is empty. For the hook and exec. */
export function killAndRemove(fs: Cgroupfs, cgroup: string, timeoutMs = SYNC_TIMEOUT_MS): void {
  runSync(fs, ending(fs, cgroup), timeoutMs);
}

/** killAndRemove for the daemon: the waits are on inotify, so its thread runs on meanwhile. */
export function killAndRemoveAsync(fs: Cgroupfs, cgroup: string, timeoutMs = ASYNC_TIMEOUT_MS): Promise<void> {
  return runAsync(fs, ending(fs, cgroup), timeoutMs);
}

/**
 * Sends SIGKILL to everything in `cgroup` and below: through cgroup.kill, else (before 5.14) frozen,
 * each process, thawed. Resolves once the signals are sent, not once the cgroup is empty; only the
 * older kernels' freeze is waited for, on inotify.
 */
export function killCgroup(fs: Cgroupfs, cgroup: string, timeoutMs = ASYNC_TIMEOUT_MS): Promise<void> {
  return runAsync(fs, killing(fs, cgroup), timeoutMs);
}
