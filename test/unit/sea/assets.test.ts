// The single executable's unpacking, run outside one: where the private directory goes, how a
// refusal reads, and a native module loaded from bytes leaving nothing on disk.
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { dlopenBytes, inSea, makePrivateDir, privateDirBases, seaAsset, seaAssetPath } from '../../../src/sea/assets.js';
import { trackerObjectPath } from '../../../src/bpf/object-path.js';
import { schedObjectPath } from '../../../src/bpf/sched.js';

const require = createRequire(import.meta.url);
const KOFFI_PACKAGE = require.resolve('@koromix/koffi-linux-x64/package.json');
const KOFFI_NODE = join(dirname(KOFFI_PACKAGE), 'linux_x64/koffi.node');

t.test('private directory bases: XDG_RUNTIME_DIR, /run, /dev/shm, then the temp dir', async (t) => {
  t.same(privateDirBases({ XDG_RUNTIME_DIR: '/run/user/0' }, '/tmp'), ['/run/user/0', '/run', '/dev/shm', '/tmp']);
  t.same(privateDirBases({}, '/var/tmp'), ['/run', '/dev/shm', '/var/tmp']);
  t.same(privateDirBases({ XDG_RUNTIME_DIR: 'relative' }, '/tmp'), ['/run', '/dev/shm', '/tmp'], 'a relative XDG_RUNTIME_DIR is ignored');
  t.same(privateDirBases({ XDG_RUNTIME_DIR: '/dev/shm' }, '/dev/shm'), ['/dev/shm', '/run'], 'no base twice');
});

t.test('the private directory: first usable base, mode 0700, probe removed', async (t) => {
  const root = t.testdir({ 'a-file': '', usable: {} });
  const dir = makePrivateDir([join(root, 'missing'), join(root, 'a-file'), join(root, 'usable')]);
  t.equal(dirname(dir), join(root, 'usable'));
  t.equal(statSync(dir).mode & 0o777, 0o700);
  t.same(readdirSync(dir), []);
  t.same(readdirSync(root).sort(), ['a-file', 'usable'], 'nothing left in the refused bases');
});

t.test('no usable base: one error naming each base and why', async (t) => {
  const root = t.testdir({ 'a-file': '' });
  t.throws(() => makePrivateDir([join(root, 'missing'), join(root, 'a-file')]), {
    code: 'sea-private-dir',
    message: new RegExp(`^no directory to unpack this executable's native parts into \\(${join(root, 'missing')}: ENOENT.*; ${join(root, 'a-file')}: ENOTDIR.*\\)$`),
  });
});

t.test('koffi.node loads from bytes and leaves nothing on disk', async (t) => {
  const dir = t.testdir({});
  const native = dlopenBytes('koffi.node', readFileSync(KOFFI_NODE), dir) as { version?: string; load?: unknown };
  t.equal(native.version, (require(KOFFI_PACKAGE) as { version: string }).version);
  t.type(native.load, 'function');
  t.same(readdirSync(dir), []);
});

// After the koffi test on purpose: were koffi's fd closed and its number reused, glibc would match the
// name /proc/self/fd/N and hand koffi back instead of failing.
t.test('a module that does not load: the dynamic loader\'s own reason, nothing left', async (t) => {
  const dir = t.testdir({});
  t.throws(() => dlopenBytes('broken.node', Buffer.alloc(4096, 'x'), dir), {
    code: 'sea-dlopen',
    message: new RegExp(`^cannot load broken\\.node unpacked from this executable into ${dir}: .*invalid ELF header`),
  });
  t.same(readdirSync(dir), []);
});

t.test('outside the single executable nothing is unpacked', async (t) => {
  t.equal(inSea(), false);
  t.equal(seaAssetPath('tracker.bpf.o'), undefined);
  t.equal(seaAssetPath('agentsched.bpf.o'), undefined);
  t.throws(() => seaAsset('koffi.node'), { code: 'sea-asset' });
  const dir = t.testdir({ dist: { 'agentcgroup.cjs': '', 'tracker.bpf.o': 'ELF', 'agentsched.bpf.o': 'ELF' } });
  t.equal(trackerObjectPath({}, join(dir, 'dist/agentcgroup.cjs')), join(dir, 'dist/tracker.bpf.o'), 'the tracker beside the script, as in src/bpf');
  t.equal(schedObjectPath({}, join(dir, 'dist/agentcgroup.cjs')), join(dir, 'dist/agentsched.bpf.o'), 'the scheduler beside the script, as in src/bpf');
});

t.test('the single executable carries both eBPF objects, as bpf/build.sh writes them', async (t) => {
  const { assets } = JSON.parse(readFileSync('src/sea/sea-config.json', 'utf8')) as { assets: Record<string, string> };
  t.equal(assets['tracker.bpf.o'], 'dist/tracker.bpf.o');
  t.equal(assets['agentsched.bpf.o'], 'dist/agentsched.bpf.o');
});
