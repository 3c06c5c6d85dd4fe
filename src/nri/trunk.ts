/**
 * The socket under the multiplexer, as a seam: the session only writes bytes and hears bytes, so tests
 * drive it with a fake trunk and the plugin with a real unix socket (unixtrunk.ts).
 */
export interface Trunk {
  /** Queues bytes for the peer; never throws (bytes written after the end are dropped). */
  write(bytes: Buffer): void;
  /** Bytes written that the peer has not taken yet: what it leaves unread, held in our memory. */
  readonly unsent: number;
  /** Ends the connection now; `closed` follows. */
  close(): void;
}

export interface TrunkEvents {
  data(chunk: Buffer): void;
  /** Once, however the connection ended. */
  closed(reason: string): void;
}

/** Connects to `path`; rejects when it cannot. */
export type Dial = (path: string, events: TrunkEvents) => Promise<Trunk>;
