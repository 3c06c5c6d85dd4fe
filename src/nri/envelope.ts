/**
 * ttrpc's envelopes (request.proto): a Request names the service and method and carries the call's
 * message; a Response carries a status and the answer's message. Decoding never throws: bytes from
 * the peer that do not parse come back as a reason, for a status the caller sends or a call it fails.
 */
import { type DescMessage, type MessageShape, create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { type Request, RequestSchema, type Response, ResponseSchema } from './gen/request_pb.js';
import { Code } from './wire.js';

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * A message from the peer's bytes. Unknown fields (a newer runtime's additions) are dropped rather
 * than kept; nesting is bounded by protobuf-es' recursion limit, so hostile nesting is an error,
 * not a stack overflow.
 */
export function decodeMessage<Desc extends DescMessage>(schema: Desc, bytes: Uint8Array): Decoded<MessageShape<Desc>> {
  try {
    return { ok: true, value: fromBinary(schema, bytes, { readUnknownFields: false }) };
  } catch (err) {
    return { ok: false, error: `${schema.typeName}: ${err instanceof Error ? err.message : String(err)}` };
  }
}

export interface RequestInit {
  service: string;
  method: string;
  payload: Uint8Array;
  /** The caller's remaining time, as ttrpc's client sends it (0: none). */
  timeoutNano: bigint;
}

export function encodeRequest(req: RequestInit): Uint8Array {
  return toBinary(RequestSchema, create(RequestSchema, req));
}

export const decodeRequest = (bytes: Uint8Array): Decoded<Request> => decodeMessage(RequestSchema, bytes);

export interface Status {
  code: number;
  message: string;
}

/**
 * A Response as ttrpc's server writes it: the status is always present, an empty one for OK (Go's
 * `status.Proto()` of codes.OK), so our answers are byte for byte what a Go plugin sends.
 */
export function encodeResponse(status: Status, payload: Uint8Array): Uint8Array {
  return toBinary(ResponseSchema, create(ResponseSchema, { status, payload }));
}

export function decodeResponse(bytes: Uint8Array): Decoded<{ status: Status; payload: Uint8Array }> {
  const r = decodeMessage(ResponseSchema, bytes);
  if (!r.ok) return r;
  const res: Response = r.value;
  return { ok: true, value: { status: { code: res.status?.code ?? Code.OK, message: res.status?.message ?? '' }, payload: res.payload } };
}
