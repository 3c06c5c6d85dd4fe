/**
 * The in-container exec client (native/agentcgroup-exec.c) on the host: whether the file the policy
 * names (`paths.exec_client`) is fit to be bind-mounted into containers, and install.sh's helper that
 * writes it there from this program. The single executable carries it (src/sea/sea-config.json);
 * under node it is dist/agentcgroup-exec, beside the bundle, as the eBPF object is.
 */
import { lstatSync, mkdirSync, readFileSync, realpathSync, type Stats } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { AgentcgroupError, describeError } from '../errors.js';
import { inSea, seaAsset } from '../sea/assets.js';
import { writeFileAtomic } from '../sys/atomicfile.js';
import { printable } from '../text.js';

/** The file's name: in dist/, in the single executable's assets, on the host and in the container. */
export const EXEC_CLIENT_NAME = 'agentcgroup-exec';

/**
 * Pure: one line why a host file may not be mounted into containers as the exec client, or undefined.
 * What every container execs must be root's alone: a regular file (not a symlink someone could turn
 * elsewhere), owned by root (or by us: tests run unprivileged), writable by nobody else, executable.
 */
export function judgeExecClient(st: Pick<Stats, 'uid' | 'mode'> & { isFile(): boolean; isSymbolicLink(): boolean }, euid: number): string | undefined {
  if (st.isSymbolicLink()) return 'is a symlink';
  if (!st.isFile()) return 'is not a regular file';
  if (st.uid !== 0 && st.uid !== euid) return `is owned by uid ${st.uid}, not root`;
  const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
  if ((st.mode & 0o022) !== 0) return `has mode ${mode}: others than its owner may write it`;
  if ((st.mode & 0o111) === 0) return `has mode ${mode}: not executable`;
  return undefined;
}

/**
 * The exec client to mount into a container: its path when the policy names one that is there and
 * fit; none when off or not installed (silently: a host without it only lacks the convenience); one
 * warning line when it is there but unfit, which the caller says once and carries on without it.
 */
export function execClientSource(path: string | null, euid: number = process.geteuid?.() ?? 0): { path?: string; warning?: string } {
  if (path === null) return {};
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return {};
    return { warning: `the exec client ${printable(path)} cannot be looked at (${code ?? describeError(err)}): containers get no ${EXEC_CLIENT_NAME}` };
  }
  const why = judgeExecClient(st, euid);
  return why === undefined ? { path } : { warning: `the exec client ${printable(path)} ${why}: containers get no ${EXEC_CLIENT_NAME}` };
}

/** The client's bytes: the single executable's asset, else the file beside this script (dist/). */
export function execClientBytes(script: string | undefined = process.argv[1]): Uint8Array {
  if (inSea()) return seaAsset(EXEC_CLIENT_NAME);
  if (script === undefined) throw new AgentcgroupError('exec-client', 'cannot locate the exec client: no script path');
  let dir: string;
  try {
    dir = dirname(realpathSync(script));
  } catch {
    dir = dirname(resolve(script));
  }
  const path = join(dir, EXEC_CLIENT_NAME);
  try {
    return readFileSync(path);
  } catch (err) {
    throw new AgentcgroupError('exec-client', `the exec client ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? describeError(err)}): build it with npm run build`);
  }
}

/**
 * Writes the client to `dest` (absolute), 0755, by rename from a fresh file beside it: a container
 * that has the old one mounted keeps it whole, the next gets the new one. Its directory is made 0755
 * when missing.
 */
export function installExecClient(dest: string, bytes: Uint8Array): void {
  if (!dest.startsWith('/')) throw new AgentcgroupError('bad-args', `the exec client's path must be absolute, got ${printable(dest)}`);
  mkdirSync(dirname(dest), { recursive: true, mode: 0o755 });
  writeFileAtomic(dest, bytes, { mode: 0o755, durable: true });
}
