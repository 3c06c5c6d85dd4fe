/**
 * A container's exec socket as the container sees it: the directory the daemon serves its socket in,
 * bind-mounted at /run/agentcgroup. One definition for every path that adds it to a container: the
 * runtime shim (into config.json) and the daemon as an NRI plugin (into the runtime's adjustment).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { validateContainerId } from '../oci/ids.js';
import { ensurePrivateDir } from '../state/files.js';
import { execSocketDir } from '../state/paths.js';
import { CONTAINER_EXEC_SOCKET } from './client.js';

/** An OCI bind mount, its fields in config.json's order (the shim's edit keeps the file as an engine writes it). */
export interface BindMount {
  destination: string;
  type: 'bind';
  source: string;
  options: string[];
}

/**
 * The mount of container `id`'s socket directory. Read-only: connecting to a socket needs no write
 * access to its file system, and the container can plant nothing there. nosuid, nodev, noexec: it
 * holds one socket.
 */
export function execSocketMount(runDir: string, id: string): BindMount {
  return {
    destination: dirname(CONTAINER_EXEC_SOCKET),
    type: 'bind',
    source: execSocketDir(runDir, validateContainerId(id)),
    options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'],
  };
}

/**
 * Makes container `id`'s socket directory, which a bind mount needs before the runtime mounts (the
 * daemon only serves the socket once the container is carved). Returns it when made now, undefined
 * when it was there already (maybe a live container's: the caller must not remove it on failure).
 */
export function makeExecSocketDir(runDir: string, id: string): string | undefined {
  const dir = execSocketDir(runDir, validateContainerId(id));
  // The run dir and sock/ checked as the daemon checks them: what gets bind-mounted must be ours.
  ensurePrivateDir(dirname(dir), runDir);
  if (existsSync(dir)) return undefined;
  // Searchable: a container whose user is not root still reaches exec.sock (itself mode 0666).
  mkdirSync(dir, { mode: 0o755 });
  return dir;
}
