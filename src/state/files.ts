import { appendFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Our files hold container ids and command lines: root-only, always. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** Write-then-rename, so a reader (or a crash) never sees half a record. */
export function writeJsonAtomic(path: string, value: unknown): void {
  ensurePrivateDir(dirname(path));
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

/** One write() with O_APPEND: concurrent tool calls of one container never interleave their lines. */
export function appendJsonLine(path: string, value: unknown): void {
  ensurePrivateDir(dirname(path));
  appendFileSync(path, `${JSON.stringify(value)}\n`, { mode: 0o600 });
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
