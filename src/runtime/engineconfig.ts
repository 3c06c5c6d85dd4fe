/**
 * `agentcgroup install-config`, install.sh's helper (so a host needs neither node nor jq): applies one
 * edit (installconfig.ts, containerdconfig.ts) to an engine's config file, atomically, writing nothing
 * when nothing changes. A containerd config is first checked by containerd itself (`config dump`) when
 * it is installed. nodeinstall.ts applies the containerd edits the same way, to the file a node shape names.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
/** An edit of a file's text (undefined: no file) into its new text (undefined: the file goes). */
export type Edit = (text: string | undefined, file: string) => string | undefined;

/** docker's edits take an absent daemon.json as empty; containerd's make the file or say why they cannot. */
const EDITS: Record<Engine, Record<Action, Edit>> = {
  docker: { add: (text, file) => addDockerRuntime(text ?? '', file), remove: (text, file) => removeDockerRuntime(text ?? '', file) },
  containerd: { add: (text, file) => addContainerdRuntime(text, file), remove: (text, file) => removeContainerdRuntime(text ?? '', file) },
};

/** containerd's own reading of a candidate config, when containerd is on PATH; undefined if it agrees. */
function containerdObjection(file: string, text: string): string | undefined {
  // Beside the file, so relative imports read as they will; elsewhere when its directory is not made
  // yet (nothing of ours imports). Not *.toml: a drop-in directory's import pattern must not take it in.
  const probe = freshPath(existsSync(dirname(file)) ? dirname(file) : tmpdir(), `.${RUNTIME_NAME}-check-`, '.tmp');
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
  // A template is not containerd's to read: k3s or RKE2 renders it into config.toml when it starts.
  return applyEdit(file, action, EDITS[engine][action], engine === 'containerd' && action === 'add' && !isTemplate(file)).line;
}

/**
 * Applies `edit` to `file` (absent: text undefined), atomically, writing nothing when nothing changes;
 * `check`: containerd on PATH must read the result and find our runtime in it.
 */
export function applyEdit(file: string, action: Action, edit: Edit, check: boolean): { line: string; changed: boolean } {
  const exists = existsSync(file);
  if (!exists && action === 'remove') return { line: `${printable(file)}: not there, nothing to remove`, changed: false };
  // A template is made only in k3s's or RKE2's own directory, whose absence means neither runs here. A
  // drop-in's or config.toml's directory is made: the node shape said its containerd reads it there.
  if (!exists && action === 'add' && isTemplate(file) && !existsSync(dirname(file))) {
    throw new AgentcgroupError('bad-engine-config', `${printable(dirname(file))}: no such directory (is k3s or RKE2 installed?)`);
  }
  const current = exists ? readConfigFile(file) : undefined;
  const after = edit(current?.text, file);
  if (after === current?.text) return { line: `${printable(file)}: ${action === 'add' ? `runtime ${RUNTIME_NAME} already there` : `no runtime ${RUNTIME_NAME}, nothing to remove`}`, changed: false };
  if (after === undefined) {
    rmSync(file);
    return { line: `${printable(file)}: removed (it held nothing but what install.sh put there)`, changed: true };
  }
  if (check) {
    const objection = containerdObjection(file, after);
    if (objection !== undefined) throw new AgentcgroupError('bad-engine-config', `${printable(file)}: containerd refuses the edited config (${objection}); left unchanged`);
  }
  if (!exists) mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
  writeConfigFile(file, after, current?.stat);
  return { line: `${printable(file)}: ${action === 'add' ? 'added' : 'removed'} runtime ${RUNTIME_NAME}`, changed: true };
}
