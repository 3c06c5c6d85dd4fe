import { Cgroupfs } from '../cgroup/cgroupfs.js';
import { killAndRemove } from '../cgroup/lifecycle.js';
import { AGENT_LEAF, TOOLS_PARENT } from '../carve/plan.js';
import { execSocketDir } from '../daemon/paths.js';
import { describeError } from '../errors.js';
import type { OciState } from '../oci/types.js';
import { cutOffRecord } from '../exec/record.js';
import { removeIfExists } from '../state/files.js';
import type { ContainerRecord, StateStore } from '../state/records.js';
import type { HostEnv } from './environment.js';

export interface TeardownOutcome {
  /** Calls still in flight when the container went away, now logged as cut off. */
  cutOff: number;
  warnings: string[];
}

/**
 * poststop: runc and crun have already removed C and everything below it, so this finalizes our own
 * state. Idempotent, and safe when createRuntime never ran or failed: it only removes what a record
 * says we made. It also finalizes any other container whose cgroup is gone (its poststop was killed,
 * or never ran): nothing of a dead container waits for a daemon to notice.
 */
export function teardownContainer(state: OciState, store: StateStore, host: HostEnv): TeardownOutcome {
  const own = finalizeContainer(state.id, store, host);
  const others = sweepStale(store, host);
  return { cutOff: own.cutOff, warnings: [...own.warnings, ...others.warnings] };
}

/** Calls still marked running are logged as cut off, leftovers removed, then our run state for the container. */
export function finalizeContainer(id: string, store: StateStore, host: HostEnv): TeardownOutcome {
  const warnings: string[] = [];
  let record: ContainerRecord | undefined;
  try {
    record = store.loadContainer(id);
  } catch (err) {
    warnings.push(describeError(err));
  }
  const now = host.now();
  let cutOff = 0;
  for (const call of store.runningCalls(id)) {
    if (!store.claimRunning(id, call.callId)) continue;
    store.appendCall(id, cutOffRecord(id, call, now));
    cutOff++;
  }
  if (record) removeLeftovers(new Cgroupfs(record.cgroupRoot, host.fsOps), record.cgroup, warnings);
  store.removeContainer(id);
  removeIfExists(execSocketDir(store.runDir, id));
  return { cutOff, warnings };
}

/**
 * A record whose container cgroup no longer exists belongs to a container that is gone: finalized as
 * its poststop would have. (The record is written only once C exists, so a carve in progress is safe.)
 * Unreadable records are left to their own container's poststop.
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
    if (!record || new Cgroupfs(record.cgroupRoot, host.fsOps).exists(record.cgroup)) continue;
    warnings.push(...finalizeContainer(id, store, host).warnings);
    finalized.push(id);
  }
  return { finalized, warnings };
}

/**
 * Only when the runtime died before removing C (SIGKILLed, say): end and remove the cgroups we made.
 * The agent leaf is removed only once empty; a live container's processes are never touched here.
 */
function removeLeftovers(fs: Cgroupfs, cgroup: string, warnings: string[]): void {
  const tools = `${cgroup}/${TOOLS_PARENT}`;
  const attempt = (what: () => void) => {
    try {
      what();
    } catch (err) {
      warnings.push(describeError(err));
    }
  };
  if (fs.exists(tools)) {
    for (const call of fs.children(tools)) attempt(() => killAndRemove(fs, `${tools}/${call}`));
    attempt(() => fs.remove(tools));
  }
  const agent = `${cgroup}/${AGENT_LEAF}`;
  if (fs.exists(agent) && fs.procs(agent).length === 0) attempt(() => fs.remove(agent));
}
