// `agentcgroup install-config containerd detect|register|unregister ROOT` as install.sh and the
// DaemonSet run it: what it prints, the restart it makes with --restart (systemctl stood in for), and
// one line for what it will not do.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cliCommand } from './cli-bundle.js';
import { containerdStub } from './containerd-stub.js';

/** A root holding `files`, and PATH with stand-ins: containerd `version` (when given) and a systemctl that logs and exits `systemctlExit`. */
function node(t: Test, files: Record<string, string>, version?: string, systemctlExit = 0) {
  const dir = t.testdir({ root: {}, bin: {} });
  const root = join(dir, 'root');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  const log = join(dir, 'systemctl.log');
  writeFileSync(join(dir, 'bin/systemctl'), `#!/bin/sh\necho "$@" >> ${log}\necho "Job for $2.service failed." >&2\nexit ${systemctlExit}\n`, { mode: 0o755 });
  if (version !== undefined) containerdStub(join(dir, 'bin'), version);
  const env = { ...process.env, PATH: `${join(dir, 'bin')}:/nonexistent` };
  const run = (...args: string[]) => {
    const [cmd, argv] = cliCommand(['install-config', 'containerd', ...args]);
    return spawnSync(cmd, argv, { encoding: 'utf8', env });
  };
  return { root, run, restarts: () => (existsSync(log) ? readFileSync(log, 'utf8') : '') };
}

const K3S = '/var/lib/rancher/k3s';
const RENDERED = { [`${K3S}/agent/etc/containerd/config.toml`]: 'version = 3\n' };

t.test('detect: shape, file and restart, one line each', async (t) => {
  const { root, run } = node(t, RENDERED);
  const r = run('detect', root);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, [
    `shape: k3s agent, containerd config version 3 (rendered ${K3S}/agent/etc/containerd/config.toml)`,
    `file: ${K3S}/agent/etc/containerd/config-v3.toml.tmpl`,
    'restart: systemctl restart k3s-agent',
    '',
  ].join('\n'));
  const none = node(t, {}).run('detect', node(t, {}).root);
  t.equal(none.status, 1);
  t.match(none.stderr, /^agentcgroup: install-config: no containerd here: .*\n$/);
});

t.test('register --restart restarts the unit when the file changed, and only then', async (t) => {
  const { root, run, restarts } = node(t, { ...RENDERED, [`${K3S}/server/token`]: 'x' });
  const first = run('register', root, '--restart');
  t.equal(first.status, 0, first.stderr);
  t.match(first.stdout, /^containerd node: k3s server, .*\n.*: added runtime agentcgroup\nrestarted k3s\npods use it with runtimeClassName: agentcgroup/);
  t.equal(restarts(), 'restart k3s\n');
  const again = run('register', root, '--restart');
  t.match(again.stdout, /already there\nnothing changed, nothing to restart\n/);
  t.equal(restarts(), 'restart k3s\n', 'no second restart');
  const un = run('unregister', root, '--restart');
  t.equal(un.status, 0, un.stderr);
  t.match(un.stdout, /: removed \(it held nothing but what install\.sh put there\)\nrestarted k3s\n$/);
  t.equal(restarts(), 'restart k3s\nrestart k3s\n');
  t.equal(run('unregister', root).stdout, 'no runtime agentcgroup in any containerd config here\n');
});

t.test('a restart that fails: the edit stays, one line says so', async (t) => {
  const { root, run } = node(t, {}, '2.1.9', 1);
  const r = run('register', root, '--restart');
  t.equal(r.status, 1);
  t.equal(r.stderr, 'agentcgroup: install-config: systemctl restart containerd failed: Job for containerd.service failed.\n');
  t.ok(existsSync(join(root, 'etc/containerd/config.toml')), 'config.toml made: a restart by hand picks it up');
});

t.test('arguments it does not take: one line', async (t) => {
  const { run } = node(t, {});
  for (const [args, message] of [
    [['detect', 'relative'], /ROOT must be an absolute path, got "relative"/],
    [['bogus', '/'], /unknown action "bogus" for containerd \(expected add, remove, detect, register, unregister\)/],
  ] as const) {
    const r = run(...args);
    t.equal(r.status, 1);
    t.match(r.stderr, message);
    t.equal(r.stderr.split('\n').length, 2, 'one line');
  }
  const [cmd, argv] = cliCommand(['install-config', 'docker', 'register', '/']);
  t.match(spawnSync(cmd, argv, { encoding: 'utf8' }).stderr, /unknown action "register" for docker \(expected add, remove\)\n$/);
});

t.test('register and unregister --dry-run: the file made or edited shown as a diff, no write, no restart', async (t) => {
  const { root, run, restarts } = node(t, { ...RENDERED, [`${K3S}/server/token`]: 'x' });
  const template = join(root, `${K3S}/agent/etc/containerd/config-v3.toml.tmpl`);
  const dry = run('register', root, '--restart', '--dry-run');
  t.equal(dry.status, 0, dry.stderr);
  t.match(dry.stdout, /^containerd node: k3s server, .*\n.*: would be made, adding runtime agentcgroup:\n--- \/dev\/null\n\+\+\+ .*\n@@ -0,0 \+1,\d+ @@\n\+# BEGIN agentcgroup: file made by install\.sh --containerd/);
  t.match(dry.stdout, /^\+\{\{ template "base" \. \}\}$/m);
  t.match(dry.stdout, /^\+# END agentcgroup\nwould restart k3s\n/m);
  t.notOk(existsSync(template), 'nothing made');
  t.equal(restarts(), '', 'nothing restarted');

  t.equal(run('register', root).status, 0);
  const made = readFileSync(template, 'utf8');
  const unDry = run('unregister', root, '--dry-run');
  t.equal(unDry.status, 0, unDry.stderr);
  t.match(unDry.stdout, /: would be removed \(it held nothing but what install\.sh put there\)\n--- .*\n\+\+\+ \/dev\/null\n@@ -1,\d+ \+0,0 @@\n-# BEGIN agentcgroup/);
  t.match(unDry.stdout, /\nk3s would need a restart to pick it up \(systemctl restart k3s\)\n$/);
  t.equal(readFileSync(template, 'utf8'), made, 'still there, unchanged');
});
