/**
 * A Synchronize the runtime splits over several requests (`more` set on all but the last:
 * adaptation/plugin.go shrinks them until each fits ttrpc's 4 MiB) is gathered here and handed over
 * whole. Bounded by the bytes of the requests gathered, so a runtime that says `more` forever cannot
 * grow it without end.
 */
import type { Container, PodSandbox } from './gen/api_pb.js';

export class SyncCollector {
  private pods: PodSandbox[] = [];
  private containers: Container[] = [];
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** Adds one request's share; false (and everything dropped) when the whole would pass the bound. */
  add(pods: PodSandbox[], containers: Container[], bytes: number): boolean {
    this.bytes += bytes;
    if (this.bytes > this.maxBytes) {
      this.take();
      return false;
    }
    // A loop, not push(...): a request may hold more objects than a call takes arguments.
    for (const p of pods) this.pods.push(p);
    for (const c of containers) this.containers.push(c);
    return true;
  }

  /** Everything gathered, and a fresh start. */
  take(): { pods: PodSandbox[]; containers: Container[] } {
    const out = { pods: this.pods, containers: this.containers };
    this.pods = [];
    this.containers = [];
    this.bytes = 0;
    return out;
  }
}
