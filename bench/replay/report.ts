/**
 * The replay bench's results as tables (Markdown) and target verdicts. Pure: measured records in, text out.
 */
import { type Mode, type Variant, parseVariant, variantName } from './options.js';
import { type AgentRun, type Fate, type LadderTotals, type Placed, type PriorityClass, callDurations, classOf, density, fate, ladderActions, lost, median, outsideLeaf, placement, quantile, slowdown, survived, waste } from './stats.js';

export type LadderCounts = ReturnType<typeof ladderActions>;

export interface RunRecord {
  kind: 'alone' | 'mode';
  mode: Mode;
  /** The mode as set up (Variant.key): memory.oom.group, priorities. Alone runs: 'a'. */
  variant: string;
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
  /** How the daemon placed the calls (mode d), from its call log. */
  placed?: Placed;
  /** What the ladder did to the calls (mode d), from their records' `ladder` fields. */
  ladderCalls?: LadderTotals;
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
  /** The modes searched, in order (Variant.key). */
  variants: string[];
  /** Calls' memory shape: ramp, burst, or mixed (a seeded half burst). */
  shape: string;
  /** Why the search ended: every mode stopped, or the count it could not go past (and why). */
  searchEnd: string;
  memoryDiv: number;
  timeDiv: number;
  budgetBytes: number;
  agentCounts: number[];
  /** The agent containers' init, as the report says it (bench/replay/init.ts). */
  init: string;
  /** The swap every run had (bench/replay/swap.ts); absent in results from before it was said. */
  swap?: string;
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

/** No framework died: calls may have been killed, but every agent kept its context. */
export const noneLost = (r: RunRecord): boolean => !r.timedOut && !r.agents.some(lost);

/**
 * Whether the density search goes on past this run: a mode stops at its first agent lost (or a run
 * that timed out), when fewer than half its agents finished whole, or (static reservations) when its
 * memory.max values no longer fit the budget. Returns why it stops, or undefined.
 */
export function stopReason(r: RunRecord): string | undefined {
  if (r.timedOut) return 'the run timed out';
  const n = r.agents.filter(lost).length;
  if (n > 0) return `${n} agent${n > 1 ? 's' : ''} lost`;
  if (r.agents.filter(survived).length * 2 < r.agents.length) return 'fewer than half the agents finished whole';
  if (!withinBudget(r)) return `the agents' memory.max values (${mib(reserved(r).bytes)} MiB) no longer fit the budget`;
  return undefined;
}

export interface Row {
  mode: Mode;
  variant: Variant;
  agents: number;
  agentsLost: number;
  survived: number;
  fates: Record<Fate, number>;
  callsKilled: number;
  vsAlone: ReturnType<typeof slowdown>;
  vsA: ReturnType<typeof slowdown> | undefined;
  /** Against each agent alone, the priority mix's classes apart (even agents high, odd low). */
  classes: Record<PriorityClass, ReturnType<typeof slowdown>>;
  reserved: ReturnType<typeof reserved>;
  avgUsed: number;
  peakUsed: number;
  waste: number;
  overcommitted: boolean;
  wallMs: number;
  ladder: LadderCounts | undefined;
  placed: Placed | undefined;
  ladderCalls: LadderTotals | undefined;
}

export function rows(res: BenchResult): Row[] {
  const aloneAgents = res.runs.filter((r) => r.kind === 'alone').flatMap((r) => r.agents);
  const alone = callDurations(aloneAgents);
  const modeRuns = res.runs.filter((r) => r.kind === 'mode');
  return modeRuns.map((r) => {
    const fates = { finished: 0, 'call-killed': 0, 'call-failed': 0, 'agent-killed': 0, unfinished: 0 } as Record<Fate, number>;
    for (const a of r.agents) fates[fate(a)]++;
    const durations = callDurations(r.agents);
    // The pool with as many agents, set up alike (oom.group or not) when it ran, else the other one.
    const v = parseVariant(r.variant);
    const pools = modeRuns.filter((k) => k.mode === 'a' && k.agents.length === r.agents.length);
    const a = pools.find((k) => parseVariant(k.variant).oomGroup === v.oomGroup) ?? pools[0];
    const res0 = reserved(r);
    const byClass = (c: PriorityClass) => slowdown(callDurations(r.agents, (g) => classOf(g.agent) === c), alone);
    return {
      mode: r.mode,
      variant: v,
      agents: r.agents.length,
      agentsLost: r.agents.filter(lost).length,
      survived: fates.finished,
      fates,
      callsKilled: r.agents.reduce((n, g) => n + g.out.calls.filter((c) => c.status === 137).length, 0),
      vsAlone: slowdown(durations, alone),
      vsA: a && r.mode !== 'a' ? slowdown(durations, callDurations(a.agents)) : undefined,
      classes: { high: byClass('high'), low: byClass('low') },
      reserved: res0,
      avgUsed: r.budgetAvg,
      peakUsed: r.budgetPeak,
      waste: waste(res0.bytes, r.budgetAvg),
      overcommitted: !withinBudget(r),
      wallMs: r.wallMs,
      ladder: r.ladder,
      placed: r.placed,
      ladderCalls: r.ladderCalls,
    };
  });
}

export interface ModeSummary {
  variant: Variant;
  /** Largest agent count with 100% survival (and, for static reservations, memory.max values that fit). */
  density: number;
  /** Largest count with no agent lost (calls may have been killed), memory.max values fitting. */
  densityNoLoss: number;
  /** The 100% survival density, counting survival only (a static mode overcommitting its budget). */
  densitySurvivalOnly: number;
  /** No agent lost up to the largest count tried: densityNoLoss is at least that, not found. */
  censored: boolean;
  at: Row | undefined;
}

export function summaries(res: BenchResult): ModeSummary[] {
  const all = rows(res);
  return res.variants.map(parseVariant).map((variant) => {
    const mine = all.filter((r) => r.variant.key === variant.key);
    const runs = res.runs.filter((r) => r.kind === 'mode' && r.variant === variant.key);
    const ok = (n: number, pass: (r: RunRecord) => boolean, budgetToo: boolean) => {
      const r = runs.find((k) => k.agents.length === n);
      return !!r && pass(r) && (!budgetToo || withinBudget(r));
    };
    const d = (pass: (r: RunRecord) => boolean, budgetToo: boolean) => density(mine.map((r) => ({ agents: r.agents, ok: ok(r.agents, pass, budgetToo) })));
    const noLoss = d(noneLost, true);
    return {
      variant,
      density: d(allSurvived, true),
      densityNoLoss: noLoss,
      densitySurvivalOnly: d(allSurvived, false),
      censored: mine.length > 0 && mine.every((r) => ok(r.agents, noneLost, true)),
      at: mine.find((r) => r.agents === noLoss),
    };
  });
}

const sd = (v: ReturnType<typeof slowdown>) => `${x(v.p50)} / ${x(v.p95)}`;

export function runsTable(res: BenchResult): string {
  const head = ['mode', 'agents', 'agents lost', 'calls killed', 'agents finished whole', 'p50 / p95 ×alone', 'p95 ×(a)', 'reserved MiB', 'used avg / peak MiB', 'waste', 'ladder f/t/r/k', 'calls held at exec', 'burst calls seen whole', 'wall s'];
  return table(
    head,
    rows(res).map((r) => [
      variantName(r.variant),
      String(r.agents),
      String(r.agentsLost),
      String(r.callsKilled),
      `${r.survived}/${r.agents} (${pct(r.survived / r.agents)})`,
      sd(r.vsAlone),
      r.vsA ? x(r.vsA.p95) : '—',
      `${mib(r.reserved.bytes)} (${r.reserved.how})${r.overcommitted ? ' over budget' : ''}`,
      `${mib(r.avgUsed)} / ${mib(r.peakUsed)}`,
      pct(r.waste),
      r.ladder ? `${r.ladder.freezes}/${r.ladder.thaws}/${r.ladder.raises}/${r.ladder.kills}` : '—',
      r.placed ? `${r.placed.heldAtExec}/${r.placed.calls}` : '—',
      r.placed ? `${r.placed.burstWhole}/${r.placed.burst}` : '—',
      (r.wallMs / 1000).toFixed(1),
    ]),
  );
}

export function summaryTable(res: BenchResult): string {
  return table(
    ['mode', 'density: no agent lost', 'density: every agent whole', 'survival only (over budget)', 'p50 / p95 ×alone there', 'waste there'],
    summaries(res).map((s) => [
      variantName(s.variant),
      `${s.densityNoLoss}${s.censored ? '+ (none lost up to the largest count tried)' : ''}`,
      String(s.density),
      String(s.densitySurvivalOnly),
      s.at ? sd(s.at.vsAlone) : '—',
      s.at ? pct(s.at.waste) : '—',
    ]),
  );
}

/** The paper's priority result (Zheng et al., arXiv 2602.09345), beside ours: a different measure, the same question. */
export const PAPER_PRIORITIES = 'HIGH sessions\' P95 allocation latency -29% at +2.8% cost';

export interface PriorityRow {
  /** The mode without priorities and the same with them: d and dp, dk and dkp. */
  without: Variant;
  with: Variant;
  agents: number;
  high: { without: ReturnType<typeof slowdown>; with: ReturnType<typeof slowdown> };
  low: { without: ReturnType<typeof slowdown>; with: ReturnType<typeof slowdown> };
}

/** The row of the same mode at the same count as `w`, without `flag` and alike in every other: dk for dkp, dkr for dkpr, dk for dkr. */
function twin(all: readonly Row[], w: Row, flag: 'priorities' | 'reclaim'): Row | undefined {
  const alike = (r: Row) => (['priorities', 'reclaim'] as const).every((f) => (f === flag ? !r.variant[f] : r.variant[f] === w.variant[f]));
  return all.find((r) => r.agents === w.agents && r.variant.mode === w.variant.mode && r.variant.oomGroup === w.variant.oomGroup && alike(r));
}

/** Every count at which a mode ran both without and with the priority mix. */
export function priorityRows(res: BenchResult): PriorityRow[] {
  const all = rows(res);
  const out: PriorityRow[] = [];
  for (const w of all.filter((r) => r.variant.priorities)) {
    const base = twin(all, w, 'priorities');
    if (!base) continue;
    out.push({ without: base.variant, with: w.variant, agents: w.agents, high: { without: base.classes.high, with: w.classes.high }, low: { without: base.classes.low, with: w.classes.low } });
  }
  return out;
}

const change = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && a > 0 ? `${b >= a ? '+' : ''}${Math.round((b / a - 1) * 1000) / 10}%` : '—');

export function priorityTable(res: BenchResult): string {
  return table(
    ['modes', 'agents', 'high p50 / p95 without', 'with', 'high p95 change', 'low p50 / p95 without', 'with', 'low p95 change'],
    [
      ...priorityRows(res).map((p) => [
        `${variantName(p.without)} / ${p.with.key}`,
        String(p.agents),
        sd(p.high.without),
        sd(p.high.with),
        change(p.high.without.p95, p.high.with.p95),
        sd(p.low.without),
        sd(p.low.with),
        change(p.low.without.p95, p.low.with.p95),
      ]),
      ['paper (allocation latency, not call time)', '—', '—', '—', '-29%', '—', '—', '+2.8% (cost)'],
    ],
  );
}

export interface ReclaimRow {
  agents: number;
  /** The same mode without the rung (plain freeze) and with it: dk and dkr, d and dr, dkp and dkpr. */
  plain: Row;
  reclaim: Row;
}

/** Every count at which a mode ran both as plain freeze and with the reclaim rung. */
export function reclaimRows(res: BenchResult): ReclaimRow[] {
  const all = rows(res);
  const out: ReclaimRow[] = [];
  for (const w of all.filter((r) => r.variant.reclaim)) {
    const plain = twin(all, w, 'reclaim');
    if (plain) out.push({ agents: w.agents, plain, reclaim: w });
  }
  return out.sort((a, b) => a.agents - b.agents);
}

/** What the rung changes, a row per mode per count: kills and losses, slowdown, and the ladder's work. */
export function reclaimTable(res: BenchResult): string {
  const line = (r: Row) => [
    String(r.agents),
    variantName(r.variant),
    `${r.callsKilled}${r.ladder ? ` (${r.ladder.kills})` : ''}`,
    String(r.agentsLost),
    sd(r.vsAlone),
    r.ladder ? `${r.ladder.freezes}/${r.ladder.thaws}` : '—',
    r.ladderCalls ? `${r.ladderCalls.calls}` : '—',
    r.ladderCalls ? (r.ladderCalls.frozenMs / 1000).toFixed(1) : '—',
    r.ladderCalls ? mib(r.ladderCalls.reclaimedBytes) : '—',
  ];
  return table(
    ['agents', 'mode', 'calls killed (by the ladder)', 'agents lost', 'p50 / p95 ×alone', 'ladder freezes / thaws', 'calls frozen or reclaimed', 'Σ frozen s', 'Σ reclaimed MiB'],
    reclaimRows(res).flatMap((p) => [line(p.plain), line(p.reclaim)]),
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

/**
 * The mode the targets are judged on: as kubelet runs containers when it ran, else plain; without the
 * priority mix, and plain freeze when it ran (the targets predate the reclaim rung: adding dkr to a run
 * does not move them off dk).
 */
function judged<T extends { variant: Variant }>(xs: readonly T[], mode: Mode): T | undefined {
  const mine = xs.filter((s) => s.variant.mode === mode && !s.variant.priorities);
  const kubelet = (ys: readonly T[]) => ys.find((s) => s.variant.oomGroup) ?? ys[0];
  return kubelet(mine.filter((s) => !s.variant.reclaim)) ?? kubelet(mine);
}

export function verdicts(res: BenchResult): Verdict[] {
  const all = rows(res);
  const sums = summaries(res);
  const out: Verdict[] = [];
  const dSum = judged(sums, 'd');
  // The baselines set up as the judged mode is (as kubelet runs them, when it is), else all of them.
  const others = sums.filter((s) => s.variant.mode !== 'd');
  const alike = others.filter((s) => s.variant.oomGroup === dSum?.variant.oomGroup);
  const baselines = alike.length > 0 ? alike : others;
  if (dSum && baselines.length > 0) {
    // A mode stops at its first agent lost, so from that count on it loses agents; a static reservation
    // that stopped because its memory.max values no longer fit the budget cannot host that many at all.
    const failsAt = (v: Variant) => {
      const mine = all.filter((r) => r.variant.key === v.key).sort((a, b) => a.agents - b.agents);
      const r = mine.find((k) => k.agentsLost > 0 || k.overcommitted);
      return r === undefined ? undefined : { n: r.agents, how: r.agentsLost > 0 ? 'lost its first' : 'no longer fit the budget' };
    };
    const losing = baselines.map((b) => ({ b, at: failsAt(b.variant) }));
    const never = losing.filter((l) => l.at === undefined);
    const at = never.length === 0 ? Math.max(...losing.map((l) => l.at!.n)) : undefined;
    const dRow = at === undefined ? undefined : all.find((r) => r.variant.key === dSum.variant.key && r.agents === at);
    out.push({
      target: 'agentcgroup loses no agent where every baseline loses one',
      met: at === undefined ? undefined : dRow !== undefined && dRow.agentsLost === 0,
      measured:
        at === undefined
          ? `no count at which every baseline lost an agent (${never.map((l) => l.b.variant.key).join(', ')} lost none up to the largest count it ran)`
          : `at ${at} agents (${losing.map((l) => `${l.b.variant.key} ${l.at!.how} at ${l.at!.n}`).join(', ')}): ${dSum.variant.key} ${dRow ? `lost ${dRow.agentsLost} of ${at}` : 'did not run there (its search had stopped)'}`,
    });
    const peak = judged(sums, 'b');
    const pool = judged(sums, 'a');
    const plus = dSum.censored ? '+' : '';
    if (peak) {
      const reached = peak.densityNoLoss === 0 ? dSum.densityNoLoss > 0 : dSum.densityNoLoss >= 2 * peak.densityNoLoss;
      out.push({
        target: 'density (no agent lost) of agentcgroup >= 2x per-agent peak limits',
        met: reached ? true : dSum.censored ? undefined : false,
        measured: `${dSum.variant.key} ${dSum.densityNoLoss}${plus}, ${peak.variant.key} ${peak.densityNoLoss} (${peak.densityNoLoss > 0 ? x(dSum.densityNoLoss / peak.densityNoLoss) : '—'}${dSum.censored ? ' or more' : ''}); ${peak.variant.key} counting survival alone, overcommitting its budget: ${peak.densitySurvivalOnly}`,
      });
    }
    if (pool) {
      const above = dSum.densityNoLoss > pool.densityNoLoss;
      out.push({
        target: `density (no agent lost) of agentcgroup above the pool${pool.variant.oomGroup ? ' as kubelet runs it (oom.group)' : ''}`,
        met: above ? true : dSum.censored && pool.censored ? undefined : false,
        measured: `${dSum.variant.key} ${dSum.densityNoLoss}${plus}, ${pool.variant.key} ${pool.densityNoLoss}${pool.censored ? '+' : ''}`,
      });
    }
  }
  // Up to its density, or its first count when even that lost an agent.
  const dAll = dSum ? all.filter((r) => r.variant.key === dSum.variant.key) : [];
  const upTo = Math.max(dSum?.densityNoLoss ?? 0, Math.min(...dAll.map((r) => r.agents)));
  const dRows = dAll.filter((r) => r.agents <= upTo);
  if (dRows.length > 0) {
    const worst = dRows.reduce((w, r) => (r.vsAlone.p95 > w.vsAlone.p95 ? r : w));
    const vsA = dRows.filter((r) => r.vsA).map((r) => `${r.agents}: ${x(r.vsA!.p95)}`);
    out.push({
      target: 'p95 tool-call slowdown of agentcgroup <= 1.10x (up to its density)',
      met: dRows.every((r) => r.vsAlone.p95 <= 1.1),
      measured: `vs each agent alone: ${dRows.map((r) => `${r.agents} agents ${x(r.vsAlone.p95)}`).join(', ')} (worst ${x(worst.vsAlone.p95)}); vs (a) with as many agents: ${vsA.join(', ') || '—'}`,
    });
  }
  // Priorities decide only who gives way under contention: judged where the ladder acted (froze or
  // killed) in either run; elsewhere the classes differ by noise alone.
  const acted = (v: Variant, n: number) => {
    const l = all.find((r) => r.variant.key === v.key && r.agents === n)?.ladder;
    return !!l && l.freezes + l.kills > 0;
  };
  const prio = priorityRows(res);
  if (prio.length > 0) {
    const contended = prio.filter((p) => acted(p.without, p.agents) || acted(p.with, p.agents));
    const ratio = (c: 'high' | 'low') => contended.map((p) => p[c].with.p95 / p[c].without.p95).filter(Number.isFinite);
    const avg = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    const high = ratio('high');
    const low = ratio('low');
    out.push({
      target: `the priority mix shortens high-priority calls' p95 under contention (paper: ${PAPER_PRIORITIES})`,
      met: high.length === 0 ? undefined : avg(high) < 1,
      measured:
        contended.length === 0
          ? `the ladder acted at none of the counts both ran (${prio.map((p) => p.agents).join(', ')}): nothing to give way`
          : `high p95 ${change(1, avg(high))}, low p95 ${low.length ? change(1, avg(low)) : '—'} (mean over the ${contended.length} counts where the ladder acted: ${contended.map((p) => `${p.with.key} ${p.agents}`).join(', ')})`,
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
    const p = dRuns.reduce((a, r) => ({ calls: a.calls + (r.placed?.calls ?? 0), held: a.held + (r.placed?.heldAtExec ?? 0), burst: a.burst + (r.placed?.burst ?? 0), whole: a.whole + (r.placed?.burstWhole ?? 0) }), { calls: 0, held: 0, burst: 0, whole: 0 });
    out.push({
      target: 'calls that allocate at once are charged to their own cgroup (held at exec until placed)',
      met: p.burst === 0 ? undefined : p.whole === p.burst,
      measured: `${p.whole} of ${p.burst} burst calls' own memory.peak saw >= 90% of their planned peak; ${p.held} of ${p.calls} calls held at exec`,
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

function seedSection(res: BenchResult, level: string): string[] {
  return [
    `${level} Agents (inputs, from the traces, scaled)`,
    '',
    inputsTable(res),
    '',
    `${level} Runs (measured: exit codes, memory.peak and memory.current from the kernel, wall clock)`,
    '',
    runsTable(res),
    '',
    `Search: ${res.searchEnd}.`,
    '',
    `${level} Per mode`,
    '',
    summaryTable(res),
    '',
    ...(priorityRows(res).length > 0 ? [`${level} Priorities (p50 / p95 tool-call time ×alone, even agents high, odd low)`, '', priorityTable(res), ''] : []),
    ...(reclaimRows(res).length > 0 ? [`${level} Reclaim rung vs plain freeze (swap: ${res.swap ?? 'not recorded'})`, '', reclaimTable(res), ''] : []),
    `${level} Targets`,
    '',
    verdictTable(res),
    '',
  ];
}

const header = (res: BenchResult, seeds: string): string =>
  `Kernel ${res.kernel}; ${seeds}; memory scaled /${res.memoryDiv} (trace MB -> MiB / ${res.memoryDiv}), time scaled /${res.timeDiv}; ` +
  `budget ${mib(res.budgetBytes)} MiB for every run (a cgroup with memory.max above the agents); agent counts ${res.agentCounts.join(', ')}, then on until every mode stopped; calls' memory shape: ${res.shape}.` +
  (res.swap ? ` Swap: ${res.swap}.` : '');

export function markdown(res: BenchResult): string {
  const parts = ['# agentcgroup trace replay', '', `${header(res, `seed ${res.seed}`)} ${res.elapsedS.toFixed(0)} s.`, '', `Agents' init: ${res.init}.`, '', ...seedSection(res, '##')];
  if (res.overheads) parts.push('## Overheads (medians, single binary dist/agentcgroup)', '', overheadTable(res.overheads), '', `Command: ${res.overheads.command}`, '');
  parts.push('## Notes', '', ...res.notes.map((n) => `- ${n}`), '');
  return parts.join('\n');
}

/** min / median / max, or the one value when they are all the same. */
function spreadOf(values: readonly number[], fmt: (v: number) => string): string {
  const v = values.filter(Number.isFinite);
  if (v.length === 0) return '—';
  if (Math.min(...v) === Math.max(...v)) return fmt(v[0]!);
  return `${fmt(Math.min(...v))} / ${fmt(quantile(v, 0.5))} / ${fmt(Math.max(...v))}`;
}

/** One row per mode across seeds: each density and what was lost there, min / median / max. */
export function spreadTable(set: readonly BenchResult[]): string {
  const keys = [...new Set(set.flatMap((r) => r.variants))];
  return table(
    ['mode', 'density: no agent lost', 'density: every agent whole', 'agents lost (all runs)', 'p95 ×alone at density', 'waste at density'],
    keys.map((k) => {
      const per = set.map((r) => summaries(r).find((s) => s.variant.key === k)).filter((s): s is ModeSummary => s !== undefined);
      const lostAll = set.map((r) => rows(r).filter((w) => w.variant.key === k).reduce((n, w) => n + w.agentsLost, 0));
      const whole = (v: number) => String(Math.round(v));
      return [
        variantName(parseVariant(k)),
        `${spreadOf(per.map((s) => s.densityNoLoss), whole)}${per.some((s) => s.censored) ? ' (+: none lost up to the largest count in some seed)' : ''}`,
        spreadOf(per.map((s) => s.density), whole),
        spreadOf(lostAll, whole),
        spreadOf(per.map((s) => s.at?.vsAlone.p95 ?? NaN), x),
        spreadOf(per.map((s) => s.at?.waste ?? NaN), pct),
      ];
    }),
  );
}

/** Each target, met in how many seeds, and what each seed measured. */
export function seedVerdictTable(set: readonly BenchResult[]): string {
  const per = set.map((r) => ({ seed: r.seed, v: verdicts(r) }));
  const targets = [...new Set(per.flatMap((p) => p.v.map((v) => v.target)))];
  return table(
    ['target', 'met in seeds', 'measured'],
    targets.map((t) => {
      const got = per.map((p) => ({ seed: p.seed, v: p.v.find((v) => v.target === t) })).filter((g) => g.v !== undefined);
      const judgedN = got.filter((g) => g.v!.met !== undefined);
      return [t, judgedN.length === 0 ? 'n/a' : `${judgedN.filter((g) => g.v!.met).length} of ${judgedN.length}`, got.map((g) => `seed ${g.seed}: ${g.v!.measured}`).join('<br>')];
    }),
  );
}

/** Several seeds: the spread first, then each seed as a one-seed report would show it. */
export function setMarkdown(set: readonly BenchResult[], overheads: Overheads | undefined, elapsedS: number): string {
  const first = set[0];
  if (!first) return '# agentcgroup trace replay\n\nNo replay ran.\n';
  const parts = [
    '# agentcgroup trace replay',
    '',
    `${header(first, `seeds ${set.map((r) => r.seed).join(', ')} (each picks its own agents and runs the whole search)`)} ${elapsedS.toFixed(0)} s.`,
    '',
    `Agents' init: ${first.init}.`,
    '',
    '## Across seeds (min / median / max)',
    '',
    spreadTable(set),
    '',
    seedVerdictTable(set),
    '',
  ];
  for (const r of set) parts.push(`## Seed ${r.seed}`, '', ...seedSection(r, '###'));
  if (overheads) parts.push('## Overheads (medians, single binary dist/agentcgroup)', '', overheadTable(overheads), '', `Command: ${overheads.command}`, '');
  parts.push('## Notes', '', ...first.notes.map((n) => `- ${n}`), '');
  return parts.join('\n');
}
