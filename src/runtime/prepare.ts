/**
 * The shim's work before `create` and `run`, and after them and `delete`: our hooks and the exec socket
 * mount into the config, the socket directory made (a bind mount needs its source before the runtime
 * mounts, which is before any hook runs) and removed again once the container is gone. Loaded only for
 * those verbs: the policy YAML costs more than a pass-through verb should.
 */
import { readFileSync, rmSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { optsIn } from '../config/annotations.js';
import { loadPolicy } from '../config/policy.js';
import { AgentcgroupError, describeError } from '../errors.js';
import { execClientSource } from '../exec/clientfile.js';
import { execMounts, makeExecSocketDir } from '../exec/socketmount.js';
import { FRONT_BINARY_ENV, FRONT_SOCKET_ENV, installedFront } from '../hook/front.js';
import { HOOK_ARGV0, type HookSpec } from '../hook/register.js';
import { HOOK_ENV } from '../host/env.js';
import { parseConfig } from '../oci/config.js';
import { validateContainerId } from '../oci/ids.js';
import { adminSocketPath, execSocketDir } from '../state/paths.js';
import { attachUncarvedPid, recordUncarved, removeUncarved } from '../state/uncarved.js';
import { quote } from '../text.js';
import type { RuntimeCall } from './argv.js';
import { readConfigFile, replaceConfigFile } from './configfile.js';
import { parseExact, stringifyExact } from './exactjson.js';
import { injectShim } from './inject.js';
import { type ProcessView, selfHookCommand } from './self.js';

// What hooks need of the shim's environment; the rest of it is the engine's business.
const HOOK_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const HOOK_TIMEOUT = 30;

export interface Prepared {
  /** The container's exec socket directory, when this call made it (to remove if create fails). */
  madeSocketDir?: string;
  /**
   * One line for stderr: the config was left alone and the container runs unconstrained, or the
   * container runs without the exec client the policy names (it is there, but unfit).
   */
  warning?: string;
  /** Strict policy: the container must not start; the reason. */
  refusal?: string;
  /** The container was recorded as running uncarved (state/uncarved.ts): settleUncarved completes it. */
  recorded?: { runDir: string; id: string };
}

/**
 * Our hook as a runtime runs it: this very program, or, where the runtime runs hooks in another mount
 * namespace than ours (the daemon in its Kubernetes pod), the binary $AGENTCGROUP_HOOK_BINARY names there.
 * When this program is the single binary and the native hook front is installed beside it
 * (hook/front.ts), the front, with the same arguments: it asks the daemon at `adminSocket` (the
 * policy's run dir) and otherwise runs this binary, both named in its environment. The front is
 * looked for each time, so a front installed or removed counts from the next container on.
 */
export function hookSpec(view: ProcessView, env: NodeJS.ProcessEnv, adminSocket?: string): HookSpec {
  const passed = HOOK_ENV.filter((k) => env[k]).map((k) => `${k}=${env[k]}`);
  const binary = env.AGENTCGROUP_HOOK_BINARY;
  if (binary !== undefined && binary !== '' && !isAbsolute(binary)) {
    throw new AgentcgroupError('hook-binary', `AGENTCGROUP_HOOK_BINARY is not an absolute path: ${quote(binary)}`);
  }
  // A binary in another mount namespace: whether a front sits beside it there cannot be seen from here.
  if (binary) return { path: binary, args: [HOOK_ARGV0, 'hook'], env: [HOOK_PATH, ...passed], timeout: HOOK_TIMEOUT };
  const self = selfHookCommand(view, HOOK_ARGV0);
  const front = view.sea ? installedFront(self.path) : undefined;
  if (front === undefined) return { ...self, env: [HOOK_PATH, ...passed], timeout: HOOK_TIMEOUT };
  const frontEnv = [`${FRONT_BINARY_ENV}=${self.path}`, ...(adminSocket === undefined ? [] : [`${FRONT_SOCKET_ENV}=${adminSocket}`])];
  return { path: front, args: self.args, env: [HOOK_PATH, ...passed, ...frontEnv], timeout: HOOK_TIMEOUT };
}

/** The config file `create`/`run` will read: crun's --config, relative to the bundle, or its config.json. */
export function configPath(call: RuntimeCall, cwd: string): string {
  return resolve(cwd, call.bundle ?? '.', call.configFile ?? 'config.json');
}

export function prepareCreate(call: RuntimeCall, env: NodeJS.ProcessEnv, cwd: string, view: ProcessView): Prepared {
  let strict = false;
  let made: string | undefined;
  let runDir: string | undefined;
  try {
    const policy = loadPolicy(env.AGENTCGROUP_POLICY);
    strict = policy.strict;
    runDir = policy.paths.runDir;
    const file = readConfigFile(configPath(call, cwd));
    if (!optsIn(parseConfig(file.text, file.path).annotations, policy.shim.always)) return {};
    const id = validateContainerId(call.id);
    const client = execClientSource(policy.paths.execClient);
    made = makeExecSocketDir(policy.paths.runDir, id, client.path !== undefined);
    // Parsed again, numbers kept as written: parseConfig's doubles would change any integer past 2^53.
    const { config, added } = injectShim(parseExact(file.text, file.path), hookSpec(view, env, adminSocketPath(policy.paths.runDir)), execMounts(policy.paths.runDir, id, client.path));
    if (added.length > 0) replaceConfigFile(file, stringifyExact(config));
    return { ...(made === undefined ? {} : { madeSocketDir: made }), ...(client.warning === undefined ? {} : { warning: client.warning }) };
  } catch (err) {
    if (made !== undefined) rmSync(made, { recursive: true, force: true });
    const why = describeError(err);
    if (strict) return { refusal: `${why}; refusing to create the container (strict policy)` };
    // Left for the daemon to show (status, top, metrics); removed again at delete.
    if (runDir === undefined || call.id === undefined) return { warning: `${why}; config left unchanged, the container runs unconstrained` };
    const unrecorded = recordUncarved(runDir, { id: call.id, stage: 'shim', reason: why }, new Date());
    return {
      warning: `${why}; config left unchanged, the container runs unconstrained${unrecorded === undefined ? '' : ` (${unrecorded})`}`,
      ...(unrecorded === undefined ? { recorded: { runDir, id: call.id } } : {}),
    };
  }
}

/** After `delete` (or a foreground `run`): the container's exec socket directory, if any. */
export function removeSocketDir(id: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  try {
    const runDir = loadPolicy(env.AGENTCGROUP_POLICY).paths.runDir;
    const valid = validateContainerId(id);
    rmSync(execSocketDir(runDir, valid), { recursive: true, force: true });
    removeUncarved(runDir, valid);
    return undefined;
  } catch (err) {
    return `cannot remove the container's exec socket directory: ${describeError(err)}`;
  }
}

// A pid file holds a decimal pid; anything longer is not one.
const PID_FILE_MAX = 64;

/**
 * After the runtime, for a container recorded as uncarved: gone with a create that failed or a
 * foreground run that ended; otherwise its init's pid (the runtime's --pid-file) goes into the record,
 * so that the record goes once the container has, whoever runs its delete (the runtime front passes
 * delete straight to the runtime). Without a pid file the record waits for the shim's delete. One line
 * back when the record could not be completed.
 */
export function settleUncarved(recorded: { runDir: string; id: string }, call: RuntimeCall, cwd: string, created: boolean): string | undefined {
  if (!created) {
    removeUncarved(recorded.runDir, recorded.id);
    return undefined;
  }
  if (call.pidFile === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(resolve(cwd, call.pidFile), 'utf8').slice(0, PID_FILE_MAX).trim();
  } catch (err) {
    return `cannot read the pid file for the uncarved record: ${describeError(err)}`;
  }
  if (!/^[1-9]\d{0,9}$/.test(text)) return `the pid file ${quote(call.pidFile)} holds no pid`;
  return attachUncarvedPid(recorded.runDir, recorded.id, Number(text));
}
