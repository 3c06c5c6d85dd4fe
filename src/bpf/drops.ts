/**
 * When events lost to a full ring must be made up for. The ring is shared: a fork/exec storm in one
 * container fills it and the tracker drops whatever comes next, any container's fork, exec or exit
 * (it counts them per CPU; Tracker.drops() sums them). A lost exec leaves a tool call running in its
 * agent leaf, unplaced and never held (the BPF program holds only what it could report), until the
 * agent leaves are read again from /proc: the daemon's router.sweep() places what an exec event
 * would have placed. Pure: the caller reads the counter and runs the rescan.
 */

/** Batches a rescan may wait for the ring to empty before it runs anyway. */
export const MAX_DEFERRED_BATCHES = 32;

export class DropWatch {
  #seen = 0n;
  #owed = 0n;
  #deferred = 0;

  constructor(private readonly maxDeferred = MAX_DEFERRED_BATCHES) {}

  /**
   * After a drain: `total` is the drop counter now, `more` whether the drain stopped at its budget.
   * Returns how many lost events a rescan run now makes up for, or 0n when none is due.
   *
   * A rescan reads every agent leaf's processes from /proc, so it is not repeated after each batch
   * of a storm: it waits until a drain finds the ring empty (the rescan then sees all the storm
   * left), or at most maxDeferred batches when the ring never empties. Events still in the ring
   * when it runs do no harm: an exec the rescan already placed joins the call it is in.
   */
  afterDrain(total: bigint, more: boolean): bigint {
    // Below the last look: a tracker opened afresh, whose counter began at 0.
    const rise = total >= this.#seen ? total - this.#seen : total;
    this.#seen = total;
    this.#owed += rise;
    if (this.#owed === 0n) return 0n;
    if (more && ++this.#deferred < this.maxDeferred) return 0n;
    const owed = this.#owed;
    this.#owed = 0n;
    this.#deferred = 0;
    return owed;
  }
}
