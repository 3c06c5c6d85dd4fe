/**
 * The sched_ext agent scheduler (bpf/sched/agentsched.bpf.c, issue 21 prototype): loads it, gives
 * cgroups their class (agent leaf, tool call by priority) and registers it as the system's scheduler
 * through a BPF link, so that it goes away with the link's file descriptor: on detach(), close(), or
 * when this process dies, SIGKILL included. The kernel's own watchdog reverts to the fair class too if
 * the scheduler lets a task wait more than its timeout (5 s).
 */
import { closeSync } from 'node:fs';
import { AgentcgroupError } from '../errors.js';
import * as bpf from './libbpf.js';
import { type BpfObjectSpec, bpfObjectPath } from './object-path.js';

export const SCHED_OBJECT_ENV = 'AGENTCGROUP_SCHED_OBJECT';

/** The scheduler's classes as the daemon names them (policy/schedclass.ts decides who gets which). */
export type SchedClass = 'other' | 'agent' | 'toolHigh' | 'tool' | 'toolLow' | 'supervisor';
export { SCHED_OPS_NAME, type SchedExtStatus, runsOurs, schedExtStatus } from './schedext.js';
/** CLASS_* of bpf/sched/agentsched.h. */
export const SCHED_CLASSES: Readonly<Record<SchedClass, number>> = { other: 0, agent: 1, toolHigh: 2, tool: 3, toolLow: 4, supervisor: 5 };

/** STAT_* of bpf/sched/agentsched.h, in slot order. */
export const SCHED_STATS = [
  'enqAgent',
  'enqShared',
  'direct',
  'dispAgent',
  'dispShared',
  'guard',
  'kick',
  'classify',
  'classed',
  'keepAgent',
  // nanoseconds run, by class
  'runNsOther',
  'runNsAgent',
  'runNsToolHigh',
  'runNsTool',
  'runNsToolLow',
  'runNsSupervisor',
] as const;
export type SchedStats = Record<(typeof SCHED_STATS)[number], bigint>;

/** struct agentsched_exit of bpf/sched/agentsched.h. */
const EXIT_LAYOUT = { kind: 0, exitCode: 8, reason: 16, reasonLen: 128, msg: 144, msgLen: 256, size: 400 } as const;

export interface SchedExit {
  /** enum scx_exit_kind: 64 unregistered by user space (our detach), 1024+ an error (1026: a stall). */
  kind: number;
  exitCode: bigint;
  reason: string;
  msg: string;
}

const STRUCT_OPS_MAP = 'agentsched';
const SLEEPABLE_PROGRAMS = ['agentsched_init'];

const SCHED_OBJECT: BpfObjectSpec = { file: 'agentsched.bpf.o', envVar: SCHED_OBJECT_ENV, what: 'sched_ext scheduler object', build: 'bash bpf/build.sh', embedded: true };

/** The compiled scheduler: AGENTCGROUP_SCHED_OBJECT, the single executable's own copy, or agentsched.bpf.o beside the script. */
export function schedObjectPath(env: NodeJS.ProcessEnv = process.env, script: string | undefined = process.argv[1]): string {
  return bpfObjectPath(SCHED_OBJECT, env, script);
}

function u64Key(id: bigint): Buffer {
  const key = Buffer.alloc(8);
  key.writeBigUInt64LE(id);
  return key;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

function cString(buf: Buffer, offset: number, size: number): string {
  const nul = buf.indexOf(0, offset);
  return buf.toString('utf8', offset, nul < 0 || nul > offset + size ? offset + size : nul);
}

export class AgentScheduler {
  #obj: bpf.BpfObject | undefined;
  readonly #classes: bpf.BpfMap;
  readonly #supervisors: bpf.BpfMap;
  readonly #generation: bpf.BpfMap;
  readonly #stats: bpf.BpfMap;
  readonly #exitInfo: bpf.BpfMap;
  readonly #ops: bpf.BpfMap;
  readonly #exitFd: number;
  readonly #cpus: number;
  #gen = 0;
  #linkFd: number | undefined;

  private constructor(obj: bpf.BpfObject) {
    this.#obj = obj;
    this.#classes = bpf.findMap(obj, 'classes');
    this.#supervisors = bpf.findMap(obj, 'supervisors');
    this.#generation = bpf.findMap(obj, 'generation');
    this.#stats = bpf.findMap(obj, 'stats');
    this.#exitInfo = bpf.findMap(obj, 'exit_info');
    this.#ops = bpf.findMap(obj, STRUCT_OPS_MAP);
    this.#exitFd = bpf.mapFd(bpf.findMap(obj, 'exit_ring'), 'exit_ring');
    this.#cpus = bpf.possibleCpus();
  }

  /** Opens and loads (verifies) the scheduler without registering it; throws one line on failure. */
  static open(objectPath: string = schedObjectPath()): AgentScheduler {
    const obj = bpf.openObject(objectPath);
    try {
      bpf.setMapFlags(bpf.findMap(obj, STRUCT_OPS_MAP), STRUCT_OPS_MAP, bpf.BPF_F_LINK);
      for (const name of SLEEPABLE_PROGRAMS) bpf.setProgramFlags(obj, name, bpf.BPF_F_SLEEPABLE);
      bpf.loadObject(obj, objectPath);
      return new AgentScheduler(obj);
    } catch (err) {
      bpf.closeObject(obj);
      throw err;
    }
  }

  /** Gives a cgroup (by id: its directory's inode number) and everything below it a class. */
  setClass(cgroupId: bigint, cls: SchedClass): void {
    this.#live();
    bpf.mapUpdate(this.#classes, 'classes', u64Key(cgroupId), u32(SCHED_CLASSES[cls]));
    this.#bump();
  }

  /** Forgets a cgroup's class (it falls back to its nearest classed ancestor's, or other); false if it had none. */
  removeClass(cgroupId: bigint): boolean {
    this.#live();
    const had = bpf.mapDelete(this.#classes, 'classes', u64Key(cgroupId));
    if (had) this.#bump();
    return had;
  }

  /**
   * Puts a process (all its threads: by tgid) in the supervisor class, queued with the agent tasks:
   * the daemon, which tool calls wait on. Its cgroup is not used, as it may hold other host tasks.
   */
  addSupervisor(tgid: number): void {
    this.#live();
    if (!Number.isSafeInteger(tgid) || tgid <= 0 || tgid > 0xffffffff) throw new AgentcgroupError('bpf-map', `not a process id: ${tgid}`);
    bpf.mapUpdate(this.#supervisors, 'supervisors', u32(tgid), u32(1));
    this.#bump();
  }

  /**
   * Makes this the system's scheduler (all tasks, not only SCHED_EXT ones). It stays so until detach(),
   * close() or this process's end, unless the kernel throws it out first (see exitInfo()).
   */
  attach(): void {
    this.#live();
    if (this.#linkFd !== undefined) throw new AgentcgroupError('bpf-attach', 'sched_ext scheduler already attached');
    this.#linkFd = bpf.attachStructOpsLink(this.#ops, STRUCT_OPS_MAP);
  }

  get attached(): boolean {
    return this.#linkFd !== undefined;
  }

  /**
   * Turns readable (EPOLLIN) when the scheduler stops, the kernel ejecting it included: ops.exit writes
   * its record to a ring buffer. Owned by the object: stop watching it before close().
   */
  get exitFd(): number {
    this.#live();
    return this.#exitFd;
  }

  /** Unregisters: every task goes back to the fair class. Not attached: does nothing. */
  detach(): void {
    if (this.#linkFd === undefined) return;
    const fd = this.#linkFd;
    this.#linkFd = undefined;
    closeSync(fd);
  }

  /** Counters since load, summed over CPUs. */
  stats(): SchedStats {
    this.#live();
    const perCpu = Buffer.alloc(8 * this.#cpus);
    const out = {} as SchedStats;
    SCHED_STATS.forEach((name, slot) => {
      bpf.mapLookup(this.#stats, 'stats', u32(slot), perCpu);
      let sum = 0n;
      for (let cpu = 0; cpu < this.#cpus; cpu++) sum += perCpu.readBigUInt64LE(cpu * 8);
      out[name] = sum;
    });
    return out;
  }

  /** Why the scheduler last stopped (ops.exit), or undefined while it has never stopped. */
  exitInfo(): SchedExit | undefined {
    this.#live();
    const buf = Buffer.alloc(EXIT_LAYOUT.size);
    bpf.mapLookup(this.#exitInfo, 'exit_info', u32(0), buf);
    const kind = buf.readInt32LE(EXIT_LAYOUT.kind);
    if (kind === 0) return undefined;
    return {
      kind,
      exitCode: buf.readBigInt64LE(EXIT_LAYOUT.exitCode),
      reason: cString(buf, EXIT_LAYOUT.reason, EXIT_LAYOUT.reasonLen),
      msg: cString(buf, EXIT_LAYOUT.msg, EXIT_LAYOUT.msgLen),
    };
  }

  /** Detaches and frees everything; calling it again does nothing. */
  close(): void {
    this.detach();
    if (this.#obj !== undefined) bpf.closeObject(this.#obj);
    this.#obj = undefined;
  }

  /** Tells the scheduler `classes` or `supervisors` changed: tasks' cached classes are looked up again. */
  #bump(): void {
    this.#gen = (this.#gen + 1) >>> 0;
    bpf.mapUpdate(this.#generation, 'generation', u32(0), u32(this.#gen));
  }

  #live(): void {
    if (this.#obj === undefined) throw new AgentcgroupError('bpf-closed', 'sched_ext scheduler used after close()');
  }
}
