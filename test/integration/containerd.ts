/**
 * A real containerd of the guest's engines (2.x on the sid guest) for the containerd and CRI scenarios:
 * started on a config in a scratch directory, with our runtime table as install.sh adds it (the shim
 * itself: bundle.ts runtimeFront).
 */
import { type ChildProcess, spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Checker } from './harness.js';
import { CLI, eventually, exited, readOr, run } from './bundle.js';

export interface Containerd {
  child: ChildProcess;
  /** ctr on this containerd's socket. */
  ctr(...args: string[]): SpawnSyncReturns<string>;
  log: string;
  /** SIGTERM, then its exit code. */
  stop(): Promise<number | null>;
}

/** `install-config containerd add` on the file, as install.sh --containerd runs it on a node. */
export function addRuntime(c: Checker, config: string): boolean {
  const added = run(process.execPath, [CLI, 'install-config', 'containerd', 'add', config]);
  return c.equal(added.status, 0, 'install-config containerd add extends a version 3 config', added.stderr);
}

/** The config as containerd itself reads it (`config dump`, which starts nothing). */
export function dumpConfig(c: Checker, config: string): string {
  const dump = run('containerd', ['--config', config, 'config', 'dump']);
  c.equal(dump.status, 0, 'containerd config dump reads it', dump.stderr.slice(-1500));
  return dump.stdout;
}

/**
 * containerd on `config`, its log beside the config; resolves once ctr gets an answer on `sock`, or
 * with undefined (after a failed check) when it never does.
 */
export async function launchContainerd(c: Checker, config: string, sock: string): Promise<Containerd | undefined> {
  const log = join(dirname(config), 'containerd.log');
  const fd = openSync(log, 'a');
  const child = spawn('containerd', ['--config', config], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const ctr = (...args: string[]) => spawnSync('ctr', ['--address', sock, ...args], { encoding: 'utf8', timeout: 180_000 });
  const up = await eventually(() => ctr('version').status === 0, 180_000);
  if (!c.ok(up, 'containerd answers', readOr(log).slice(-2000))) {
    child.kill('SIGKILL');
    return undefined;
  }
  return {
    child,
    ctr,
    log,
    stop() {
      child.kill('SIGTERM');
      return exited(child);
    },
  };
}
