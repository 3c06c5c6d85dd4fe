import { existsSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { AgentcgroupError } from '../errors.js';
import { seaAssetPath } from '../sea/assets.js';

export const BPF_OBJECT_ENV = 'AGENTCGROUP_BPF_OBJECT';

/**
 * The compiled tracker: AGENTCGROUP_BPF_OBJECT if set, else tracker.bpf.o beside the running script
 * (dist/agentcgroup.cjs and dist/tracker.bpf.o ship together). The script's real path counts, so a
 * symlink in /usr/local/bin still finds the object next to the file it points at.
 */
export function trackerObjectPath(env: NodeJS.ProcessEnv = process.env, script: string | undefined = process.argv[1]): string {
  const override = env[BPF_OBJECT_ENV];
  // The single executable carries the object inside itself.
  const embedded = override ? undefined : seaAssetPath('tracker.bpf.o');
  if (embedded !== undefined) return embedded;
  let path: string;
  if (override) {
    path = resolve(override);
  } else {
    if (script === undefined) throw new AgentcgroupError('bpf-object', `cannot locate the eBPF tracker object: no script path; set ${BPF_OBJECT_ENV}`);
    path = join(dirname(realScript(script)), 'tracker.bpf.o');
  }
  if (!existsSync(path)) {
    const how = override ? `(from ${BPF_OBJECT_ENV})` : `(build it with bash bpf/build.sh, or set ${BPF_OBJECT_ENV})`;
    throw new AgentcgroupError('bpf-object', `eBPF tracker object ${path} not found ${how}`);
  }
  return path;
}

function realScript(script: string): string {
  try {
    return realpathSync(script);
  } catch {
    return resolve(script);
  }
}
