/**
 * Process identity that a recycled pid cannot fool (pidfds, Linux 5.6+), and a write into another
 * process's open file that can never block us. Both act on a container's processes: the pid of one
 * that exits may be handed to any process on the host, and the files it holds open are its to choose
 * (a full pipe, a FIFO nobody reads, a stopped terminal, a file on a FUSE mount it serves itself).
 */
import { closeSync, fstatSync } from 'node:fs';
import { isatty } from 'node:tty';
import koffi from 'koffi';

interface Libc {
  pidfd_open(pid: number, flags: number): number;
  pidfd_send_signal(pidfd: number, sig: number, info: null, flags: number): number;
  pidfd_getfd(pidfd: number, targetfd: number, flags: number): number;
  fcntl(fd: number, cmd: number, ...rest: unknown[]): number;
  fstatfs(fd: number, buf: Buffer): number;
  vmsplice(fd: number, iov: { base: Buffer; len: number }[], nr: number, flags: number): number;
  send(fd: number, buf: Buffer, len: number, flags: number): number;
  write(fd: number, buf: Buffer, len: number): number;
}

let libc: Libc | undefined;

function load(): Libc {
  if (libc) return libc;
  const lib = koffi.load('libc.so.6');
  const iovec = koffi.struct('agentcgroup_iovec', { base: 'void *', len: 'size_t' });
  libc = {
    pidfd_open: lib.func('int pidfd_open(int pid, unsigned int flags)'),
    pidfd_send_signal: lib.func('int pidfd_send_signal(int pidfd, int sig, void *info, unsigned int flags)'),
    pidfd_getfd: lib.func('int pidfd_getfd(int pidfd, int targetfd, unsigned int flags)'),
    fcntl: lib.func('int fcntl(int fd, int cmd, ...)'),
    fstatfs: lib.func('int fstatfs(int fd, _Out_ void *buf)'),
    vmsplice: lib.func('vmsplice', 'long', ['int', koffi.pointer(iovec), 'size_t', 'unsigned int']),
    send: lib.func('long send(int fd, void *buf, size_t len, int flags)'),
    write: lib.func('long write(int fd, void *buf, size_t len)'),
  } as unknown as Libc;
  return libc;
}

/** A pidfd on `pid`, or undefined when no such process exists (or the kernel predates pidfds). */
export function pidfdOpen(pid: number): number | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const fd = load().pidfd_open(pid, 0);
  return fd < 0 ? undefined : fd;
}

/**
 * True while the process the pidfd was opened on has not been reaped: until then its pid cannot
 * name another process (a zombie still holds it). Signal 0 checks without sending anything.
 */
export function pidfdAlive(pidfd: number): boolean {
  return load().pidfd_send_signal(pidfd, 0, null, 0) === 0;
}

export function pidfdSignal(pidfd: number, signal: number): boolean {
  return load().pidfd_send_signal(pidfd, signal, null, 0) === 0;
}

export function closeFd(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Closed already: nothing held.
  }
}

/** What kind of file another process's descriptor is, as far as writing to it without blocking goes. */
export type FdKind = 'pipe' | 'socket' | 'tty' | 'local-file' | 'other';

/** How a line goes into a file of each kind without the writer ever waiting on the reader. */
export type WriteWay = 'vmsplice-nonblock' | 'send-dontwait' | 'tty-nonblock' | 'write' | 'skip';

/**
 * Pure. Pipes and FIFOs: vmsplice with SPLICE_F_NONBLOCK fails with EAGAIN on a full pipe instead of
 * waiting, whatever the description's own flags. Sockets: MSG_DONTWAIT likewise. Terminals honour
 * only the description's O_NONBLOCK, set for the one write. Regular files on a disk filesystem do not
 * wait on anyone; any other file (a FUSE or network file, a device) is skipped: its server may be
 * the container itself, and nothing bounds how long it answers. A description not open for writing
 * is never written: the process could not write it either.
 */
export function writeWay(kind: FdKind, writable: boolean): WriteWay {
  if (!writable) return 'skip';
  switch (kind) {
    case 'pipe':
      return 'vmsplice-nonblock';
    case 'socket':
      return 'send-dontwait';
    case 'tty':
      return 'tty-nonblock';
    case 'local-file':
      return 'write';
    case 'other':
      return 'skip';
  }
}

/** statfs f_type of filesystems whose writes finish without a server: ext2/3/4, xfs, btrfs, tmpfs, overlayfs, f2fs. */
const LOCAL_FS = new Set([0xef53, 0x58465342, 0x9123683e, 0x01021994, 0x794c7630, 0xf2f52010]);

const F_GETFL = 3;
const F_SETFL = 4;
const O_ACCMODE = 3;
const O_RDONLY = 0;
const O_NONBLOCK = 0o4000;
const SPLICE_F_NONBLOCK = 2;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;

function kindOf(fd: number): FdKind {
  const st = fstatSync(fd);
  if (st.isFIFO()) return 'pipe';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return isatty(fd) ? 'tty' : 'other';
  if (!st.isFile()) return 'other';
  const buf = Buffer.alloc(120);
  if (load().fstatfs(fd, buf) !== 0) return 'other';
  return LOCAL_FS.has(Number(buf.readBigInt64LE(0) & 0xffffffffn)) ? 'local-file' : 'other';
}

/**
 * Appends `text` to descriptor `targetFd` of the process behind `pidfd`, through that process's own
 * open file description (pidfd_getfd): never a path reopened as root, so only what the process itself
 * may write is written, and never waiting. Returns what happened, for the log.
 */
export function writeToProcessFd(pidfd: number, targetFd: number, text: string): 'written' | 'skipped' | 'would-block' | 'failed' {
  const c = load();
  const fd = c.pidfd_getfd(pidfd, targetFd, 0);
  if (fd < 0) return 'failed';
  try {
    const flags = c.fcntl(fd, F_GETFL);
    if (flags < 0) return 'failed';
    const way = writeWay(kindOf(fd), (flags & O_ACCMODE) !== O_RDONLY);
    const data = Buffer.from(text);
    let n: number;
    switch (way) {
      case 'skip':
        return 'skipped';
      case 'vmsplice-nonblock':
        n = c.vmsplice(fd, [{ base: data, len: data.length }], 1, SPLICE_F_NONBLOCK);
        break;
      case 'send-dontwait':
        n = c.send(fd, data, data.length, MSG_DONTWAIT | MSG_NOSIGNAL);
        break;
      case 'write':
        n = c.write(fd, data, data.length);
        break;
      case 'tty-nonblock':
        // The flag lives on the shared description: set for this write only, then put back.
        if (c.fcntl(fd, F_SETFL, 'int', flags | O_NONBLOCK) < 0) return 'failed';
        n = c.write(fd, data, data.length);
        c.fcntl(fd, F_SETFL, 'int', flags);
        break;
    }
    if (n >= 0) return 'written';
    return koffi.errno() === koffi.os.errno.EAGAIN ? 'would-block' : 'failed';
  } catch {
    return 'failed';
  } finally {
    closeFd(fd);
  }
}
