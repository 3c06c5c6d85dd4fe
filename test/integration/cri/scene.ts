/**
 * What the CRI scenarios share: a containerd 2.x on the CRI config in scratch (with or without our
 * runtime table), the two image archives made here and imported, kubelet's pod and container configs,
 * one check per CRI call, and the checks that a removed pod left nothing behind.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'smol-toml';
import { RUNTIME_NAME } from '../../../src/runtime/installconfig.js';
import type { Checker } from '../harness.js';
import { type Scratch, eventually, exited, readOr, run, runtimeFront } from '../bundle.js';
import { type Containerd, addRuntime, dumpConfig, launchContainerd } from '../containerd.js';
import { CriClient, envs } from './client.js';
import { criConfig, criPaths, criSockets, withShimBinary } from './config.js';
import { busyboxFiles, ociArchive, pauseFiles } from './image.js';
import type { ContainerConfig, Mount, PodSandboxConfig } from './types.js';
import { begunFromOutside, callRecords } from '../shapes.js';

export const MiB = 1 << 20;
export const cg = (rel: string, file = '') => join('/sys/fs/cgroup', rel, file);
/** A share of `bytes` as the carve writes it: whole pages. */
export const pages = (bytes: number, share: number) => String(Math.floor((bytes * share) / 4096) * 4096);
export const PAUSE = 'localhost/agentcgroup-it/pause:1';
export const BUSYBOX = 'localhost/agentcgroup-it/busybox:1';

export function cgroupOf(pid: number): string {
  return readOr(`/proc/${pid}/cgroup`).trim().replace(/^0::\//, '');
}

/** Whatever is in `dir`, or nothing when it is not there. */
export function left(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

export function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}

/**
 * Runs a CRI call as one check: `{ value }` (a call of no reply has one too), or undefined after a
 * failed check that carries the error and the end of containerd's log.
 */
export async function step<T>(c: Checker, d: Containerd, check: string, call: Promise<T>): Promise<{ value: T } | undefined> {
  try {
    const value = await call;
    c.ok(true, check);
    return { value };
  } catch (err) {
    c.ok(false, check, { error: err instanceof Error ? err.message : String(err), containerd: readOr(d.log).slice(-4000) });
    return undefined;
  }
}

/** A CRI call that must fail: its error message, or undefined after a failed check (it succeeded). */
export async function refused(c: Checker, check: string, call: Promise<unknown>): Promise<string | undefined> {
  try {
    const value = await call;
    c.ok(false, check, { succeeded: value });
    return undefined;
  } catch (err) {
    c.ok(true, check);
    return err instanceof Error ? err.message : String(err);
  }
}

export interface Images {
  pause: string;
  busybox: string;
}

/** The two image archives, from this guest's busybox and the pause program built here. */
export function writeImages(c: Checker, s: Scratch): Images | undefined {
  const pauseBin = join(s.dir, 'pause');
  const built = run('clang', ['-static', '-O2', '-o', pauseBin, resolve('test/integration/cri/pause.c')]);
  if (!c.equal(built.status, 0, 'the pause program builds', built.stderr)) return undefined;
  const pause = join(s.dir, 'pause.tar');
  writeFileSync(pause, ociArchive({ ref: PAUSE, files: pauseFiles(readFileSync(pauseBin)), config: { Entrypoint: ['/pause'] } }).archive);
  const busybox = join(s.dir, 'busybox.tar');
  const applets = ['sh', 'cat', 'sleep', 'ls', 'test'];
  writeFileSync(busybox, ociArchive({ ref: BUSYBOX, files: busyboxFiles(readFileSync('/bin/busybox'), applets), config: { Cmd: ['sh'], Env: ['PATH=/bin'] } }).archive);
  return { pause, busybox };
}

export interface Started {
  d: Containerd;
  /** The shim containerd runs for handler agentcgroup, when the runtime table was added. */
  shim: string | undefined;
  /** containerd's major version: 1 has no NRI here (1.6 has none, 1.7 has it off). */
  major: number;
  grpc: string;
  nri: string;
}

/**
 * containerd on the CRI config in `<scratch>/containerd`; with `shim`, install-config's runtime table
 * pointing at this checkout's shim (the RuntimeClass path), without it containerd as a node with NRI
 * has it: runc its only handler, nothing of ours in its config.
 */
export async function startContainerd(c: Checker, s: Scratch, opts: { shim: boolean }): Promise<Started | undefined> {
  const dir = join(s.dir, 'containerd');
  for (const sub of ['nri/plugins', 'nri/conf.d', 'cni/bin', 'cni/net.d']) mkdirSync(join(dir, sub), { recursive: true });
  const config = join(dir, 'config.toml');
  const major = containerdMajor();
  if (!c.ok(major !== undefined, 'containerd --version names its version', run('containerd', ['--version']))) return undefined;
  writeFileSync(config, criConfig({ dir, sandboxImage: PAUSE, containerdMajor: major ?? 2 }));
  let shim: string | undefined;
  if (opts.shim) {
    if (!addRuntime(c, config)) return undefined;
    shim = runtimeFront(s);
    writeFileSync(config, withShimBinary(readFileSync(config, 'utf8'), shim));
  }
  const dump = dumpConfig(c, config);
  let doc: unknown = {};
  try {
    doc = parse(dump);
  } catch {
    // shown in the checks' detail
  }
  const paths = criPaths(major ?? 2);
  const runtimes = at(doc, paths.runtimes) as Record<string, { options?: Record<string, unknown> }> | undefined;
  if (shim !== undefined) c.equal(runtimes?.[RUNTIME_NAME]?.options?.BinaryName, shim, 'containerd sees runtime agentcgroup with our shim as BinaryName', dump.slice(0, 4000));
  else c.equal(Object.keys(runtimes ?? {}).join(' '), 'runc', 'containerd has runc as its one runtime: nothing of ours in its config', dump.slice(0, 4000));
  c.equal(at(doc, paths.sandboxImage), PAUSE, 'the sandbox image is ours');
  const sockets = criSockets(dir);
  const d = await launchContainerd(c, config, sockets.grpc);
  return d === undefined ? undefined : { d, shim, major: major ?? 2, ...sockets };
}

/** containerd's major version, from `containerd --version` (`containerd <source> 1.6.20~ds1 <commit>`). */
export function containerdMajor(): number | undefined {
  const m = /^containerd \S+ v?(\d+)\./.exec(run('containerd', ['--version']).stdout);
  return m ? Number(m[1]) : undefined;
}

/** The value at `path` in a parsed document, or undefined. */
function at(doc: unknown, path: string[]): unknown {
  let v = doc;
  for (const k of path) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

/**
 * Checks that containerd serves CRI v1 and, 2.x, NRI on scratch's socket, and imports both images
 * into it.
 */
export async function ready(c: Checker, started: Started, cri: CriClient, images: Images): Promise<boolean> {
  const { d, nri, major } = started;
  const version = (await step(c, d, 'CRI Version answers', cri.version()))?.value;
  if (!version) return false;
  const serves = version.runtime_name === 'containerd' && version.runtime_api_version === 'v1' && new RegExp(`^v?${major}\\.`).test(version.runtime_version);
  c.ok(serves, `containerd ${major}.x serves CRI v1`, version);
  if (major >= 2) c.ok(await eventually(() => isSocket(nri), 30_000), 'NRI listens on its socket in scratch', readOr(d.log).slice(-1500));
  for (const [file, ref] of [[images.pause, PAUSE], [images.busybox, BUSYBOX]] as const) {
    const r = d.ctr('-n', 'k8s.io', 'images', 'import', '--snapshotter', 'native', file);
    c.equal(r.status, 0, `ctr images import ${ref}`, `${r.stdout}${r.stderr}`.slice(-1500));
    // CRI learns of an image from containerd's event: ImageStatus, as kubelet asks before any pull.
    const known = await eventually(() => cri.imageStatus(ref).then((i) => i !== null, () => false), 60_000);
    c.ok(known, `CRI knows ${ref}`, readOr(d.log).slice(-1500));
  }
  return true;
}

/** Host network for the pod and its containers: no CNI in the guest; a pid namespace per container. */
export const HOST_NETWORK = { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } as const;

export interface Pod {
  config: PodSandboxConfig;
  /** kubelet's cgroup parent for the pod, absolute (`/kubepods/burstable/pod<uid>`). */
  parent: string;
}

/** A pod as kubelet's cgroupfs driver shapes it: its cgroup under kubepods, each container's beside the pause's. */
export function podConfig(s: Scratch, name: string, annotations: Record<string, string>): Pod {
  const uid = randomUUID();
  const parent = `/kubepods/burstable/pod${uid}`;
  const logDir = join(s.dir, 'pods', uid);
  mkdirSync(logDir, { recursive: true });
  return {
    parent,
    config: {
      metadata: { name, uid, namespace: 'agentcgroup-it', attempt: 0 },
      // No hostname: a host-network pod has no UTS namespace to give one.
      log_directory: logDir,
      // Written by containerd, not copied from the guest's /etc/resolv.conf (the host's, maybe a dangling link).
      dns_config: { servers: ['127.0.0.1'] },
      labels: { 'io.kubernetes.pod.name': name, 'io.kubernetes.pod.uid': uid },
      annotations,
      linux: { cgroup_parent: parent, security_context: { namespace_options: HOST_NETWORK } },
    },
  };
}

/** A busybox container of `memory` bytes running `command`. */
export function busyboxContainer(name: string, command: string[], opts: { memory: number; mounts?: Mount[]; annotations?: Record<string, string> }): ContainerConfig {
  return {
    metadata: { name, attempt: 0 },
    image: { image: BUSYBOX },
    command: command.slice(0, 1),
    args: command.slice(1),
    working_dir: '/',
    envs: envs({ PATH: '/bin' }),
    mounts: opts.mounts ?? [],
    labels: { 'io.kubernetes.container.name': name },
    annotations: { 'io.kubernetes.container.restartCount': '0', ...opts.annotations },
    log_path: `${name}_0.log`,
    linux: { resources: { memory_limit_in_bytes: opts.memory }, security_context: { namespace_options: HOST_NETWORK } },
  };
}

/** What ContainerStatus's verbose info says of the container (containerd's own JSON). */
export interface StatusInfo {
  pid?: number;
  runtimeSpec?: { annotations?: Record<string, string>; hooks?: Record<string, { path: string; args?: string[] }[]>; mounts?: { destination: string; source?: string; options?: string[] }[] };
  runtimeOptions?: { binary_name?: string };
}

export async function statusInfo(cri: CriClient, id: string): Promise<{ state: string | undefined; info: StatusInfo }> {
  const status = await cri.containerStatus(id, true);
  return { state: status.status?.state, info: JSON.parse(status.info.info ?? '{}') as StatusInfo };
}

/**
 * What kubelet does once a pod is gone: removes its cgroup and the kubepods ones above it. False when
 * one of them would not go (something is left in it).
 */
export function kubeletCleanup(pod: Pod): boolean {
  return [pod.parent.slice(1), 'kubepods/burstable', 'kubepods'].every((rel) => {
    try {
      rmdirSync(cg(rel));
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * The pod is stopped and removed: containerd holds nothing of it, nothing of ours is left in the run
 * dir, and the pod's cgroup (and the kubepods ones above it, kubelet's to remove) is empty.
 */
export async function podRemoved(c: Checker, s: Scratch, started: Started, cri: CriClient, pod: Pod, podId: string): Promise<boolean> {
  const { d } = started;
  const sandboxCg = `${pod.parent.slice(1)}/${podId}`;
  if (await step(c, d, 'StopPodSandbox', cri.stopPodSandbox(podId))) {
    c.ok(await eventually(() => !existsSync(cg(sandboxCg)), 60_000), "the pause container's cgroup is gone");
  }
  const removedPod = (await step(c, d, 'RemovePodSandbox', cri.removePodSandbox(podId))) !== undefined;
  c.equal((await cri.listPodSandbox()).length, 0, 'ListPodSandbox shows no pod');
  c.equal((await cri.listContainers()).length, 0, 'ListContainers shows no container');
  const held = d.ctr('-n', 'k8s.io', 'containers', 'ls', '-q').stdout.trim() + d.ctr('-n', 'k8s.io', 'tasks', 'ls', '-q').stdout.trim();
  c.equal(held, '', 'containerd holds no container or task of the pod');
  const records = () => left(join(s.runDir, 'containers')).filter((f) => f.endsWith('.json'));
  c.ok(await eventually(() => records().length === 0, 60_000), 'no container record of ours left', records());
  c.ok(await eventually(() => left(join(s.runDir, 'sock')).length === 0, 60_000), 'no socket directory of ours left', left(join(s.runDir, 'sock')));
  c.ok(kubeletCleanup(pod), "the pod's cgroup is empty: kubelet's cleanup removes it", left(cg(pod.parent.slice(1))));
  return removedPod;
}

/**
 * In-place resize, as kubelet does it: containerd has the runtime update C; the daemon (log `daemonLog`)
 * recomputes our limits, the agent leaf being 95% of C.
 */
export async function resized(c: Checker, d: Containerd, cri: CriClient, daemonLog: string, id: string, C: string): Promise<void> {
  if (!(await step(c, d, 'UpdateContainerResources memory 512 MiB', cri.updateContainerResources(id, { memory_limit_in_bytes: 512 * MiB })))) return;
  c.equal(readOr(cg(C, 'memory.max')).trim(), String(512 * MiB), "C's memory.max is now 512 MiB");
  const status = await cri.containerStatus(id);
  c.equal(status.status?.resources?.linux?.memory_limit_in_bytes, 512 * MiB, 'ContainerStatus reports the new limit', status.status?.resources);
  const followed = await eventually(() => readOr(cg(C, 'agent/memory.max')).trim() === pages(512 * MiB, 0.95), 60_000);
  c.ok(followed, 'the agent leaf follows: 95% of the new size', { agent: readOr(cg(C, 'agent/memory.max')), daemon: readOr(daemonLog).slice(-1500) });
  c.match(readOr(daemonLog), new RegExp(`container ${id.slice(0, 12)}\\S*: memory\\.max 256M -> 512M`), 'the daemon says so in one line', readOr(daemonLog).slice(-1500));
}

/**
 * ExecSync (probes, kubectl exec) is runc exec from containerd's shim: a call begun from outside the
 * container, which the daemon places in a tools/ cgroup of its own (the container sees its own cgroup
 * namespace, rooted at C), its record naming a starter outside the container.
 */
export async function execIsToolCall(c: Checker, s: Scratch, d: Containerd, cri: CriClient, id: string, what = ''): Promise<void> {
  const exec = (await step(c, d, `ExecSync${what}`, cri.execSync(id, ['cat', '/proc/self/cgroup'])))?.value;
  c.equal(exec?.exit_code, 0, `ExecSync${what} exits 0`, exec?.stderr.toString());
  c.match(exec?.stdout.toString() ?? '', /^0::(\/\S+)?\/tools\/cat-[a-z0-9]+-[0-9a-f]{6}\n$/, `ExecSync${what} runs as a tool call of its own`);
  const fromOutside = begunFromOutside('cat');
  const records = await callRecords(s, id, fromOutside);
  c.ok(fromOutside(records), `its call record names a starter outside the container (the engine's shim)${what}`, records.map((k) => ({ name: k.name, argv: k.argv, startedBy: k.startedBy })));
}

export interface Scene {
  started: Started;
  cri: CriClient;
  images: Images;
}

/**
 * The images written, containerd started (`shim`: with our runtime table) and answering CRI, the
 * images imported: the scene, or undefined after a failed check (with the daemon, started before,
 * stopped).
 */
export async function openScene(c: Checker, s: Scratch, daemon: ChildProcess, opts: { shim: boolean }): Promise<Scene | undefined> {
  const images = writeImages(c, s);
  const started = images && (await startContainerd(c, s, opts));
  if (!images || !started) {
    daemon.kill('SIGTERM');
    return undefined;
  }
  const cri = new CriClient(started.grpc);
  if (await ready(c, started, cri, images)) return { started, cri, images };
  await closeScene(c, { started, cri, images }, undefined, daemon);
  return undefined;
}

/**
 * Ends the scene: a pod a failed check left behind is removed (containerd's shims outlive it), then the
 * daemon stops (first: containerd going away would have an NRI plugin try to connect again), then
 * containerd.
 */
export async function closeScene(c: Checker, scene: Scene, podId: string | undefined, daemon: ChildProcess): Promise<void> {
  const { cri, started } = scene;
  if (podId !== undefined) {
    await cri.stopPodSandbox(podId).catch(() => undefined);
    await cri.removePodSandbox(podId).catch(() => undefined);
  }
  cri.close();
  daemon.kill('SIGTERM');
  c.equal(await exited(daemon), 0, 'the daemon stops cleanly at the end');
  await started.d.stop();
}
