/**
 * How long a handler may take, and the race against it. The runtime closes a plugin whose answer
 * does not come within its request timeout (adaptation/plugin.go: a DeadlineExceeded is fatal), so we
 * answer well inside it: at most our own deadline, at most half the runtime's configured timeout and
 * half of what the call itself said it would wait, leaving the other half for the answer to travel.
 */
import type { Timers } from './timers.js';

export function deadlineMs(ownMs: number, requestTimeoutMs: number, callTimeoutNano: bigint): number {
  let ms = ownMs;
  if (requestTimeoutMs > 0) ms = Math.min(ms, requestTimeoutMs / 2);
  if (callTimeoutNano > 0n) ms = Math.min(ms, Number(callTimeoutNano / 1_000_000n) / 2);
  return Math.max(1, Math.floor(ms));
}

export type Raced<T> = { kind: 'done'; value: T } | { kind: 'failed'; error: unknown } | { kind: 'late' };

/**
 * `work`'s outcome, or `late` after `ms`. A throw, sync or async, is a `failed`, never an escape; what
 * the work does after it was late is dropped, its rejection included.
 */
export function race<T>(work: () => T | Promise<T>, ms: number, timers: Timers): Promise<Raced<T>> {
  return new Promise((resolve) => {
    let settled = false;
    let cancel = () => {};
    const settle = (r: Raced<T>) => {
      if (settled) return;
      settled = true;
      cancel();
      resolve(r);
    };
    cancel = timers.after(ms, () => settle({ kind: 'late' }));
    Promise.resolve()
      .then(work)
      .then(
        (value) => settle({ kind: 'done', value }),
        (error: unknown) => settle({ kind: 'failed', error }),
      );
  });
}
