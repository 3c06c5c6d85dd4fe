import type { Socket } from 'node:net';
import { DEFAULT_POLICY } from '../config/policy.js';
import type { Policy } from '../config/types.js';
import type { LineServerOptions } from './sockets.js';

/** The host policy's caps on one container's exec socket. */
export type ExecCaps = Pick<Policy['limits'], 'execConnections'>;

/**
 * `agentcgroup exec` sends `begin` as soon as it has connected and `end` as soon as its command has
 * ended, and closes after the reply. Silent this long with no call open, a connection is not one of
 * ours at work and only holds one of the container's places. Long, since a silent connection costs
 * no one but its own container, while a client starting on a slow or loaded machine must not be cut.
 */
export const EXEC_IDLE_MS = 10 * 60_000;

/** Exec replies are a line of a few hundred bytes: a client leaving this much unread does not read. */
const EXEC_MAX_UNREAD = 64 * 1024;

/**
 * How a container's exec socket is served. `inCall` says whether a connection has a call open: its
 * client then waits, silent, for as long as the call runs, and that is not idleness.
 */
export function execSocketOptions(caps: ExecCaps | undefined, inCall: (socket: Socket) => boolean, log: (line: string) => void): LineServerOptions {
  return {
    maxConnections: (caps ?? DEFAULT_POLICY.limits).execConnections,
    idleMs: EXEC_IDLE_MS,
    held: inCall,
    maxUnread: EXEC_MAX_UNREAD,
    log,
  };
}
