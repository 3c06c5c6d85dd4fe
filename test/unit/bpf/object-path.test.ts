// Where the tracker object is looked for: beside the running script (through symlinks), or the env override.
import t from 'tap';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { trackerObjectPath } from '../../../src/bpf/object-path.js';

t.test('beside the running script', async (t) => {
  const dir = t.testdir({ dist: { 'agentcgroup.cjs': '', 'tracker.bpf.o': 'ELF' } });
  t.equal(trackerObjectPath({}, join(dir, 'dist/agentcgroup.cjs')), join(dir, 'dist/tracker.bpf.o'));
});

t.test('a symlinked script finds the object next to its target', async (t) => {
  const dir = t.testdir({ dist: { 'agentcgroup.cjs': '', 'tracker.bpf.o': 'ELF' }, bin: {} });
  symlinkSync(join(dir, 'dist/agentcgroup.cjs'), join(dir, 'bin/agentcgroup'));
  t.equal(trackerObjectPath({}, join(dir, 'bin/agentcgroup')), join(dir, 'dist/tracker.bpf.o'));
});

t.test('AGENTCGROUP_BPF_OBJECT wins over the script path', async (t) => {
  const dir = t.testdir({ 'custom.o': 'ELF', dist: { 'agentcgroup.cjs': '', 'tracker.bpf.o': 'ELF' } });
  t.equal(trackerObjectPath({ AGENTCGROUP_BPF_OBJECT: join(dir, 'custom.o') }, join(dir, 'dist/agentcgroup.cjs')), join(dir, 'custom.o'));
});

t.test('a missing object is one line saying where it looked and what to do', async (t) => {
  const dir = t.testdir({ dist: { 'agentcgroup.cjs': '' } });
  t.throws(() => trackerObjectPath({}, join(dir, 'dist/agentcgroup.cjs')), {
    code: 'bpf-object',
    message: `eBPF tracker object ${join(dir, 'dist/tracker.bpf.o')} not found (build it with bash bpf/build.sh, or set AGENTCGROUP_BPF_OBJECT)`,
  });
  t.throws(() => trackerObjectPath({ AGENTCGROUP_BPF_OBJECT: join(dir, 'nope.o') }), {
    code: 'bpf-object',
    message: `eBPF tracker object ${join(dir, 'nope.o')} not found (from AGENTCGROUP_BPF_OBJECT)`,
  });
  t.throws(() => trackerObjectPath({}, undefined), { code: 'bpf-object' });
});
