import { closeSync, constants, fchmodSync, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, type Stats, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { AgentcgroupError } from '../errors.js';
import { writeFileAtomic } from '../sys/atomicfile.js';
import { printable } from '../text.js';

/** What ensurePrivateDir makes of an existing directory: fine, fine once chmod'ed, or one line why not. */
export type DirVerdict = { ok: true; tighten: boolean } | { ok: false; problem: string };

/**
 * Pure: may a directory of ours (state of root's, holding container ids and command lines) be used as
 * it is found? Owned by root or by us (tests run unprivileged), and writable by nobody else.
 *
 * Group or world write is refused, not tightened: chmod would close the door but not remove what
 * may already have come in through it (a symlink named like a record, a planted socket), and we cannot
 * tell our entries from planted ones. Read and search bits only let others look: tightening those to
 * 0700 loses nothing (nothing of ours is reached through the run dir by anyone but root; exec sockets
 * are bind-mounted from below it) and keeps working the 0755 a kubelet or an older install made.
 */
export function judgeDir(st: { uid: number; mode: number }, euid: number): DirVerdict {
  if (st.uid !== 0 && st.uid !== euid) return { ok: false, problem: `owned by uid ${st.uid}, not root` };
  if ((st.mode & 0o022) !== 0) return { ok: false, problem: `mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')} lets others than its owner write in it` };
  return { ok: true, tighten: (st.mode & 0o077) !== 0 };
}

const OPEN_DIR = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

function lstatIfAny(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/** Checks one existing directory through a handle on it, so what is judged is what gets chmod'ed. */
function checkDir(path: string): void {
  const refuse = (problem: string) =>
    new AgentcgroupError('unsafe-dir', `${printable(path)}: ${problem}; agentcgroup keeps root-only state there: remove it and let agentcgroup make it (root, 0700)`);
  let fd: number;
  try {
    fd = openSync(path, OPEN_DIR);
  } catch (err) {
    // O_NOFOLLOW|O_DIRECTORY fails on a symlink and on a file alike (ENOTDIR, ELOOP): lstat tells which.
    const kind = lstatIfAny(path);
    if (kind?.isSymbolicLink()) throw refuse('a symlink, not a directory');
    if (kind && !kind.isDirectory()) throw refuse('not a directory');
    throw err;
  }
  try {
    const st = fstatSync(fd);
    const verdict = judgeDir(st, process.geteuid?.() ?? 0);
    if (!verdict.ok) throw refuse(verdict.problem);
    if (verdict.tighten) fchmodSync(fd, st.mode & 0o7700);
  } finally {
    closeSync(fd);
  }
}

/**
 * Makes `dir` (0700, as needed) and checks it and every directory from `root` down to it: each must be
 * a real directory (not a symlink), root's, and writable by nobody else (judgeDir). `root` is where our
 * state begins (the run dir, the call log dir); the directories above it are the operator's. Each is
 * checked before anything is made in it, so nothing is made through a symlink.
 */
export function ensurePrivateDir(dir: string, root: string = dir): void {
  const below = relative(root, dir);
  if (below.startsWith('..') || isAbsolute(below)) throw new Error(`${dir} is not under ${root}`);
  let path = root;
  makeChecked(path, true);
  for (const part of below.split(sep).filter((p) => p !== '')) {
    path = join(path, part);
    makeChecked(path, false);
  }
}

function makeChecked(path: string, parents: boolean): void {
  try {
    mkdirSync(path, { recursive: parents, mode: 0o700 });
  } catch (err) {
    // Something is there already: checkDir says whether it will do.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  checkDir(path);
}

/**
 * Write-then-rename (sys/atomicfile.ts), so a reader (or a crash) never sees half a file; 0600. Its
 * directory must be there already.
 */
export function replacePrivateFile(path: string, text: string): void {
  writeFileAtomic(path, text, { mode: 0o600 });
}

/** A record as one JSON line, in `path` under `root`, making (and checking) its directory first. */
export function writeJsonAtomic(path: string, value: unknown, root: string): void {
  ensurePrivateDir(dirname(path), root);
  replacePrivateFile(path, `${JSON.stringify(value)}\n`);
}

const APPEND = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW;

/**
 * One write() with O_APPEND: concurrent tool calls of one container never interleave their lines. A
 * symlink in a log's place is refused (ELOOP), not appended through. With `rotateAt`, a log this line
 * would take past that many bytes is first renamed to `<path>.1`, replacing the generation before: a
 * log grows to about twice `rotateAt` on disk, never more.
 */
/** Where a full log goes when appendJsonLine starts a fresh one (the one generation kept). */
export function rotatedLog(path: string): string {
  return `${path}.1`;
}

export function appendJsonLine(path: string, value: unknown, root: string, rotateAt?: number): void {
  ensurePrivateDir(dirname(path), root);
  const line = `${JSON.stringify(value)}\n`;
  const fd = openForAppend(path, Buffer.byteLength(line), rotateAt);
  try {
    writeFileSync(fd, line);
  } finally {
    closeSync(fd);
  }
}

/**
 * The log open for appending; when full, renamed to `.1` first and a fresh one opened. Several
 * processes append to one log (the daemon, `exec` on the host, poststop): a log no longer at its path
 * (another writer rotated it since our open) is not renamed again, being not ours to. Two writers can
 * still both pass that check before either renames, and then one generation is lost; lines never
 * interleave and the bound holds, where a lock would bring a lock file a crash can leave behind.
 */
function openForAppend(path: string, adding: number, rotateAt: number | undefined): number {
  const fd = openSync(path, APPEND, 0o600);
  if (rotateAt === undefined) return fd;
  let full: boolean;
  try {
    const st = fstatSync(fd);
    const now = lstatIfAny(path);
    full = st.size > 0 && st.size + adding > rotateAt && now?.ino === st.ino && now.dev === st.dev;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  if (!full) return fd;
  closeSync(fd);
  try {
    renameSync(path, rotatedLog(path));
  } catch (err) {
    // Rotated by another writer since the check.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return openSync(path, APPEND, 0o600);
}

export function readJsonIfExists(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return JSON.parse(text) as unknown;
}

export function removeIfExists(path: string): void {
  rmSync(path, { force: true, recursive: true });
}
