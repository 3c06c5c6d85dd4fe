/** Snapshot -> the lines of one `agentcgroup top` frame. Pure: no terminal, no clock of its own. */
import type { Bytes } from '../limits.js';
import type { MemoryStatus } from '../cgroup/stats.js';
import { formatBytes } from '../config/size.js';
import { oneLine } from '../text.js';
import type { LineageView } from '../policy/lineage.js';
import type { CallState, Counters, DaemonSnapshot } from './snapshot.js';

interface Row {
  name: string;
  state: CallState | '';
  memory: MemoryStatus;
  counters: Counters | undefined;
}

const NAME_WIDTH = 40;

const bytes = (b: Bytes | null) => (b === null ? '-' : formatBytes(b));

const COLUMNS: { head: string; left?: boolean; cell: (r: Row) => string }[] = [
  { head: 'CONTAINER / CALL', left: true, cell: (r) => r.name },
  { head: 'STATE', left: true, cell: (r) => r.state },
  { head: 'CURRENT', cell: (r) => bytes(r.memory.current) },
  { head: 'HIGH', cell: (r) => bytes(r.memory.high) },
  { head: 'MAX', cell: (r) => bytes(r.memory.max) },
  { head: 'PEAK', cell: (r) => bytes(r.memory.peak) },
  { head: 'PSI some/full', cell: (r) => `${r.memory.pressure.some.avg10.toFixed(1)}/${r.memory.pressure.full.avg10.toFixed(1)}` },
  { head: 'THROTTLED', cell: (r) => String(r.memory.events.high ?? 0) },
  { head: 'OOM-KILLED', cell: (r) => String(r.memory.events.oom_kill ?? 0) },
  { head: 'FROZE/THAWED/RAISED/KILLED', left: true, cell: (r) => (r.counters ? `${r.counters.freezes}/${r.counters.thaws}/${r.counters.raises}/${r.counters.kills}` : '') },
];

function fit(s: string, width: number): string {
  return s.length <= width ? s : `${s.slice(0, width - 1)}…`;
}

/**
 * What the daemon took for the framework, so a wrong guess shows: `python3[12] < tini[1]`, and the
 * sessions whose commands are calls: `+ bash[40]`.
 */
export function describeFramework(framework: readonly LineageView[]): string {
  const named = (role: LineageView['role']) => framework.filter((f) => f.role === role).map((f) => `${oneLine(f.name)}[${f.pid}]`);
  const fw = named('framework');
  const under = named('launcher');
  const sessions = named('session');
  return [fw.length ? fw.join(' ') : '?', ...(under.length ? [`< ${under.join(' ')}`] : []), ...(sessions.length ? [`+ ${sessions.join(' ')}`] : [])].join(' ');
}

/**
 * `tracker on`, `tracker off`, and once the shared ring overflowed `tracker on (75 events lost, 2
 * rescans)`: tool calls may have run unplaced until a rescan found them, which an operator should see.
 */
export function describeTracker(snap: Pick<DaemonSnapshot, 'tracker' | 'trackerCounts'>): string {
  const c = snap.trackerCounts;
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const lost = snap.tracker && c && c.eventsDropped > 0 ? ` (${count(c.eventsDropped, 'event')} lost, ${count(c.rescans, 'rescan')})` : '';
  return `tracker ${snap.tracker ? 'on' : 'off'}${lost}`;
}

/** `NRI connected ("containerd" "v2.1.9")`, `NRI waiting (...)`, `NRI off (...)`; nothing from a daemon without the link. */
export function describeNri(snap: Pick<DaemonSnapshot, 'nri'>): string | undefined {
  if (!snap.nri) return undefined;
  return `NRI ${snap.nri.state}${snap.nri.detail ? ` (${oneLine(snap.nri.detail, 160)})` : ''}`;
}

/**
 * `sched_ext running (agentcgroup: …; 4 cgroups classed)`, `sched_ext unavailable (why)`, `sched_ext
 * ejected (the kernel's reason)`; nothing while it is off or from a daemon without it: a host that
 * never asked for it sees no line about it.
 */
export function describeScheduler(snap: Pick<DaemonSnapshot, 'scheduler'>): string | undefined {
  const s = snap.scheduler;
  if (!s || s.state === 'off') return undefined;
  const classed = s.state === 'running' ? `; ${s.classes} cgroup${s.classes === 1 ? '' : 's'} classed` : '';
  return `sched_ext ${s.state} (${oneLine(s.detail, 200)}${classed})`;
}

/**
 * One line per container running uncarved, its hook or the runtime shim having failed open:
 * `UNCARVED abc123 (createRuntime, 10:00:01): <reason>`. Ids and reasons are escaped: they may hold
 * what a container chose.
 */
export function describeUncarved(snap: Pick<DaemonSnapshot, 'uncarved'>): string[] {
  return (snap.uncarved ?? []).map((u) => `UNCARVED ${oneLine(u.id, 64)} (${u.stage}, ${u.at.replace(/^.*T(\d\d:\d\d:\d\d).*$/, '$1')}): ${oneLine(u.reason, 200)}`);
}

function rows(snap: DaemonSnapshot): Row[] {
  return snap.containers.flatMap((c) => [
    { name: fit(oneLine(c.id), NAME_WIDTH), state: c.state, memory: c.memory, counters: c.counters },
    ...(c.agent ? [{ name: fit(`  agent ${c.framework.length ? describeFramework(c.framework) : ''}`.trimEnd(), NAME_WIDTH), state: '' as const, memory: c.agent, counters: undefined }] : []),
    ...c.calls.map((k) => ({ name: fit(`  ${oneLine(k.id)}`, NAME_WIDTH), state: k.state, memory: k.memory, counters: k.counters })),
  ]);
}

export interface FrameOptions {
  /** Terminal size: lines are cut to `columns`, the frame to `rows` (undefined: no limit). */
  columns?: number;
  rows?: number;
  /** Shown in the title, e.g. "every 1s, Ctrl-C quits". */
  note?: string;
}

export function renderTop(snap: DaemonSnapshot, opts: FrameOptions = {}): string[] {
  const time = snap.at.replace(/^.*T(\d\d:\d\d:\d\d).*$/, '$1');
  const title = [
    `agentcgroup top  ${time}`,
    describeTracker(snap),
    ...(snap.scheduler && snap.scheduler.state !== 'off' ? [`sched_ext ${snap.scheduler.state}`] : []),
    `${snap.containers.length} container(s), ${snap.calls} tool call(s)`,
    ...(snap.uncarved?.length ? [`${snap.uncarved.length} UNCARVED`] : []),
    ...(opts.note ? [opts.note] : []),
  ].join('  ');
  const table = rows(snap);
  const cells = [COLUMNS.map((c) => c.head), ...table.map((r) => COLUMNS.map((c) => c.cell(r)))];
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  const lines = [
    title,
    '',
    ...cells.map((row) => row.map((cell, i) => (COLUMNS[i]!.left ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd()),
  ];
  if (table.length === 0) lines.push('(no carved containers)');
  const uncarved = describeUncarved(snap);
  if (uncarved.length) lines.push('', ...uncarved);
  const cut = opts.rows !== undefined && lines.length > opts.rows ? [...lines.slice(0, Math.max(1, opts.rows - 1)), `… ${lines.length - Math.max(1, opts.rows - 1)} more line(s)`] : lines;
  return opts.columns === undefined ? cut : cut.map((l) => (l.length > opts.columns! ? l.slice(0, opts.columns) : l));
}
