import { closeSync, openSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';

const MARKER = 'daemon-absent-warned';

/** True when something accepts connections on the admin socket (the daemon's liveness, nothing more). */
export function daemonReachable(socketPath: string, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(socketPath);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

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
