import { Cgroupfs } from '../cgroup/cgroupfs.js';
import { cgroupOfPid, findCgroup2Root } from '../cgroup/locate.js';
import { parseLimit } from '../cgroup/stats.js';
import { applySteps } from '../carve/apply.js';
import { memorySizesOf, planCarve } from '../carve/plan.js';
import { PRIORITY_RANK } from '../config/policy.js';
import type { Policy } from '../config/types.js';
import { AgentcgroupError } from '../errors.js';
import type { HostEnv } from '../host/env.js';
import { hostMemoryBytes } from '../host/meminfo.js';
import { AGENT_LEAF } from '../layout.js';
import type { OciState } from '../oci/types.js';
import type { ContainerRecord, StateStore } from '../state/records.js';
import { readOomScoreAdj } from '../sys/procread.js';

/**
 * Carves C into agent + tools. At createRuntime the container's init is parked by the runtime, so
 * nothing forks; at poststart (only when createRuntime did not carve) C is frozen around the move.
 */
export function carveContainer(state: OciState, policy: Policy, store: StateStore, host: HostEnv, stage: 'createRuntime' | 'poststart'): void {
  const cgroupRoot = host.cgroupRoot ?? findCgroup2Root(host.procRoot);
  const fs = new Cgroupfs(cgroupRoot, host.fsOps);
  const existing = store.loadContainer(state.id);
  if (existing && fs.exists(`${existing.cgroup}/${AGENT_LEAF}`)) return;

  if (!state.pid) throw new AgentcgroupError('no-pid', `the OCI state has no pid at ${stage}: cannot find the container's cgroup`);
  const cgroup = cgroupOfPid(host.procRoot, state.pid);
  if (!fs.exists(cgroup)) throw new AgentcgroupError('no-cgroup', `container cgroup ${fs.path(cgroup)} does not exist`);
  const controllers = fs.controllers(cgroup);
  const sessionMax = controllers.includes('memory') ? parseLimit(fs.read(cgroup, 'memory.max')) : 'max';
  const plan = planCarve({
    oomScoreAdj: engineOomScoreAdj(host.procRoot, state.pid),
    cgroup,
    policy,
    controllers,
    children: fs.children(cgroup),
    sessionMax,
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
    sessionMax,
    sizes: memorySizesOf(policy),
    agent: plan.agent,
    tool: plan.tool,
    framework: policy.tracker.framework,
    launchers: policy.tracker.launchers,
    priority: PRIORITY_RANK[policy.priority],
    dependsOn: policy.dependsOn,
    oomScoreAdj: plan.oomScoreAdj,
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
}

/**
 * The init's oom_score_adj is the engine's: the runtime applies config.json's process.oomScoreAdj (the
 * kubelet's QoS value) as it makes the init, before createRuntime. The framework keeps it, since it
 * ranks the container against every other process on the host, and tool calls are placed above it;
 * nothing is written here. Read before any code of the container ran (at createRuntime); by poststart
 * the container could only have raised it, short of CAP_SYS_RESOURCE, which could lower it any time.
 */
function engineOomScoreAdj(procRoot: string, pid: number): number {
  const adj = readOomScoreAdj(procRoot, pid);
  if (adj === undefined) throw new AgentcgroupError('no-process', `cannot read the oom_score_adj of container process ${pid}`);
  return adj;
}
