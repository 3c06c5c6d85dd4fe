import { Cgroupfs } from '../cgroup/cgroupfs.js';
import { findCgroup2Root } from '../cgroup/locate.js';
import { AgentcgroupError } from '../errors.js';
import { CONTROLLERS } from '../layout.js';
import type { HostEnv } from './env.js';

/**
 * Refuses, in one line, a host where no container can be carved: no cgroup2 mount (cgroup v1), or a
 * cgroup2 root without memory, cpu and pids (a hybrid host binds them to v1). Doctor says more.
 */
export function requireCarvableHost(host: HostEnv): void {
  const root = host.cgroupRoot ?? findCgroup2Root(host.procRoot);
  const offered = new Cgroupfs(root, host.fsOps).controllers('');
  const missing = CONTROLLERS.filter((c) => !offered.includes(c));
  if (missing.length > 0) {
    throw new AgentcgroupError(
      'unsupported-host',
      `the cgroup2 hierarchy at ${root} does not offer ${missing.join(', ')} (has: ${offered.join(' ') || 'none'}): they are bound to cgroup v1 (a hybrid host) or disabled; see agentcgroup doctor`,
    );
  }
}
