/**
 * `agentcgroup install-config containerd detect|register|unregister ROOT`: the shim's runtime put
 * where the node's containerd reads it (nodeshape.ts decides where), or taken out of every place it
 * may be; then the node's containerd told, or the operator told how. install.sh --containerd runs
 * `register` under its --root; the DaemonSet's init container runs it on the host itself.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { AgentcgroupError } from '../errors.js';
import { oneLine } from '../text.js';
import { addContainerdRuntime, removeContainerdRuntime } from './containerdconfig.js';
import { applyEdit } from './engineconfig.js';
import { RUNTIME_NAME } from './installconfig.js';
import { detectNodeShape, type NodeShape, PLACES, type Restart } from './nodeshape.js';
import { readNodeView } from './nodeview.js';

export interface NodeOptions {
  /** Restart the node's containerd (or its distribution's unit) when a config changed, rather than say how. */
  restart: boolean;
  /** Say what would change (with the diff), change nothing and restart nothing. */
  dryRun?: boolean | undefined;
}

/** The node's shape, or the one line saying why there is none to install into. */
function shapeOf(root: string): NodeShape {
  const found = detectNodeShape(readNodeView(root));
  if ('shape' in found) return found.shape;
  throw new AgentcgroupError('containerd-node', 'none' in found ? found.none : found.unhandled);
}

/** Lines telling the shape: what the node is, the file, what makes containerd read it. */
export function detect(root: string): string[] {
  const shape = shapeOf(root);
  const restart = 'unit' in shape.restart ? `systemctl restart ${shape.restart.unit}` : `nothing (${shape.restart.automatic})`;
  return [`shape: ${shape.name}`, `file: ${shape.file}`, `restart: ${restart}`];
}

function restarted(restart: Restart, changed: boolean, options: NodeOptions): string {
  if ('automatic' in restart) return `nothing to restart: ${restart.automatic}`;
  if (!changed) return 'nothing changed, nothing to restart';
  const { unit } = restart;
  if (options.dryRun === true) return options.restart ? `would restart ${unit}` : `${unit} would need a restart to pick it up (systemctl restart ${unit})`;
  if (!options.restart) return `restart ${unit} to pick it up (systemctl restart ${unit}; running containers keep running)`;
  const r = spawnSync('systemctl', ['restart', unit], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) {
    const why = r.error ? r.error.message : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`);
    throw new AgentcgroupError('restart-failed', `systemctl restart ${unit} failed: ${oneLine(why, 200)}`);
  }
  return `restarted ${unit}`;
}

/** Puts the runtime where the node's containerd reads it; lines saying what was done. */
export function register(root: string, options: NodeOptions): string[] {
  const shape = shapeOf(root);
  const edit = (text: string | undefined, file: string) => addContainerdRuntime(text, file, shape.edit);
  const { line, changed, diff } = applyEdit(join(root, shape.file), 'add', edit, shape.check, options);
  const use = `pods use it with runtimeClassName: ${RUNTIME_NAME} (deploy/kubernetes/runtimeclass.yaml)`;
  return [`containerd node: ${shape.name}`, line, ...diff, restarted(shape.restart, changed, options), use];
}

/** Takes our runtime out of every place a shape names; lines saying what was done. */
export function unregister(root: string, options: NodeOptions): string[] {
  const results = PLACES.map((place) => applyEdit(join(root, place), 'remove', (text, file) => (text === undefined ? text : removeContainerdRuntime(text, file)), false, options));
  const changed = results.filter((r) => r.changed);
  if (changed.length === 0) return [`no runtime ${RUNTIME_NAME} in any containerd config here`];
  // The node's containerd keeps the runtime until it reads its config again; the shape tells how.
  const found = detectNodeShape(readNodeView(root));
  const how = 'shape' in found ? restarted(found.shape.restart, true, options) : 'restart the containerd that read it to drop it';
  return [...changed.flatMap((r) => [r.line, ...r.diff]), how];
}
