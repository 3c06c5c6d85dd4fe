import type { Cgroupfs } from '../cgroup/cgroupfs.js';
import { type MemoryStatus, readMemoryStatus } from '../cgroup/stats.js';
import { AGENT_LEAF, TOOLS_PARENT } from '../layout.js';
import type { RunningCall } from '../state/records.js';
import type { Watched } from '../state/watched.js';
import type { LineageView } from '../policy/lineage.js';
import type { CallSnapshot, ContainerSnapshot, Counters, DaemonSnapshot, NriStatus, SchedulerStatus, TrackerCounts, UncarvedView } from './snapshot.js';
import type { ToolSummary } from './toolstats.js';
import { RiseWatch, stateOf } from './state.js';

/** What the daemon knows besides the cgroups themselves. */
export interface SnapshotSources {
  containers: readonly Watched[];
  /** Markers of running calls: their names, owners and start times. */
  runningCalls(container: string): RunningCall[];
  counters: { container(id: string): Counters; call(key: string): Counters };
  /** The supervisor's view of `<container>/<call-id>`. */
  isStalled(key: string): boolean;
  /** What the tracker took for the container's framework, launchers and sessions. */
  roles(c: Watched): LineageView[];
  tracker: boolean;
  /** The tracker's ring counts (TrackerPump.counts); left out while the daemon does not count. */
  trackerCounts?: () => TrackerCounts;
  /** The NRI link's state. */
  nri?: () => NriStatus;
  /** Calls that ended, per tool name. */
  tools?: (container: string) => ToolSummary[];
  /** Containers running uncarved (state/uncarved.ts). */
  uncarved?: () => UncarvedView[];
  /** The sched_ext scheduler's state (daemon/scheduler.ts). */
  scheduler?: () => SchedulerStatus;
}

/** A call id is `<name>-<time>-<random>` (newCallId): its name, when no marker says better. */
const nameFromId = (id: string) => id.replace(/-[0-9a-z]+-[0-9a-f]{6}$/, '');

/**
 * Reads, on request, what `status`, `top` and the metrics show: the daemon keeps no poller, so the
 * cgroup files are read here, when someone asks. A cgroup that vanishes meanwhile (a call ending) is
 * left out, not an error.
 */
export class SnapshotCollector {
  private readonly rises = new RiseWatch();

  collect(src: SnapshotSources, now: Date): DaemonSnapshot {
    const seen = new Set<string>();
    const look = (fs: Cgroupfs, cg: string): MemoryStatus | undefined => {
      try {
        const m = readMemoryStatus(fs, cg);
        seen.add(fs.path(cg));
        return m;
      } catch {
        return undefined;
      }
    };
    const rising = (fs: Cgroupfs, cg: string, m: MemoryStatus) => this.rises.rising(fs.path(cg), m.events.high ?? 0, now.getTime());
    const containers: ContainerSnapshot[] = [];
    for (const c of [...src.containers].sort((a, b) => a.record.id.localeCompare(b.record.id))) {
      const id = c.record.id;
      const C = c.record.cgroup;
      const memory = look(c.fs, C);
      if (!memory) continue;
      const markers = new Map(src.runningCalls(id).map((r) => [r.callId, r]));
      const tools = `${C}/${TOOLS_PARENT}`;
      const calls: CallSnapshot[] = [];
      for (const callId of (c.fs.exists(tools) ? c.fs.children(tools) : []).sort()) {
        const cg = `${tools}/${callId}`;
        const m = look(c.fs, cg);
        if (!m) continue;
        const key = `${id}/${callId}`;
        const marker = markers.get(callId);
        const stalled = src.isStalled(key);
        calls.push({
          id: callId,
          name: marker?.name ?? nameFromId(callId),
          owner: marker?.owner ?? null,
          start: marker?.start ?? null,
          state: stateOf(m, { stalled, highRising: rising(c.fs, cg, m) }),
          stalled,
          memory: m,
          counters: src.counters.call(key),
        });
      }
      containers.push({
        id,
        cgroup: C,
        priority: c.record.priority,
        state: stateOf(memory, { stalled: false, highRising: rising(c.fs, C, memory) }),
        memory,
        agent: look(c.fs, `${C}/${AGENT_LEAF}`) ?? null,
        framework: src.roles(c),
        counters: src.counters.container(id),
        calls,
        ...(src.tools ? { tools: src.tools(id) } : {}),
      });
    }
    this.rises.retain(seen);
    return {
      containers,
      calls: containers.reduce((n, c) => n + c.calls.length, 0),
      tracker: src.tracker,
      trackerCounts: src.tracker && src.trackerCounts ? src.trackerCounts() : null,
      at: now.toISOString(),
      ...(src.nri ? { nri: src.nri() } : {}),
      ...(src.uncarved ? { uncarved: src.uncarved() } : {}),
      ...(src.scheduler ? { scheduler: src.scheduler() } : {}),
    };
  }
}
