import { parseLimit } from '../cgroup/stats.js';
import { applySteps } from '../carve/apply.js';
import { type MemoryPair, type Resize, type Session, pairOf, planCallResize, planResize } from '../carve/resize.js';
import { formatBytes } from '../config/size.js';
import { AgentcgroupError, describeError } from '../errors.js';
import { TOOLS_PARENT } from '../layout.js';
import type { Bytes, Limits } from '../limits.js';
import type { ContainerRecord, StateStore } from '../state/records.js';
import type { Watched } from '../state/watched.js';
import type { Log } from './calls.js';
import type { Closable, KernelEvents } from './kernelevents.js';

export interface ResizerDeps {
  events: Pick<KernelEvents, 'watch'>;
  store: Pick<StateStore, 'saveContainer'>;
  /** Host MemTotal: the session of a container without a memory limit. */
  hostMemory(): number;
  log: Log;
}

type Resized = Extract<Resize, { kind: 'resize' }>;

/** A session for the log: the engine's memory.max, and the host's memory where that is what it means. */
function showSession(s: Session): string {
  return s.max !== 'max' && s.max <= s.bytes ? formatBytes(s.max) : `${formatBytes(s.max)} (host ${formatBytes(s.bytes)})`;
}

const showPair = (l: Limits) => `memory.high ${formatBytes(l.memoryHigh)}, memory.max ${formatBytes(l.memoryMax)}`;

/** Pure: the one line a resize is logged with. */
export function resizeLine(id: string, r: Resized, runningCalls: number): string {
  return `container ${id}: memory.max ${showSession(r.from)} -> ${showSession(r.to)}: session memory.high ${formatBytes(r.sessionHigh)}; agent ${showPair(r.agent)}; tool calls ${showPair(r.tool)} (${runningCalls} running call(s) changed)`;
}

/**
 * Makes a container's limits follow its session. The engine may change C's memory.max after the
 * carve (docker update --memory, podman update, an in-place pod resize, NRI UpdateContainer); the
 * policy's percentages are of the session, so C's memory.high, the agent leaf and the tool template
 * are resolved again (carve/resize.ts) and written: the agent leaf and C at once, running calls after
 * them, and the record last, so that a daemon killed half way does it all again (every write is
 * idempotent) and one that restarts after finds the record in step and does nothing. Woken by inotify
 * on C's memory.max (the engine writes it through write(2), which the kernel reports as a change), by
 * the supervisor's looks, which read it anyway, and by a container being followed (a resize while no
 * daemon ran). Writes only below C: its own memory.high, the agent leaf and the calls under tools/.
 * What it reads there is bounded though a container may touch it: cgroupfs files are the kernel's (a
 * container cannot make one long or plant another), each parsed strictly (parseLimit); a session counts
 * at most the host's memory; the calls listed are at most tools/' cgroup.max.descendants.
 */
export class SessionResizer {
  private readonly watches = new Map<string, Closable>();
  /** Per container, C's memory.max last taken up: the supervisor's looks cost one comparison. */
  private readonly settled = new Map<string, Bytes>();
  /** Per container, what was said of a size that could not be followed: said once, not at every look. */
  private readonly said = new Map<string, string>();

  constructor(private readonly d: ResizerDeps) {}

  follow(c: Watched): void {
    const file = c.fs.path(c.record.cgroup, 'memory.max');
    try {
      this.watches.set(c.record.id, this.d.events.watch(file, () => this.check(c)));
    } catch (err) {
      this.d.log.warn(`container ${c.record.id}: cannot watch ${file}, a resize is followed only at the supervisor's next look: ${describeError(err)}`);
    }
    this.check(c);
  }

  unfollow(id: string): void {
    this.watches.get(id)?.close();
    this.watches.delete(id);
    this.settled.delete(id);
    this.said.delete(id);
  }

  /** Follows C's memory.max: `seen` as the supervisor just read it, else read here. */
  check(c: Watched, seen?: Bytes): void {
    const id = c.record.id;
    let max: Bytes;
    try {
      max = seen ?? parseLimit(c.fs.read(c.record.cgroup, 'memory.max'));
    } catch {
      return; // C is going: the registry's sweep sees to the container.
    }
    if (this.settled.get(id) === max) return;
    let r: Resize;
    try {
      r = planResize(c.record, max, this.d.hostMemory());
    } catch (err) {
      this.sayOnce(id, `container ${id}: cannot follow memory.max ${formatBytes(max)}: ${describeError(err)}`);
      return;
    }
    if (r.kind === 'unsized') this.sayOnce(id, `container ${id}: memory.max is now ${showSession(r.to)}, but it was carved by an older agentcgroup whose record keeps no sizes: its limits stay as carved`);
    if (r.kind === 'refused') this.sayOnce(id, `container ${id}: memory.max is now ${showSession(r.to)}: its limits stay as they were: ${r.why}`);
    if (r.kind === 'resize') {
      try {
        this.apply(c, r);
      } catch (err) {
        // Undone (applySteps) and not settled: the next change or look tries again.
        this.sayOnce(id, `container ${id}: cannot follow memory.max ${showSession(r.to)}: ${describeError(err)}`);
        return;
      }
    }
    this.settled.set(id, max);
  }

  private apply(c: Watched, r: Resized): void {
    const rec = c.record;
    applySteps(c.fs, r.steps);
    const changed = this.resizeCalls(c, pairOf(rec.tool), pairOf(r.tool));
    const next: ContainerRecord = { ...rec, sessionMax: r.to.max, sessionBytes: r.to.bytes, agent: r.agent, tool: r.tool };
    // Every part of the daemon reads the record through this Watched: the next call it begins gets the
    // new template, even should the file below not be written.
    c.record = next;
    try {
      this.d.store.saveContainer(next);
    } catch (err) {
      this.d.log.warn(`container ${rec.id}: new limits in force but not recorded (exec from the host keeps the old template; a restarted daemon writes them again): ${describeError(err)}`);
    }
    this.said.delete(rec.id);
    this.d.log.info(resizeLine(rec.id, r, changed));
  }

  /** Each running call on its own: one that ends meanwhile is no failure of the others. Returns how many changed. */
  private resizeCalls(c: Watched, was: MemoryPair, now: MemoryPair): number {
    const tools = `${c.record.cgroup}/${TOOLS_PARENT}`;
    let changed = 0;
    for (const name of c.fs.exists(tools) ? c.fs.children(tools) : []) {
      const cg = `${tools}/${name}`;
      try {
        const steps = planCallResize(cg, { high: parseLimit(c.fs.read(cg, 'memory.high')), max: parseLimit(c.fs.read(cg, 'memory.max')) }, was, now);
        applySteps(c.fs, steps);
        if (steps.length > 0) changed++;
      } catch (err) {
        if (!(err instanceof AgentcgroupError && err.code === 'cgroup-enoent')) this.d.log.warn(`container ${c.record.id}: call ${name}: cannot follow the new tool template: ${describeError(err)}`);
      }
    }
    return changed;
  }

  private sayOnce(id: string, line: string): void {
    if (this.said.get(id) === line) return;
    this.said.set(id, line);
    this.d.log.warn(line);
  }
}
