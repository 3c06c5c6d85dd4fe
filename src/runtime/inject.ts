/**
 * The edit the shim makes to a bundle's config.json before `create`: our two hook stages and the bind
 * mounts of the container's exec socket directory and exec client (exec/socketmount.ts). Pure: takes the parsed JSON, returns a new object and
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
 * `config` with our hooks at each stage that lacks one, and the socket mounts (the directory, then
 * what goes inside it) unless something is already mounted at the directory's destination: the
 * client's mountpoint is in our directory, never in one of the container's own. Idempotent:
 * injecting into the result adds nothing.
 */
export function injectShim(config: Record<string, unknown>, hook: HookSpec, mounts: readonly BindMount[]): Injected {
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
  const present = list(config.mounts, 'mounts');
  const out: Record<string, unknown> = { ...config, hooks };
  const dir = mounts[0]?.destination;
  if (!present.some((m) => isRecord(m) && m.destination === dir)) {
    // Last, so they land on top of any tmpfs the engine mounts over /run.
    out.mounts = [...present, ...mounts.map((m) => ({ ...m, options: [...m.options] }))];
    added.push(...mounts.map((m) => `mount ${m.destination}`));
  }
  return { config: out, added };
}
