/**
 * Reading and replacing a bundle's config file as root: refuse what is not a regular file of sane size
 * (a FIFO planted in a bundle must not hang the shim), and replace it whole, by rename, with its mode
 * and owner, so the runtime never reads half a file.
 */
import { closeSync, fchmodSync, fchownSync, openSync, renameSync, rmSync, type Stats, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { AgentcgroupError, describeError } from '../errors.js';
import { readConfigText } from '../oci/config.js';
import { printable } from '../text.js';

export interface ConfigFile {
  path: string;
  text: string;
  stat: Stats;
}

export function readConfigFile(path: string): ConfigFile {
  return { path, ...readConfigText(path) };
}

/** Replaces `file.path` with `text`: a temporary file beside it, then rename. */
export function replaceConfigFile(file: ConfigFile, text: string): void {
  writeFileAtomic(file.path, text, file.stat);
}

/**
 * Writes `path` whole: a temporary file beside it, renamed over it, with the mode and owner of `like`
 * (the file it replaces) or mode 0644 for a new file.
 */
export function writeFileAtomic(path: string, text: string, like?: Stats): void {
  const tmp = join(dirname(path), `.${basename(path)}.agentcgroup-${process.pid}`);
  const mode = like ? like.mode & 0o7777 : 0o644;
  try {
    const fd = openSync(tmp, 'wx', mode);
    try {
      writeFileSync(fd, text);
      // The umask narrowed the mode open() set; the owner is ours until chown (as root, the engine's).
      fchmodSync(fd, mode);
      if (like && process.geteuid?.() === 0) fchownSync(fd, like.uid, like.gid);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new AgentcgroupError('write-failed', `cannot write ${printable(path)}: ${describeError(err)}`);
  }
}
