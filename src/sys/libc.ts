/**
 * The few libc calls Node lacks: epoll (one wait for many fds, PSI triggers among them),
 * SO_PEERCRED (who is on the other end of a unix socket) and one datagram to a unix socket
 * (systemd's notify socket). The only koffi user besides the
 * libbpf binding; loaded lazily so commands that never need it never load the native module.
 */
import koffi from 'koffi';
import { AgentcgroupError } from '../errors.js';

export const EPOLLIN = 0x001;
export const EPOLLPRI = 0x002;
const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
/** struct epoll_event is packed on x86_64: u32 events, u64 data. */
export const EPOLL_EVENT_SIZE = 12;

interface Libc {
  epoll_create1(flags: number): number;
  epoll_ctl(epfd: number, op: number, fd: number, event: Buffer | null): number;
  epoll_wait(epfd: number, events: Buffer, max: number, timeout: number): number;
  getsockopt(fd: number, level: number, name: number, value: Buffer, len: number[]): number;
  socket(domain: number, type: number, protocol: number): number;
  sendto(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number): number;
  close(fd: number): number;
}

let libc: Libc | undefined;

function load(): Libc {
  if (libc) return libc;
  const lib = koffi.load('libc.so.6');
  libc = {
    epoll_create1: lib.func('int epoll_create1(int flags)'),
    epoll_ctl: lib.func('int epoll_ctl(int epfd, int op, int fd, void *event)'),
    // Plain void *: koffi hands the Buffer's own memory to the kernel, which fills it in place.
    epoll_wait: lib.func('int epoll_wait(int epfd, void *events, int maxevents, int timeout)'),
    getsockopt: lib.func('int getsockopt(int fd, int level, int optname, _Out_ void *optval, _Inout_ uint32_t *optlen)'),
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    sendto: lib.func('intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)'),
    close: lib.func('int close(int fd)'),
  } as unknown as Libc;
  return libc;
}

function check(ret: number, what: string): number {
  if (ret < 0) {
    const errno = koffi.errno();
    const name = Object.entries(koffi.os.errno).find(([, v]) => v === errno)?.[0] ?? `errno ${errno}`;
    throw new AgentcgroupError('syscall-failed', `${what} failed: ${name}`);
  }
  return ret;
}

export function epollCreate(): number {
  return check(load().epoll_create1(EPOLL_CLOEXEC), 'epoll_create1');
}

export function epollAdd(epfd: number, fd: number, events: number): void {
  const ev = Buffer.alloc(EPOLL_EVENT_SIZE);
  ev.writeUInt32LE(events, 0);
  ev.writeBigUInt64LE(BigInt(fd), 4);
  check(load().epoll_ctl(epfd, EPOLL_CTL_ADD, fd, ev), `epoll_ctl(ADD ${fd})`);
}

export function epollDel(epfd: number, fd: number): void {
  check(load().epoll_ctl(epfd, EPOLL_CTL_DEL, fd, null), `epoll_ctl(DEL ${fd})`);
}

export interface Ready {
  fd: number;
  events: number;
}

function decodeReady(buf: Buffer, n: number): Ready[] {
  const out: Ready[] = [];
  for (let i = 0; i < n; i++) {
    out.push({ events: buf.readUInt32LE(i * EPOLL_EVENT_SIZE), fd: Number(buf.readBigUInt64LE(i * EPOLL_EVENT_SIZE + 4)) });
  }
  return out;
}

/** The fds ready now, without blocking (the caller knows the set is readable). */
export function epollReady(epfd: number, max: number): Ready[] {
  const buf = Buffer.alloc(max * EPOLL_EVENT_SIZE);
  const n = load().epoll_wait(epfd, buf, max, 0);
  // EINTR is an empty wake-up, not a failure.
  if (n < 0 && koffi.errno() === koffi.os.errno.EINTR) return [];
  return decodeReady(buf, check(n, 'epoll_wait'));
}

/**
 * Has Node's own event loop (libuv, on the main thread) watch an fd for readability: no extra
 * thread, nothing parked on the fs thread pool, no timer.
 */
export function watchReadable(fd: number, onReadable: () => void, onError: (err: Error) => void): { close(): void } {
  // koffi calls back with (status, events), not the (events) its typings declare: a readiness that is
  // never handled would spin the loop, so the actual arguments are checked.
  const callback = (status: unknown, ev: { readable?: boolean } | undefined) => {
    if (status !== 0) onError(new AgentcgroupError('poll-failed', `polling fd ${fd} failed (libuv status ${String(status)})`));
    else if (ev?.readable) onReadable();
  };
  return koffi.node.poll(fd, { readable: true }, callback as unknown as (ev: unknown) => void);
}

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

/** The credentials the kernel recorded for the peer of a connected unix socket. */
export function peerCred(fd: number): PeerCred {
  const buf = Buffer.alloc(12);
  const len = [12];
  check(load().getsockopt(fd, SOL_SOCKET, SO_PEERCRED, buf, len), 'getsockopt(SO_PEERCRED)');
  return { pid: buf.readInt32LE(0), uid: buf.readUInt32LE(4), gid: buf.readUInt32LE(8) };
}

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;

/**
 * Sends one datagram to a unix socket address (a struct sockaddr_un, as built by
 * sys/notify.ts notifyAddress) from a fresh socket, closed again at once.
 */
export function sendUnixDatagram(sockaddr: Buffer, payload: Buffer): void {
  const c = load();
  const fd = check(c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), 'socket(AF_UNIX, SOCK_DGRAM)');
  try {
    const sent = c.sendto(fd, payload, payload.length, MSG_NOSIGNAL, sockaddr, sockaddr.length);
    check(sent, 'sendto');
    if (sent !== payload.length) throw new AgentcgroupError('syscall-failed', `sendto sent ${sent} of ${payload.length} bytes`);
  } finally {
    c.close(fd);
  }
}
