/**
 * Which class agentcgroup's sched_ext scheduler gives a container's cgroups (bpf/sched/agentsched.h):
 * the agent leaf is the framework's, and `tools/` (so every tool call below it) takes the container's
 * priority. Classes go on these two directories only: a call's own cgroup inherits from `tools/`, so
 * calls come and go with no map update, and nothing a container makes below can change its class.
 */
import type { SchedClass } from '../bpf/sched.js';
import { PRIORITY_RANK } from '../config/policy.js';

export type { SchedClass };

/** The class of a container's tool calls, by its priority rank (records.ts ContainerRecord.priority). */
export function toolClass(rank: number): SchedClass {
  if (rank >= PRIORITY_RANK.high) return 'toolHigh';
  if (rank <= PRIORITY_RANK.low) return 'toolLow';
  return 'tool';
}

/** The (cgroup id, class) pairs of one container. */
export function containerClasses(ids: { agent: bigint; tools: bigint }, rank: number): [bigint, SchedClass][] {
  return [
    [ids.agent, 'agent'],
    [ids.tools, toolClass(rank)],
  ];
}
