/**
 * bench:sched's arithmetic, pure: the outputs of bench/sched/load.c parsed, rounds summed up per mode
 * and the issue's bar applied. The CPU side ships a sched_ext scheduler only if it beats plain
 * cpu.weight on the framework's p99 scheduling delay and costs tool calls at most 5% of throughput.
 * A second probe stands in for the daemon (a host task outside the containers): tool calls wait on it
 * to be placed, so the scheduler must not make it wait longer than cpu.weight does.
 */
import { stats, type Stats } from '../timing.js';

export type SchedMode = 'none' | 'weight' | 'weightMax' | 'scx' | 'scxHost';

export const SCHED_MODE_NAMES: Record<SchedMode, string> = {
  none: '(a) no agentcgroup: framework and tool call share the container cgroup',
  weight: "(b) today's carve: agent leaf and tool calls with cpu.weight",
  weightMax: "(b') the carve with agent.cpu_weight 10000, the most cpu.weight can favour the framework",
  scx: '(c) sched_ext: agent, tool call and priority classes by cgroup id, the daemon in the supervisor class',
  scxHost: '(c-) sched_ext as (c), the daemon left a host task (class other)',
};

export interface Probe {
  wakes: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

/** `probe N P50 P99 MAX` (microseconds); undefined for anything else. */
export function parseProbe(out: string): Probe | undefined {
  const m = /^probe (\d+) (\d+) (\d+) (\d+)$/m.exec(out);
  return m ? { wakes: Number(m[1]), p50Us: Number(m[2]), p99Us: Number(m[3]), maxUs: Number(m[4]) } : undefined;
}

/** `burn ITERATIONS_PER_SECOND`; undefined for anything else. */
export function parseBurn(out: string): number | undefined {
  const m = /^burn (\d+(?:\.\d+)?)$/m.exec(out);
  return m ? Number(m[1]) : undefined;
}

/** One measured interval of one mode: the framework's probe and every tool call's throughput. */
export interface Round {
  mode: SchedMode;
  /** Which round (0-based): the modes of one round ran back to back, so their ratios are free of drift. */
  round: number;
  probe: Probe;
  /** The daemon's stand-in: the same probe in a host cgroup outside the containers. */
  daemon: Probe;
  /** Iterations per second of each burner (tool call), by name: `same` (the framework's container), `other`. */
  burn: Record<string, number>;
}

export interface ModeSummary {
  mode: SchedMode;
  rounds: number;
  p50Us: Stats;
  p99Us: Stats;
  /** The daemon stand-in's p99. */
  daemonP99Us: Stats;
  /** All tool calls' iterations per second together, per round. */
  throughput: Stats;
  /**
   * p99 and throughput over (b)'s in the same round, over rounds; null for (b) itself or without it.
   * The machine's speed drifts over a run (a TCG guest on a shared host: 1.5x between its first and last
   * rounds on 2026-12-02), so a ratio of medians can show a drift as a difference; a mode and (b) a
   * round apart from each other are measured within minutes.
   */
  vsWeight: { p99: Stats; daemonP99: Stats; throughput: Stats } | null;
}

const throughputOf = (r: Round) => Object.values(r.burn).reduce((a, b) => a + b, 0);

export function summarize(rounds: readonly Round[]): ModeSummary[] {
  const modes = [...new Set(rounds.map((r) => r.mode))];
  const weight = new Map(rounds.filter((r) => r.mode === 'weight').map((r) => [r.round, r]));
  return modes.map((mode) => {
    const mine = rounds.filter((r) => r.mode === mode);
    const pairs = mode === 'weight' ? [] : mine.flatMap((r) => (weight.has(r.round) ? [[r, weight.get(r.round)!] as const] : []));
    return {
      mode,
      rounds: mine.length,
      p50Us: stats(mine.map((r) => r.probe.p50Us)),
      p99Us: stats(mine.map((r) => r.probe.p99Us)),
      daemonP99Us: stats(mine.map((r) => r.daemon.p99Us)),
      throughput: stats(mine.map(throughputOf)),
      vsWeight:
        pairs.length === 0
          ? null
          : {
              p99: stats(pairs.map(([r, b]) => r.probe.p99Us / b.probe.p99Us)),
              daemonP99: stats(pairs.map(([r, b]) => r.daemon.p99Us / b.daemon.p99Us)),
              throughput: stats(pairs.map(([r, b]) => throughputOf(r) / throughputOf(b))),
            },
    };
  });
}

export interface Verdict {
  /** p99(scx) / p99(weight) in the same round, median over rounds: below 1 is better. */
  p99Ratio: number;
  /** throughput(scx) / throughput(weight) in the same round, median over rounds: at least 0.95 is the bar. */
  throughputRatio: number;
  ship: boolean;
  why: string;
}

/** The issue's bar: better p99 than cpu.weight, at most 5% of tool-call throughput lost. */
export function verdict(summaries: readonly ModeSummary[]): Verdict | undefined {
  const c = summaries.find((s) => s.mode === 'scx')?.vsWeight;
  if (!c) return undefined;
  const p99Ratio = c.p99.median;
  const throughputRatio = c.throughput.median;
  const better = p99Ratio < 1;
  const cheap = throughputRatio >= 0.95;
  const ship = better && cheap;
  const cost = throughputRatio >= 1 ? `no throughput cost (tool calls ${((throughputRatio - 1) * 100).toFixed(1)}% faster)` : `${((1 - throughputRatio) * 100).toFixed(1)}% throughput cost`;
  const why = ship
    ? `sched_ext cut the framework's p99 delay to ${p99Ratio.toFixed(2)}x of cpu.weight's at ${cost}`
    : `${better ? '' : `sched_ext's p99 is ${p99Ratio.toFixed(2)}x cpu.weight's (not better)`}${!better && !cheap ? '; ' : ''}${cheap ? '' : `tool calls lost ${((1 - throughputRatio) * 100).toFixed(1)}% of throughput (over 5%)`}`;
  return { p99Ratio, throughputRatio, ship, why };
}

const range = (s: Stats, digits = 0) => `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}-${s.max.toFixed(digits)})`;

/** The daemon stand-in's p99 under (c) and (c-), each over (b)'s; undefined without both. */
export function daemonLine(summaries: readonly ModeSummary[]): string | undefined {
  const ratio = (mode: SchedMode) => summaries.find((s) => s.mode === mode)?.vsWeight?.daemonP99;
  const [c, host] = [ratio('scx'), ratio('scxHost')];
  if (!c || !host) return undefined;
  return `the daemon's stand-in waited (p99) ${range(c, 2)}x as long as under cpu.weight in the supervisor class, ${range(host, 2)}x as a host task.`;
}

export function markdown(summaries: readonly ModeSummary[], notes: readonly string[]): string {
  const rows = summaries.map((s) => {
    const vs = s.vsWeight ? ` (${range(s.vsWeight.p99, 2)}x)` : '';
    const dvs = s.vsWeight ? ` (${range(s.vsWeight.daemonP99, 2)}x)` : '';
    const tvs = s.vsWeight ? ` (${range(s.vsWeight.throughput, 3)}x)` : '';
    return `| ${SCHED_MODE_NAMES[s.mode]} | ${s.rounds} | ${range(s.p50Us)} | ${range(s.p99Us)}${vs} | ${range(s.daemonP99Us)}${dvs} | ${range(s.throughput)}${tvs} |`;
  });
  const v = verdict(summaries);
  const d = daemonLine(summaries);
  return [
    '# bench:sched: the framework\'s scheduling delay while tool calls burn CPU',
    '',
    '| mode | rounds | probe p50 µs | probe p99 µs (vs b) | daemon stand-in p99 µs (vs b) | tool-call iterations/s (vs b) |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    'Medians over rounds, with (min-max). Modes ran interleaved round by round; "vs b" is the median (min-max) over rounds of the mode\'s figure over (b)\'s in the same round, so the machine\'s drift over the run falls out.',
    '',
    v ? `**Verdict:** ${v.ship ? 'ship (c) behind a policy key' : 'keep cpu.weight'}: ${v.why}.` : '**Verdict:** none (mode c did not run).',
    '',
    ...(d ? [`**The daemon:** ${d}`, ''] : []),
    ...notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
}
