/**
 * The server half of ttrpc on one logical connection (server.go), unary calls only, which is all NRI
 * uses. It checks what Go's server checks (odd stream ids that only grow, a Request that parses) and
 * answers a violation on the stream it came on, as Go does, so the peer's call fails and the
 * connection stays. Handlers run concurrently, up to `maxInFlight`; one over that is refused at once
 * rather than queued, so a peer cannot make us hold its requests.
 */
import { type Status, decodeRequest, encodeResponse } from './envelope.js';
import { type FrameEvent, encodeFrame } from './frame.js';
import { Code, MessageType, TTRPC_MAX } from './wire.js';

export interface UnaryCall {
  service: string;
  method: string;
  payload: Uint8Array;
  /** What the caller said it will wait, in nanoseconds; 0 when it did not say. */
  timeoutNano: bigint;
}

export interface UnaryAnswer {
  status: Status;
  payload: Uint8Array;
}

/** Answers one call. A rejection is answered as INTERNAL with the error's text: it never escapes. */
export type Dispatch = (call: UnaryCall) => Promise<UnaryAnswer>;

const EMPTY = new Uint8Array(0);

export const statusAnswer = (code: number, message: string): UnaryAnswer => ({ status: { code, message }, payload: EMPTY });

export class TtrpcServer {
  private lastStreamId = 0;
  private inFlight = 0;
  private closed = false;

  constructor(
    /** Writes one whole ttrpc message to the peer; never throws. */
    private readonly send: (frame: Buffer) => void,
    private readonly dispatch: Dispatch,
    private readonly maxInFlight: number,
    private readonly log: (line: string) => void,
  ) {}

  receive(ev: FrameEvent): void {
    if (this.closed) return;
    if (ev.kind === 'oversize') {
      this.answer(ev.streamId, statusAnswer(Code.RESOURCE_EXHAUSTED, `message length ${ev.length} exceed maximum message size of ${TTRPC_MAX}`));
      return;
    }
    if (ev.streamId % 2 !== 1) {
      this.answer(ev.streamId, statusAnswer(Code.INVALID_ARGUMENT, 'StreamID must be odd for client initiated streams'));
      return;
    }
    if (ev.type === MessageType.Data) {
      // NRI has no streaming calls, so no stream is ever open for data.
      this.answer(ev.streamId, statusAnswer(Code.INVALID_ARGUMENT, 'StreamID is no longer active'));
      return;
    }
    // Go's server ignores types it does not know, "for future compat".
    if (ev.type !== MessageType.Request) return;
    if (ev.streamId <= this.lastStreamId) {
      this.answer(ev.streamId, statusAnswer(Code.INVALID_ARGUMENT, 'StreamID cannot be re-used and must increment'));
      return;
    }
    this.lastStreamId = ev.streamId;
    const req = decodeRequest(ev.payload);
    if (!req.ok) {
      this.answer(ev.streamId, statusAnswer(Code.INVALID_ARGUMENT, `unmarshal request error: ${req.error}`));
      return;
    }
    if (this.inFlight >= this.maxInFlight) {
      this.answer(ev.streamId, statusAnswer(Code.RESOURCE_EXHAUSTED, `${this.inFlight} requests already in progress`));
      return;
    }
    this.inFlight++;
    const { service, method, payload, timeoutNano } = req.value;
    const streamId = ev.streamId;
    Promise.resolve()
      .then(() => this.dispatch({ service, method, payload, timeoutNano }))
      .then(
        (answer) => this.answer(streamId, answer),
        (err: unknown) => this.answer(streamId, statusAnswer(Code.INTERNAL, err instanceof Error ? err.message : String(err))),
      )
      .catch((err: unknown) => this.log(`ttrpc: answering stream ${streamId} failed: ${String(err)}`))
      .finally(() => this.inFlight--);
  }

  /** Later answers are dropped: the connection they were for is gone. */
  close(): void {
    this.closed = true;
  }

  /** Calls being handled: for tests and the session's accounting. */
  get pending(): number {
    return this.inFlight;
  }

  private answer(streamId: number, answer: UnaryAnswer): void {
    if (this.closed) return;
    let bytes = encodeResponse(answer.status, answer.payload);
    if (bytes.length > TTRPC_MAX) {
      // Go's server would fail to send it and drop the connection; the caller hears why instead.
      this.log(`ttrpc: an answer of ${bytes.length} bytes on stream ${streamId} exceeds ${TTRPC_MAX}; sent as an error`);
      bytes = encodeResponse({ code: Code.RESOURCE_EXHAUSTED, message: `answer of ${bytes.length} bytes exceeds ${TTRPC_MAX}` }, EMPTY);
    }
    this.send(encodeFrame({ streamId, type: MessageType.Response, flags: 0 }, bytes));
  }
}
