/**
 * Which real runtime the shim runs: `--runtime`, else $AGENTCGROUP_RUNTIME, else runc if present, else
 * crun. Never this program itself, however it is reached (a link named runc, a wrapper script): that
 * would be a loop of shims, each waiting for the next.
 */
import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { AgentcgroupError } from '../errors.js';
import { show } from '../oci/validate.js';

/** Set in the real runtime's environment: a shim that finds it was started by a shim. */
export const SHIM_MARK = 'AGENTCGROUP_SHIM_PID';

// Engines run the runtime with a sparse PATH (containerd's shim inherits containerd's): look in the
// usual places too.
const FALLBACK_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
const DEFAULTS = ['runc', 'crun'];

export interface SelectInput {
  option?: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** This program's own file (see selfFile), resolved. */
  self: string;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isSelf(path: string, self: string): boolean {
  try {
    return realpathSync(path) === self;
  } catch {
    return false;
  }
}

/** The first `name` on PATH (then the usual places) that is not this program. */
function onPath(name: string, env: NodeJS.ProcessEnv, self: string): string | undefined {
  const dirs = [...(env.PATH ?? '').split(delimiter).filter(isAbsolute), ...FALLBACK_PATH];
  return dirs.map((d) => join(d, name)).find((p) => executable(p) && !isSelf(p, self));
}

/** The real runtime's path; throws a one-line AgentcgroupError when there is none or it is us. */
export function selectRuntime(input: SelectInput): string {
  if (input.env[SHIM_MARK] !== undefined) {
    throw new AgentcgroupError('runtime-loop', `started by another agentcgroup runtime shim (pid ${show(input.env[SHIM_MARK])}): the real runtime leads back to agentcgroup; set --runtime or AGENTCGROUP_RUNTIME to runc or crun`);
  }
  const named = input.option ?? (input.env.AGENTCGROUP_RUNTIME || undefined);
  if (named !== undefined) {
    const how = input.option !== undefined ? '--runtime' : 'AGENTCGROUP_RUNTIME';
    const path = named.includes('/') ? resolve(input.cwd, named) : onPath(named, input.env, input.self);
    if (path !== undefined && isSelf(path, input.self)) throw new AgentcgroupError('runtime-loop', `${how} ${show(named, 200)} is agentcgroup itself: name the real runtime (runc or crun)`);
    if (path === undefined || !executable(path)) throw new AgentcgroupError('no-runtime', `${how} ${show(named, 200)}: no such executable (other than agentcgroup itself)`);
    return path;
  }
  for (const name of DEFAULTS) {
    const path = onPath(name, input.env, input.self);
    if (path !== undefined) return path;
  }
  throw new AgentcgroupError('no-runtime', 'found neither runc nor crun: install one, or name the real runtime with --runtime or AGENTCGROUP_RUNTIME');
}
