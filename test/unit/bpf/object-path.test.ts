// Where each compiled eBPF object (the tracker, the sched_ext scheduler) is looked for: beside the
// running script (through symlinks), or its env override.
import t from 'tap';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { trackerObjectPath } from '../../../src/bpf/object-path.js';
import { schedObjectPath } from '../../../src/bpf/sched.js';

const OBJECTS = [
  { find: trackerObjectPath, file: 'tracker.bpf.o', envVar: 'AGENTCGROUP_BPF_OBJECT', what: 'eBPF tracker object' },
  { find: schedObjectPath, file: 'agentsched.bpf.o', envVar: 'AGENTCGROUP_SCHED_OBJECT', what: 'sched_ext scheduler object' },
];

for (const { find, file, envVar, what } of OBJECTS) {
  t.test(`${file}: beside the running script`, async (t) => {
    const dir = t.testdir({ dist: { 'agentcgroup.cjs': '', [file]: 'ELF' } });
    t.equal(find({}, join(dir, 'dist/agentcgroup.cjs')), join(dir, 'dist', file));
  });

  t.test(`${file}: a symlinked script finds the object next to its target`, async (t) => {
    const dir = t.testdir({ dist: { 'agentcgroup.cjs': '', [file]: 'ELF' }, bin: {} });
    symlinkSync(join(dir, 'dist/agentcgroup.cjs'), join(dir, 'bin/agentcgroup'));
    t.equal(find({}, join(dir, 'bin/agentcgroup')), join(dir, 'dist', file));
  });

  t.test(`${file}: ${envVar} wins over the script path`, async (t) => {
    const dir = t.testdir({ 'custom.o': 'ELF', dist: { 'agentcgroup.cjs': '', [file]: 'ELF' } });
    t.equal(find({ [envVar]: join(dir, 'custom.o') }, join(dir, 'dist/agentcgroup.cjs')), join(dir, 'custom.o'));
  });

  t.test(`${file}: a missing object is one line saying where it looked and what to do`, async (t) => {
    const dir = t.testdir({ dist: { 'agentcgroup.cjs': '' } });
    t.throws(() => find({}, join(dir, 'dist/agentcgroup.cjs')), {
      code: 'bpf-object',
      message: `${what} ${join(dir, 'dist', file)} not found (build it with bash bpf/build.sh, or set ${envVar})`,
    });
    t.throws(() => find({ [envVar]: join(dir, 'nope.o') }), {
      code: 'bpf-object',
      message: `${what} ${join(dir, 'nope.o')} not found (from ${envVar})`,
    });
    t.throws(() => find({}, undefined), { code: 'bpf-object' });
  });
}
