// The carve's plan: pure, so what it writes and what it leaves alone is checked here without a kernel.
import t from 'tap';
import { planCarve, planToolCgroup, toolOomScoreAdj } from '../../../src/carve/plan.js';
import { DEFAULT_POLICY } from '../../../src/config/policy.js';
import type { Policy } from '../../../src/config/types.js';
import { carveInput } from '../../fixtures/carveinput.js';


t.test("C's own cpu.weight is the engine's: only the agent leaf gets one", async (t) => {
  for (const priority of ['low', 'normal', 'high'] as const) {
    const plan = planCarve(carveInput({ ...structuredClone(DEFAULT_POLICY), priority }));
    const weights = plan.steps.flatMap((s) => (s.op === 'write' && s.file === 'cpu.weight' ? [s.cgroup] : []));
    t.same(weights, ['ctr/agent'], priority);
  }
});

t.test("toolOomScoreAdj: above the engine's value, never below it, never past 1000", async (t) => {
  t.equal(toolOomScoreAdj(0, 500), 500);
  t.equal(toolOomScoreAdj(-997, 500), -497, 'Guaranteed');
  t.equal(toolOomScoreAdj(900, 500), 1000, 'capped');
  t.equal(toolOomScoreAdj(1000, 0), 1000, 'BestEffort');
  t.equal(toolOomScoreAdj(-1000, 0), -1000);
  t.equal(toolOomScoreAdj(0, -300), 0, 'a negative distance cannot rank a tool call below its container');
});

t.test('the plan carries the engine value and the tool value for the record', async (t) => {
  t.same(planCarve(carveInput(DEFAULT_POLICY, 300)).oomScoreAdj, { engine: 300, tool: 800 });
  const close: Policy = { ...structuredClone(DEFAULT_POLICY), tool: { ...DEFAULT_POLICY.tool, oomScoreAdjAbove: 100 } };
  t.same(planCarve(carveInput(close, -500)).oomScoreAdj, { engine: -500, tool: -400 });
});

t.test("kubelet's memory.oom.group on C moves down to the agent leaf: a tool call's OOM ends that call only", async (t) => {
  const groupWrites = (oomGroup: boolean) =>
    planCarve(carveInput(DEFAULT_POLICY, 0, 'ctr', oomGroup)).steps.flatMap((s) => (s.op === 'write' && s.file === 'memory.oom.group' ? [`${s.cgroup}=${s.value}`] : []));
  t.same(groupWrites(true), ['ctr/agent=1', 'ctr=0'], 'the leaf has it before C gives it up');
  t.same(groupWrites(false), [], 'an engine that set none: nothing written');
  t.equal(planCarve(carveInput(DEFAULT_POLICY, 0, 'ctr', true)).agent.oomGroup, true, 'kept in the record: a resize writes it again');
  t.equal(planCarve(carveInput(DEFAULT_POLICY, 0, 'ctr', false)).agent.oomGroup, undefined);
  // Each call's own group is the policy's, whatever C had.
  t.equal(planCarve(carveInput(DEFAULT_POLICY, 0, 'ctr', true)).tool.oomGroup, true);
});

t.test('memory.swap.max: the agent leaf never swapped, tool calls as the policy says, only where the kernel has the file', async (t) => {
  const swapWrites = (policy: Policy, accounting: boolean) =>
    planCarve(carveInput(policy, 0, 'ctr', false, accounting)).steps.flatMap((s) => (s.op === 'write' && s.file === 'memory.swap.max' ? [`${s.cgroup}=${s.value}`] : []));
  t.same(swapWrites(DEFAULT_POLICY, true), ['ctr/agent=0'], 'the framework: 0 by default');
  t.same(swapWrites(DEFAULT_POLICY, false), [], 'no swap accounting: nothing to write');
  t.equal(planCarve(carveInput(DEFAULT_POLICY, 0, 'ctr', false, true)).tool.swapMax, 'max', "the tool template has the policy's, for each call's cgroup");
  t.equal(planCarve(carveInput(DEFAULT_POLICY, 0, 'ctr', false, false)).tool.swapMax, undefined);
  const custom: Policy = { ...structuredClone(DEFAULT_POLICY), agent: { ...DEFAULT_POLICY.agent, swapMax: 'max' }, tool: { ...DEFAULT_POLICY.tool, swapMax: 512 * 2 ** 20 } };
  t.same(swapWrites(custom, true), ['ctr/agent=max']);
  const call = planToolCgroup('ctr', 'c1', planCarve(carveInput(custom, 0, 'ctr', false, true)).tool);
  t.ok(call.some((s) => s.op === 'write' && s.cgroup === 'ctr/tools/c1' && s.file === 'memory.swap.max' && s.value === String(512 * 2 ** 20)), 'each call gets it');
});
