/**
 * Snapshot -> Prometheus text exposition format 0.0.4. Pure. Every metric is prefixed agentcgroup_,
 * counters end in _total, bytes and seconds are base units, and label values (container ids and
 * tool-call names are untrusted) are escaped as the format requires.
 */
import type { Bytes } from '../limits.js';
import type { MemoryStatus } from '../cgroup/stats.js';
import { CALL_STATES, type CallSnapshot, type ContainerSnapshot, type Counters, type DaemonSnapshot, type TrackerCounts } from './snapshot.js';

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
const PSI_KINDS = ['some', 'full'] as const;

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
  {
    name: 'memory_pressure_avg10_ratio',
    type: 'gauge',
    help: 'memory.pressure avg10, as a ratio: share of the last 10 s some or all tasks stalled on memory',
    samples: (m) => PSI_KINDS.map((k): Sample => [[['kind', k]], m.pressure[k].avg10 / 100]),
  },
  {
    name: 'memory_pressure_stall_seconds_total',
    type: 'counter',
    help: 'memory.pressure total: time some or all tasks stalled on memory',
    samples: (m) => PSI_KINDS.map((k): Sample => [[['kind', k]], m.pressure[k].totalUs / 1e6]),
  },
  { name: 'frozen', type: 'gauge', help: '1 while frozen (cgroup.events frozen)', samples: (m) => one(m.frozen ? 1 : 0) },
];

const COUNTERS: Spec<Counters>[] = [
  { name: 'freezes_total', type: 'counter', help: 'tool calls frozen by the graduated response', samples: (c) => one(c.freezes) },
  { name: 'thaws_total', type: 'counter', help: 'tool calls thawed by the graduated response', samples: (c) => one(c.thaws) },
  { name: 'memory_high_raises_total', type: 'counter', help: 'memory.high raised for a call that made no progress', samples: (c) => one(c.raises) },
  { name: 'kills_total', type: 'counter', help: 'tool calls killed by the graduated response (not by the kernel OOM killer)', samples: (c) => one(c.kills) },
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

const STATE: Spec<CallSnapshot> = {
  name: 'state',
  type: 'gauge',
  help: `1 for the state the call is in: ${CALL_STATES.join(', ')}`,
  samples: (k) => CALL_STATES.map((s): Sample => [[['state', s]], k.state === s ? 1 : 0]),
};

interface Row<T> {
  labels: Labels;
  subject: T;
}

class Exposition {
  private readonly lines: string[] = [];

  family<T>(name: string, type: Spec<T>['type'], help: string, rows: readonly Row<T>[], samples: Spec<T>['samples']): void {
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    for (const row of rows) {
      for (const [extra, value] of samples(row.subject)) {
        const labels = [...row.labels, ...extra];
        const set = labels.length === 0 ? '' : `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
        this.lines.push(`${name}${set} ${formatValue(value)}`);
      }
    }
  }

  scoped<T>(scope: string, what: string, specs: readonly Spec<T>[], rows: readonly Row<T>[]): void {
    for (const s of specs) this.family(`agentcgroup_${scope}_${s.name}`, s.type, `${s.help}, of ${what}`, rows, s.samples);
  }

  text(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

export function renderPrometheus(snap: DaemonSnapshot): string {
  const x = new Exposition();
  const daemon: Row<DaemonSnapshot>[] = [{ labels: [], subject: snap }];
  x.family('agentcgroup_tracker_up', 'gauge', '1 when the eBPF tracker runs (tool calls an agent starts on its own get their cgroup)', daemon, (s) => one(s.tracker ? 1 : 0));
  x.scoped('tracker', 'the eBPF tracker since the daemon opened it', TRACKER, snap.trackerCounts ? [{ labels: [], subject: snap.trackerCounts }] : []);
  x.family('agentcgroup_nri_up', 'gauge', "1 when the daemon is registered as the container runtime's NRI plugin", snap.nri ? daemon : [], (s) => one(s.nri?.state === 'connected' ? 1 : 0));
  x.family('agentcgroup_containers', 'gauge', 'carved containers the daemon follows', daemon, (s) => one(s.containers.length));
  x.family('agentcgroup_tool_calls', 'gauge', 'tool calls running', daemon, (s) => one(s.calls));

  const byContainer = (pick: (c: ContainerSnapshot) => MemoryStatus | null): Row<MemoryStatus>[] =>
    snap.containers.flatMap((c) => {
      const m = pick(c);
      return m ? [{ labels: [['container', c.id]] as Labels, subject: m }] : [];
    });
  const calls = snap.containers.flatMap((c) => c.calls.map((k) => ({ labels: [['container', c.id], ['call', k.id], ['name', k.name]] as Labels, subject: k })));
  x.scoped('container', "each container's cgroup", MEMORY, byContainer((c) => c.memory));
  x.scoped('container', 'the tool calls of each container', COUNTERS, snap.containers.map((c) => ({ labels: [['container', c.id]] as Labels, subject: c.counters })));
  x.scoped('agent', "each container's agent leaf (the framework)", MEMORY, byContainer((c) => c.agent));
  x.scoped('call', "each running tool call's cgroup", MEMORY, calls.map((r) => ({ ...r, subject: r.subject.memory })));
  x.scoped('call', 'each running tool call', [STATE], calls);
  x.scoped('call', 'each running tool call', COUNTERS, calls.map((r) => ({ ...r, subject: r.subject.counters })));
  return x.text();
}
