/** The real trunk: a unix stream socket, dialed to the runtime's NRI socket (or, in tests, accepted). */
import { type Socket, createConnection } from 'node:net';
import type { Dial, Trunk, TrunkEvents } from './trunk.js';

const describe = (err: NodeJS.ErrnoException) => (err.code ? `${err.message} (${err.code})` : err.message);

export const dialUnix: Dial = (path, events) =>
  new Promise((resolve, reject) => {
    const socket: Socket = createConnection({ path });
    const refused = (err: NodeJS.ErrnoException) => reject(new Error(`cannot connect to ${path}: ${describe(err)}`));
    socket.once('error', refused);
    socket.once('connect', () => {
      socket.off('error', refused);
      resolve(attachTrunk(socket, events));
    });
  });

/** A connected socket as a trunk: its bytes and its end go to `events`, which never throw into Node. */
export function attachTrunk(socket: Socket, events: TrunkEvents): Trunk {
  let failure: string | undefined;
  socket.on('error', (err: NodeJS.ErrnoException) => {
    failure ??= describe(err);
  });
  socket.on('data', (chunk: Buffer) => {
    try {
      events.data(chunk);
    } catch (err) {
      // A bug of ours must cost this connection, not the daemon: a throw here would be uncaught.
      failure ??= `internal error: ${err instanceof Error ? err.message : String(err)}`;
      socket.destroy();
    }
  });
  socket.once('close', () => events.closed(failure ?? 'the peer closed the connection'));
  return {
    write(bytes) {
      if (!socket.destroyed) socket.write(bytes);
    },
    get unsent() {
      return socket.writableLength;
    },
    close() {
      socket.destroy();
    },
  };
}
