// A runtime socket that does not speak NRI properly, or is not a runtime at all: whatever it sends,
// the plugin stays up, holds no more than its bounds, answers what it can and otherwise drops the
// connection and connects again. Every wait is on an event; deadlines only turn a hang into a failure.
import t, { type Test } from 'tap';
import fc from 'fast-check';
import { encodeFrame } from '../../../src/nri/frame.js';
import { ConfigureResponseSchema, Plugin } from '../../../src/nri/gen/api_pb.js';
import { decodeMessage, decodeResponse, encodeRequest } from '../../../src/nri/envelope.js';
import type { NriHandler } from '../../../src/nri/handler.js';
import { NriPlugin, type NriPluginOptions } from '../../../src/nri/plugin.js';
import { route, router } from '../../../src/nri/rpc.js';
import { Session } from '../../../src/nri/session.js';
import { realTimers } from '../../../src/nri/timers.js';
import { Code, MUX_HEADER, MUX_MAX_PAYLOAD, MessageType, PLUGIN_SERVICE_CONN, RUNTIME_SERVICE_CONN, TTRPC_HEADER, TTRPC_MAX } from '../../../src/nri/wire.js';
import { RawRuntime, type RawConn, type SeenFrame, muxed, pluginRequest, socketDir, within } from '../../fixtures/nriruntime.js';
import { fuzz } from '../fuzz/fuzz.js';

const pod = { id: 'p' };
const container = { id: 'c', podSandboxId: 'p' };

const quiet: NriHandler = {
  synchronize: () => [],
  createContainer: () => ({}),
  updateContainer: () => [],
  stopContainer: () => [],
  stateChange: () => {},
  shutdown: () => {},
};

async function start(t: Test, handler: Partial<NriHandler> = {}, options: Partial<NriPluginOptions> = {}) {
  const dir = socketDir();
  t.teardown(dir.cleanup);
  const rt = await RawRuntime.listen(dir.path);
  t.teardown(() => rt.close());
  const warnings: string[] = [];
  const plugin = new NriPlugin(
    { ...quiet, ...handler },
    { name: 'agentcgroup', index: '10', socketPath: dir.path, backoff: { initialMs: 10, maxMs: 20 }, log: { info: () => {}, warn: (l) => warnings.push(l) }, ...options },
  );
  plugin.start();
  t.teardown(() => plugin.stop());
  const conn = await rt.next();
  const reg = await conn.acceptRegistration();
  t.strictSame([reg.conn, reg.streamId, reg.type], [RUNTIME_SERVICE_CONN, 1, MessageType.Request], 'RegisterPlugin first, on conn 2');
  return { rt, conn, plugin, warnings };
}

type Answer = [code: number, message: string, payload: Uint8Array];

/** The plugin's answers on conn 1 to streams `ids`, in that order, whatever order they came in. */
async function answers(conn: RawConn, ids: number[]): Promise<Answer[]> {
  const got = new Map<number, Answer>();
  while (ids.some((id) => !got.has(id))) {
    const f: SeenFrame = await conn.next();
    if (f.conn !== PLUGIN_SERVICE_CONN) continue;
    if (f.kind !== 'frame') throw new Error('oversize from the plugin');
    const r = decodeResponse(f.payload);
    if (!r.ok) throw new Error(r.error);
    got.set(f.streamId, [r.value.status.code, r.value.status.message, r.value.payload]);
  }
  return ids.map((id) => got.get(id)!);
}

const answer = async (conn: RawConn, id: number): Promise<Answer> => (await answers(conn, [id]))[0]!;

const configure = (id: number) => pluginRequest(id, Plugin.method.configure, { runtimeName: 'raw', runtimeVersion: '0' });

/** Answers still come: Configure on stream `id` gets our event mask. */
async function stillServing(t: Test, conn: RawConn, id: number) {
  conn.write(configure(id));
  const [code, , payload] = await answer(conn, id);
  const res = decodeMessage(ConfigureResponseSchema, payload);
  t.ok(code === Code.OK && res.ok && res.value.events !== 0, `stream ${id} answered with the subscription`);
}

t.test('a mux frame longer than any writer makes ends the connection, and the plugin connects again', async (t) => {
  const { rt, conn, warnings } = await start(t);
  conn.write(Buffer.from(`00000001ffffffff${'00'.repeat(64)}`, 'hex'));
  await within(conn.ended, 'the connection to end');
  t.match(warnings, [/multiplexer frame of 4294967295 bytes on conn 1/]);
  const next = await rt.next();
  await next.acceptRegistration();
  await stillServing(t, next, 1);
});

t.test('an oversized ttrpc message is answered RESOURCE_EXHAUSTED at its header, skipped, and the next one served', async (t) => {
  const { conn } = await start(t);
  const claimed = TTRPC_MAX + 1;
  const header = Buffer.alloc(TTRPC_HEADER);
  header.writeUInt32BE(claimed, 0);
  header.writeUInt32BE(1, 4);
  header[8] = MessageType.Request;
  conn.write(muxed(PLUGIN_SERVICE_CONN, header));
  const [code, message] = await answer(conn, 1);
  t.equal(code, Code.RESOURCE_EXHAUSTED);
  t.match(message, /exceed maximum message size/);
  // Its bytes, in mux frames as large as mux.go makes, then a real request.
  for (let left = claimed; left > 0; left -= MUX_MAX_PAYLOAD) conn.write(muxed(PLUGIN_SERVICE_CONN, Buffer.alloc(Math.min(left, MUX_MAX_PAYLOAD), 0x5a)));
  await stillServing(t, conn, 3);
});

t.test('frames for conns that are not open are dropped (said once); conn 1 goes on', async (t) => {
  const { conn, warnings } = await start(t);
  conn.write(Buffer.concat([muxed(7, configure(1)), muxed(0, Buffer.from('reserved')), muxed(7, Buffer.from('again'))]));
  await stillServing(t, conn, 1);
  t.strictSame(warnings, ['NRI: dropping frames for conn 7, which is not open']);
});

t.test('garbage: a Request that does not parse and a message that does not parse are answered INVALID_ARGUMENT', async (t) => {
  const { conn } = await start(t);
  conn.write(muxed(PLUGIN_SERVICE_CONN, encodeFrame({ streamId: 1, type: MessageType.Request, flags: 0 }, Buffer.from('0aff0102', 'hex'))));
  t.match(await answer(conn, 1), [Code.INVALID_ARGUMENT, /^unmarshal request error/]);
  // A Request, its message replaced by deep group nesting (an unknown field): protobuf-es refuses it.
  const deep = Buffer.concat([Buffer.alloc(5000, 0x4b), Buffer.alloc(5000, 0x4c)]);
  conn.write(muxed(PLUGIN_SERVICE_CONN, encodeFrame({ streamId: 3, type: MessageType.Request, flags: 0 }, encodeRequest({ service: Plugin.typeName, method: 'Configure', payload: deep, timeoutNano: 0n }))));
  t.match(await answer(conn, 3), [Code.INVALID_ARGUMENT, /unmarshal Configure error.*recursion/]);
  conn.write(pluginRequest(5, Plugin.method.createContainer, {}));
  t.match(await answer(conn, 5), [Code.INVALID_ARGUMENT, /CreateContainer without its pod or container/]);
  conn.write(pluginRequest(7, Plugin.method.createContainer, { pod, container }));
  t.match(await answer(conn, 7), [Code.OK]);
});

t.test('garbage as the answer to RegisterPlugin: registration refused, a new connection', async (t) => {
  const dir = socketDir();
  t.teardown(dir.cleanup);
  const rt = await RawRuntime.listen(dir.path);
  t.teardown(() => rt.close());
  const warnings: string[] = [];
  const plugin = new NriPlugin(quiet, { name: 'agentcgroup', index: '10', socketPath: dir.path, backoff: { initialMs: 10, maxMs: 20 }, log: { info: () => {}, warn: (l) => warnings.push(l) } });
  plugin.start();
  t.teardown(() => plugin.stop());
  const conn = await rt.next();
  const reg = await conn.next();
  conn.write(muxed(RUNTIME_SERVICE_CONN, encodeFrame({ streamId: reg.streamId, type: MessageType.Response, flags: 0 }, Buffer.from('0a0508', 'hex'))));
  await within(conn.ended, 'the connection to end');
  t.match(warnings, [/registration refused: unmarshal response error/]);
  await (await rt.next()).acceptRegistration();
});

t.test('a frame cut short: completed later it is served; left cut when the peer goes, nothing stays', async (t) => {
  const { rt, conn } = await start(t);
  const whole = configure(1);
  conn.write(whole.subarray(0, 5));
  conn.write(whole.subarray(5, 17));
  setTimeout(() => conn.write(whole.subarray(17)), 20);
  t.match(await answer(conn, 1), [Code.OK]);
  conn.write(configure(3).subarray(0, 20));
  conn.close();
  const next = await rt.next();
  await next.acceptRegistration();
  await stillServing(t, next, 1);
});

t.test('a peer that never reads: our unread answers are capped, then the connection goes', async (t) => {
  const big = 'x'.repeat(256 << 10);
  const { rt, conn, warnings } = await start(t, { createContainer: () => ({ adjust: { annotations: { big } } }) }, { limits: { maxUnread: 1 << 20 } });
  conn.pause();
  let id = 1;
  // Far more than the cap and the kernel's socket buffers together, written while the plugin answers.
  const flood = setInterval(() => {
    for (let i = 0; i < 8; i++, id += 2) conn.write(pluginRequest(id, Plugin.method.createContainer, { pod, container }));
  }, 5);
  t.teardown(() => clearInterval(flood));
  await within(conn.ended, 'the plugin to drop a peer that reads nothing');
  clearInterval(flood);
  t.match(warnings, [/the runtime left \d+ bytes unread/]);
  const left = Number(/left (\d+) bytes/.exec(warnings[0] ?? '')?.[1]);
  t.ok(left > 1 << 20 && left <= (1 << 20) + (512 << 10), `dropped at ${left} bytes unread: the cap and one answer`);
  await (await rt.next()).acceptRegistration();
});

t.test('a flood of requests while the handler hangs: refused past the caps, the handler called only up to them', async (t) => {
  let calls = 0;
  const { conn } = await start(t, { createContainer: () => { calls++; return new Promise(() => {}); } }, { deadlineMs: 50, limits: { maxRunning: 4, maxInFlight: 8 } });
  const ids = Array.from({ length: 12 }, (_, i) => 2 * i + 1);
  conn.write(Buffer.concat(ids.map((id) => pluginRequest(id, Plugin.method.createContainer, { pod, container }))));
  const codes = (await answers(conn, ids)).map((a) => a[0]);
  t.equal(calls, 4, 'the handler ran 4 times (maxRunning), never more');
  t.equal(codes.filter((c) => c === Code.DEADLINE_EXCEEDED).length, 4);
  t.equal(codes.filter((c) => c === Code.RESOURCE_EXHAUSTED).length, 8);
  // Requests racing in ids order: the hung four are refused later too.
  conn.write(pluginRequest(101, Plugin.method.createContainer, { pod, container }));
  t.match(await answer(conn, 101), [Code.RESOURCE_EXHAUSTED, /4 handler calls still running/]);
});

// Session with a trunk of our own, over generated byte streams mixing valid requests, mux headers of
// every kind of length and junk: data() never throws, and all the session writes are whole mux frames
// on conn 1 holding whole ttrpc Responses (answers, or statuses for what was wrong).
t.test('any bytes at all: the session never throws and writes only well-formed answers', async (t) => {
  const frameish = fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.tuple(fc.constantFrom(0, 1, 2, 3, 0xffffffff), fc.oneof(fc.nat(64), fc.constant(MUX_MAX_PAYLOAD), fc.constant(MUX_MAX_PAYLOAD + 1), fc.constant(0xffffffff)), fc.uint8Array({ maxLength: 48 })).map(([conn, len, rest]) => {
      const h = Buffer.alloc(8);
      h.writeUInt32BE(conn, 0);
      h.writeUInt32BE(len, 4);
      return Buffer.concat([h, rest]);
    }),
    fc.nat(20).map((i) => pluginRequest(2 * i + 1, Plugin.method.configure, {})),
    fc.tuple(fc.nat(3), fc.uint8Array({ maxLength: 32 })).map(([i, junk]) => muxed(1, encodeFrame({ streamId: 2 * i + 1, type: 1, flags: 0 }, junk))),
  );
  let ended = 0;
  let answered = 0;
  await fuzz(t, 'nri session bytes', fc.array(frameish, { maxLength: 40 }), 400, async (chunks) => {
    const written: Buffer[] = [];
    const trunk = { write: (b: Buffer) => void written.push(b), unsent: 0, close: () => {} };
    const dispatch = router([route(Plugin.method.configure, async () => ({ events: 1 }))]);
    const s = new Session(trunk, dispatch, { maxUnread: 1 << 20, maxInFlight: 4, maxPending: 4 }, realTimers, () => {}, () => {});
    for (const c of chunks) s.data(Buffer.from(c));
    await new Promise((r) => setImmediate(r));
    if (s.closed) ended++;
    s.close('done');
    for (const w of written) {
      const conn = w.readUInt32BE(0);
      const ttrpc = w.subarray(MUX_HEADER);
      if (conn !== PLUGIN_SERVICE_CONN || w.readUInt32BE(4) !== ttrpc.length) throw new Error(`not a whole mux frame on conn 1: ${w.toString('hex')}`);
      if (ttrpc.readUInt32BE(0) !== ttrpc.length - TTRPC_HEADER || ttrpc[8] !== MessageType.Response) throw new Error(`not a whole ttrpc response: ${ttrpc.toString('hex')}`);
      if (!decodeResponse(ttrpc.subarray(TTRPC_HEADER)).ok) throw new Error('a Response that does not parse');
      answered++;
    }
  });
  t.ok(ended > 0 && ended < 400 && answered > 0, `some cases ended their connection (${ended} of 400), ${answered} answers checked`);
});
