/**
 * The client half of ttrpc on one logical connection (client.go), unary calls only: stream ids odd
 * and growing from 1, each call bounded by its own timeout, at most `maxPending` at once. A response
 * on a stream with no call waiting is dropped, as Go's client drops it.
 */
import { decodeResponse, encodeRequest } from './envelope.js';
import { type FrameEvent, encodeFrame } from './frame.js';
import type { Timers } from './timers.js';
import { Code, MessageType, TTRPC_MAX, TtrpcError } from './wire.js';

interface Waiting {
  resolve: (payload: Uint8Array) => void;
  reject: (err: TtrpcError) => void;
  cancel: () => void;
}

/** The largest stream id: past it a connection has made 2^31 calls and must be made anew. */
const MAX_STREAM_ID = 0xffffffff;

export class TtrpcClient {
  private nextStreamId = 1;
  private readonly waiting = new Map<number, Waiting>();
  private closedWith: TtrpcError | undefined;

  constructor(
    private readonly send: (frame: Buffer) => void,
    private readonly timers: Timers,
    private readonly maxPending: number,
  ) {}

  /** The answer's message bytes; rejects with a TtrpcError (the peer's status, or ours). */
  call(service: string, method: string, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    if (this.waiting.size >= this.maxPending) return Promise.reject(new TtrpcError(Code.RESOURCE_EXHAUSTED, `${this.waiting.size} calls already waiting`));
    if (this.nextStreamId > MAX_STREAM_ID) return Promise.reject(new TtrpcError(Code.UNAVAILABLE, 'stream ids used up'));
    const bytes = encodeRequest({ service, method, payload, timeoutNano: BigInt(Math.round(timeoutMs)) * 1_000_000n });
    if (bytes.length > TTRPC_MAX) return Promise.reject(new TtrpcError(Code.RESOURCE_EXHAUSTED, `request of ${bytes.length} bytes exceeds ${TTRPC_MAX}`));
    const streamId = this.nextStreamId;
    this.nextStreamId += 2;
    return new Promise((resolve, reject) => {
      const cancel = this.timers.after(timeoutMs, () => {
        this.waiting.delete(streamId);
        reject(new TtrpcError(Code.DEADLINE_EXCEEDED, `${service}/${method}: no answer in ${timeoutMs} ms`));
      });
      this.waiting.set(streamId, { resolve, reject, cancel });
      this.send(encodeFrame({ streamId, type: MessageType.Request, flags: 0 }, bytes));
    });
  }

  receive(ev: FrameEvent): void {
    const w = this.waiting.get(ev.streamId);
    if (!w) return;
    this.waiting.delete(ev.streamId);
    w.cancel();
    if (ev.kind === 'oversize') return w.reject(new TtrpcError(Code.RESOURCE_EXHAUSTED, `answer of ${ev.length} bytes exceeds ${TTRPC_MAX}`));
    if (ev.type !== MessageType.Response) return w.reject(new TtrpcError(Code.INTERNAL, `unexpected message type ${ev.type} for a unary call`));
    const res = decodeResponse(ev.payload);
    if (!res.ok) return w.reject(new TtrpcError(Code.INTERNAL, `unmarshal response error: ${res.error}`));
    if (res.value.status.code !== Code.OK) return w.reject(new TtrpcError(res.value.status.code, res.value.status.message));
    w.resolve(res.value.payload);
  }

  /** Fails every waiting call, and every later one, with `reason`. */
  close(reason: string): void {
    if (this.closedWith) return;
    this.closedWith = new TtrpcError(Code.UNAVAILABLE, reason);
    for (const w of this.waiting.values()) {
      w.cancel();
      w.reject(this.closedWith);
    }
    this.waiting.clear();
  }

  get pending(): number {
    return this.waiting.size;
  }
}
