// Reading containerd's TOML: what imports cover, as containerd resolves them (relative to the config,
// a pattern only when it holds '*', Go's filepath.Match), the CRI plugin switched off, the cgroup driver.
import t from 'tap';
import { criDisabled, importsCover, parseToml, systemdCgroupOf } from '../../../src/runtime/containerdtoml.js';

const CONFIG = '/etc/containerd/config.toml';
const OURS = '/etc/containerd/conf.d/agentcgroup.toml';

t.test('importsCover', async (t) => {
  for (const [imports, covered] of [
    [['/etc/containerd/conf.d/*.toml'], true], // containerd 2.2's `config default`
    [['conf.d/*.toml'], true],
    [['./conf.d/../conf.d/*.toml'], true],
    [['/etc/containerd/conf.d/agentcgroup.toml'], true],
    [['/etc/containerd/conf.d/a*.toml'], true],
    [['/etc/containerd/conf.d/[a-c]*.toml'], true],
    [['/etc/containerd/conf.d/[^a]*.toml'], false],
    [['/etc/containerd/conf.d/?gentcgroup.t*'], true],
    [['/etc/containerd/conf.d/?gentcgroup.toml'], false], // no '*': taken as a path, not a pattern
    [['/etc/containerd/*.toml'], false], // '*' stops at '/'
    [['/etc/containerd/config.d/*.toml'], false], // EKS's and image-builder's name
    [['/etc/containerd/conf.d/*.conf'], false],
    [[], false],
  ] as const) {
    t.equal(importsCover(imports, CONFIG, OURS), covered, JSON.stringify(imports));
  }
});

const doc = (text: string) => {
  const p = parseToml(text);
  if ('error' in p) throw new Error(p.error);
  return p.doc;
};

t.test('criDisabled: the names 1.x and 2.x give the CRI plugin', async (t) => {
  t.ok(criDisabled(doc('disabled_plugins = ["cri"]\n')), "Docker's containerd.io");
  t.ok(criDisabled(doc('version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n')));
  t.ok(criDisabled(doc("version = 3\ndisabled_plugins = ['io.containerd.cri.v1.runtime']\n")));
  t.notOk(criDisabled(doc('disabled_plugins = ["io.containerd.snapshotter.v1.zfs"]\n')));
  t.notOk(criDisabled(doc('version = 3\n')));
});

t.test('systemdCgroupOf: the default runtime, by default_runtime_name', async (t) => {
  t.equal(systemdCgroupOf(doc('[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\nSystemdCgroup = true\n'), 2), true);
  t.equal(systemdCgroupOf(doc('[plugins."io.containerd.grpc.v1.cri".containerd]\ndefault_runtime_name = "crun"\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\nSystemdCgroup = true\n'), 2), undefined, 'runc is not the default');
  t.equal(systemdCgroupOf(doc("[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]\nSystemdCgroup = false\n"), 3), false);
  t.equal(systemdCgroupOf(doc('version = 3\n'), 3), undefined, 'not set');
});
