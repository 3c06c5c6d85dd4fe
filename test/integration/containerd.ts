/**
 * A real containerd of the guest's engines (2.x on the sid guest) for the containerd and CRI scenarios:
 * started on a config in a scratch directory, with our runtime table as install.sh adds it and our shim
 * under the name containerd's BinaryName gives it.
 */
import { type ChildProcess, spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, openSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Checker } from './harness.js';
import { CLI, type Scratch, eventually, exited, readOr, run } from './bundle.js';

export interface Containerd {
  child: ChildProcess;
  /** ctr on this containerd's socket. */
  ctr(...args: string[]): SpawnSyncReturns<string>;
  log: string;
  /** SIGTERM, then its exit code. */
  stop(): Promise<number | null>;
}

/** The shim under the name containerd's BinaryName gives it, running this checkout's build. */
export function shimBinary(s: Scratch): string {
  const linkDir = join(s.dir, 'cli');
  mkdirSync(linkDir);
  // The bundle's own name makes it behave as `agentcgroup runtime`, as the installed link does.
  symlinkSync(CLI, join(linkDir, 'agentcgroup-runtime'));
  const binDir = join(s.dir, 'bin');
  mkdirSync(binDir);
  const shim = join(binDir, 'agentcgroup-runtime');
  writeFileSync(shim, `#!/bin/sh\nAGENTCGROUP_POLICY=${s.policy} exec ${process.execPath} ${join(linkDir, 'agentcgroup-runtime')} "$@"\n`);
  chmodSync(shim, 0o755);
  return shim;
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
