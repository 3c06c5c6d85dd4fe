/**
 * Drains the tracker in bounded batches, yielding to the event loop between them, and has the agent
 * leaves rescanned when the ring overflowed. A storm of forks and execs in one container must not
 * keep the daemon's only thread inside ring_buffer__consume (every exec there may make a cgroup):
 * the admin and exec sockets, the supervisor and the other containers' records wait on that thread.
 * The effects (the tracker, setImmediate, the rescan) are the caller's; this is only their order.
 */
import type { Budget, Drained } from './batch.js';
import { DropWatch } from './drops.js';
import { RING_CAPACITY } from './tracker.js';

/**
 * A batch from the event loop: a few milliseconds, then other work gets its turn. Placing one exec
 * (mkdir, limits, a move) takes a fraction of a millisecond, and events that place nothing take
 * microseconds, so the count bounds batches of cheap events and the time those of placements.
 */
export const BATCH_BUDGET: Budget = { maxEvents: 512, maxMs: 5 };

export interface PumpEffects {
  /** Tracker.consume with the daemon's event handler bound. */
  consume(budget: Budget): Drained;
  /** Tracker.drops(). */
  drops(): bigint;
  /** Runs `fn` once pending I/O had its turn: setImmediate. */
  schedule(fn: () => void): void;
  /** Events were lost (`lost` of them since the last rescan): place what is in every agent leaf (router.sweep of each container). */
  rescan(lost: bigint): void;
  /** An event handler, the drop counter or the rescan threw: the pump goes on. */
  onError(err: unknown): void;
}

/** Since the pump began: what status and the metrics show (the snapshot's trackerCounts). */
export interface PumpCounts {
  /** Events handled. */
  events: number;
  /** Passes over the ring, a pass that found nothing too: under a storm, many short ones with the event loop between them. */
  batches: number;
  /** Events the tracker lost to a full ring, any container's forks, execs and exits (its counter since open, as last read). */
  eventsDropped: number;
  /** Rescans of every agent leaf, run to place what lost events would have placed. */
  rescans: number;
}

export class TrackerPump {
  readonly #fx: PumpEffects;
  readonly #budget: Budget;
  readonly #drops: DropWatch;
  #running = false;
  #scheduled = false;
  #stopped = false;
  /** The last batch stopped at its budget (or threw, which hides whether it did). */
  #more = false;
  #lost = 0n;
  #counts: PumpCounts = { events: 0, batches: 0, eventsDropped: 0, rescans: 0 };

  constructor(fx: PumpEffects, opts: { budget?: Budget; maxDeferred?: number } = {}) {
    this.#fx = fx;
    this.#budget = opts.budget ?? BATCH_BUDGET;
    this.#drops = new DropWatch(opts.maxDeferred);
  }

  /** The ring is readable (the epoll handler): one bounded batch now, the rest after a yield. */
  kick(): void {
    this.#batch(this.#budget);
  }

  /**
   * Everything that waits in the ring now, before returning: for callers that need an event already
   * sent (an exit status, a call the tracker began). At most RING_CAPACITY events, which is all the
   * ring can hold, so a producer that keeps up cannot hold the caller here; what came since follows
   * after a yield. Does nothing from inside an event handler: the pass under way handles the rest.
   */
  flush(): void {
    this.#batch({ maxEvents: RING_CAPACITY });
  }

  /** Nothing scheduled runs any more, and kick() and flush() do nothing: before the tracker closes. */
  stop(): void {
    this.#stopped = true;
  }

  counts(): PumpCounts {
    return { ...this.#counts };
  }

  #batch(budget: Budget): void {
    // Not re-entrant: libbpf moves the ring on only when a callback returns, so a pass from inside
    // one (a call ending while an event is handled) would see that event again.
    if (this.#running || this.#stopped) return;
    this.#running = true;
    this.#more = true;
    try {
      const d = this.#fx.consume(budget);
      this.#counts.events += d.events;
      this.#more = d.more;
    } catch (err) {
      // The handler's error hides the pass's outcome: assume more, an empty pass costs one call.
      this.#fx.onError(err);
    } finally {
      this.#running = false;
      this.#counts.batches++;
    }
    this.#checkDrops();
    if (this.#more || this.#lost > 0n) this.#later();
  }

  #checkDrops(): void {
    try {
      const total = this.#fx.drops();
      this.#counts.eventsDropped = Number(total);
      this.#lost += this.#drops.afterDrain(total, this.#more);
    } catch (err) {
      this.#fx.onError(err);
    }
  }

  /**
   * One pending tick at most: it runs the rescan owed, then the next batch if the last left more.
   * The rescan never runs inside kick() or flush(): flush's callers are half-way through their own
   * work (a call ending, an exec client), and a rescan begins calls of its own.
   */
  #later(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#fx.schedule(() => {
      this.#scheduled = false;
      if (this.#stopped) return;
      if (this.#lost > 0n) {
        const lost = this.#lost;
        this.#lost = 0n;
        this.#counts.rescans++;
        try {
          this.#fx.rescan(lost);
        } catch (err) {
          this.#fx.onError(err);
        }
      }
      if (this.#more) this.kick();
    });
  }
}
