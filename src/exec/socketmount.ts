/**
 * A container's exec socket as the container sees it: the directory the daemon serves its socket in,
 * bind-mounted at /run/agentcgroup, and, when the host has it, the exec client (clientfile.ts)
 * bind-mounted over a placeholder in that directory, at /run/agentcgroup/agentcgroup-exec. One
 * definition for every path that adds them to a container: the runtime shim (into config.json) and
 * the daemon as an NRI plugin (into the runtime's adjustment).
 */
import { closeSync, constants, existsSync, lstatSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AgentcgroupError } from '../errors.js';
import { validateContainerId } from '../oci/ids.js';
import { ensurePrivateDir } from '../state/files.js';
import { execSocketDir } from '../state/paths.js';
import { printable } from '../text.js';
import { CONTAINER_EXEC_SOCKET } from './client.js';
import { EXEC_CLIENT_NAME } from './clientfile.js';

/** Where a container finds the exec client: beside its exec socket. */
export const CONTAINER_EXEC_CLIENT = join(dirname(CONTAINER_EXEC_SOCKET), EXEC_CLIENT_NAME);

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
 * holds one socket (and the placeholder the client is mounted over, which is not it).
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
 * The exec client's mount: the host's file, read-only (the container can neither write nor replace
 * it), nosuid and nodev, but not noexec: it is there to be run. Its mountpoint is the placeholder
 * makeExecSocketDir makes, since nothing can be made inside the read-only directory mount.
 */
export function execClientMount(client: string): BindMount {
  return { destination: CONTAINER_EXEC_CLIENT, type: 'bind', source: client, options: ['bind', 'ro', 'nosuid', 'nodev'] };
}

/** Pure: what a container gets, in mount order (the directory first, the client over it). */
export function execMounts(runDir: string, id: string, client: string | undefined): BindMount[] {
  const socket = execSocketMount(runDir, id);
  return client === undefined ? [socket] : [socket, execClientMount(client)];
}

const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Makes container `id`'s socket directory, which a bind mount needs before the runtime mounts (the
 * daemon only serves the socket once the container is carved), and with `client` the empty file the
 * client is mounted over. Returns the directory when made now, undefined when it was there already
 * (maybe a live container's: the caller must not remove it on failure).
 *
 * Nothing here follows a symlink: run dir and sock/ are checked root's and private as the daemon
 * checks them, an existing socket directory must be a directory itself, and the placeholder is made
 * with O_EXCL|O_NOFOLLOW or, found there, must be a regular file.
 */
export function makeExecSocketDir(runDir: string, id: string, client = false): string | undefined {
  const dir = execSocketDir(runDir, validateContainerId(id));
  // The run dir and sock/ checked as the daemon checks them: what gets bind-mounted must be ours.
  ensurePrivateDir(dirname(dir), runDir);
  let made: string | undefined;
  if (existsSync(dir)) {
    if (!lstatSync(dir).isDirectory()) throw new AgentcgroupError('unsafe-dir', `${printable(dir)} is not a directory: remove it`);
  } else {
    // Searchable: a container whose user is not root still reaches exec.sock (itself mode 0666).
    mkdirSync(dir, { mode: 0o755 });
    made = dir;
  }
  if (client) makePlaceholder(join(dir, EXEC_CLIENT_NAME));
  return made;
}

function makePlaceholder(path: string): void {
  try {
    closeSync(openSync(path, CREATE_NEW, 0o444));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    if (!lstatSync(path).isFile()) throw new AgentcgroupError('unsafe-dir', `${printable(path)} is not a regular file: remove it`);
  }
}
