/**
 * The edit the shim makes to a bundle's config.json before `create`: our two hook stages and the bind
 * mount of the container's exec socket directory. Pure: takes the parsed JSON, returns a new object and
 * what it added; every field we do not touch is kept as it was.
 */
import { AgentcgroupError } from '../errors.js';
import type { BindMount } from '../exec/socketmount.js';
import { HOOK_STAGES, type HookSpec, hookEntry, isOurHook } from '../hook/register.js';
import { isRecord } from '../oci/validate.js';

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
export function injectShim(config: Record<string, unknown>, hook: HookSpec, mount: BindMount): Injected {
  const added: string[] = [];
  if (config.hooks !== undefined && config.hooks !== null && !isRecord(config.hooks)) {
    throw new AgentcgroupError('bad-config', 'hooks must be an object');
  }
  const hooks: Record<string, unknown> = isRecord(config.hooks) ? { ...config.hooks } : {};
  for (const stage of HOOK_STAGES) {
    const present = list(hooks[stage], `hooks.${stage}`);
    if (present.some(isOurHook)) continue;
    hooks[stage] = [...present, hookEntry(hook, stage)];
    added.push(`hooks.${stage}`);
  }
  const mounts = list(config.mounts, 'mounts');
  const mounted = mounts.some((m) => isRecord(m) && m.destination === mount.destination);
  const out: Record<string, unknown> = { ...config, hooks };
  if (!mounted) {
    // Last, so it lands on top of any tmpfs the engine mounts over /run.
    out.mounts = [...mounts, { ...mount, options: [...mount.options] }];
    added.push(`mount ${mount.destination}`);
  }
  return { config: out, added };
}
