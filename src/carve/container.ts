import { Cgroupfs } from '../cgroup/cgroupfs.js';
import { cgroupMatches, describeCgroupsPath, parseCgroupsPath } from '../cgroup/cgroupspath.js';
import { cgroupOfPid, findCgroup2Root } from '../cgroup/locate.js';
import { parseLimit } from '../cgroup/stats.js';
import { PRIORITY_RANK } from '../config/policy.js';
import type { Policy } from '../config/types.js';
import { AgentcgroupError } from '../errors.js';
import type { HostEnv } from '../host/env.js';
import { hostMemoryBytes } from '../host/meminfo.js';
import { AGENT_LEAF } from '../layout.js';
import type { ContainerRecord, StateStore } from '../state/records.js';
import { readOomScoreAdj } from '../sys/procread.js';
import { applySteps } from './apply.js';
import { memorySizesOf, planCarve } from './plan.js';

/**
 * When a carve runs, which decides whether C is frozen around the move:
 * - `createRuntime` (our OCI hook) and `nri-start` (the daemon at NRI StartContainer): the runtime has
 *   made C and parked the container's init before its first instruction, so nothing forks;
 * - `poststart` (our hook, when createRuntime did not carve) and `nri-sync` (the daemon catching up
 *   with a container that already runs): C is frozen around the move.
 */
export type CarveStage = 'createRuntime' | 'poststart' | 'nri-start' | 'nri-sync';

const RUNNING: ReadonlySet<CarveStage> = new Set(['poststart', 'nri-sync']);

/** The container to carve, as whoever runs the carve was told of it. */
export interface CarveTarget {
  /** Validated (oci/ids.ts): it names our record and socket directory. */
  id: string;
  /** The container's init; its cgroup is C. */
  pid?: number | undefined;
  /** The OCI bundle, when a hook was given one (kept in the record, for people). */
  bundle?: string;
  /**
   * linux.cgroupsPath as the runtime configured it, when the carve is not run by the runtime itself
   * (NRI): the init's cgroup must be the one it names, or nothing is carved.
   */
  cgroupsPath?: string;
}

export type CarveOutcome = 'carved' | 'already';

/**
 * Carves C into agent + tools: the one entry point of every path (the OCI hook, the daemon as an NRI
 * plugin). Idempotent: a container already carved is left as it is. Any failure undoes every step
 * taken (carve/apply.ts) and throws one line.
 */
export function carveContainer(target: CarveTarget, policy: Policy, store: StateStore, host: HostEnv, stage: CarveStage): CarveOutcome {
  const cgroupRoot = host.cgroupRoot ?? findCgroup2Root(host.procRoot);
  const fs = new Cgroupfs(cgroupRoot, host.fsOps);
  const existing = store.loadContainer(target.id);
  if (existing && fs.exists(`${existing.cgroup}/${AGENT_LEAF}`)) return 'already';

  const pid = target.pid;
  if (!pid) throw new AgentcgroupError('no-pid', `no pid for the container at ${stage}: cannot find its cgroup`);
  const cgroup = cgroupOfPid(host.procRoot, pid);
  if (target.cgroupsPath !== undefined) {
    const expected = parseCgroupsPath(target.cgroupsPath);
    if (!cgroupMatches(cgroup, expected)) {
      throw new AgentcgroupError('cgroup-mismatch', `process ${pid} is in /${cgroup}, not in the container's cgroup ${describeCgroupsPath(expected)}: it is not the container's init`);
    }
  }
  if (!fs.exists(cgroup)) throw new AgentcgroupError('no-cgroup', `container cgroup ${fs.path(cgroup)} does not exist`);
  const controllers = fs.controllers(cgroup);
  const sessionMax = controllers.includes('memory') ? parseLimit(fs.read(cgroup, 'memory.max')) : 'max';
  const plan = planCarve({
    oomGroup: controllers.includes('memory') && fs.read(cgroup, 'memory.oom.group').trim() === '1',
    swapAccounting: controllers.includes('memory') && fs.hasFile(cgroup, 'memory.swap.max'),
    oomScoreAdj: engineOomScoreAdj(host.procRoot, pid),
    cgroup,
    policy,
    controllers,
    children: fs.children(cgroup),
    sessionMax,
    hostMemory: hostMemoryBytes(host.procRoot),
    freeze: RUNNING.has(stage),
  });
  const record: ContainerRecord = {
    version: 1,
    id: target.id,
    cgroupRoot,
    cgroup,
    ...(target.bundle === undefined ? {} : { bundle: target.bundle }),
    pid,
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
    store.removeContainer(target.id);
    throw err;
  }
  record.state = 'carved';
  store.saveContainer(record);
  return 'carved';
}

/**
 * The init's oom_score_adj is the engine's: the runtime applies config.json's process.oomScoreAdj (the
 * kubelet's QoS value) as it makes the init, before createRuntime. The framework keeps it, since it
 * ranks the container against every other process on the host, and tool calls are placed above it;
 * nothing is written here. Read before any code of the container ran (at createRuntime, NRI
 * StartContainer); by poststart the container could only have raised it, short of CAP_SYS_RESOURCE, which could lower it any time.
 */
function engineOomScoreAdj(procRoot: string, pid: number): number {
  const adj = readOomScoreAdj(procRoot, pid);
  if (adj === undefined) throw new AgentcgroupError('no-process', `cannot read the oom_score_adj of container process ${pid}`);
  return adj;
}

