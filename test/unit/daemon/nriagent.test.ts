// The daemon as an NRI plugin, wired: NriPlugin with the daemon's NriAgent, driven by the fake runtime
// on a real unix socket in containerd's order, over the simulated kernel and a fixture /proc. What the
// runtime gets back (the mount, our hooks, no change, an error) and what happens to the cgroups and
// our run state (carved before the start, caught up at Synchronize, finalized at Stop and Remove).
import t, { type Test } from 'tap';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPolicy } from '../../../src/config/policy.js';
import type { Policy } from '../../../src/config/types.js';
import { AGENT_EVENTS, NriAgent } from '../../../src/daemon/nriagent.js';
import type { HookSpec } from '../../../src/hook/register.js';
import type { HostEnv } from '../../../src/host/env.js';
import { type Container, ContainerState, Event, NriPlugin, type PluginState, type PodSandbox } from '../../../src/nri/index.js';
import { Plugin } from '../../../src/nri/gen/api_pb.js';
import { Code, TtrpcError } from '../../../src/nri/wire.js';
import { StateStore } from '../../../src/state/records.js';
import { CG_ROOT, hookEnv } from '../../fixtures/hookenv.js';
import { FakeRuntime, type RuntimeConn, socketDir, within } from '../../fixtures/nriruntime.js';

const GiB = 1 << 30;
const POD_CG = 'kubepods/burstable/pod1';
const HOOK: HookSpec = { path: '/usr/local/bin/agentcgroup', args: ['agentcgroup', 'hook'], env: ['PATH=/usr/bin'], timeout: 30 };
const pod = (annotations: Record<string, string> = { 'io.agentcgroup.enable': 'true' }) => ({ id: 'pod1', name: 'agent', namespace: 'default', uid: 'u1', annotations });
/** Plain objects as the decoded messages Synchronize hands over (what the handler reads of them). */
const asPods = (...pods: ReturnType<typeof pod>[]) => pods as unknown as PodSandbox[];
const asContainers = (...cs: object[]) => cs as unknown as Container[];

interface Options {
  policy?: string;
  runtimeName?: string;
}

/** A node: containerd's NRI socket with the plugin registered on it, the kernel, /proc and our run dir. */
async function node(t: Test, o: Options = {}) {
  const h = hookEnv(t.testdir(), { policy: o.policy ?? '' });
  const policy: Policy = loadPolicy(h.policyFile);
  const store = new StateStore(policy.paths.runDir, policy.paths.callLogDir, policy.limits);
  const host: HostEnv = { procRoot: h.proc, cgroupRoot: CG_ROOT, fsOps: h.kernel, now: () => new Date() };
  for (const cg of ['kubepods', 'kubepods/burstable', POD_CG]) {
    h.kernel.mkdir(`${CG_ROOT}/${cg}`);
    h.kernel.writeFile(`${CG_ROOT}/${cg}/cgroup.subtree_control`, '+memory +cpu +pids');
  }
  const log: string[] = [];
  const synced: number[] = [];
  const resized: string[] = [];
  const agent = new NriAgent({
    policy,
    store,
    host,
    hook: () => HOOK,
    log: { info: (l) => log.push(l), warn: (l) => log.push(`WARN ${l}`) },
    sync: async () => void synced.push(1),
    resized: (id) => void resized.push(id),
  });
  const dir = socketDir();
  t.teardown(dir.cleanup);
  const rt = await FakeRuntime.listen(dir.path);
  t.teardown(() => rt.close());
  const ready = new Promise<void>((resolve) => {
    const onState = (s: PluginState) => s === 'ready' && resolve();
    const plugin = new NriPlugin(agent, { name: 'agentcgroup', index: '10', socketPath: dir.path, events: AGENT_EVENTS, failOpen: !policy.strict, onState, log: { info: () => {}, warn: (l) => log.push(`WARN ${l}`) } });
    t.teardown(() => plugin.stop());
    plugin.start();
  });
  const conn: RuntimeConn = await rt.next();
  await conn.registered;
  const cfg = await conn.call(Plugin.method.configure, { runtimeName: o.runtimeName ?? 'containerd', runtimeVersion: 'v2.1.9', registrationTimeout: 5000n, requestTimeout: 2000n });

  /** What runc create leaves for container `id`: C under the pod's cgroup with its init parked in it. */
  const created = (id: string, pid: number, memoryMax = GiB) => {
    const cg = `${POD_CG}/${id}`;
    h.kernel.mkdir(`${CG_ROOT}/${cg}`);
    h.kernel.spawnAt(cg, pid);
    h.kernel.writeFile(`${CG_ROOT}/${cg}/memory.max`, String(memoryMax));
    mkdirSync(join(h.proc, String(pid)), { recursive: true });
    writeFileSync(join(h.proc, String(pid), 'cgroup'), `0::/${cg}\n`);
    writeFileSync(join(h.proc, String(pid), 'oom_score_adj'), '-997');
    return cg;
  };
  /** A container as containerd's NRI adaptation reports it. */
  const ctr = (id: string, pid = 0, extra: Record<string, unknown> = {}) => ({
    id,
    podSandboxId: 'pod1',
    name: id,
    state: pid ? ContainerState.CONTAINER_CREATED : ContainerState.CONTAINER_UNKNOWN,
    annotations: {},
    pid,
    linux: { cgroupsPath: `/${POD_CG}/${id}` },
    ...extra,
  });
  const event = (e: Event, container: ReturnType<typeof ctr>, p = pod()) => conn.call(Plugin.method.stateChange, { event: e, pod: p, container });
  return { h, policy, store, agent, conn, cfg, ready, log, synced, resized, created, ctr, event, runDir: policy.paths.runDir };
}

const recordOf = (runDir: string, id: string) => join(runDir, 'containers', `${id}.json`);

t.test('subscribes to what it handles, and says which carve path the runtime gets', async (t) => {
  const n = await node(t);
  t.equal(n.cfg.events, (1 << (Event.CREATE_CONTAINER - 1)) | (1 << (Event.START_CONTAINER - 1)) | (1 << (Event.POST_UPDATE_CONTAINER - 1)) | (1 << (Event.STOP_CONTAINER - 1)) | (1 << (Event.REMOVE_CONTAINER - 1)));
  t.equal(n.agent.carving, 'daemon');
  t.match(n.log.join('\n'), /carved by the daemon at StartContainer \(nri\.carve auto\)/);
});

t.test('CreateContainer with the exec client installed: its mount too, over a placeholder; an unfit one is one warning, no mount', async (t) => {
  const n = await node(t);
  await n.conn.synchronize(asPods(pod()), []);
  await n.ready;
  const client = n.policy.paths.execClient!;
  writeFileSync(client, '#!/bin/sh\n', { mode: 0o755 });
  const made = await n.conn.call(Plugin.method.createContainer, { pod: pod(), container: n.ctr('c1') });
  t.same(made.adjust?.mounts.map((m) => ({ destination: m.destination, type: m.type, source: m.source, options: m.options })), [
    { destination: '/run/agentcgroup', type: 'bind', source: join(n.runDir, 'sock/c1'), options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] },
    { destination: '/run/agentcgroup/agentcgroup-exec', type: 'bind', source: client, options: ['bind', 'ro', 'nosuid', 'nodev'] },
  ]);
  t.ok(lstatSync(join(n.runDir, 'sock/c1/agentcgroup-exec')).isFile(), 'the placeholder is there before the runtime mounts');

  chmodSync(client, 0o775);
  const unfit = await n.conn.call(Plugin.method.createContainer, { pod: pod(), container: n.ctr('c2') });
  t.same(unfit.adjust?.mounts.map((m) => m.destination), ['/run/agentcgroup'], 'the socket directory only');
  t.notOk(existsSync(join(n.runDir, 'sock/c2/agentcgroup-exec')), 'no placeholder');
  t.match(n.log.filter((l) => l.includes('exec client')), [/^WARN container c2: the exec client .* has mode 0775: others than its owner may write it: containers get no agentcgroup-exec$/]);
});

t.test('containerd: CreateContainer returns the mount, StartContainer carves C with the init moved, before the answer', async (t) => {
  const n = await node(t);
  await n.conn.synchronize(asPods(pod()), []);
  await n.ready;
  const made = await n.conn.call(Plugin.method.createContainer, { pod: pod(), container: n.ctr('c1') });
  t.same(made.adjust?.mounts.map((m) => ({ destination: m.destination, type: m.type, source: m.source, options: m.options })), [
    { destination: '/run/agentcgroup', type: 'bind', source: join(n.runDir, 'sock/c1'), options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] },
  ]);
  t.notOk(made.adjust?.hooks, 'no hooks on the daemon path');
  t.ok(existsSync(join(n.runDir, 'sock/c1')), 'the socket directory exists before the runtime mounts it');
  t.equal(statSync(join(n.runDir, 'sock/c1')).mode & 0o7777, 0o755, 'searchable, as the shim makes it');

  // containerd: NewTask (runc create), then StartContainer to the plugins, then task.Start.
  const C = n.created('c1', 5001);
  t.notOk(existsSync(recordOf(n.runDir, 'c1')), 'nothing carved at CreateContainer: no C yet');
  await n.event(Event.START_CONTAINER, n.ctr('c1', 5001));
  t.equal(n.h.kernel.whereIs(5001), `${C}/agent`, 'the parked init is in the agent leaf when the answer comes');
  t.ok(n.h.kernel.isDir(`${CG_ROOT}/${C}/tools`), 'tools/ made');
  t.equal(n.h.kernel.readFile(`${CG_ROOT}/${C}/cgroup.subtree_control`).trim(), 'cpu memory pids');
  t.equal(n.h.kernel.readFile(`${CG_ROOT}/${C}/memory.high`).trim(), String(Math.floor((GiB * 0.9) / 4096) * 4096), 'the policy applied');
  const rec = JSON.parse(readFileSync(recordOf(n.runDir, 'c1'), 'utf8')) as Record<string, unknown>;
  t.match(rec, { id: 'c1', cgroup: C, pid: 5001, stage: 'nri-start', state: 'carved', oomScoreAdj: { engine: -997, tool: -497 } });
  t.ok(n.synced.length > 0, 'the registry is told at once');
  t.notMatch(n.h.kernel.log.join('\n'), /cgroup\.freeze/, 'no freeze: the init is parked');

  const before = n.h.kernel.snapshot();
  await n.event(Event.START_CONTAINER, n.ctr('c1', 5001));
  t.same(n.h.kernel.snapshot(), before, 'a repeated StartContainer changes nothing');
});

t.test('a container that does not opt in gets nothing and is not carved', async (t) => {
  const n = await node(t);
  const made = await n.conn.call(Plugin.method.createContainer, { pod: pod({}), container: n.ctr('c2') });
  t.same(made.adjust?.mounts ?? [], []);
  t.notOk(existsSync(join(n.runDir, 'sock/c2')));
  const C = n.created('c2', 5002);
  const before = n.h.kernel.snapshot();
  await n.event(Event.START_CONTAINER, n.ctr('c2', 5002), pod({}));
  t.same(n.h.kernel.snapshot(), before);
  t.equal(n.h.kernel.whereIs(5002), C);
});

t.test('another runtime: our hooks go into the adjustment and the daemon carves nothing at StartContainer', async (t) => {
  const n = await node(t, { runtimeName: 'some-runtime' });
  t.equal(n.agent.carving, 'hooks');
  const made = await n.conn.call(Plugin.method.createContainer, { pod: pod(), container: n.ctr('c3') });
  t.same(made.adjust?.hooks?.createRuntime.map((h) => [h.path, h.args, h.env, h.timeout?.value]), [[HOOK.path, ['agentcgroup', 'hook', 'createRuntime'], ['PATH=/usr/bin'], 30n]]);
  t.same(made.adjust?.hooks?.poststop.map((h) => h.args), [['agentcgroup', 'hook', 'poststop']]);
  t.equal(made.adjust?.mounts.length, 1, 'and the mount');
  const C = n.created('c3', 5003);
  await n.event(Event.START_CONTAINER, n.ctr('c3', 5003));
  t.equal(n.h.kernel.whereIs(5003), C, 'left to the hooks');
  const forced = await node(t, { runtimeName: 'containerd', policy: 'nri:\n  carve: hooks\n' });
  t.equal(forced.agent.carving, 'hooks', 'nri.carve: hooks holds for containerd too');
});

t.test('Synchronize: a running container that opted in is carved, frozen around the move, after the answer', async (t) => {
  const n = await node(t);
  const Ca = n.created('a', 6001);
  const Cb = n.created('b', 6002);
  const Cc = n.created('c', 6003);
  const running = (id: string, pid: number, annotations: Record<string, string> = {}) => ({ ...n.ctr(id, pid), state: ContainerState.CONTAINER_RUNNING, annotations });
  const other = { ...pod({}), id: 'pod2' };
  const answer = await n.conn.synchronize(asPods(pod(), other), asContainers(running('a', 6001), { ...running('b', 6002), podSandboxId: 'pod2' }, { ...running('c', 6003), state: ContainerState.CONTAINER_STOPPED }));
  t.same(answer.update, []);
  await n.ready;
  await n.agent.settled();
  t.equal(n.h.kernel.whereIs(6001), `${Ca}/agent`, 'the running opted-in container is carved');
  t.match(n.h.kernel.log.join('\n'), /write kubepods\/burstable\/pod1\/a\/cgroup\.freeze 1[\s\S]*cgroup\.procs 6001[\s\S]*write kubepods\/burstable\/pod1\/a\/cgroup\.freeze 0/);
  t.equal(n.h.kernel.readFile(`${CG_ROOT}/${Ca}/cgroup.events`), 'populated 1\nfrozen 0\n', 'thawed');
  t.equal(n.h.kernel.whereIs(6002), Cb, 'a pod that did not opt in: left alone');
  t.equal(n.h.kernel.whereIs(6003), Cc, 'a stopped container: left alone');
  t.match(n.log.join('\n'), /container a: carved \(NRI Synchronize/);
  t.match(n.log.join('\n'), /container a: created before the daemon was its runtime's NRI plugin, so it has no exec socket mount/);

  // A daemon restart: Synchronize again; the carved one is the registry's, nothing is redone.
  const before = n.h.kernel.snapshot();
  await n.conn.synchronize(asPods(pod()), asContainers(running('a', 6001)));
  await n.agent.settled();
  t.same(n.h.kernel.snapshot(), before);
});

t.test('StopContainer and RemoveContainer finalize as poststop does: a running call cut off, our state gone, once', async (t) => {
  const n = await node(t);
  await n.conn.call(Plugin.method.createContainer, { pod: pod(), container: n.ctr('c4') });
  const C = n.created('c4', 5004);
  await n.event(Event.START_CONTAINER, n.ctr('c4', 5004));
  mkdirSync(join(n.runDir, 'calls/c4'), { recursive: true });
  const call = { callId: 'pytest-1', name: 'pytest', argv: ['pytest'], cgroup: `/${C}/tools/pytest-1`, start: new Date(Date.now() - 1000).toISOString(), limits: { high: 1, max: 2 }, owner: 'exec' };
  writeFileSync(join(n.runDir, 'calls/c4/pytest-1.json'), JSON.stringify(call));
  // containerd: the task exits and is deleted (runc delete removes C), then StopContainer, then RemoveContainer.
  n.h.kernel.writeFile(`${CG_ROOT}/${C}/cgroup.kill`, '1');
  for (const sub of ['agent', 'tools']) n.h.kernel.rmdir(`${CG_ROOT}/${C}/${sub}`);
  n.h.kernel.rmdir(`${CG_ROOT}/${C}`);
  const stopped = await n.conn.call(Plugin.method.stopContainer, { pod: pod(), container: n.ctr('c4') });
  t.same(stopped.update, []);
  await n.agent.settled();
  t.notOk(existsSync(recordOf(n.runDir, 'c4')), 'record gone');
  t.notOk(existsSync(join(n.runDir, 'sock/c4')), 'socket directory gone');
  const lines = readFileSync(join(n.policy.paths.callLogDir, 'c4.jsonl'), 'utf8').trim().split('\n');
  t.equal(lines.length, 1);
  t.match(JSON.parse(lines[0]!), { id: 'pytest-1', outcome: 'cut-off' });
  const synced = n.synced.length;
  await n.event(Event.REMOVE_CONTAINER, n.ctr('c4'));
  await n.agent.settled();
  t.equal(n.synced.length, synced, 'nothing of ours left: RemoveContainer finds nothing to do');
  t.equal(readFileSync(join(n.policy.paths.callLogDir, 'c4.jsonl'), 'utf8').trim().split('\n').length, 1, 'the call is logged once');
});

t.test('RemoveContainer alone finalizes too, and removes an empty C the runtime left', async (t) => {
  const n = await node(t);
  await n.conn.call(Plugin.method.createContainer, { pod: pod(), container: n.ctr('c5') });
  const C = n.created('c5', 5005);
  await n.event(Event.START_CONTAINER, n.ctr('c5', 5005));
  n.h.kernel.writeFile(`${CG_ROOT}/${C}/cgroup.kill`, '1');
  await n.event(Event.REMOVE_CONTAINER, n.ctr('c5'));
  await n.agent.settled();
  t.notOk(existsSync(recordOf(n.runDir, 'c5')));
  t.notOk(n.h.kernel.isDir(`${CG_ROOT}/${C}`), 'agent/, tools/ and the emptied C removed');
  t.match(n.log.join('\n'), /container c5: removed \(NRI\)/);
});

t.test('PostUpdateContainer has the resizer look at once', async (t) => {
  const n = await node(t);
  await n.event(Event.POST_UPDATE_CONTAINER, n.ctr('c6', 5006));
  t.same(n.resized, ['c6']);
});

t.test('failures: no change and one line when not strict, the runtime gets an error when strict', async (t) => {
  for (const strict of [false, true]) {
    const n = await node(t, { policy: strict ? 'strict: true\n' : '' });
    const hostile = { ...pod(), annotations: { 'io.agentcgroup.enable': 'true', 'io.agentcgroup.tool.memory_max': '../../x' } };
    const badId = n.ctr('../../etc');
    // A pid whose cgroup is not the one the runtime configured: refused, nothing moved.
    const C = n.created('c7', 5007);
    const mismatched = { ...n.ctr('c7', 5007), linux: { cgroupsPath: `/${POD_CG}/other` } };
    const create = (p: ReturnType<typeof pod>, container: ReturnType<typeof n.ctr>) => async () => {
      const r = await n.conn.call(Plugin.method.createContainer, { pod: p, container });
      return r.adjust === undefined || (r.adjust.mounts.length === 0 && r.adjust.hooks === undefined);
    };
    const start = async () => {
      await n.event(Event.START_CONTAINER, mismatched);
      return true;
    };
    for (const [what, call] of [['hostile annotation', create(hostile, n.ctr('c8'))], ['hostile id', create(pod(), badId)], ['cgroup mismatch', start]] as const) {
      const outcome = await call().then((unchanged) => ({ unchanged }), (err: unknown) => ({ err }));
      if (strict) t.ok('err' in outcome && outcome.err instanceof TtrpcError && outcome.err.code === Code.UNKNOWN, `strict, ${what}: the runtime gets an error`);
      else t.same(outcome, { unchanged: true }, `not strict, ${what}: answered with no change`);
    }
    t.equal(n.h.kernel.whereIs(5007), C, 'the mismatched container was not touched');
    t.notOk(existsSync(join(n.runDir, 'sock/c8')), 'no socket directory for a refused container');
    const log = n.log.join('\n');
    t.match(log, /io\.agentcgroup\.tool\.memory_max: refused/);
    t.match(log, /container id: /);
    t.match(log, /process 5007 is in \/kubepods\/burstable\/pod1\/c7, not in the container's cgroup \/kubepods\/burstable\/pod1\/other/);
    t.ok(n.log.every((l) => !l.includes('\n')), 'every line one line');
  }
});

t.test('a refused annotation is said once, and the host value applies', async (t) => {
  const n = await node(t);
  const p = { ...pod(), annotations: { 'io.agentcgroup.enable': 'true', 'io.agentcgroup.priority': 'high' } };
  await n.conn.call(Plugin.method.createContainer, { pod: p, container: n.ctr('c9') });
  n.created('c9', 5009);
  await n.event(Event.START_CONTAINER, n.ctr('c9', 5009), p);
  t.equal(n.log.filter((l) => l.includes('io.agentcgroup.priority')).length, 1);
  t.match(JSON.parse(readFileSync(recordOf(n.runDir, 'c9'), 'utf8')), { priority: 1 });
});

t.test('the plugin reaches ready with this handler, within the runtime timeout', async (t) => {
  const n = await node(t);
  await within(Promise.all([n.conn.synchronize([], []), n.ready]), 'ready', 2000);
  t.pass('ready');
});
