/**
 * Waiting for the kernel's confirmations in cgroup.events (`frozen`, `populated`): freezing and
 * killing are asynchronous, and the kernel says when they are done. Two ways to wait, one answer
 * (reached by the deadline or not): polled with sleeps, for a short-lived hook process that has
 * nothing else to do; or on inotify, for the daemon, whose one thread must never block.
 */
import type { Cgroupfs, Closable } from './cgroupfs.js';
import { parseFlatKeyed } from './stats.js';

export type EventKey = 'frozen' | 'populated';

function reads(fs: Pick<Cgroupfs, 'read'>, cgroup: string, key: EventKey): number | undefined {
  return parseFlatKeyed(fs.read(cgroup, 'cgroup.events'))[key];
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Blocks until `key` reads `want` (true) or `timeoutMs` passes (false). Tasks stop or die at their
 * next return to user space, so in a hook this is milliseconds; never for the daemon's thread.
 */
export function pollForEvent(fs: Pick<Cgroupfs, 'read'>, cgroup: string, key: EventKey, want: number, timeoutMs: number): boolean {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
    if (reads(fs, cgroup, key) === want) return true;
    if (Date.now() >= deadline) return false;
    sleepSync(Math.min(delay, Math.max(1, deadline - Date.now())));
  }
}

/**
 * Resolves true once `key` reads `want`, false if `timeoutMs` passes first; rejects if cgroup.events
 * cannot be read or watched (cgroup-enoent: the cgroup is gone). The file is read again on every
 * change the kernel reports, and once right after the watch is armed: a change that came before the
 * watch raised no event. The watch and the timer are gone once it settles.
 */
export function waitForEvent(fs: Pick<Cgroupfs, 'read' | 'watch'>, cgroup: string, key: EventKey, want: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    let watcher: Closable | undefined;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const settle = (finish: () => void) => {
      if (settled) return;
      settled = true;
      watcher?.close();
      clearTimeout(timer);
      finish();
    };
    const check = () => {
      try {
        if (reads(fs, cgroup, key) === want) settle(() => resolve(true));
      } catch (err) {
        settle(() => reject(err));
      }
    };
    try {
      watcher = fs.watch(cgroup, 'cgroup.events', check, (err) => settle(() => reject(err)));
    } catch (err) {
      reject(err);
      return;
    }
    // The state at the deadline decides, even if its event is still on its way.
    timer = setTimeout(() => {
      check();
      settle(() => resolve(false));
    }, timeoutMs);
    check();
  });
}
