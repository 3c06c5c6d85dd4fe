import { formatBytes, resolveSize } from '../config/size.js';
import type { MemorySizes, Policy, Size } from '../config/types.js';
import { AgentcgroupError } from '../errors.js';
import { AGENT_LEAF, CONTROLLERS, TOOLS_PARENT } from '../layout.js';
import type { Bytes, Limits } from '../limits.js';

/** What the kernel and our state say about C right now: the input of planning. */
export interface CarveInput {
  /** C, relative to the cgroup2 root. */
  cgroup: string;
  policy: Policy;
  controllers: string[];
  children: string[];
  /** C's own memory.max as the engine set it. */
  sessionMax: Bytes;
  /** Host MemTotal: the session size of a container with no memory limit. */
  hostMemory: number;
  /** At poststart the container runs: C is frozen around the move so nothing forks mid-way. */
  freeze: boolean;
  /** The container init's oom_score_adj, as the engine (or kubelet) set it. */
  oomScoreAdj: number;
  /** C's memory.oom.group as the engine set it: kubelet sets 1 on every container on cgroup v2. */
  oomGroup: boolean;
  /** C has memory.swap.max: the kernel keeps swap accounting, so agent and tool calls can have theirs. */
  swapAccounting: boolean;
}

export type Step =
  | { op: 'freeze'; cgroup: string }
  | { op: 'mkdir'; cgroup: string }
  | { op: 'move-all'; from: string; to: string }
  | { op: 'enable'; cgroup: string; controllers: readonly string[] }
  | { op: 'write'; cgroup: string; file: string; value: string };

export interface CarvePlan {
  cgroup: string;
  sessionBytes: number;
  session: { memoryHigh: Bytes };
  agent: Limits;
  /** The template each tool call's cgroup gets; stored so `exec` applies exactly what was planned. */
  tool: Limits;
  /** The engine's oom_score_adj, which the framework keeps, and the one each tool call gets. */
  oomScoreAdj: { engine: number; tool: number };
  steps: Step[];
}

function limitWrites(cgroup: string, l: Limits): Step[] {
  const w = (file: string, value: string): Step => ({ op: 'write', cgroup, file, value });
  // memory.max first: a memory.high above it would simply never trigger, the reverse order can OOM-kill
  // nothing here (the cgroup is new or empty) but reads worse in a trace.
  const steps = [w('memory.max', String(l.memoryMax)), w('memory.high', String(l.memoryHigh)), w('cpu.weight', String(l.cpuWeight))];
  if (l.pidsMax !== undefined) steps.push(w('pids.max', String(l.pidsMax)));
  if (l.oomGroup !== undefined) steps.push(w('memory.oom.group', l.oomGroup ? '1' : '0'));
  if (l.swapMax !== undefined) steps.push(w('memory.swap.max', String(l.swapMax)));
  return steps;
}

/** A throttle zone only exists when memory.high sits below memory.max; say which pair is inverted. */
function checkZone(where: string, high: Bytes, max: Bytes): void {
  if (high !== 'max' && max !== 'max' && high > max) {
    throw new AgentcgroupError('bad-policy', `${where}: memory_high ${formatBytes(high)} is above memory_max ${formatBytes(max)}`);
  }
}

/**
 * Pure: the session size. It is C's memory.max, or the host's memory when the engine set no limit (then
 * percentages are of the machine); a limit above the host's memory is no limit either.
 */
export function sessionBytesOf(sessionMax: Bytes, hostMemory: number): number {
  return sessionMax === 'max' ? hostMemory : Math.min(sessionMax, hostMemory);
}

/** Pure: the policy's memory sizes as a session of `sessionBytes` makes them; sizes in bytes stay. */
export function resolveMemory(sizes: MemorySizes, sessionBytes: number) {
  const size = (s: Size) => resolveSize(s, sessionBytes);
  return {
    session: { memoryHigh: size(sizes.session.memoryHigh) },
    agent: { memoryHigh: size(sizes.agent.memoryHigh), memoryMax: size(sizes.agent.memoryMax) },
    tool: { memoryHigh: size(sizes.tool.memoryHigh), memoryMax: size(sizes.tool.memoryMax) },
  };
}

/**
 * Pure: refuses resolved sizes without a throttle zone. A percentage beside a size in bytes can pass
 * the policy's own check and still invert at some session sizes only.
 */
export function checkZones(m: ReturnType<typeof resolveMemory>): void {
  checkZone('agent', m.agent.memoryHigh, m.agent.memoryMax);
  checkZone('tool', m.tool.memoryHigh, m.tool.memoryMax);
}

/** Pure: the policy's memory sizes alone, as a carve record keeps them. */
export function memorySizesOf(policy: MemorySizes): MemorySizes {
  return {
    session: { memoryHigh: policy.session.memoryHigh },
    agent: { memoryHigh: policy.agent.memoryHigh, memoryMax: policy.agent.memoryMax },
    tool: { memoryHigh: policy.tool.memoryHigh, memoryMax: policy.tool.memoryMax },
  };
}

/** Pure: policy sizes made concrete for a session (sessionBytesOf), or refused without a throttle zone. */
export function resolveLimits(policy: Policy, sessionMax: Bytes, hostMemory: number) {
  const sessionBytes = sessionBytesOf(sessionMax, hostMemory);
  const m = resolveMemory(policy, sessionBytes);
  checkZones(m);
  const agent: Limits = { ...m.agent, cpuWeight: policy.agent.cpuWeight };
  const tool: Limits = { ...m.tool, cpuWeight: policy.tool.cpuWeight, pidsMax: policy.tool.pidsMax, oomGroup: policy.tool.oomGroup };
  return { sessionBytes, session: m.session, agent, tool };
}

/**
 * Pure: a tool call's oom_score_adj, above the container's own so the OOM killer takes a tool call
 * before its framework, never below it (the engine ranked the container against its neighbours, and a
 * tool call must not outrank that) and never above the kernel's 1000.
 */
export function toolOomScoreAdj(engine: number, above: number): number {
  return Math.min(1000, engine + Math.max(0, above));
}

/** Pure: decides every cgroupfs change of a carve, or refuses with one line naming the problem. */
export function planCarve(input: CarveInput): CarvePlan {
  const { cgroup, policy } = input;
  const missing = CONTROLLERS.filter((c) => !input.controllers.includes(c));
  if (missing.length > 0) {
    throw new AgentcgroupError(
      'missing-controllers',
      `container cgroup /${cgroup} lacks the ${missing.join(', ')} controller${missing.length > 1 ? 's' : ''} (has: ${input.controllers.join(' ') || 'none'})`,
    );
  }
  const foreign = input.children.filter((c) => c !== AGENT_LEAF && c !== TOOLS_PARENT);
  if (foreign.length > 0) {
    throw new AgentcgroupError('foreign-children', `container cgroup /${cgroup} already has sub-cgroups not made by agentcgroup (${foreign.slice(0, 5).join(', ')})`);
  }
  if (input.children.length > 0) {
    throw new AgentcgroupError('half-carved', `container cgroup /${cgroup} already has ${input.children.join(' and ')} but no agentcgroup record for it`);
  }

  const resolved = resolveLimits(policy, input.sessionMax, input.hostMemory);
  const { sessionBytes, session } = resolved;
  // Swap limits only where the kernel has the file; within C's own memory.swap.max, the engine's.
  const swap = (l: Limits, swapMax: number | 'max'): Limits => (input.swapAccounting ? { ...l, swapMax } : l);
  const agentLimits = swap(resolved.agent, policy.agent.swapMax);
  const tool = swap(resolved.tool, policy.tool.swapMax);
  // kubelet's memory.oom.group=1 on C makes any OOM in the container kill all of it: a tool call's OOM
  // would take the framework and its context with it. The group moves down a level: the agent leaf
  // keeps it (the framework dies whole, as kubelet meant), each tool call has its own (tool.oom_group),
  // and C's goes to 0 so one call's OOM ends that call only.
  const agent: Limits = input.oomGroup ? { ...agentLimits, oomGroup: true } : agentLimits;

  const agentCg = `${cgroup}/${AGENT_LEAF}`;
  const toolsCg = `${cgroup}/${TOOLS_PARENT}`;
  const steps: Step[] = [
    ...(input.freeze ? [{ op: 'freeze', cgroup } as const] : []),
    { op: 'mkdir', cgroup: agentCg },
    // The no-internal-processes rule: C must be empty before it can enable controllers for children.
    { op: 'move-all', from: cgroup, to: agentCg },
    { op: 'enable', cgroup, controllers: CONTROLLERS },
    { op: 'mkdir', cgroup: toolsCg },
    { op: 'enable', cgroup: toolsCg, controllers: CONTROLLERS },
    // Each call is a cgroup, a marker, a watch and a record: the container decides how many it starts.
    { op: 'write', cgroup: toolsCg, file: 'cgroup.max.descendants', value: String(policy.limits.toolCalls) },
    // C's own cpu.weight is the engine's (or kubelet's) and weighs the container against its
    // neighbours: left alone. The weights below only divide C's share between agent and tool calls.
    { op: 'write', cgroup, file: 'memory.high', value: String(session.memoryHigh) },
    ...limitWrites(agentCg, agent),
    ...(input.oomGroup ? [{ op: 'write', cgroup, file: 'memory.oom.group', value: '0' } as const] : []),
  ];
  const oomScoreAdj = { engine: input.oomScoreAdj, tool: toolOomScoreAdj(input.oomScoreAdj, policy.tool.oomScoreAdjAbove) };
  return { cgroup, sessionBytes, session, agent, tool, oomScoreAdj, steps };
}

/**
 * The steps that set up one tool call's cgroup under C/tools. It stays a leaf: a call is ended by
 * killing its cgroup and removing it (cgroup/lifecycle.ts), which a sub-cgroup would make fail and
 * leak, and so tools/ cgroup.max.descendants counts exactly the calls.
 */
export function planToolCgroup(cgroup: string, callId: string, tool: Limits): Step[] {
  const cg = `${cgroup}/${TOOLS_PARENT}/${callId}`;
  return [{ op: 'mkdir', cgroup: cg }, { op: 'write', cgroup: cg, file: 'cgroup.max.descendants', value: '0' }, ...limitWrites(cg, tool)];
}
