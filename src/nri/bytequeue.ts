/**
 * Bytes received and not yet consumed, kept as the chunks they came in: a frame split over many socket
 * reads is joined once, when it is whole, not at every read. Holds only what its owner pushes; the
 * decoders bound that by consuming as they go.
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  /** Bytes of chunks[0] already consumed. */
  private head = 0;
  private total = 0;

  get length(): number {
    return this.total;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  /** The first `n` bytes without consuming them; the caller checks `length >= n` first. */
  peek(n: number): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && first.length - this.head >= n) return first.subarray(this.head, this.head + n);
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    let skip = this.head;
    for (const c of this.chunks) {
      if (at === n) break;
      at += c.copy(out, at, skip, Math.min(c.length, skip + n - at));
      skip = 0;
    }
    return out;
  }

  /** Consumes and returns the first `n` bytes; the caller checks `length >= n` first. */
  take(n: number): Buffer {
    const out = this.peek(n);
    this.skip(n);
    return out;
  }

  /** Consumes up to `n` bytes without copying them; returns how many it consumed. */
  skip(n: number): number {
    let left = Math.min(n, this.total);
    const done = left;
    while (left > 0) {
      const first = this.chunks[0]!;
      const here = first.length - this.head;
      if (here > left) {
        this.head += left;
        break;
      }
      left -= here;
      this.chunks.shift();
      this.head = 0;
    }
    this.total -= done;
    return done;
  }
}
