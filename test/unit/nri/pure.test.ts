// The pure pieces under the plugin: how long a handler may take, the race against it, the backoff,
// the bound on a split Synchronize; and that a stopped plugin leaves no timer and no connection.
import t from 'tap';
import { Backoff } from '../../../src/nri/backoff.js';
import { deadlineMs, race } from '../../../src/nri/deadline.js';
import type { Container, PodSandbox } from '../../../src/nri/gen/api_pb.js';
import type { NriHandler } from '../../../src/nri/handler.js';
import { NriPlugin, type PluginState } from '../../../src/nri/plugin.js';
import { SyncCollector } from '../../../src/nri/synccollect.js';
import type { Trunk } from '../../../src/nri/trunk.js';
import { ManualTimers } from '../../fixtures/manualtimers.js';

t.test("deadline: ours, at most half the runtime's request timeout and half the call's own", async (t) => {
  t.equal(deadlineMs(500, 2000, 0n), 500, "ours, when the runtime's are long");
  t.equal(deadlineMs(500, 600, 0n), 300, 'half the configured request timeout');
  t.equal(deadlineMs(500, 2000, 400_000_000n), 200, "half of what the call said it waits");
  t.equal(deadlineMs(500, 0, 0n), 500, 'zero means not said');
  t.equal(deadlineMs(500, 1, 1n), 1, 'never below 1 ms');
});

t.test('race: a value, a throw (sync or async), or late; what comes after late is dropped', async (t) => {
  const timers = new ManualTimers();
  t.strictSame(await race(() => 7, 10, timers), { kind: 'done', value: 7 });
  t.match(await race(() => { throw new Error('sync'); }, 10, timers), { kind: 'failed', error: /sync/ });
  t.match(await race(() => Promise.reject(new Error('async')), 10, timers), { kind: 'failed', error: /async/ });
  let reject!: (e: Error) => void;
  const late = race(() => new Promise<number>((_, r) => (reject = r)), 10, timers);
  await new Promise((r) => setImmediate(r));
  timers.advance(10);
  t.strictSame(await late, { kind: 'late' });
  reject(new Error('after the deadline')); // must not surface as an unhandled rejection
  await new Promise((r) => setImmediate(r));
  t.equal(timers.pending, 0, 'every timer cancelled or run');
});

t.test('backoff doubles to its cap and starts over when reset', async (t) => {
  const b = new Backoff({ initialMs: 250, maxMs: 2000 });
  t.strictSame([b.next(), b.next(), b.next(), b.next(), b.next()], [250, 500, 1000, 2000, 2000]);
  b.reset();
  t.equal(b.next(), 250);
  const long = new Backoff({ initialMs: 1, maxMs: 30_000 });
  for (let i = 0; i < 5000; i++) long.next();
  t.equal(long.next(), 30_000, 'no overflow after many attempts');
});

t.test('a split Synchronize is gathered up to its bound, then dropped whole', async (t) => {
  const c = new SyncCollector(100);
  const p = (id: string) => ({ id }) as PodSandbox;
  const k = (id: string) => ({ id }) as Container;
  t.ok(c.add([p('a')], [k('1')], 60));
  t.notOk(c.add([p('b')], [k('2')], 41), '101 bytes is over');
  t.strictSame(c.take(), { pods: [], containers: [] }, 'what was gathered went with it');
  t.ok(c.add([p('c')], [], 100), 'a fresh start after take');
  t.strictSame(c.take().pods.map((x) => x.id), ['c']);
  const many = Array.from({ length: 300_000 }, (_, i) => k(String(i)));
  t.ok(new SyncCollector(1 << 30).add([], many, 1), 'more objects than a call takes arguments');
});

const handler: NriHandler = { synchronize: () => [], createContainer: () => ({}), updateContainer: () => [], stopContainer: () => [], stateChange: () => {}, shutdown: () => {} };

t.test('stopped while waiting to connect again, or while dialing: no timer left, a late trunk closed', async (t) => {
  const timers = new ManualTimers();
  const states: PluginState[] = [];
  let dials = 0;
  let finishDial!: (trunk: Trunk) => void;
  const plugin = new NriPlugin(handler, {
    name: 'agentcgroup',
    index: '10',
    timers,
    backoff: { initialMs: 100, maxMs: 100 },
    onState: (s) => states.push(s),
    dial: () => (++dials === 1 ? Promise.reject(new Error('ENOENT')) : new Promise((r) => (finishDial = r))),
  });
  plugin.start();
  await new Promise((r) => setImmediate(r));
  t.equal(plugin.state, 'waiting');
  t.equal(timers.pending, 1, 'the retry');
  plugin.stop();
  t.equal(timers.pending, 0, 'stop cancels the retry');
  timers.advance(1000);
  t.equal(dials, 1, 'and no dial follows');

  plugin.start();
  await new Promise((r) => setImmediate(r));
  t.equal(plugin.state, 'connecting');
  plugin.stop();
  let closed = false;
  finishDial({ write: () => {}, unsent: 0, close: () => void (closed = true) });
  await new Promise((r) => setImmediate(r));
  t.ok(closed, 'a trunk that arrives after stop is closed');
  t.equal(plugin.state, 'stopped');
  t.equal(timers.pending, 0);
  t.strictSame(states, ['connecting', 'waiting', 'stopped', 'connecting', 'stopped']);
});
