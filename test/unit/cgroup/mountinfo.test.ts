import t from 'tap';
import {
  kernelAtLeast,
  parseControllerList,
  parseMountinfo,
  parseProcCgroups,
  parseUnifiedCgroupPath,
} from '../../../src/cgroup/mountinfo.js';

t.test('parseMountinfo reads fstype, mount point and super options past optional fields', async (t) => {
  const m = parseMountinfo(
    '25 1 0:23 / /sys/fs/cgroup rw,nosuid shared:4 master:1 - cgroup2 cgroup2 rw,nsdelegate\n' +
      '35 31 0:32 / /sys/fs/cgroup/mem\\040ory rw - cgroup cgroup rw,memory\n' +
      'garbage line\n',
  );
  t.same(m, [
    { mountPoint: '/sys/fs/cgroup', fsType: 'cgroup2', superOptions: ['rw', 'nsdelegate'] },
    { mountPoint: '/sys/fs/cgroup/mem ory', fsType: 'cgroup', superOptions: ['rw', 'memory'] },
  ]);
});

t.test('parseProcCgroups keeps hierarchy and enabled, skips the header and junk', async (t) => {
  t.same(parseProcCgroups('#subsys_name\thierarchy\tnum_cgroups\tenabled\nmemory\t4\t42\t1\npids\t0\t1\t0\nbad\tx\t1\t1\n'), [
    { name: 'memory', hierarchy: 4, enabled: true },
    { name: 'pids', hierarchy: 0, enabled: false },
  ]);
});

t.test('controller lists and the unified cgroup path', async (t) => {
  t.same(parseControllerList(' cpu  memory\npids\n'), ['cpu', 'memory', 'pids']);
  t.equal(parseUnifiedCgroupPath('4:memory:/x\n0::/machine.slice/c1\n'), '/machine.slice/c1');
  t.equal(parseUnifiedCgroupPath('4:memory:/x\n'), undefined);
});

t.test('kernelAtLeast compares major and minor', async (t) => {
  t.ok(kernelAtLeast('6.1.0-56-amd64', 5, 19));
  t.ok(kernelAtLeast('5.19', 5, 19));
  t.notOk(kernelAtLeast('5.18.9', 5, 19));
  t.notOk(kernelAtLeast('4.20', 5, 2));
  t.notOk(kernelAtLeast('garbage', 5, 2));
});
