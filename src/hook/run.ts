/**
 * The OCI hook's work, written once for its two callers: `agentcgroup hook`, the process a runtime
 * starts (src/cli/hook.ts), and the daemon's admin op `hook`, which the native front
 * (src/hook/native/) hands the same argv, environment and stdin (src/daemon/hookop.ts). It returns
 * what the process exits with and prints on stderr, and writes nothing to the process itself, so
 * both callers give the same answer, line for line.
 */
import type { FsOps } from '../cgroup/cgroupfs.js';
import { applyAnnotations, optedOut, refusalLine } from '../config/annotations.js';
import { loadPolicy, policyTextSaysStrict } from '../config/policy.js';
import type { Policy } from '../config/types.js';
import { AgentcgroupError, describeError } from '../errors.js';
import { carveContainer } from '../carve/container.js';
import { type HostEnv, hostEnvFrom } from '../host/env.js';
import type { TeardownOutcome } from '../lifecycle/finalize.js';
import { readBundleConfig } from '../oci/config.js';
import { parseState } from '../oci/state.js';
import type { OciState } from '../oci/types.js';
import { show } from '../oci/validate.js';
import { firstToNotice } from '../state/notice.js';
import { adminSocketPath } from '../state/paths.js';
import { StateStore } from '../state/records.js';
import { recordUncarved } from '../state/uncarved.js';
import { daemonReachable } from './daemoncheck.js';
import { teardownContainer } from './teardown.js';

export const STAGES = ['createRuntime', 'poststart', 'poststop'] as const;
type Stage = (typeof STAGES)[number];

/**
 * runc and crun report different statuses per stage (createRuntime: crun `created`, runc `creating`;
 * poststop: crun `stopped`, runc no pid at all); an explicit stage wins.
 */
function resolveStage(arg: string | undefined, status: string): Stage {
  if (arg !== undefined) {
    const stage = STAGES.find((s) => s.toLowerCase() === arg.toLowerCase());
    if (!stage) throw new AgentcgroupError('bad-stage', `unknown hook stage ${show(arg, 40)} (expected ${STAGES.join(', ')})`);
    return stage;
  }
  if (status === 'creating' || status === 'created') return 'createRuntime';
  if (status === 'running') return 'poststart';
  if (status === 'stopped') return 'poststop';
  throw new AgentcgroupError('bad-stage', `cannot tell the hook stage from status ${JSON.stringify(status)}: pass it as an argument`);
}

/** One run of the hook: what its command line, environment and stdin say. */
export interface HookRun {
  /** The stage argument as given; undefined: inferred from the state's status. */
  stage: string | undefined;
  /** `--policy FILE`, when given. */
  policyFile: string | undefined;
  /** The hook's environment (host/env.ts HOOK_ENV is all it reads). */
  env: NodeJS.ProcessEnv;
  /** The hook's effective uid. */
  uid: number;
  /** All of stdin as text: the OCI state. */
  readStdin: () => Promise<string>;
  /** Unit tests only: a simulated cgroupfs. */
  fsOps?: FsOps | undefined;
}

/** Where the two callers differ: how long a wait may block them. */
export interface HookWaits {
  /** poststop's finalization: blocking in the hook process, on inotify in the daemon. */
  teardown(state: OciState, store: StateStore, host: HostEnv): TeardownOutcome | Promise<TeardownOutcome>;
  /** Whether a daemon answers on this admin socket. */
  daemonReachable(socketPath: string): Promise<boolean>;
}

/** The hook as its own process: it has nothing else to do while it waits. */
export const PROCESS_WAITS: HookWaits = { teardown: teardownContainer, daemonReachable: (path) => daemonReachable(path) };

export interface HookOutcome {
  /** 0, or 1 when a strict policy refuses the container. */
  exit: number;
  /** Every line the hook prints, each ending in a newline; '' when it has nothing to say. */
  stderr: string;
}

/** Returned (by identity) when a container opted out: nothing was carved, nothing to warn about. */
const NOT_CARVED: string[] = [];

/**
 * The hook: createRuntime (or poststart) carves the container, poststop finalizes it. Fails open
 * (exit 0, one line naming the problem) unless the host policy is strict. Never throws.
 */
export async function runHook(run: HookRun, waits: HookWaits = PROCESS_WAITS): Promise<HookOutcome> {
  const host = hostEnvFrom(run.env, run.fsOps);
  if (run.policyFile !== undefined) host.policyFile = run.policyFile;
  let stderr = '';
  let strict: boolean | undefined;
  // The argument is printed only once it is known to be a stage: it could hold anything.
  let stage: string = STAGES.find((s) => s.toLowerCase() === run.stage?.toLowerCase()) ?? 'hook';
  let id = '';
  let failedOpen: ((reason: string) => void) | undefined;
  try {
    const hostPolicy = loadPolicy(host.policyFile);
    strict = hostPolicy.strict;
    const state = parseState(await run.readStdin());
    id = ` for container ${state.id}`;
    const resolved = resolveStage(run.stage, state.status);
    stage = resolved;
    if (resolved !== 'poststop') failedOpen = (reason) => void recordUncarved(hostPolicy.paths.runDir, { id: state.id, stage: resolved, reason, pid: state.pid ?? 0 }, host.now(), host.procRoot);
    const store = new StateStore(hostPolicy.paths.runDir, hostPolicy.paths.callLogDir, hostPolicy.limits);
    const warnings =
      resolved === 'poststop'
        ? (await waits.teardown(state, store, host)).warnings
        : carveIfEnabled(state, hostPolicy, store, host, resolved, run.uid);
    if (resolved !== 'poststop' && warnings !== NOT_CARVED && !(await waits.daemonReachable(adminSocketPath(hostPolicy.paths.runDir)))) {
      if (firstToNotice(hostPolicy.paths.runDir)) {
        warnings.push('the agentcgroup daemon is not running: containers are carved and limited, but tool calls get their own cgroup only through `agentcgroup exec` (said once until the daemon starts)');
      }
    }
    for (const w of warnings) stderr += `agentcgroup: warning: ${w}\n`;
    return { exit: 0, stderr };
  } catch (err) {
    // The policy did not load: what its text says, so a strict host stays strict through a broken file.
    strict ??= policyTextSaysStrict(host.policyFile);
    const consequence =
      stage === 'poststop' ? 'cleanup incomplete' : strict ? 'refusing to start the container (strict policy)' : 'the container runs unconstrained';
    stderr += `agentcgroup: ${stage}${id}: ${describeError(err)}; ${consequence}\n`;
    // Left for the daemon to show (status, top, metrics): the engine may never show this stderr.
    if (!strict) failedOpen?.(describeError(err));
    return { exit: strict ? 1 : 0, stderr };
  }
}

function carveIfEnabled(state: OciState, hostPolicy: Policy, store: StateStore, host: HostEnv, stage: 'createRuntime' | 'poststart', uid: number): string[] {
  const config = readBundleConfig(state.bundle);
  const annotations = { ...config.annotations, ...state.annotations };
  if (optedOut(annotations)) return NOT_CARVED;
  // Said up front: as another user, the first refusal would be some EACCES deep in the carve.
  if (uid !== 0) throw new AgentcgroupError('not-root', `must run as root to carve the container's cgroup (running as uid ${uid})`);
  const { policy, refused } = applyAnnotations(hostPolicy, annotations);
  carveContainer(state, policy, store, host, stage);
  // Said once the carve is done: a carve that fails says only why, in one line.
  const warnings = refused.map(refusalLine);
  if (config.cgroupfsWritable) {
    warnings.push("the container mounts cgroupfs writable (privileged?): its root can rewrite the agent's and tool calls' limits below its own cgroup; the container's own limit still holds");
  }
  return warnings;
}
