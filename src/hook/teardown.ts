import { Cgroupfs } from '../cgroup/cgroupfs.js';
import { killAndRemove } from '../cgroup/lifecycle.js';
import { AGENT_LEAF, TOOLS_PARENT } from '../carve/plan.js';
import { describeError } from '../errors.js';
import type { OciState } from '../oci/types.js';
import { cutOffRecord } from '../exec/record.js';
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
 * says we made.
 */
export function teardownContainer(state: OciState, store: StateStore, host: HostEnv): TeardownOutcome {
  const warnings: string[] = [];
  let record: ContainerRecord | undefined;
  try {
    record = store.loadContainer(state.id);
  } catch (err) {
    warnings.push(describeError(err));
  }
  const now = host.now();
  const running = store.runningCalls(state.id);
  for (const call of running) store.appendCall(state.id, cutOffRecord(state.id, call, now));
  if (record) removeLeftovers(new Cgroupfs(record.cgroupRoot, host.fsOps), record.cgroup, warnings);
  store.removeContainer(state.id);
  return { cutOff: running.length, warnings };
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
