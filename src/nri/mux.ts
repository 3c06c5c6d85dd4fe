/**
 * NRI's connection multiplexer (pkg/net/multiplex/mux.go), pure: each frame is a conn id (uint32 BE),
 * a payload length (uint32 BE) and the payload, a piece of that logical connection's byte stream. Go's
 * reader allocates whatever length a peer claims; ours refuses a frame longer than any writer makes
 * (MUX_MAX_PAYLOAD, one whole ttrpc message) and holds at most one frame.
 */
import { ByteQueue } from './bytequeue.js';
import { MUX_HEADER, MUX_MAX_PAYLOAD } from './wire.js';

export type MuxEvent =
  | { kind: 'payload'; conn: number; payload: Buffer }
  /** The stream cannot be followed past this point: the connection must go. Nothing follows it. */
  | { kind: 'error'; message: string };

/** The frames mux.go's write() makes of one write: payloads of MUX_MAX_PAYLOAD at most, in order. */
export function encodeMux(conn: number, payload: Uint8Array): Buffer[] {
  const frames: Buffer[] = [];
  let at = 0;
  do {
    const size = Math.min(payload.length - at, MUX_MAX_PAYLOAD);
    const frame = Buffer.allocUnsafe(MUX_HEADER + size);
    frame.writeUInt32BE(conn >>> 0, 0);
    frame.writeUInt32BE(size, 4);
    frame.set(payload.subarray(at, at + size), MUX_HEADER);
    frames.push(frame);
    at += size;
  } while (at < payload.length);
  return frames;
}

/** Splits the trunk's byte stream into (conn id, payload) pieces. */
export class MuxDecoder {
  private readonly queue = new ByteQueue();
  private failed = false;

  push(chunk: Buffer): MuxEvent[] {
    if (this.failed) return [];
    this.queue.push(chunk);
    const out: MuxEvent[] = [];
    while (this.queue.length >= MUX_HEADER) {
      const h = this.queue.peek(MUX_HEADER);
      const conn = h.readUInt32BE(0);
      const length = h.readUInt32BE(4);
      if (length > MUX_MAX_PAYLOAD) {
        // No writer makes one, and skipping it would leave its connection's ttrpc stream out of step
        // (a ttrpc message may span frames): the peer is not speaking NRI, and the trunk goes.
        this.failed = true;
        this.queue.skip(this.queue.length);
        out.push({ kind: 'error', message: `multiplexer frame of ${length} bytes on conn ${conn} (at most ${MUX_MAX_PAYLOAD})` });
        break;
      }
      if (this.queue.length < MUX_HEADER + length) break;
      this.queue.skip(MUX_HEADER);
      out.push({ kind: 'payload', conn, payload: this.queue.take(length) });
    }
    return out;
  }

  get buffered(): number {
    return this.queue.length;
  }
}
