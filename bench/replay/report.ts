/**
 * The replay bench's results as tables (Markdown) and target verdicts. Pure: measured records in, text out.
 */
import { MODE_NAMES, MODES, type Mode } from './options.js';
import { type AgentRun, type Fate, callDurations, density, fate, ladderActions, median, outsideLeaf, placement, slowdown, survived, waste } from './stats.js';

export type LadderCounts = ReturnType<typeof ladderActions>;

export interface RunRecord {
  kind: 'alone' | 'mode';
  mode: Mode;
  agents: AgentRun[];
  budgetBytes: number;
  /** Budget cgroup memory.peak, and memory.current averaged from the go to the last agent's end. */
  budgetPeak: number;
  budgetAvg: number;
  budgetOomKills: number;
  wallMs: number;
  timedOut: boolean;
  ladder?: LadderCounts;
  /** Outcomes in the daemon's call log (mode d): ok, killed, oom-killed... */
  outcomes?: Record<string, number>;
}

export interface Pair {
  without: number[];
  with: number[];
}

export interface Overheads {
  podman: Pair;
  crun: Pair;
  /** without: the command run directly; with: through `agentcgroup exec --container`. */
  exec: Pair;
  /** without: spawning /bin/true; with: `agentcgroup --version` (the single binary's start-up alone), in the guest. */
  startup: Pair;
  /** The same pair measured by the host half on the host itself (no emulation), when it could. */
  hostStartup?: Pair;
  /**
   * With the daemon running and the hooks run through the native hook front (src/hook/native/), which
   * hands each to the daemon: how hooks.d and the shim run them when installed. `podman run --rm`, and
   * bare crun, each against the same without hooks.
   */
  podmanFront?: Pair;
  crunFront?: Pair;
  command: string;
}

export interface InputRow {
  agent: number;
  task: string;
  model: string;
  durationMs: number;
  calls: number;
  baselineKiB: number;
  tracePeakKiB: number;
  maxCallKiB: number;
}

export interface BenchResult {
  kernel: string;
  seed: number;
  memoryDiv: number;
  timeDiv: number;
  budgetBytes: number;
  agentCounts: number[];
  /** The agent containers' init, as the report says it (bench/replay/init.ts). */
  init: string;
  inputs: InputRow[];
  runs: RunRecord[];
  overheads?: Overheads;
  notes: string[];
  elapsedS: number;
}

const MiB = 1 << 20;
const mib = (b: number) => (Number.isFinite(b) ? (b / MiB).toFixed(0) : 'max');
const x = (r: number) => (Number.isFinite(r) ? `${r.toFixed(2)}x` : '—');
const pct = (r: number) => (Number.isFinite(r) ? `${Math.round(r * 100)}%` : '—');

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** What each mode sets aside for the agents: its own memory.max per agent, or the shared budget. */
export function reserved(r: RunRecord): { bytes: number; how: string } {
  if (r.mode === 'b' || r.mode === 'c') {
    const sum = r.agents.reduce((a, g) => a + g.memoryMax, 0);
    return { bytes: sum, how: 'Σ max' };
  }
  return { bytes: r.budgetBytes, how: 'pool' };
}

/** (b) may only run as many agents as their memory.max values fit in the budget. */
export const withinBudget = (r: RunRecord): boolean => reserved(r).bytes <= r.budgetBytes;

export const allSurvived = (r: RunRecord): boolean => !r.timedOut && r.agents.every(survived);

export interface Row {
  mode: Mode;
  agents: number;
  survived: number;
  fates: Record<Fate, number>;
  callsKilled: number;
  vsAlone: ReturnType<typeof slowdown>;
  vsA: ReturnType<typeof slowdown> | undefined;
  reserved: ReturnType<typeof reserved>;
  avgUsed: number;
  peakUsed: number;
  waste: number;
  overcommitted: boolean;
  wallMs: number;
  ladder: LadderCounts | undefined;
}

export function rows(res: BenchResult): Row[] {
  const alone = callDurations(res.runs.filter((r) => r.kind === 'alone').flatMap((r) => r.agents));
  const modeRuns = res.runs.filter((r) => r.kind === 'mode');
  return modeRuns.map((r) => {
    const fates = { finished: 0, 'call-killed': 0, 'call-failed': 0, 'agent-killed': 0, unfinished: 0 } as Record<Fate, number>;
    for (const a of r.agents) fates[fate(a)]++;
    const durations = callDurations(r.agents);
    const a = modeRuns.find((k) => k.mode === 'a' && k.agents.length === r.agents.length);
    const res0 = reserved(r);
    return {
      mode: r.mode,
      agents: r.agents.length,
      survived: fates.finished,
      fates,
      callsKilled: r.agents.reduce((n, g) => n + g.out.calls.filter((c) => c.status === 137).length, 0),
      vsAlone: slowdown(durations, alone),
      vsA: a && r.mode !== 'a' ? slowdown(durations, callDurations(a.agents)) : undefined,
      reserved: res0,
      avgUsed: r.budgetAvg,
      peakUsed: r.budgetPeak,
      waste: waste(res0.bytes, r.budgetAvg),
      overcommitted: !withinBudget(r),
      wallMs: r.wallMs,
      ladder: r.ladder,
    };
  });
}

export interface ModeSummary {
  mode: Mode;
  /** Largest agent count with 100% survival (and, for static reservations, memory.max values that fit). */
  density: number;
  /** The same, counting survival only (a static mode overcommitting its budget). */
  densitySurvivalOnly: number;
  /** No loss seen up to the largest count tried: the density is at least that, not found. */
  censored: boolean;
  at: Row | undefined;
}

export function summaries(res: BenchResult): ModeSummary[] {
  const all = rows(res);
  return MODES.filter((m) => all.some((r) => r.mode === m)).map((mode) => {
    const mine = all.filter((r) => r.mode === mode);
    const runs = res.runs.filter((r) => r.kind === 'mode' && r.mode === mode);
    const ok = (n: number, budgetToo: boolean) => {
      const r = runs.find((k) => k.agents.length === n);
      return !!r && allSurvived(r) && (!budgetToo || withinBudget(r));
    };
    const d = density(mine.map((r) => ({ agents: r.agents, ok: ok(r.agents, true) })));
    return {
      mode,
      density: d,
      censored: mine.length > 0 && mine.every((r) => ok(r.agents, true)),
      densitySurvivalOnly: density(mine.map((r) => ({ agents: r.agents, ok: ok(r.agents, false) }))),
      at: mine.find((r) => r.agents === d),
    };
  });
}

export function runsTable(res: BenchResult): string {
  const head = ['mode', 'agents', 'survived', 'agents killed', 'calls killed', 'p50 ×alone', 'p95 ×alone', 'p95 ×(a)', 'reserved MiB', 'used avg / peak MiB', 'waste', 'ladder f/t/r/k', 'wall s'];
  return table(
    head,
    rows(res).map((r) => [
      MODE_NAMES[r.mode],
      String(r.agents),
      `${r.survived}/${r.agents} (${pct(r.survived / r.agents)})`,
      String(r.fates['agent-killed']),
      String(r.callsKilled),
      x(r.vsAlone.p50),
      x(r.vsAlone.p95),
      r.vsA ? x(r.vsA.p95) : '—',
      `${mib(r.reserved.bytes)} (${r.reserved.how})${r.overcommitted ? ' over budget' : ''}`,
      `${mib(r.avgUsed)} / ${mib(r.peakUsed)}`,
      pct(r.waste),
      r.ladder ? `${r.ladder.freezes}/${r.ladder.thaws}/${r.ladder.raises}/${r.ladder.kills}` : '—',
      (r.wallMs / 1000).toFixed(1),
    ]),
  );
}

export function summaryTable(res: BenchResult): string {
  return table(
    ['mode', 'density (agents at 100% survival)', 'survival only', 'p50 / p95 ×alone there', 'waste there'],
    summaries(res).map((s) => [
      MODE_NAMES[s.mode],
      `${s.density}${s.censored ? '+ (no loss up to the largest count tried)' : ''}`,
      String(s.densitySurvivalOnly),
      s.at ? `${x(s.at.vsAlone.p50)} / ${x(s.at.vsAlone.p95)}` : '—',
      s.at ? pct(s.at.waste) : '—',
    ]),
  );
}

export function inputsTable(res: BenchResult): string {
  return table(
    ['agent', 'task', 'model', 'replay s', 'Bash calls', 'baseline MiB', 'trace peak MiB', 'largest call MiB'],
    res.inputs.map((i) => [
      String(i.agent + 1),
      i.task,
      i.model,
      (i.durationMs / 1000).toFixed(1),
      String(i.calls),
      (i.baselineKiB / 1024).toFixed(1),
      (i.tracePeakKiB / 1024).toFixed(1),
      (i.maxCallKiB / 1024).toFixed(1),
    ]),
  );
}

export interface OverheadRow {
  key: 'podman' | 'crun' | 'podmanFront' | 'crunFront' | 'exec' | 'startup' | 'hostStartup';
  what: string;
  without: number;
  with: number;
  addedMs: number;
  ratio: number;
  n: number;
}

export function overheadRows(o: Overheads): OverheadRow[] {
  const row = (key: OverheadRow['key'], what: string, p: Pair | undefined): OverheadRow[] => {
    if (p === undefined) return [];
    const a = median(p.without);
    const b = median(p.with);
    return [{ key, what, without: a, with: b, addedMs: b - a, ratio: b / a, n: Math.min(p.without.length, p.with.length) }];
  };
  return [
    ...row('podman', '`podman run --rm` (hooks.d, createRuntime + poststop, the binary; no daemon)', o.podman),
    ...row('podmanFront', '`podman run --rm` (hooks.d through the native hook front, daemon running)', o.podmanFront),
    ...row('crun', 'bare crun create + start + delete (config.json hooks, the binary; no daemon)', o.crun),
    ...row('crunFront', 'bare crun create + start + delete (hooks through the native front, daemon running)', o.crunFront),
    ...row('exec', '`agentcgroup exec --container` vs the command directly', o.exec),
    ...row('startup', 'start-up: `agentcgroup --version` vs `/bin/true` (guest)', o.startup),
    ...row('hostStartup', 'start-up: `agentcgroup --version` vs `/bin/true` (host, not emulated)', o.hostStartup),
  ];
}

export function overheadTable(o: Overheads): string {
  return table(
    ['lifecycle', 'without ms', 'with ms', 'added ms', 'ratio', 'reps'],
    overheadRows(o).map((r) => [r.what, r.without.toFixed(0), r.with.toFixed(0), r.addedMs.toFixed(0), x(r.ratio), String(r.n)]),
  );
}

export interface Verdict {
  target: string;
  met: boolean | undefined;
  measured: string;
}

export function verdicts(res: BenchResult): Verdict[] {
  const all = rows(res);
  const sums = summaries(res);
  const out: Verdict[] = [];
  const cKills = all.filter((r) => r.mode === 'c' && r.survived < r.agents).map((r) => r.agents);
  const dAt = (n: number) => all.find((r) => r.mode === 'd' && r.agents === n);
  if (all.some((r) => r.mode === 'c') && all.some((r) => r.mode === 'd')) {
    const held = cKills.map((n) => ({ n, d: dAt(n) }));
    out.push({
      target: 'agentcgroup keeps 100% survival where (c) kills agents',
      met: cKills.length === 0 ? undefined : held.every((h) => h.d !== undefined && h.d.survived === h.n),
      measured:
        cKills.length === 0
          ? '(c) killed no agent at any count tried: nothing to compare'
          : held.map((h) => `${h.n} agents: (c) ${all.find((r) => r.mode === 'c' && r.agents === h.n)!.survived}/${h.n}, (d) ${h.d ? `${h.d.survived}/${h.n}` : 'not run (its search had stopped)'}`).join('; '),
    });
  }
  const b = sums.find((s) => s.mode === 'b');
  const d = sums.find((s) => s.mode === 'd');
  if (b && d) {
    const reached = b.density === 0 ? d.density > 0 : d.density >= 2 * b.density;
    out.push({
      target: 'density of agentcgroup >= 2x that of (b)',
      // A (d) that lost nothing up to the largest count tried may go further: not reached is then not shown either.
      met: reached ? true : d.censored ? undefined : false,
      measured:
        `(d) ${d.density}${d.censored ? '+' : ''} agents, (b) ${b.density} (${b.density > 0 ? x(d.density / b.density) : '—'}${d.censored ? ' or more' : ''}); ` +
        `(b) counting survival alone, overcommitting its budget: ${b.densitySurvivalOnly}${b.censored ? '+' : ''}`,
    });
  }
  const dRows = all.filter((r) => r.mode === 'd');
  if (dRows.length > 0) {
    const worst = dRows.reduce((w, r) => (r.vsAlone.p95 > w.vsAlone.p95 ? r : w));
    const vsA = dRows.filter((r) => r.vsA).map((r) => `${r.agents}: ${x(r.vsA!.p95)}`);
    out.push({
      target: 'p95 tool-call slowdown of agentcgroup <= 1.10x',
      met: dRows.every((r) => r.vsAlone.p95 <= 1.1),
      measured: `vs each agent alone: ${dRows.map((r) => `${r.agents} agents ${x(r.vsAlone.p95)}`).join(', ')} (worst ${x(worst.vsAlone.p95)}); vs (a) with as many agents: ${vsA.join(', ') || '—'}`,
    });
  }
  const dRuns = res.runs.filter((r) => r.kind === 'mode' && r.mode === 'd');
  if (dRuns.length > 0) {
    const agents = dRuns.flatMap((r) => r.agents);
    const moved = agents.filter((a) => placement(a) === 'moved');
    const unknown = agents.filter((a) => placement(a) === 'unknown').length;
    const recorded = dRuns.reduce((n, r) => n + Object.values(r.outcomes ?? {}).reduce((a, b) => a + b, 0), 0);
    const planned = agents.reduce((n, a) => n + a.plannedCalls, 0);
    out.push({
      target: 'agentcgroup leaves the framework in the agent leaf (it is not taken for a tool call)',
      met: moved.length > 0 ? false : unknown > 0 ? undefined : true,
      measured:
        `${moved.length} of ${agents.length} agents' frameworks outside the agent leaf${moved.length ? ` (e.g. ${outsideLeaf(moved[0]!)})` : ''}` +
        `${unknown ? `, ${unknown} did not say` : ''}; the daemon recorded ${recorded} tool calls for ${planned} planned`,
    });
  }
  if (res.overheads) {
    const by = new Map(overheadRows(res.overheads).map((r) => [r.key, r]));
    const podman = by.get('podman')!;
    const crun = by.get('crun')!;
    const exec = by.get('exec')!;
    const startup = by.get('startup')!;
    const hostStartup = by.get('hostStartup');
    const front = by.get('podmanFront');
    const crunFront = by.get('crunFront');
    // Two hook runs (createRuntime, poststop) per lifecycle: how much of the added time is start-up alone.
    const starts = `; of that, 2 start-ups of the binary: ${(2 * startup.addedMs).toFixed(0)} ms in the guest` +
      (hostStartup ? `, ${(2 * hostStartup.addedMs).toFixed(0)} ms on the host` : '');
    const fronted = front ? `podman run --rm through the front, daemon running ${x(front.ratio)} (+${front.addedMs.toFixed(0)} ms)${crunFront ? `, bare crun ${x(crunFront.ratio)} (+${crunFront.addedMs.toFixed(0)} ms)` : ''}; ` : '';
    out.push({
      // As installed: with the daemon running the hooks go through the front; without a front measured, the binary's.
      target: `hook overhead <= 1.10x of a \`podman run\` lifecycle${front ? ' (as installed: the native hook front, daemon running)' : ''}`,
      met: (front ?? podman).ratio <= 1.1,
      measured: `${fronted}without the daemon, the binary: podman run --rm ${x(podman.ratio)} (+${podman.addedMs.toFixed(0)} ms); bare crun ${x(crun.ratio)} (+${crun.addedMs.toFixed(0)} ms); exec ${x(exec.ratio)} (+${exec.addedMs.toFixed(0)} ms)${starts}`,
    });
  }
  return out;
}

export function verdictTable(res: BenchResult): string {
  return table(
    ['target', 'met', 'measured'],
    verdicts(res).map((v) => [v.target, v.met === undefined ? 'n/a' : v.met ? 'yes' : 'no', v.measured]),
  );
}

export function markdown(res: BenchResult): string {
  const parts = [
    '# agentcgroup trace replay',
    '',
    `Kernel ${res.kernel}; seed ${res.seed}; memory scaled /${res.memoryDiv} (trace MB -> MiB / ${res.memoryDiv}), time scaled /${res.timeDiv}; ` +
      `budget ${mib(res.budgetBytes)} MiB for every run (a cgroup with memory.max above the agents); agent counts tried ${res.agentCounts.join(', ')}; ${res.elapsedS.toFixed(0)} s in the guest.`,
    '',
    `Agents' init: ${res.init}.`,
    '',
    '## Agents (inputs, from the traces, scaled)',
    '',
    inputsTable(res),
    '',
    '## Runs (measured: exit codes, memory.peak and memory.current from the kernel, wall clock)',
    '',
    runsTable(res),
    '',
    '## Per mode',
    '',
    summaryTable(res),
    '',
  ];
  if (res.overheads) parts.push('## Overheads (medians, single binary dist/agentcgroup)', '', overheadTable(res.overheads), '', `Command: ${res.overheads.command}`, '');
  parts.push('## Targets', '', verdictTable(res), '', '## Notes', '', ...res.notes.map((n) => `- ${n}`), '');
  return parts.join('\n');
}
