import { closeSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const MARKER = 'daemon-absent-warned';

/**
 * The "daemon is not running" warning is said once, not on every container start: the first hook to
 * notice creates a marker (O_EXCL decides races); the daemon removes it when it starts.
 */
export function firstToNotice(runDir: string): boolean {
  try {
    closeSync(openSync(join(runDir, MARKER), 'wx', 0o600));
    return true;
  } catch {
    return false;
  }
}

export function clearNoticeMarker(runDir: string): void {
  rmSync(join(runDir, MARKER), { force: true });
}
