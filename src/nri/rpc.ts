/**
 * Typed unary calls over ttrpc from the generated service descriptors: the service and method names
 * on the wire are the descriptor's (`nri.pkg.api.v1alpha1.Plugin`, `Configure`), so they cannot drift
 * from api.proto, and each side's messages are checked by TypeScript.
 */
import { type DescMessage, type DescMethod, type MessageInitShape, type MessageShape, create, toBinary } from '@bufbuild/protobuf';
import { decodeMessage } from './envelope.js';
import type { TtrpcClient } from './ttrpcclient.js';
import { type Dispatch, type UnaryAnswer, type UnaryCall, statusAnswer } from './ttrpcserver.js';
import { Code, TtrpcError } from './wire.js';

export type Unary<I extends DescMessage, O extends DescMessage> = DescMethod & { methodKind: 'unary'; input: I; output: O };

export const encodeMessage = <Desc extends DescMessage>(schema: Desc, init: MessageInitShape<Desc>): Uint8Array => toBinary(schema, create(schema, init));

export async function callUnary<I extends DescMessage, O extends DescMessage>(
  client: TtrpcClient,
  method: Unary<I, O>,
  input: MessageInitShape<I>,
  timeoutMs: number,
): Promise<MessageShape<O>> {
  const bytes = await client.call(method.parent.typeName, method.name, encodeMessage(method.input, input), timeoutMs);
  const out = decodeMessage(method.output, bytes);
  if (!out.ok) throw new TtrpcError(Code.INTERNAL, `unmarshal answer error: ${out.error}`);
  return out.value;
}

/** One method's handler: its decoded input and the call's timeout; its answer, or a status to fail with. */
export type UnaryHandler<I extends DescMessage, O extends DescMessage> = (
  input: MessageShape<I>,
  call: UnaryCall,
) => Promise<MessageInitShape<O> | TtrpcError>;

export interface Route {
  method: DescMethod;
  serve(call: UnaryCall): Promise<UnaryAnswer>;
}

export function route<I extends DescMessage, O extends DescMessage>(method: Unary<I, O>, handler: UnaryHandler<I, O>): Route {
  return {
    method,
    async serve(call) {
      const input = decodeMessage(method.input, call.payload);
      if (!input.ok) return statusAnswer(Code.INVALID_ARGUMENT, `unmarshal ${method.name} error: ${input.error}`);
      const out = await handler(input.value, call);
      if (out instanceof TtrpcError) return statusAnswer(out.code, out.message);
      return { status: { code: Code.OK, message: '' }, payload: encodeMessage(method.output, out) };
    },
  };
}

/** A name from the peer, in a status we send back: bounded, it is the peer's own text. */
const named = (s: string) => (s.length > 200 ? `${s.slice(0, 200)}...` : s);

/** Dispatches on service and method, answering the rest UNIMPLEMENTED with Go's words (services.go). */
export function router(routes: readonly Route[]): Dispatch {
  const byName = new Map(routes.map((r) => [`${r.method.parent.typeName}/${r.method.name}`, r]));
  const services = new Set(routes.map((r) => r.method.parent.typeName));
  return async (call) => {
    if (!services.has(call.service)) return statusAnswer(Code.UNIMPLEMENTED, `service ${named(call.service)}`);
    const r = byName.get(`${call.service}/${call.method}`);
    if (!r) return statusAnswer(Code.UNIMPLEMENTED, `method ${named(call.method)}`);
    return r.serve(call);
  };
}
