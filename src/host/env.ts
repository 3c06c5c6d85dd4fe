import type { FsOps } from '../cgroup/cgroupfs.js';

/**
 * The host as commands see it. Defaults are the real paths; tests point these at fixture trees and a
 * simulated cgroupfs. Set from AGENTCGROUP_* variables, which come from the hook's own JSON (the
 * engine's), never from the container.
 */
export interface HostEnv {
  procRoot: string;
  /** The cgroup2 mount; discovered from mountinfo when unset. */
  cgroupRoot?: string;
  /** The host policy file; DEFAULT_POLICY_FILE (if present) when unset. */
  policyFile?: string;
  fsOps?: FsOps;
  now: () => Date;
}

/**
 * Every variable of its environment the hook reads (through hostEnvFrom): the shim passes these on to
 * the hooks it registers, and the daemon runs a hook for its native front with these as the front
 * had them. Each is a path.
 */
export const HOOK_ENV = ['AGENTCGROUP_POLICY', 'AGENTCGROUP_CGROUP_ROOT', 'AGENTCGROUP_PROC_ROOT'] as const;

export function hostEnvFrom(env: NodeJS.ProcessEnv, fsOps?: FsOps): HostEnv {
  const h: HostEnv = { procRoot: env.AGENTCGROUP_PROC_ROOT ?? '/proc', now: () => new Date() };
  if (fsOps) h.fsOps = fsOps;
  if (env.AGENTCGROUP_CGROUP_ROOT) h.cgroupRoot = env.AGENTCGROUP_CGROUP_ROOT;
  if (env.AGENTCGROUP_POLICY) h.policyFile = env.AGENTCGROUP_POLICY;
  return h;
}
