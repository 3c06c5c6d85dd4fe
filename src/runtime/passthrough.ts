/**
 * Runs the real runtime as if the shim had exec'd it (Node cannot execve in place): the same argv, our
 * stdio fds themselves (containerd hands fifos and pipes that the container keeps), the fds
 * --preserve-fds names, every catchable signal an engine sends forwarded, and its end reported as is.
 */
import type { StdioOptions } from 'node:child_process';
import { fstatSync } from 'node:fs';
import { spawnForwarding } from '../sys/forward.js';

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

/**
 * `passesSignals`: the runtime stays in front of the container and passes signals on to it (a
 * foreground run or exec); each signal then waits until the runtime has taken signals over, since one
 * delivered before ends the runtime instead (sys/sigready.ts). Other verbs get them at once, as an
 * exec'd runtime would.
 */
export async function runRuntime(runtime: string, argv: readonly string[], extraFds: number, env: NodeJS.ProcessEnv, passesSignals = false): Promise<Ending> {
  // 'exit', not 'close': the container may keep our stdio open long after the runtime is gone.
  const { exit, signal } = await spawnForwarding(runtime, argv, { stdio: stdioFor(extraFds), env }, runtime, 'exit', undefined, passesSignals ? {} : undefined);
  return signal ? { signal } : { code: exit ?? 1 };
}
