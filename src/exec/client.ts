import { type Socket, createConnection } from 'node:net';
import { AgentcgroupError } from '../errors.js';
import { shellStatus, spawnForwarding } from '../sys/forward.js';
import { encode } from './protocol.js';

/** Where a container sees its exec socket (the daemon's per-container socket, bind-mounted in). */
export const CONTAINER_EXEC_SOCKET = '/run/agentcgroup/exec.sock';

interface Reply {
  ok: boolean;
  call?: string;
  notice?: string;
  error?: string;
}

/** Sends one request and waits for one reply line. */
function ask(socket: Socket, message: Parameters<typeof encode>[0]): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      socket.off('data', onData);
      socket.off('close', onClose);
      try {
        resolve(JSON.parse(buf.slice(0, nl)) as Reply);
      } catch {
        reject(new AgentcgroupError('bad-reply', 'the daemon sent something that is not JSON'));
      }
    };
    const onClose = () => reject(new AgentcgroupError('daemon-gone', 'the agentcgroup daemon closed the exec socket'));
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
 * Inside a container: the daemon moves this process into a fresh tool-call cgroup (cgroupfs is
 * read-only here, rightly), the command is spawned from here and inherits it, and the end is
 * reported back so the daemon logs the call and removes its cgroup.
 */
export async function runViaSocket(path: string, name: string, argv: string[], stderr: (s: string) => void): Promise<number> {
  const socket = await connect(path);
  try {
    const begun = await ask(socket, { v: 1, op: 'begin', name, argv });
    if (!begun.ok || !begun.call) throw new AgentcgroupError('refused', `the daemon refused the call: ${begun.error ?? 'no reason given'}`);
    const [cmd, ...args] = argv as [string, ...string[]];
    const { exit, signal } = await spawnForwarding(cmd, args, { stdio: 'inherit' }, cmd);
    const ended = await ask(socket, { v: 1, op: 'end', call: begun.call, exit, signal });
    if (ended.notice) stderr(`${ended.notice}\n`);
    return shellStatus({ exit, signal });
  } finally {
    socket.destroy();
  }
}
