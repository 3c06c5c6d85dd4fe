import { join } from 'node:path';

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
