import { closeSync } from 'node:fs';
import { epollAdd, epollCreate, epollDel, epollReady, watchReadable } from '../sys/libc.js';

type Handler = (events: number) => void;

/**
 * One epoll set (the ring buffer now, PSI triggers and more later), watched by Node's own event loop:
 * when any member is ready the set turns readable, and the handlers run on the main thread. Nothing
 * here wakes up unless an fd is ready; a handler that drains its level-triggered fd never spins.
 */
export class FdWaiter {
  private readonly epfd = epollCreate();
  private readonly handlers = new Map<number, Handler>();
  private readonly watch = watchReadable(this.epfd, () => this.dispatch(), (err) => this.onError(err));
  onError: (err: unknown) => void = () => {};

  add(fd: number, events: number, handler: Handler): void {
    epollAdd(this.epfd, fd, events);
    this.handlers.set(fd, handler);
  }

  remove(fd: number): void {
    if (!this.handlers.delete(fd)) return;
    try {
      epollDel(this.epfd, fd);
    } catch {
      // Closing an fd already took it out of the set.
    }
  }

  private dispatch(): void {
    for (const r of epollReady(this.epfd, 32)) {
      try {
        this.handlers.get(r.fd)?.(r.events);
      } catch (e) {
        this.onError(e);
      }
    }
  }

  close(): void {
    this.watch.close();
    closeSync(this.epfd);
  }
}
