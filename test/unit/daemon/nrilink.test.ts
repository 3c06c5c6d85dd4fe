// The daemon's NRI link: off, started at once, or started when the runtime's socket appears (watched,
// never polled); the NRI code loaded only when it starts; the state `status` shows; an orderly stop.
import t, { type Test } from 'tap';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadPolicy } from '../../../src/config/policy.js';
import { type NriModules, NriLink, linkStatus, loadNri, nearestExisting } from '../../../src/daemon/nrilink.js';
import { StateStore } from '../../../src/state/records.js';
import { FakeEvents } from '../../fixtures/fakeevents.js';
import { CG_ROOT, hookEnv } from '../../fixtures/hookenv.js';
import { FakeRuntime, socketDir, within } from '../../fixtures/nriruntime.js';

function link(t: Test, nri: string, load?: () => Promise<NriModules>) {
  const h = hookEnv(t.testdir(), { policy: `nri:\n${nri}` });
  const policy = loadPolicy(h.policyFile);
  const events = new FakeEvents();
  const log: string[] = [];
  let loads = 0;
  const l = new NriLink({
    policy,
    store: new StateStore(policy.paths.runDir, policy.paths.callLogDir),
    host: { procRoot: h.proc, cgroupRoot: CG_ROOT, fsOps: h.kernel, now: () => new Date() },
    hook: () => ({ path: '/x', args: ['agentcgroup', 'hook'], env: [], timeout: 30 }),
    log: { info: (line) => log.push(line), warn: (line) => log.push(`WARN ${line}`) },
    events,
    sync: async () => {},
    resized: () => {},
    load: () => {
      loads++;
      return (load ?? loadNri)();
    },
  });
  t.teardown(() => l.stop());
  return { l, events, log, loads: () => loads };
}

/** Resolves once the link's status is `state`, looking on each turn of the event loop (no timer). */
async function reach(l: NriLink, state: string): Promise<void> {
  await within(
    (async () => {
      while (l.snapshot().state !== state) await new Promise((r) => setImmediate(r));
    })(),
    `NRI ${state}`,
  );
}

/** A fake containerd on `path` that configures and synchronizes each plugin that connects. */
async function runtime(t: Test, path: string) {
  const rt = await FakeRuntime.listen(path);
  t.teardown(() => rt.close());
  const served = (async () => {
    const conn = await rt.next();
    await conn.registered;
    await conn.call((await import('../../../src/nri/gen/api_pb.js')).Plugin.method.configure, { runtimeName: 'containerd', runtimeVersion: 'v2.1.9', requestTimeout: 2000n, registrationTimeout: 5000n });
    await conn.synchronize([], []);
    return conn;
  })();
  return { rt, served };
}

t.test('nri.enable false: off, and the NRI code is never loaded', async (t) => {
  const s = socketDir();
  t.teardown(s.cleanup);
  await runtime(t, s.path);
  const w = link(t, `  enable: false\n  socket: ${s.path}\n`);
  await w.l.start();
  t.same(w.l.snapshot(), { state: 'off', detail: 'nri.enable false' });
  t.equal(w.loads(), 0);
  t.equal(w.events.armed, 0, 'nothing watched');
});

t.test('auto with the socket there: loaded, registered, connected; stopped again', async (t) => {
  const s = socketDir();
  t.teardown(s.cleanup);
  const { served } = await runtime(t, s.path);
  const w = link(t, `  enable: auto\n  socket: ${s.path}\n`);
  await w.l.start();
  t.equal(w.loads(), 1);
  await served;
  await reach(w.l, 'connected');
  t.same(w.l.snapshot(), { state: 'connected', detail: 'synchronized' });
  await w.l.stop();
  t.equal(w.l.snapshot().state, 'off', 'stopped');
});

t.test('auto before the runtime: the nearest directory is watched, and the plugin starts once the socket is there', async (t) => {
  const s = socketDir();
  t.teardown(s.cleanup);
  const sub = join(dirname(s.path), 'nri');
  const path = join(sub, 'nri.sock');
  const w = link(t, `  enable: auto\n  socket: ${path}\n`);
  await w.l.start();
  t.match(w.l.snapshot(), { state: 'off', detail: `no runtime socket at ${path}; registers once one appears` });
  t.equal(w.loads(), 0, 'nothing loaded yet');
  t.ok(w.events.watching(dirname(s.path)), 'the nearest existing directory is watched');
  // The runtime makes its directory, then listens.
  mkdirSync(sub);
  w.events.change(dirname(s.path));
  t.ok(w.events.watching(sub), 'the watch moves down');
  t.notOk(w.events.watching(dirname(s.path)));
  const { served } = await runtime(t, path);
  w.events.change(sub);
  t.equal(w.events.armed, 0, 'no watch left once it starts');
  await served;
  await reach(w.l, 'connected');
  t.equal(w.loads(), 1);
  t.match(w.log.join('\n'), /appeared: registering/);
});

t.test('true without the socket: waiting (the plugin retries), connected once the runtime listens', async (t) => {
  const s = socketDir();
  t.teardown(s.cleanup);
  const w = link(t, `  enable: true\n  socket: ${s.path}\n`);
  await w.l.start();
  await reach(w.l, 'waiting');
  t.match(w.l.snapshot().detail, /^(connecting|waiting): /, 'says what it waits on');
  const { served } = await runtime(t, s.path);
  await served;
  await reach(w.l, 'connected');
});

t.test('NRI code that cannot be loaded: off, with one line why', async (t) => {
  const s = socketDir();
  t.teardown(s.cleanup);
  await runtime(t, s.path);
  const w = link(t, `  enable: auto\n  socket: ${s.path}\n`, () => Promise.reject(new Error('no protobuf')));
  await w.l.start();
  t.same(w.l.snapshot(), { state: 'off', detail: 'cannot load the NRI code: no protobuf' });
  t.equal(w.log.filter((l) => l.startsWith('WARN')).length, 1);
});

t.test('pure pieces: the state status shows, the nearest existing directory', async (t) => {
  t.same(linkStatus('ready', '"containerd" "v2.1.9"'), { state: 'connected', detail: '"containerd" "v2.1.9"' });
  t.same(linkStatus('waiting', 'connection ended'), { state: 'waiting', detail: 'waiting: connection ended' });
  t.same(linkStatus('registering', '10-agentcgroup'), { state: 'waiting', detail: 'registering: 10-agentcgroup' });
  t.same(linkStatus('stopped', 'stopped'), { state: 'off', detail: 'stopped' });
  const exists = (p: string) => ['/', '/var', '/var/run'].includes(p);
  t.equal(nearestExisting('/var/run/nri/nri.sock', exists), '/var/run');
  t.equal(nearestExisting('/a/b/c', () => false), '/');
});

t.test('the plugin the link starts answers a failed handler with no change, or with an error under strict', async (t) => {
  const { Plugin } = await import('../../../src/nri/gen/api_pb.js');
  const hostile = { id: 'p', annotations: { 'io.agentcgroup.enable': 'true', 'io.agentcgroup.strict': 'false' } };
  for (const strict of [false, true]) {
    const s = socketDir();
    t.teardown(s.cleanup);
    const { served } = await runtime(t, s.path);
    const w = link(t, `  enable: auto\n  socket: ${s.path}\n${strict ? 'strict: true\n' : ''}`);
    await w.l.start();
    const conn = await served;
    const answer = await conn.call(Plugin.method.createContainer, { pod: hostile, container: { id: 'c1', podSandboxId: 'p' } }).then(
      (r) => ({ adjust: r.adjust }),
      (err: unknown) => ({ err: String(err) }),
    );
    if (strict) t.match(answer, { err: /io\.agentcgroup\.strict: host-only/ }, 'strict: the runtime gets the error');
    else t.same(answer, { adjust: undefined }, 'no change');
    t.match(w.log.join('\n'), /NRI CreateContainer: handler failed: .*io\.agentcgroup\.strict/);
  }
});
