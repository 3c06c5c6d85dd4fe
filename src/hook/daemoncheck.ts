import { createConnection } from 'node:net';

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
