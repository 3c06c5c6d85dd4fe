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

/** How an edit is applied: `dryRun` says what would change (the diff) and writes nothing, not even a probe beside the file. */
export interface EditOptions {
  dryRun?: boolean | undefined;
}

/** containerd's own reading of a candidate config, when containerd is on PATH; undefined if it agrees. */
function containerdObjection(file: string, text: string, dryRun: boolean): string | undefined {
  // Beside the file, so relative imports read as they will; elsewhere when its directory is not made
  // yet (nothing of ours imports), or on a dry run, which writes nothing there. Not *.toml: a drop-in
  // directory's import pattern must not take it in.
  const probe = freshPath(!dryRun && existsSync(dirname(file)) ? dirname(file) : tmpdir(), `.${RUNTIME_NAME}-check-`, '.tmp');
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
export function applyEngineConfig(engine: Engine, action: Action, file: string, options: EditOptions = {}): string[] {
  // A template is not containerd's to read: k3s or RKE2 renders it into config.toml when it starts.
  const { line, diff } = applyEdit(file, action, EDITS[engine][action], engine === 'containerd' && action === 'add' && !isTemplate(file), options);
  return [line, ...diff];
}

/**
 * The change from `before` to `after` as unified-diff lines: the lines both share at the start and
 * the end left out, the rest as one hunk (our edits are one block added or removed, or one JSON key).
 */
export function textDiff(file: string, before: string | undefined, after: string | undefined): string[] {
  const split = (text: string | undefined) => (text === undefined || text === '' ? [] : text.replace(/\n$/, '').split('\n'));
  const a = split(before);
  const b = split(after);
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const context = 3;
  const from = Math.max(0, head - context);
  const toA = Math.min(a.length, a.length - tail + context);
  const toB = Math.min(b.length, b.length - tail + context);
  const range = (start: number, end: number) => `${end - start === 0 ? start : start + 1},${end - start}`;
  const name = printable(file);
  return [
    `--- ${before === undefined ? '/dev/null' : name}`,
    `+++ ${after === undefined ? '/dev/null' : name}`,
    `@@ -${range(from, toA)} +${range(from, toB)} @@`,
    ...a.slice(from, head).map((l) => ` ${l}`),
    ...a.slice(head, a.length - tail).map((l) => `-${l}`),
    ...b.slice(head, b.length - tail).map((l) => `+${l}`),
    ...a.slice(a.length - tail, toA).map((l) => ` ${l}`),
  ];
}

/**
 * Applies `edit` to `file` (absent: text undefined), atomically, writing nothing when nothing changes;
 * `check`: containerd on PATH must read the result and find our runtime in it.
 */
export function applyEdit(file: string, action: Action, edit: Edit, check: boolean, options: EditOptions = {}): { line: string; changed: boolean; diff: string[] } {
  const dryRun = options.dryRun === true;
  const would = dryRun ? 'would be ' : '';
  const exists = existsSync(file);
  if (!exists && action === 'remove') return { line: `${printable(file)}: not there, nothing to remove`, changed: false, diff: [] };
  // A template is made only in k3s's or RKE2's own directory, whose absence means neither runs here. A
  // drop-in's or config.toml's directory is made: the node shape said its containerd reads it there.
  if (!exists && action === 'add' && isTemplate(file) && !existsSync(dirname(file))) {
    throw new AgentcgroupError('bad-engine-config', `${printable(dirname(file))}: no such directory (is k3s or RKE2 installed?)`);
  }
  const current = exists ? readConfigFile(file) : undefined;
  const after = edit(current?.text, file);
  if (after === current?.text) return { line: `${printable(file)}: ${action === 'add' ? `runtime ${RUNTIME_NAME} already there` : `no runtime ${RUNTIME_NAME}, nothing to remove`}`, changed: false, diff: [] };
  const diff = dryRun ? textDiff(file, current?.text, after) : [];
  if (after === undefined) {
    if (!dryRun) rmSync(file);
    return { line: `${printable(file)}: ${would}removed (it held nothing but what install.sh put there)`, changed: true, diff };
  }
  if (check) {
    const objection = containerdObjection(file, after, dryRun);
    if (objection !== undefined) throw new AgentcgroupError('bad-engine-config', `${printable(file)}: containerd refuses the edited config (${objection}); left unchanged`);
  }
  if (dryRun) return { line: `${printable(file)}: would be ${exists ? 'edited' : 'made'}, ${action === 'add' ? 'adding' : 'removing'} runtime ${RUNTIME_NAME}:`, changed: true, diff };
  if (!exists) mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
  writeConfigFile(file, after, current?.stat);
  return { line: `${printable(file)}: ${action === 'add' ? 'added' : 'removed'} runtime ${RUNTIME_NAME}`, changed: true, diff };
}
