/**
 * systemd's readiness protocol (sd_notify(3)), spoken directly: one datagram of `KEY=value` lines to
 * the unix socket $NOTIFY_SOCKET names. Node has no datagram unix sockets, so the send is a koffi call
 * of libc's socket/sendto (sys/libc.ts), loaded only when $NOTIFY_SOCKET is set. Not a spawned
 * `systemd-notify`: with the default NotifyAccess=main systemd takes messages from the main process
 * only, and a child that exits before systemd reads its credentials is not even attributed to the
 * unit. Not libsystemd's sd_notify through koffi either: a second native library to find at run time
 * (absent from slim images and the single executable's targets) for a dozen lines of protocol.
 * The message building and the address are pure, tested without a socket.
 */

/** sizeof(struct sockaddr_un) on Linux: a 2-byte family, then 108 bytes of path. */
const SUN_PATH_MAX = 108;
const AF_UNIX = 1;

export type NotifyAddress = { ok: true; sockaddr: Buffer; where: string } | { ok: false; error: string };

/**
 * The struct sockaddr_un for $NOTIFY_SOCKET, sized as the kernel wants it: a path (`/run/...`) with
 * its terminating NUL; an abstract name (`@name`) with a leading NUL byte in place of the `@` and no
 * terminator (the length carries the name, which may itself contain anything). Anything else (such
 * as systemd 253's `vsock:` for VMs) is refused with the reason.
 */
export function notifyAddress(value: string): NotifyAddress {
  let path: Buffer;
  if (value.startsWith('/')) {
    if (value.includes('\0')) return { ok: false, error: `NOTIFY_SOCKET ${JSON.stringify(value)} contains a NUL byte` };
    path = Buffer.concat([Buffer.from(value, 'utf8'), Buffer.from([0])]);
  } else if (value.startsWith('@') && value.length > 1) {
    path = Buffer.concat([Buffer.from([0]), Buffer.from(value.slice(1), 'utf8')]);
  } else {
    return { ok: false, error: `NOTIFY_SOCKET ${JSON.stringify(value)} is neither a socket path nor an abstract @name (only AF_UNIX is spoken)` };
  }
  if (path.length > SUN_PATH_MAX) return { ok: false, error: `NOTIFY_SOCKET is ${path.length} bytes, more than a unix socket address holds (${SUN_PATH_MAX})` };
  const sockaddr = Buffer.alloc(2 + path.length);
  // sa_family_t in host order: every target of ours (x86_64, arm64) is little-endian.
  sockaddr.writeUInt16LE(AF_UNIX, 0);
  path.copy(sockaddr, 2);
  return { ok: true, sockaddr, where: value };
}

/**
 * One notification: `KEY=value` lines joined by newlines. A value is one line (STATUS= shows in
 * `systemctl status`), so line breaks become spaces; a key is upper case letters, digits and `_`.
 */
export function notifyMessage(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  const lines = fields.map(([key, value]) => {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(key)) throw new Error(`not a notify key: ${JSON.stringify(key)}`);
    return `${key}=${value.replace(/[\r\n]+/g, ' ').trim()}`;
  });
  return Buffer.from(lines.join('\n'), 'utf8');
}

/** What the daemon tells its service manager; every method does nothing without $NOTIFY_SOCKET. */
export interface Notifier {
  /** READY=1 with one line of STATUS=. */
  ready(status: string): void;
  /** STOPPING=1: the daemon is winding down. */
  stopping(): void;
}

type Send = (sockaddr: Buffer, payload: Buffer) => void;

/**
 * The notifier for this process's environment. A bad address or a failed send is one warning, never
 * fatal: run outside systemd (or under a manager that set no socket) the daemon works the same.
 * `send` is for tests; by default libc's sendto, loaded only when there is somewhere to send.
 */
export async function systemdNotifier(env: NodeJS.ProcessEnv, warn: (line: string) => void, send?: Send): Promise<Notifier> {
  const value = env.NOTIFY_SOCKET;
  const none: Notifier = { ready: () => {}, stopping: () => {} };
  if (value === undefined || value === '') return none;
  const addr = notifyAddress(value);
  if (!addr.ok) {
    warn(`systemd notification not sent: ${addr.error}`);
    return none;
  }
  const sendTo = send ?? (await import('./libc.js')).sendUnixDatagram;
  const notify = (fields: Array<[string, string]>) => {
    try {
      sendTo(addr.sockaddr, notifyMessage(fields));
    } catch (err) {
      warn(`systemd notification to ${addr.where} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  return {
    ready: (status) => notify([['READY', '1'], ['STATUS', status]]),
    stopping: () => notify([['STOPPING', '1'], ['STATUS', 'stopping']]),
  };
}
