import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentcgroupError } from '../errors.js';
import { parseMountinfo, parseUnifiedCgroupPath, pickCgroup2Mount } from './mountinfo.js';

/**
 * Where the cgroup2 hierarchy is mounted, as this process sees it. A host without one (pure cgroup v1)
 * cannot be carved; a hybrid host is refused later, when the controllers turn out to be missing.
 */
export function findCgroup2Root(procRoot: string): string {
  let text: string;
  try {
    text = readFileSync(join(procRoot, 'self/mountinfo'), 'utf8');
  } catch (err) {
    throw new AgentcgroupError('no-mountinfo', `cannot read ${procRoot}/self/mountinfo: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  const mount = pickCgroup2Mount(parseMountinfo(text));
  if (!mount) throw new AgentcgroupError('no-cgroup2', 'no cgroup2 filesystem is mounted (cgroup v1 host): agentcgroup needs the unified hierarchy');
  return mount.mountPoint;
}

/**
 * Checks a cgroup path taken from the kernel or our own state before it is joined to the cgroupfs
 * root: relative form, no `..`, no empty or control-character segments. Returns it without slashes
 * at either end; the root cgroup itself ('') is refused, since a container never lives there.
 */
export function checkCgroupPath(path: string, what: string): string {
  const rel = path.replace(/^\/+|\/+$/g, '');
  const segments = rel.split('/');
  if (rel === '' || segments.some((s) => s === '' || s === '.' || s === '..' || /[\0-\x1f]/.test(s))) {
    throw new AgentcgroupError('bad-cgroup-path', `${what}: ${JSON.stringify(path.slice(0, 200))} is not a usable cgroup path`);
  }
  return rel;
}

/** The cgroup (relative to the cgroup2 root) of a live process, read from the host's view of /proc. */
export function cgroupOfPid(procRoot: string, pid: number): string {
  let text: string;
  try {
    text = readFileSync(join(procRoot, String(pid), 'cgroup'), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' || code === 'ESRCH' ? 'no such process' : String(code ?? err);
    throw new AgentcgroupError('no-process', `cannot read the cgroup of container process ${pid}: ${why}`);
  }
  const path = parseUnifiedCgroupPath(text);
  if (path === undefined) throw new AgentcgroupError('no-cgroup2', `process ${pid} has no cgroup v2 membership (cgroup v1 host?)`);
  // On a hybrid host the runtime places containers in v1 hierarchies only, leaving them at the v2 root.
  if (path === '/') throw new AgentcgroupError('no-cgroup2', `container process ${pid} sits in the cgroup2 root: its cgroup is managed on cgroup v1 (hybrid host?)`);
  return checkCgroupPath(path, `cgroup of process ${pid}`);
}
