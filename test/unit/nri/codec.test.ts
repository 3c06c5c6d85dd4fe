// The wire codecs against byte vectors written by hand from the Go sources' formats (ttrpc
// channel.go and request.proto, NRI multiplex/mux.go and api.proto), with the messages of the Go
// packages' own tests (ttrpc channel_test.go, NRI mux_suite_test.go) where they have some. Nothing
// here is produced by the code under test and then read back by it alone.
import t from 'tap';
import { create, toBinary } from '@bufbuild/protobuf';
import { decodeMessage, decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../../../src/nri/envelope.js';
import { DEFAULT_EVENTS, eventMask, eventNames } from '../../../src/nri/events.js';
import { FrameDecoder, type FrameEvent, encodeFrame } from '../../../src/nri/frame.js';
import { ConfigureResponseSchema, Event, Plugin, RegisterPluginRequestSchema, Runtime } from '../../../src/nri/gen/api_pb.js';
import { MuxDecoder, encodeMux } from '../../../src/nri/mux.js';
import { MUX_MAX_PAYLOAD, PLUGIN_SERVICE_CONN, RUNTIME_SERVICE_CONN, TTRPC_MAX } from '../../../src/nri/wire.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const ascii = (s: string) => Buffer.from(s, 'latin1').toString('hex');

t.test('the numbers the Go sources fix', async (t) => {
  t.equal(PLUGIN_SERVICE_CONN, 1, 'multiplex/ttrpc.go: PluginServiceConn = iota + 1');
  t.equal(RUNTIME_SERVICE_CONN, 2, 'RuntimeServiceConn follows it');
  t.equal(TTRPC_MAX, 4194304, 'channel.go: messageLengthMax = 4 << 20');
  t.equal(MUX_MAX_PAYLOAD, 4194314, 'mux.go: maxPayloadSize = ttrpcMessageHeaderLength + ttrpcMessageLengthMax');
  t.equal(Plugin.typeName, 'nri.pkg.api.v1alpha1.Plugin', 'api_ttrpc.pb.go registers this service name');
  t.equal(Runtime.typeName, 'nri.pkg.api.v1alpha1.Runtime');
  t.strictSame(
    Object.values(Plugin.method).map((m) => m.name),
    ['Configure', 'Synchronize', 'Shutdown', 'CreateContainer', 'UpdateContainer', 'StopContainer', 'StateChange'],
  );
});

// channel_test.go TestReadWriteMessage sends these with stream ids 0, 1, 2 and type 1.
const GO_MESSAGES = ['hello', 'this is a test', 'of message framing'];
const GO_FRAMES = hex(
  `00000005 00000000 01 00 ${ascii('hello')}` +
    `0000000e 00000001 01 00 ${ascii('this is a test')}` +
    `00000012 00000002 01 00 ${ascii('of message framing')}`,
);

t.test('ttrpc frames: the bytes of channel_test.go messages, and back', async (t) => {
  const encoded = Buffer.concat(GO_MESSAGES.map((m, i) => encodeFrame({ streamId: i, type: 1, flags: 0 }, Buffer.from(m))));
  t.equal(encoded.toString('hex'), GO_FRAMES.toString('hex'));
  const got = new FrameDecoder().push(GO_FRAMES);
  t.strictSame(
    got.map((f) => (f.kind === 'frame' ? [f.streamId, f.type, f.flags, f.payload.toString()] : f.kind)),
    GO_MESSAGES.map((m, i) => [i, 1, 0, m]),
  );
});

t.test('ttrpc frames split at every byte boundary decode the same', async (t) => {
  for (let cut = 1; cut < GO_FRAMES.length; cut++) {
    const d = new FrameDecoder();
    const got: FrameEvent[] = [];
    for (let at = 0; at < GO_FRAMES.length; at += cut) got.push(...d.push(GO_FRAMES.subarray(at, at + cut)));
    const texts = got.map((f) => (f.kind === 'frame' ? f.payload.toString() : '?'));
    if (texts.join('|') !== GO_MESSAGES.join('|')) t.fail(`chunks of ${cut} bytes: ${texts.join('|')}`);
    if (d.buffered !== 0) t.fail(`chunks of ${cut}: ${d.buffered} bytes left`);
  }
  t.pass('every split');
});

t.test('an oversized ttrpc message is refused on send and skipped on receipt, never held', async (t) => {
  // channel_test.go TestMessageOversize: this one must fail to send.
  const massive = Buffer.from('a message of massive length'.repeat(512 << 10));
  t.throws(() => encodeFrame({ streamId: 1, type: 1, flags: 0 }, massive), RangeError);
  t.doesNotThrow(() => encodeFrame({ streamId: 1, type: 1, flags: 0 }, Buffer.alloc(TTRPC_MAX)), 'exactly the maximum is fine');

  const d = new FrameDecoder();
  const claimed = TTRPC_MAX + 1;
  const header = hex(`${claimed.toString(16).padStart(8, '0')} 00000007 01 00`);
  t.strictSame(d.push(header), [{ kind: 'oversize', length: claimed, streamId: 7, type: 1, flags: 0 }]);
  // Its bytes arrive in 64 KiB pieces and are dropped as they come.
  const piece = Buffer.alloc(64 << 10, 0x61);
  let left = claimed;
  let most = 0;
  while (left > piece.length) {
    t.strictSame(d.push(piece), []);
    most = Math.max(most, d.buffered);
    left -= piece.length;
  }
  // The rest, and a real message right behind it in the same chunk.
  const after = d.push(Buffer.concat([piece.subarray(0, left), GO_FRAMES.subarray(0, 15)]));
  t.equal(most, 0, 'nothing of the oversized message was held');
  t.match(after, [{ kind: 'frame', streamId: 0, payload: Buffer.from('hello') }], 'the next message is found');
});

t.test('mux frames: the NRI mux_suite_test.go message on LowestConnID', async (t) => {
  const msg = 'this is a test message';
  const frames = encodeMux(1, Buffer.from(msg));
  t.equal(Buffer.concat(frames).toString('hex'), `00000001 00000016 ${ascii(msg)}`.replace(/ /g, ''));
  const d = new MuxDecoder();
  t.strictSame(d.push(Buffer.concat(frames)), [{ kind: 'payload', conn: 1, payload: Buffer.from(msg) }]);
});

t.test('mux: a write longer than maxPayloadSize is split as mux.go splits it, and joined again', async (t) => {
  const payload = Buffer.alloc(MUX_MAX_PAYLOAD + 5, 7);
  const frames = encodeMux(2, payload);
  t.strictSame(
    frames.map((f) => [f.readUInt32BE(0), f.readUInt32BE(4), f.length]),
    [
      [2, MUX_MAX_PAYLOAD, 8 + MUX_MAX_PAYLOAD],
      [2, 5, 13],
    ],
  );
  const got = new MuxDecoder().push(Buffer.concat(frames));
  t.equal(got.length, 2);
  t.ok(Buffer.concat(got.map((e) => (e.kind === 'payload' ? e.payload : Buffer.alloc(0)))).equals(payload));
  t.strictSame(encodeMux(1, Buffer.alloc(0)).map((f) => f.toString('hex')), ['0000000100000000'], 'an empty write is a bare header, as in Go');
});

t.test('mux: a frame longer than any writer makes is an error, and the decoder holds nothing after it', async (t) => {
  const d = new MuxDecoder();
  const evs = d.push(hex(`00000001 ${(MUX_MAX_PAYLOAD + 1).toString(16).padStart(8, '0')} 0102`));
  t.match(evs, [{ kind: 'error', message: /multiplexer frame of 4194315 bytes on conn 1/ }]);
  t.equal(d.buffered, 0);
  t.strictSame(d.push(encodeMux(1, Buffer.from('x'))[0]!), [], 'nothing follows an error');
});

// RegisterPluginRequest{plugin_name: "agentcgroup", plugin_idx: "10"}, by hand: field 1 and 2, strings.
const REGISTER = `0a0b ${ascii('agentcgroup')} 1202 ${ascii('10')}`;
// ttrpc Request{service, method, payload, timeout_nano: 5 s}: fields 1, 2, 3 length-delimited, 4 varint.
const REQUEST = `0a1c ${ascii('nri.pkg.api.v1alpha1.Runtime')} 120e ${ascii('RegisterPlugin')} 1a11 ${REGISTER} 20 80e497d012`;

t.test('ttrpc Request: RegisterPlugin as Go marshals it', async (t) => {
  const payload = toBinary(RegisterPluginRequestSchema, create(RegisterPluginRequestSchema, { pluginName: 'agentcgroup', pluginIdx: '10' }));
  t.equal(Buffer.from(payload).toString('hex'), REGISTER.replace(/ /g, ''));
  const bytes = encodeRequest({ service: Runtime.typeName, method: 'RegisterPlugin', payload, timeoutNano: 5_000_000_000n });
  t.equal(Buffer.from(bytes).toString('hex'), REQUEST.replace(/ /g, ''));
  const back = decodeRequest(hex(REQUEST));
  t.ok(back.ok);
  if (back.ok) t.match(back.value, { service: 'nri.pkg.api.v1alpha1.Runtime', method: 'RegisterPlugin', timeoutNano: 5_000_000_000n });
});

t.test('ttrpc Response: OK carries an empty status as Go writes it; an error its code and text', async (t) => {
  t.equal(Buffer.from(encodeResponse({ code: 0, message: '' }, new Uint8Array(0))).toString('hex'), '0a00');
  t.equal(Buffer.from(encodeResponse({ code: 0, message: '' }, Buffer.from('ab'))).toString('hex'), '0a00 1202 6162'.replace(/ /g, ''));
  // Status{code: 12 (Unimplemented), message: "method Foo"} as services.go sends for an unknown method.
  const unimplemented = `0a0e 080c 120a ${ascii('method Foo')}`;
  t.equal(Buffer.from(encodeResponse({ code: 12, message: 'method Foo' }, new Uint8Array(0))).toString('hex'), unimplemented.replace(/ /g, ''));
  t.strictSame(decodeResponse(hex(unimplemented)), { ok: true, value: { status: { code: 12, message: 'method Foo' }, payload: new Uint8Array(0) } });
  t.strictSame(decodeResponse(hex('1202 6162')), { ok: true, value: { status: { code: 0, message: '' }, payload: Buffer.from('ab') } }, 'no status is OK');
});

t.test('garbage does not parse and does not throw', async (t) => {
  t.match(decodeRequest(hex('0aff')), { ok: false, error: /ttrpc\.Request/ }, 'a length past the end');
  t.match(decodeRequest(hex('0f')), { ok: false }, 'wire type 7 does not exist');
  // 100 000 nested groups of an unknown field: protobuf-es' recursion limit, not the stack.
  const deep = Buffer.concat([Buffer.alloc(100_000, 0x4b), Buffer.alloc(100_000, 0x4c)]);
  t.match(decodeMessage(RegisterPluginRequestSchema, deep), { ok: false, error: /recursion/ });
  t.match(decodeResponse(hex('0a05 08')), { ok: false }, 'a status cut short');
});

t.test('the event mask: bit (event - 1), as api/event.go sets it', async (t) => {
  const mask = eventMask(DEFAULT_EVENTS);
  t.equal(mask, 0b111_1011_1001, 'RunPodSandbox, CreateContainer, PostCreate, Start, Update, PostUpdate, Stop, Remove');
  t.equal(Buffer.from(toBinary(ConfigureResponseSchema, create(ConfigureResponseSchema, { events: mask }))).toString('hex'), '10b90f', 'field 2, varint');
  t.strictSame(eventNames(mask), ['RUN_POD_SANDBOX', 'CREATE_CONTAINER', 'POST_CREATE_CONTAINER', 'START_CONTAINER', 'UPDATE_CONTAINER', 'POST_UPDATE_CONTAINER', 'STOP_CONTAINER', 'REMOVE_CONTAINER']);
  t.throws(() => eventMask([Event.LAST]), RangeError, 'LAST is no event: the runtime refuses its bit');
  t.throws(() => eventMask([Event.UNKNOWN]), RangeError);
  t.throws(() => eventMask([99 as Event]), RangeError);
});
