/**
 * A trace, scaled down, as the plan the in-container agent runs (bench/replay/agent.c). Pure.
 *
 * The framework is the trace's memory outside Bash windows: it holds the level of the last such sample.
 * Each Bash call is a separate process holding what the container held above that level during its
 * window (shared evenly while parallel calls overlap), rising from 0 at its start, linear between samples.
 * Other tools (Read, Edit, Grep...) run inside Claude Code's own process, so their windows are framework
 * time. The replay is closed-loop: the framework waits for a call to end before its next think time,
 * so a call that runs longer delays the rest of the agent, as it would a real one. Calls that overlap in
 * the trace are started with their original offsets without waiting for each other.
 */
import { type Trace, bashCalls } from '../../src/plan/traces.js';

/** Divisors: memory MB -> MiB / memoryDiv, seconds -> seconds / timeDiv. */
export interface Scale {
  memoryDiv: number;
  timeDiv: number;
}

export interface CallPlan {
  idx: number;
  cmd: string;
  /** ramp: the trace's samples, linear between them; burst: its peak from its first millisecond on. */
  shape: 'ramp' | 'burst';
  /** Nominal start in the scaled trace, ms from the trace's start. */
  startMs: number;
  durationMs: number;
  /** [ms since the call started, KiB held]. */
  points: [number, number][];
  peakKiB: number;
}

export interface AgentPlan {
  task: string;
  model: string;
  durationMs: number;
  calls: CallPlan[];
  /** Lines for agent.c: H KiB, W ms, C idx spec, J. */
  lines: string[];
  baselineKiB: number;
  /** The trace's own peak, scaled: for the table of inputs only, never a result. */
  tracePeakKiB: number;
}

/** Framework levels closer than this are not worth a line (and would only churn pages). */
const HOLD_STEP_KIB = 512;

class Timeline {
  readonly lines: string[] = [];
  private pendingMs = 0;
  private level = -1;

  wait(ms: number): void {
    if (ms > 0) this.pendingMs += ms;
  }

  hold(kib: number): void {
    if (this.level >= 0 && Math.abs(kib - this.level) < HOLD_STEP_KIB) return;
    this.flush();
    this.lines.push(`H ${kib}`);
    this.level = kib;
  }

  call(idx: number, spec: string): void {
    this.flush();
    this.lines.push(`C ${idx} ${spec}`);
  }

  join(): void {
    this.flush();
    this.lines.push('J');
  }

  end(): void {
    this.flush();
  }

  private flush(): void {
    const ms = Math.round(this.pendingMs);
    if (ms >= 1) this.lines.push(`W ${ms}`);
    this.pendingMs = 0;
  }
}

export function callSpec(points: readonly [number, number][]): string {
  return points.map(([ms, kib]) => `${ms}:${kib}`).join(',');
}

/**
 * A call that allocates at once, as real tools do (an interpreter importing everything, a compiler
 * mapping its inputs): from its start it holds the most it will hold from then on, so its peak comes in
 * its first milliseconds and it gives memory back as the trace does after. Same peak, same duration.
 */
export function burstPoints(points: readonly [number, number][]): [number, number][] {
  const out = points.map(([t, k]) => [t, k] as [number, number]);
  for (let i = out.length - 2; i >= 0; i--) out[i]![1] = Math.max(out[i]![1], out[i + 1]![1]);
  return out;
}

/** 32-bit integer mix (murmur3's finalizer): a seeded coin per call that does not depend on the order of calls. */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Which calls of agent `agent` allocate at once: none, all, or a seeded half (mixed). */
export function shapeOf(shape: 'ramp' | 'burst' | 'mixed', seed: number, agent: number): (idx: number) => 'ramp' | 'burst' {
  if (shape !== 'mixed') return () => shape;
  return (idx) => (mix(mix(mix(seed) ^ agent) ^ idx) & 1 ? 'burst' : 'ramp');
}

export function planAgent(trace: Trace, scale: Scale, shape: (idx: number) => 'ramp' | 'burst' = () => 'ramp'): AgentPlan {
  const ms = (s: number) => (s * 1000) / scale.timeDiv;
  const kib = (mb: number) => Math.max(0, Math.round((mb * 1024) / scale.memoryDiv));
  const bash = bashCalls(trace).slice().sort((a, b) => a[0] - b[0]);
  const inBash = (t: number) => bash.filter((w) => w[0] <= t && t <= w[1]).length;
  const framework = trace.samples.filter((s) => inBash(s[0]) === 0);
  const t0 = trace.samples[0]![0];
  const tEnd = trace.samples.at(-1)![0];
  /** The framework's level at t: its last sample at or before t (or its first one). */
  const frameworkAt = (t: number): number => {
    let v = framework[0]?.[1] ?? 0;
    for (const s of framework) {
      if (s[0] > t) break;
      v = s[1];
    }
    return v;
  };

  const calls: CallPlan[] = bash.map((w, idx) => {
    const base = frameworkAt(w[0]);
    const dur = Math.round(ms(w[1] - w[0]));
    const points: [number, number][] = [[0, 0]];
    for (const s of trace.samples) {
      if (s[0] < w[0] || s[0] > w[1]) continue;
      const share = Math.max(0, s[1] - base) / Math.max(1, inBash(s[0]));
      points.push([Math.min(dur, Math.round(ms(s[0] - w[0]))), kib(share)]);
    }
    points.push([dur, points.at(-1)![1]]);
    // Monotonic times; of points at the same time the last wins.
    const clean: [number, number][] = [];
    for (const p of points) {
      if (clean.length > 0 && clean.at(-1)![0] === p[0]) clean[clean.length - 1] = p;
      else clean.push(p);
    }
    if (clean.length === 1) clean.unshift([0, 0]);
    const kind = shape(idx);
    const shaped = kind === 'burst' ? burstPoints(clean) : clean;
    return { idx, cmd: w[3], shape: kind, startMs: Math.round(ms(w[0] - t0)), durationMs: dur, points: shaped, peakKiB: Math.max(...shaped.map((p) => p[1])) };
  });

  const tl = new Timeline();
  let cur = t0;
  const follow = (to: number) => {
    for (const s of framework) {
      if (s[0] <= cur || s[0] > to) continue;
      tl.wait(ms(s[0] - cur));
      tl.hold(kib(s[1]));
      cur = s[0];
    }
    tl.wait(ms(to - cur));
    cur = Math.max(cur, to);
  };
  tl.hold(kib(frameworkAt(t0)));
  let open = false;
  let groupEnd = t0;
  let lastLaunch = t0;
  bash.forEach((w, idx) => {
    if (open && w[0] < groupEnd) {
      tl.wait(ms(w[0] - lastLaunch));
    } else {
      if (open) {
        tl.join();
        cur = Math.max(cur, groupEnd);
      }
      follow(w[0]);
      groupEnd = w[1];
    }
    tl.call(idx, callSpec(calls[idx]!.points));
    lastLaunch = w[0];
    groupEnd = Math.max(groupEnd, w[1]);
    open = true;
  });
  if (open) {
    tl.join();
    cur = Math.max(cur, groupEnd);
  }
  follow(tEnd);
  tl.end();

  const levels = framework.map((s) => s[1]).sort((a, b) => a - b);
  return {
    task: trace.task,
    model: trace.model,
    durationMs: Math.round(ms(tEnd - t0)),
    calls,
    lines: tl.lines,
    baselineKiB: kib(levels[Math.floor(levels.length / 2)] ?? 0),
    tracePeakKiB: kib(Math.max(...trace.samples.map((s) => s[1]))),
  };
}

export const planText = (p: AgentPlan): string => `${p.lines.join('\n')}\n`;
