/**
 * `agentcgroup plan`'s answer, pure: a policy.yaml the hook accepts, the plan as its leading comments
 * (so `agentcgroup plan ... > policy.yaml` keeps the reasons with the values), or JSON.
 */
import { formatBytes } from '../config/size.js';
import { oneLine } from '../text.js';
import { type Fit, type Profile, peakOf } from './fit.js';

const MiB = 1 << 20;

export interface Plan {
  memory: number;
  agents: number;
  /** --agents auto: the risk asked for; undefined when the count was given. */
  risk?: number;
  /** Each container's own limit (its --memory): the largest agent's peak with room, never above the memory. */
  sessionBytes: number;
  chosen: Fit;
  /** --agents auto: every count tried. */
  tried: Fit[];
  source: string;
  profiles: { name: string; peakBytes: number }[];
  trials: number;
}

/** The session each container gets: 25% over the largest peak seen, in whole MiB, at most the memory. */
export function sessionSize(profiles: readonly Profile[], memory: number): number {
  const peak = Math.max(...profiles.map(peakOf));
  return Math.min(memory, Math.ceil((peak * 1.25) / MiB) * MiB);
}

const pct = (p: number) => `${(p * 100).toFixed(p < 0.001 && p > 0 ? 3 : 1)}%`;

export function planPolicy(p: Plan): string {
  const c = p.chosen;
  const how = p.risk === undefined ? `${p.agents} agents, as asked` : `${p.agents} agents: the most whose chance of needing more than the memory stays at or under ${pct(p.risk)}`;
  const lines = [
    `# agentcgroup plan: ${formatBytes(p.memory)} for ${how}.`,
    `# From ${oneLine(p.source, 200)} (${p.profiles.length} profile${p.profiles.length === 1 ? '' : 's'}, largest peak ${formatBytes(Math.max(...p.profiles.map((x) => x.peakBytes)))}); ${p.trials} sampled moments per count.`,
    `# Run each agent container with --memory ${formatBytes(p.sessionBytes)} (its session: 25% over the largest agent peak seen),`,
    `# all of them under one parent whose memory.max is ${formatBytes(p.memory)} (a systemd slice, a pod's QoS cgroup).`,
    `# Expected with ${c.agents} agents: together they hold ${formatBytes(Math.round(c.meanBytes))} on average and ${formatBytes(Math.round(c.p99Bytes))} at p99;`,
    `# memory is tight (over 90% of it in use: reclaim, throttled calls) ${pct(c.pPressure)} of the time, and the`,
    `# agents need more than there is (a call frozen until there is room; unsupervised, an OOM kill) ${pct(c.pOver)} of the time.`,
  ];
  if (p.tried.length > 1) {
    lines.push('#', '# agents  need more than the memory  over 90% in use  mean      p99');
    // About a dozen rows: 1, even steps up, and the last two (the answer and the first count past it).
    const step = Math.max(1, Math.ceil(p.tried.length / 12));
    const shown = p.tried.filter((f, i) => i % step === 0 || i >= p.tried.length - 2);
    for (const f of shown) {
      lines.push(`# ${String(f.agents).padStart(6)}  ${pct(f.pOver).padStart(25)}  ${pct(f.pPressure).padStart(15)}  ${formatBytes(Math.round(f.meanBytes)).padEnd(8)}  ${formatBytes(Math.round(f.p99Bytes))}`);
    }
  }
  lines.push(
    '',
    '# The session (the container) is throttled near its own limit; each tool call gets its own.',
    'session:',
    '  memory_high: 90%',
    'tool:',
    '  memory_high: 70%',
    '  memory_max: 85%',
    '',
  );
  return lines.join('\n');
}
