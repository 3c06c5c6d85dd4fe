// The one carve entry point, as the daemon calls it for a container it was told of through NRI: the
// init's cgroup must be the one the runtime's cgroupsPath names, the stage decides the freeze, and a
// second carve changes nothing.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CarveTarget, carveContainer } from '../../../src/carve/container.js';
import { loadPolicy } from '../../../src/config/policy.js';
import { AgentcgroupError } from '../../../src/errors.js';
import type { HostEnv } from '../../../src/host/env.js';
import { StateStore } from '../../../src/state/records.js';
import { CG_ROOT, PID, hookEnv } from '../../fixtures/hookenv.js';

function world(dir: string) {
  const h = hookEnv(dir);
  const policy = loadPolicy(h.policyFile);
  const store = new StateStore(policy.paths.runDir, policy.paths.callLogDir, policy.limits);
  const host: HostEnv = { procRoot: h.proc, cgroupRoot: CG_ROOT, fsOps: h.kernel, now: () => new Date('2026-01-01T00:00:00Z') };
  const carve = (target: Partial<CarveTarget>, stage: Parameters<typeof carveContainer>[4]) => carveContainer({ id: 'ctr1', pid: PID, ...target }, policy, store, host, stage);
  return { h, carve, record: () => join(h.runDir, 'containers/ctr1.json') };
}

t.test('nri-start: the init in the named cgroup is carved, without a freeze, and recorded without a bundle', async (t) => {
  const w = world(t.testdir());
  w.h.kernel.log.length = 0;
  t.equal(w.carve({ cgroupsPath: '/ctr1' }, 'nri-start'), 'carved');
  t.equal(w.h.kernel.whereIs(PID), 'ctr1/agent');
  t.notMatch(w.h.kernel.log.join('\n'), /cgroup\.freeze/, 'parked init: nothing to freeze');
  const rec = JSON.parse(readFileSync(w.record(), 'utf8')) as Record<string, unknown>;
  t.match(rec, { id: 'ctr1', cgroup: 'ctr1', pid: PID, stage: 'nri-start', state: 'carved' });
  t.notOk('bundle' in rec, 'NRI names no bundle');
  const before = w.h.kernel.snapshot();
  t.equal(w.carve({ cgroupsPath: '/ctr1' }, 'nri-start'), 'already', 'a second carve is a no-op');
  t.same(w.h.kernel.snapshot(), before);
});

t.test('nri-sync: a running container is frozen around the move and thawed', async (t) => {
  const w = world(t.testdir());
  t.equal(w.carve({ cgroupsPath: 'ctr1' }, 'nri-sync'), 'carved');
  t.match(w.h.kernel.log.join('\n'), /write ctr1\/cgroup\.freeze 1[\s\S]*write ctr1\/agent\/cgroup\.procs 4242[\s\S]*write ctr1\/cgroup\.freeze 0/);
});

t.test('a pid whose cgroup is not the named one is refused, and nothing changes', async (t) => {
  for (const cgroupsPath of ['/other', '/ctr1/agent', 'kubepods.slice:cri-containerd:ctr1', '../ctr1']) {
    const w = world(t.testdir());
    const before = w.h.kernel.snapshot();
    t.throws(() => w.carve({ cgroupsPath }, 'nri-start'), AgentcgroupError, cgroupsPath);
    t.same(w.h.kernel.snapshot(), before, `${cgroupsPath}: tree unchanged`);
    t.notOk(existsSync(w.record()), 'no record');
  }
  const w = world(t.testdir());
  t.throws(() => w.carve({ cgroupsPath: '/other' }, 'nri-start'), /process 4242 is in \/ctr1, not in the container's cgroup \/other/);
  t.throws(() => w.carve({ pid: 0 }, 'nri-start'), /no pid for the container at nri-start/);
});

t.test("kubelet's memory.oom.group=1 on C: the agent leaf takes it, C gives it up; a failed carve gives it back", async (t) => {
  const w = world(t.testdir());
  const file = (cg: string) => join(CG_ROOT, cg, 'memory.oom.group');
  w.h.kernel.writeFile(file('ctr1'), '1');
  t.equal(w.carve({ cgroupsPath: '/ctr1' }, 'nri-start'), 'carved');
  t.equal(w.h.kernel.readFile(file('ctr1')).trim(), '0', "C's OOM no longer takes the whole container");
  t.equal(w.h.kernel.readFile(file('ctr1/agent')).trim(), '1', 'the framework still dies whole');

  // The last step fails (its write, not the read before planning): every step before it is undone.
  const failed = world(t.testdir());
  failed.h.kernel.writeFile(file('ctr1'), '1');
  const writeFile = failed.h.kernel.writeFile.bind(failed.h.kernel);
  failed.h.kernel.writeFile = (path: string, data: string) => {
    if (path === file('ctr1') && data === '0') throw Object.assign(new Error(`EACCES: ${path}`), { code: 'EACCES' });
    writeFile(path, data);
  };
  t.throws(() => failed.carve({ cgroupsPath: '/ctr1' }, 'nri-start'), /memory\.oom\.group/);
  t.match(failed.h.kernel.log.join('\n'), /write ctr1\/agent\/memory\.oom\.group 1/, 'got as far as the leaf');
  t.equal(failed.h.kernel.readFile(file('ctr1')).trim(), '1', 'unchanged');
  t.equal(failed.h.kernel.whereIs(PID), 'ctr1');
});
