/**
 * The kernel's notifications the daemon waits on, behind one seam the unit tests replace: inotify on
 * cgroup files and directories (cgroup.events, memory.events, a container's tools/), and PSI triggers
 * on pressure files. Nothing here polls.
 */
import { closeSync, openSync, watch, writeSync } from 'node:fs';
import { EPOLLPRI } from '../sys/libc.js';
import type { FdWaiter } from './waiter.js';

export interface Closable {
  close(): void;
}

export interface KernelEvents {
  /** Calls back on each change to the file or directory; throws when it cannot be watched. */
  watch(path: string, onChange: () => void): Closable;
  /**
   * A PSI trigger (`some 150000 1000000`: 150 ms of stall within 1 s): calls back each time the stall
   * crosses it. Throws when the file has no triggers (no PSI: `psi=0`, or an old kernel).
   */
  pressure(path: string, trigger: string, onFire: () => void): Closable;
}

export function kernelEvents(waiter: FdWaiter): KernelEvents {
  return {
    watch(path, onChange) {
      const w = watch(path, () => onChange());
      // A watched cgroup that is removed ends its watch with an error event: nothing left to report.
      w.on('error', () => w.close());
      return w;
    },
    pressure(path, trigger, onFire) {
      const fd = openSync(path, 'r+');
      try {
        writeSync(fd, `${trigger}\0`);
        // The kernel makes the fd POLLPRI-ready when the stall crosses the threshold.
        waiter.add(fd, EPOLLPRI, onFire);
      } catch (err) {
        closeSync(fd);
        throw err;
      }
      return {
        close: () => {
          waiter.remove(fd);
          closeSync(fd);
        },
      };
    },
  };
}
