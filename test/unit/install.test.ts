// install.sh against a throwaway root: install, reinstall, uninstall, and the operator's policy kept;
// --docker and --containerd register the runtime shim in the engine's config and take it out again.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cliBundle, cliCommand } from './runtime/cli-bundle.js';
import { containerdStub } from './runtime/containerd-stub.js';

const sh = (args: string[], env: NodeJS.ProcessEnv = process.env) => spawnSync('bash', ['install.sh', ...args], { encoding: 'utf8', env });

function tree(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tree(p, `${prefix}${n}/`) : [`${prefix}${n}`];
  });
}

/**
 * What a watcher of `dir` (as CRI-O watches hooks.d) sees happen to `name` while `run` runs: fs.watch
 * events, 'rename' (created, removed, renamed onto) or 'change' (written). A file of our own made
 * afterwards marks the end: inotify delivers in order, so its event comes after all of `run`'s.
 */
async function watched<R>(dir: string, name: string, run: () => R): Promise<{ result: R; events: string[] }> {
  const events: string[] = [];
  const marker = '.watch-marker';
  let ended!: () => void;
  const end = new Promise<void>((resolve) => (ended = resolve));
  const watcher = watch(dir, (event, file) => (file === marker ? ended() : file === name && events.push(event)));
  try {
    const result = run();
    writeFileSync(join(dir, marker), '');
    await end;
    return { result, events };
  } finally {
    watcher.close();
    rmSync(join(dir, marker), { force: true });
  }
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
    'usr/local/bin/agentcgroup-runtime',
    'usr/share/containers/oci/hooks.d/agentcgroup.json',
  ]);
  t.equal(readlinkSync(join(root, 'usr/local/bin/agentcgroup-runtime')), 'agentcgroup', "the name containerd's BinaryName runs, always there");
  t.equal(statSync(join(root, 'usr/local/bin/agentcgroup')).mode & 0o777, 0o755);
  t.equal(JSON.parse(readFileSync(join(root, 'usr/share/containers/oci/hooks.d/agentcgroup.json'), 'utf8')).when.annotations['^io\\.agentcgroup\\.enable$'], '^(1|true|yes|on)$', 'gated by default');
  t.equal(JSON.parse(readFileSync(join(root, 'usr/share/containers/oci/hooks.d/agentcgroup.json'), 'utf8')).hook.path, '/usr/local/bin/agentcgroup', 'a binary that carries no hook front: hooks.d runs the binary');

  writeFileSync(join(root, 'etc/agentcgroup/policy.yaml'), 'strict: true\n');
  const hooksDir = join(root, 'usr/share/containers/oci/hooks.d');
  const { result: again, events } = await watched(hooksDir, 'agentcgroup.json', () => sh(['--root', root, '--binary', binary, '--always']));
  t.equal(again.status, 0, 'reinstall works');
  t.same(events, ['rename'], 'the hooks.d JSON is renamed into place, never written where CRI-O, which watches hooks.d, reads it');
  t.same(tree(root).sort(), files, 'reinstall adds nothing (no temporary file left)');
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

t.test('the native hook front the binary carries: beside it, run by hooks.d; gone with a binary that has none, and on uninstall', async (t) => {
  const dir = t.testdir({ root: {}, bin: {} });
  const root = join(dir, 'root');
  const withFront = join(dir, 'bin/with-front');
  const withoutFront = join(dir, 'bin/without-front');
  writeFileSync(withFront, '#!/bin/sh\n[ "$1" = hook-front ] && printf "front bytes" >"$2"\nexit 0\n', { mode: 0o755 });
  writeFileSync(withoutFront, '#!/bin/sh\necho "unknown command $1" >&2\nexit 1\n', { mode: 0o755 });
  const hookJson = () => JSON.parse(readFileSync(join(root, 'usr/share/containers/oci/hooks.d/agentcgroup.json'), 'utf8')) as { hook: { path: string; args: string[] } };
  const front = join(root, 'usr/local/bin/agentcgroup-hook');

  const first = sh(['--root', root, '--binary', withFront]);
  t.equal(first.status, 0, first.stderr);
  t.equal(readFileSync(front, 'utf8'), 'front bytes', 'written out by the binary (agentcgroup hook-front FILE)');
  t.equal(statSync(front).mode & 0o777, 0o755);
  t.same(hookJson().hook, { path: '/usr/local/bin/agentcgroup-hook', args: ['agentcgroup', 'hook'], timeout: 30 }, 'hooks.d runs the front, with the same argv');
  t.match(first.stdout, /agentcgroup-hook \(the native hook front\)/);

  const { result: older, events } = await watched(join(root, 'usr/share/containers/oci/hooks.d'), 'agentcgroup.json', () => sh(['--root', root, '--binary', withoutFront]));
  t.equal(older.status, 0, older.stderr);
  t.equal(hookJson().hook.path, '/usr/local/bin/agentcgroup', 'a binary without a front: hooks.d runs the binary');
  t.same(events, ['rename'], 'renamed into place');
  t.notOk(existsSync(front), 'and the old front is gone');
  t.notMatch(older.stdout, /hook front/);

  t.equal(sh(['--root', root, '--binary', withFront]).status, 0);
  t.ok(existsSync(front));
  t.equal(sh(['--uninstall', '--root', root]).status, 0);
  t.same(tree(root), [], 'uninstall removes the front too');
});

t.test('the native runtime front the binary carries: agentcgroup-runtime itself; a link again with a binary that has none; gone on uninstall', async (t) => {
  const dir = t.testdir({ root: {}, bin: {} });
  const root = join(dir, 'root');
  const withFront = join(dir, 'bin/with-front');
  const withoutFront = join(dir, 'bin/without-front');
  writeFileSync(withFront, '#!/bin/sh\n[ "$1" = runtime-front ] && printf "runtime front bytes" >"$2"\nexit 0\n', { mode: 0o755 });
  writeFileSync(withoutFront, '#!/bin/sh\necho "unknown command $1" >&2\nexit 1\n', { mode: 0o755 });
  const shim = join(root, 'usr/local/bin/agentcgroup-runtime');

  t.equal(sh(['--root', root, '--binary', withoutFront]).status, 0);
  t.equal(readlinkSync(shim), 'agentcgroup', 'first a link: the binary is the shim by that name');
  const first = sh(['--root', root, '--binary', withFront]);
  t.equal(first.status, 0, first.stderr);
  t.notOk(lstatSync(shim).isSymbolicLink(), 'the link is replaced by the front');
  t.equal(readFileSync(shim, 'utf8'), 'runtime front bytes', 'written out by the binary (agentcgroup runtime-front FILE)');
  t.equal(statSync(shim).mode & 0o777, 0o755);
  t.match(first.stdout, /agentcgroup-runtime/);
  const dry = sh(['--root', root, '--binary', withFront, '--dry-run']);
  t.match(dry.stdout, /^would leave \S+\/usr\/local\/bin\/agentcgroup-runtime \(unchanged\)$/m, dry.stdout);

  t.equal(sh(['--root', root, '--binary', withoutFront]).status, 0);
  t.equal(readlinkSync(shim), 'agentcgroup', 'a binary without a front: the link again');
  t.equal(sh(['--root', root, '--binary', withFront]).status, 0);
  t.equal(sh(['--uninstall', '--root', root]).status, 0);
  t.same(tree(root), [], 'uninstall removes the front too');
});

t.test('bad invocations: one line, non-zero', async (t) => {
  for (const [args, pattern] of [
    [['--root', 'relative'], /--root must be an absolute path/],
    [['--bogus'], /unknown option --bogus/],
    [['--root', '/tmp/x', '--binary', '/nonexistent'], /is not an executable file/],
  ] as const) {
    const r = sh([...args]);
    t.not(r.status, 0, args.join(' '));
    t.match(r.stderr, pattern);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  }
});

/**
 * A root, and an installable binary that is the CLI built from these sources, with the exec client
 * beside the script as in dist/ (the single executable carries it instead), unless `client` is false.
 */
function engineWorld(t: Test, client = true): { root: string; binary: string } {
  const dir = t.testdir({ root: {}, lib: {} });
  const script = join(dir, 'lib/agentcgroup.cjs');
  copyFileSync(cliBundle(), script);
  if (client) copyFileSync('dist/agentcgroup-exec', join(dir, 'lib/agentcgroup-exec'));
  const binary = join(dir, 'agentcgroup');
  const [cmd, args] = cliCommand([], script);
  writeFileSync(binary, `#!/bin/sh\nexec ${[cmd, ...args].join(' ')} "$@"\n`, { mode: 0o755 });
  return { root: join(dir, 'root'), binary };
}

/** An engineWorld whose root holds `rel` (with `text`, when given), and install.sh run on it with `flags`. */
function installWith(t: Test, rel: string, text: string | undefined, flags: string[], env: NodeJS.ProcessEnv = process.env) {
  const w = engineWorld(t);
  const file = join(w.root, rel);
  mkdirSync(dirname(file), { recursive: true });
  if (text !== undefined) writeFileSync(file, text);
  return { ...w, file, first: sh(['--root', w.root, '--binary', w.binary, ...flags], env) };
}

t.test('the in-container exec client: written by the binary, which carries it; replaced by rename; removed on uninstall', async (t) => {
  const { root, binary } = engineWorld(t);
  const client = join(root, 'usr/local/lib/agentcgroup/agentcgroup-exec');

  const first = sh(['--root', root, '--binary', binary]);
  t.equal(first.status, 0, first.stderr);
  t.equal(first.stderr, '', 'no warning');
  t.ok(readFileSync(client).equals(readFileSync('dist/agentcgroup-exec')), 'the client, byte for byte');
  t.equal(statSync(client).mode & 0o7777, 0o755);
  t.equal(statSync(dirname(client)).mode & 0o7777, 0o755);
  const inode = statSync(client).ino;
  t.equal(sh(['--root', root, '--binary', binary]).status, 0);
  t.not(statSync(client).ino, inode, 'reinstalled by rename: a container that has the old one mounted keeps it whole');
  t.same(readdirSync(dirname(client)), ['agentcgroup-exec'], 'no temporary file left');

  t.equal(sh(['--uninstall', '--root', root]).status, 0);
  t.notOk(existsSync(dirname(client)), 'the client and its directory are gone');
});

t.test('a binary that cannot give the client: one warning, the rest installed', async (t) => {
  const { root, binary } = engineWorld(t, false);
  const r = sh(['--root', root, '--binary', binary]);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stderr, /^warning: the in-container exec client was not installed \(agentcgroup: install-exec-client: the exec client .* cannot be read \(ENOENT\): build it with npm run build\): containers get no \/run\/agentcgroup\/agentcgroup-exec\n$/);
  t.ok(existsSync(join(root, 'usr/local/bin/agentcgroup')));
  t.notOk(existsSync(join(root, 'usr/local/lib/agentcgroup/agentcgroup-exec')));
});

const DAEMON_JSON = `{
    "log-driver": "journald",
    "runtimes": {
        "nvidia": {
            "path": "/usr/bin/nvidia-container-runtime"
        }
    }
}
`;

t.test('--docker: merged into daemon.json, other keys and indentation kept; uninstall restores it', async (t) => {
  const { root, binary, file, first } = installWith(t, 'etc/docker/daemon.json', DAEMON_JSON, ['--docker']);
  t.equal(first.status, 0, first.stderr);
  t.match(first.stdout, /daemon\.json: added runtime agentcgroup\n/);
  const installed = readFileSync(file, 'utf8');
  t.same(JSON.parse(installed), {
    'log-driver': 'journald',
    runtimes: { nvidia: { path: '/usr/bin/nvidia-container-runtime' }, agentcgroup: { path: '/usr/local/bin/agentcgroup-runtime' } },
  });
  t.match(installed, /^\{\n {4}"log-driver"/, 'four-space indentation kept');
  const again = sh(['--root', root, '--binary', binary, '--docker']);
  t.equal(again.status, 0);
  t.match(again.stdout, /runtime agentcgroup already there/);
  t.equal(readFileSync(file, 'utf8'), installed, 'reinstall: byte-identical');
  const un = sh(['--uninstall', '--root', root]);
  t.equal(un.status, 0, un.stderr);
  t.equal(readFileSync(file, 'utf8'), DAEMON_JSON, 'uninstall: the file as it was');
  t.notOk(existsSync(join(root, 'usr/local/bin/agentcgroup')));

  writeFileSync(file, '{"debug": true, "runtimes": {}}');
  t.equal(sh(['--root', root, '--binary', binary, '--docker']).status, 0);
  t.equal(sh(['--uninstall', '--root', root]).status, 0);
  t.equal(readFileSync(file, 'utf8'), '{\n  "debug": true\n}\n', 'a runtimes map left empty goes too');
});

t.test('--docker without a daemon.json creates it; uninstall removes it', async (t) => {
  const { root, binary } = engineWorld(t);
  t.equal(sh(['--root', root, '--binary', binary, '--docker']).status, 0);
  const file = join(root, 'etc/docker/daemon.json');
  t.equal(readFileSync(file, 'utf8'), '{\n  "runtimes": {\n    "agentcgroup": {\n      "path": "/usr/local/bin/agentcgroup-runtime"\n    }\n  }\n}\n');
  t.equal(statSync(file).mode & 0o777, 0o644);
  t.equal(sh(['--uninstall', '--root', root]).status, 0);
  t.notOk(existsSync(file), 'nothing else was in it');
});

t.test('--docker refusals: broken JSON, default-runtime still ours', async (t) => {
  const { root, binary, file, first: broken } = installWith(t, 'etc/docker/daemon.json', '{"debug": true,}', ['--docker']);
  t.not(broken.status, 0);
  t.match(broken.stderr, /^agentcgroup: install-config: .*daemon\.json: not JSON \(.*\); left unchanged\n$/);
  t.equal(readFileSync(file, 'utf8'), '{"debug": true,}');
  writeFileSync(file, '{"default-runtime": "agentcgroup"}');
  t.equal(sh(['--root', root, '--binary', binary, '--docker']).status, 0);
  const un = sh(['--uninstall', '--root', root]);
  t.not(un.status, 0, 'uninstall stops');
  t.match(un.stderr, /"default-runtime" is "agentcgroup": set it back \(to runc\) first/);
  t.equal(un.stderr.trim().split('\n').length, 1, 'one line');
  t.ok(existsSync(join(root, 'usr/local/bin/agentcgroup')), 'and removes nothing, so it can be run again');
});

// What `containerd config default` (1.6) writes for the CRI runtimes, trimmed, with the systemd driver.
const CONFIG_TOML = `version = 2

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.6"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes]
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
          runtime_type = "io.containerd.runc.v2"
          [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
            SystemdCgroup = true
`;

t.test('--containerd: a marked block in config.toml and the agentcgroup-runtime link; uninstall removes both', async (t) => {
  const { root, binary, file, first } = installWith(t, 'etc/containerd/config.toml', CONFIG_TOML, ['--containerd']);
  t.equal(first.status, 0, first.stderr);
  t.match(first.stdout, /^containerd node: containerd (1\.x|\(version unknown\)), config\.toml version 2\n.*config\.toml: added runtime agentcgroup\nrestart containerd to pick it up/m);
  const installed = readFileSync(file, 'utf8');
  t.ok(installed.startsWith(CONFIG_TOML), 'the operator\'s config untouched above the block');
  const block = installed.slice(CONFIG_TOML.length);
  t.match(block, /^\n# BEGIN agentcgroup/);
  t.match(block, /^\[plugins\."io\.containerd\.grpc\.v1\.cri"\.containerd\.runtimes\.agentcgroup\]\n {2}runtime_type = "io\.containerd\.runc\.v2"$/m);
  t.match(block, /^ {2}pod_annotations = \["io\.agentcgroup\.\*"\]$/m);
  t.match(block, /^ {2}BinaryName = "\/usr\/local\/bin\/agentcgroup-runtime"$/m);
  t.match(block, /^ {2}SystemdCgroup = true$/m, 'the cgroup driver of the default runtime');
  t.ok(lstatSync(join(root, 'usr/local/bin/agentcgroup-runtime')).isSymbolicLink());
  t.equal(readlinkSync(join(root, 'usr/local/bin/agentcgroup-runtime')), 'agentcgroup', 'relative, so it holds under any root');
  t.equal(sh(['--root', root, '--binary', binary, '--containerd']).status, 0);
  t.equal(readFileSync(file, 'utf8'), installed, 'reinstall: byte-identical');
  const un = sh(['--uninstall', '--root', root]);
  t.equal(un.status, 0, un.stderr);
  t.equal(readFileSync(file, 'utf8'), CONFIG_TOML, 'uninstall: the file as it was');
  t.same(tree(root).filter((f) => f.startsWith('usr/')), [], 'binary and link gone');

  writeFileSync(file, CONFIG_TOML.replace('SystemdCgroup = true', 'SystemdCgroup = false'));
  t.equal(sh(['--root', root, '--binary', binary, '--containerd']).status, 0);
  t.match(readFileSync(file, 'utf8'), /BinaryName = .*\n {2}SystemdCgroup = false\n/, 'cgroupfs driver followed too');
});

t.test('--containerd refuses configs it cannot extend safely', async (t) => {
  const env = withContainerd(t.testdir(), '1.6.20');
  for (const [name, text, pattern] of [
    ['no config.toml', undefined, /containerd 1\.x runs on its built-in defaults \(no \/etc\/containerd\/config\.toml\); write them first: containerd config default > /],
    ['version 1', CONFIG_TOML.replace('version = 2\n', ''), /config version 1 \(no version line\): only versions 2 \(containerd 1\.6, 1\.7\) and 3 \(containerd 2\.x\)/],
    ['version 4', CONFIG_TOML.replace('version = 2', 'version = 4'), /config version 4: only versions 2/],
    ['no runc runtime table', 'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "x"\n', /does not define the default runtime .*Start from `containerd config default`/],
    ['a runtime agentcgroup of its own', `${CONFIG_TOML}[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.agentcgroup]\n`, /already defines a runtime "agentcgroup" that install\.sh did not write/],
  ] as const) {
    const { file, first: r } = installWith(t, 'etc/containerd/config.toml', text, ['--containerd'], env);
    t.not(r.status, 0, name);
    t.match(r.stderr, pattern, name);
    t.equal(r.stderr.trim().split('\n').length, 1, `${name}: one line`);
    t.equal(existsSync(file) ? readFileSync(file, 'utf8') : undefined, text, `${name}: left unchanged`);
  }
});

/** PATH with a stand-in for containerd `version` first (runtime/containerd-stub.ts). */
function withContainerd(dir: string, version: string): NodeJS.ProcessEnv {
  const bin = join(dir, `containerd-${version}`);
  mkdirSync(bin);
  containerdStub(bin, version);
  return { ...process.env, PATH: `${bin}:${process.env.PATH}` };
}

t.test('--containerd on containerd 2.x (config version 3): the block where version 3 keeps runtimes; uninstall restores the bytes', async (t) => {
  const w = engineWorld(t);
  const env = withContainerd(dirname(w.root), '2.1.9');
  const original = readFileSync('test/fixtures/containerd/default-2.1.9.toml', 'utf8');
  const file = join(w.root, 'etc/containerd/config.toml');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, original);
  const first = sh(['--root', w.root, '--binary', w.binary, '--containerd'], env);
  t.equal(first.status, 0, first.stderr);
  const installed = readFileSync(file, 'utf8');
  t.ok(installed.startsWith(original), "the operator's config untouched above the block");
  t.match(installed.slice(original.length), /^\[plugins\."io\.containerd\.cri\.v1\.runtime"\.containerd\.runtimes\.agentcgroup\.options\]\n {2}BinaryName = "\/usr\/local\/bin\/agentcgroup-runtime"$/m);
  t.equal(sh(['--root', w.root, '--binary', w.binary, '--containerd'], env).status, 0);
  t.equal(readFileSync(file, 'utf8'), installed, 'reinstall: byte-identical');
  const un = sh(['--uninstall', '--root', w.root], env);
  t.equal(un.status, 0, un.stderr);
  t.equal(readFileSync(file, 'utf8'), original, 'uninstall: the file as it was');
});

t.test('--containerd-config: a k3s template made, and removed again by an uninstall naming it', async (t) => {
  const w = engineWorld(t);
  const host = '/var/lib/rancher/k3s/agent/etc/containerd/config-v3.toml.tmpl';
  const flags = ['--containerd-config', host];
  const refused = sh(['--root', w.root, '--binary', w.binary, ...flags]);
  t.not(refused.status, 0, 'no k3s directory: refused');
  t.match(refused.stderr, /\/var\/lib\/rancher\/k3s\/agent\/etc\/containerd: no such directory \(is k3s or RKE2 installed\?\)\n$/);
  t.equal(refused.stderr.trim().split('\n').length, 1, 'one line');

  const file = join(w.root, host);
  mkdirSync(dirname(file), { recursive: true });
  const first = sh(['--root', w.root, '--binary', w.binary, ...flags]);
  t.equal(first.status, 0, first.stderr);
  t.match(first.stdout, /: added runtime agentcgroup\n/);
  t.match(first.stdout, /restart k3s or RKE2 to render it/);
  t.match(readFileSync(file, 'utf8'), /^# BEGIN agentcgroup: file made by install\.sh.*\n\{\{ template "base" \. \}\}\n/);
  t.ok(lstatSync(join(w.root, 'usr/local/bin/agentcgroup-runtime')).isSymbolicLink(), 'the link containerd runs');
  t.notOk(existsSync(join(w.root, 'etc/containerd')), '/etc/containerd not touched');
  const un = sh(['--uninstall', '--root', w.root, ...flags]);
  t.equal(un.status, 0, un.stderr);
  t.notOk(existsSync(file), 'the template it made is gone: k3s renders its own config again');
  t.match(sh(['--root', w.root, '--containerd-config', 'relative.toml']).stderr, /--containerd-config must be an absolute path/);
});

/** A world whose root holds `files` (paths on the node), with containerd `version` on PATH (none: no containerd). */
function nodeWorld(t: Test, files: Record<string, string>, version?: string) {
  const w = engineWorld(t);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(w.root, path)), { recursive: true });
    writeFileSync(join(w.root, path), text);
  }
  const env = version === undefined ? { ...process.env, PATH: '/usr/bin:/bin' } : withContainerd(dirname(w.root), version);
  if (version === undefined && spawnSync('sh', ['-c', 'command -v containerd'], { env }).status === 0) t.comment('containerd in /usr/bin: the none case below runs as a 1.x node');
  const run = (args: string[]) => sh(['--root', w.root, '--binary', w.binary, ...args], env);
  const uninstall = () => sh(['--uninstall', '--root', w.root], env);
  return { ...w, env, run, uninstall };
}

const V3_DEFAULT = readFileSync('test/fixtures/containerd/default-2.1.9.toml', 'utf8');

t.test('--containerd follows the node shape: made or edited where it is read, and exactly undone', async (t) => {
  const k3s = '/var/lib/rancher/k3s/agent/etc/containerd';
  const cases: { name: string; files: Record<string, string>; version?: string; made: string; said: RegExp }[] = [
    { name: 'containerd 2.x without config.toml', files: {}, version: '2.1.9', made: '/etc/containerd/config.toml', said: /^restart containerd to pick it up/m },
    {
      name: 'containerd 2.x importing conf.d',
      files: { '/etc/containerd/config.toml': V3_DEFAULT.replace('imports = []', "imports = ['/etc/containerd/conf.d/*.toml']") },
      version: '2.2.0',
      made: '/etc/containerd/conf.d/agentcgroup.toml',
      said: /^restart containerd to pick it up/m,
    },
    { name: 'k3s agent', files: { [`${k3s}/config.toml`]: '# File generated by k3s.\nversion = 3\n' }, made: `${k3s}/config-v3.toml.tmpl`, said: /^restart k3s-agent to pick it up \(systemctl restart k3s-agent;/m },
    { name: 'k0s', files: { '/etc/k0s/containerd.toml': '# k0s_managed=true\nversion = 3\nimports = ["/etc/k0s/containerd.d/*.toml"]\n', '/etc/k0s/containerd.d/.keep': '' }, made: '/etc/k0s/containerd.d/agentcgroup.toml', said: /^nothing to restart: k0s reloads containerd itself when \/etc\/k0s\/containerd\.d changes$/m },
  ];
  for (const c of cases) {
    const w = nodeWorld(t, c.files, c.version);
    const before = tree(w.root).sort();
    const first = w.run(['--containerd']);
    t.equal(first.status, 0, `${c.name}: ${first.stderr}`);
    t.match(first.stdout, c.said, `${c.name}: what to restart`);
    const made = readFileSync(join(w.root, c.made), 'utf8');
    t.match(made, /^# BEGIN agentcgroup: file made by install\.sh/, `${c.name}: ${c.made} made`);
    for (const [path, text] of Object.entries(c.files)) t.equal(readFileSync(join(w.root, path), 'utf8'), text, `${c.name}: ${path} untouched`);
    t.equal(w.run(['--containerd']).status, 0);
    t.equal(readFileSync(join(w.root, c.made), 'utf8'), made, `${c.name}: reinstall, byte-identical`);
    const un = w.uninstall();
    t.equal(un.status, 0, un.stderr);
    t.notOk(existsSync(join(w.root, c.made)), `${c.name}: uninstall, the file gone`);
    t.same(tree(w.root).sort(), before, `${c.name}: the node's files as they were`);
  }
});

t.test('--containerd where no shape fits: one line, nothing written', async (t) => {
  const none = nodeWorld(t, {});
  const r = none.run(['--containerd']);
  t.not(r.status, 0);
  t.match(r.stderr, /^agentcgroup: install-config: (no containerd here: .*|containerd 1\.x runs on its built-in defaults.*)\n$/);
  const docker = nodeWorld(t, { '/etc/containerd/config.toml': 'disabled_plugins = ["cri"]\n' }, '1.7.27');
  t.match(docker.run(['--containerd']).stderr, /^agentcgroup: install-config: \/etc\/containerd\/config\.toml disables containerd's CRI plugin \(disabled_plugins\): kubelet runs no pods through this containerd\n$/);
  const both = nodeWorld(t, { '/var/lib/rancher/k3s/agent/etc/containerd/config.toml': 'version = 3\n', '/var/lib/rancher/rke2/agent/etc/containerd/config.toml': 'version = 3\n' });
  t.match(both.run(['--containerd']).stderr, /^agentcgroup: install-config: the containerd configs of several distributions are here \(k3s, RKE2\): name the file with install\.sh --containerd-config\n$/);
  t.same(tree(both.root).filter((f) => f.endsWith('.tmpl')), [], 'no template made');
});

t.test('uninstall finds a drop-in of ours without the binary, and says so instead of leaving it', async (t) => {
  const w = nodeWorld(t, { '/etc/k0s/containerd.toml': '# k0s_managed=true\nversion = 3\n' });
  t.equal(w.run(['--containerd']).status, 0);
  rmSync(join(w.root, 'usr/local/bin/agentcgroup'));
  const un = w.uninstall();
  t.not(un.status, 0);
  t.match(un.stderr, /agentcgroup is gone, so the agentcgroup runtime cannot be taken out of containerd's config: reinstall, then uninstall\n$/);
  t.ok(existsSync(join(w.root, 'etc/k0s/containerd.d/agentcgroup.toml')), 'left for the uninstall after a reinstall');
});

t.test("install.sh's containerd_dirs hold every place a node shape names", async (t) => {
  const { PLACES } = await import('../../src/runtime/nodeshape.js');
  const dirs = /^containerd_dirs=\(([^)]*)\)$/m.exec(readFileSync('install.sh', 'utf8'))?.[1]?.split(' ') ?? [];
  t.same(PLACES.filter((p) => !dirs.includes(dirname(p).slice(1))), []);
});

/** Every file under `dir` with its bytes (and each link's target): what a dry run must leave as it was. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, prefix: string) => {
    if (!existsSync(d)) return;
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      const s = lstatSync(p);
      if (s.isSymbolicLink()) out[`${prefix}${n}`] = `-> ${readlinkSync(p)}`;
      else if (s.isDirectory()) {
        out[`${prefix}${n}/`] = (s.mode & 0o7777).toString(8);
        walk(p, `${prefix}${n}/`);
      } else out[`${prefix}${n}`] = `${(s.mode & 0o7777).toString(8)} ${readFileSync(p, 'utf8')}`;
    }
  };
  walk(dir, '');
  return out;
}

/** PATH with a containerd 1.7 stand-in first, whose config dump agrees with any edit. */
function stubbedEnv(t: Test): NodeJS.ProcessEnv {
  // Not t.testdir: one test has one, and engineWorld holds it.
  const dir = mkdtempSync(join(tmpdir(), 'agentcgroup-stub-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  containerdStub(dir, '1.7.0');
  return { ...process.env, PATH: `${dir}:${process.env.PATH}` };
}

const CONTAINERD_V2 = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]\n  runtime_type = "io.containerd.runc.v2"\n';

t.test('--dry-run: every change said, engine configs as a diff, nothing changed; the same for uninstall', async (t) => {
  const { root, binary } = engineWorld(t);
  mkdirSync(join(root, 'etc/docker'), { recursive: true });
  mkdirSync(join(root, 'srv/ctrd'), { recursive: true });
  writeFileSync(join(root, 'etc/docker/daemon.json'), DAEMON_JSON);
  writeFileSync(join(root, 'srv/ctrd/config.toml'), CONTAINERD_V2);
  const before = snapshot(root);
  const flags = ['--root', root, '--binary', binary, '--docker', '--config', '/srv/ctrd/config.toml'];
  const dry = sh([...flags, '--dry-run'], stubbedEnv(t));
  t.equal(dry.status, 0, dry.stderr);
  t.same(snapshot(root), before, 'not one byte, mode or file changed');
  for (const want of [
    /^would write \S+\/usr\/local\/bin\/agentcgroup \(new, mode 0755\)$/m,
    /^would link \S+\/usr\/local\/bin\/agentcgroup-runtime -> agentcgroup$/m,
    /^would write \S+\/usr\/local\/lib\/agentcgroup\/agentcgroup-exec /m,
    /^would write \S+\/usr\/share\/containers\/oci\/hooks\.d\/agentcgroup\.json \(new, mode 0644\)$/m,
    /^would write \S+\/etc\/systemd\/system\/agentcgroup\.service \(new, mode 0644\)$/m,
    /^would write \S+\/etc\/agentcgroup\/policy\.yaml \(new, mode 0644\)$/m,
    /daemon\.json: would be edited, adding runtime agentcgroup:\n--- \S+daemon\.json\n\+\+\+ \S+daemon\.json\n@@ /,
    /^\+ {8}"agentcgroup": \{$/m,
    /srv\/ctrd\/config\.toml: would be edited, adding runtime agentcgroup:\n--- /,
    /^ {3}runtime_type = "io\.containerd\.runc\.v2"\n\+\n\+# BEGIN agentcgroup: added by install\.sh --containerd/m,
    /^\+\[plugins\."io\.containerd\.grpc\.v1\.cri"\.containerd\.runtimes\.agentcgroup\]$/m,
    /^\+# END agentcgroup$/m,
    /^dry run: nothing changed$/m,
  ]) {
    t.match(dry.stdout, want);
  }
  t.notMatch(dry.stdout, /^installed:/m, 'no claim of having installed');

  // The real install, then a dry run of it again (nothing to do) and of the uninstall.
  const real = sh(flags, stubbedEnv(t));
  t.equal(real.status, 0, real.stderr);
  const installed = snapshot(root);
  const again = sh([...flags, '--dry-run']);
  t.equal(again.status, 0, again.stderr);
  t.match(again.stdout, /^would replace \S+\/usr\/local\/bin\/agentcgroup|^would leave \S+\/usr\/local\/bin\/agentcgroup/m);
  t.match(again.stdout, /^would leave \S+hooks\.d\/agentcgroup\.json \(unchanged\)$/m);
  t.match(again.stdout, /^would leave \S+policy\.yaml \(the operator's\)$/m);
  t.match(again.stdout, /daemon\.json: runtime agentcgroup already there$/m);
  const unDry = sh(['--uninstall', '--root', root, '--config', '/srv/ctrd/config.toml', '--dry-run']);
  t.equal(unDry.status, 0, unDry.stderr);
  t.same(snapshot(root), installed, 'a dry uninstall changes nothing either');
  t.match(unDry.stdout, /^would remove \S+\/usr\/local\/bin\/agentcgroup$/m);
  t.match(unDry.stdout, /^would remove \S+hooks\.d\/agentcgroup\.json$/m);
  t.match(unDry.stdout, /daemon\.json: would be edited, removing runtime agentcgroup:\n/);
  t.match(unDry.stdout, /^-# BEGIN agentcgroup/m);
  t.match(unDry.stdout, /^dry run: nothing changed$/m);
  const un = sh(['--uninstall', '--root', root, '--config', '/srv/ctrd/config.toml']);
  t.equal(un.status, 0, un.stderr);
  t.equal(readFileSync(join(root, 'etc/docker/daemon.json'), 'utf8'), DAEMON_JSON);
  t.equal(readFileSync(join(root, 'srv/ctrd/config.toml'), 'utf8'), CONTAINERD_V2);
});

t.test('--config FILE: a daemon.json or a containerd config where the engine keeps it; uninstall naming it undoes it', async (t) => {
  const { root, binary } = engineWorld(t);
  const env = stubbedEnv(t);
  mkdirSync(join(root, 'opt/docker'), { recursive: true });
  mkdirSync(join(root, 'opt/ctrd'), { recursive: true });
  writeFileSync(join(root, 'opt/docker/daemon.json'), DAEMON_JSON);
  writeFileSync(join(root, 'opt/ctrd/config.toml'), CONTAINERD_V2);
  const r = sh(['--root', root, '--binary', binary, '--config', '/opt/docker/daemon.json', '--config', '/opt/ctrd/config.toml'], env);
  t.equal(r.status, 0, r.stderr);
  t.match(JSON.parse(readFileSync(join(root, 'opt/docker/daemon.json'), 'utf8')).runtimes.agentcgroup, { path: '/usr/local/bin/agentcgroup' });
  t.match(readFileSync(join(root, 'opt/ctrd/config.toml'), 'utf8'), /# BEGIN agentcgroup/);
  t.notOk(existsSync(join(root, 'etc/docker/daemon.json')), 'not the standard place');
  const un = sh(['--uninstall', '--root', root, '--docker-config', '/opt/docker/daemon.json', '--containerd-config', '/opt/ctrd/config.toml']);
  t.equal(un.status, 0, un.stderr);
  t.equal(readFileSync(join(root, 'opt/docker/daemon.json'), 'utf8'), DAEMON_JSON);
  t.equal(readFileSync(join(root, 'opt/ctrd/config.toml'), 'utf8'), CONTAINERD_V2);

  for (const [args, pattern] of [
    [['--config', '/etc/docker/daemon.conf'], /^install\.sh: --config \/etc\/docker\/daemon\.conf: a docker daemon\.json \(\*\.json\) or a containerd config\.toml or k3s\/RKE2 template \(\*\.toml, \*\.tmpl\); for another name use --docker-config or --containerd-config$/],
    [['--docker-config', 'daemon.json'], /^install\.sh: --docker-config must be an absolute path, got daemon\.json$/],
    [['--hooks-dir', 'hooks.d'], /^install\.sh: --hooks-dir must be an absolute path, got hooks\.d$/],
  ] as const) {
    const bad = sh(['--root', root, '--binary', binary, ...args]);
    t.not(bad.status, 0, args.join(' '));
    t.match(bad.stderr.trim(), pattern);
    t.equal(bad.stderr.trim().split('\n').length, 1, 'one line');
  }
});

t.test('--hooks-dir DIR: the hooks.d JSON there; uninstall finds it', async (t) => {
  const { root, binary } = engineWorld(t);
  const r = sh(['--root', root, '--binary', binary, '--hooks-dir', '/etc/containers/oci/hooks.d']);
  t.equal(r.status, 0, r.stderr);
  t.ok(existsSync(join(root, 'etc/containers/oci/hooks.d/agentcgroup.json')));
  t.notOk(existsSync(join(root, 'usr/share/containers/oci/hooks.d/agentcgroup.json')));
  t.equal(sh(['--uninstall', '--root', root]).status, 0, 'uninstall without naming it');
  t.notOk(existsSync(join(root, 'etc/containers/oci/hooks.d/agentcgroup.json')));
});

t.test('a hook of ours in the admin directory overrides the packaged one: said on install', async (t) => {
  const { root, binary } = engineWorld(t);
  mkdirSync(join(root, 'etc/containers/oci/hooks.d'), { recursive: true });
  writeFileSync(join(root, 'etc/containers/oci/hooks.d/agentcgroup.json'), '{}');
  const r = sh(['--root', root, '--binary', binary]);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stderr, /^warning: \S+\/etc\/containers\/oci\/hooks\.d\/agentcgroup\.json is there too and overrides \S+\/usr\/share\/containers\/oci\/hooks\.d\/agentcgroup\.json \(oci-hooks\(5\)\)/m);
});

/**
 * How a read-only /usr/share is played: as root, a read-only bind mount in a mount namespace of the
 * run's own (what an image-based host has: EROFS, even to root); otherwise a 0555 directory.
 */
const isRoot = process.geteuid?.() === 0;
const privateMounts = isRoot && spawnSync('unshare', ['-m', '--propagation', 'private', 'true']).status === 0;
function readOnlyShare(t: Test, root: string): (args: string[]) => ReturnType<typeof sh> {
  const share = join(root, 'usr/share');
  mkdirSync(share, { recursive: true });
  if (!isRoot) {
    spawnSync('chmod', ['0555', share]);
    t.teardown(() => void spawnSync('chmod', ['0755', share]));
    return (args) => sh(args);
  }
  return (args) =>
    spawnSync('unshare', ['-m', '--propagation', 'private', 'bash', '-c', 'mount --bind -o ro "$1" "$1" && shift && exec bash install.sh "$@"', '_', share, ...args], { encoding: 'utf8' });
}

t.test('a read-only /usr (image-based hosts): the hook goes to /etc/containers/oci/hooks.d, and CRI-O is told to read it', { skip: isRoot && !privateMounts ? 'root, and no mount namespace to make /usr read-only in' : false }, async (t) => {
  const { root, binary } = engineWorld(t);
  const sh = readOnlyShare(t, root);
  mkdirSync(join(root, 'etc/crio/crio.conf.d'), { recursive: true });

  const dry = sh(['--root', root, '--binary', binary, '--dry-run']);
  t.equal(dry.status, 0, dry.stderr);
  t.match(dry.stdout, /^would write \S+\/etc\/containers\/oci\/hooks\.d\/agentcgroup\.json \(new, mode 0644\)$/m);
  const r = sh(['--root', root, '--binary', binary]);
  t.equal(r.status, 0, r.stderr);
  t.ok(existsSync(join(root, 'etc/containers/oci/hooks.d/agentcgroup.json')), 'in the admin directory');
  t.notOk(existsSync(join(root, 'usr/share/containers')), 'nothing tried under the read-only /usr');
  t.match(r.stdout, /^hooks\.d: \/usr\/share\/containers\/oci\/hooks\.d cannot be written here \(read-only \/usr\): the hook goes to the admin directory \/etc\/containers\/oci\/hooks\.d$/m);
  t.match(r.stderr, /^warning: CRI-O reads hooks from its hooks_dir only \(by default \/usr\/share\/containers\/oci\/hooks\.d\): add \/etc\/containers\/oci\/hooks\.d to hooks_dir in \/etc\/crio\/crio\.conf\.d/m);
  writeFileSync(join(root, 'etc/crio/crio.conf.d/10-hooks.conf'), '[crio.runtime]\nhooks_dir = ["/etc/containers/oci/hooks.d"]\n');
  const again = sh(['--root', root, '--binary', binary]);
  t.equal(again.status, 0, again.stderr);
  t.notMatch(again.stderr, /CRI-O/, 'a CRI-O that reads it is not warned about');
  const un = sh(['--uninstall', '--root', root]);
  t.equal(un.status, 0, un.stderr);
  t.notOk(existsSync(join(root, 'etc/containers/oci/hooks.d/agentcgroup.json')));
});
