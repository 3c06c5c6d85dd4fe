/**
 * Writing files as root into directories others may have a hand in (a bundle, an engine's config
 * directory; our run dir, should it ever be shared): a temporary file gets a name nobody can predict,
 * is created by this call alone (O_CREAT|O_EXCL) and never through a symlink (O_NOFOLLOW), and is
 * renamed over the target, so a reader sees the old file or the new one whole and nothing planted
 * beside the target is ever written through.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, fchownSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface FileWrite {
  /** Permission bits, set with fchmod: the umask does not narrow them. */
  mode: number;
  /** uid and gid to give the file (takes root): those of the file it replaces. */
  owner?: { uid: number; gid: number } | undefined;
  /**
   * On disk before it takes its name, and the name on disk after: for files a crash must not leave
   * empty or lost (an engine's config). Run state on tmpfs does without: fsync is no use there.
   */
  durable?: boolean;
}

const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** `dir`/`prefix` + 16 random hex digits + `suffix`: a name no other process can plant first. */
export function freshPath(dir: string, prefix: string, suffix = ''): string {
  return join(dir, `${prefix}${randomBytes(8).toString('hex')}${suffix}`);
}

/** Creates `path`, which must not exist (a symlink there is refused, not followed), holding `data`. */
export function writeNewFile(path: string, data: string | Uint8Array, how: FileWrite): void {
  // 0600 until the data is in: nobody reads a partial file through a wider mode.
  const fd = openSync(path, CREATE_NEW, 0o600);
  try {
    writeFileSync(fd, data);
    // chown before chmod: chown clears set-id bits the mode may ask for.
    if (how.owner) fchownSync(fd, how.owner.uid, how.owner.gid);
    fchmodSync(fd, how.mode);
    if (how.durable) fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(path, { force: true });
    throw err;
  }
  closeSync(fd);
}

/** Replaces (or creates) `path` with `data`: a fresh temporary file beside it, renamed over it. */
export function writeFileAtomic(path: string, data: string | Uint8Array, how: FileWrite): void {
  const dir = dirname(path);
  const tmp = freshPath(dir, `.${basename(path)}.`, '.tmp');
  writeNewFile(tmp, data, how);
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  if (how.durable) fsyncDir(dir);
}

/** The rename is an entry in the directory: on disk only once the directory is flushed. */
function fsyncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
