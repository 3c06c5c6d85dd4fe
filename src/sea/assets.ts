/**
 * Files the single executable carries inside itself (src/sea/sea-config.json's assets): koffi's native
 * module, the eBPF objects (the tracker, the sched_ext scheduler) and the native hook front (which
 * install.sh has `agentcgroup hook-front` write out). dlopen and libbpf want a real path, so an asset
 * is written out on first need into one private directory per process, removed again when the
 * process exits.
 */
import { accessSync, closeSync, constants, existsSync, mkdtempSync, openSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { AgentcgroupError } from '../errors.js';

type Sea = typeof import('node:sea');

/** node:sea when running as the single executable, else undefined. */
function sea(): Sea | undefined {
  // Not an import: node:sea only exists from Node 20.12, and plain require is missing in ESM (tests).
  const mod = process.getBuiltinModule?.('node:sea') as Sea | undefined;
  return mod?.isSea() ? mod : undefined;
}

export function inSea(): boolean {
  return sea() !== undefined;
}

/** An embedded asset's bytes; throws outside the single executable. */
export function seaAsset(name: string): Uint8Array {
  const s = sea();
  if (!s) throw new AgentcgroupError('sea-asset', `${name}: not running as the single executable`);
  return new Uint8Array(s.getAsset(name));
}

/**
 * Where the private directory may go, best first: tmpfs places root can write before the shared
 * /tmp. Any of them may be mounted noexec, which the probe in makePrivateDir catches.
 */
export function privateDirBases(env: NodeJS.ProcessEnv = process.env, tmp: string = tmpdir()): string[] {
  const xdg = env.XDG_RUNTIME_DIR;
  return [...new Set([...(xdg && isAbsolute(xdg) ? [xdg] : []), '/run', '/dev/shm', tmp])];
}

/**
 * A fresh 0700 directory under the first base that takes one and lets code run from it. The probe is
 * access(X_OK) on an empty 0700 file: the kernel refuses it on a noexec mount, where dlopen would
 * fail with nothing better than "failed to map segment from shared object".
 */
export function makePrivateDir(bases: readonly string[]): string {
  const refused: string[] = [];
  for (const base of bases) {
    let dir: string | undefined;
    try {
      dir = mkdtempSync(join(base, 'agentcgroup-sea-'));
      const probe = join(dir, 'probe');
      writeFileSync(probe, '', { mode: 0o700 });
      try {
        accessSync(probe, constants.X_OK);
      } catch {
        throw new Error('mounted noexec');
      }
      unlinkSync(probe);
      return dir;
    } catch (err) {
      if (dir) rmSync(dir, { recursive: true, force: true });
      refused.push(`${base}: ${(err as Error).message}`);
    }
  }
  throw new AgentcgroupError('sea-private-dir', `no directory to unpack this executable's native parts into (${refused.join('; ')})`);
}

let privateDir: string | undefined;

function ourPrivateDir(): string {
  if (privateDir === undefined) {
    const dir = makePrivateDir(privateDirBases());
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    privateDir = dir;
  }
  return privateDir;
}

const written = new Map<string, string>();

/**
 * The path of an embedded asset written out to the private directory, or undefined when not running
 * as the single executable (then the file beside the script is the one to use).
 */
export function seaAssetPath(name: string): string | undefined {
  if (!inSea()) return undefined;
  let path = written.get(name);
  if (path === undefined) {
    path = join(ourPrivateDir(), name);
    writeFileSync(path, seaAsset(name), { mode: 0o600, flag: 'wx' });
    written.set(name, path);
  }
  return path;
}

/**
 * Loads a native module from bytes and returns its exports. The file is unlinked before dlopen,
 * which opens it again through /proc/self/fd, so nothing is left on disk even if the load crashes.
 */
export function dlopenBytes(name: string, bytes: Uint8Array, dir: string = ourPrivateDir()): unknown {
  const path = join(dir, name);
  const fd = openSync(path, 'wx+', 0o700);
  let loaded = false;
  try {
    writeFileSync(fd, bytes);
    const byFd = `/proc/self/fd/${fd}`;
    // Without /proc (some chroots), dlopen takes the path and the unlink follows it.
    const viaProc = existsSync(byFd);
    if (viaProc) unlinkSync(path);
    const module = { exports: {} };
    try {
      process.dlopen(module, viaProc ? byFd : path);
      loaded = viaProc;
    } catch (err) {
      throw new AgentcgroupError('sea-dlopen', `cannot load ${name} unpacked from this executable into ${dir}: ${(err as Error).message}`, { cause: err });
    } finally {
      if (!viaProc) unlinkSync(path);
    }
    return module.exports;
  } finally {
    // A loaded module keeps its fd for good: glibc knows it by the name /proc/self/fd/N, and a later
    // dlopen of another file that reused N would silently get this module back.
    if (!loaded) closeSync(fd);
  }
}
