/**
 * One bounded pass over a libbpf ring buffer: what the sample callback returns so that
 * ring_buffer__consume stops after a budget, and what the pass handled. Pure: libbpf.ts drives it
 * from the real callback, the unit tests from a model of libbpf's loop.
 *
 * libbpf 1.1.2 (Debian bookworm's libbpf1; 1.0 to 1.6 read the same) has no ring_buffer__consume_n
 * (1.3+), and ring_buffer__consume loops for as long as the producer keeps up: its do/while reads
 * producer_pos again whenever the last pass found data. The one way out is the callback's return
 * value, per ringbuf_process_ring in src/ringbuf.c:
 *
 *     cons_pos += roundup_len(len);                 // past this sample, before the callback
 *     err = r->sample_cb(r->ctx, sample, len);
 *     if (err < 0) {
 *             smp_store_release(r->consumer_pos, cons_pos);   // the sample counts as read
 *             return err;
 *     }
 *
 * So a negative return stops the pass with the sample just handled consumed: the next pass starts
 * at the sample after it, and none is lost or delivered twice. A positive return does not stop
 * anything (only `err < 0` is tested). ring_buffer__consume then returns that negative number
 * instead of a count, which is why the pass counts for itself. test/unit/bpf/ring-libbpf.test.ts
 * holds the installed libbpf to all of this.
 */
import { AgentcgroupError } from '../errors.js';

/** What one pass may handle before it hands control back. */
export interface Budget {
  /** At most this many samples (at least 1). */
  maxEvents: number;
  /** Stop after the sample during which this many milliseconds had passed since the pass began. */
  maxMs?: number;
}

export interface Drained {
  /** Samples handed to the handler, including any whose handler threw. */
  events: number;
  /**
   * The budget ran out: samples may be waiting (call again, after yielding). false: libbpf found
   * the ring empty, or at a sample still being written, whose commit wakes the epoll fd again.
   */
  more: boolean;
}

/** -ECANCELED: any negative number stops libbpf; the pass knows it asked, so the value only has to be negative. */
export const STOP = -125;

export function checkBudget(b: Budget): void {
  if (!Number.isSafeInteger(b.maxEvents) || b.maxEvents < 1) throw new AgentcgroupError('bpf-ringbuf', `ring buffer budget: maxEvents must be a whole number of at least 1, got ${b.maxEvents}`);
  if (b.maxMs !== undefined && !(b.maxMs >= 0 && Number.isFinite(b.maxMs))) throw new AgentcgroupError('bpf-ringbuf', `ring buffer budget: maxMs must be a finite number of at least 0, got ${b.maxMs}`);
}

export class Batch {
  #events = 0;
  #stopped = false;
  #error: { value: unknown } | undefined;
  readonly #startMs: number;

  /** Without a budget the pass runs until libbpf finds the ring empty, as plain ring_buffer__consume does. */
  constructor(
    private readonly handler: (data: Buffer) => void,
    private readonly budget: Budget | undefined,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (budget) checkBudget(budget);
    this.#startMs = now();
  }

  /**
   * The sample callback's body. A handler that throws does not end the pass: its sample is consumed
   * either way, and stopping would only delay the samples behind it. The first error is kept for
   * result(). A sample is always handed over, even one offered after STOP: libbpf has already moved
   * past it when it calls back, so refusing it would lose it.
   */
  sample(data: Buffer): number {
    this.#events++;
    try {
      this.handler(data);
    } catch (err) {
      this.#error ??= { value: err };
    }
    const b = this.budget;
    if (b && (this.#events >= b.maxEvents || (b.maxMs !== undefined && this.now() - this.#startMs >= b.maxMs))) this.#stopped = true;
    return this.#stopped ? STOP : 0;
  }

  /**
   * ring_buffer__consume's return with this pass's own STOP taken out (0): a negative number left
   * is libbpf's own failure. The count is not libbpf's either way: a stopped pass returns no count.
   */
  settle(ret: number): number {
    return ret < 0 && this.#stopped ? 0 : ret;
  }

  /** The pass's outcome; rethrows the first error a handler threw, once every sample of the pass was handled. */
  result(): Drained {
    if (this.#error) throw this.#error.value;
    return { events: this.#events, more: this.#stopped };
  }
}
