/**
 * Whether another process sees the host as this one does: the same mount, pid, cgroup and user
 * namespaces and the same root directory. Then a path, a pid or a /proc/<pid>/cgroup line means the
 * same to both, and the daemon may do for that process what it would have done itself (the admin op
 * `hook`). The real /proc, always: this is about the processes themselves, not about a host tree.
 */
import { readlinkSync, statSync } from 'node:fs';

const NAMESPACES = ['mnt', 'pid', 'cgroup', 'user'] as const;

/** undefined when process `pid` shares our view of the host; else one line saying how it differs. */
export function viewDifference(pid: number, proc = '/proc'): string | undefined {
  // SO_PEERCRED reports 0 for a peer outside our pid namespace (in a sibling or parent one).
  if (!Number.isInteger(pid) || pid <= 0) return 'the caller is in a pid namespace this process cannot see into';
  try {
    for (const ns of NAMESPACES) {
      if (readlinkSync(`${proc}/${pid}/ns/${ns}`) !== readlinkSync(`${proc}/self/ns/${ns}`)) return `the caller is in another ${ns} namespace`;
    }
    const theirs = statSync(`${proc}/${pid}/root`, { bigint: true });
    const ours = statSync(`${proc}/self/root`, { bigint: true });
    if (theirs.dev !== ours.dev || theirs.ino !== ours.ino) return 'the caller has another root directory';
  } catch (err) {
    return `cannot compare the caller's namespaces with ours: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
  }
  return undefined;
}
