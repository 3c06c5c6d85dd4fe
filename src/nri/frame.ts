/**
 * ttrpc's message framing (channel.go), pure: a 10-byte header (length uint32 BE, stream id uint32
 * BE, type, flags) and the payload. The decoder holds at most one message (TTRPC_MAX) whatever the
 * peer claims: a longer one is not buffered but skipped as it arrives and reported, as ttrpc itself
 * discards it and answers RESOURCE_EXHAUSTED on its stream.
 */
import { ByteQueue } from './bytequeue.js';
import { TTRPC_HEADER, TTRPC_MAX } from './wire.js';

export interface FrameHeader {
  streamId: number;
  type: number;
  flags: number;
}

export type FrameEvent =
  | ({ kind: 'frame'; payload: Buffer } & FrameHeader)
  /** A message longer than TTRPC_MAX: its bytes are being skipped, never held. */
  | ({ kind: 'oversize'; length: number } & FrameHeader);

/** One message on the wire. A payload over TTRPC_MAX is the caller's bug: ttrpc refuses to send one. */
export function encodeFrame(header: FrameHeader, payload: Uint8Array): Buffer {
  if (payload.length > TTRPC_MAX) throw new RangeError(`ttrpc message of ${payload.length} bytes exceeds ${TTRPC_MAX}`);
  const out = Buffer.allocUnsafe(TTRPC_HEADER + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.writeUInt32BE(header.streamId >>> 0, 4);
  out[8] = header.type;
  out[9] = header.flags;
  out.set(payload, TTRPC_HEADER);
  return out;
}

/** Splits one logical connection's byte stream into ttrpc messages. */
export class FrameDecoder {
  private readonly queue = new ByteQueue();
  /** Bytes of an oversized message still to skip. */
  private skipping = 0;

  push(chunk: Buffer): FrameEvent[] {
    this.queue.push(chunk);
    const out: FrameEvent[] = [];
    for (;;) {
      if (this.skipping > 0) {
        this.skipping -= this.queue.skip(this.skipping);
        if (this.skipping > 0) break;
      }
      if (this.queue.length < TTRPC_HEADER) break;
      const h = this.queue.peek(TTRPC_HEADER);
      const length = h.readUInt32BE(0);
      const header: FrameHeader = { streamId: h.readUInt32BE(4), type: h[8]!, flags: h[9]! };
      if (length > TTRPC_MAX) {
        this.queue.skip(TTRPC_HEADER);
        this.skipping = length;
        out.push({ kind: 'oversize', length, ...header });
        continue;
      }
      if (this.queue.length < TTRPC_HEADER + length) break;
      this.queue.skip(TTRPC_HEADER);
      out.push({ kind: 'frame', payload: this.queue.take(length), ...header });
    }
    return out;
  }

  /** Bytes held for a message not yet whole: never more than one header and TTRPC_MAX. */
  get buffered(): number {
    return this.queue.length;
  }
}
