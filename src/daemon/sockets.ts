import { chmodSync, closeSync, constants, fstatSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { type Server, type Socket, createServer } from 'node:net';
import { dirname } from 'node:path';
import { describeError } from '../errors.js';
import { checkSocketPath } from '../state/paths.js';
import { type PeerCred, peerCred } from '../sys/libc.js';
import { type LineLimits, type Reply, endWith, failure, serveConnection } from './lines.js';

export type LineHandler = (line: string, peer: PeerCred, reply: Reply, socket: Socket) => void;

export interface LineServerOptions extends Partial<LineLimits> {
  /** Connections open at once; one more gets one error line and is closed. */
  maxConnections?: number;
}

/**
 * Generous for root's own clients (the admin socket: one request per connection, answered at once);
 * an exec socket, open to a container, passes its own caps (policy `limits`) and says which of its
 * connections are held.
 */
const DEFAULTS = {
  maxConnections: 64,
  idleMs: 60_000,
  maxUnread: 1024 * 1024,
  log: (line: string) => process.stderr.write(`agentcgroup: warning: ${line}\n`),
};

function fdOf(socket: Socket): number | undefined {
  // Node keeps the accepted fd on the internal handle; it has no public SO_PEERCRED.
  return (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
}

/**
 * A unix socket server speaking newline-delimited JSON. Every connection's peer credentials are read
 * from the kernel before anything else; `admit` decides from them alone.
 */
export interface LineServer {
  path: string;
  /** Stops listening, drops every open connection and removes the socket file. */
  close(): Promise<void>;
}

/** O_PATH (Linux): a handle on the file itself, for fstat and for chmod through /proc/self/fd. */
const O_PATH = 0o10000000;

/**
 * An exec socket's directory is bind-mounted into its container, whose root may swap the socket for a
 * symlink between bind() and chmod(), and chmod follows symlinks: the mode is set through a handle on
 * the file at the path, and only if that file is a socket.
 */
export function chmodOwnSocket(path: string, mode: number): void {
  const fd = openSync(path, O_PATH | constants.O_NOFOLLOW);
  try {
    if (!fstatSync(fd).isSocket()) throw new Error(`${path} was replaced before its mode was set`);
    chmodSync(`/proc/self/fd/${fd}`, mode);
  } finally {
    closeSync(fd);
  }
}

/**
 * Serves `path`: each admitted connection runs under lines.ts (one request at a time, bounded
 * buffers, the idle timeout, a throwing handler closing only its connection), and at most
 * `maxConnections` are open at once, so a client can hold only so many fds and buffers of root's.
 * `onClose` is told of every admitted connection that ends, however it ends.
 */
export function serveLines(
  path: string,
  mode: number,
  admit: (peer: PeerCred, socket: Socket) => string | undefined,
  onLine: LineHandler,
  onClose: (socket: Socket) => void = () => {},
  options: LineServerOptions = {},
): Promise<LineServer> {
  checkSocketPath(path);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  rmSync(path, { force: true });
  const { maxConnections, ...limits } = { ...DEFAULTS, ...options };
  const log = (line: string) => limits.log(`${path}: ${line}`);
  const connections = new Set<Socket>();
  // Nothing a client does may throw out of here: an uncaught exception would end the daemon.
  const guarded = (what: string, fn: () => void, orElse = () => {}) => {
    try {
      fn();
    } catch (err) {
      log(`${what}: ${describeError(err)}`);
      orElse();
    }
  };
  const server: Server = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    if (connections.size >= maxConnections) {
      endWith(socket, failure(`too many connections (at most ${maxConnections})`), false);
      return;
    }
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    guarded('accepting a connection', () => {
      const fd = fdOf(socket);
      let peer: PeerCred;
      try {
        if (fd === undefined) throw new Error('no fd on the accepted socket');
        peer = peerCred(fd);
      } catch (err) {
        endWith(socket, failure(`cannot identify the caller: ${describeError(err)}`));
        return;
      }
      const refusal = admit(peer, socket);
      if (refusal) {
        endWith(socket, failure(refusal));
        return;
      }
      socket.on('close', () => guarded(`closing the connection of process ${peer.pid}`, () => onClose(socket)));
      serveConnection(socket, (line, reply) => onLine(line, peer, reply, socket), { ...limits, log: (line) => log(`process ${peer.pid}: ${line}`) });
    }, () => socket.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      try {
        chmodOwnSocket(path, mode);
      } catch (err) {
        server.close();
        reject(err);
        return;
      }
      server.off('error', reject);
      // A failed accept (EMFILE, ENFILE) is reported here; libuv keeps listening, so the daemon does too.
      server.on('error', (err) => log(describeError(err)));
      resolve({
        path,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            for (const c of connections) c.destroy();
            rmSync(path, { force: true });
          }),
      });
    });
  });
}
