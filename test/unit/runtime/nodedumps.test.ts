// The real `containerd config dump` of Debian's containerd 2.1.9 and 1.6.20 on the node shapes of
// test/fixtures/containerd/nodes (made by its dump.sh): the merges install.sh relies on, and the ones
// it avoids. The files of ours in them are what the code makes today (checked first), so the dumps
// speak for the code as it is.
import t from 'tap';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { addContainerdRuntime } from '../../../src/runtime/containerdconfig.js';
import { INSTALLED_SHIM } from '../../../src/runtime/installconfig.js';
import { detectNodeShape } from '../../../src/runtime/nodeshape.js';

const NODES = 'test/fixtures/containerd/nodes';
const V2_1 = 'containerd github.com/containerd/containerd/v2 2.1.9+unknown ';

/** The files of a node's etc/, by their path on the node. */
function etcOf(node: string): Map<string, string> {
  const walk = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)])) : []);
  const root = join(NODES, node);
  return new Map(walk(join(root, 'etc')).map((p) => [p.slice(root.length), readFileSync(p, 'utf8')]));
}

const dump = (node: string, version: string) => readFileSync(join(NODES, node, `dump-${version}.toml`), 'utf8');

type Runtimes = Record<string, { options?: Record<string, unknown> }>;
/** The CRI runtimes of a dump, where its version keeps them. */
function runtimesOf(text: string): Runtimes {
  const doc = parse(text) as { version: number; plugins: Record<string, { containerd?: { runtimes?: Runtimes } }> };
  return doc.plugins[doc.version === 3 ? 'io.containerd.cri.v1.runtime' : 'io.containerd.grpc.v1.cri']?.containerd?.runtimes ?? {};
}

t.test('the files of ours in the nodes are what install-config containerd register makes of them today', async (t) => {
  for (const [node, original] of [
    ['2.1-no-config', undefined],
    ['2.1-confd-drop-in', undefined],
    ['k0s-1.36', undefined],
    ['debian', readFileSync('test/fixtures/containerd/debian-shipped.toml', 'utf8')],
  ] as const) {
    const files = etcOf(node);
    const ours = [...files.entries()].find(([, text]) => text.includes('# BEGIN agentcgroup'));
    if (!ours) return t.fail(`${node}: no file of ours`);
    const [file, text] = ours;
    const before = new Map(files);
    if (original === undefined) before.delete(file);
    else before.set(file, original);
    const found = detectNodeShape({ files: before, present: new Set(), containerdVersion: V2_1 });
    if (!('shape' in found)) return t.fail(`${node}: ${JSON.stringify(found)}`);
    t.equal(found.shape.file, file, `${node}: the shape names ${file}`);
    t.equal(addContainerdRuntime(original, file, found.shape.edit), text, `${node}: ${file} as made`);
  }
  t.same(etcOf('2.1-drop-in-alone'), new Map([['/etc/containerd/conf.d/agentcgroup.toml', etcOf('2.1-confd-drop-in').get('/etc/containerd/conf.d/agentcgroup.toml')]]));
});

t.test('containerd 2.1 reads no conf.d without a config.toml importing it; config.toml of ours alone is its defaults plus our runtime', async (t) => {
  const defaults = dump('2.1-defaults', '2.1.9');
  t.equal(dump('2.1-drop-in-alone', '2.1.9'), defaults, 'a drop-in alone changes nothing (and would leave the node without our runtime)');
  const made = dump('2.1-no-config', '2.1.9');
  // Our runtime's table, up to the next runtime's: everything else is byte for byte the defaults.
  const ours = /^ {8}\[plugins\.'io\.containerd\.cri\.v1\.runtime'\.containerd\.runtimes\.agentcgroup\]\n[\s\S]*?(?=^ {8}\[plugins\.'io\.containerd\.cri\.v1\.runtime'\.containerd\.runtimes\.runc\]$)/m;
  t.match(made, ours);
  t.equal(made.replace(ours, ''), defaults, 'made config.toml: the defaults and our runtime, nothing else');
  t.same(runtimesOf(made).agentcgroup?.options, { BinaryName: INSTALLED_SHIM, SystemdCgroup: false });
});

t.test('containerd 2.1 merges a conf.d drop-in into config.toml: our runtime beside runc, the operator settings kept', async (t) => {
  const merged = dump('2.1-confd-drop-in', '2.1.9');
  const runtimes = runtimesOf(merged);
  t.same(runtimes.agentcgroup?.options, { BinaryName: INSTALLED_SHIM, SystemdCgroup: true }, "ours, with config.toml's cgroup driver");
  t.equal(runtimes.runc?.options?.SystemdCgroup, true, 'runc as config.toml has it');
  t.match(merged, /^ {6}sandbox = 'registry\.example\/pause:3\.10'$/m, "config.toml's pause image");
  const k0s = dump('k0s-1.36', '2.1.9');
  t.same(Object.keys(runtimesOf(k0s)).sort(), ['agentcgroup', 'runc'], 'k0s 1.36: its containerd.toml and our drop-in, read as k0s runs containerd');
  t.match(k0s, /^ {6}sandbox = 'quay\.io\/k0sproject\/pause:3\.10\.2-0'$/m, "k0s's pause image kept");
});

t.test("Debian's version 2 config.toml without runc: 2.1 keeps its built-in runc, 1.6 would drop it", async (t) => {
  t.same(Object.keys(runtimesOf(dump('debian', '2.1.9'))).sort(), ['agentcgroup', 'runc'], '2.1: taken (the edit knows the node runs 2.x)');
  t.same(Object.keys(runtimesOf(dump('debian', '1.6.20'))), ['agentcgroup'], '1.6: runc gone, so the edit refuses such a file unless the node runs 2.x');
});

t.test('containerd 1.6 lets an import replace the whole CRI section: no drop-in on 1.x', async (t) => {
  const replaced = dump('1.6-confd-drop-in', '1.6.20');
  t.same(Object.keys(runtimesOf(replaced)), ['agentcgroup'], 'runc gone');
  t.match(replaced, /^ {4}sandbox_image = "registry\.k8s\.io\/pause:3\.6"$/m, "config.toml's pause image (registry.example) lost");
  t.match(etcOf('1.6-confd-drop-in').get('/etc/containerd/config.toml'), /sandbox_image = "registry\.example\/pause:3\.6"/);
});
