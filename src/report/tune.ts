/**
 * `agentcgroup tune`: policy changes the call logs and the daemon's counters argue for, each with its
 * evidence. Advice only: nothing here edits a policy. Pure: a Report (aggregate.ts) and the counters in,
 * advice out. The rules are the ladder's
 * own questions asked of its record: did the zone between memory.high and memory.max hold the calls
 * (OOM kills after throttling), did the deadline end calls that only needed room (stalls), was memory
 * short for the whole session (freezes), and is the zone used at all.
 */
import { formatBytes } from '../config/size.js';
import { oneLine } from '../text.js';
import type { Report, ToolRow } from './aggregate.js';

export interface Advice {
  /** The policy key it is about. */
  key: string;
  /** What to change, in one line. */
  change: string;
  /** What the logs show, in one line. */
  evidence: string;
  /** The tool it comes from. */
  tool: string;
}

/** Fewer calls than this say too little to advise on the zone's width. */
export const MIN_CALLS = 20;

const b = (v: number | null | undefined) => (v === null || v === undefined ? '?' : formatBytes(v));
const share = (k: number, n: number) => `${k} of ${n} call${n === 1 ? '' : 's'}`;

function forTool(t: ToolRow): Advice[] {
  const out: Advice[] = [];
  // The name is the container's text: shown escaped, and short.
  const name = oneLine(t.tool, 32);
  const limits = `memory.high ${b(t.memoryHigh)}, memory.max ${b(t.memoryMax)}`;
  const peaks = t.peak ? `peak p95 ${b(t.peak.p95)}, max ${b(t.peak.max)}` : 'no peaks recorded';
  if (t.throttledThenOom > 0) {
    out.push({
      tool: t.tool,
      key: 'tool.memory_max',
      change: 'widen the throttle zone: raise tool.memory_max (or lower tool.memory_high) so the ladder has room between the two',
      evidence: `${share(t.throttledThenOom, t.count)} of ${name} were throttled at memory.high and still OOM-killed at memory.max (${peaks}; ${limits})`,
    });
  }
  const suddenOom = t.oomKilled - t.throttledThenOom;
  if (suddenOom > 0) {
    out.push({
      tool: t.tool,
      key: 'tool.memory_max',
      change: `raise tool.memory_max above the largest peak (${b(t.peak?.max)}) if that much is legitimate: these calls went past memory.high and memory.max at once, faster than reclaim`,
      evidence: `${share(suddenOom, t.count)} of ${name} were OOM-killed without being throttled first (${peaks}; ${limits})`,
    });
  }
  if (t.stalledKills > 0) {
    out.push({
      tool: t.tool,
      key: 'tool.memory_high',
      change: 'raise tool.memory_high toward the calls\' peak, or ladder.deadline: they were ended for stalling, not for running away',
      evidence: `${share(t.stalledKills, t.count)} of ${name} stalled at memory.high until the ladder's deadline ended them (${peaks}; ${limits})`,
    });
  }
  if (t.frozenKills > 0) {
    out.push({
      tool: t.tool,
      key: 'session',
      change: 'memory was short for the whole session: run fewer agents on this memory, or give each session more (the container\'s limit)',
      evidence: `${share(t.frozenKills, t.count)} of ${name} stayed frozen past the deadline while the session had no room`,
    });
  }
  const throttledOk = t.throttled - t.throttledThenOom;
  if (t.count >= MIN_CALLS && throttledOk / t.count >= 0.25 && t.oomKilled === 0 && t.ladderKilled === 0) {
    out.push({
      tool: t.tool,
      key: 'tool.memory_high',
      change: `raise tool.memory_high to about the calls' p95 peak (${b(t.peak?.p95)}): a quarter or more of them are slowed by reclaim and all finish`,
      evidence: `${share(throttledOk, t.count)} of ${name} were throttled at memory.high and finished (${peaks}; ${limits}; ${t.stallMs} ms stalled in all)`,
    });
  }
  if (t.count >= MIN_CALLS && t.throttled === 0 && t.oomKilled === 0 && t.peak && t.memoryHigh !== null && t.peak.max < t.memoryHigh / 2) {
    out.push({
      tool: t.tool,
      key: 'tool.memory_high',
      change: `the throttle zone is never reached: tool.memory_high could come down toward ${b(Math.ceil(t.peak.max * 1.5))} so that a runaway ${name} is caught sooner`,
      evidence: `none of ${t.count} ${name} calls came near memory.high (${peaks}; ${limits})`,
    });
  }
  return out;
}

/** What the running daemon counted for the containers it follows (its snapshot's counters, summed). */
export interface DaemonCounts {
  containers: number;
  freezes: number;
  raises: number;
  stalls: number;
  stallsResolved: number;
}

/** The ladder's own record of what it did to calls, finished ones too, which the call logs do not keep. */
function fromDaemon(d: DaemonCounts): Advice[] {
  const out: Advice[] = [];
  const where = `in the ${d.containers} container${d.containers === 1 ? '' : 's'} the daemon follows now`;
  if (d.raises > 0) {
    out.push({
      tool: '(daemon)',
      key: 'tool.memory_high',
      change: 'calls keep needing more than tool.memory_high and get it from the ladder step by step: start them higher',
      evidence: `the daemon raised memory.high ${d.raises} time${d.raises === 1 ? '' : 's'} for stalled calls, ${d.stallsResolved} of ${d.stalls} stall${d.stalls === 1 ? '' : 's'} ended with the call running on, ${where}`,
    });
  }
  if (d.freezes > 0) {
    out.push({
      tool: '(daemon)',
      key: 'session',
      change: 'sessions ran short of memory: run fewer agents on this memory, or give each session more',
      evidence: `the daemon froze calls ${d.freezes} time${d.freezes === 1 ? '' : 's'} to make room, ${where}`,
    });
  }
  return out;
}

/** Every piece of advice, tools by call count, then the daemon's; empty when nothing argues for a change. */
export function advise(report: Report, daemon?: DaemonCounts): Advice[] {
  return [...report.tools.flatMap(forTool), ...(daemon ? fromDaemon(daemon) : [])];
}

export function renderAdvice(report: Report, advice: readonly Advice[], daemon?: DaemonCounts | string): string {
  const counted = typeof daemon === 'string' ? ` (the daemon's counters not read: ${daemon})` : daemon ? ` and the daemon's counters for ${daemon.containers} container${daemon.containers === 1 ? '' : 's'}` : '';
  const head = `${report.records} tool calls from ${report.containers.length} container${report.containers.length === 1 ? '' : 's'}${report.since ? ` since ${report.since}` : ''}${counted}`;
  if (advice.length === 0) return `${head}: nothing to change (tools with fewer than ${MIN_CALLS} calls are judged only on kills)\n`;
  const lines = [`${head}: ${advice.length} suggestion${advice.length === 1 ? '' : 's'} (advice only: no policy was changed)`];
  for (const a of advice) lines.push('', `${a.key}: ${a.change}`, `  because ${a.evidence}`);
  return `${lines.join('\n')}\n`;
}
