// The CLI as the shim runs in production: one CommonJS bundle of src/cli/index.ts, built from the
// sources under test into a temporary directory (so tests never run a stale dist/).
import { spawnSync } from 'node:child_process';
import { buildSync } from 'esbuild';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let built: string | undefined;

export function cliBundle(): string {
  if (built === undefined) {
    const out = join(mkdtempSync(join(tmpdir(), 'agentcgroup-cli-')), 'agentcgroup.cjs');
    // The commit defined as the build defines it (package.json's bundle script).
    const define = { AGENTCGROUP_COMMIT: JSON.stringify(buildCommit()) };
    buildSync({ entryPoints: ['src/cli/index.ts'], bundle: true, platform: 'node', target: 'node20', format: 'cjs', outfile: out, external: ['koffi'], define, logLevel: 'warning' });
    built = out;
  }
  return built;
}

/**
 * The command line that runs the bundled CLI with `args` as production does: tap puts its process
 * tracker into every child's NODE_OPTIONS, and that one keeps handlers on every signal.
 */
export function cliCommand(args: readonly string[], script: string = cliBundle()): [string, string[]] {
  return ['/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, script, ...args]];
}

/** What src/sea/commit.mjs says this checkout's commit is. */
export function buildCommit(): string {
  const r = spawnSync(process.execPath, ['src/sea/commit.mjs'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`src/sea/commit.mjs: ${r.stderr}`);
  return r.stdout;
}
