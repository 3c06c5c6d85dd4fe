// A container decides how many tool calls it starts: each is a cgroup, a marker, a watch and a record
// of root's. The carve caps tools/ (cgroup.max.descendants = limits.tool_calls) and each call stays a
// leaf, so the cap counts calls and a call's end (kill, then rmdir) cannot be blocked by a sub-cgroup.
import t from 'tap';
import { Cgroupfs } from '../../../src/cgroup/cgroupfs.js';
import { applySteps } from '../../../src/carve/apply.js';
import { planCarve, planToolCgroup } from '../../../src/carve/plan.js';
import { DEFAULT_POLICY } from '../../../src/config/policy.js';
import type { Policy } from '../../../src/config/types.js';
import { AgentcgroupError } from '../../../src/errors.js';
import { createCallCgroup, finishCallCgroup } from '../../../src/exec/callcgroup.js';
import { carveInput } from '../../fixtures/carveinput.js';
import { FakeKernel } from '../../fixtures/fakekernel.js';

const ROOT = '/cg';


/** A host with container cgroup `c` holding its init, carved with `policy`. */
function carved(policy: Policy) {
  const kernel = new FakeKernel(ROOT);
  kernel.writeFile(`${ROOT}/cgroup.subtree_control`, '+memory +cpu +pids');
  kernel.mkdir(`${ROOT}/c`);
  kernel.spawnAt('c', 100);
  const fs = new Cgroupfs(ROOT, kernel);
  const plan = planCarve(carveInput(policy, 0, 'c'));
  applySteps(fs, plan.steps);
  return { kernel, fs, plan };
}

const withToolCalls = (toolCalls: number | 'max'): Policy => {
  const p = structuredClone(DEFAULT_POLICY);
  p.limits.toolCalls = toolCalls;
  return p;
};

t.test('the plan caps tools/ with limits.tool_calls, by default 512', async (t) => {
  const caps = (policy: Policy) =>
    planCarve(carveInput(policy, 0, 'c')).steps.filter((s) => s.op === 'write' && s.file === 'cgroup.max.descendants');
  t.same(caps(DEFAULT_POLICY), [{ op: 'write', cgroup: 'c/tools', file: 'cgroup.max.descendants', value: '512' }]);
  t.same(caps(withToolCalls('max')), [{ op: 'write', cgroup: 'c/tools', file: 'cgroup.max.descendants', value: 'max' }]);
  t.same(
    planToolCgroup('c', 'x-1', { memoryHigh: 'max', memoryMax: 'max', cpuWeight: 100 }).slice(0, 2),
    [{ op: 'mkdir', cgroup: 'c/tools/x-1' }, { op: 'write', cgroup: 'c/tools/x-1', file: 'cgroup.max.descendants', value: '0' }],
    'a call cgroup is made a leaf before anything else is set',
  );
});

t.test('applied: the kernel refuses the call one over the cap, and a finished call frees its place', async (t) => {
  const { kernel, fs, plan } = carved(withToolCalls(3));
  t.equal(kernel.readFile(`${ROOT}/c/tools/cgroup.max.descendants`).trim(), '3');
  t.equal(kernel.readFile(`${ROOT}/c/agent/cgroup.max.descendants`).trim(), 'max', 'the agent leaf is not capped');
  const calls = [1, 2, 3].map((i) => createCallCgroup(fs, 'c', `call-${i}`, plan.tool));
  t.equal(kernel.readFile(`${ROOT}/${calls[0]}/cgroup.max.descendants`).trim(), '0');
  let refused: unknown;
  try {
    createCallCgroup(fs, 'c', 'call-4', plan.tool);
  } catch (err) {
    refused = err;
  }
  t.type(refused, AgentcgroupError);
  t.equal((refused as AgentcgroupError).code, 'cgroup-eagain');
  t.match((refused as Error).message, /cannot create cgroup \/cg\/c\/tools\/call-4: too many cgroups below its parent \(cgroup\.max\.descendants reached\)/);
  t.notOk(fs.exists('c/tools/call-4'), 'nothing left of the refused call');
  finishCallCgroup(fs, calls[0]!);
  t.ok(createCallCgroup(fs, 'c', 'call-5', plan.tool), 'room again once a call is removed');
});

t.test('a call cannot make sub-cgroups of its own (a writable cgroupfs in the container)', async (t) => {
  const { kernel, fs, plan } = carved(DEFAULT_POLICY);
  const cg = createCallCgroup(fs, 'c', 'call-1', plan.tool);
  t.throws(() => kernel.mkdir(`${ROOT}/${cg}/nested`), { code: 'EAGAIN' });
  t.doesNotThrow(() => finishCallCgroup(fs, cg), 'so its end always removes it');
});

t.test('a failed carve puts the cap back as it was', async (t) => {
  const kernel = new FakeKernel(ROOT);
  kernel.writeFile(`${ROOT}/cgroup.subtree_control`, '+memory +cpu +pids');
  kernel.mkdir(`${ROOT}/c`);
  kernel.spawnAt('c', 100);
  const before = kernel.snapshot();
  const fs = new Cgroupfs(ROOT, kernel);
  const plan = planCarve(carveInput(DEFAULT_POLICY, 0, 'c'));
  kernel.failures.set('c/agent/memory.max', 'EINVAL');
  t.throws(() => applySteps(fs, plan.steps));
  t.same(kernel.snapshot(), before, 'tools/ and its cap undone with the rest');
});
