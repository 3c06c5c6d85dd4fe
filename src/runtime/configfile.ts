/**
 * Reading and replacing a bundle's config file as root: refuse what is not a regular file of sane size
 * (a FIFO planted in a bundle must not hang the shim), and replace it whole, by rename, with its mode
 * and owner, so the runtime never reads half a file.
 */
import type { Stats } from 'node:fs';
import { AgentcgroupError, describeError } from '../errors.js';
import { readConfigText } from '../oci/config.js';
import { type FileWrite, writeFileAtomic } from '../sys/atomicfile.js';
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
  writeConfigFile(file.path, text, file.stat);
}

/**
 * Pure: how a config is written (sys/atomicfile.ts): with the mode and owner of `like` (the file it
 * replaces) or mode 0644 for a new file, and durably: an engine must not find its config empty or half
 * there after a crash.
 */
export function configWrite(like: Stats | undefined, euid: number | undefined): FileWrite {
  return {
    mode: like ? like.mode & 0o7777 : 0o644,
    // Only root can give a file away; unprivileged (tests), the file is ours as the old one was.
    owner: like && euid === 0 ? { uid: like.uid, gid: like.gid } : undefined,
    durable: true,
  };
}

/** Writes `path` whole: a fresh temporary file beside it, flushed, renamed over it, the directory flushed. */
export function writeConfigFile(path: string, text: string, like?: Stats): void {
  try {
    writeFileAtomic(path, text, configWrite(like, process.geteuid?.()));
  } catch (err) {
    throw new AgentcgroupError('write-failed', `cannot write ${printable(path)}: ${describeError(err)}`);
  }
}
