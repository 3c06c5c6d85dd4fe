import { chmodSync, closeSync, constants, fstatSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { type Server, type Socket, createServer } from 'node:net';
import { dirname } from 'node:path';
import { describeError } from '../errors.js';
import { checkSocketPath } from '../state/paths.js';
import { type PeerCred, peerCred } from '../sys/libc.js';

/** Longest request line we buffer from any client. */
const MAX_LINE = 64 * 1024;

export type LineHandler = (line: string, peer: PeerCred, reply: (msg: unknown) => void, socket: Socket) => void;

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

export function serveLines(
  path: string,
  mode: number,
  admit: (peer: PeerCred, socket: Socket) => string | undefined,
  onLine: LineHandler,
  onClose: (socket: Socket) => void = () => {},
): Promise<LineServer> {
  checkSocketPath(path);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  rmSync(path, { force: true });
  const connections = new Set<Socket>();
  const server: Server = createServer((socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    const reply = (msg: unknown) => socket.write(`${JSON.stringify(msg)}\n`);
    const fd = fdOf(socket);
    let peer: PeerCred;
    try {
      if (fd === undefined) throw new Error('no fd on the accepted socket');
      peer = peerCred(fd);
    } catch (err) {
      reply({ v: 1, ok: false, error: `cannot identify the caller: ${describeError(err)}` });
      socket.end();
      return;
    }
    const refusal = admit(peer, socket);
    if (refusal) {
      reply({ v: 1, ok: false, error: refusal });
      socket.end();
      return;
    }
    let buf = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE && !buf.includes('\n')) {
        reply({ v: 1, ok: false, error: 'request too long' });
        socket.destroy();
        return;
      }
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        onLine(line, peer, reply, socket);
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => onClose(socket));
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
