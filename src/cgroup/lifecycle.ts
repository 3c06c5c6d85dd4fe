import { AgentcgroupError } from '../errors.js';
import type { Cgroupfs } from './cgroupfs.js';
import { parseFlatKeyed } from './stats.js';

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Freezing and killing are asynchronous: the kernel confirms in cgroup.events (`frozen`, `populated`).
 * These waits are short (tasks stop or die at their next return to user space), so a bounded
 * sleep-and-check suffices; long waits belong to the daemon's event loop.
 */
function waitForEvent(fs: Cgroupfs, cgroup: string, key: string, want: number, timeoutMs: number, what: string): void {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
    if (parseFlatKeyed(fs.read(cgroup, 'cgroup.events'))[key] === want) return;
    if (Date.now() > deadline) throw new AgentcgroupError('cgroup-timeout', `cgroup ${fs.path(cgroup)} did not ${what} within ${timeoutMs} ms`);
    sleepSync(delay);
  }
}

export function setFrozen(fs: Cgroupfs, cgroup: string, frozen: boolean, timeoutMs = 5000): void {
  fs.write(cgroup, 'cgroup.freeze', frozen ? '1' : '0');
  waitForEvent(fs, cgroup, 'frozen', frozen ? 1 : 0, timeoutMs, frozen ? 'freeze' : 'thaw');
}

/** Ends every process left in a leaf cgroup (cgroup.kill) and removes it. */
export function killAndRemove(fs: Cgroupfs, cgroup: string, timeoutMs = 5000): void {
  if (parseFlatKeyed(fs.read(cgroup, 'cgroup.events')).populated !== 0) {
    fs.write(cgroup, 'cgroup.kill', '1');
    waitForEvent(fs, cgroup, 'populated', 0, timeoutMs, 'empty after cgroup.kill');
  }
  fs.remove(cgroup);
}
