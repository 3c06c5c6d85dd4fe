/**
 * What /sys/kernel/sched_ext says: whether the kernel has sched_ext, which BPF scheduler runs. Plain
 * file reads (no libbpf), for doctor's facts as much as for the daemon's scheduler link.
 */
import { readFileSync } from 'node:fs';

/** The ops.name agentcgroup's scheduler registers as (bpf/sched/agentsched.bpf.c). */
export const SCHED_OPS_NAME = 'agentcgroup';

export const SCHED_EXT_SYSFS = '/sys/kernel/sched_ext';

/** What /sys/kernel/sched_ext says; every field undefined on a kernel without sched_ext. */
export interface SchedExtStatus {
  /** "enabled", "disabled", "enabling", "disabling"… */
  state: string | undefined;
  /** The running BPF scheduler's ops.name (root/ops), when one runs. */
  ops: string | undefined;
  /** 1: every task is on sched_ext (no SCX_OPS_SWITCH_PARTIAL). */
  switchAll: string | undefined;
  /** Times a BPF scheduler was enabled since boot. */
  enableSeq: string | undefined;
}

function readTrimmed(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function schedExtStatus(sysfs = SCHED_EXT_SYSFS): SchedExtStatus {
  return {
    state: readTrimmed(`${sysfs}/state`),
    ops: readTrimmed(`${sysfs}/root/ops`),
    switchAll: readTrimmed(`${sysfs}/switch_all`),
    enableSeq: readTrimmed(`${sysfs}/enable_seq`),
  };
}

/** True when what sysfs said names our scheduler (or the one named `opsName`) as the one running. */
export function runsOurs(s: Pick<SchedExtStatus, 'state' | 'ops'> | undefined, opsName = SCHED_OPS_NAME): boolean {
  return s?.state === 'enabled' && s.ops === opsName;
}
