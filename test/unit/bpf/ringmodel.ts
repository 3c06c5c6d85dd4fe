// A model of libbpf's ring buffer reader, for driving src/bpf/batch.ts without a kernel: records by
// index instead of byte positions, the same control flow as ringbuf_process_ring in libbpf 1.1.2's
// src/ringbuf.c (ring-libbpf.test.ts holds the real libbpf to the same behaviour). Not a test itself.
import { AgentcgroupError } from '../../../src/errors.js';
import { Batch, type Budget, type Drained } from '../../../src/bpf/batch.js';

export interface ModelRecord {
  data: Buffer;
  /** bpf_ringbuf_discard(): skipped by the reader, never handed over. */
  discard?: boolean;
  /** Reserved and not yet submitted (BPF_RINGBUF_BUSY_BIT): the reader stops in front of it. */
  busy?: boolean;
}

export class ModelRing {
  readonly records: ModelRecord[] = [];
  /** Index of the next record to read: consumer_pos. */
  consumer = 0;
  /** Runs inside each sample callback: a producer writing while the reader reads. */
  duringSample: (() => void) | undefined;
  /** Callbacks one consume() may make before the model calls it endless. */
  guard = 100_000;

  push(...records: ModelRecord[]): void {
    this.records.push(...records);
  }

  /** ring_buffer__consume with one ring: ringbuf_process_ring's loops, statement for statement. */
  consume(sample: (data: Buffer) => number): number {
    let cons = this.consumer;
    let cnt = 0;
    let calls = 0;
    let gotNewData: boolean;
    do {
      gotNewData = false;
      const prod = this.records.length;
      while (cons < prod) {
        const r = this.records[cons]!;
        if (r.busy) return cnt; // "sample not committed yet, bail out for now"
        gotNewData = true;
        cons++; // cons_pos += roundup_len(len), before the callback
        if (!r.discard) {
          if (++calls > this.guard) throw new Error(`model: consume made ${this.guard} callbacks without returning`);
          const err = sample(r.data);
          this.duringSample?.();
          if (err < 0) {
            this.consumer = cons; // "update consumer pos and bail out"
            return err;
          }
          cnt++;
        }
        this.consumer = cons;
      }
    } while (gotNewData);
    return cnt;
  }
}

/** What RingBuffer.consume does around libbpf, on the model. */
export function drain(ring: ModelRing, handler: (data: Buffer) => void, budget?: Budget, now?: () => number): Drained {
  const batch = new Batch(handler, budget, now);
  const ret = batch.settle(ring.consume((d) => batch.sample(d)));
  if (ret < 0) throw new AgentcgroupError('bpf-ringbuf', `cannot read ring buffer: ${ret}`);
  return batch.result();
}

/** A record carrying its sequence number. */
export function seq(n: number, extra: Omit<ModelRecord, 'data'> = {}): ModelRecord {
  const data = Buffer.alloc(8);
  data.writeUInt32LE(n);
  return { data, ...extra };
}

export const seqOf = (data: Buffer) => data.readUInt32LE(0);
