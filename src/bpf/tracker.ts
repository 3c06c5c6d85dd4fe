/**
 * The eBPF tool-call tracker (bpf/tracker.bpf.c): fork, exec and exit of every process in a watched
 * cgroup or anywhere below it, delivered through a ring buffer. The caller owns the waiting: it
 * watches epollFd with its own event loop and calls consume() when it is readable.
 */
import { AgentcgroupError } from '../errors.js';
import type { Budget, Drained } from './batch.js';
import * as bpf from './libbpf.js';

export type { Budget, Drained } from './batch.js';

export type TrackerEventType = 'fork' | 'exec' | 'exit';

export interface TrackerEvent {
  type: TrackerEventType;
  tsNs: bigint;
  cgroupId: bigint;
  watchId: bigint;
  pid: number;
  tgid: number;
  ppid: number;
  exitCode: number;
  comm: string;
  filename: string;
  /** exec: the tracker stopped the process before its first instruction; whoever consumes the event must continue it. */
  held: boolean;
}

/** struct event from bpf/tracker.h; a unit test compares it with what the C compiler laid out. */
export const EVENT_FIELDS = {
  ts_ns: { offset: 0, size: 8 },
  cgroup_id: { offset: 8, size: 8 },
  watch_id: { offset: 16, size: 8 },
  type: { offset: 24, size: 4 },
  pid: { offset: 28, size: 4 },
  tgid: { offset: 32, size: 4 },
  ppid: { offset: 36, size: 4 },
  exit_code: { offset: 40, size: 4 },
  comm: { offset: 44, size: 16 },
  filename: { offset: 60, size: 128 },
  flags: { offset: 188, size: 4 },
} as const;

export const EVENT_SIZE = 192;

/** RING_BYTES in bpf/tracker.h: the events ring's data size. */
export const RING_BYTES = 1 << 20;

/**
 * The most events the ring holds at once. A drain bounded to this many handles all that waited when
 * it began (the ring is FIFO), and can still not be kept going for ever by a producer that keeps up.
 */
export const RING_CAPACITY = bpf.RingBuffer.capacity(RING_BYTES, EVENT_SIZE);

export const EVENT_TYPES: Readonly<Record<TrackerEventType, number>> = { fork: 1, exec: 2, exit: 3 };

/** Bits of `flags` (FLAG_* in bpf/tracker.h). */
export const EVENT_FLAGS = { held: 1 } as const;

const TYPE_NAMES = new Map(Object.entries(EVENT_TYPES).map(([name, n]) => [n, name as TrackerEventType]));

type Field = keyof typeof EVENT_FIELDS;

function cString(buf: Buffer, field: Field): string {
  const { offset, size } = EVENT_FIELDS[field];
  const nul = buf.indexOf(0, offset);
  return buf.toString('utf8', offset, nul < 0 || nul > offset + size ? offset + size : nul);
}

/** Decodes one ring-buffer record. Everything is copied out: the buffer may be libbpf's memory. */
export function decodeEvent(buf: Buffer): TrackerEvent {
  if (buf.length < EVENT_SIZE) throw new AgentcgroupError('bpf-event', `tracker event of ${buf.length} bytes, expected ${EVENT_SIZE}`);
  const u64 = (f: Field) => buf.readBigUInt64LE(EVENT_FIELDS[f].offset);
  const u32 = (f: Field) => buf.readUInt32LE(EVENT_FIELDS[f].offset);
  const type = TYPE_NAMES.get(u32('type'));
  if (type === undefined) throw new AgentcgroupError('bpf-event', `tracker event of unknown type ${u32('type')}`);
  return {
    type,
    tsNs: u64('ts_ns'),
    cgroupId: u64('cgroup_id'),
    watchId: u64('watch_id'),
    pid: u32('pid'),
    tgid: u32('tgid'),
    ppid: u32('ppid'),
    exitCode: buf.readInt32LE(EVENT_FIELDS.exit_code.offset),
    comm: cString(buf, 'comm'),
    filename: cString(buf, 'filename'),
    held: (u32('flags') & EVENT_FLAGS.held) !== 0,
  };
}

const PROGRAMS = ['agentcg_fork', 'agentcg_exec', 'agentcg_exit'];

/** What open() has made so far: torn down by the same code on failure and on close(). */
interface Parts {
  obj?: bpf.BpfObject;
  links: bpf.BpfLink[];
  ring?: bpf.RingBuffer;
}

function teardown(parts: Parts): void {
  for (const link of parts.links.splice(0)) bpf.destroyLink(link);
  parts.ring?.free();
  delete parts.ring;
  if (parts.obj !== undefined) bpf.closeObject(parts.obj);
  delete parts.obj;
}

function u64Key(id: bigint): Buffer {
  const key = Buffer.alloc(8);
  key.writeBigUInt64LE(id);
  return key;
}

export class Tracker {
  readonly #parts: Parts;
  readonly #watched: bpf.BpfMap;
  readonly #agents: bpf.BpfMap;
  readonly #drops: bpf.BpfMap;
  readonly #cpus: number;

  /** ring_buffer__epoll_fd: readable when events are waiting. Closed by close(). */
  readonly epollFd: number;

  private constructor(parts: Parts, watched: bpf.BpfMap, agents: bpf.BpfMap, drops: bpf.BpfMap, ring: bpf.RingBuffer) {
    this.#parts = parts;
    this.#watched = watched;
    this.#agents = agents;
    this.#drops = drops;
    this.#cpus = bpf.possibleCpus();
    this.epollFd = ring.epollFd;
  }

  /** Opens, loads and attaches the tracker; on any failure undoes what it made and throws one line. */
  static open(objectPath: string): Tracker {
    const parts: Parts = { links: [] };
    try {
      const obj = bpf.openObject(objectPath);
      parts.obj = obj;
      bpf.loadObject(obj, objectPath);
      for (const name of PROGRAMS) parts.links.push(bpf.attachProgram(obj, name));
      const ring = bpf.RingBuffer.open(bpf.findMap(obj, 'events'), 'events');
      parts.ring = ring;
      return new Tracker(parts, bpf.findMap(obj, 'watched'), bpf.findMap(obj, 'agents'), bpf.findMap(obj, 'drops'), ring);
    } catch (err) {
      teardown(parts);
      throw err;
    }
  }

  /** Reports processes in this cgroup (by id: its directory's inode number) and in all below it. */
  watch(cgroupId: bigint): void {
    this.#mark(this.#watched, 'watched', cgroupId);
  }

  /** Stops reporting a cgroup; one that was not watched is not an error. */
  unwatch(cgroupId: bigint): void {
    this.#live();
    bpf.mapDelete(this.#watched, 'watched', u64Key(cgroupId));
  }

  /**
   * Holds every exec in this agent leaf (outside terminal job control) before its first instruction:
   * its event comes with `held`, and the consumer must continue the process (SIGCONT).
   */
  holdIn(cgroupId: bigint): void {
    this.#mark(this.#agents, 'agents', cgroupId);
  }

  release(cgroupId: bigint): void {
    this.#live();
    bpf.mapDelete(this.#agents, 'agents', u64Key(cgroupId));
  }

  /**
   * Detaches the programs and keeps the ring buffer: nothing new is reported or held, and what is
   * already in the ring can still be consumed (held processes to continue) before close().
   */
  detach(): void {
    for (const link of this.#parts.links.splice(0)) bpf.destroyLink(link);
  }

  /**
   * Handles waiting events on the calling thread: every one (until the ring is found empty, however
   * long a busy producer keeps it filled) or, with a budget, at most that many or for about that
   * long; `more` then says to call again, after yielding to the event loop. No event is lost or
   * handled twice across calls (batch.ts). An exception from onEvent does not lose the rest of the
   * pass: the first one is rethrown once the pass is over.
   */
  consume(onEvent: (e: TrackerEvent) => void, budget?: Budget): Drained {
    return this.#live().consume((data) => onEvent(decodeEvent(data)), budget);
  }

  /** Events lost because the ring buffer was full, since open(): the sum of the per-CPU counters. */
  drops(): bigint {
    this.#live();
    const perCpu = Buffer.alloc(8 * this.#cpus);
    bpf.mapLookup(this.#drops, 'drops', Buffer.alloc(4), perCpu);
    let sum = 0n;
    for (let cpu = 0; cpu < this.#cpus; cpu++) sum += perCpu.readBigUInt64LE(cpu * 8);
    return sum;
  }

  /** Detaches and frees everything; calling it again does nothing. */
  close(): void {
    teardown(this.#parts);
  }

  /** Sets a cgroup's entry in one of the id -> 1 maps (watched, agents). */
  #mark(map: bpf.BpfMap, name: string, cgroupId: bigint): void {
    this.#live();
    const one = Buffer.alloc(4);
    one.writeUInt32LE(1);
    bpf.mapUpdate(map, name, u64Key(cgroupId), one);
  }

  #live(): bpf.RingBuffer {
    if (this.#parts.ring === undefined) throw new AgentcgroupError('bpf-closed', 'eBPF tracker used after close()');
    return this.#parts.ring;
  }
}
