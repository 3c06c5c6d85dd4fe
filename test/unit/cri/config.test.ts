// The CRI scenario's containerd config: read as TOML, extended by install-config's own edit, its
// BinaryName repointed; then, where a containerd 2.x is at hand (the sid guest's engines, or
// $AGENTCGROUP_TEST_CONTAINERD), read back by containerd's `config dump`, which starts nothing.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { addContainerdRuntime } from '../../../src/runtime/containerdconfig.js';
import { criConfig, criSockets, withShimBinary } from '../../integration/cri/config.js';
import { ociArch } from '../../integration/cri/image.js';
import { vmCache } from '../../vm/guest.js';

const DIR = '/tmp/agentcg-it-abc123/containerd';
const SANDBOX = 'localhost/agentcgroup-it/pause:1';
const SHIM = '/tmp/agentcg-it-abc123/bin/agentcgroup-runtime';
const UNPACK = { platform: `linux/${ociArch()}`, snapshotter: 'native', differ: 'walking' };

type Doc = Record<string, Record<string, Record<string, unknown>>>;
const plugin = (doc: Doc, name: string) => doc.plugins?.[name] as Record<string, unknown> | undefined;
/** Our runtime's table where a version 3 config keeps it. */
const runtime = (doc: Doc) => (plugin(doc, 'io.containerd.cri.v1.runtime')?.containerd as { runtimes?: Record<string, Record<string, unknown>> } | undefined)?.runtimes?.agentcgroup;

const edited = () => withShimBinary(addContainerdRuntime(criConfig({ dir: DIR, sandboxImage: SANDBOX }), `${DIR}/config.toml`), SHIM);

t.test('the config: everything in scratch, the pause image as sandbox, NRI on', async (t) => {
  const doc = parse(criConfig({ dir: DIR, sandboxImage: SANDBOX })) as Doc;
  t.equal(doc.version, 3 as unknown);
  t.equal(doc.root, `${DIR}/root` as unknown);
  t.equal(doc.state, `${DIR}/state` as unknown);
  t.same(doc.grpc, { address: criSockets(DIR).grpc });
  t.match(plugin(doc, 'io.containerd.cri.v1.images'), { snapshotter: 'native', pinned_images: { sandbox: SANDBOX } });
  t.same(plugin(doc, 'io.containerd.transfer.v1.local'), { unpack_config: [UNPACK] }, 'imports unpack into native alone');
  t.match(plugin(doc, 'io.containerd.cri.v1.runtime'), { disable_apparmor: true, cni: { bin_dirs: [`${DIR}/cni/bin`], conf_dir: `${DIR}/cni/net.d` } });
  t.same(plugin(doc, 'io.containerd.nri.v1.nri'), { disable: false, socket_path: `${DIR}/nri/nri.sock`, plugin_path: `${DIR}/nri/plugins`, plugin_config_path: `${DIR}/nri/conf.d` });
  t.equal(criSockets(DIR).nri, `${DIR}/nri/nri.sock`);
  t.throws(() => criConfig({ dir: "/tmp/it's", sandboxImage: SANDBOX }), /TOML literal/, 'a path with a quote is refused');
});

t.test("install-config's runtime, with this checkout's shim as its binary", async (t) => {
  const text = edited();
  t.same(runtime(parse(text) as Doc), {
    runtime_type: 'io.containerd.runc.v2',
    pod_annotations: ['io.agentcgroup.*'],
    container_annotations: ['io.agentcgroup.*'],
    options: { BinaryName: SHIM, SystemdCgroup: false },
  }, 'runc shim, our annotations passed through, cgroupfs');
  t.throws(() => withShimBinary(criConfig({ dir: DIR, sandboxImage: SANDBOX }), SHIM), /expected one line BinaryName/, 'no runtime of ours: refused');
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
