// NriPlugin against a fake runtime on a real unix socket, in the order containerd's NRI adaptation
// drives a plugin: register, Configure, Synchronize, then the events of a container's life, and
// Shutdown; then what happens when the runtime goes away and comes back.
import t, { type Test } from 'tap';
import { Event, Plugin, type PodSandbox, type Container } from '../../../src/nri/gen/api_pb.js';
import type { NriHandler } from '../../../src/nri/handler.js';
import { NriPlugin, type NriPluginOptions, type PluginState } from '../../../src/nri/plugin.js';
import type { Trunk } from '../../../src/nri/trunk.js';
import { Code, TtrpcError } from '../../../src/nri/wire.js';
import { FakeRuntime, socketDir, within } from '../../fixtures/nriruntime.js';

const pod = { id: 'pod-1', name: 'agents', namespace: 'default', annotations: { 'io.agentcgroup.enable': 'true' } } as const;
const ctr = (id: string) => ({ id, podSandboxId: 'pod-1', name: id, annotations: {} }) as const;

/** A handler that records what it was told, with overrides per test. */
function recorder(overrides: Partial<NriHandler> = {}) {
  const seen: string[] = [];
  const handler: NriHandler = {
    configure: (rt) => void seen.push(`configure ${rt.name} ${rt.version} ${rt.requestTimeoutMs}`),
    synchronize: (pods, containers) => {
      seen.push(`synchronize ${pods.map((p) => p.id).join(',')} / ${containers.map((c) => c.id).join(',')}`);
      return [];
    },
    createContainer: (p, c) => {
      seen.push(`create ${p.id} ${c.id}`);
      return {};
    },
    updateContainer: (_p, c, r) => {
      seen.push(`update ${c.id} ${r?.memory?.limit?.value ?? '-'}`);
      return [];
    },
    stopContainer: (_p, c) => {
      seen.push(`stop ${c.id}`);
      return [];
    },
    stateChange: (ev) => void seen.push(`${Event[ev.event]} ${ev.container?.id ?? ev.pod.id}`),
    shutdown: () => void seen.push('shutdown'),
    ...overrides,
  };
  return { handler, seen };
}

/** Waits on an event, never on time: resolves when the plugin enters `state`. */
function states() {
  const log: PluginState[] = [];
  const waiters: { state: PluginState; fire: () => void }[] = [];
  const onState = (s: PluginState) => {
    log.push(s);
    for (const w of waiters.filter((w) => w.state === s)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.fire();
    }
  };
  const reach = (state: PluginState, ms?: number) => within(new Promise<void>((fire) => waiters.push({ state, fire })), `state ${state}`, ms);
  return { log, onState, reach };
}

interface Setup {
  path: string;
  plugin: NriPlugin;
  seen: string[];
  warnings: string[];
  st: ReturnType<typeof states>;
}

function setup(t: Test, overrides: Partial<NriHandler> = {}, options: Partial<NriPluginOptions> = {}): Setup {
  const dir = socketDir();
  t.teardown(dir.cleanup);
  const { handler, seen } = recorder(overrides);
  const st = states();
  const warnings: string[] = [];
  const plugin = new NriPlugin(handler, {
    name: 'agentcgroup',
    index: '10',
    socketPath: dir.path,
    backoff: { initialMs: 10, maxMs: 40 },
    log: { info: () => {}, warn: (l) => warnings.push(l) },
    onState: st.onState,
    ...options,
  });
  t.teardown(() => plugin.stop());
  return { path: dir.path, plugin, seen, warnings, st };
}

t.test('register, configure, synchronize, a container from creation to removal, an update asked for, shutdown', async (t) => {
  const adjust = {
    annotations: { 'io.agentcgroup.carved': 'nri' },
    mounts: [{ destination: '/run/agentcgroup', type: 'bind', source: '/run/agentcgroup/sock/c1', options: ['rbind', 'rw'] }],
    hooks: { createRuntime: [{ path: '/usr/local/bin/agentcgroup', args: ['agentcgroup', 'hook', 'createRuntime'] }] },
    linux: { resources: { memory: { limit: { value: 512n << 20n } }, unified: { 'memory.high': '400M' } } },
  };
  const s = setup(t, {
    createContainer: (p, c) => {
      s.seen.push(`create ${p.id} ${c.id}`);
      return { adjust, update: [{ containerId: 'c0', linux: { resources: { cpu: { shares: { value: 512n } } } } }] };
    },
    synchronize: (pods, containers) => {
      s.seen.push(`synchronize ${pods.map((p) => p.id).join(',')} / ${containers.map((c) => c.id).join(',')}`);
      return [{ containerId: 'c0', ignoreFailure: true }];
    },
  });
  const rt = await FakeRuntime.listen(s.path, { updateContainers: (req) => req.update.filter((u) => u.containerId === 'gone') });
  t.teardown(() => rt.close());
  s.plugin.start();
  const conn = await rt.next();
  t.match(await conn.registered, { pluginName: 'agentcgroup', pluginIdx: '10' });
  t.equal(s.plugin.state, 'registering');

  const cfg = await conn.configure();
  t.equal(cfg.events, 0b111_1011_1001, 'subscribed to the default events');
  t.equal(s.plugin.state, 'synchronizing');

  const ready = s.st.reach('ready');
  const sync = await conn.synchronize([pod as unknown as PodSandbox], [ctr('c0') as unknown as Container]);
  await ready;
  t.match(sync, { update: [{ containerId: 'c0', ignoreFailure: true }], more: false });

  const created = await conn.call(Plugin.method.createContainer, { pod, container: ctr('c1') });
  t.match(created.adjust, {
    annotations: { 'io.agentcgroup.carved': 'nri' },
    mounts: [{ destination: '/run/agentcgroup', source: '/run/agentcgroup/sock/c1', options: ['rbind', 'rw'] }],
    hooks: { createRuntime: [{ path: '/usr/local/bin/agentcgroup', args: ['agentcgroup', 'hook', 'createRuntime'] }] },
    linux: { resources: { memory: { limit: { value: 512n << 20n } }, unified: { 'memory.high': '400M' } } },
  });
  t.match(created.update, [{ containerId: 'c0', linux: { resources: { cpu: { shares: { value: 512n } } } } }]);

  for (const event of [Event.POST_CREATE_CONTAINER, Event.START_CONTAINER]) await conn.call(Plugin.method.stateChange, { event, pod, container: ctr('c1') });
  await conn.call(Plugin.method.stateChange, { event: Event.STOP_POD_SANDBOX, pod }); // not subscribed: not handed on
  const updated = await conn.call(Plugin.method.updateContainer, { pod, container: ctr('c1'), linuxResources: { memory: { limit: { value: 1n << 30n } } } });
  t.strictSame(updated.update, []);
  await conn.call(Plugin.method.stateChange, { event: Event.POST_UPDATE_CONTAINER, pod, container: ctr('c1') });

  t.strictSame(await s.plugin.updateContainers([{ containerId: 'c1' }, { containerId: 'gone' }]).then((f) => f.map((u) => u.containerId)), ['gone']);
  t.match(conn.updateRequests, [{ update: [{ containerId: 'c1' }, { containerId: 'gone' }] }]);

  await conn.call(Plugin.method.stopContainer, { pod, container: ctr('c1') });
  await conn.call(Plugin.method.stateChange, { event: Event.REMOVE_CONTAINER, pod, container: ctr('c1') });
  await conn.call(Plugin.method.shutdown, {});

  t.strictSame(s.seen, [
    'configure fake-containerd v2.1.9 2000',
    'synchronize pod-1 / c0',
    'create pod-1 c1',
    'POST_CREATE_CONTAINER c1',
    'START_CONTAINER c1',
    `update c1 ${1n << 30n}`,
    'POST_UPDATE_CONTAINER c1',
    'stop c1',
    'REMOVE_CONTAINER c1',
    'shutdown',
  ]);
  t.strictSame(s.warnings, []);

  // The runtime goes down after Shutdown; the plugin comes back to the next one on its own.
  conn.close();
  await s.st.reach('waiting');
  const again = await rt.next();
  await again.registered;
  await again.configure();
  await again.synchronize([], []);
  t.equal(s.seen.filter((l) => l.startsWith('synchronize')).length, 2, 'synchronized again on the new connection');
  s.plugin.stop();
  t.equal(s.plugin.state, 'stopped');
  await within(again.ended, 'the connection to end at stop');
  await t.rejects(s.plugin.updateContainers([]), { code: Code.UNAVAILABLE });
});

t.test('a Synchronize split over several requests reaches the handler once, whole', async (t) => {
  const s = setup(t);
  const rt = await FakeRuntime.listen(s.path);
  t.teardown(() => rt.close());
  s.plugin.start();
  const conn = await rt.next();
  await conn.configure();
  const pods = ['p1', 'p2', 'p3'].map((id) => ({ id }));
  const containers = ['c1', 'c2', 'c3', 'c4', 'c5'].map((id) => ({ id, podSandboxId: 'p1' }));
  await conn.synchronize(pods as PodSandbox[], containers as Container[], 3);
  t.strictSame(s.seen.slice(1), ['synchronize p1,p2,p3 / c1,c2,c3,c4,c5']);
});

t.test("a handler's failure is answered as an error and the connection stays; with failOpen as no change", async (t) => {
  for (const failOpen of [false, true]) {
    const s = setup(t, { createContainer: () => Promise.reject(new Error('no carve record')), stopContainer: () => { throw new Error('sync throw'); } }, { failOpen });
    const rt = await FakeRuntime.listen(s.path);
    s.plugin.start();
    const conn = await rt.next();
    await conn.configure();
    await conn.synchronize([], []);
    const create = conn.call(Plugin.method.createContainer, { pod, container: ctr('c1') });
    const stop = conn.call(Plugin.method.stopContainer, { pod, container: ctr('c1') });
    if (failOpen) {
      t.strictSame((await create).adjust, undefined, 'failOpen: no adjustment');
      t.strictSame((await stop).update, [], 'failOpen: no update');
    } else {
      await t.rejects(create, { code: Code.UNKNOWN, message: 'agentcgroup CreateContainer: failed: no carve record' });
      await t.rejects(stop, { code: Code.UNKNOWN, message: /sync throw/ });
    }
    t.match(s.warnings, [/NRI CreateContainer: handler failed: no carve record/, /NRI StopContainer: handler failed: sync throw/]);
    t.strictSame(await conn.call(Plugin.method.stateChange, { event: Event.START_CONTAINER, pod, container: ctr('c1') }), await conn.call(Plugin.method.stateChange, { event: Event.START_CONTAINER, pod, container: ctr('c2') }), 'still answering');
    t.equal(s.plugin.state, 'ready');
    s.plugin.stop();
    await rt.close();
  }
});

t.test("a late handler is answered within the deadline, which the runtime's own timeout shortens", async (t) => {
  const never = new Promise<never>(() => {});
  const s = setup(t, { createContainer: () => never, updateContainer: () => never }, { deadlineMs: 300 });
  const rt = await FakeRuntime.listen(s.path);
  t.teardown(() => rt.close());
  s.plugin.start();
  const conn = await rt.next();
  await conn.configure(2000);
  await conn.synchronize([], []);
  let began = Date.now();
  await t.rejects(conn.call(Plugin.method.createContainer, { pod, container: ctr('c1') }), { code: Code.DEADLINE_EXCEEDED, message: /no decision in 300 ms/ });
  const took = Date.now() - began;
  t.ok(took >= 290 && took < 1500, `answered after ${took} ms: our deadline, well inside the runtime's 2 s`);
  // A runtime configured with 200 ms gets its answer in half that.
  const again = await (async () => {
    conn.close();
    const c = await rt.next();
    await c.configure(200);
    await c.synchronize([], []);
    return c;
  })();
  began = Date.now();
  await t.rejects(again.call(Plugin.method.updateContainer, { pod, container: ctr('c1') }, 200), { code: Code.DEADLINE_EXCEEDED, message: /no decision in 100 ms/ });
  t.ok(Date.now() - began < 200, 'before the runtime gave up');
});

t.test('the runtime restarts: the plugin waits, connects to the new one and synchronizes again', async (t) => {
  const s = setup(t);
  let rt = await FakeRuntime.listen(s.path);
  s.plugin.start();
  let conn = await rt.next();
  await conn.configure();
  await conn.synchronize([{ id: 'p1' } as PodSandbox], []);
  await rt.close();
  await s.st.reach('waiting');
  // While nothing listens, attempts fail and back off; the failure is said once.
  await s.st.reach('waiting');
  await s.st.reach('waiting');
  rt = await FakeRuntime.listen(s.path);
  t.teardown(() => rt.close());
  conn = await rt.next();
  await conn.configure();
  const ready = s.st.reach('ready');
  await conn.synchronize([{ id: 'p1' } as PodSandbox, { id: 'p2' } as PodSandbox], []);
  await ready;
  t.strictSame(s.seen.filter((l) => l.startsWith('synchronize')), ['synchronize p1 / ', 'synchronize p1,p2 / ']);
  const refused = s.warnings.filter((w) => /cannot connect/.test(w));
  t.equal(refused.length, 1, `one line for repeated refusals: ${s.warnings.join(' | ')}`);
});

t.test('started with no runtime yet, the plugin connects once one listens', async (t) => {
  const s = setup(t);
  s.plugin.start();
  await s.st.reach('waiting');
  t.match(s.warnings, [/cannot connect to .*nri\.sock: .*ENOENT/]);
  const rt = await FakeRuntime.listen(s.path);
  t.teardown(() => rt.close());
  const conn = await rt.next();
  await conn.configure();
  await conn.synchronize([], []);
  t.equal(s.plugin.state, 'ready');
});

t.test('a refused registration, or a runtime that never configures, costs a new connection after a backoff', async (t) => {
  let refuse = 1;
  const s = setup(t, {}, { registrationTimeoutMs: 200 });
  const rt = await FakeRuntime.listen(s.path, { register: () => (refuse-- > 0 ? new TtrpcError(Code.INVALID_ARGUMENT, 'invalid plugin index') : undefined) });
  t.teardown(() => rt.close());
  s.plugin.start();
  const first = await rt.next();
  await within(first.ended, 'the refused connection to end');
  t.match(s.warnings, [/registration refused: invalid plugin index/]);
  const second = await rt.next();
  await second.registered;
  // Registered, but no Configure follows: the watchdog ends it.
  await within(second.ended, 'the unconfigured connection to end');
  t.match(s.warnings[1], /not configured within 200 ms/);
  const third = await rt.next();
  await third.configure();
  await third.synchronize([], []);
  t.equal(s.plugin.state, 'ready');
});

t.test('the first bytes on the wire are RegisterPlugin on conn 2, stream 1, as a Go plugin sends them', async (t) => {
  const written: Buffer[] = [];
  const trunk: Trunk = { write: (b) => void written.push(b), unsent: 0, close: () => {} };
  const { handler } = recorder();
  const plugin = new NriPlugin(handler, { name: 'agentcgroup', index: '10', dial: async () => trunk });
  plugin.start();
  await new Promise((r) => setImmediate(r));
  plugin.stop();
  const ascii = (s: string) => Buffer.from(s).toString('hex');
  const request = `0a1c${ascii('nri.pkg.api.v1alpha1.Runtime')}120e${ascii('RegisterPlugin')}1a11 0a0b${ascii('agentcgroup')}1202${ascii('10')} 2080e497d012`.replace(/ /g, '');
  const ttrpc = `${(request.length / 2).toString(16).padStart(8, '0')} 00000001 01 00`.replace(/ /g, '') + request;
  const mux = `00000002 ${(ttrpc.length / 2).toString(16).padStart(8, '0')}`.replace(/ /g, '') + ttrpc;
  t.equal(Buffer.concat(written).toString('hex'), mux);
});

t.test('names and indexes the runtime would refuse are refused at construction', async (t) => {
  const { handler } = recorder();
  t.throws(() => new NriPlugin(handler, { name: 'agentcgroup', index: '7' }), /not two digits/);
  t.throws(() => new NriPlugin(handler, { name: '', index: '10' }), /name/);
  t.throws(() => new NriPlugin(handler, { name: 'a b', index: '10' }), /name/);
  t.throws(() => new NriPlugin(handler, { name: 'agentcgroup', index: '10', events: [] }), /at least one event/);
  t.throws(() => new NriPlugin(handler, { name: 'agentcgroup', index: '10', deadlineMs: 0 }), /deadline/);
});
