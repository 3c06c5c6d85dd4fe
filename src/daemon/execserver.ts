import type { Socket } from 'node:net';
import { describeError } from '../errors.js';
import { type Request, parseRequest } from '../exec/protocol.js';
import { execSocketPath } from '../state/paths.js';
import type { Watched } from '../state/watched.js';
import type { ProcessOps } from '../sys/procfs.js';
import type { CallBook, Log } from './calls.js';
import { type LineServer, serveLines } from './sockets.js';

export interface ExecServerDeps {
  runDir: string;
  calls: CallBook;
  procs: ProcessOps;
  /** Handles tracker events still in the ring, so a client the tracker already made a call is known. */
  drainTracker(): void;
  log: Log;
}

/**
 * A container's own exec socket (protocol: exec/protocol.ts): serves only processes of that
 * container, and the limits come from its carve record, never from the request.
 */
export function serveExec(c: Watched, d: ExecServerDeps): Promise<LineServer> {
  const sessions = new Map<Socket, { callId: string; pid: number }>();
  const inContainer = (pid: number): boolean => d.procs.cgroup(pid)?.startsWith(`/${c.record.cgroup}/`) === true;
  const end = (socket: Socket, result?: { exit: number | null; signal: string | null }) => {
    const s = sessions.get(socket);
    if (!s) return;
    sessions.delete(socket);
    d.calls.release(s.callId, s.pid);
    d.calls.finish(s.callId, result);
  };
  const begin = (pid: number, req: Extract<Request, { op: 'begin' }>): string | undefined => {
    // The tracker may have made the client a call of its own already: adopt that one.
    d.drainTracker();
    const known = d.calls.callOfMember(pid);
    if (known !== undefined) return known;
    try {
      return d.calls.begin(c, pid, { name: req.name, argv: req.argv, fallback: req.name });
    } catch (err) {
      d.log.warn(`container ${c.record.id}: cannot start a call for process ${pid}: ${describeError(err)}`);
      return undefined;
    }
  };
  return serveLines(
    execSocketPath(d.runDir, c.record.id),
    0o666,
    (peer) => (inContainer(peer.pid) ? undefined : `process ${peer.pid} is not in container ${c.record.id}`),
    (line, peer, reply, socket) => {
      let req: Request;
      try {
        req = parseRequest(line);
      } catch (err) {
        reply({ v: 1, ok: false, error: describeError(err) });
        socket.end();
        return;
      }
      if (req.op === 'begin') {
        if (sessions.has(socket)) return reply({ v: 1, ok: false, error: 'a call is already open on this connection' });
        const callId = begin(peer.pid, req);
        if (!callId) return reply({ v: 1, ok: false, error: 'cannot create the tool-call cgroup' });
        d.calls.rename(callId, req.name, req.argv);
        sessions.set(socket, { callId, pid: peer.pid });
        d.calls.attachClient(callId, (notice) => reply(notice ? { v: 1, ok: true, notice } : { v: 1, ok: true }));
        reply({ v: 1, ok: true, call: callId });
        return;
      }
      const s = sessions.get(socket);
      if (!s || s.callId !== req.call) return reply({ v: 1, ok: false, error: 'no such call on this connection' });
      end(socket, { exit: req.exit, signal: req.signal });
    },
    (socket) => end(socket),
  );
}
