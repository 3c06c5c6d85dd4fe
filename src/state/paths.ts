import { join } from 'node:path';
import { AgentcgroupError } from '../errors.js';

/** sun_path holds 108 bytes with its NUL; libuv silently cuts a longer path and connects elsewhere. */
const MAX_SOCKET_PATH = 107;

/** The path itself, or one line saying why no unix socket can live there. */
export function checkSocketPath(path: string): string {
  const n = Buffer.byteLength(path);
  if (n > MAX_SOCKET_PATH) throw new AgentcgroupError('socket-path', `the socket path ${path} is ${n} bytes, longer than the ${MAX_SOCKET_PATH} a unix socket address holds: choose a shorter paths.run_dir`);
  return path;
}

/** Root-only: hooks and the CLI talk to the daemon here. */
export function adminSocketPath(runDir: string): string {
  return join(runDir, 'admin.sock');
}

/** One per container; its directory is what gets bind-mounted into the container as /run/agentcgroup. */
export function execSocketDir(runDir: string, id: string): string {
  return join(runDir, 'sock', id);
}

export function execSocketPath(runDir: string, id: string): string {
  return join(execSocketDir(runDir, id), 'exec.sock');
}
