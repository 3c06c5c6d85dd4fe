import { type Socket, createConnection } from 'node:net';
import { AgentcgroupError } from '../errors.js';
import { type ChildEnding, shellStatus, spawnForwarding } from '../sys/forward.js';
import { quote } from '../text.js';
import { CALL_ID, encode } from './protocol.js';

/** Where a container sees its exec socket (the daemon's per-container socket, bind-mounted in). */
export const CONTAINER_EXEC_SOCKET = '/run/agentcgroup/exec.sock';

/** Longest reply line read from the daemon (its notices are one short line). */
export const MAX_REPLY_BYTES = 64 * 1024;

/** A command that could not be started, as a shell reports it: 127 not found, 126 not executable. */
export const NOT_FOUND = 127;
export const NOT_EXECUTABLE = 126;

interface Reply {
  ok?: boolean;
  call?: string | null;
  notice?: string | null;
  error?: string | null;
}

/** A reply's fields as this client reads them: `ok` a boolean, the others strings (or null), when there. */
function isReply(r: unknown): r is Reply {
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return false;
  const o = r as Record<string, unknown>;
  const text = (k: string) => o[k] === undefined || o[k] === null || typeof o[k] === 'string';
  return (o.ok === undefined || typeof o.ok === 'boolean') && text('call') && text('notice') && text('error');
}

const BAD_REPLY = `the daemon sent something that is not one JSON object line of at most 64 KiB`;

/** Sends one request and waits for one reply line. */
function ask(socket: Socket, message: Parameters<typeof encode>[0]): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const settle = () => {
      socket.off('data', onData);
      socket.off('close', onClose);
    };
    const onData = (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0 && buf.length < MAX_REPLY_BYTES) return;
      settle();
      let reply: unknown;
      try {
        reply = nl < 0 ? undefined : JSON.parse(buf.slice(0, nl));
      } catch {
        // reported below
      }
      if (isReply(reply)) resolve(reply);
      else reject(new AgentcgroupError('bad-reply', BAD_REPLY));
    };
    const onClose = () => {
      settle();
      reject(new AgentcgroupError('daemon-gone', 'the agentcgroup daemon closed the exec socket'));
    };
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write(encode(message));
  });
}

function connect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    s.once('connect', () => resolve(s));
    s.once('error', (err: NodeJS.ErrnoException) =>
      reject(new AgentcgroupError('no-daemon', `cannot reach the agentcgroup daemon at ${path}: ${err.code ?? err.message}`)),
    );
  });
}

/**
 * The command run as the call, with stdio and signals passed through. One that cannot be started
 * is said in one line and ends as a shell has it end (127, 126), so its call is logged with that.
 */
async function runCommand(argv: readonly string[], stderr: (s: string) => void): Promise<ChildEnding> {
  const [cmd, ...args] = argv as [string, ...string[]];
  try {
    return await spawnForwarding(cmd, args, { stdio: 'inherit' }, cmd);
  } catch (err) {
    const code = ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code;
    stderr(`agentcgroup: exec: cannot run ${quote(cmd)}: ${code ?? (err as Error).message}\n`);
    return { exit: code === 'ENOENT' ? NOT_FOUND : NOT_EXECUTABLE, signal: null };
  }
}

/**
 * Inside a container: the daemon moves this process into a fresh tool-call cgroup (cgroupfs is
 * read-only here, rightly), the command is spawned from here and inherits it, and the end is
 * reported back so the daemon logs the call and removes its cgroup. A daemon gone during the call
 * costs the command nothing: it runs to its end and its status is ours, with one line saying so.
 * src/exec/native/agentcgroup-exec.c is the same client in C, byte for byte on the socket.
 */
export async function runViaSocket(path: string, name: string, argv: string[], stderr: (s: string) => void): Promise<number> {
  const socket = await connect(path);
  let gone = false;
  socket.once('close', () => (gone = true));
  // An error is followed by 'close', which is what counts.
  socket.on('error', () => {});
  try {
    const begun = await ask(socket, { v: 1, op: 'begin', name, argv });
    if (begun.ok !== true || !begun.call) throw new AgentcgroupError('refused', `the daemon refused the call: ${begun.error ?? 'no reason given'}`);
    if (!CALL_ID.test(begun.call)) throw new AgentcgroupError('bad-reply', `the daemon sent a call id that is not one: ${quote(begun.call)}`);
    const ending = await runCommand(argv, stderr);
    const status = shellStatus(ending);
    let ended: Reply | undefined;
    try {
      if (!gone) ended = await ask(socket, { v: 1, op: 'end', call: begun.call, ...ending });
    } catch (err) {
      if (!(err instanceof AgentcgroupError && err.code === 'daemon-gone')) throw err;
    }
    if (ended === undefined) {
      stderr('agentcgroup: exec: the agentcgroup daemon closed the exec socket during the call; its end was not reported\n');
      return status;
    }
    if (ended.ok === false) stderr(`agentcgroup: exec: the daemon refused the end of the call: ${ended.error ?? 'no reason given'}\n`);
    if (ended.notice) stderr(`${ended.notice}\n`);
    return status;
  } finally {
    socket.destroy();
  }
}
