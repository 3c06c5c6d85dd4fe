/**
 * Finalizing a container that has ended: the hook's poststop does it for its own container, and both
 * the hook and the daemon sweep up containers whose poststop never came.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Cgroupfs } from '../cgroup/cgroupfs.js';
import { ASYNC_TIMEOUT_MS, killAndRemove, killAndRemoveAsync } from '../cgroup/lifecycle.js';
import { parseFlatKeyed } from '../cgroup/stats.js';
import { AgentcgroupError, describeError } from '../errors.js';
import { cutOffRecord } from '../exec/record.js';
import type { HostEnv } from '../host/env.js';
import { AGENT_LEAF, TOOLS_PARENT } from '../layout.js';
import { removeIfExists } from '../state/files.js';
import { execSocketDir } from '../state/paths.js';
import type { ContainerRecord, StateStore } from '../state/records.js';
import { settleCall } from '../state/settle.js';
import { listUncarved, removeUncarved } from '../state/uncarved.js';

/** Looks for markers written late, before the run state goes: a container that has ended begins no calls for long. */
const LATE_ROUNDS = 3;

export interface TeardownOutcome {
  warnings: string[];
}

/** A container being finalized: what the steps before and after ending its leftover calls share. */
interface Finalizing {
  id: string;
  store: StateStore;
  /** Its cgroups, when its record could be read. */
  cgroups: { fs: Cgroupfs; cgroup: string } | undefined;
  removeC: boolean;
  warnings: string[];
  host: HostEnv;
  /** Calls whose markers this finalizer has settled: a marker of one written again later is not a new call. */
  settled: Set<string>;
}

/**
 * Calls still marked running are logged as cut off, leftovers removed, then our run state for the
 * container. C itself only once the runtime has `deleted` the container (its poststop): a container
 * that has merely stopped is still the runtime's, and engines read C's memory.events after the exit
 * (Docker's and containerd's OOMKilled), so C must outlive it until delete. Blocks while stragglers
 * die: for the hook.
 */
export function finalizeContainer(id: string, store: StateStore, host: HostEnv, runtime: 'deleted' | 'stopped' = 'stopped'): TeardownOutcome {
  const f = begin(id, store, host, runtime);
  const left = leftoverCalls(f);
  if (left) for (const cg of left.calls) attempt(f, () => killAndRemove(left.fs, cg));
  return end(f, left !== undefined);
}

/**
 * finalizeContainer for the daemon: stragglers are waited for on inotify, all of a container's at
 * once, and its thread runs on meanwhile. `timeoutMs` bounds each straggler's wait (the daemon's own
 * default; the hook's when the daemon runs a hook for its front).
 */
export async function finalizeContainerAsync(
  id: string,
  store: StateStore,
  host: HostEnv,
  runtime: 'deleted' | 'stopped' = 'stopped',
  timeoutMs: number = ASYNC_TIMEOUT_MS,
): Promise<TeardownOutcome> {
  const f = begin(id, store, host, runtime);
  const left = leftoverCalls(f);
  if (left) await Promise.all(left.calls.map((cg) => killAndRemoveAsync(left.fs, cg, timeoutMs).catch((err: unknown) => note(f, err))));
  return end(f, left !== undefined);
}

function begin(id: string, store: StateStore, host: HostEnv, runtime: 'deleted' | 'stopped'): Finalizing {
  const warnings: string[] = [];
  let record: ContainerRecord | undefined;
  try {
    record = store.loadContainer(id);
  } catch (err) {
    warnings.push(describeError(err));
  }
  const cgroups = record && { fs: new Cgroupfs(record.cgroupRoot, host.fsOps), cgroup: record.cgroup };
  const f: Finalizing = { id, store, cgroups, removeC: runtime === 'deleted', warnings, host, settled: new Set() };
  // Calls still in flight when the container went away are logged as cut off.
  settleMarked(f);
  return f;
}

/**
 * Every call marked running that this finalizer has not settled yet is logged as cut off; how many
 * there were. A call is claimed (settle.ts), so its owner ending it meanwhile still makes one record.
 */
function settleMarked(f: Finalizing): number {
  const now = f.host.now();
  const calls = f.store.runningCalls(f.id).filter((call) => !f.settled.has(call.callId));
  for (const call of calls) {
    f.settled.add(call.callId);
    settleCall(f.store, cutOffRecord(f.id, call, now), f.id, (line) => f.warnings.push(line));
  }
  return calls.length;
}

/**
 * The tool-call cgroups left under C, or undefined when there is no tools/ to empty. Only when C
 * outlived the container (the runtime died, or runc could not remove C because a tool call started
 * from the host, outside the container's pid namespace, still ran in it) are there any: they are
 * ended and removed, since the runtime has given up on them.
 */
function leftoverCalls(f: Finalizing): { fs: Cgroupfs; calls: string[] } | undefined {
  if (!f.cgroups) return undefined;
  const { fs, cgroup } = f.cgroups;
  const tools = `${cgroup}/${TOOLS_PARENT}`;
  let left: { fs: Cgroupfs; calls: string[] } | undefined;
  attempt(f, () => {
    if (fs.exists(tools)) left = { fs, calls: fs.children(tools).map((call) => `${tools}/${call}`) };
  });
  return left;
}

/**
 * What is left of ours once the calls are gone: tools/ (when its calls were listed), the agent leaf
 * and C (when deleted) only once empty, since a live container's processes are never touched here
 * (runc and crun both accept a cgroup already gone at delete); then our run state.
 */
function end(f: Finalizing, removeTools: boolean): TeardownOutcome {
  if (f.cgroups) {
    const { fs, cgroup } = f.cgroups;
    const agent = `${cgroup}/${AGENT_LEAF}`;
    if (removeTools) attempt(f, () => fs.remove(`${cgroup}/${TOOLS_PARENT}`));
    attempt(f, () => {
      if (fs.exists(agent) && fs.procs(agent).length === 0) fs.remove(agent);
    });
    attempt(f, () => {
      if (f.removeC && fs.exists(cgroup) && fs.children(cgroup).length === 0 && fs.procs(cgroup).length === 0) fs.remove(cgroup);
    });
  }
  // A call may have begun since the first look (the daemon placing an exec it read late, while the
  // stragglers above were waited for): its marker would go with the directory, unlogged, and its
  // owner, finding it gone, would take it for claimed. Looked at again right before the removal, as
  // long as new ones appear; a marker rewritten after its call was settled here is no new call.
  for (let round = 0; round < LATE_ROUNDS; round++) if (settleMarked(f) === 0) break;
  settleOrphanClaims(f);
  f.store.removeContainer(f.id);
  removeIfExists(execSocketDir(f.store.runDir, f.id));
  removeUncarved(f.store.runDir, f.id);
  return { warnings: f.warnings };
}

/**
 * A claimer killed between its claim and its record (the daemon SIGKILLed as it ended a call) left
 * its claim behind, which would go with the directory, the call unlogged: it is logged here, cut off,
 * unless the record made it. A claimer still alive writes its own. (Its pid is read in this /proc: a
 * claimer in another pid namespace would look dead, and its call could get a second record.)
 */
function settleOrphanClaims(f: Finalizing): void {
  const alive = (pid: number) => pid === process.pid || existsSync(join(f.host.procRoot, String(pid)));
  for (const claim of f.store.orphanClaims(f.id, alive)) {
    if (claim.call && !f.store.hasCallRecord(f.id, claim.callId)) {
      try {
        f.store.appendCall(f.id, cutOffRecord(f.id, claim.call, f.host.now()));
      } catch (err) {
        f.warnings.push(`call ${claim.callId}: cannot write the call log ${f.store.callLog(f.id)}: ${describeError(err)}`);
      }
    }
    f.store.dropClaim(f.id, claim);
  }
}

function attempt(f: Finalizing, what: () => void): void {
  try {
    what();
  } catch (err) {
    note(f, err);
  }
}

function note(f: Finalizing, err: unknown): void {
  // Gone already: the runtime removing C at the same time, or another finalizer.
  if (!(err instanceof AgentcgroupError && err.code === 'cgroup-enoent')) f.warnings.push(describeError(err));
}

export interface SweepOutcome {
  finalized: string[];
  warnings: string[];
}

type Finalized = { id: string; outcome: TeardownOutcome } | { id: string; error: unknown };

/**
 * A record of a container that has ended is finalized as its poststop would have. Unreadable records
 * are left to their own container's poststop. Blocks: for the hook.
 */
export function sweepStale(store: StateStore, host: HostEnv): SweepOutcome {
  return report(
    staleIds(store, host).map((id): Finalized => {
      try {
        return { id, outcome: finalizeContainer(id, store, host) };
      } catch (error) {
        return { id, error };
      }
    }),
  );
}

/** sweepStale for the daemon: the ended containers are finalized side by side, without blocking. */
export async function sweepStaleAsync(store: StateStore, host: HostEnv, timeoutMs: number = ASYNC_TIMEOUT_MS): Promise<SweepOutcome> {
  const results = await Promise.all(
    staleIds(store, host).map((id) => finalizeContainerAsync(id, store, host, 'stopped', timeoutMs).then(
      (outcome): Finalized => ({ id, outcome }),
      (error: unknown): Finalized => ({ id, error }),
    )),
  );
  return report(results);
}

function report(results: Finalized[]): SweepOutcome {
  const out: SweepOutcome = { finalized: [], warnings: [] };
  for (const r of results) {
    if ('error' in r) out.warnings.push(`container ${r.id}: ${describeError(r.error)}`);
    else {
      out.warnings.push(...r.outcome.warnings);
      out.finalized.push(r.id);
    }
  }
  return out;
}

function staleIds(store: StateStore, host: HostEnv): string[] {
  // Records of containers that started uncarved and have ended go too (listing them removes those).
  listUncarved(store.runDir, host.procRoot);
  return store.containerIds().filter((id) => {
    let record: ContainerRecord | undefined;
    try {
      record = store.loadContainer(id);
    } catch {
      return false;
    }
    return record !== undefined && ended(new Cgroupfs(record.cgroupRoot, host.fsOps), record);
  });
}

/**
 * C is gone, or nothing runs in the agent leaf any more: the container's init and everything in its
 * pid namespace are dead. (The record is written only once C exists and says `carved` only once init
 * sits in the agent leaf, so a carve in progress never looks ended.)
 */
function ended(fs: Cgroupfs, record: ContainerRecord): boolean {
  if (!fs.exists(record.cgroup)) return true;
  if (record.state !== 'carved') return false;
  const agent = `${record.cgroup}/${AGENT_LEAF}`;
  try {
    return !fs.exists(agent) || parseFlatKeyed(fs.read(agent, 'cgroup.events')).populated === 0;
  } catch {
    return false;
  }
}
