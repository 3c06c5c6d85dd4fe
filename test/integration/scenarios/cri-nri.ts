// containerd 2.1 through its CRI API, as kubelet drives it, on a node where the daemon is the runtime's
// NRI plugin (sid's engines: the 7.2 guest only): no runtime table of ours, no RuntimeClass, the pods
// on containerd's default runc handler, opted in by the pod annotation io.agentcgroup.enable=true.
// The daemon starts before containerd (as at boot: nri.enable auto watches for the socket) and:
// - carves a container at NRI StartContainer, with no hook process, before its first instruction;
// - adds the exec socket mount at CreateContainer; ExecSync runs as a tool call; a resize is followed;
// - stopped and started again, re-synchronizes: a container started while it was down is carved
//   running (frozen around the move), and the one carved before is followed still;
// - under strict, a container whose annotations are errors is refused at CreateContainer;
// - with nri.carve hooks, carves through our OCI hooks that it added to the container instead;
// - finalizes each container at StopContainer/RemoveContainer, and the pod leaves nothing of ours.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONTAINER_EXEC_SOCKET } from '../../../src/exec/client.js';
import { CONTAINER_EXEC_CLIENT } from '../../../src/exec/socketmount.js';
import { type Checker, scenario } from '../harness.js';
import { type Scratch, eventually, exited, installExecClient, readOr, run, scratch, startDaemon } from '../bundle.js';
import type { CriClient } from '../cri/client.js';
import { criSockets } from '../cri/config.js';
import {
  MiB, type Pod, type Started, busyboxContainer, cg, cgroupOf, closeScene, execIsToolCall, left, openScene, pages, podConfig, podRemoved, refused,
  resized, statusInfo, step,
} from '../cri/scene.js';
import type { ContainerConfig } from '../cri/types.js';

const POLICY = 'agent:\n  memory_max: 95%\n';
/** The plugin's line once containerd has taken its registration (src/nri/plugin.ts). */
const REGISTERED = 'NRI: registered with "containerd"';

interface CarveRecord {
  cgroup: string;
  stage: string;
  state: string;
}

function record(s: Scratch, id: string): CarveRecord | undefined {
  const text = readOr(join(s.runDir, 'containers', `${id}.json`));
  return text === '' ? undefined : (JSON.parse(text) as CarveRecord);
}

/** The container's init pid, from containerd's verbose status. */
async function initPid(cri: CriClient, id: string): Promise<number | undefined> {
  return (await statusInfo(cri, id)).info.pid;
}

/** Creates and starts `config` in the pod: its id, or undefined after a failed check. */
async function launch(c: Checker, st: Started, cri: CriClient, podId: string, pod: Pod, config: ContainerConfig): Promise<string | undefined> {
  const name = config.metadata.name;
  const id = (await step(c, st.d, `CreateContainer ${name}`, cri.createContainer(podId, config, pod.config)))?.value;
  if (!id) return undefined;
  return (await step(c, st.d, `StartContainer ${name}`, cri.startContainer(id))) ? id : undefined;
}

/** Stops and removes the container; with a record of ours, checks the daemon (or our poststop hook) finalized it. */
async function removed(c: Checker, s: Scratch, st: Started, cri: CriClient, id: string, name: string): Promise<void> {
  const C = record(s, id)?.cgroup.replace(/^\/+/, '');
  await step(c, st.d, `StopContainer ${name}`, cri.stopContainer(id, 2));
  await step(c, st.d, `RemoveContainer ${name}`, cri.removeContainer(id));
  if (C !== undefined) c.ok(await eventually(() => !existsSync(cg(C)), 60_000), `${name}: its cgroup is gone`, left(cg(C)));
  c.ok(await eventually(() => record(s, id) === undefined && !existsSync(join(s.runDir, 'sock', id)), 60_000), `${name}: no record or socket directory of ours left`);
}

scenario(async (c) => {
  // CRI's streaming server listens on 127.0.0.1, and the guest's init leaves even loopback down.
  c.equal(run('ip', ['link', 'set', 'lo', 'up']).status, 0, 'loopback up');
  const s = scratch(POLICY);
  const client = installExecClient(s);
  const base = readFileSync(s.policy, 'utf8');
  const nriSocket = criSockets(join(s.dir, 'containerd')).nri;
  const policy = (extra: string) => writeFileSync(s.policy, `${base}nri:\n  enable: auto\n  socket: ${nriSocket}\n${extra}`);
  policy('');
  // Before containerd, as the unit orders it at boot: the socket's directory does not exist yet.
  let daemon = await startDaemon(s);
  const scene = await openScene(c, s, daemon.child, { shim: false });
  if (!scene) return;
  const { started, cri } = scene;
  const { d } = started;
  let podId: string | undefined;
  try {
    c.ok(await eventually(() => readOr(daemon.log).includes(REGISTERED), 60_000), 'the daemon saw the socket appear and registered as an NRI plugin', readOr(daemon.log).slice(-2000));
    c.match(readOr(daemon.log), /NRI: containers that opt in are carved by the daemon at StartContainer/, 'carving at StartContainer (nri.carve auto, containerd)');

    const pod = podConfig(s, 'agent', { 'io.agentcgroup.enable': 'true' });
    podId = (await step(c, d, 'RunPodSandbox on the default handler, host network', cri.runPodSandbox(pod.config, '')))?.value;
    if (!podId) return;
    c.equal(record(s, podId), undefined, 'the pause container is not carved, though the pod is annotated');
    c.ok(!existsSync(cg(`${pod.parent.slice(1)}/${podId}`, 'agent')), 'and its cgroup has no agent leaf');

    // The first thing the container does is write down its own cgroup.
    const out = join(s.dir, 'out');
    mkdirSync(out);
    const first = busyboxContainer('agent', ['/bin/sh', '-c', 'cat /proc/self/cgroup > /out/first; exec sleep 3600'], {
      memory: 256 * MiB,
      mounts: [{ container_path: '/out', host_path: out, readonly: false }],
    });
    const id = await launch(c, started, cri, podId, pod, first);
    if (!id) return;
    const { state, info } = await statusInfo(cri, id);
    c.equal(state, 'CONTAINER_RUNNING', 'the container runs');
    c.ok(!(info.runtimeOptions?.binary_name ?? '').includes('agentcgroup'), 'on runc, not our shim', info.runtimeOptions);
    c.ok(!JSON.stringify(info.runtimeSpec?.hooks ?? {}).includes('agentcgroup'), 'no hook of ours in its config: no hook process runs', info.runtimeSpec?.hooks);
    const mount = info.runtimeSpec?.mounts?.find((m) => m.destination === '/run/agentcgroup');
    c.equal(mount?.source, join(s.runDir, 'sock', id), 'NRI added the exec socket mount at CreateContainer', info.runtimeSpec?.mounts);
    const rec = record(s, id);
    if (!c.ok(rec !== undefined, 'the container was carved (its record exists)', readOr(daemon.log).slice(-3000))) return;
    c.equal(rec?.stage, 'nri-start', 'by the daemon at NRI StartContainer');
    const C = (rec?.cgroup ?? '').replace(/^\/+/, '');
    c.equal(C, `${pod.parent.slice(1)}/${id}`, "C is the container's cgroup under the pod's parent");
    c.equal(info.pid !== undefined ? cgroupOf(info.pid) : '', `${C}/agent`, 'the container init (PID 1) sits in the agent leaf', info.pid);
    c.ok(await eventually(() => readOr(join(out, 'first')) !== '', 30_000), 'the container wrote its first line');
    c.match(readOr(join(out, 'first')), /^0::(\/\S+)?\/agent\n$/, "its first instruction already ran in the agent leaf: carved before it started");
    c.match(readOr(daemon.log), new RegExp(`container ${id}: carved \\(NRI StartContainer, before its first instruction\\)`), 'the daemon says so in one line');
    c.equal(readOr(cg(C, 'memory.max')).trim(), String(256 * MiB), "C's memory.max is the container's memory_limit_in_bytes");
    c.equal(readOr(cg(C, 'agent/memory.max')).trim(), pages(256 * MiB, 0.95), 'the agent leaf has 95% of it');

    const sock = (await step(c, d, 'ExecSync test -S on the exec socket', cri.execSync(id, ['test', '-S', CONTAINER_EXEC_SOCKET])))?.value;
    c.equal(sock?.exit_code, 0, `the daemon's exec socket is at ${CONTAINER_EXEC_SOCKET} in the container`);
    // The exec client beside it, mounted by containerd as the daemon's adjustment said.
    const clientMount = info.runtimeSpec?.mounts?.find((m) => m.destination === CONTAINER_EXEC_CLIENT);
    c.equal(clientMount?.source, client, 'NRI added the exec client mount at CreateContainer', info.runtimeSpec?.mounts);
    c.ok(clientMount?.options?.includes('ro') === true && !clientMount.options.includes('noexec'), 'read-only, not noexec', clientMount?.options);
    const native = (await step(c, d, 'ExecSync agentcgroup-exec', cri.execSync(id, [CONTAINER_EXEC_CLIENT, '--name', 'cri-native', '--', 'cat', '/proc/self/cgroup'])))?.value;
    c.equal(native?.exit_code, 0, 'agentcgroup-exec in a busybox container exits 0', native?.stderr.toString());
    c.match(native?.stdout.toString() ?? '', /^0::(\/\S+)?\/tools\/[a-z0-9_.-]+\n$/, 'its command ran in a tool-call cgroup', native?.stdout.toString());
    c.ok(await eventually(() => readOr(join(s.callDir, `${id}.jsonl`)).includes('"name":"cri-native"'), 30_000), 'the call is logged under its name');
    await execIsToolCall(c, s, d, cri, id);
    await resized(c, d, cri, daemon.log, id, C);

    // The daemon stops (an upgrade): containerd drops the plugin and runs what it is given unchanged.
    daemon.child.kill('SIGTERM');
    c.equal(await exited(daemon.child), 0, 'the daemon stops cleanly');
    c.ok(record(s, id) !== undefined, "the carved container's record outlives the daemon");
    const late = await launch(c, started, cri, podId, pod, busyboxContainer('late', ['/bin/sleep', '3600'], { memory: 128 * MiB }));
    if (!late) return;
    const latePid = await initPid(cri, late);
    const lateC = `${pod.parent.slice(1)}/${late}`;
    c.equal(latePid !== undefined ? cgroupOf(latePid) : '', lateC, 'a container started while the daemon was down runs uncarved');

    // Started again, strict: Synchronize brings the running container in.
    policy('strict: true\n');
    daemon = await startDaemon(s, 'daemon-2.log');
    c.ok(await eventually(() => readOr(daemon.log).includes(REGISTERED), 60_000), 'the daemon registers again', readOr(daemon.log).slice(-2000));
    // The record is written first (state carving) and marked carved once every step is done: wait for
    // that, not for the record alone, or the init may still be on its way into the leaf.
    c.ok(await eventually(() => record(s, late)?.stage === 'nri-sync' && record(s, late)?.state === 'carved', 60_000), 'Synchronize: the late container is carved, running', readOr(daemon.log).slice(-2000));
    c.equal(latePid !== undefined ? cgroupOf(latePid) : '', `${lateC}/agent`, 'its init moved into the agent leaf');
    const noMount = `container ${late}: created before the daemon was its runtime's NRI plugin, so it has no exec socket mount`;
    c.ok(await eventually(() => readOr(daemon.log).includes(noMount), 30_000), 'the daemon says it has no exec socket mount', readOr(daemon.log).slice(-2000));
    c.equal(readOr(cg(lateC, 'cgroup.freeze')).trim(), '0', 'and it is not left frozen');
    await execIsToolCall(c, s, d, cri, id, ' after the restart');

    const bad = busyboxContainer('bad', ['/bin/sleep', '3600'], { memory: 128 * MiB, annotations: { 'io.agentcgroup.no-such-key': '1' } });
    const why = await refused(c, 'strict: CreateContainer of a container whose annotations are errors is refused', cri.createContainer(podId, bad, pod.config));
    c.match(why ?? '', /io\.agentcgroup\.no-such-key/, 'the error names the annotation', why);
    c.equal(left(join(s.runDir, 'sock')).sort().join(' '), [id, late].sort().join(' '), "it left no socket directory (the daemon serves one for each running container it follows)", left(join(s.runDir, 'sock')));

    // Started again, carving through our hooks (CRI-O's way under strict): added at CreateContainer.
    daemon.child.kill('SIGTERM');
    c.equal(await exited(daemon.child), 0, 'the daemon stops cleanly again');
    policy('  carve: hooks\n');
    daemon = await startDaemon(s, 'daemon-3.log');
    c.ok(await eventually(() => readOr(daemon.log).includes(REGISTERED), 60_000), 'the daemon registers with nri.carve hooks', readOr(daemon.log).slice(-2000));
    const hooked = await launch(c, started, cri, podId, pod, busyboxContainer('hooked', ['/bin/sleep', '3600'], { memory: 256 * MiB }));
    if (hooked) {
      const h = await statusInfo(cri, hooked);
      const hooks = h.info.runtimeSpec?.hooks ?? {};
      c.ok(['createRuntime', 'poststop'].every((stage) => JSON.stringify(hooks[stage] ?? []).includes('agentcgroup')), 'our createRuntime and poststop hooks are in its config', hooks);
      c.equal(record(s, hooked)?.stage, 'createRuntime', 'carved by our createRuntime hook');
      c.equal(h.info.pid !== undefined ? cgroupOf(h.info.pid) : '', `${pod.parent.slice(1)}/${hooked}/agent`, 'its init sits in the agent leaf');
      await removed(c, s, started, cri, hooked, 'hooked');
    }

    await removed(c, s, started, cri, late, 'late');
    await removed(c, s, started, cri, id, 'agent');
    // Whichever saw the end first, NRI's StopContainer or the registry's watch on C, finalized it; the other found nothing to do.
    c.match(readOr(daemon.log), new RegExp(`container ${id}(: stopped \\(NRI\\)|: removed \\(NRI\\)| ended)`), 'the daemon says it finalized the container', readOr(daemon.log).slice(-2000));
    if (await podRemoved(c, s, started, cri, pod, podId)) podId = undefined;
  } finally {
    await closeScene(c, scene, podId, daemon.child);
  }
  const logs = ['daemon.log', 'daemon-2.log', 'daemon-3.log'].map((f) => readOr(join(s.dir, f))).join('');
  c.ok(!/cannot start a call|unavailable|NRI: .*connecting again/.test(logs), 'the daemon started every call and never lost containerd', logs.slice(-3000));
});
