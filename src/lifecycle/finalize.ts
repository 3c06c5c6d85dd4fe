/**
 * Finalizing a container that has ended: the hook's poststop does it for its own container, and both
 * the hook and the daemon sweep up containers whose poststop never came.
 */
import { Cgroupfs } from '../cgroup/cgroupfs.js';
import { killAndRemove } from '../cgroup/lifecycle.js';
import { parseFlatKeyed } from '../cgroup/stats.js';
import { AgentcgroupError, describeError } from '../errors.js';
import { cutOffRecord } from '../exec/record.js';
import type { HostEnv } from '../host/env.js';
import { AGENT_LEAF, TOOLS_PARENT } from '../layout.js';
import { removeIfExists } from '../state/files.js';
import { execSocketDir } from '../state/paths.js';
import type { ContainerRecord, StateStore } from '../state/records.js';
import { settleCall } from '../state/settle.js';

export interface TeardownOutcome {
  warnings: string[];
}

/**
 * Calls still marked running are logged as cut off, leftovers removed, then our run state for the
 * container. C itself only once the runtime has `deleted` the container (its poststop): a container
 * that has merely stopped is still the runtime's, and engines read C's memory.events after the exit
 * (Docker's and containerd's OOMKilled), so C must outlive it until delete.
 */
export function finalizeContainer(id: string, store: StateStore, host: HostEnv, runtime: 'deleted' | 'stopped' = 'stopped'): TeardownOutcome {
  const warnings: string[] = [];
  let record: ContainerRecord | undefined;
  try {
    record = store.loadContainer(id);
  } catch (err) {
    warnings.push(describeError(err));
  }
  const now = host.now();
  // Calls still in flight when the container went away are logged as cut off.
  for (const call of store.runningCalls(id)) settleCall(store, cutOffRecord(id, call, now), id, (line) => warnings.push(line));
  if (record) removeLeftovers(new Cgroupfs(record.cgroupRoot, host.fsOps), record.cgroup, runtime === 'deleted', warnings);
  store.removeContainer(id);
  removeIfExists(execSocketDir(store.runDir, id));
  return { warnings };
}

/**
 * A record of a container that has ended is finalized as its poststop would have. Unreadable records
 * are left to their own container's poststop.
 */
export function sweepStale(store: StateStore, host: HostEnv): { finalized: string[]; warnings: string[] } {
  const finalized: string[] = [];
  const warnings: string[] = [];
  for (const id of store.containerIds()) {
    let record: ContainerRecord | undefined;
    try {
      record = store.loadContainer(id);
    } catch {
      continue;
    }
    if (!record || !ended(new Cgroupfs(record.cgroupRoot, host.fsOps), record)) continue;
    try {
      warnings.push(...finalizeContainer(id, store, host).warnings);
      finalized.push(id);
    } catch (err) {
      warnings.push(`container ${id}: ${describeError(err)}`);
    }
  }
  return { finalized, warnings };
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

/**
 * Only when C outlived the container (the runtime died, or runc could not remove C because a tool call
 * started from the host, outside the container's pid namespace, still ran in it): end and remove the
 * cgroups we made, then C once empty, since the runtime has given up on it (runc and crun both accept
 * a cgroup already gone at delete). The agent leaf and C are removed only once empty; a live
 * container's processes are never touched here.
 */
function removeLeftovers(fs: Cgroupfs, cgroup: string, removeC: boolean, warnings: string[]): void {
  const tools = `${cgroup}/${TOOLS_PARENT}`;
  const agent = `${cgroup}/${AGENT_LEAF}`;
  const attempt = (what: () => void) => {
    try {
      what();
    } catch (err) {
      // Gone already: the runtime removing C at the same time, or another finalizer.
      if (!(err instanceof AgentcgroupError && err.code === 'cgroup-enoent')) warnings.push(describeError(err));
    }
  };
  attempt(() => {
    if (!fs.exists(tools)) return;
    for (const call of fs.children(tools)) attempt(() => killAndRemove(fs, `${tools}/${call}`));
    fs.remove(tools);
  });
  attempt(() => {
    if (fs.exists(agent) && fs.procs(agent).length === 0) fs.remove(agent);
  });
  attempt(() => {
    if (removeC && fs.exists(cgroup) && fs.children(cgroup).length === 0 && fs.procs(cgroup).length === 0) fs.remove(cgroup);
  });
}
