import type { Socket } from 'node:net';
import { describeError } from '../errors.js';
import { type Request, parseRequest } from '../exec/protocol.js';
import { AGENT_LEAF } from '../layout.js';
import { execSocketPath } from '../state/paths.js';
import type { Watched } from '../state/watched.js';
import type { ProcHandle, ProcessOps } from '../sys/procfs.js';
import type { CallBook, Log } from './calls.js';
import { type ExecCaps, execSocketOptions } from './execcaps.js';
import { type LineServer, serveLines } from './sockets.js';

export interface ExecServerDeps {
  runDir: string;
  calls: Pick<CallBook, 'begin' | 'callOfMember' | 'leaderOf' | 'rename' | 'attachClient' | 'release' | 'finish'>;
  procs: Pick<ProcessOps, 'cgroup' | 'open'>;
  /** The processes in a cgroup of the container (its agent leaf). */
  members(cgroup: string): number[];
  /** Handles tracker events still in the ring, so a client the tracker already made a call is known. */
  drainTracker(): void;
  log: Log;
  /** The host policy's `limits`; the defaults when not given. */
  limits?: ExecCaps;
}

/** Where a begin may come from, pure: who asks, where it sits, what else is in the agent leaf. */
export function admitBegin(
  c: Pick<Watched, 'record'>,
  peer: { pid: number; cgroup: string | undefined; ownCall: string | undefined },
  agentMembers: readonly number[],
): { kind: 'new' } | { kind: 'adopt'; callId: string } | { kind: 'refuse'; why: string } {
  const agent = `/${c.record.cgroup}/${AGENT_LEAF}`;
  // The tracker made the client a call of its own (the framework ran `agentcgroup exec`): that call.
  if (peer.ownCall !== undefined) return { kind: 'adopt', callId: peer.ownCall };
  if (peer.cgroup !== agent) return { kind: 'refuse', why: `process ${peer.pid} is not in the agent leaf: a tool call cannot start another one` };
  // The agent leaf empty is the container's end to us: its init, or the last process in it, stays.
  if (peer.pid === c.record.pid) return { kind: 'refuse', why: "the container's init cannot become a tool call" };
  if (!agentMembers.some((p) => p !== peer.pid)) return { kind: 'refuse', why: 'the last process of the agent leaf cannot become a tool call' };
  return { kind: 'new' };
}

/**
 * A container's own exec socket (protocol: exec/protocol.ts): serves only processes of that
 * container, and the limits come from its carve record, never from the request. Each client is held
 * by a pidfd from the moment it connects: a client that hands its connection to another process and
 * exits cannot have its pid, by then maybe a host process's, moved anywhere.
 */
export function serveExec(c: Watched, d: ExecServerDeps): Promise<LineServer> {
  const clients = new Map<Socket, ProcHandle>();
  const sessions = new Map<Socket, { callId: string; client: ProcHandle }>();
  const prefix = `/${c.record.cgroup}/`;
  const end = (socket: Socket, result?: { exit: number | null; signal: string | null }) => {
    const s = sessions.get(socket);
    if (!s) return;
    sessions.delete(socket);
    d.calls.release(s.callId, s.client);
    d.calls.finish(s.callId, result);
  };
  const begin = (client: ProcHandle, req: Extract<Request, { op: 'begin' }>): { callId: string } | { error: string } => {
    d.drainTracker();
    const known = d.calls.callOfMember(client.pid);
    const cgroup = d.procs.cgroup(client.pid);
    if (!client.alive()) return { error: 'the process that connected has exited' };
    const own = known !== undefined && d.calls.leaderOf(known) === client.pid ? known : undefined;
    const verdict = admitBegin(c, { pid: client.pid, cgroup, ownCall: own }, d.members(`${c.record.cgroup}/${AGENT_LEAF}`));
    if (verdict.kind === 'refuse') return { error: verdict.why };
    if (verdict.kind === 'adopt') {
      // Begun by the tracker from the client's cmdline: the request names it as the caller meant.
      d.calls.rename(verdict.callId, req.name, req.argv);
      return { callId: verdict.callId };
    }
    try {
      return { callId: d.calls.begin(c, client.pid, { name: req.name, argv: req.argv, fallback: req.name, handle: client }) };
    } catch (err) {
      d.log.warn(`container ${c.record.id}: cannot start a call for process ${client.pid}: ${describeError(err)}`);
      return { error: 'cannot create the tool-call cgroup' };
    }
  };
  return serveLines(
    execSocketPath(d.runDir, c.record.id),
    0o666,
    (peer, socket) => {
      const client = d.procs.open(peer.pid);
      if (!client) return `process ${peer.pid} has exited`;
      // Read with the pidfd held, and checked after: the cgroup read is the connecting process's own.
      const where = d.procs.cgroup(peer.pid);
      if (!client.alive() || !where?.startsWith(prefix)) {
        client.close();
        return `process ${peer.pid} is not in container ${c.record.id}`;
      }
      clients.set(socket, client);
      return undefined;
    },
    (line, _peer, reply, socket) => {
      const client = clients.get(socket);
      if (!client) return;
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
        const r = begin(client, req);
        if ('error' in r) return reply({ v: 1, ok: false, error: r.error });
        sessions.set(socket, { callId: r.callId, client });
        d.calls.attachClient(r.callId, (notice) => reply(notice ? { v: 1, ok: true, notice } : { v: 1, ok: true }));
        reply({ v: 1, ok: true, call: r.callId });
        return;
      }
      const s = sessions.get(socket);
      if (!s || s.callId !== req.call) return reply({ v: 1, ok: false, error: 'no such call on this connection' });
      end(socket, { exit: req.exit, signal: req.signal });
    },
    (socket) => {
      end(socket);
      clients.get(socket)?.close();
      clients.delete(socket);
    },
    execSocketOptions(d.limits, (socket) => sessions.has(socket), (line) => d.log.warn(line)),
  );
}
