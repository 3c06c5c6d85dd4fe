/**
 * One connection to the runtime: the trunk demultiplexed into its two logical connections, the
 * Plugin service served on conn 1 and a client of the Runtime service on conn 2 (multiplex/ttrpc.go;
 * the runtime's side is the mirror image, which is how the tests' fake runtime uses this class).
 * Frames for any other conn are dropped, as Go's mux drops them. What the runtime can make us hold is
 * bounded: one mux frame and one ttrpc message per conn being reassembled, the requests being
 * handled (the server's cap), and the answers it leaves unread (`maxUnread`, past which the
 * connection is closed).
 */
import { FrameDecoder } from './frame.js';
import { MuxDecoder, encodeMux } from './mux.js';
import type { Timers } from './timers.js';
import type { Trunk } from './trunk.js';
import { TtrpcClient } from './ttrpcclient.js';
import { type Dispatch, TtrpcServer } from './ttrpcserver.js';
import { PLUGIN_SERVICE_CONN, RUNTIME_SERVICE_CONN } from './wire.js';

export interface SessionLimits {
  /** Bytes of our answers the runtime may leave unread before the connection is closed. */
  maxUnread: number;
  /** Requests of the runtime handled at once; one more is refused with RESOURCE_EXHAUSTED. */
  maxInFlight: number;
  /** Our calls to the runtime waiting at once. */
  maxPending: number;
}

/** Which logical connection carries which service, from our side: a plugin serves conn 1 and calls conn 2. */
export interface Conns {
  serve: number;
  call: number;
}

export const PLUGIN_SIDE: Conns = { serve: PLUGIN_SERVICE_CONN, call: RUNTIME_SERVICE_CONN };

export class Session {
  readonly client: TtrpcClient;
  private readonly server: TtrpcServer;
  private readonly mux = new MuxDecoder();
  private readonly served = new FrameDecoder();
  private readonly called = new FrameDecoder();
  private ended: string | undefined;
  private strayConns = 0;

  constructor(
    private readonly trunk: Trunk,
    dispatch: Dispatch,
    private readonly limits: SessionLimits,
    timers: Timers,
    private readonly warn: (line: string) => void,
    /** Told once, with why, however the session ends. */
    private readonly onEnd: (reason: string) => void,
    /** The runtime's side (a test's fake runtime) swaps them. */
    private readonly conns: Conns = PLUGIN_SIDE,
  ) {
    this.server = new TtrpcServer(this.sender(conns.serve), dispatch, limits.maxInFlight, warn);
    this.client = new TtrpcClient(this.sender(conns.call), timers, limits.maxPending);
  }

  /** Bytes from the trunk. Never throws: a stream that cannot be followed ends the session. */
  data(chunk: Buffer): void {
    for (const ev of this.mux.push(chunk)) {
      if (this.ended !== undefined) return;
      if (ev.kind === 'error') return this.close(ev.message);
      if (ev.conn === this.conns.serve) for (const f of this.served.push(ev.payload)) this.server.receive(f);
      else if (ev.conn === this.conns.call) for (const f of this.called.push(ev.payload)) this.client.receive(f);
      else if (this.strayConns++ === 0) this.warn(`NRI: dropping frames for conn ${ev.conn}, which is not open`);
    }
  }

  /** Ends the session (idempotent): waiting calls fail, late answers are dropped, the trunk closes. */
  close(reason: string): void {
    if (this.ended !== undefined) return;
    this.ended = reason;
    this.server.close();
    this.client.close(reason);
    this.trunk.close();
    this.onEnd(reason);
  }

  get closed(): boolean {
    return this.ended !== undefined;
  }

  /** What the decoders hold for messages not yet whole, and what the runtime left unread: for tests. */
  get held(): { reassembling: number; unsent: number; handling: number } {
    return { reassembling: this.mux.buffered + this.served.buffered + this.called.buffered, unsent: this.trunk.unsent, handling: this.server.pending };
  }

  private sender(conn: number): (frame: Buffer) => void {
    return (frame) => {
      if (this.ended !== undefined) return;
      for (const piece of encodeMux(conn, frame)) this.trunk.write(piece);
      if (this.trunk.unsent > this.limits.maxUnread) this.close(`the runtime left ${this.trunk.unsent} bytes unread`);
    };
  }
}
