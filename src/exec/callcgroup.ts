import { randomBytes } from 'node:crypto';
import type { Cgroupfs } from '../cgroup/cgroupfs.js';
import { killAndRemove, killAndRemoveAsync } from '../cgroup/lifecycle.js';
import { readMemoryStatus } from '../cgroup/stats.js';
import { applySteps } from '../carve/apply.js';
import { planToolCgroup } from '../carve/plan.js';
import { TOOLS_PARENT } from '../layout.js';
import type { Limits } from '../limits.js';
import { safeName } from '../oci/ids.js';
import type { CallStats } from './record.js';

/** Unique within a container and readable in `ls`: the name, a time stamp, a little randomness. */
export function newCallId(name: string): string {
  return `${safeName(name)}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

export function callCgroupPath(container: string, callId: string): string {
  return `${container}/${TOOLS_PARENT}/${callId}`;
}

/** Creates C/tools/<call-id> with the tool template; undone entirely if any write fails. */
export function createCallCgroup(fs: Cgroupfs, container: string, callId: string, tool: Limits): string {
  applySteps(fs, planToolCgroup(container, callId, tool));
  return callCgroupPath(container, callId);
}

/** What a call's record keeps of its cgroup's memory. */
export function readCallStats(fs: Pick<Cgroupfs, 'read'>, cg: string): CallStats {
  const m = readMemoryStatus(fs, cg);
  const e = m.events;
  return {
    // null before 5.19, which has no memory.peak; doctor warns about older kernels.
    peak: m.peak,
    max: m.max,
    events: { high: e.high ?? 0, max: e.max ?? 0, oom: e.oom ?? 0, oom_kill: e.oom_kill ?? 0 },
    pressure: { someUs: m.pressure.some.totalUs, fullUs: m.pressure.full.totalUs },
  };
}

/** Reads what the call left in the kernel, then ends stragglers and removes its cgroup. Blocks: for exec. */
export function finishCallCgroup(fs: Cgroupfs, cg: string): CallStats {
  const stats = readCallStats(fs, cg);
  killAndRemove(fs, cg);
  return stats;
}

/** finishCallCgroup for the daemon: stragglers are waited for on inotify, its thread runs on meanwhile. */
export async function finishCallCgroupAsync(fs: Cgroupfs, cg: string): Promise<CallStats> {
  const stats = readCallStats(fs, cg);
  await killAndRemoveAsync(fs, cg);
  return stats;
}
