/**
 * `agentcgroup install-config`, install.sh's helper (so a host needs neither node nor jq): applies one
 * edit (installconfig.ts, containerdconfig.ts) to an engine's config file, atomically, writing nothing
 * when nothing changes. A containerd config is first checked by containerd itself (`config dump`) when
 * it is installed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { AgentcgroupError, describeError } from '../errors.js';
import { printable } from '../text.js';
import { freshPath, writeNewFile } from '../sys/atomicfile.js';
import { readConfigFile, writeConfigFile } from './configfile.js';
import { addContainerdRuntime, isTemplate, removeContainerdRuntime } from './containerdconfig.js';
import { addDockerRuntime, removeDockerRuntime, RUNTIME_NAME } from './installconfig.js';

export const ENGINES = ['docker', 'containerd'] as const;
export type Engine = (typeof ENGINES)[number];
export type Action = 'add' | 'remove';

const EDITS: Record<Engine, Record<Action, (text: string, file: string) => string | undefined>> = {
  docker: { add: addDockerRuntime, remove: removeDockerRuntime },
  containerd: { add: addContainerdRuntime, remove: removeContainerdRuntime },
};

/** containerd's own reading of a candidate config, when containerd is on PATH; undefined if it agrees. */
function containerdObjection(file: string, text: string): string | undefined {
  const probe = freshPath(dirname(file), `.${RUNTIME_NAME}-check-`, '.toml');
  writeNewFile(probe, text, { mode: 0o600 });
  try {
    const r = spawnSync('containerd', ['--config', probe, 'config', 'dump'], { encoding: 'utf8', timeout: 30_000 });
    if (r.error) return (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : describeError(r.error);
    if (r.status !== 0) return (r.stderr || r.stdout).trim().split('\n').pop() ?? `exit ${r.status}`;
    if (!r.stdout.includes(`.runtimes.${RUNTIME_NAME}]`)) return `the merged config has no runtime ${RUNTIME_NAME}`;
    return undefined;
  } finally {
    rmSync(probe, { force: true });
  }
}

/** Applies the edit to `file`; returns one line saying what happened. */
export function applyEngineConfig(engine: Engine, action: Action, file: string): string {
  const exists = existsSync(file);
  if (!exists && action === 'remove') return `${printable(file)}: not there, nothing to remove`;
  if (!exists && engine === 'containerd') {
    // A config holding only our runtime would replace containerd 1.6's and 1.7's built-in runtimes.
    if (!isTemplate(file)) throw new AgentcgroupError('bad-engine-config', `${printable(file)}: not there (containerd runs on its defaults); write them first: containerd config default > ${printable(file)}`);
    // A template is made (containerdconfig.ts), but in k3s's or RKE2's own directory only.
    if (!existsSync(dirname(file))) throw new AgentcgroupError('bad-engine-config', `${printable(dirname(file))}: no such directory (is k3s or RKE2 installed?)`);
  }
  const current = exists ? readConfigFile(file) : undefined;
  const before = current?.text ?? '';
  const after = EDITS[engine][action](before, file);
  if (after === before) return `${printable(file)}: ${action === 'add' ? `runtime ${RUNTIME_NAME} already there` : `no runtime ${RUNTIME_NAME}, nothing to remove`}`;
  if (after === undefined) {
    rmSync(file);
    return `${printable(file)}: removed (it held nothing but what install.sh put there)`;
  }
  // A template is not containerd's to read: k3s or RKE2 renders it into config.toml when it starts.
  if (engine === 'containerd' && action === 'add' && !isTemplate(file)) {
    const objection = containerdObjection(file, after);
    if (objection !== undefined) throw new AgentcgroupError('bad-engine-config', `${printable(file)}: containerd refuses the edited config (${objection}); left unchanged`);
  }
  if (!exists) mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
  writeConfigFile(file, after, current?.stat);
  return `${printable(file)}: ${action === 'add' ? 'added' : 'removed'} runtime ${RUNTIME_NAME}`;
}
