/**
 * `agentcgroup runtime`: an OCI runtime in front of the real one (runc, crun), for engines without a
 * hooks dir (Docker, containerd). `create` and `run` first add our hook stages and the exec socket
 * mount to the bundle's config; every verb then runs the real runtime with the exact argv, stdio,
 * signals and exit status. Pass-through verbs load nothing beyond this module and its small imports.
 */
import { rmSync } from 'node:fs';
import { describeError } from '../errors.js';
import { shellStatus } from '../sys/forward.js';
import { parseRuntimeArgv, passesSignals, splitShimArgs } from './argv.js';
import { type Ending, runRuntime } from './passthrough.js';
import { type ProcessView, SHIM_LINK_NAME, selfFile } from './self.js';
import { SHIM_MARK, selectRuntime } from './select.js';

export const SHIM_SUMMARY =
  'OCI runtime shim for engines without a hooks dir (Docker, containerd): on create and run, adds the agentcgroup hooks and the exec socket mount to the bundle config (containers annotated io.agentcgroup.enable=true, or all with shim.always in the host policy), then runs the real runtime with the same arguments, stdio, signals and exit status';

export const SHIM_HELP = `Usage: agentcgroup runtime [--runtime PATH] [RUNTIME GLOBAL OPTIONS] VERB [ARGS...]
       ${SHIM_LINK_NAME} [RUNTIME GLOBAL OPTIONS] VERB [ARGS...]

${SHIM_SUMMARY}.

  --runtime PATH   the real runtime (default: $AGENTCGROUP_RUNTIME, else runc if present, else crun)
  -h, --help       this help (only as the first argument; later, it is the runtime's)

A config the shim cannot read or edit is left unchanged with one warning line, and the container runs
unconstrained; with strict: true in the host policy ($AGENTCGROUP_POLICY, default
/etc/agentcgroup/policy.yaml) the shim exits 1 instead and the runtime is not run.
`;

export interface ShimIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  cwd: string;
  view: ProcessView;
}

const fail = (io: ShimIo, what: string): Ending => {
  io.stderr(`agentcgroup: runtime: ${what}\n`);
  return { code: 1 };
};

/** Runs the shim for the runtime's command line `args`; resolves with how the real runtime ended. */
export async function runShim(args: readonly string[], io: ShimIo): Promise<Ending> {
  const shim = splitShimArgs(args);
  if (shim.help) {
    io.stdout(SHIM_HELP);
    return { code: 0 };
  }
  const call = parseRuntimeArgv(shim.argv);
  let runtime: string;
  try {
    runtime = selectRuntime({ ...(shim.runtime === undefined ? {} : { option: shim.runtime }), env: io.env, cwd: io.cwd, self: selfFile(io.view) });
  } catch (err) {
    return fail(io, describeError(err));
  }
  const creates = call.verb === 'create' || call.verb === 'run';
  const work = creates || call.verb === 'delete' ? await import('./prepare.js') : undefined;
  const prepared = creates && work ? work.prepareCreate(call, io.env, io.cwd, io.view) : {};
  if (prepared.refusal !== undefined) return fail(io, prepared.refusal);
  if (prepared.warning !== undefined) io.stderr(`agentcgroup: runtime: warning: ${prepared.warning}\n`);

  let ending: Ending;
  try {
    ending = await runRuntime(runtime, shim.argv, call.preserveFds, { ...io.env, [SHIM_MARK]: String(process.pid) }, passesSignals(call));
  } catch (err) {
    ending = fail(io, describeError(err));
  }

  const ok = 'code' in ending && ending.code === 0;
  if (work && call.verb === 'delete' && ok) {
    const problem = work.removeSocketDir(call.id, io.env);
    if (problem !== undefined) io.stderr(`agentcgroup: runtime: warning: ${problem}\n`);
  }
  // The directory made for this container serves no one once create failed or a foreground run ended
  // (its exit code is the container's). One found already there may be a live container's: kept.
  const ended = call.verb === 'run' && !call.detach && !call.keep;
  if (prepared.madeSocketDir !== undefined && 'code' in ending && (!ok || ended)) {
    rmSync(prepared.madeSocketDir, { recursive: true, force: true });
  }
  if (work && prepared.recorded !== undefined) {
    const problem = work.settleUncarved(prepared.recorded, call, io.cwd, ok && !ended);
    if (problem !== undefined) io.stderr(`agentcgroup: runtime: warning: ${problem}\n`);
  }
  return ending;
}

/** The exit status a caller sees: the runtime's code, or 128+N when a signal ended it. */
export function exitStatus(ending: Ending): number {
  return 'code' in ending ? ending.code : shellStatus({ exit: null, signal: ending.signal });
}

// Signals whose default action ends a process and that Node leaves at their default once no listener
// is left (SIGUSR1 starts Node's inspector, SIGPIPE is ignored, SIGWINCH ends nothing).
const RERAISED = new Set<NodeJS.Signals>(['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGKILL', 'SIGABRT', 'SIGUSR2', 'SIGALRM']);

/** Ends this process as the runtime ended: same code, or killed by the same signal when that can be. */
export function endAs(ending: Ending): void {
  process.exitCode = exitStatus(ending);
  const { signal } = ending as { signal?: NodeJS.Signals };
  // At exit, once Node has closed its signal watchers and put the default action back; should one
  // still be there, it swallows the signal and the exit status above stands.
  if (signal !== undefined && RERAISED.has(signal)) process.once('exit', () => process.kill(process.pid, signal));
}
