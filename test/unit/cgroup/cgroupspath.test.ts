// linux.cgroupsPath in its three forms, and whether a process's cgroup is the one it names: what keeps
// the daemon from carving a cgroup that is not the container's when a runtime hands it a pid.
import t from 'tap';
import { AgentcgroupError } from '../../../src/errors.js';
import { type CgroupsPath, cgroupMatches, describeCgroupsPath, parseCgroupsPath } from '../../../src/cgroup/cgroupspath.js';

t.test('the three forms, as containerd and CRI-O write them', async (t) => {
  t.same(parseCgroupsPath('/kubepods/burstable/pod1/abc'), { kind: 'absolute', path: 'kubepods/burstable/pod1/abc' });
  t.same(parseCgroupsPath('abc'), { kind: 'relative', path: 'abc' });
  t.same(parseCgroupsPath('kubepods-burstable-pod1.slice:cri-containerd:abc'), {
    kind: 'systemd',
    slice: 'kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice',
    unit: 'cri-containerd-abc.scope',
  });
  t.same(parseCgroupsPath('machine.slice:libpod:2b6a'), { kind: 'systemd', slice: 'machine.slice', unit: 'libpod-2b6a.scope' });
  t.same(parseCgroupsPath('-.slice:crio:abc'), { kind: 'systemd', slice: '', unit: 'crio-abc.scope' }, 'the root slice');
  t.same(parseCgroupsPath(':crio:abc'), { kind: 'systemd', slice: undefined, unit: 'crio-abc.scope' }, 'no slice: the runtime picks its default');
  t.same(parseCgroupsPath('system.slice::my.slice'), { kind: 'systemd', slice: 'system.slice', unit: 'my.slice' }, 'a name that is a slice is the unit');
});

t.test('what the runtime may not hand us: refused with one line', async (t) => {
  for (const raw of ['', '/', '/a/../b', '../x', 'a//b', '/a/\n/b', 'a:b', 'a:b:c:d', 'notaslice:p:n', 'a--b.slice:p:n', 'x.slice:p:n/../m', 'x.slice:p:', `/${'a'.repeat(5000)}`]) {
    t.throws(() => parseCgroupsPath(raw), AgentcgroupError, JSON.stringify(raw.slice(0, 40)));
    try {
      parseCgroupsPath(raw);
    } catch (err) {
      t.notMatch((err as Error).message, /\n/, 'one line');
      t.ok((err as Error).message.length < 300, 'bounded');
    }
  }
});

t.test('a process in the named cgroup matches; anywhere else does not', async (t) => {
  const cases: [string, string, boolean][] = [
    ['/kubepods/burstable/pod1/abc', 'kubepods/burstable/pod1/abc', true],
    ['/kubepods/burstable/pod1/abc', 'kubepods/burstable/pod1/abcd', false],
    ['/kubepods/burstable/pod1/abc', 'kubepods/burstable/pod1', false],
    ['/kubepods/burstable/pod1/abc', 'kubepods/burstable/pod1/abc/agent', false],
    ['/kubepods/burstable/pod1/abc', 'system.slice/containerd.service', false],
    // containerd with no cgroup parent: under its own cgroup, whatever that is.
    ['abc', 'system.slice/containerd.service/abc', true],
    ['abc', 'abc', true],
    ['abc', 'system.slice/containerd.service/xabc', false],
    ['abc', 'system.slice/containerd.service/abc/tools', false],
    ['kubepods-burstable-pod1.slice:cri-containerd:abc', 'kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-abc.scope', true],
    // crun's sub-cgroup under the scope.
    ['kubepods-burstable-pod1.slice:crio:abc', 'kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/crio-abc.scope/container', true],
    ['kubepods-burstable-pod1.slice:crio:abc', 'kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/crio-abc.scope/container/deeper', false],
    ['kubepods-burstable-pod1.slice:crio:abc', 'kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod2.slice/crio-abc.scope', false],
    ['kubepods-burstable-pod1.slice:crio:abc', 'kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/crio-abd.scope', false],
    [':crio:abc', 'machine.slice/crio-abc.scope', true],
    ['-.slice:crio:abc', 'crio-abc.scope', true],
    ['-.slice:crio:abc', 'x.slice/crio-abc.scope', false],
  ];
  for (const [raw, actual, want] of cases) t.equal(cgroupMatches(actual, parseCgroupsPath(raw)), want, `${raw} ~ ${actual}`);
});

t.test('described for a message', async (t) => {
  const forms: [CgroupsPath, string][] = [
    [parseCgroupsPath('/a/b'), '/a/b'],
    [parseCgroupsPath('b'), '.../b'],
    [parseCgroupsPath('a-b.slice:p:n'), '/a.slice/a-b.slice/p-n.scope'],
    [parseCgroupsPath(':p:n'), '.../p-n.scope'],
  ];
  for (const [p, want] of forms) t.equal(describeCgroupsPath(p), want);
});
