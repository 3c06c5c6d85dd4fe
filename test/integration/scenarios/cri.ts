// containerd 2.1 driven through its CRI API the way kubelet drives it (sid's engines: the 7.2 guest
// only). The pod runs through the RuntimeClass handler `agentcgroup`, the runtime table install-config
// writes, with our shim as its BinaryName; the pod is annotated io.agentcgroup.enable=true, which the
// table's pod_annotations pass into each container's config.json. Images come from OCI archives made
// here (no registry in the guest): a static pause program and busybox. Checks: the pause container is
// left alone, the container is carved with its init in the agent leaf, ExecSync runs as a tool call,
// UpdateContainerResources changes C's memory.max and the daemon follows, and stopping and removing
// the container and the pod leave nothing of ours.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'smol-toml';
import { RUNTIME_NAME } from '../../../src/runtime/installconfig.js';
import { type Checker, scenario } from '../harness.js';
import { type Scratch, eventually, exited, readOr, run, scratch, startDaemon } from '../bundle.js';
import { type Containerd, addRuntime, dumpConfig, launchContainerd, shimBinary } from '../containerd.js';
import { CriClient, envs } from '../cri/client.js';
import { criConfig, criSockets, withShimBinary } from '../cri/config.js';
import { busyboxFiles, ociArchive, pauseFiles } from '../cri/image.js';
import type { ContainerConfig, PodSandboxConfig } from '../cri/types.js';
import { begunFromOutside, callRecords } from '../shapes.js';

const MiB = 1 << 20;
const cg = (rel: string, file = '') => join('/sys/fs/cgroup', rel, file);
/** A share of `bytes` as the carve writes it: whole pages. */
const pages = (bytes: number, share: number) => String(Math.floor((bytes * share) / 4096) * 4096);
// The agent leaf gets a share of the session, so a resize shows in its memory.max.
const POLICY = 'agent:\n  memory_max: 95%\n';
const PAUSE = 'localhost/agentcgroup-it/pause:1';
const BUSYBOX = 'localhost/agentcgroup-it/busybox:1';

function cgroupOf(pid: number): string {
  return readOr(`/proc/${pid}/cgroup`).trim().replace(/^0::\//, '');
}

/** Whatever is in `dir`, or nothing when it is not there. */
function left(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

/**
 * Runs a CRI call as one check: `{ value }` (a call of no reply has one too), or undefined after a
 * failed check that carries the error and the end of containerd's log.
 */
async function step<T>(c: Checker, d: Containerd, check: string, call: Promise<T>): Promise<{ value: T } | undefined> {
  try {
    const value = await call;
    c.ok(true, check);
    return { value };
  } catch (err) {
    c.ok(false, check, { error: err instanceof Error ? err.message : String(err), containerd: readOr(d.log).slice(-4000) });
    return undefined;
  }
}

/** The two image archives, from this guest's busybox and the pause program built here. */
function writeImages(c: Checker, s: Scratch): { pause: string; busybox: string } | undefined {
  const pauseBin = join(s.dir, 'pause');
  const built = run('clang', ['-static', '-O2', '-o', pauseBin, resolve('test/integration/cri/pause.c')]);
  if (!c.equal(built.status, 0, 'the pause program builds', built.stderr)) return undefined;
  const pause = join(s.dir, 'pause.tar');
  writeFileSync(pause, ociArchive({ ref: PAUSE, files: pauseFiles(readFileSync(pauseBin)), config: { Entrypoint: ['/pause'] } }).archive);
  const busybox = join(s.dir, 'busybox.tar');
  const applets = ['sh', 'cat', 'sleep', 'ls'];
  writeFileSync(busybox, ociArchive({ ref: BUSYBOX, files: busyboxFiles(readFileSync('/bin/busybox'), applets), config: { Cmd: ['sh'], Env: ['PATH=/bin'] } }).archive);
  return { pause, busybox };
}

/** containerd on the CRI config, with install-config's runtime table pointing at this checkout's shim. */
async function startContainerd(c: Checker, s: Scratch): Promise<{ d: Containerd; shim: string; nri: string } | undefined> {
  const dir = join(s.dir, 'containerd');
  for (const sub of ['nri/plugins', 'nri/conf.d', 'cni/bin', 'cni/net.d']) mkdirSync(join(dir, sub), { recursive: true });
  const config = join(dir, 'config.toml');
  writeFileSync(config, criConfig({ dir, sandboxImage: PAUSE }));
  if (!addRuntime(c, config)) return undefined;
  const shim = shimBinary(s);
  writeFileSync(config, withShimBinary(readFileSync(config, 'utf8'), shim));
  const dump = dumpConfig(c, config);
  let doc: { plugins?: Record<string, Record<string, unknown>> } = {};
  try {
    doc = parse(dump) as typeof doc;
  } catch {
    // shown in the checks' detail
  }
  const runtimes = (doc.plugins?.['io.containerd.cri.v1.runtime']?.containerd as { runtimes?: Record<string, { options?: Record<string, unknown> }> } | undefined)?.runtimes;
  c.equal(runtimes?.[RUNTIME_NAME]?.options?.BinaryName, shim, 'containerd sees runtime agentcgroup with our shim as BinaryName', dump.slice(0, 4000));
  c.equal((doc.plugins?.['io.containerd.cri.v1.images']?.pinned_images as { sandbox?: string } | undefined)?.sandbox, PAUSE, 'the sandbox image is ours');
  const sockets = criSockets(dir);
  const d = await launchContainerd(c, config, sockets.grpc);
  return d === undefined ? undefined : { d, shim, nri: sockets.nri };
}

function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}

scenario(async (c) => {
  // CRI's streaming server listens on 127.0.0.1, and the guest's init leaves even loopback down; the CRI
  // plugin stops serving when that listener fails.
  c.equal(run('ip', ['link', 'set', 'lo', 'up']).status, 0, 'loopback up');
  const s = scratch(POLICY);
  const images = writeImages(c, s);
  if (!images) return;
  const daemon = await startDaemon(s);
  const started = await startContainerd(c, s);
  if (!started) {
    daemon.child.kill('SIGTERM');
    return;
  }
  const { d, shim, nri } = started;
  const cri = new CriClient(criSockets(join(s.dir, 'containerd')).grpc);
  let podId: string | undefined;
  try {
    const version = (await step(c, d, 'CRI Version answers', cri.version()))?.value;
    if (!version) return;
    c.ok(version.runtime_name === 'containerd' && version.runtime_api_version === 'v1' && /^v?2\./.test(version.runtime_version), 'containerd 2.x serves CRI v1', version);
    c.ok(await eventually(() => isSocket(nri), 30_000), 'NRI listens on its socket in scratch', readOr(d.log).slice(-1500));

    for (const [file, ref] of [[images.pause, PAUSE], [images.busybox, BUSYBOX]] as const) {
      const r = d.ctr('-n', 'k8s.io', 'images', 'import', '--snapshotter', 'native', file);
      c.equal(r.status, 0, `ctr images import ${ref}`, `${r.stdout}${r.stderr}`.slice(-1500));
      // CRI learns of an image from containerd's event: ImageStatus, as kubelet asks before any pull.
      const known = await eventually(() => cri.imageStatus(ref).then((i) => i !== null, () => false), 60_000);
      c.ok(known, `CRI knows ${ref}`, readOr(d.log).slice(-1500));
    }

    const uid = randomUUID();
    // kubelet's cgroupfs layout: the pod's cgroup under kubepods, each container's beside the pause's.
    const parent = `/kubepods/burstable/pod${uid}`;
    const logDir = join(s.dir, 'pods', uid);
    mkdirSync(logDir, { recursive: true });
    const hostNetwork = { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } as const;
    const pod: PodSandboxConfig = {
      metadata: { name: 'agent', uid, namespace: 'agentcgroup-it', attempt: 0 },
      // No hostname: a host-network pod has no UTS namespace to give one.
      log_directory: logDir,
      // Written by containerd, not copied from the guest's /etc/resolv.conf (the host's, maybe a dangling link).
      dns_config: { servers: ['127.0.0.1'] },
      labels: { 'io.kubernetes.pod.name': 'agent', 'io.kubernetes.pod.uid': uid },
      annotations: { 'io.agentcgroup.enable': 'true' },
      linux: { cgroup_parent: parent, security_context: { namespace_options: hostNetwork } },
    };
    podId = (await step(c, d, 'RunPodSandbox through handler agentcgroup, host network', cri.runPodSandbox(pod, RUNTIME_NAME)))?.value;
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
    const config: ContainerConfig = {
      metadata: { name: 'agent', attempt: 0 },
      image: { image: BUSYBOX },
      command: ['/bin/sleep'],
      args: ['3600'],
      working_dir: '/',
      envs: envs({ PATH: '/bin' }),
      mounts: [{ container_path: '/share', host_path: share, readonly: true }],
      labels: { 'io.kubernetes.container.name': 'agent' },
      annotations: { 'io.kubernetes.container.restartCount': '0' },
      log_path: 'agent_0.log',
      linux: { resources: { memory_limit_in_bytes: 256 * MiB }, security_context: { namespace_options: hostNetwork } },
    };
    const id = (await step(c, d, 'CreateContainer', cri.createContainer(podId, config, pod)))?.value;
    if (!id) return;
    if (!(await step(c, d, 'StartContainer', cri.startContainer(id)))) return;

    const status = await cri.containerStatus(id, true);
    const info = JSON.parse(status.info.info ?? '{}') as { pid?: number; runtimeSpec?: { annotations?: Record<string, string> }; runtimeOptions?: { binary_name?: string } };
    c.equal(status.status?.state, 'CONTAINER_RUNNING', 'the container runs');
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

    // ExecSync (probes, kubectl exec) is runc exec from containerd's shim: a call begun from outside the
    // container, which the daemon places in a tools/ cgroup of its own (the container sees its own cgroup
    // namespace, rooted at C).
    const exec = (await step(c, d, 'ExecSync', cri.execSync(id, ['cat', '/proc/self/cgroup'])))?.value;
    c.equal(exec?.exit_code, 0, 'ExecSync exits 0', exec?.stderr.toString());
    c.match(exec?.stdout.toString() ?? '', /^0::(\/\S+)?\/tools\/cat-[a-z0-9]+-[0-9a-f]{6}\n$/, 'ExecSync runs as a tool call of its own');
    const fromOutside = begunFromOutside('cat');
    const records = await callRecords(s, id, fromOutside);
    c.ok(fromOutside(records), "its call record names a starter outside the container (the engine's shim)", records.map((k) => ({ name: k.name, argv: k.argv, startedBy: k.startedBy })));
    const mounted = (await step(c, d, 'ExecSync reads the mount', cri.execSync(id, ['cat', '/share/hello'])))?.value;
    c.equal(mounted?.stdout.toString(), 'hello from the node\n', "the container's mount holds the node's file");

    // In-place resize, as kubelet does it: containerd has runc update C; the daemon recomputes our limits.
    if (await step(c, d, 'UpdateContainerResources memory 512 MiB', cri.updateContainerResources(id, { memory_limit_in_bytes: 512 * MiB }))) {
      c.equal(readOr(cg(C, 'memory.max')).trim(), String(512 * MiB), "C's memory.max is now 512 MiB");
      const resized = await cri.containerStatus(id);
      c.equal(resized.status?.resources?.linux?.memory_limit_in_bytes, 512 * MiB, 'ContainerStatus reports the new limit', resized.status?.resources);
      const followed = await eventually(() => readOr(cg(C, 'agent/memory.max')).trim() === pages(512 * MiB, 0.95), 60_000);
      c.ok(followed, 'the agent leaf follows: 95% of the new size', { agent: readOr(cg(C, 'agent/memory.max')), daemon: readOr(daemon.log).slice(-1500) });
      c.match(readOr(daemon.log), new RegExp(`container ${id.slice(0, 12)}\\S*: memory\\.max 256M -> 512M`), 'the daemon says so in one line', readOr(daemon.log).slice(-1500));
    }

    // busybox sleep as PID 1 ignores SIGTERM: containerd sends SIGKILL after the timeout.
    if (await step(c, d, 'StopContainer', cri.stopContainer(id, 2))) {
      c.equal((await cri.containerStatus(id)).status?.state, 'CONTAINER_EXITED', 'the container has exited');
      c.ok(await eventually(() => !existsSync(cg(C)), 60_000), 'the container cgroup is gone', left(cg(parent.slice(1))));
      c.ok(await eventually(() => readOr(join(s.runDir, 'containers', `${id}.json`)) === '', 60_000), 'no record left');
      c.ok(await eventually(() => !existsSync(join(s.runDir, 'sock', id)), 60_000), 'no socket directory left');
    }
    await step(c, d, 'RemoveContainer', cri.removeContainer(id));
    c.equal((await cri.listContainers({ id })).length, 0, 'ListContainers no longer shows it');

    if (await step(c, d, 'StopPodSandbox', cri.stopPodSandbox(podId))) {
      c.ok(await eventually(() => !existsSync(cg(sandboxCg)), 60_000), "the pause container's cgroup is gone");
    }
    if (await step(c, d, 'RemovePodSandbox', cri.removePodSandbox(podId))) podId = undefined;
    c.equal((await cri.listPodSandbox()).length, 0, 'ListPodSandbox shows no pod');
    c.equal((await cri.listContainers()).length, 0, 'ListContainers shows no container');
    const held = d.ctr('-n', 'k8s.io', 'containers', 'ls', '-q').stdout.trim() + d.ctr('-n', 'k8s.io', 'tasks', 'ls', '-q').stdout.trim();
    c.equal(held, '', 'containerd holds no container or task of the pod');
    c.equal(left(join(s.runDir, 'containers')).filter((f) => f.endsWith('.json')).length, 0, 'no container record of ours left', left(join(s.runDir, 'containers')));
    c.equal(left(join(s.runDir, 'sock')).length, 0, 'no socket directory of ours left', left(join(s.runDir, 'sock')));
    // The pod's cgroup, and the kubepods ones above it, are kubelet's to remove, as it does once the pod is gone: empty now.
    const removed = [parent.slice(1), 'kubepods/burstable', 'kubepods'].every((rel) => {
      try {
        rmdirSync(cg(rel));
        return true;
      } catch {
        return false;
      }
    });
    c.ok(removed, "the pod's cgroup is empty: kubelet's cleanup removes it", left(cg(parent.slice(1))));
  } finally {
    if (podId !== undefined) {
      // A check failed midway: leave no pod behind for containerd's shutdown (its shims outlive it).
      await cri.stopPodSandbox(podId).catch(() => undefined);
      await cri.removePodSandbox(podId).catch(() => undefined);
    }
    cri.close();
    await d.stop();
    daemon.child.kill('SIGTERM');
    c.equal(await exited(daemon.child), 0, 'the daemon stops cleanly');
  }
  c.ok(!/cannot start a call|unavailable/.test(readFileSync(daemon.log, 'utf8')), 'the daemon started every call', readFileSync(daemon.log, 'utf8').slice(-3000));
});
