/**
 * A hostile container against the daemon itself, shared by the hostile-daemon, hostile-storm and
 * hostile-floods scenarios: containers running node from the host's /usr with their exec socket
 * mounted, and a daemon whose log the checks read.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Checker } from './harness.js';
import { type Scratch, exited, makeBundle, readOr, runDetached, scratch, startDaemon } from './bundle.js';

/** The ladder quick enough for a scenario: a call frozen 3 s is ended. */
export const POLICY = 'ladder:\n  recheck: 200ms\n  deadline: 3s\n  freeze_at: 50%\n  thaw_below: 40%\n  kill_at: 97%\n';

export interface Daemon {
  log: string;
  pid: number;
}

export type Part = (c: Checker, s: Scratch, daemon: Daemon) => Promise<void>;

/**
 * Runs the parts against one daemon. AGENTCGROUP_PARTS="fifo storm" runs only those (by hand, while
 * working on one); a daemon that logged an uncaught exception fails the scenario.
 */
export async function againstDaemon(c: Checker, parts: Record<string, Part>): Promise<void> {
  const s = scratch(POLICY);
  rmSync(s.runDir, { recursive: true, force: true });
  const daemon = await startDaemon(s);
  const only = (process.env.AGENTCGROUP_PARTS ?? '').split(/[\s,]+/).filter(Boolean);
  try {
    for (const [name, part] of Object.entries(parts)) if (only.length === 0 || only.includes(name)) await part(c, s, { log: daemon.log, pid: daemon.child.pid! });
  } finally {
    daemon.child.kill('SIGTERM');
    await exited(daemon.child);
  }
  c.ok(!readOr(daemon.log).includes('Uncaught'), 'the daemon logged no uncaught exception');
}

/**
 * A container running /bin/sleep (or `args`) with node from the host's /usr, its own exec-socket
 * directory mounted at /run/agentcgroup and the scratch directory read-only at /scratch.
 */
export function container(s: Scratch, id: string, opts: { cgroupsPath?: string; args?: string[]; annotations?: Record<string, string> } = {}): void {
  const sockDir = join(s.runDir, 'sock', id);
  mkdirSync(sockDir, { recursive: true, mode: 0o700 });
  const binds = [
    { source: sockDir, destination: '/run/agentcgroup' },
    { source: s.dir, destination: '/scratch', readonly: true },
  ];
  const bundle = makeBundle(s, id, { args: ['/bin/sleep', '900'], hostRoot: true, binds, ...opts });
  const started = runDetached('crun', bundle, id, join(s.dir, `${id}.log`));
  if (started.status !== 0) throw new Error(`${id} did not start: ${started.log}`);
}

/** The host pid of the process whose command line ends with `marker`, if one runs. */
export function hostPid(marker: string): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const argv = readOr(`/proc/${name}/cmdline`).split('\0').filter(Boolean);
    if (argv.at(-1) === marker) return Number(name);
  }
  return undefined;
}

/** Resident memory of a process, KiB. */
export function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readOr(`/proc/${pid}/status`))?.[1] ?? 0);
}
