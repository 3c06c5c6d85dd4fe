/**
 * One connection's discipline on the daemon's newline-delimited JSON sockets. The client may be a
 * hostile container, and whatever it controls must not grow what root holds for it: a line is
 * buffered up to a bound, one request is handled at a time, replies it leaves unread are bounded, a
 * connection silent for too long is closed, and a handler that throws costs the connection, never the
 * daemon.
 */
import type { Socket } from 'node:net';
import { describeError } from '../errors.js';

/** Longest request line buffered from any client. */
export const MAX_LINE = 64 * 1024;

export type Reply = (msg: unknown) => void;

export interface LineLimits {
  /**
   * A connection with no traffic this long is closed, unless `held` says it is silent on purpose.
   * Without it, a connection may stay silent for good.
   */
  idleMs?: number;
  /**
   * Whether a silent connection is waiting on purpose: an exec client stays silent for the whole of
   * its tool call, which may take hours. Asked each time the idle time passes.
   */
  held?: (socket: Socket) => boolean;
  /** Bytes of earlier replies a client may leave unread when another is due; beyond, it is dropped. */
  maxUnread: number;
  /** What went wrong on the connection, one line each. */
  log: (line: string) => void;
}

/** The failure reply of both protocols served this way (exec/protocol.ts, daemon/admin.ts). */
export const failure = (error: string) => ({ v: 1, ok: false, error }) as const;

const isFailure = (msg: unknown): boolean => typeof msg === 'object' && msg !== null && (msg as { ok?: unknown }).ok === false;

/** How long a connection given its last message still reads (and drops) what its client sends. */
const LINGER_MS = 10_000;

/**
 * A last message, then the connection goes: written if the kernel takes it now, never waited for.
 * Closed at once with the client's request still unread, an AF_UNIX socket resets the connection and
 * the client reads ECONNRESET or EPIPE instead of our line; so unless `linger` is off (a connection
 * past the cap, which must not hold a descriptor on the client's terms), what the client still sends
 * is read and dropped until it closes its end, for LINGER_MS at most. A lingering connection still
 * counts against its server's cap.
 */
export function endWith(socket: Socket, msg: unknown, linger = true): void {
  socket.end(`${JSON.stringify(msg)}\n`);
  // What the kernel did not take at once would wait for a client that does not read.
  if (!linger || socket.writableLength > 0) {
    socket.destroy();
    return;
  }
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.once('end', () => socket.destroy());
  socket.resume();
}

/**
 * Reads request lines from `socket` and hands each to `onLine` with the connection's reply function.
 *
 * One request at a time: after a line, nothing more is read or parsed until a reply is sent, so a
 * client that pipelines gets its requests handled in order while what it sent ahead waits in the
 * kernel, not in our memory. A reply answers the oldest line still without one, whichever call of
 * `onLine` it was handed to (the exec server answers an `end` through the reply it kept at `begin`).
 * A handler that never replies leaves its connection to the idle timeout.
 *
 * A failure reply ends the connection once written: both protocols are one request and one reply at
 * a time, so a client that sent something wrong gets its answer and no session to keep probing in.
 */
export function serveConnection(socket: Socket, onLine: (line: string, reply: Reply) => void, limits: LineLimits): void {
  let buf = '';
  /** A line was handed to the handler and has no reply yet. */
  let awaiting = false;
  let pumping = false;
  let closing = false;

  const drop = (why: string) => {
    closing = true;
    limits.log(`dropped a connection: ${why}`);
    socket.destroy();
  };

  const close = (msg: unknown) => {
    if (closing) return;
    closing = true;
    endWith(socket, msg);
  };

  const reply: Reply = (msg) => {
    if (closing || socket.destroyed) return;
    if (isFailure(msg)) close(msg);
    // Our replies are bounded; what piles up behind them is the client's choice not to read.
    else if (socket.writableLength > limits.maxUnread) drop(`${socket.writableLength} bytes of replies left unread`);
    else socket.write(`${JSON.stringify(msg)}\n`);
    if (awaiting) {
      awaiting = false;
      pump();
    }
  };

  // A loop, not a recursion through reply(): a chunk of many short lines must not deepen the stack.
  const pump = () => {
    if (pumping) return;
    pumping = true;
    try {
      let nl: number;
      while (!awaiting && !closing && (nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        awaiting = true;
        try {
          onLine(line, reply);
        } catch (err) {
          // The details are ours; the client learns only that its connection is over.
          limits.log(`a request handler failed: ${describeError(err)}`);
          close(failure('internal error'));
        }
      }
    } finally {
      pumping = false;
    }
    if (closing) return;
    if (awaiting) socket.pause();
    else if (buf.length > MAX_LINE) close(failure('request too long'));
    else socket.resume();
  };

  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    if (closing) return;
    buf += chunk;
    pump();
  });

  const { idleMs, held } = limits;
  if (idleMs !== undefined) {
    socket.setTimeout(idleMs);
    const isHeld = () => {
      try {
        return held?.(socket) === true;
      } catch (err) {
        limits.log(`cannot tell whether an idle connection is held: ${describeError(err)}`);
        return false;
      }
    };
    socket.on('timeout', () => {
      if (closing) socket.destroy();
      // Set again: held ends without traffic of its own (a call ended by the daemon, say).
      else if (isHeld()) socket.setTimeout(idleMs);
      else close(failure(`closed after ${idleMs} ms with nothing to do`));
    });
  }
}
