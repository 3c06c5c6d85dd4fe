// install.sh against a throwaway root: install, reinstall, uninstall, and the operator's policy kept.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const sh = (args: string[]) => spawnSync('bash', ['install.sh', ...args], { encoding: 'utf8' });

function tree(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tree(p, `${prefix}${n}/`) : [`${prefix}${n}`];
  });
}

t.test('install, reinstall, uninstall', async (t) => {
  const dir = t.testdir({ root: {}, bin: { agentcgroup: '#!/bin/sh\necho fake\n' } });
  const root = join(dir, 'root');
  const binary = join(dir, 'bin/agentcgroup');
  spawnSync('chmod', ['+x', binary]);
  const first = sh(['--root', root, '--binary', binary]);
  t.equal(first.status, 0, first.stderr);
  const files = tree(root).sort();
  t.same(files, [
    'etc/agentcgroup/policy.yaml',
    'etc/systemd/system/agentcgroup.service',
    'usr/local/bin/agentcgroup',
    'usr/share/containers/oci/hooks.d/agentcgroup.json',
  ]);
  t.equal(statSync(join(root, 'usr/local/bin/agentcgroup')).mode & 0o777, 0o755);
  t.equal(JSON.parse(readFileSync(join(root, 'usr/share/containers/oci/hooks.d/agentcgroup.json'), 'utf8')).when.annotations['^io\\.agentcgroup\\.enable$'], '^(1|true|yes|on)$', 'gated by default');

  writeFileSync(join(root, 'etc/agentcgroup/policy.yaml'), 'strict: true\n');
  const again = sh(['--root', root, '--binary', binary, '--always']);
  t.equal(again.status, 0, 'reinstall works');
  t.same(tree(root).sort(), files, 'reinstall adds nothing');
  t.equal(readFileSync(join(root, 'etc/agentcgroup/policy.yaml'), 'utf8'), 'strict: true\n', "the operator's policy is not overwritten");
  t.same(JSON.parse(readFileSync(join(root, 'usr/share/containers/oci/hooks.d/agentcgroup.json'), 'utf8')).when, { always: true }, '--always installs the always-on hook');

  const un = sh(['--uninstall', '--root', root]);
  t.equal(un.status, 0);
  t.match(un.stdout, /kept .*policy\.yaml: it differs from the shipped policy/);
  t.same(tree(root), ['etc/agentcgroup/policy.yaml'], 'only the modified policy is left');
  writeFileSync(join(root, 'etc/agentcgroup/policy.yaml'), readFileSync('config/policy.yaml'));
  t.equal(sh(['--uninstall', '--root', root]).status, 0, 'uninstall twice is fine');
  t.same(tree(root), [], 'an unmodified policy goes too');
});

t.test('bad invocations: one line, non-zero', async (t) => {
  for (const [args, pattern] of [
    [['--root', 'relative'], /--root must be an absolute path/],
    [['--bogus'], /unknown option --bogus/],
    [['--docker'], /not yet: it needs the runtime shim/],
    [['--root', '/tmp/x', '--binary', '/nonexistent'], /is not an executable file/],
  ] as const) {
    const r = sh([...args]);
    t.not(r.status, 0, args.join(' '));
    t.match(r.stderr, pattern);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  }
});
