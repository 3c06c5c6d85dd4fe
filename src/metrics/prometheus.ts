/**
 * Snapshot -> Prometheus text exposition format 0.0.4. Pure. Every metric is prefixed agentcgroup_,
 * counters end in _total, bytes and seconds are base units, and label values (container ids and
 * tool-call names are untrusted) are escaped as the format requires. A container is `container_id`,
 * never `container` (the label Prometheus operators and kube-state-metrics use for the target's own
 * container: ours would come out as `exported_container`). No series per tool call: calls are
 * counted per container and tool name (at most MAX_TOOLS names a container, the rest as `other`);
 * the calls running now, each by id, are in `status` and `top`.
 */
import type { Bytes } from '../limits.js';
import type { MemoryStatus } from '../cgroup/stats.js';
import { COMMIT, VERSION } from '../version.js';
import { CALL_STATES, type CallState, type ContainerSnapshot, type Counters, type DaemonSnapshot, SCHED_CLASS_NAMES, type TrackerCounts } from './snapshot.js';
import { DURATION_BUCKETS, type Histogram, OUTCOMES, PEAK_BUCKETS, type ToolSummary, foldTool } from './toolstats.js';

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Labels = [name: string, value: string][];
type Sample = [extra: Labels, value: number];

interface Spec<T> {
  /** After `agentcgroup_<scope>_`. */
  name: string;
  type: 'gauge' | 'counter';
  help: string;
  samples: (x: T) => Sample[];
}

/** Inside a label value: backslash, double quote and line feed are escaped; nothing else may be. */
export function escapeLabelValue(v: string): string {
  return v.replace(/[\\"\n]/g, (ch) => (ch === '\n' ? '\\n' : `\\${ch}`));
}

/** Inside HELP: backslash and line feed. */
export function escapeHelp(v: string): string {
  return v.replace(/[\\\n]/g, (ch) => (ch === '\n' ? '\\n' : '\\\\'));
}

export function formatValue(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

const one = (v: number): Sample[] => [[[], v]];
const limit = (b: Bytes) => one(b === 'max' ? Infinity : b);
/** As node_exporter's node_pressure_* and cAdvisor's container_pressure_*: some is waiting, full is stalled. */
const PSI = [
  ['some', 'waiting', 'some tasks'],
  ['full', 'stalled', 'all non-idle tasks'],
] as const;

const MEMORY: Spec<MemoryStatus>[] = [
  { name: 'memory_current_bytes', type: 'gauge', help: 'memory.current', samples: (m) => one(m.current) },
  { name: 'memory_high_bytes', type: 'gauge', help: 'memory.high (+Inf: max)', samples: (m) => limit(m.high) },
  { name: 'memory_max_bytes', type: 'gauge', help: 'memory.max (+Inf: max)', samples: (m) => limit(m.max) },
  { name: 'memory_peak_bytes', type: 'gauge', help: 'memory.peak (kernel 5.19+)', samples: (m) => (m.peak === null ? [] : one(m.peak)) },
  {
    name: 'memory_events_total',
    type: 'counter',
    help: 'memory.events by event: high (throttled), max, oom, oom_kill, ...',
    samples: (m) => Object.entries(m.events).map(([event, v]): Sample => [[['event', event]], v]),
  },
  ...PSI.flatMap(([kind, word, who]): Spec<MemoryStatus>[] => [
    { name: `pressure_memory_${word}_seconds_total`, type: 'counter', help: `memory.pressure ${kind} total: time ${who} waited for memory`, samples: (m) => one(m.pressure[kind].totalUs / 1e6) },
    { name: `pressure_memory_${word}_avg10_ratio`, type: 'gauge', help: `memory.pressure ${kind} avg10, as a ratio: share of the last 10 s ${who} waited for memory`, samples: (m) => one(m.pressure[kind].avg10 / 100) },
  ]),
  { name: 'frozen', type: 'gauge', help: '1 while frozen (cgroup.events frozen)', samples: (m) => one(m.frozen ? 1 : 0) },
];

const COUNTERS: Spec<Counters>[] = [
  { name: 'freezes_total', type: 'counter', help: 'tool calls frozen by the graduated response', samples: (c) => one(c.freezes) },
  { name: 'thaws_total', type: 'counter', help: 'tool calls thawed by the graduated response', samples: (c) => one(c.thaws) },
  { name: 'memory_high_raises_total', type: 'counter', help: 'memory.high raised for a call that made no progress', samples: (c) => one(c.raises) },
  { name: 'kills_total', type: 'counter', help: 'tool calls killed by the graduated response (not by the kernel OOM killer)', samples: (c) => one(c.kills) },
  { name: 'frozen_seconds_total', type: 'counter', help: 'time tool calls stood frozen by the graduated response, counted as each freeze ends', samples: (c) => one(c.frozenMs / 1000) },
  { name: 'reclaims_total', type: 'counter', help: 'memory.reclaim steps asked of frozen tool calls by the graduated response', samples: (c) => one(c.reclaims) },
  { name: 'reclaimed_bytes_total', type: 'counter', help: 'memory frozen tool calls gave back to reclaim (their memory.current before minus after)', samples: (c) => one(c.reclaimedBytes) },
  { name: 'stalls_total', type: 'counter', help: 'stalls at memory.high without progress that began', samples: (c) => one(c.stalls) },
  { name: 'stalls_resolved_total', type: 'counter', help: 'stalls that ended with the call running on', samples: (c) => one(c.stallsResolved) },
];

const TRACKER: Spec<TrackerCounts>[] = [
  { name: 'events_total', type: 'counter', help: 'fork, exec and exit events handled', samples: (c) => one(c.events) },
  {
    name: 'events_dropped_total',
    type: 'counter',
    help: 'events lost because the ring buffer all containers share was full (a fork/exec storm); the agent leaves are rescanned after a loss',
    samples: (c) => one(c.eventsDropped),
  },
  { name: 'drain_batches_total', type: 'counter', help: 'bounded passes over the ring buffer, with the event loop free between them', samples: (c) => one(c.batches) },
  { name: 'rescans_total', type: 'counter', help: 'rescans of every agent leaf, made for lost events', samples: (c) => one(c.rescans) },
];

interface Row<T> {
  labels: Labels;
  subject: T;
}

class Exposition {
  private readonly lines: string[] = [];

  family<T>(name: string, type: Spec<T>['type'], help: string, rows: readonly Row<T>[], samples: Spec<T>['samples']): void {
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    for (const row of rows) {
      for (const [extra, value] of samples(row.subject)) this.sample(name, [...row.labels, ...extra], value);
    }
  }

  /** Buckets cumulative, as the format has them; `le` after the row's labels. */
  histogram<T>(name: string, help: string, bounds: readonly number[], rows: readonly Row<T>[], pick: (x: T) => Histogram): void {
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} histogram`);
    for (const row of rows) {
      const h = pick(row.subject);
      let below = 0;
      const le = [...bounds.map(formatValue), '+Inf'];
      h.counts.forEach((n, i) => {
        below += n;
        this.sample(`${name}_bucket`, [...row.labels, ['le', le[i]!]], below);
      });
      this.sample(`${name}_sum`, row.labels, h.sum);
      this.sample(`${name}_count`, row.labels, h.count);
    }
  }

  private sample(name: string, labels: Labels, value: number): void {
    const set = labels.length === 0 ? '' : `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
    this.lines.push(`${name}${set} ${formatValue(value)}`);
  }

  scoped<T>(scope: string, what: string, specs: readonly Spec<T>[], rows: readonly Row<T>[]): void {
    for (const s of specs) this.family(`agentcgroup_${scope}_${s.name}`, s.type, `${s.help}, of ${what}`, rows, s.samples);
  }

  text(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

/** The calls running now, per tool name (folded as toolstats.ts folds) and state. */
function runningByTool(c: ContainerSnapshot): Map<string, Record<CallState, number>> {
  const by = new Map<string, Record<CallState, number>>();
  const known = new Set<string>();
  for (const k of [...c.calls].sort((a, b) => a.name.localeCompare(b.name))) {
    const tool = foldTool(known, k.name);
    if (tool === k.name) known.add(tool);
    const n = by.get(tool) ?? (Object.fromEntries(CALL_STATES.map((s) => [s, 0])) as Record<CallState, number>);
    n[k.state] += 1;
    by.set(tool, n);
  }
  return by;
}

export function renderPrometheus(snap: DaemonSnapshot): string {
  const x = new Exposition();
  const daemon: Row<DaemonSnapshot>[] = [{ labels: [], subject: snap }];
  x.family('agentcgroup_build_info', 'gauge', 'always 1: the version and git commit of the agentcgroup daemon serving these metrics', daemon, () => [[[['version', VERSION], ['commit', COMMIT]], 1]]);
  x.family('agentcgroup_tracker_up', 'gauge', '1 when the eBPF tracker runs (tool calls an agent starts on its own get their cgroup)', daemon, (s) => one(s.tracker ? 1 : 0));
  x.scoped('tracker', 'the eBPF tracker since the daemon opened it', TRACKER, snap.trackerCounts ? [{ labels: [], subject: snap.trackerCounts }] : []);
  x.family('agentcgroup_nri_up', 'gauge', "1 when the daemon is registered as the container runtime's NRI plugin", snap.nri ? daemon : [], (s) => one(s.nri?.state === 'connected' ? 1 : 0));
  const sched = snap.scheduler;
  x.family('agentcgroup_sched_ext_up', 'gauge', "1 while agentcgroup's sched_ext scheduler is the system's scheduler (policy sched_ext.enable)", sched ? daemon : [], () => one(sched?.state === 'running' ? 1 : 0));
  x.family(
    'agentcgroup_sched_ext_run_seconds_total',
    'counter',
    "CPU time run under agentcgroup's sched_ext scheduler since it was loaded, by class (agent: frameworks; toolHigh, tool, toolLow: tool calls by priority; supervisor: the daemon itself; other: the rest of the host)",
    sched?.runSeconds ? daemon : [],
    () => SCHED_CLASS_NAMES.map((c): Sample => [[['class', c]], sched?.runSeconds?.[c] ?? 0]),
  );
  x.family('agentcgroup_containers', 'gauge', 'carved containers the daemon follows', daemon, (s) => one(s.containers.length));
  x.family('agentcgroup_tool_calls', 'gauge', 'tool calls running', daemon, (s) => one(s.calls));
  const uncarved = snap.uncarved ?? [];
  x.family('agentcgroup_containers_uncarved', 'gauge', 'containers running uncarved: their hook or the runtime shim failed open (status and top say why)', snap.uncarved ? daemon : [], () => one(uncarved.length));
  x.family(
    'agentcgroup_uncarved_container_info',
    'gauge',
    'always 1: a container running uncarved, and where it failed open (hook stage, or shim)',
    uncarved.map((u) => ({ labels: [['container_id', u.id], ['stage', u.stage]] as Labels, subject: u })),
    () => one(1),
  );

  const id = (c: ContainerSnapshot): Labels => [['container_id', c.id]];
  const byContainer = (pick: (c: ContainerSnapshot) => MemoryStatus | null): Row<MemoryStatus>[] =>
    snap.containers.flatMap((c) => {
      const m = pick(c);
      return m ? [{ labels: id(c), subject: m }] : [];
    });
  x.scoped('container', "each container's cgroup", MEMORY, byContainer((c) => c.memory));
  x.scoped('container', 'the tool calls of each container', COUNTERS, snap.containers.map((c) => ({ labels: id(c), subject: c.counters })));
  x.scoped('agent', "each container's agent leaf (the framework)", MEMORY, byContainer((c) => c.agent));

  const running = snap.containers.flatMap((c) => [...runningByTool(c)].map(([tool, n]) => ({ labels: [...id(c), ['tool', tool]] as Labels, subject: n })));
  x.family('agentcgroup_tool_calls_running', 'gauge', 'tool calls running, per container, tool name and state (running, throttled, frozen)', running, (n) =>
    CALL_STATES.map((s): Sample => [[['state', s]], n[s]]),
  );
  const tools = snap.containers.flatMap((c) => (c.tools ?? []).map((t) => ({ labels: [...id(c), ['tool', t.tool]] as Labels, subject: t })));
  x.family('agentcgroup_tool_calls_ended_total', 'counter', 'tool calls that ended, per container, tool name and outcome (ok, failed, oom-killed, killed, cut-off, ended)', tools, (t: ToolSummary) =>
    OUTCOMES.map((o): Sample => [[['outcome', o]], t.outcomes[o]]),
  );
  x.histogram('agentcgroup_tool_call_duration_seconds', 'how long tool calls that ended ran, per container and tool name', DURATION_BUCKETS, tools, (t) => t.duration);
  x.histogram('agentcgroup_tool_call_memory_peak_bytes', "memory.peak of tool calls that ended, per container and tool name", PEAK_BUCKETS, tools, (t) => t.peak);
  return x.text();
}
