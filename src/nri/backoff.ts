/**
 * How long to wait before connecting again: doubling from `initialMs` to `maxMs`, back to the start
 * once a connection got as far as synchronized. A runtime restart (a second or so) is caught early;
 * a node without NRI costs one attempt every `maxMs`.
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 30_000 };

export class Backoff {
  private attempt = 0;

  constructor(private readonly options: BackoffOptions = DEFAULT_BACKOFF) {}

  next(): number {
    const ms = Math.min(this.options.maxMs, this.options.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return ms;
  }

  reset(): void {
    this.attempt = 0;
  }
}
