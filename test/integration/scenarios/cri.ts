// containerd driven through its CRI API the way kubelet drives it: 2.1 (sid's engines) in the 7.2
// guest, Debian 12's 1.6 (no NRI) in the 6.1 guest. The pod runs through the RuntimeClass handler `agentcgroup`, the runtime table install-config
// writes, with our shim as its BinaryName; the pod is annotated io.agentcgroup.enable=true, which the
// table's pod_annotations pass into each container's config.json. Images come from OCI archives made
// here (no registry in the guest): a static pause program and busybox. Checks: the pause container is
// left alone, the container is carved with its init in the agent leaf, ExecSync runs as a tool call,
// UpdateContainerResources changes C's memory.max and the daemon follows, and stopping and removing
// the container and the pod leave nothing of ours. (cri-nri.ts: the same node with NRI and no shim.)
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RUNTIME_NAME } from '../../../src/runtime/installconfig.js';
import { scenario } from '../harness.js';
import { CLI, readOr, run, scratch, startDaemon, eventually } from '../bundle.js';
import { criSockets } from '../cri/config.js';
import { MiB, cg, cgroupOf, closeScene, containerdMajor, left, pages, busyboxContainer, execIsToolCall, openScene, resized, podConfig, podRemoved, statusInfo, step } from '../cri/scene.js';

// The agent leaf gets a share of the session, so a resize shows in its memory.max.
const POLICY = 'agent:\n  memory_max: 95%\n';

scenario(async (c) => {
  // CRI's streaming server listens on 127.0.0.1, and the guest's init leaves even loopback down; the CRI
  // plugin stops serving when that listener fails.
  c.equal(run('ip', ['link', 'set', 'lo', 'up']).status, 0, 'loopback up');
  // containerd 1.x (Debian 12's 1.6 in the 6.1 guest) has no NRI: the daemon, told where 2.x would
  // have it, waits for a socket that never comes, and the shim serves the pod alone.
  const legacy = (containerdMajor() ?? 2) < 2;
  const s = scratch(POLICY);
  if (legacy) appendFileSync(s.policy, `nri:\n  socket: ${criSockets(join(s.dir, 'containerd')).nri}\n`);
  const daemon = await startDaemon(s);
  const scene = await openScene(c, s, daemon.child, { shim: true });
  if (!scene) return;
  const { started, cri } = scene;
  const { d, shim } = started;
  let podId: string | undefined;
  try {
    if (legacy) {
      const status = run(process.execPath, [CLI, 'status', '--policy', s.policy]);
      c.match(status.stdout, /NRI (waiting|off)/, 'containerd 1.x: the daemon is no NRI plugin, nothing to register with', `${status.stdout}${status.stderr}`);
    }
    const pod = podConfig(s, 'agent', { 'io.agentcgroup.enable': 'true' });
    const { parent } = pod;
    podId = (await step(c, d, 'RunPodSandbox through handler agentcgroup, host network', cri.runPodSandbox(pod.config, RUNTIME_NAME)))?.value;
    if (!podId) return;
    const pods = await cri.listPodSandbox({ id: podId });
    c.ok(pods.length === 1 && pods[0]?.state === 'SANDBOX_READY' && pods[0].runtime_handler === RUNTIME_NAME, 'the pod is ready, on handler agentcgroup', pods);
    const sandboxCg = `${parent.slice(1)}/${podId}`;
    c.ok(existsSync(cg(sandboxCg)), "the pause container's cgroup is where kubelet's parent puts it", sandboxCg);
    c.equal(readOr(join(s.runDir, 'containers', `${podId}.json`)), '', 'the pause container is not carved (no record), though the pod is annotated');
    c.ok(!existsSync(cg(sandboxCg, 'agent')), 'and its cgroup has no agent leaf');

    const share = join(s.dir, 'share');
    mkdirSync(share);
    writeFileSync(join(share, 'hello'), 'hello from the node\n');
    const config = busyboxContainer('agent', ['/bin/sleep', '3600'], { memory: 256 * MiB, mounts: [{ container_path: '/share', host_path: share, readonly: true }] });
    const id = (await step(c, d, 'CreateContainer', cri.createContainer(podId, config, pod.config)))?.value;
    if (!id) return;
    if (!(await step(c, d, 'StartContainer', cri.startContainer(id)))) return;

    const { state, info } = await statusInfo(cri, id);
    c.equal(state, 'CONTAINER_RUNNING', 'the container runs');
    c.equal(info.runtimeOptions?.binary_name, shim, 'it runs through our shim (the handler\'s BinaryName)', info.runtimeOptions);
    c.equal(info.runtimeSpec?.annotations?.['io.agentcgroup.enable'], 'true', "the pod's annotation reached the container's config (pod_annotations)", info.runtimeSpec?.annotations);
    const recordText = readOr(join(s.runDir, 'containers', `${id}.json`));
    if (!c.ok(recordText !== '', 'the container was carved (its record exists)', readOr(d.log).slice(-3000))) return;
    const C = (JSON.parse(recordText) as { cgroup: string }).cgroup.replace(/^\/+/, '');
    c.equal(C, `${parent.slice(1)}/${id}`, "C is the container's cgroup under the pod's parent");
    c.equal(info.pid !== undefined ? cgroupOf(info.pid) : '', `${C}/agent`, 'the container init (PID 1) sits in the agent leaf', info.pid);
    c.equal(readOr(cg(C, 'memory.max')).trim(), String(256 * MiB), "C's memory.max is the container's memory_limit_in_bytes");
    c.equal(readOr(cg(C, 'agent/memory.max')).trim(), pages(256 * MiB, 0.95), 'the agent leaf has 95% of it');
    const listed = await cri.listContainers({ pod_sandbox_id: podId });
    c.ok(listed.length === 1 && listed[0]?.id === id && listed[0].state === 'CONTAINER_RUNNING', 'ListContainers: the one container, running', listed);

    await execIsToolCall(c, s, d, cri, id);
    const mounted = (await step(c, d, 'ExecSync reads the mount', cri.execSync(id, ['cat', '/share/hello'])))?.value;
    c.equal(mounted?.stdout.toString(), 'hello from the node\n', "the container's mount holds the node's file");

    await resized(c, d, cri, daemon.log, id, C);

    // busybox sleep as PID 1 ignores SIGTERM: containerd sends SIGKILL after the timeout.
    if (await step(c, d, 'StopContainer', cri.stopContainer(id, 2))) {
      c.equal((await cri.containerStatus(id)).status?.state, 'CONTAINER_EXITED', 'the container has exited');
      c.ok(await eventually(() => !existsSync(cg(C)), 60_000), 'the container cgroup is gone', left(cg(parent.slice(1))));
      c.ok(await eventually(() => readOr(join(s.runDir, 'containers', `${id}.json`)) === '', 60_000), 'no record left');
      c.ok(await eventually(() => !existsSync(join(s.runDir, 'sock', id)), 60_000), 'no socket directory left');
    }
    await step(c, d, 'RemoveContainer', cri.removeContainer(id));
    c.equal((await cri.listContainers({ id })).length, 0, 'ListContainers no longer shows it');
    if (await podRemoved(c, s, started, cri, pod, podId)) podId = undefined;
  } finally {
    await closeScene(c, scene, podId, daemon.child);
  }
  c.ok(!/cannot start a call|unavailable/.test(readFileSync(daemon.log, 'utf8')), 'the daemon started every call', readFileSync(daemon.log, 'utf8').slice(-3000));
});
