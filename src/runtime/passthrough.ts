/**
 * Runs the real runtime as if the shim had exec'd it (Node cannot execve in place): the same argv, our
 * stdio fds themselves (containerd hands fifos and pipes that the container keeps), the fds
 * --preserve-fds names, every catchable signal an engine sends forwarded, and its end reported as is.
 */
import { spawn, type StdioOptions } from 'node:child_process';
import { fstatSync } from 'node:fs';
import { AgentcgroupError } from '../errors.js';

/** Signals an engine may send a runtime (runc run forwards these to the container itself). */
export const FORWARDED: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

export type Ending = { code: number } | { signal: NodeJS.Signals };

function open(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

/** stdio for the child: fds 0-2 and 3..3+extra-1 at the same numbers; one we do not have stays closed. */
export function stdioFor(extra: number, isOpen: (fd: number) => boolean = open): StdioOptions {
  const fds = Array.from({ length: 3 + extra }, (_, fd) => fd);
  return fds.map((fd) => (fd < 3 ? 'inherit' : isOpen(fd) ? fd : 'ignore'));
}

export function runRuntime(runtime: string, argv: readonly string[], extraFds: number, env: NodeJS.ProcessEnv): Promise<Ending> {
  return new Promise((resolve, reject) => {
    const child = spawn(runtime, [...argv], { stdio: stdioFor(extraFds), env });
    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    for (const s of FORWARDED) process.on(s, forward);
    const done = () => FORWARDED.forEach((s) => process.off(s, forward));
    child.once('error', (err: NodeJS.ErrnoException) => {
      done();
      reject(new AgentcgroupError('spawn-failed', `cannot run ${runtime}: ${err.code ?? err.message}`));
    });
    child.once('exit', (code, signal) => {
      done();
      resolve(signal ? { signal } : { code: code ?? 1 });
    });
  });
}
