// ttrpc's unary calls, one frame at a time: what Go's server checks (server.go) the server checks,
// answering on the offending stream and keeping the connection; the client's calls end in an answer,
// a status, a timeout or the connection's end, and nothing a peer sends throws.
import t from 'tap';
import { decodeResponse, encodeRequest, encodeResponse } from '../../../src/nri/envelope.js';
import { type FrameEvent, encodeFrame } from '../../../src/nri/frame.js';
import { Plugin } from '../../../src/nri/gen/api_pb.js';
import { route, router } from '../../../src/nri/rpc.js';
import { TtrpcClient } from '../../../src/nri/ttrpcclient.js';
import { type Dispatch, TtrpcServer, statusAnswer } from '../../../src/nri/ttrpcserver.js';
import { Code, MessageType, TTRPC_MAX, TtrpcError } from '../../../src/nri/wire.js';
import { ManualTimers } from '../../fixtures/manualtimers.js';

const frame = (streamId: number, type: number, payload: Uint8Array): FrameEvent => ({ kind: 'frame', streamId, type, flags: 0, payload: Buffer.from(payload) });
const request = (streamId: number, method = 'M', service = 'S', payload = new Uint8Array(0)) =>
  frame(streamId, MessageType.Request, encodeRequest({ service, method, payload, timeoutNano: 0n }));
const tick = () => new Promise((r) => setImmediate(r));

/** A server whose answers are collected as [stream, code, message, payload text]. */
function server(dispatch: Dispatch, maxInFlight = 8) {
  const sent: [number, number, string, string][] = [];
  const logs: string[] = [];
  const s = new TtrpcServer(
    (f) => {
      const res = decodeResponse(f.subarray(10));
      if (!res.ok || f[8] !== MessageType.Response) throw new Error('the server sent no response');
      sent.push([f.readUInt32BE(4), res.value.status.code, res.value.status.message, Buffer.from(res.value.payload).toString()]);
    },
    dispatch,
    maxInFlight,
    (l) => logs.push(l),
  );
  return { s, sent, logs };
}

const echo: Dispatch = async (call) => ({ status: { code: Code.OK, message: '' }, payload: Buffer.from(`${call.service}/${call.method}`) });

t.test('server: answers each request on its stream', async (t) => {
  const { s, sent } = server(echo);
  s.receive(request(1, 'Configure', 'svc'));
  s.receive(request(3, 'Other', 'svc'));
  await tick();
  t.strictSame(sent, [
    [1, 0, '', 'svc/Configure'],
    [3, 0, '', 'svc/Other'],
  ]);
});

t.test("server: Go's checks, each answered INVALID_ARGUMENT on its own stream, the connection kept", async (t) => {
  const { s, sent } = server(echo);
  s.receive(request(2)); // even: client streams are odd
  s.receive(request(5));
  s.receive(request(5)); // reused
  s.receive(request(3)); // going back
  s.receive(frame(7, MessageType.Data, Buffer.from('x'))); // no streams in NRI
  s.receive(frame(9, MessageType.Request, Buffer.from('0aff', 'hex'))); // garbage
  s.receive(frame(11, 9, Buffer.from('whatever'))); // unknown type: ignored, for future compat
  s.receive(request(13));
  await tick();
  // Violations are answered at once; the two good requests once their handlers ran.
  t.strictSame(
    sent.map((x) => x.slice(0, 2)),
    [
      [2, Code.INVALID_ARGUMENT],
      [5, Code.INVALID_ARGUMENT],
      [3, Code.INVALID_ARGUMENT],
      [7, Code.INVALID_ARGUMENT],
      [9, Code.INVALID_ARGUMENT],
      [5, Code.OK],
      [13, Code.OK],
    ],
  );
  t.strictSame(
    sent.slice(0, 4).map((x) => x[2]),
    ['StreamID must be odd for client initiated streams', 'StreamID cannot be re-used and must increment', 'StreamID cannot be re-used and must increment', 'StreamID is no longer active'],
  );
  t.match(sent.find((x) => x[0] === 9)?.[2], /^unmarshal request error: ttrpc\.Request/);
});

t.test('server: an oversized message is answered RESOURCE_EXHAUSTED on its stream', async (t) => {
  const { s, sent } = server(echo);
  s.receive({ kind: 'oversize', streamId: 7, type: MessageType.Request, flags: 0, length: TTRPC_MAX + 1 });
  t.strictSame(sent, [[7, Code.RESOURCE_EXHAUSTED, `message length ${TTRPC_MAX + 1} exceed maximum message size of ${TTRPC_MAX}`, '']]);
});

t.test('server: a dispatch that throws or rejects is INTERNAL; requests past the cap are refused, not queued', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const { s, sent, logs } = server(async (call) => {
    if (call.method === 'throw') throw new Error('boom');
    if (call.method === 'slow') await gate;
    return statusAnswer(Code.OK, '');
  }, 2);
  s.receive(request(1, 'throw'));
  await tick();
  t.strictSame(sent, [[1, Code.INTERNAL, 'boom', '']]);
  s.receive(request(3, 'slow'));
  s.receive(request(5, 'slow'));
  s.receive(request(7, 'slow'));
  t.equal(s.pending, 2);
  t.strictSame(sent[1], [7, Code.RESOURCE_EXHAUSTED, '2 requests already in progress', '']);
  release();
  await tick();
  t.equal(s.pending, 0);
  t.strictSame(sent.slice(2).map((x) => x[0]), [3, 5]);
  t.strictSame(logs, []);
});

t.test('server: an answer too big to send is sent as RESOURCE_EXHAUSTED; answers after close are dropped', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const { s, sent, logs } = server(async (call) => {
    if (call.method === 'late') await gate;
    return { status: { code: 0, message: '' }, payload: Buffer.alloc(TTRPC_MAX) };
  });
  s.receive(request(1, 'big'));
  await tick();
  t.equal(sent[0]?.[1], Code.RESOURCE_EXHAUSTED);
  t.match(logs, [/exceeds/]);
  s.receive(request(3, 'late'));
  s.close();
  release();
  await tick();
  t.equal(sent.length, 1, 'nothing sent after close');
});

t.test('router: unknown service or method is UNIMPLEMENTED in the words of services.go; a bad payload INVALID_ARGUMENT', async (t) => {
  const dispatch = router([route(Plugin.method.configure, async () => ({ events: 1 }))]);
  const { s, sent } = server(dispatch);
  s.receive(request(1, 'Configure', 'nope.Service'));
  s.receive(request(3, 'Nope', Plugin.typeName));
  s.receive(request(5, 'Configure', Plugin.typeName, Buffer.from('ff', 'hex')));
  s.receive(request(7, 'Configure', Plugin.typeName));
  await tick();
  t.equal(sent.length, 4);
  t.strictSame(sent.slice(0, 2), [
    [1, Code.UNIMPLEMENTED, 'service nope.Service', ''],
    [3, Code.UNIMPLEMENTED, 'method Nope', ''],
  ]);
  t.equal(sent[2]?.[1], Code.INVALID_ARGUMENT);
  t.match(sent[2]?.[2], /^unmarshal Configure error/);
  t.strictSame(sent[3]?.slice(0, 2), [7, Code.OK]);
  s.receive(request(9, 'x'.repeat(10_000), Plugin.typeName));
  await tick();
  t.ok((sent[4]?.[2].length ?? 0) < 300, 'a name from the peer is echoed bounded');
});

/** A client and what it sent, as [stream, type, decoded service/method]. */
function client(maxPending = 4) {
  const timers = new ManualTimers();
  const sent: Buffer[] = [];
  const c = new TtrpcClient((f) => sent.push(f), timers, maxPending);
  const answer = (streamId: number, code: number, message: string, payload = new Uint8Array(0)) =>
    c.receive(frame(streamId, MessageType.Response, encodeResponse({ code, message }, payload)));
  return { c, sent, timers, answer };
}

t.test('client: odd stream ids from 1, the timeout sent with the call, answers matched by stream', async (t) => {
  const { c, sent, answer } = client();
  const a = c.call('S', 'A', Buffer.from('x'), 1500);
  const b = c.call('S', 'B', Buffer.from('y'), 1500);
  t.strictSame(sent.map((f) => [f.readUInt32BE(4), f[8], f[9]]), [
    [1, MessageType.Request, 0],
    [3, MessageType.Request, 0],
  ]);
  t.equal(sent[0]!.toString('hex'), encodeFrame({ streamId: 1, type: 1, flags: 0 }, encodeRequest({ service: 'S', method: 'A', payload: Buffer.from('x'), timeoutNano: 1_500_000_000n })).toString('hex'));
  answer(3, 0, '', Buffer.from('for b'));
  answer(1, Code.UNIMPLEMENTED, 'method A');
  t.equal(Buffer.from(await b).toString(), 'for b');
  await t.rejects(a, new TtrpcError(Code.UNIMPLEMENTED, 'method A'));
  answer(1, 0, ''); // nobody waits on stream 1 any more: dropped
  t.equal(c.pending, 0);
});

t.test('client: a call times out, and its late answer is dropped; garbage and oversize fail only their call', async (t) => {
  const { c, timers, answer } = client();
  const late = c.call('S', 'Late', new Uint8Array(0), 100);
  timers.advance(99);
  t.equal(c.pending, 1);
  timers.advance(1);
  await t.rejects(late, { code: Code.DEADLINE_EXCEEDED });
  answer(1, 0, '');
  const garbage = c.call('S', 'G', new Uint8Array(0), 100);
  c.receive(frame(3, MessageType.Response, Buffer.from('0aff', 'hex')));
  await t.rejects(garbage, { code: Code.INTERNAL, message: /unmarshal response error/ });
  const big = c.call('S', 'Big', new Uint8Array(0), 100);
  c.receive({ kind: 'oversize', streamId: 5, type: MessageType.Response, flags: 0, length: TTRPC_MAX + 1 });
  await t.rejects(big, { code: Code.RESOURCE_EXHAUSTED });
  const wrongType = c.call('S', 'W', new Uint8Array(0), 100);
  c.receive(frame(7, MessageType.Data, Buffer.from('x')));
  await t.rejects(wrongType, { code: Code.INTERNAL, message: /unexpected message type 3/ });
  t.equal(timers.pending, 0, 'no timer left behind');
});

t.test('client: at most maxPending calls wait; close fails them and every later one', async (t) => {
  const { c, timers } = client(2);
  await t.rejects(c.call('S', 'D', Buffer.alloc(TTRPC_MAX), 100), { code: Code.RESOURCE_EXHAUSTED, message: /exceeds/ });
  const a = c.call('S', 'A', new Uint8Array(0), 100);
  const b = c.call('S', 'B', new Uint8Array(0), 100);
  await t.rejects(c.call('S', 'C', new Uint8Array(0), 100), { code: Code.RESOURCE_EXHAUSTED, message: /2 calls already waiting/ });
  c.close('gone');
  await t.rejects(a, { code: Code.UNAVAILABLE, message: 'gone' });
  await t.rejects(b, { code: Code.UNAVAILABLE });
  await t.rejects(c.call('S', 'E', new Uint8Array(0), 100), { code: Code.UNAVAILABLE });
  t.equal(timers.pending, 0);
});
