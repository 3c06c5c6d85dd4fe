// `agentcgroup --version`: package.json's version and the git commit the build came from, as the
// bundle is built (the commit defined by src/sea/commit.mjs through esbuild).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { COMMIT, VERSION, VERSION_LINE } from '../../src/version.js';
import { buildCommit, cliCommand } from './runtime/cli-bundle.js';

t.test("the version is package.json's; from the sources the commit is unknown", async (t) => {
  t.equal(VERSION, JSON.parse(readFileSync('package.json', 'utf8')).version);
  t.equal(COMMIT, 'unknown', 'nothing defines it under tap');
  t.equal(VERSION_LINE, `${VERSION} (commit unknown)`);
});

t.test('the bundle says the commit of this checkout, a real one', async (t) => {
  const commit = buildCommit();
  t.match(commit, /^[0-9a-f]{12}(-dirty)?$/, 'a git checkout has a commit');
  t.equal(spawnSync('git', ['cat-file', '-e', `${commit.replace(/-dirty$/, '')}^{commit}`]).status, 0, 'that names a commit of this repository');
  const [cmd, args] = cliCommand(['--version']);
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  t.equal(r.stdout, `${VERSION} (commit ${commit})\n`);
});
