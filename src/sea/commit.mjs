// The git commit a build comes from, for `agentcgroup --version` and agentcgroup_build_info: the short
// hash of HEAD, with "-dirty" when the work tree differs from it; "unknown" outside a git checkout (a
// tarball of the sources). Run by the bundle step (printed, for esbuild's --define) and imported by
// src/sea/build.mjs.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export function buildCommit() {
  const git = (...args) => spawnSync('git', args, { encoding: 'utf8' });
  const head = git('rev-parse', '--short=12', 'HEAD');
  if (head.status !== 0) return 'unknown';
  const dirty = git('status', '--porcelain', '--untracked-files=no').stdout.trim() !== '';
  return `${head.stdout.trim()}${dirty ? '-dirty' : ''}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.stdout.write(buildCommit());
