// The CRI scenarios' containerd config: read as TOML, extended by install-config's own edit, its
// BinaryName repointed; then, where a containerd 2.x is at hand (the sid guest's engines, or
// $AGENTCGROUP_TEST_CONTAINERD), or 1.x (Debian 12's package), read back by containerd's `config dump`,
// which starts nothing.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { addContainerdRuntime } from '../../../src/runtime/containerdconfig.js';
import { criConfig, criPaths, criSockets, withShimBinary } from '../../integration/cri/config.js';
import { ociArch } from '../../integration/cri/image.js';
import { vmCache } from '../../vm/guest.js';

const DIR = '/tmp/agentcg-it-abc123/containerd';
const SANDBOX = 'localhost/agentcgroup-it/pause:1';
const SHIM = '/tmp/agentcg-it-abc123/bin/agentcgroup-runtime';
const V3 = { dir: DIR, sandboxImage: SANDBOX, containerdMajor: 2 };
const V2 = { ...V3, containerdMajor: 1 };
const UNPACK = { platform: `linux/${ociArch()}`, snapshotter: 'native', differ: 'walking' };

type Doc = Record<string, Record<string, Record<string, unknown>>>;
const plugin = (doc: Doc, name: string) => doc.plugins?.[name] as Record<string, unknown> | undefined;
/** Our runtime's table where a version 3 config keeps it. */
const runtime = (doc: Doc) => (plugin(doc, 'io.containerd.cri.v1.runtime')?.containerd as { runtimes?: Record<string, Record<string, unknown>> } | undefined)?.runtimes?.agentcgroup;

const edited = () => withShimBinary(addContainerdRuntime(criConfig(V3), `${DIR}/config.toml`), SHIM);

t.test('the config: everything in scratch, the pause image as sandbox, NRI on', async (t) => {
  const doc = parse(criConfig(V3)) as Doc;
  t.equal(doc.version, 3 as unknown);
  t.equal(doc.root, `${DIR}/root` as unknown);
  t.equal(doc.state, `${DIR}/state` as unknown);
  t.same(doc.grpc, { address: criSockets(DIR).grpc });
  t.match(plugin(doc, 'io.containerd.cri.v1.images'), { snapshotter: 'native', pinned_images: { sandbox: SANDBOX } });
  t.same(plugin(doc, 'io.containerd.transfer.v1.local'), { unpack_config: [UNPACK] }, 'imports unpack into native alone');
  t.match(plugin(doc, 'io.containerd.cri.v1.runtime'), { disable_apparmor: true, cni: { bin_dirs: [`${DIR}/cni/bin`], conf_dir: `${DIR}/cni/net.d` } });
  t.same(plugin(doc, 'io.containerd.nri.v1.nri'), { disable: false, socket_path: `${DIR}/nri/nri.sock`, plugin_path: `${DIR}/nri/plugins`, plugin_config_path: `${DIR}/nri/conf.d` });
  t.equal(criSockets(DIR).nri, `${DIR}/nri/nri.sock`);
  t.throws(() => criConfig({ ...V3, dir: "/tmp/it's" }), /TOML literal/, 'a path with a quote is refused');
});

t.test("install-config's runtime, with this checkout's shim as its binary", async (t) => {
  const text = edited();
  t.same(runtime(parse(text) as Doc), {
    runtime_type: 'io.containerd.runc.v2',
    pod_annotations: ['io.agentcgroup.*'],
    container_annotations: ['io.agentcgroup.*'],
    options: { BinaryName: SHIM, SystemdCgroup: false },
  }, 'runc shim, our annotations passed through, cgroupfs');
  t.throws(() => withShimBinary(criConfig(V3), SHIM), /expected one line BinaryName/, 'no runtime of ours: refused');
});

/** A containerd 2.x to read the config with, if there is one here. */
function containerd2(): string | undefined {
  const candidates = [process.env.AGENTCGROUP_TEST_CONTAINERD, join(vmCache('sid'), 'engines/usr/bin/containerd')];
  return candidates.find((bin) => bin !== undefined && bin !== '' && existsSync(bin) && /\sv?2\.\d+\.\d+/.test(spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout ?? ''));
}

const bin = containerd2();
t.test('containerd 2.x reads it as meant', { skip: bin === undefined && 'no containerd 2.x here' }, async (t) => {
  const file = join(t.testdir(), 'config.toml');
  writeFileSync(file, edited());
  const r = spawnSync(bin ?? '', ['--config', file, 'config', 'dump'], { encoding: 'utf8' });
  t.equal(r.status, 0, `config dump: ${r.stderr.slice(-300)}`);
  const doc = parse(r.stdout) as Doc;
  t.match(plugin(doc, 'io.containerd.cri.v1.images'), { snapshotter: 'native', pinned_images: { sandbox: SANDBOX } });
  t.match(plugin(doc, 'io.containerd.nri.v1.nri'), { disable: false, socket_path: `${DIR}/nri/nri.sock` });
  t.match(plugin(doc, 'io.containerd.transfer.v1.local'), { unpack_config: [UNPACK] }, 'the transfer service unpacks into native');
  t.match(plugin(doc, 'io.containerd.cri.v1.runtime'), { disable_apparmor: true });
  t.match(runtime(doc), { runtime_type: 'io.containerd.runc.v2', options: { BinaryName: SHIM, SystemdCgroup: false } }, 'our runtime');
  t.match((plugin(doc, 'io.containerd.cri.v1.runtime')?.containerd as { default_runtime_name?: string }).default_runtime_name, 'runc', 'runc stays the default');
});

/** A version 2 config's CRI plugin. */
const cri1 = (doc: Doc) => plugin(doc, 'io.containerd.grpc.v1.cri') as { containerd?: { runtimes?: Record<string, Record<string, unknown>>; default_runtime_name?: string } } | undefined;
const edited2 = () => withShimBinary(addContainerdRuntime(criConfig(V2), `${DIR}/config.toml`), SHIM);

t.test('containerd 1.x: version 2, one CRI plugin, runc spelled out as the default, no NRI', async (t) => {
  const doc = parse(criConfig(V2)) as Doc;
  t.equal(doc.version, 2 as unknown);
  t.same(doc.grpc, { address: criSockets(DIR).grpc });
  t.match(plugin(doc, 'io.containerd.grpc.v1.cri'), { sandbox_image: SANDBOX, disable_apparmor: true, cni: { bin_dir: `${DIR}/cni/bin`, conf_dir: `${DIR}/cni/net.d` } });
  t.same(cri1(doc)?.containerd, { snapshotter: 'native', default_runtime_name: 'runc', runtimes: { runc: { runtime_type: 'io.containerd.runc.v2' } } });
  t.equal(plugin(doc, 'io.containerd.nri.v1.nri'), undefined);
  t.match(cri1(parse(edited2()) as Doc)?.containerd?.runtimes?.agentcgroup, { options: { BinaryName: SHIM } }, 'install-config adds our runtime beside runc');
  t.same(criPaths(1), { runtimes: ['plugins', 'io.containerd.grpc.v1.cri', 'containerd', 'runtimes'], sandboxImage: ['plugins', 'io.containerd.grpc.v1.cri', 'sandbox_image'] });
  t.same(criPaths(2).runtimes, ['plugins', 'io.containerd.cri.v1.runtime', 'containerd', 'runtimes']);
});

const bin1 = ['/usr/bin/containerd'].find((b) => existsSync(b) && /\sv?1\.\d+\.\d+/.test(spawnSync(b, ['--version'], { encoding: 'utf8' }).stdout ?? ''));
t.test('containerd 1.x reads it as meant', { skip: bin1 === undefined && 'no containerd 1.x here' }, async (t) => {
  const file = join(t.testdir(), 'config.toml');
  writeFileSync(file, edited2());
  const r = spawnSync(bin1 ?? '', ['--config', file, 'config', 'dump'], { encoding: 'utf8' });
  t.equal(r.status, 0, `config dump: ${r.stderr.slice(-300)}`);
  const doc = parse(r.stdout) as Doc;
  t.match(plugin(doc, 'io.containerd.grpc.v1.cri'), { sandbox_image: SANDBOX });
  t.equal(cri1(doc)?.containerd?.default_runtime_name, 'runc', 'runc stays the default');
  t.same(Object.keys(cri1(doc)?.containerd?.runtimes ?? {}).sort(), ['agentcgroup', 'runc']);
  t.match(cri1(doc)?.containerd?.runtimes?.agentcgroup, { runtime_type: 'io.containerd.runc.v2', options: { BinaryName: SHIM } });
});
