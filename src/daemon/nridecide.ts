/**
 * The daemon's decisions as an NRI plugin, pure: which containers are agentcgroup's, with which
 * policy, what the runtime adds to one at CreateContainer, and how it is carved. What the runtime
 * sends about a container is the container's to shape (its annotations, through the pod spec) and is
 * checked here before anything acts on it; the effects are in nriagent.ts.
 *
 * Only types come from src/nri/ here (erased at build): this module loads no protobuf.
 */
import { type Refusal, applyAnnotations, optsIn } from '../config/annotations.js';
import type { NriCarve, Policy } from '../config/types.js';
import { describeError } from '../errors.js';
import type { BindMount } from '../exec/socketmount.js';
import { HOOK_STAGES, type HookSpec, hookEntry } from '../hook/register.js';
import type { AdjustmentInit, Container, PodSandbox } from '../nri/index.js';
import { validateContainerId } from '../oci/ids.js';

/** How a container opted in is carved (policy nri.carve, resolved for the runtime). */
export type CarveMode = 'daemon' | 'hooks';

/**
 * Runtimes whose NRI StartContainer comes after the runtime's create (C made, init parked) and before
 * its start, and is waited for: containerd (internal/cri/server/container_start.go StartContainer:
 * container.NewTask, then nri.StartContainer, then task.Start) and CRI-O (server/container_start.go:
 * the runtime created the container at CreateContainer; nri.startContainer, then
 * Runtime().StartContainer). Whether a plugin's error stops the start is another matter: containerd
 * fails StartContainer with it, CRI-O logs it and starts the container all the same. Names as their
 * NRI adaptations register them.
 */
const ORDERED: ReadonlyMap<string, { refusesOnError: boolean }> = new Map([
  ['containerd', { refusesOnError: true }],
  ['cri-o', { refusesOnError: false }],
]);

/**
 * Pure: how a runtime's containers are carved when nri.carve is auto. `daemon` where the runtime asks
 * us between its create and its start, and (with strict) where our refusal stops the container;
 * otherwise our OCI hooks, whose failure under strict fails the runtime's create on every runtime.
 */
export function carveMode(setting: NriCarve, runtimeName: string | undefined, strict: boolean): CarveMode {
  if (setting !== 'auto') return setting;
  const ordered = runtimeName === undefined ? undefined : ORDERED.get(runtimeName);
  return ordered && (ordered.refusesOnError || !strict) ? 'daemon' : 'hooks';
}

/**
 * What the daemon reads of a container the runtime reported, checked: an id that names files of ours,
 * a pid within what Linux hands out, the cgroupsPath left for carve/container.ts to parse against the
 * init's own cgroup.
 */
export interface Seen {
  id: string;
  pid: number | undefined;
  cgroupsPath: string | undefined;
}

/** Linux's PID_MAX_LIMIT (4M): no pid is above it. */
const PID_MAX = 4 * 1024 * 1024;

/** Pure: the container as far as we act on it; throws bad-id for an id that could name another file. */
export function seen(c: Pick<Container, 'id' | 'pid' | 'linux'>): Seen {
  const pid = Number.isSafeInteger(c.pid) && c.pid > 0 && c.pid <= PID_MAX ? c.pid : undefined;
  const cgroupsPath = c.linux?.cgroupsPath ? c.linux.cgroupsPath : undefined;
  return { id: validateContainerId(c.id), pid, cgroupsPath };
}

export type OptIn =
  /** Not agentcgroup's: left alone. */
  | { kind: 'out' }
  /** Agentcgroup's, with the policy its annotations make of the host's and the ones the host refused. */
  | { kind: 'in'; policy: Policy; refused: Refusal[] }
  /** It asked to be carved, but with annotations that are errors (unknown, host-only, hostile). */
  | { kind: 'bad'; why: string };

/**
 * Pure: the annotations the container is judged by: the pod's (kubelet's pod annotations, which a
 * runtime passes into the container's own only where configured to) under the container's own, so a
 * container can say more, or say no, for itself. Only keys of ours and the CRI's container type are
 * kept: the rest is never read, however much of it there is.
 */
export function annotationsOf(pod: Pick<PodSandbox, 'annotations'>, container: Pick<Container, 'annotations'>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const source of [pod.annotations, container.annotations]) {
    for (const [k, v] of Object.entries(source)) if (k.startsWith('io.agentcgroup.') || k === 'io.kubernetes.cri.container-type') out[k] = v;
  }
  return out;
}

/** Pure: whether the container is agentcgroup's (the shim's gate, config/annotations.ts optsIn) and with which policy. */
export function decideOptIn(host: Policy, pod: Pick<PodSandbox, 'annotations'>, container: Pick<Container, 'annotations'>): OptIn {
  const annotations = annotationsOf(pod, container);
  if (!optsIn(annotations, host.shim.always)) return { kind: 'out' };
  try {
    return { kind: 'in', ...applyAnnotations(host, annotations) };
  } catch (err) {
    return { kind: 'bad', why: describeError(err) };
  }
}

/** Seconds, as an OCI hook's timeout and NRI's OptionalInt carry it. */
const nriHook = (h: HookSpec) => ({ path: h.path, args: h.args, env: h.env, timeout: { value: BigInt(h.timeout) } });

/**
 * Pure: what the runtime adds to an opted-in container at CreateContainer. The exec socket mounts, as
 * the shim adds them (exec/socketmount.ts: the directory, and the exec client in it when the host has
 * one), unless the container mounts something at the directory itself (the shim leaves that alone
 * too); with `hooks`, our createRuntime and poststop hooks, as the shim adds them (hook/register.ts),
 * which then carve and finalize it. The runtime orders mounts by depth, so the directory comes first.
 */
export function adjustment(container: Pick<Container, 'mounts'>, mounts: readonly BindMount[], hook: HookSpec | undefined): AdjustmentInit {
  const adjust: AdjustmentInit = {};
  const dir = mounts[0]?.destination;
  if (!container.mounts.some((m) => m.destination === dir)) adjust.mounts = mounts.map((m) => ({ ...m, options: [...m.options] }));
  // The OCI stage names are the fields of NRI's Hooks message (createRuntime, poststop) too.
  if (hook) adjust.hooks = Object.fromEntries(HOOK_STAGES.map((stage) => [stage, [nriHook(hookEntry(hook, stage))]]));
  return adjust;
}
