/**
 * The chaos verdict (pure): what a run left behind, from observations made after every container was
 * deleted and the daemon stopped. Anything of ours still there is a leak.
 */
import { SCHED_OPS_NAME as SCHED_OPS } from '../../src/bpf/schedext.js';

export interface BpfObject {
  id: number;
  /** The program's or map's name; for a link, its program's id. */
  name: string;
}

export interface BpfIds {
  prog: BpfObject[];
  link: BpfObject[];
  map: BpfObject[];
}

export interface Observation {
  /** Cgroups (relative to the cgroup2 root) before the run and now. */
  cgroupsBefore: string[];
  cgroupsNow: string[];
  /** Cgroups whose cgroup.freeze is 1. */
  frozen: string[];
  bpfBefore: BpfIds;
  bpfNow: BpfIds;
  /** Files under the BPF filesystem before and now (pinned programs and maps). */
  pinnedBefore: string[];
  pinnedNow: string[];
  /** Paths under the run dir, relative to it; directories end with `/`. */
  runDir: string[];
  /** Tool calls seen to begin (a running-call marker appeared): container and call id. */
  callsBegun: { container: string; call: string }[];
  /** Every call record in the call logs. */
  records: { container: string; id: string }[];
  /** Command lines of processes of ours still alive. */
  processes: string[];
  /**
   * /sys/kernel/sched_ext before the run and after the daemon stopped; absent on a kernel without
   * sched_ext (nothing to compare).
   */
  schedExtBefore?: SchedExtView;
  schedExtNow?: SchedExtView;
}

/** What /sys/kernel/sched_ext says: `state` (enabled, disabled...) and root/ops, the running BPF scheduler's name. */
export interface SchedExtView {
  state: string;
  /** Empty when no BPF scheduler runs. */
  ops: string;
}

/** The ops.name agentcgroup's scheduler registers as. */
export { SCHED_OPS };

export type LeakKind = 'cgroup' | 'frozen' | 'bpf' | 'pinned' | 'run-state' | 'call-record-missing' | 'call-record-duplicate' | 'process' | 'sched-ext';

export interface Leak {
  kind: LeakKind;
  what: string;
  /** Call-record leaks: the call, which the driver explains from what it kept (detail). */
  call?: { container: string; call: string };
  /** What the marker watch, the daemons' restarts and the run's logs show of that call (callEvidence). */
  detail?: string[];
}

/** Host-wide, not per container: the "daemon not running" notice, said once. */
const RUN_DIR_ALLOWED = new Set(['containers/', 'calls/', 'sock/', 'daemon-absent-warned']);

export function findLeaks(o: Observation): Leak[] {
  const leaks: Leak[] = [];
  const before = new Set(o.cgroupsBefore);
  for (const cg of o.cgroupsNow) if (!before.has(cg)) leaks.push({ kind: 'cgroup', what: cg });
  for (const cg of o.frozen) leaks.push({ kind: 'frozen', what: cg });
  for (const type of ['prog', 'link', 'map'] as const) {
    const had = new Set(o.bpfBefore[type].map((b) => b.id));
    for (const b of o.bpfNow[type]) if (!had.has(b.id)) leaks.push({ kind: 'bpf', what: `${type} ${b.id} ${b.name}` });
  }
  const pinned = new Set(o.pinnedBefore);
  for (const p of o.pinnedNow) if (!pinned.has(p)) leaks.push({ kind: 'pinned', what: p });
  for (const p of o.runDir) if (!RUN_DIR_ALLOWED.has(p)) leaks.push({ kind: 'run-state', what: p });
  const logged = new Map<string, number>();
  for (const r of o.records) logged.set(`${r.container}/${r.id}`, (logged.get(`${r.container}/${r.id}`) ?? 0) + 1);
  const begun = new Map(o.callsBegun.map((c) => [`${c.container}/${c.call}`, c]));
  for (const [key, c] of begun) {
    const n = logged.get(key) ?? 0;
    const call = { container: c.container, call: c.call };
    if (n === 0) leaks.push({ kind: 'call-record-missing', what: key, call });
    if (n > 1) leaks.push({ kind: 'call-record-duplicate', what: `${key} (${n} records)`, call });
  }
  for (const p of o.processes) leaks.push({ kind: 'process', what: p });
  // A BPF scheduler still the system's once the daemon stopped: ours always is a leak, another one only
  // if it was not there before the run (an admin's own scheduler is none of ours).
  const now = o.schedExtNow;
  if (now !== undefined && now.state !== 'disabled') {
    const before = o.schedExtBefore;
    if (now.ops === SCHED_OPS || before === undefined || before.state !== now.state || before.ops !== now.ops) {
      leaks.push({ kind: 'sched-ext', what: `/sys/kernel/sched_ext/state ${now.state}${now.ops === '' ? '' : `, ops ${now.ops}`}` });
    }
  }
  return leaks;
}

/** The chaos scenarios' leak checks: the kinds each check covers, and what it says when none is found. */
export const LEAK_CHECKS: readonly (readonly [readonly LeakKind[], string])[] = [
  [['cgroup'], 'no cgroup of ours or of the containers is left'],
  [['frozen'], 'no cgroup is left frozen'],
  [['bpf', 'pinned'], 'no BPF program, link or map is left once the daemon stopped, and nothing is pinned'],
  [['run-state'], 'no record, call marker or socket of a dead container is left in the run dir'],
  [['call-record-missing', 'call-record-duplicate'], 'every call that began has exactly one record'],
  [['process'], 'no hook, runtime or call process of ours is left'],
  [['sched-ext'], 'no sched_ext scheduler of ours is left once the daemon stopped (state disabled)'],
];

/** `cgroup 2, run-state 1` or `none`. */
export function countByKind(leaks: readonly Leak[]): string {
  const counts = new Map<string, number>();
  for (const l of leaks) counts.set(l.kind, (counts.get(l.kind) ?? 0) + 1);
  return counts.size === 0 ? 'none' : [...counts].map(([k, n]) => `${k} ${n}`).join(', ');
}

/**
 * A running-call marker's file name gives the call id; anything else gives nothing. Not its temporary
 * (`.<call>.json.<16 hex digits>.tmp`, sys/atomicfile.ts): a write under way is no call begun, and one
 * whose writer was killed before the rename never becomes one (a restarted daemon begins that
 * process's call afresh, under a new id). Call ids never start with a dot (oci/ids.ts safeName).
 */
export function callIdOfMarker(name: string): string | undefined {
  return /^([a-z0-9_][a-z0-9_.-]*)\.json$/.exec(name)?.[1];
}

/** A log the chaos run kept: its file name (daemon-1.log, chaos-7-14.log) and its text. */
export interface LogText {
  name: string;
  text: string;
}

/** At most this many log lines explain a call-record leak. */
export const EVIDENCE_LINES = 20;
const EVIDENCE_WIDTH = 300;

/**
 * What the run's logs say of a call that has no record, or two, each line with its log's name: first
 * every line that names the call, then the lines of the daemons' and the other containers' logs that
 * name its container (a hook's sweep of ended containers prints in the log of the container whose
 * poststop ran it), then the container's own log (its runtime commands, with their times). At most
 * `limit` lines in all. A call a teardown removed unlogged leaves no line of its own: what happened
 * to its container around then is the clue.
 */
export function callEvidence(container: string, call: string, logs: readonly LogText[], limit = EVIDENCE_LINES): string[] {
  const escaped = container.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  // chaos-7-1 is not chaos-7-14: no id character may go on either side.
  const namesContainer = new RegExp(`(?<![\\w.-])${escaped}(?![\\w-])`);
  const own = `${container}.log`;
  const picks: ((log: LogText, line: string) => boolean)[] = [
    (_, line) => line.includes(call),
    (log, line) => log.name !== own && namesContainer.test(line),
    (log) => log.name === own,
  ];
  const out: string[] = [];
  const taken = new Set<string>();
  for (const pick of picks) {
    for (const log of logs) {
      for (const line of log.text.split('\n')) {
        if (out.length >= limit) return out;
        const key = `${log.name}\0${line}`;
        if (line.trim() === '' || taken.has(key) || !pick(log, line)) continue;
        taken.add(key);
        out.push(`${log.name}: ${line.length > EVIDENCE_WIDTH ? `${line.slice(0, EVIDENCE_WIDTH)}...` : line}`);
      }
    }
  }
  return out;
}

/**
 * What runtimes and hooks printed, folded by shape (numbers, ids and paths blanked), most frequent
 * first: a hook that failed open or a runtime that could not remove a cgroup shows here.
 */
export function tallyMessages(lines: readonly string[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const line of lines) {
    const shape = line
      .replace(/^time="[^"]*" /, '')
      .replace(/\/[\w./-]+/g, 'PATH')
      .replace(/\b[a-z]+-[0-9a-z]{6,}-[0-9a-f]{6}\b/g, 'CALL')
      .replace(/\d+(\.\d+)?/g, 'N')
      .trim();
    if (shape !== '') counts.set(shape, (counts.get(shape) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]);
}
