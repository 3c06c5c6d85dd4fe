import type { Command } from 'commander';
import { loadPolicy, policyTextSaysStrict } from '../config/policy.js';
import { applyAnnotations, optedOut, refusalLine } from '../config/annotations.js';
import { AgentcgroupError, describeError } from '../errors.js';
import { carveContainer } from '../carve/container.js';
import { daemonReachable } from '../hook/daemoncheck.js';
import { teardownContainer } from '../hook/teardown.js';
import { hostEnvFrom } from '../host/env.js';
import { readBundleConfig } from '../oci/config.js';
import { parseState } from '../oci/state.js';
import type { OciState } from '../oci/types.js';
import { show } from '../oci/validate.js';
import { adminSocketPath } from '../state/paths.js';
import { firstToNotice } from '../state/notice.js';
import { StateStore } from '../state/records.js';
import { recordUncarved } from '../state/uncarved.js';
import type { CliContext } from './context.js';

const STAGES = ['createRuntime', 'poststart', 'poststop'] as const;
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

/** Returned (by identity) when a container opted out: nothing was carved, nothing to warn about. */
const NOT_CARVED: string[] = [];

export function registerHook(program: Command, ctx: CliContext, setExit: (code: number) => void): void {
  program
    .command('hook')
    .description(
      'OCI hook: reads the container state on stdin. createRuntime (or poststart) carves the container cgroup into agent/ and tools/ and applies the policy; poststop finalizes call logs and removes our state. Fails open (exit 0, container unconstrained) unless the host policy says strict: true',
    )
    .argument('[stage]', `${STAGES.join(' | ')}; inferred from the state's status when omitted`)
    .option('--policy <file>', 'host policy YAML (default /etc/agentcgroup/policy.yaml if present, else built-in defaults)')
    .action(async (stageArg: string | undefined, opts: { policy?: string }) => {
      const host = hostEnvFrom(ctx.env, ctx.fsOps);
      if (opts.policy !== undefined) host.policyFile = opts.policy;
      let strict: boolean | undefined;
      // The argument is printed only once it is known to be a stage: it could hold anything.
      let stage: string = STAGES.find((s) => s.toLowerCase() === stageArg?.toLowerCase()) ?? 'hook';
      let id = '';
      let failedOpen: ((reason: string) => void) | undefined;
      try {
        const hostPolicy = loadPolicy(host.policyFile);
        strict = hostPolicy.strict;
        const state = parseState(await ctx.readStdin());
        id = ` for container ${state.id}`;
        const resolved = resolveStage(stageArg, state.status);
        stage = resolved;
        if (resolved !== 'poststop') failedOpen = (reason) => void recordUncarved(hostPolicy.paths.runDir, { id: state.id, stage: resolved, reason, pid: state.pid ?? 0 }, host.now(), host.procRoot);
        const store = new StateStore(hostPolicy.paths.runDir, hostPolicy.paths.callLogDir, hostPolicy.limits);
        const warnings =
          resolved === 'poststop'
            ? teardownContainer(state, store, host).warnings
            : carveIfEnabled(state, hostPolicy, store, host, resolved);
        if (resolved !== 'poststop' && warnings !== NOT_CARVED && !(await daemonReachable(adminSocketPath(hostPolicy.paths.runDir)))) {
          if (firstToNotice(hostPolicy.paths.runDir)) {
            warnings.push('the agentcgroup daemon is not running: containers are carved and limited, but tool calls get their own cgroup only through `agentcgroup exec` (said once until the daemon starts)');
          }
        }
        for (const w of warnings) ctx.stderr(`agentcgroup: warning: ${w}\n`);
      } catch (err) {
        // The policy did not load: what its text says, so a strict host stays strict through a broken file.
        strict ??= policyTextSaysStrict(host.policyFile);
        const consequence =
          stage === 'poststop' ? 'cleanup incomplete' : strict ? 'refusing to start the container (strict policy)' : 'the container runs unconstrained';
        ctx.stderr(`agentcgroup: ${stage}${id}: ${describeError(err)}; ${consequence}\n`);
        // Left for the daemon to show (status, top, metrics): the engine may never show this stderr.
        if (!strict) failedOpen?.(describeError(err));
        setExit(strict ? 1 : 0);
      }
    });

  function carveIfEnabled(
    state: OciState,
    hostPolicy: Parameters<typeof carveContainer>[1],
    store: StateStore,
    host: ReturnType<typeof hostEnvFrom>,
    stage: 'createRuntime' | 'poststart',
  ): string[] {
    const config = readBundleConfig(state.bundle);
    const annotations = { ...config.annotations, ...state.annotations };
    if (optedOut(annotations)) return NOT_CARVED;
    // Said up front: as another user, the first refusal would be some EACCES deep in the carve.
    if (ctx.uid !== 0) throw new AgentcgroupError('not-root', `must run as root to carve the container's cgroup (running as uid ${ctx.uid})`);
    const { policy, refused } = applyAnnotations(hostPolicy, annotations);
    carveContainer(state, policy, store, host, stage);
    // Said once the carve is done: a carve that fails says only why, in one line.
    const warnings = refused.map(refusalLine);
    if (config.cgroupfsWritable) {
      warnings.push("the container mounts cgroupfs writable (privileged?): its root can rewrite the agent's and tool calls' limits below its own cgroup; the container's own limit still holds");
    }
    return warnings;
  }
}
