import { randomBytes } from 'node:crypto';
import type { Cgroupfs } from '../cgroup/cgroupfs.js';
import { killAndRemove } from '../cgroup/lifecycle.js';
import { parseFlatKeyed, parseLimit, parsePressure } from '../cgroup/stats.js';
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

export function readCallStats(fs: Cgroupfs, cg: string): CallStats {
  const events = parseFlatKeyed(fs.read(cg, 'memory.events'));
  const pressure = parsePressure(fs.read(cg, 'memory.pressure'));
  let peak: number | null = null;
  try {
    peak = parseLimit(fs.read(cg, 'memory.peak'));
  } catch {
    // memory.peak arrived in 5.19; doctor warns about older kernels.
  }
  return {
    peak,
    events: { high: events.high ?? 0, max: events.max ?? 0, oom: events.oom ?? 0, oom_kill: events.oom_kill ?? 0 },
    pressure: { someUs: pressure.some?.total ?? 0, fullUs: pressure.full?.total ?? 0 },
  };
}

/** Reads what the call left in the kernel, then ends stragglers and removes its cgroup. */
export function finishCallCgroup(fs: Cgroupfs, cg: string): CallStats {
  const stats = readCallStats(fs, cg);
  killAndRemove(fs, cg);
  return stats;
}
