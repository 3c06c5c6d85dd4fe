import { dirname } from 'node:path';
import type { Cgroupfs } from '../cgroup/cgroupfs.js';
import { describeError } from '../errors.js';
import { AGENT_LEAF } from '../layout.js';
import type { ContainerRecord, StateStore } from '../state/records.js';
import type { Watched } from '../state/watched.js';
import type { Log } from './calls.js';
import type { Closable, KernelEvents } from './kernelevents.js';

export interface RegistryDeps {
  store: Pick<StateStore, 'containerIds' | 'loadContainer'>;
  events: Pick<KernelEvents, 'watch'>;
  /** The directory whose entries are the carve records: a change there brings a sync. */
  recordsDir: string;
  /** Finalizes containers that ended without their poststop (or before it); says which. */
  sweep(): Promise<{ finalized: string[]; warnings: string[] }>;
  /** The cgroupfs a record's cgroups live in. */
  fsFor(record: ContainerRecord): Cgroupfs;
  /** A cgroup's id as the tracker reports it (its inode number). */
  cgroupId(fs: Cgroupfs, cgroup: string): bigint;
  log: Log;
}

/** What is done when a container starts or stops being followed: the daemon's other parts. */
export interface Followers {
  added(c: Watched): Promise<void>;
  removed(c: Watched): Promise<void>;
}

/**
 * The containers the daemon follows: those whose carve record says `carved`. It syncs with the run
 * dir when a record appears, changes or goes, and when a followed container's end shows (its cgroup's
 * directory changes, or its agent leaf's cgroup.events); a sync first finalizes the containers that
 * have ended. Syncs run one at a time: setting a container up awaits its sockets.
 */
export class ContainerRegistry {
  private readonly containers = new Map<string, Watched>();
  private readonly endWatches = new Map<string, Closable>();
  private recordsWatch: Closable | undefined;
  private syncing = Promise.resolve();

  constructor(
    private readonly d: RegistryDeps,
    private readonly followers: Followers,
  ) {}

  list(): Watched[] {
    return [...this.containers.values()];
  }

  async start(): Promise<void> {
    this.recordsWatch = this.d.events.watch(this.d.recordsDir, () => void this.sync());
    await this.sync();
  }

  /** Every container unfollowed; their cgroups and records stay for the next daemon. */
  async stop(): Promise<void> {
    this.recordsWatch?.close();
    for (const path of [...this.endWatches.keys()]) this.forgetEnd(path);
    await this.syncing;
    for (const id of [...this.containers.keys()]) await this.remove(id);
  }

  /** Serialized: a watch can fire while a previous sync still sets a container up. */
  sync(): Promise<void> {
    this.syncing = this.syncing.then(() => this.syncNow()).catch((err) => this.d.log.warn(`sync: ${describeError(err)}`));
    return this.syncing;
  }

  private async syncNow(): Promise<void> {
    // Containers that ended are finalized here too: their poststop may have been killed, or never run.
    const swept = await this.d.sweep();
    for (const id of swept.finalized) this.d.log.info(`container ${id} ended: calls still running logged as cut off, its state removed`);
    for (const w of swept.warnings) this.d.log.warn(w);
    const ids = new Set(this.d.store.containerIds());
    for (const id of [...this.containers.keys()]) if (!ids.has(id)) await this.remove(id);
    for (const id of ids) if (!this.containers.has(id)) await this.add(id);
  }

  private async add(id: string): Promise<void> {
    let c: Watched;
    try {
      const record = this.d.store.loadContainer(id);
      // Still being carved: the hook rewrites the record when done, and that change brings us back.
      if (!record || record.state !== 'carved') return;
      const fs = this.d.fsFor(record);
      c = { record, fs, cgroupId: this.d.cgroupId(fs, record.cgroup), agentCgroupId: this.d.cgroupId(fs, `${record.cgroup}/${AGENT_LEAF}`) };
    } catch (err) {
      // A record whose cgroup is gone belongs to a container being torn down: poststop will remove it.
      this.d.log.warn(`container ${id}: not followed: ${describeError(err)}`);
      return;
    }
    this.containers.set(id, c);
    this.watchEnd(dirname(c.fs.path(c.record.cgroup)));
    this.watchEnd(c.fs.path(`${c.record.cgroup}/${AGENT_LEAF}`, 'cgroup.events'));
    try {
      await this.followers.added(c);
    } catch (err) {
      // Half set up is not followed: what was set up is undone, and the next change tries again.
      this.d.log.warn(`container ${id}: not followed: ${describeError(err)}`);
      await this.remove(id);
    }
  }

  private async remove(id: string): Promise<void> {
    const c = this.containers.get(id);
    if (!c) return;
    this.containers.delete(id);
    this.forgetEnd(c.fs.path(`${c.record.cgroup}/${AGENT_LEAF}`, 'cgroup.events'));
    try {
      await this.followers.removed(c);
    } catch (err) {
      this.d.log.warn(`container ${id}: ${describeError(err)}`);
    }
  }

  private watchEnd(path: string): void {
    if (this.endWatches.has(path)) return;
    try {
      this.endWatches.set(
        path,
        this.d.events.watch(path, () => {
          // Gone with its cgroup (a budget cgroup made again later is watched afresh): the sync sees.
          this.forgetEnd(path);
          void this.sync().then(() => this.rewatch());
        }),
      );
    } catch (err) {
      this.d.log.warn(`cannot watch ${path} for containers ending: ${describeError(err)}`);
    }
  }

  /** After a sync, the ends of the containers still followed are watched again. */
  private rewatch(): void {
    for (const c of this.containers.values()) {
      this.watchEnd(dirname(c.fs.path(c.record.cgroup)));
      this.watchEnd(c.fs.path(`${c.record.cgroup}/${AGENT_LEAF}`, 'cgroup.events'));
    }
  }

  private forgetEnd(path: string): void {
    this.endWatches.get(path)?.close();
    this.endWatches.delete(path);
  }
}
