/**
 * What node shape detection (nodeshape.ts) reads, gathered from a root directory: the probed files
 * under it, the drop-in directories' *.toml, which marker paths are there, and what the containerd on
 * PATH says its version is. Files are read as root reads an engine's config (regular files of sane
 * size only: oci/config.ts).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readConfigText } from '../oci/config.js';
import { DROPIN_DIRS, type NodeView, PRESENCE, PROBE_FILES } from './nodeshape.js';

/** `containerd --version`'s first line, or undefined when there is no containerd to ask. */
function containerdVersion(): string | undefined {
  const r = spawnSync('containerd', ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? r.stdout.split('\n')[0] : undefined;
}

/** The *.toml files of `dir` (a path on the node), as paths on the node. */
function tomlFiles(root: string, dir: string): string[] {
  if (!existsSync(join(root, dir))) return [];
  return readdirSync(join(root, dir))
    .filter((name) => name.endsWith('.toml'))
    .map((name) => `${dir}/${name}`);
}

/** The node below `root` ('/' for this host) as detection sees it. */
export function readNodeView(root: string): NodeView {
  const paths = [...PROBE_FILES, ...DROPIN_DIRS.flatMap((d) => tomlFiles(root, d))];
  const files = new Map(paths.filter((p) => existsSync(join(root, p))).map((p) => [p, readConfigText(join(root, p)).text]));
  const present = new Set(PRESENCE.filter((p) => existsSync(join(root, p))));
  return { files, present, containerdVersion: containerdVersion() };
}
