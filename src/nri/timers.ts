/** The one way src/nri/ waits: a seam, so tests drive time and the plugin holds no timer it forgot. */
export interface Timers {
  /** Runs `fn` once after `ms`; the returned function cancels it (a no-op once it ran). */
  after(ms: number, fn: () => void): () => void;
}

export const realTimers: Timers = {
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};
