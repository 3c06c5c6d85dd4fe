// .ci/run's package step (.ci/packages.sh) against a stand-in dpkg-query: what it would apt-get
// install on a fresh machine, on one with everything, and on one with Docker CE, whose containerd.io
// Debian's containerd and runc would remove.
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** ci_missing's stdout lines and stderr, with `installed` the packages the stand-in dpkg-query knows. */
function missing(t: Test, installed: string[]): { packages: string[]; stderr: string } {
  const dir = t.testdir({
    // dpkg-query -W -f='${Status}' NAME: "install ok installed" for the ones listed, else exit 1 as dpkg-query does.
    'dpkg-query': `#!/bin/sh\nfor n; do :; done\nfor p in $INSTALLED; do [ "$p" = "$n" ] && { printf 'install ok installed'; exit 0; }; done\necho "dpkg-query: no packages found matching $n" >&2\nexit 1\n`,
  });
  spawnSync('chmod', ['+x', join(dir, 'dpkg-query')]);
  const r = spawnSync('bash', ['-c', '. .ci/packages.sh && ci_missing'], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, INSTALLED: installed.join(' ') },
  });
  t.equal(r.status, 0, r.stderr);
  return { packages: r.stdout.split('\n').filter((l) => l !== ''), stderr: r.stderr };
}

const all = (): string[] => {
  const r = spawnSync('bash', ['-c', '. .ci/packages.sh && printf "%s\\n" "${ci_packages[@]}"'], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => l !== '');
};

t.test('a fresh machine: every package, nothing said', async (t) => {
  const { packages, stderr } = missing(t, []);
  t.same(packages, all());
  t.ok(packages.includes('containerd') && packages.includes('runc'));
  t.equal(stderr, '');
});

t.test('a machine with everything: nothing to install', async (t) => {
  t.same(missing(t, all()).packages, []);
});

for (const docker of [['containerd.io'], ['docker-ce', 'containerd.io'], ['docker-ce']]) {
  t.test(`Docker CE (${docker.join(', ')}): its containerd and runc are used, Debian's never asked for; one line says so`, async (t) => {
    const { packages, stderr } = missing(t, docker);
    t.notOk(packages.includes('containerd'), "Debian's containerd would remove containerd.io");
    t.notOk(packages.includes('runc'), "Debian's runc conflicts with containerd.io");
    t.same(packages, all().filter((p) => p !== 'containerd' && p !== 'runc'), 'the rest as on any machine');
    t.equal(stderr.trim().split('\n').length, 1, 'one line');
    t.match(stderr, /^\.ci\/run: Docker CE is installed \(containerd\.io\): using its containerd and runc, not Debian's/);
  });
}

t.test('.ci/run takes its package list from .ci/packages.sh', async (t) => {
  const run = readFileSync('.ci/run', 'utf8');
  t.match(run, /^\. \.ci\/packages\.sh$/m);
  t.match(run, /ci_missing/);
  t.notMatch(run, /packages=\(/, 'no second list to drift');
});
