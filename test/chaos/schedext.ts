/**
 * The chaos run with the daemon's sched_ext scheduler loaded (`--sched-ext`), its verdict (pure): the
 * kernel must drop the scheduler each time the daemon is SIGKILLed (its BPF link goes with the
 * process: every task back on the fair class), before the restarted daemon attaches it again; the
 * restarted daemon must make it the system's scheduler again; and it must still run when the run ends
 * (the kernel's watchdog did not throw it out on the way).
 */
import { runsOurs } from '../../src/bpf/schedext.js';
import { SCHED_OPS, type SchedExtView } from './leaks.js';

/** One daemon SIGKILL, as /sys/kernel/sched_ext showed it. */
export interface SchedKill {
  /** Just before the SIGKILL: ours should be the system's scheduler. */
  before: SchedExtView | undefined;
  /** Milliseconds from the SIGKILL until the state read `disabled`; null when it did not within the deadline. */
  fellBackMs: number | null;
  /** Once the restarted daemon was ready (and a little after, for it to show): ours again? */
  after: SchedExtView | undefined;
  /** When `before` was not ours: what the daemon about to be killed said of its scheduler (status --json), e.g. the kernel's reason for an ejection. */
  daemonSaid?: { state: string; detail: string };
}

export interface SchedExtRun {
  /** sysfs once the first daemon was ready. */
  atStart: SchedExtView | undefined;
  kills: SchedKill[];
  /** What `agentcgroup status --json` said of the scheduler just before the final stop. */
  beforeStop: { state: string; detail: string } | undefined;
  /** The kernel's log lines about sched_ext (dmesg) during the run: each time it dropped the scheduler, and why. */
  kernelLog?: string[];
}

/**
 * The times the kernel log says it disabled our scheduler for a reason of its own (a stall, an error,
 * sysrq), not because its loader let go of it ("unregistered from user space": a daemon that stopped
 * or died), each with the kernel's next line about it (which task stalled, and for how long).
 */
export function kernelEjections(lines: readonly string[], opsName = SCHED_OPS): string[] {
  const out: string[] = [];
  lines.forEach((line, i) => {
    const m = /sched_ext: BPF scheduler "([^"]*)" disabled \((.*)\)\s*$/.exec(line);
    if (!m || m[1] !== opsName || m[2] === 'unregistered from user space') return;
    const more = new RegExp(`sched_ext: ${opsName}: (.*)$`).exec(lines[i + 1] ?? '')?.[1];
    out.push(`${m[2]}${more ? ` (${more.trim()})` : ''}`);
  });
  return out;
}

export { runsOurs };

const show = (v: SchedExtView | undefined): string => (v === undefined ? 'no /sys/kernel/sched_ext' : `state ${v.state}${v.ops === '' ? '' : `, ops ${v.ops}`}`);

/** Everything that went against the verdict above, a line each; empty when it all held. */
export function schedExtProblems(r: SchedExtRun, fallbackDeadlineMs: number): string[] {
  const out: string[] = [];
  if (!runsOurs(r.atStart)) out.push(`the first daemon did not make its scheduler the system's (${show(r.atStart)})`);
  r.kills.forEach((k, i) => {
    const n = `daemon kill ${i + 1}`;
    if (!runsOurs(k.before)) {
      const said = k.daemonSaid === undefined ? '' : `; the daemon: ${k.daemonSaid.state} (${k.daemonSaid.detail})`;
      out.push(`${n}: the scheduler was not running when the daemon was SIGKILLed (${show(k.before)}${said})`);
    }
    if (k.fellBackMs === null) out.push(`${n}: the kernel had not fallen back ${fallbackDeadlineMs} ms after the SIGKILL`);
    if (!runsOurs(k.after)) out.push(`${n}: the restarted daemon's scheduler is not the system's (${show(k.after)})`);
  });
  for (const e of kernelEjections(r.kernelLog ?? [])) out.push(`the kernel threw the scheduler out: ${e}`);
  if (r.beforeStop === undefined) out.push('status --json said nothing of the scheduler before the final stop');
  else if (r.beforeStop.state !== 'running') out.push(`the scheduler no longer ran at the end of the run: ${r.beforeStop.state} (${r.beforeStop.detail})`);
  return out;
}

/** `3 daemon kills, the kernel fell back after 3 (12, 40, 18 ms; max 40 ms), ours again after 3 restarts; at the end: running`. */
export function describeSchedExt(r: SchedExtRun): string {
  const fell = r.kills.map((k) => k.fellBackMs).filter((ms): ms is number => ms !== null);
  const times = fell.length === 0 ? '' : ` (${fell.join(', ')} ms; max ${Math.max(...fell)} ms)`;
  const again = r.kills.filter((k) => runsOurs(k.after)).length;
  const end = r.beforeStop === undefined ? 'unknown' : `${r.beforeStop.state}${r.beforeStop.state === 'running' ? '' : ` (${r.beforeStop.detail})`}`;
  return `${r.kills.length} daemon kill(s), the kernel fell back after ${fell.length}${times}, ours again after ${again} restart(s); at the end: ${end}`;
}
