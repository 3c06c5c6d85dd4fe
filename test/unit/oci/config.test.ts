import t from 'tap';
import { spawnSync } from 'node:child_process';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig, readBundleConfig } from '../../../src/oci/config.js';

import { PRINTABLE } from '../../fixtures/text.js';
const SRC = '/b/config.json';

// A trimmed-down config.json as podman hands it to crun, with the fields we do not read left in.
const podmanConfig = {
  ociVersion: '1.0.2-dev',
  process: { terminal: false, user: { uid: 0, gid: 0 }, args: ['sh'], env: ['PATH=/usr/bin'], cwd: '/' },
  root: { path: '/var/lib/containers/storage/overlay/abc/merged' },
  hostname: 'c1',
  mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
  annotations: { 'io.container.manager': 'libpod', 'org.opencontainers.image.stopSignal': '15' },
  hooks: {
    createRuntime: [{ path: '/usr/libexec/agentcgroup/hook', args: ['agentcgroup-hook', 'create-runtime'], timeout: 10 }],
    poststop: [{ path: '/usr/libexec/agentcgroup/hook', args: ['agentcgroup-hook', 'poststop'], env: ['AGENTCGROUP_LOG=/var/log/agentcgroup.log'] }],
    prestart: [],
    futureStage: [{ bogus: true }],
  },
  linux: {
    cgroupsPath: 'machine.slice:libpod:2b6ad6c4d1f0',
    namespaces: [{ type: 'pid' }, { type: 'mount' }],
    resources: { memory: { limit: 536870912 } },
  },
};

t.test('a real-looking podman config keeps the fields we read and nothing else', async (t) => {
  t.same(parseConfig(JSON.stringify(podmanConfig), SRC), {
    ociVersion: '1.0.2-dev',
    annotations: { 'io.container.manager': 'libpod', 'org.opencontainers.image.stopSignal': '15' },
    hooks: {
      createRuntime: [{ path: '/usr/libexec/agentcgroup/hook', args: ['agentcgroup-hook', 'create-runtime'], timeout: 10 }],
      poststop: [{ path: '/usr/libexec/agentcgroup/hook', args: ['agentcgroup-hook', 'poststop'], env: ['AGENTCGROUP_LOG=/var/log/agentcgroup.log'] }],
      prestart: [],
    },
    cgroupfsWritable: false,
    linux: { cgroupsPath: 'machine.slice:libpod:2b6ad6c4d1f0' },
  });
});

t.test('a minimal config gets empty annotations and hooks and no linux', async (t) => {
  const c = parseConfig('{"ociVersion":"1.0.0"}', SRC);
  t.same(c, { ociVersion: '1.0.0', annotations: {}, hooks: {}, cgroupfsWritable: false });
  t.notOk('linux' in c);
});

t.test('every stage the spec names is read; null stages and fields are absent', async (t) => {
  const hook = { path: '/h' };
  const stages = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];
  const c = parseConfig(JSON.stringify({ ociVersion: '1', hooks: Object.fromEntries(stages.map((s) => [s, [hook]])) }), SRC);
  t.same(Object.keys(c.hooks).sort(), [...stages].sort());
  const nulls = { ociVersion: '1', annotations: null, hooks: { poststop: null, prestart: [{ path: '/h', args: null, timeout: null }] } };
  const n = parseConfig(JSON.stringify(nulls), SRC);
  t.same(n, { ociVersion: '1', annotations: {}, hooks: { prestart: [{ path: '/h' }] }, cgroupfsWritable: false });
});

t.test('cgroupsPath is taken in any of its forms, and linux without it is kept empty', async (t) => {
  for (const cgroupsPath of ['/machine/c1', 'relative/c1', 'system.slice:crun:c1', '']) {
    t.same(parseConfig(JSON.stringify({ ociVersion: '1', linux: { cgroupsPath } }), SRC).linux, { cgroupsPath });
  }
  t.same(parseConfig(JSON.stringify({ ociVersion: '1', linux: { namespaces: [] } }), SRC).linux, {});
});

t.test('non-JSON, empty and non-object configs name the file', async (t) => {
  t.throws(() => parseConfig('', SRC), { code: 'bad-config', message: /^\/b\/config\.json is empty$/ });
  t.throws(() => parseConfig('{"ociVersion":', SRC), { code: 'bad-config', message: /^\/b\/config\.json is not JSON: .+$/ });
  for (const [text, got] of [['[]', 'an array'], ['null', 'null'], ['"x"', '"x"']]) {
    t.throws(() => parseConfig(text!, SRC), { code: 'bad-config', message: `/b/config.json: must be a JSON object, got ${got}` });
  }
});

t.test('a source name with control characters is quoted in messages', async (t) => {
  const err = t.throws(() => parseConfig('[]', '/b\nx/config.json'), { code: 'bad-config' });
  if (err instanceof Error) t.equal(err.message, '"/b\\nx/config.json": must be a JSON object, got an array');
});

t.test('input over 16 MiB is refused', async (t) => {
  const big = JSON.stringify({ ociVersion: '1', pad: 'x'.repeat(16 * 1024 * 1024) });
  t.throws(() => parseConfig(big, SRC), { code: 'bad-config', message: /^\/b\/config\.json is larger than 16 MiB$/ });
});

t.test('each field with a wrong type or value is named in a one-line message', async (t) => {
  const hook = (h: unknown) => ({ hooks: { poststop: [{ path: '/ok' }, h] } });
  const cases: [Record<string, unknown>, string][] = [
    [{ ociVersion: 1 }, 'ociVersion: must be a string, got 1'],
    [{ ociVersion: undefined }, 'ociVersion: missing (must be a string)'],
    [{ annotations: ['a'] }, 'annotations: must be a JSON object, got an array'],
    [{ annotations: { 'io.x': 1 } }, 'annotations["io.x"]: must be a string, got 1'],
    [{ hooks: [] }, 'hooks: must be a JSON object, got an array'],
    [{ hooks: 'x' }, 'hooks: must be a JSON object, got "x"'],
    [{ hooks: { prestart: {} } }, 'hooks.prestart: must be an array, got an object'],
    [{ hooks: { createRuntime: '/bin/true' } }, 'hooks.createRuntime: must be an array, got "/bin/true"'],
    [hook('/bin/true'), 'hooks.poststop[1]: must be a JSON object, got "/bin/true"'],
    [hook({}), 'hooks.poststop[1].path: missing (must be a string)'],
    [hook({ path: 'hook' }), 'hooks.poststop[1].path: must be an absolute path, got "hook"'],
    [hook({ path: '/h\u0000x' }), 'hooks.poststop[1].path: must not contain NUL or newline, got "/h\\u0000x"'],
    [hook({ path: '/h', args: 'a b' }), 'hooks.poststop[1].args: must be an array, got "a b"'],
    [hook({ path: '/h', args: ['a', 2] }), 'hooks.poststop[1].args[1]: must be a string, got 2'],
    [hook({ path: '/h', env: { A: 'b' } }), 'hooks.poststop[1].env: must be an array, got an object'],
    [hook({ path: '/h', env: [null] }), 'hooks.poststop[1].env[0]: must be a string, got null'],
    [hook({ path: '/h', timeout: 0 }), 'hooks.poststop[1].timeout: must be an integer >= 1, got 0'],
    [hook({ path: '/h', timeout: -5 }), 'hooks.poststop[1].timeout: must be an integer >= 1, got -5'],
    [hook({ path: '/h', timeout: 1.5 }), 'hooks.poststop[1].timeout: must be an integer >= 1, got 1.5'],
    [hook({ path: '/h', timeout: '5' }), 'hooks.poststop[1].timeout: must be an integer >= 1, got "5"'],
    [{ linux: 'x' }, 'linux: must be a JSON object, got "x"'],
    [{ linux: [] }, 'linux: must be a JSON object, got an array'],
    [{ linux: { cgroupsPath: 5 } }, 'linux.cgroupsPath: must be a string, got 5'],
    [{ linux: { cgroupsPath: '/a\nb' } }, 'linux.cgroupsPath: must not contain NUL or newline, got "/a\\nb"'],
    [{ linux: { cgroupsPath: 'a\u0000b' } }, 'linux.cgroupsPath: must not contain NUL or newline, got "a\\u0000b"'],
  ];
  for (const [fields, message] of cases) {
    const text = JSON.stringify({ ociVersion: '1.0.0', ...fields });
    const err = t.throws(() => parseConfig(text, SRC), { code: 'bad-config' }, message);
    if (!(err instanceof Error)) continue;
    t.equal(err.message, `${SRC}: ${message}`);
    t.match(err.message, PRINTABLE, 'printable one line');
  }
});

t.test('readBundleConfig reads <bundle>/config.json', async (t) => {
  const dir = t.testdir({ 'config.json': JSON.stringify(podmanConfig) });
  t.equal(readBundleConfig(dir).linux?.cgroupsPath, 'machine.slice:libpod:2b6ad6c4d1f0');
});

t.test('readBundleConfig names the file in parse errors', async (t) => {
  const dir = t.testdir({ 'config.json': '{"ociVersion": 2}' });
  t.throws(() => readBundleConfig(dir), { code: 'bad-config', message: `${join(dir, 'config.json')}: ociVersion: must be a string, got 2` });
});

t.test('unreadable configs give one line naming the file and the errno meaning', async (t) => {
  const dir = t.testdir({ missing: {}, file: 'x', dir: { 'config.json': {} }, loop: {} });
  symlinkSync('config.json', join(dir, 'loop', 'config.json'));
  const cases: [string, RegExp][] = [
    ['missing', /: no such file or directory \(ENOENT\)$/],
    ['file', /: not a directory \(ENOTDIR\)$/],
    ['dir', /: is a directory$/],
    ['loop', /: too many symbolic links encountered \(ELOOP\)$/],
  ];
  for (const [sub, tail] of cases) {
    const file = join(dir, sub, 'config.json');
    const err = t.throws(() => readBundleConfig(join(dir, sub)), { code: 'bad-config', message: tail }, sub);
    if (err instanceof Error) t.ok(err.message.startsWith(`cannot read ${file}: `), err.message);
  }
});

t.test('a FIFO as config.json is refused at once instead of blocking the hook', async (t) => {
  const dir = t.testdir({});
  const made = spawnSync('mkfifo', [join(dir, 'config.json')]);
  t.equal(made.status, 0, 'mkfifo (coreutils) made the FIFO');
  t.throws(() => readBundleConfig(dir), { code: 'bad-config', message: /config\.json: not a regular file$/ });
});

t.test('a config file over 16 MiB on disk is refused', async (t) => {
  const dir = t.testdir({});
  writeFileSync(join(dir, 'config.json'), Buffer.alloc(16 * 1024 * 1024 + 1, 0x20));
  t.throws(() => readBundleConfig(dir), { code: 'bad-config', message: /config\.json: larger than 16 MiB$/ });
});

t.test('a relative or NUL-bearing bundle path is refused before any file is opened', async (t) => {
  t.throws(() => readBundleConfig('bundles/c1'), { code: 'bad-config', message: 'bundle: must be an absolute path, got "bundles/c1"' });
  t.throws(() => readBundleConfig('/b\u0000'), { code: 'bad-config', message: 'bundle: must not contain NUL or newline, got "/b\\u0000"' });
});

t.test('a symlinked config.json is followed like the runtime follows it', async (t) => {
  const dir = t.testdir({ real: { 'c.json': '{"ociVersion":"1.1.0"}' }, b: {} });
  symlinkSync(join(dir, 'real', 'c.json'), join(dir, 'b', 'config.json'));
  t.equal(readBundleConfig(join(dir, 'b')).ociVersion, '1.1.0');
});
