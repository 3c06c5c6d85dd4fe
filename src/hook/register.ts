/**
 * How our hook is registered in a container's OCI config: the two stages, the command and the marker
 * that tells our hooks from others. Pure; shared by the runtime shim (which writes config.json) and
 * the daemon as an NRI plugin (which hands the runtime the same hooks in its adjustment).
 */
import { isRecord } from '../oci/validate.js';

/** The marker of our hooks, as in hooks/*.json: argv[0] of every hook command we register. */
export const HOOK_ARGV0 = 'agentcgroup';

/**
 * The name that makes the single binary the runtime shim, whatever its arguments (containerd's
 * BinaryName takes none): never a hook's argv[0].
 */
export const SHIM_LINK_NAME = 'agentcgroup-runtime';

/** The two stages hooks/*.json registers: each one costs a program start per container. */
export const HOOK_STAGES = ['createRuntime', 'poststop'] as const;
export type HookStageName = (typeof HOOK_STAGES)[number];

export interface HookSpec {
  path: string;
  /** The arguments before the stage: [HOOK_ARGV0, ...] ending in `hook`. */
  args: string[];
  env: string[];
  timeout: number;
}

/** The OCI hook entry that runs our hook at `stage`. */
export function hookEntry(spec: HookSpec, stage: HookStageName): HookSpec {
  return { path: spec.path, args: [...spec.args, stage], env: [...spec.env], timeout: spec.timeout };
}

/** A hook of ours, whoever added it (the shim, the daemon, or an engine from hooks.d). */
export function isOurHook(hook: unknown): boolean {
  return isRecord(hook) && Array.isArray(hook.args) && hook.args[0] === HOOK_ARGV0 && hook.args.includes('hook');
}
