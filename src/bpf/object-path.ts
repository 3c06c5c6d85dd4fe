import { existsSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { AgentcgroupError } from '../errors.js';
import { seaAssetPath } from '../sea/assets.js';

export const BPF_OBJECT_ENV = 'AGENTCGROUP_BPF_OBJECT';

/** One compiled eBPF object: its file name, the variable that overrides where it is, how to build it. */
export interface BpfObjectSpec {
  file: string;
  envVar: string;
  /** As a message names it: "eBPF tracker object". */
  what: string;
  build: string;
  /** The single executable carries it inside itself. */
  embedded: boolean;
}

const TRACKER: BpfObjectSpec = { file: 'tracker.bpf.o', envVar: BPF_OBJECT_ENV, what: 'eBPF tracker object', build: 'bash bpf/build.sh', embedded: true };

/**
 * A compiled object: its variable if set, else the file beside the running script (dist/agentcgroup.cjs
 * and dist/tracker.bpf.o ship together). The script's real path counts, so a symlink in
 * /usr/local/bin still finds the object next to the file it points at.
 */
export function bpfObjectPath(spec: BpfObjectSpec, env: NodeJS.ProcessEnv = process.env, script: string | undefined = process.argv[1]): string {
  const override = env[spec.envVar];
  const embedded = override || !spec.embedded ? undefined : seaAssetPath(spec.file);
  if (embedded !== undefined) return embedded;
  let path: string;
  if (override) {
    path = resolve(override);
  } else {
    if (script === undefined) throw new AgentcgroupError('bpf-object', `cannot locate the ${spec.what}: no script path; set ${spec.envVar}`);
    path = join(dirname(realScript(script)), spec.file);
  }
  if (!existsSync(path)) {
    const how = override ? `(from ${spec.envVar})` : `(build it with ${spec.build}, or set ${spec.envVar})`;
    throw new AgentcgroupError('bpf-object', `${spec.what} ${path} not found ${how}`);
  }
  return path;
}

/** The compiled tracker: AGENTCGROUP_BPF_OBJECT, the single executable's own copy, or tracker.bpf.o beside the script. */
export function trackerObjectPath(env: NodeJS.ProcessEnv = process.env, script: string | undefined = process.argv[1]): string {
  return bpfObjectPath(TRACKER, env, script);
}

function realScript(script: string): string {
  try {
    return realpathSync(script);
  } catch {
    return resolve(script);
  }
}
