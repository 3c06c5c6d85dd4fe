/**
 * The edit the shim makes to a bundle's config.json before `create`: our two hook stages and the bind
 * mount of the container's exec socket directory. Pure: takes the parsed JSON, returns a new object and
 * what it added; every field we do not touch is kept as it was.
 */
import { AgentcgroupError } from '../errors.js';
import { isRecord } from '../oci/validate.js';

/** The marker of our hooks, as in hooks/*.json: argv[0] of every hook command we register. */
export const HOOK_ARGV0 = 'agentcgroup';

export interface HookSpec {
  path: string;
  /** The arguments before the stage: [HOOK_ARGV0, ...] ending in `hook`. */
  args: string[];
  env: string[];
  timeout: number;
}

export interface MountSpec {
  source: string;
  destination: string;
}

/** The two stages hooks/*.json registers: each one costs a program start per container. */
export const SHIM_STAGES = ['createRuntime', 'poststop'] as const;

/** A hook of ours, whoever added it (this shim, or an engine from hooks.d). */
export function isOurHook(hook: unknown): boolean {
  return isRecord(hook) && Array.isArray(hook.args) && hook.args[0] === HOOK_ARGV0 && hook.args.includes('hook');
}

export interface Injected {
  config: Record<string, unknown>;
  /** What was added, for messages and tests; empty when the config already had all of it. */
  added: string[];
}

function list(value: unknown, where: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new AgentcgroupError('bad-config', `${where} must be an array`);
  return value;
}

/**
 * `config` with our hooks at each stage that lacks one, and the socket mount unless something is
 * already mounted at its destination. Idempotent: injecting into the result adds nothing.
 */
export function injectShim(config: Record<string, unknown>, hook: HookSpec, mount: MountSpec): Injected {
  const added: string[] = [];
  if (config.hooks !== undefined && config.hooks !== null && !isRecord(config.hooks)) {
    throw new AgentcgroupError('bad-config', 'hooks must be an object');
  }
  const hooks: Record<string, unknown> = isRecord(config.hooks) ? { ...config.hooks } : {};
  for (const stage of SHIM_STAGES) {
    const present = list(hooks[stage], `hooks.${stage}`);
    if (present.some(isOurHook)) continue;
    hooks[stage] = [...present, { path: hook.path, args: [...hook.args, stage], env: hook.env, timeout: hook.timeout }];
    added.push(`hooks.${stage}`);
  }
  const mounts = list(config.mounts, 'mounts');
  const mounted = mounts.some((m) => isRecord(m) && m.destination === mount.destination);
  const out: Record<string, unknown> = { ...config, hooks };
  if (!mounted) {
    // Last, so it lands on top of any tmpfs the engine mounts over /run. Read-only: connecting to a
    // socket needs no write access to its file system, and the container can plant nothing here.
    const bind = { destination: mount.destination, type: 'bind', source: mount.source, options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] };
    out.mounts = [...mounts, bind];
    added.push(`mount ${mount.destination}`);
  }
  return { config: out, added };
}

// The gate of hooks/agentcgroup.json (its value regex), and the opt-out the hook itself honours.
const ON = /^(1|true|yes|on)$/;
const OFF = /^(0|false|no|off)$/i;
const ENABLE = 'io.agentcgroup.enable';
// containerd's CRI marks the pod's pause container so: it runs no agent, and carving it costs two hook
// starts per pod for nothing.
const CRI_CONTAINER_TYPE = 'io.kubernetes.cri.container-type';

/**
 * Whether the shim registers our hooks for a container: like the hooks.d JSON, only when annotated
 * io.agentcgroup.enable=true, or (policy shim.always) unless annotated off; never for a pod sandbox.
 */
export function wantsHooks(annotations: Readonly<Record<string, string>>, always: boolean): boolean {
  if (annotations[CRI_CONTAINER_TYPE] === 'sandbox') return false;
  const enable = annotations[ENABLE] ?? '';
  return always ? !OFF.test(enable) : ON.test(enable);
}
