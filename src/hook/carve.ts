import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cgroupfs } from '../cgroup/cgroupfs.js';
import { cgroupOfPid, findCgroup2Root } from '../cgroup/locate.js';
import { parseLimit } from '../cgroup/stats.js';
import { applySteps } from '../carve/apply.js';
import { planCarve } from '../carve/plan.js';
import type { Policy } from '../config/types.js';
import { PRIORITY_RANK } from '../policy/priority.js';
import { AgentcgroupError, describeError } from '../errors.js';
import type { HostEnv } from '../host/env.js';
import { hostMemoryBytes } from '../host/meminfo.js';
import { AGENT_LEAF } from '../layout.js';
import type { OciState } from '../oci/types.js';
import type { ContainerRecord, StateStore } from '../state/records.js';

export interface CarveOutcome {
  warnings: string[];
}

/**
 * Carves C into agent + tools. At createRuntime the container's init is parked by the runtime, so
 * nothing forks; at poststart (only when createRuntime did not carve) C is frozen around the move.
 */
export function carveContainer(state: OciState, policy: Policy, store: StateStore, host: HostEnv, stage: 'createRuntime' | 'poststart'): CarveOutcome {
  const cgroupRoot = host.cgroupRoot ?? findCgroup2Root(host.procRoot);
  const fs = new Cgroupfs(cgroupRoot, host.fsOps);
  const existing = store.loadContainer(state.id);
  if (existing && fs.exists(`${existing.cgroup}/${AGENT_LEAF}`)) return { warnings: [] };

  if (!state.pid) throw new AgentcgroupError('no-pid', `the OCI state has no pid at ${stage}: cannot find the container's cgroup`);
  const cgroup = cgroupOfPid(host.procRoot, state.pid);
  if (!fs.exists(cgroup)) throw new AgentcgroupError('no-cgroup', `container cgroup ${fs.path(cgroup)} does not exist`);
  const controllers = fs.controllers(cgroup);
  const plan = planCarve({
    cgroup,
    policy,
    controllers,
    children: fs.children(cgroup),
    sessionMax: controllers.includes('memory') ? parseLimit(fs.read(cgroup, 'memory.max')) : 'max',
    hostMemory: hostMemoryBytes(host.procRoot),
    freeze: stage === 'poststart',
  });
  const record: ContainerRecord = {
    version: 1,
    id: state.id,
    cgroupRoot,
    cgroup,
    bundle: state.bundle,
    pid: state.pid,
    stage,
    state: 'carving',
    carvedAt: host.now().toISOString(),
    sessionBytes: plan.sessionBytes,
    agent: plan.agent,
    tool: plan.tool,
    framework: policy.tracker.framework,
    launchers: policy.tracker.launchers,
    priority: PRIORITY_RANK[policy.priority],
    dependsOn: policy.dependsOn,
  };
  // The record goes first: a hook killed mid-carve still leaves poststop something to clean up by.
  store.saveContainer(record);
  try {
    applySteps(fs, plan.steps);
  } catch (err) {
    store.removeContainer(state.id);
    throw err;
  }
  record.state = 'carved';
  store.saveContainer(record);
  const warnings = protectFramework(host.procRoot, fs.procs(`${cgroup}/${AGENT_LEAF}`), policy.agent.oomScoreAdj);
  return { warnings };
}

/**
 * The OOM killer should pick a tool call, never the framework. Children inherit oom_score_adj, so
 * tool calls must be reset when they are placed (exec and the daemon do).
 */
function protectFramework(procRoot: string, pids: number[], adj: number): string[] {
  const warnings: string[] = [];
  for (const pid of pids) {
    try {
      writeFileSync(join(procRoot, String(pid), 'oom_score_adj'), String(adj));
    } catch (err) {
      warnings.push(`cannot set oom_score_adj of framework process ${pid}: ${describeError(err)}`);
    }
  }
  return warnings;
}
