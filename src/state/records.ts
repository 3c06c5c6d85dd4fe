import { readFileSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Bytes, Limits } from '../limits.js';
import { DEFAULT_POLICY } from '../config/policy.js';
import { isSize } from '../config/size.js';
import type { MemorySizes, Policy } from '../config/types.js';
import { AgentcgroupError } from '../errors.js';
import { keepArgv } from './argv.js';
import { appendJsonLine, ensurePrivateDir, rotatedLog, readJsonIfExists, removeIfExists, replacePrivateFile, writeJsonAtomic } from './files.js';

/**
 * What a carve leaves behind for later stages and for `exec`: where C is and the limits that were
 * planned. Lives in <runDir>/containers/<id>.json until poststop.
 */
export interface ContainerRecord {
  version: 1;
  id: string;
  /** Absolute mount point of the cgroup2 hierarchy. */
  cgroupRoot: string;
  /** C relative to cgroupRoot. */
  cgroup: string;
  /** The OCI bundle, when a hook carved it; absent when the daemon did (NRI names no bundle). */
  bundle?: string;
  pid: number;
  /** Where the carve ran (carve/container.ts CarveStage). */
  stage: string;
  /** `carving` while the hook works (the record goes first so a crash leaves it to clean up by). */
  state: 'carving' | 'carved';
  carvedAt: string;
  sessionBytes: number;
  /**
   * C's memory.max (the engine's) that sessionBytes, agent and tool were resolved against: when the
   * engine changes it (docker update --memory, an in-place pod resize), the daemon recomputes them
   * from `sizes` and writes this anew, so a daemon that restarts neither redoes nor misses a resize.
   * Absent, with `sizes`, in records of older versions: their limits stay as carved.
   */
  sessionMax?: Bytes;
  /** The policy's memory sizes as written (percentages of the session stay percentages). */
  sizes?: MemorySizes;
  agent: Limits;
  tool: Limits;
  /** tracker.framework of the container's policy: programs that are not tool calls. */
  framework: string[];
  /** tracker.launchers of the container's policy; absent in records of older versions (the defaults). */
  launchers?: string[];
  /** The container's own priority rank (low 0, normal 1, high 2) and the containers it depends on. */
  priority: number;
  dependsOn: string[];
  /**
   * oom_score_adj: the engine's, read from the container's init at the carve (its framework keeps it),
   * and the one each tool call gets when it is placed. Absent in records of older versions.
   */
  oomScoreAdj?: { engine: number; tool: number };
}

/**
 * The oom_score_adj to write for a tool call placed in this container: a call inherits its
 * framework's, and must sit above it to be the OOM killer's first pick within the container. A record
 * of an older version had its framework at -900; 0 is what its calls got then.
 */
export function callOomScoreAdj(rec: ContainerRecord): number {
  return rec.oomScoreAdj?.tool ?? 0;
}

const isOomScoreAdj = (v: unknown) => Number.isInteger(v) && (v as number) >= -1000 && (v as number) <= 1000;

/** Whether a record's oomScoreAdj is one we wrote: it ends up in /proc, so it is checked like input. */
function validOom(v: ContainerRecord['oomScoreAdj'] | undefined): boolean {
  return v === undefined || (typeof v === 'object' && v !== null && isOomScoreAdj(v.engine) && isOomScoreAdj(v.tool));
}

const isLimit = (v: unknown) => v === 'max' || (Number.isSafeInteger(v) && (v as number) >= 0);

/** Whether a record's sessionMax and sizes are ones we wrote: a resize writes what they resolve to into cgroupfs. */
function validSizing(r: Pick<ContainerRecord, 'sessionMax' | 'sizes'>): boolean {
  const s = r.sizes as Partial<Record<keyof MemorySizes, Record<string, unknown>>> | undefined;
  const sizes = s === undefined || (typeof s === 'object' && s !== null && [s.session?.memoryHigh, s.agent?.memoryHigh, s.agent?.memoryMax, s.tool?.memoryHigh, s.tool?.memoryMax].every(isSize));
  return sizes && (r.sessionMax === undefined || isLimit(r.sessionMax));
}

/** A tool call in flight: written when it starts, removed when its record is logged. */
export interface RunningCall {
  callId: string;
  name: string;
  argv: string[];
  cgroup: string;
  start: string;
  limits: { high: Bytes; max: Bytes };
  /** Who ends it: `exec` waits for its own child; the daemon watches the cgroup empty. */
  owner: 'exec' | 'daemon';
  /** The process the call started with (daemon-owned calls): its exit status is the call's. */
  leader?: number;
  /** Daemon-owned calls: how long after its fork and its exec the leader sat in the call's cgroup. */
  placement?: Placement;
  /** Daemon-owned calls: the process that started it, as the daemon took it (framework or session). */
  startedBy?: StartedBy;
  /**
   * Daemon-owned calls: the agent leaf's memory.current, bytes, as the call began (before its leader
   * moved out): the framework's footprint at that moment, what `agentcgroup report` reads as its baseline.
   */
  agentMemory?: number;
}

export interface StartedBy {
  pid: number;
  role: 'framework' | 'session';
  name: string;
}

export interface Placement {
  /** null when the fork was not seen (the daemon started later). */
  afterForkUs: number | null;
  afterExecUs: number;
  /** The tracker stopped the leader at exec until it was in place: nothing it ran was charged elsewhere. */
  heldAtExec?: boolean;
}

/** One line of a container's call log. */
export interface CallRecord {
  id: string;
  container: string | null;
  name: string;
  argv: string[];
  cgroup: string;
  start: string;
  end: string;
  durationMs: number | null;
  exit: number | null;
  signal: string | null;
  /**
   * ok: exit 0; failed: non-zero exit; killed: by a signal; oom-killed: memory.max hit; cut-off: the
   * container went away first; ended: its processes are gone but no exit status was seen.
   */
  outcome: 'ok' | 'failed' | 'oom-killed' | 'killed' | 'cut-off' | 'ended';
  reason?: string;
  placement?: Placement;
  startedBy?: StartedBy;
  /** The agent leaf's memory.current as the call began (RunningCall.agentMemory). */
  agentMemory?: number;
  memory: { peak: number | null; high: Bytes; max: Bytes };
  events: { high: number; max: number; oom: number; oom_kill: number };
  pressure: { someUs: number; fullUs: number };
  /** Present when the graduated response froze the call or reclaimed its memory. */
  ladder?: LadderRecord;
}

/** What the graduated response did to a call short of ending it: how long it stood frozen, what it gave back. */
export interface LadderRecord {
  frozenMs: number;
  /** Its memory.current before minus after each reclaim, summed: what its budgets got back. */
  reclaimedBytes: number;
}

/** What the store keeps of what a container controls (policy `limits`). */
export type StoreLimits = Pick<Policy['limits'], 'argvBytes' | 'callLogBytes'>;

/** A claim a claimer left (StateStore.orphanClaims). */
export interface OrphanClaim {
  callId: string;
  pid: number;
  call: RunningCall | undefined;
}

/** A claimed marker: `<call>.ending.<pid of the claimer>`. */
const CLAIM = /^([a-z0-9_][a-z0-9_.-]*)\.ending\.(\d+)$/;
const claimName = (callId: string, pid: number) => `${callId}.ending.${pid}`;

export class StateStore {
  constructor(
    readonly runDir: string,
    readonly callLogDir: string,
    /**
     * Applied here, where every marker and record is written, whoever made it (exec, the daemon from
     * a request or a cmdline, a finalizer from a marker): no writer can forget the bound.
     */
    readonly limits: StoreLimits = DEFAULT_POLICY.limits,
  ) {}

  containerFile(id: string): string {
    return join(this.runDir, 'containers', `${id}.json`);
  }

  callsDir(id: string): string {
    return join(this.runDir, 'calls', id);
  }

  callLog(key: string): string {
    return join(this.callLogDir, `${key}.jsonl`);
  }

  /**
   * Makes and checks (files.ts ensurePrivateDir) the run dir with its container records and the call
   * log dir, at a start: the daemon refuses to run on directories others could have planted in.
   */
  ensureDirs(): void {
    ensurePrivateDir(join(this.runDir, 'containers'), this.runDir);
    ensurePrivateDir(this.callLogDir);
  }

  saveContainer(rec: ContainerRecord): void {
    writeJsonAtomic(this.containerFile(rec.id), rec, this.runDir);
  }

  loadContainer(id: string): ContainerRecord | undefined {
    let raw: unknown;
    try {
      raw = readJsonIfExists(this.containerFile(id));
    } catch (err) {
      throw new AgentcgroupError('bad-record', `container record ${this.containerFile(id)} is unreadable: ${(err as Error).message}`);
    }
    if (raw === undefined) return undefined;
    const r = raw as Partial<ContainerRecord>;
    if (r.version !== 1 || r.id !== id || typeof r.cgroup !== 'string' || typeof r.cgroupRoot !== 'string' || typeof r.tool !== 'object' || !Array.isArray(r.framework) || !Array.isArray(r.dependsOn) || (r.launchers !== undefined && !Array.isArray(r.launchers)) || !validOom(r.oomScoreAdj) || !validSizing(r)) {
      throw new AgentcgroupError('bad-record', `container record ${this.containerFile(id)} is not one of ours (or from another version)`);
    }
    return r as ContainerRecord;
  }

  removeContainer(id: string): void {
    removeIfExists(this.containerFile(id));
    removeIfExists(this.callsDir(id));
  }

  markRunning(container: string, call: RunningCall): void {
    writeJsonAtomic(join(this.callsDir(container), `${call.callId}.json`), { ...call, argv: keepArgv(call.argv, this.limits.argvBytes) }, this.runDir);
  }

  clearRunning(container: string, callId: string): void {
    removeIfExists(join(this.callsDir(container), `${callId}.json`));
    removeIfExists(join(this.callsDir(container), claimName(callId, process.pid)));
    // An older version's claim had no pid.
    removeIfExists(join(this.callsDir(container), `${callId}.ending`));
    removeIfExists(this.ladderFile(container, callId));
  }

  /**
   * A call gets exactly one record, though several may want to write it (exec or the daemon when it
   * ends, poststop or a sweep when its container went first): the one that renames the marker away
   * writes it. False when another got there first. The claim names its claimer's pid: one killed
   * before it wrote the record leaves a claim that a teardown finds (orphanClaims) and logs.
   */
  claimRunning(container: string, callId: string): boolean {
    const marker = join(this.callsDir(container), `${callId}.json`);
    try {
      renameSync(marker, join(this.callsDir(container), claimName(callId, process.pid)));
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code !== 'ENOENT';
    }
  }

  /**
   * Claims whose claimer is no longer `alive` (killed between its claim and its record): the call, and
   * what its marker said (undefined when unreadable).
   */
  orphanClaims(container: string, alive: (pid: number) => boolean): OrphanClaim[] {
    let names: string[];
    try {
      names = readdirSync(this.callsDir(container));
    } catch {
      return [];
    }
    const out: OrphanClaim[] = [];
    for (const n of names) {
      const m = CLAIM.exec(n);
      if (!m || alive(Number(m[2]))) continue;
      let call: RunningCall | undefined;
      try {
        const c = readJsonIfExists(join(this.callsDir(container), n)) as RunningCall | undefined;
        if (c && typeof c.callId === 'string') call = c;
      } catch {
        // unreadable: the claim still goes
      }
      out.push({ callId: m[1]!, pid: Number(m[2]), call });
    }
    return out;
  }

  dropClaim(container: string, claim: OrphanClaim): void {
    removeIfExists(join(this.callsDir(container), claimName(claim.callId, claim.pid)));
  }

  /** Whether the call log `key` (or the one it rotated to `.1`) holds a record of the call. */
  hasCallRecord(key: string, callId: string): boolean {
    const quoted = JSON.stringify(callId);
    for (const path of [this.callLog(key), rotatedLog(this.callLog(key))]) {
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n')) {
        if (!line.includes(quoted)) continue;
        try {
          if ((JSON.parse(line) as { id?: unknown }).id === callId) return true;
        } catch {
          // a torn line is no record
        }
      }
    }
    return false;
  }

  /** Container ids with a record, for the daemon's start-up scan. */
  containerIds(): string[] {
    try {
      return readdirSync(join(this.runDir, 'containers'))
        .filter((n) => n.endsWith('.json'))
        .map((n) => n.slice(0, -'.json'.length));
    } catch {
      return [];
    }
  }

  /** Calls still marked running; unreadable markers are skipped (a crash mid-write leaves only a .tmp). */
  runningCalls(container: string): RunningCall[] {
    let names: string[];
    try {
      names = readdirSync(this.callsDir(container)).filter((n) => n.endsWith('.json'));
    } catch {
      return [];
    }
    const calls: RunningCall[] = [];
    for (const n of names) {
      try {
        const c = readJsonIfExists(join(this.callsDir(container), n)) as RunningCall | undefined;
        if (c && typeof c.callId === 'string') calls.push(c);
      } catch {
        // skipped: see above
      }
    }
    return calls;
  }

  /** Why the daemon ended a call that `exec` runs: exec reads it to tell its caller. */
  reasonFile(container: string, callId: string): string {
    return join(this.callsDir(container), `${callId}.reason`);
  }

  /** Beside the call's marker: when the marker's directory went with its container, this fails (ENOENT) rather than leave a stray. */
  writeReason(container: string, callId: string, reason: string): void {
    replacePrivateFile(this.reasonFile(container, callId), reason);
  }

  /** Beside the reason file, for an exec-owned call: exec puts it in the record. Replaced at each change. */
  ladderFile(container: string, callId: string): string {
    return join(this.callsDir(container), `${callId}.ladder`);
  }

  writeLadder(container: string, callId: string, ladder: LadderRecord): void {
    replacePrivateFile(this.ladderFile(container, callId), `${JSON.stringify(ladder)}\n`);
  }

  appendCall(key: string, rec: CallRecord): void {
    appendJsonLine(this.callLog(key), { ...rec, argv: keepArgv(rec.argv, this.limits.argvBytes) }, this.callLogDir, this.limits.callLogBytes);
  }
}
