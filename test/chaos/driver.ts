/**
 * The chaos run, inside the test guest: container create/start/delete cycles with crun and runc and
 * our hooks, agents forking tool calls that allocate memory, while the daemon, hooks, containers'
 * init, tool calls and the runtime itself are SIGKILLed at seeded moments. Then every container is
 * gone, the daemon is stopped, and whatever of ours is left is a leak (see leaks.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { type FSWatcher, closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmdirSync, statSync, watch, writeFileSync, writeSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { CLI, SHELL_FRAMEWORK, type Scratch, eventually, exited, makeBundle, readOr, run, scratch, sleep, startDaemon } from '../integration/bundle.js';
import { type CyclePlan, type Fault, planChaos } from './plan.js';
import { type Leak, type LogText, callEvidence, callIdOfMarker, countByKind, findLeaks, tallyMessages } from './leaks.js';
import { CGROUP_ROOT, bpfIds, callRecords, cgroupTree, frozenCgroups, listTree, pinned, processesMentioning, schedExtView, trackerPrograms } from './probe.js';
import { type SchedExtRun, type SchedKill, describeSchedExt, runsOurs, schedExtProblems } from './schedext.js';

const MiB = 1 << 20;

export interface ChaosOptions {
  cycles: number;
  seed: number;
  /** Containers alive at once. */
  concurrency: number;
  /**
   * The hooks are the native hook front (dist/agentcgroup-hook), answered by the daemon while it runs
   * and running the CLI when it does not (killed, restarting); SIGKILLed as the hooks are otherwise.
   */
  front?: boolean;
  /**
   * The daemon runs with policy sched_ext.enable: its scheduler is the system's while it runs. Each
   * daemon SIGKILL is then also a check that the kernel fell back to the fair class (state disabled)
   * before the restart, and that the restarted daemon attached it again (schedext.ts).
   */
  schedExt?: boolean;
  /** Share of cycles that SIGKILL the daemon, in percent (plan.ts; default 9). */
  daemonKillPercent?: number;
  /** Progress lines. */
  say: (line: string) => void;
}

export interface ChaosReport {
  seed: number;
  cycles: number;
  elapsedS: number;
  /** Containers whose start succeeded / failed (a killed createRuntime hook fails the start). */
  started: number;
  startFailed: number;
  /** Faults that landed, by kind. */
  kills: Record<string, number>;
  /** Tool calls sent to agents or run through exec, begun (a marker appeared) and logged, by outcome. */
  callsSent: number;
  callsBegun: number;
  /**
   * The control cycle's call, after the chaos: a container with no fault and a daemon that runs, its
   * one call's record's outcome (or why there is none). Calls begin only while a daemon runs, and on
   * one emulated vCPU a daemon restarted under the run's load took 15-36 s to be ready, so the faulted
   * cycles may begin none at all; this one shows that calls are still placed and logged afterwards.
   */
  control: { id: string; outcome: string };
  /** Seconds each daemon start took to "daemon ready" (the first at the run's start, then restarts). */
  daemonReadyS: number[];
  /** Per fault: cycles, calls sent and begun (a call the agent forks while no daemon runs, or that dies first, never begins). */
  perFault: Record<string, { cycles: number; sent: number; begun: number }>;
  outcomes: Record<string, number>;
  /** Ladder freezes the daemons logged: the frozen-cgroup check means something only if there were some. */
  freezes: number;
  /** What runtimes and hooks printed (runs, deletes, exec), by shape: [message, count]. */
  messages: [string, number][];
  /** Problems seen during the run itself (a killed daemon's BPF programs still loaded, a hang). */
  runProblems: string[];
  leaks: Leak[];
  /** With schedExt: what sysfs showed at start, at each daemon kill and before the stop, and what went wrong. */
  schedExt: (SchedExtRun & { problems: string[] }) | null;
}

/**
 * The agent reads commands from a FIFO and runs each as `env sh -c CMD &`: a fork then an exec, as
 * agent frameworks run tools (through `env`: busybox's shell runs its applets in-process otherwise).
 */
const AGENT = 'while :; do while read -r cmd; do env sh -c "$cmd" & done < /ctl/fifo; done';

/**
 * Runs the hook, SIGKILLed after $1 seconds unless that is 0; a kill that lands is written to $3 as
 * $2. The killer aims at the wrapper's own pid, which exec makes the hook's: no `wait` here, since a
 * runtime runs hooks with SIGCHLD blocked and a shell's wait would never return. The hook's stderr
 * goes to $4 (the container's log): crun and runc show a hook's stderr only when it fails, and a hook
 * fails open with exit 0 and one line saying why.
 */
const HOOK_WRAPPER = `d=$1 tag=$2 log=$3 err=$4; shift 4
if [ "$d" != 0 ]; then
  me=$$
  (sleep "$d"; grep -q agentcgroup "/proc/$me/cmdline" && kill -KILL "$me" && echo "$tag" >> "$log") </dev/null >/dev/null 2>&1 &
fi
exec "$@" 2>>"$err"
`;

const LADDER = 'ladder:\n  recheck: 250ms\n  deadline: 20s\n  freeze_at: 70%\n  thaw_below: 50%\n  kill_at: 95%\n';
const SCHED_EXT = 'sched_ext:\n  enable: true\n';
/** How long the kernel gets to drop a SIGKILLed daemon's scheduler (it takes milliseconds; the guest is emulated). */
const FALLBACK_DEADLINE_MS = 30_000;

interface Ctx {
  s: Scratch;
  budget: string;
  wrapper: string;
  /** The hook command after the wrapper's arguments, and its environment. */
  hookCommand: string[];
  hookEnv: string[];
  killLog: string;
  report: ChaosReport;
  daemon: DaemonKeeper;
  log: (line: string) => void;
}

/** The time of day as the container logs' command lines give it (runAsync): what the explanations of a leak line up by. */
const clock = () => new Date().toISOString().slice(11, 23);

function bump(counts: Record<string, number>, key: string, by = 1): void {
  counts[key] = (counts[key] ?? 0) + by;
}

interface Ran {
  status: number | null;
  signal: NodeJS.Signals | null;
  out: string;
}

/**
 * A command without blocking the driver (several containers live at once). Output goes to a file: a
 * detached container must not hold a pipe of ours, and hooks' messages land there too.
 */
function runAsync(cmd: string, args: string[], logFile: string, opts: { killAfterS?: number; timeoutS?: number } = {}): Promise<Ran & { killed: boolean }> {
  const fd = openSync(logFile, 'a');
  writeSync(fd, `${clock()} $ ${cmd} ${args.join(' ')}\n`);
  const child = spawn(cmd, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let killed = false;
  const killer = opts.killAfterS === undefined ? undefined : setTimeout(() => (killed = child.kill('SIGKILL')), opts.killAfterS * 1000);
  const guard = setTimeout(() => child.kill('SIGKILL'), (opts.timeoutS ?? 180) * 1000);
  return new Promise((resolve) => {
    child.on('close', (status, signal) => {
      clearTimeout(killer);
      clearTimeout(guard);
      resolve({ status, signal, out: '', killed: killed && signal === 'SIGKILL' });
    });
    child.on('error', () => resolve({ status: null, signal: null, out: '', killed: false }));
  });
}

/** Short commands whose output we want (state, kill): pipes are fine, nothing detaches. */
function capture(cmd: string, args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (status, signal) => {
      clearTimeout(guard);
      resolve({ status, signal, out });
    });
    child.on('error', (err) => resolve({ status: null, signal: null, out: err.message }));
  });
}

/** The daemon, SIGKILLed and restarted on demand; every restart gets its own log (startDaemon waits for "ready" in it). */
class DaemonKeeper {
  private child: ChildProcess | undefined;
  private generation = 0;
  /** Kills one after another: each waits for the restart of the one before. */
  private kills: Promise<void> = Promise.resolve();
  private readonly pending = new Set<Promise<void>>();
  readonly logs: string[] = [];
  /** When each daemon was started, was ready and was SIGKILLed (clock()): a call begun or settled about then is suspect. */
  readonly timeline: string[] = [];
  /** Seconds from each start to "daemon ready": calls begin only while a daemon runs. */
  readonly readyS: number[] = [];

  constructor(private readonly ctx: () => Ctx) {}

  async start(): Promise<void> {
    const name = `daemon-${this.generation++}.log`;
    const at = Date.now();
    this.timeline.push(`${clock()} ${name}: started`);
    const d = await startDaemon(this.ctx().s, name);
    this.readyS.push(Math.round((Date.now() - at) / 100) / 10);
    this.timeline.push(`${clock()} ${name}: ready`);
    this.child = d.child;
    this.logs.push(d.log);
  }

  /**
   * A kill the plan asks for, `afterS` from now. Each lands: one due while another kill's restart is
   * under way waits for it (a restart under load takes many seconds), so a seed always kills as
   * often as it says, and quiesce() waits for them all.
   */
  killAfter(afterS: number, downS: number): void {
    const due = sleep(afterS * 1000).then(() => {
      this.kills = this.kills.then(() => this.kill(downS));
      return this.kills;
    });
    this.pending.add(due);
    void due.finally(() => this.pending.delete(due));
  }

  /**
   * SIGKILL, check that the kernel dropped its BPF programs (with the scheduler: that it fell back to the
   * fair class, before the restart can attach it again), stay down a while, restart.
   */
  private async kill(downS: number): Promise<void> {
    const ctx = this.ctx();
    if (!this.child) return;
    try {
      const sched = ctx.report.schedExt;
      const before = schedExtView();
      // Not running when it should: the daemon knows why (an ejection's reason), until it is killed.
      const daemonSaid = sched && !runsOurs(before) ? await schedulerStatus(ctx.s.policy) : undefined;
      const child = this.child;
      const gone = exited(child);
      const killedAt = Date.now();
      child.kill('SIGKILL');
      this.timeline.push(`${clock()} ${basename(this.logs.at(-1) ?? 'daemon')}: SIGKILLed`);
      let fellBackMs: number | null = null;
      if (sched) {
        // Polled closely from the signal on: the fall-back itself is what is timed (the daemon's exit is part of it).
        while (fellBackMs === null && Date.now() < killedAt + FALLBACK_DEADLINE_MS) {
          if (schedExtView()?.state === 'disabled') fellBackMs = Date.now() - killedAt;
          else await sleep(10);
        }
      }
      await gone;
      this.child = undefined;
      bump(ctx.report.kills, 'daemon');
      ctx.log(`daemon SIGKILLed (restart in ${downS} s)${sched ? `; sched_ext ${fellBackMs === null ? 'still not disabled' : `disabled after ${fellBackMs} ms`}` : ''}`);
      if (!(await eventually(() => trackerPrograms() === 0, 10_000))) {
        ctx.report.runProblems.push(`${trackerPrograms()} tracker programs still loaded 10 s after the daemon was SIGKILLed`);
      }
      await sleep(downS * 1000);
      await this.start();
      if (!(await eventually(() => trackerPrograms() === 3, 10_000))) ctx.report.runProblems.push(`${trackerPrograms()} tracker programs loaded after a restart, expected 3`);
      if (sched) {
        // The daemon attaches it before it says ready: this is at once, or never.
        await eventually(() => runsOurs(schedExtView()), 10_000);
        const kill: SchedKill = { before, fellBackMs, after: schedExtView(), ...(daemonSaid === undefined ? {} : { daemonSaid }) };
        sched.kills.push(kill);
      }
    } catch (err) {
      ctx.report.runProblems.push(`daemon kill: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Resolves once every planned kill has landed and its restart is done: the daemon runs, and answers. */
  async quiesce(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
    await this.kills;
  }

  async stop(): Promise<number | null> {
    await this.quiesce();
    if (!this.child) return null;
    this.child.kill('SIGTERM');
    return exited(this.child);
  }
}

/**
 * Every running-call marker that appears (<runDir>/calls/<container>/<call>.json): the calls that
 * began, each of which must end up with exactly one record. A directory that appears is scanned as
 * its watch is added, so markers written before that are not missed; one removed and made again (a
 * marker written after its container's state went) is watched afresh. What each call's marker went
 * through is kept, with the time, to explain a call-record leak.
 */
class MarkerWatch {
  readonly begun = new Map<string, { container: string; call: string }>();
  private readonly watchers = new Map<string, { w: FSWatcher; ino: number }>();
  private readonly history = new Map<string, string[]>();
  /** When each container's calls directory was seen to go (its teardown's removal). */
  private readonly dirGone = new Map<string, string[]>();
  private top: FSWatcher | undefined;

  constructor(private readonly dir: string) {}

  start(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.top = watch(this.dir, () => this.scanTop());
    this.top.on('error', () => {});
    this.scanTop();
  }

  /** The marker's story (appeared, claimed, gone, with what it said) and its directory's removals, for a leak's detail. */
  story(container: string, call: string): string[] {
    const seen = this.history.get(`${container}/${call}`) ?? [];
    return [...seen, ...(this.dirGone.get(container) ?? []).map((at) => `${at} calls/${container}/ gone`)].sort();
  }

  private scanTop(): void {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    const present = new Set(names);
    for (const [container, { w }] of this.watchers) {
      if (present.has(container)) continue;
      w.close();
      this.watchers.delete(container);
      this.noteDirGone(container);
    }
    for (const container of names) {
      let ino: number;
      try {
        ino = statSync(join(this.dir, container)).ino;
      } catch {
        continue;
      }
      const had = this.watchers.get(container);
      if (had?.ino === ino) continue;
      if (had) {
        had.w.close();
        this.noteDirGone(container);
      }
      this.watchContainer(container, ino);
    }
  }

  private noteDirGone(container: string): void {
    const list = this.dirGone.get(container) ?? [];
    if (list.length < 4) list.push(clock());
    this.dirGone.set(container, list);
  }

  private watchContainer(container: string, ino: number): void {
    const dir = join(this.dir, container);
    try {
      const w = watch(dir, (_event, name) => name && this.note(container, String(name)));
      w.on('error', () => {
        w.close();
        // Looked at again on the next change in the calls directory.
        if (this.watchers.get(container)?.w !== w) return;
        this.watchers.delete(container);
        this.noteDirGone(container);
      });
      this.watchers.set(container, { w, ino });
    } catch {
      return;
    }
    try {
      for (const n of readdirSync(dir)) this.note(container, n);
    } catch {
      // Removed already: its teardown ran.
    }
  }

  private note(container: string, name: string): void {
    const call = callIdOfMarker(name);
    if (call) this.begun.set(`${container}/${call}`, { container, call });
    const claim = /^([a-z0-9_][a-z0-9_.-]*)\.ending(?:\.\d+)?$/.exec(name);
    const id = call ?? claim?.[1];
    if (id) this.remember(container, id, name);
  }

  /** One line per change of a marker or its claim (.ending.<claimer's pid>): appeared (with what the marker says) or gone. */
  private remember(container: string, call: string, name: string): void {
    const key = `${container}/${call}`;
    const lines = this.history.get(key) ?? [];
    if (lines.length >= 12) return;
    const path = join(this.dir, container, name);
    let what: string;
    if (!existsSync(path)) what = `${name} gone`;
    else if (/\.ending(\.\d+)?$/.test(name)) what = `${name} appeared (claimed)`;
    else what = `${name} appeared (${describeMarker(path)})`;
    if (lines.at(-1)?.slice(13) === what) return;
    lines.push(`${clock()} ${what}`);
    this.history.set(key, lines);
  }

  stop(): void {
    this.top?.close();
    for (const { w } of this.watchers.values()) w.close();
  }
}

/** What a marker says of its call, in a few words: who owns it, its leader and argv, whether it was placed. */
function describeMarker(path: string): string {
  try {
    const m = JSON.parse(readFileSync(path, 'utf8')) as { owner?: string; leader?: number; argv?: string[]; placement?: unknown; start?: string };
    const argv = (m.argv ?? []).slice(0, 3).join(' ').slice(0, 80);
    return `owner ${m.owner ?? '?'}, leader ${m.leader ?? '-'}, argv ${JSON.stringify(argv)}, ${m.placement ? 'placed' : 'no placement'}, start ${m.start?.slice(11, 23) ?? '?'}`;
  } catch {
    return 'unreadable';
  }
}

function writeCall(ctl: string, script: string): boolean {
  let fd: number;
  try {
    // Non-blocking: an agent that is dead has no reader, and a blocking open would hang the driver.
    fd = openSync(join(ctl, 'fifo'), constants.O_WRONLY | constants.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    writeSync(fd, `${script}\n`);
    return true;
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

function callScript(c: CyclePlan['calls'][number]): string {
  return `sleep ${c.sleepS}; dd if=/dev/zero of=/dev/null bs=${c.mib}M count=${c.count} 2>/dev/null`;
}

function toolsPids(ctx: Ctx, id: string): number[] {
  const tools = join(CGROUP_ROOT, ctx.budget, id, 'tools');
  let calls: string[] = [];
  try {
    calls = readdirSync(tools, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return [];
  }
  return calls.flatMap((c) => readOr(join(tools, c, 'cgroup.procs')).split('\n').filter(Boolean).map(Number));
}

async function initPid(rt: string, id: string): Promise<number | undefined> {
  const r = await capture(rt, ['state', id]);
  try {
    const pid = (JSON.parse(r.out) as { pid?: number; status?: string }).pid;
    return pid && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function signal(pid: number): boolean {
  try {
    process.kill(pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

async function injectFault(ctx: Ctx, p: CyclePlan, fault: Fault, logFile: string): Promise<void> {
  switch (fault) {
    case 'none':
    case 'delete-force':
    case 'kill-runtime-delete':
      return;
    case 'kill-call': {
      // A call may still be in its sleep before the move: look for a while.
      let pids: number[] = [];
      await eventually(() => (pids = toolsPids(ctx, p.id)).length > 0, 3000);
      const pid = pids[Math.floor(pids.length / 2)];
      if (pid !== undefined && signal(pid)) bump(ctx.report.kills, 'tool-call');
      return;
    }
    case 'kill-init': {
      const pid = await initPid(p.runtime, p.id);
      if (pid !== undefined && signal(pid)) bump(ctx.report.kills, 'container-init');
      return;
    }
    case 'runtime-kill':
      if ((await runAsync(p.runtime, ['kill', p.id, 'KILL'], logFile)).status === 0) bump(ctx.report.kills, 'runtime-kill');
      return;
  }
}

/** Deletes the container however the plan says; ends with it gone from the runtime, whatever happened. */
async function remove(ctx: Ctx, p: CyclePlan, logFile: string): Promise<void> {
  if (p.fault === 'kill-runtime-delete') {
    const r = await runAsync(p.runtime, ['delete', '-f', p.id], logFile, { killAfterS: p.runtimeKillAfterS });
    if (r.killed) bump(ctx.report.kills, 'runtime-mid-delete');
  }
  if (p.fault === 'delete-force' || p.fault === 'kill-runtime-delete' || p.fault === 'none') {
    await runAsync(p.runtime, ['delete', '-f', p.id], logFile);
  } else {
    // Killed already (init, runtime kill, or a tool call): a plain delete of a stopped container,
    // forced if the agent is still running.
    if ((await runAsync(p.runtime, ['delete', p.id], logFile)).status !== 0) await runAsync(p.runtime, ['delete', '-f', p.id], logFile);
  }
  if ((await capture(p.runtime, ['state', p.id])).status === 0) {
    const again = await runAsync(p.runtime, ['delete', '-f', p.id], logFile);
    if (again.status !== 0) ctx.report.runProblems.push(`${p.runtime} could not delete ${p.id}`);
  }
}

function bundleFor(ctx: Ctx, p: CyclePlan): { bundle: string; ctl: string } {
  const ctl = join(ctx.s.dir, `${p.id}.ctl`);
  mkdirSync(ctl);
  run('mkfifo', [join(ctl, 'fifo')]);
  const bundle = makeBundle(ctx.s, p.id, {
    args: ['/bin/sh', '-c', AGENT],
    memoryLimit: 256 * MiB,
    cgroupsPath: `/${ctx.budget}/${p.id}`,
    binds: [{ source: ctl, destination: '/ctl' }],
    annotations: SHELL_FRAMEWORK,
  });
  const configPath = join(bundle, 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as { hooks: Record<string, { path: string; args: string[]; env: string[] }[]> };
  const hook = (stage: 'createRuntime' | 'poststop') => {
    const after = p.hookKill === stage ? String(p.hookKillAfterS) : '0';
    return [{ path: '/bin/sh', args: ['sh', ctx.wrapper, after, `${stage} ${p.id}`, ctx.killLog, join(ctx.s.dir, `${p.id}.log`), ...ctx.hookCommand, 'hook', '--policy', ctx.s.policy], env: ctx.hookEnv }];
  };
  config.hooks = { createRuntime: hook('createRuntime'), poststop: hook('poststop') };
  writeFileSync(configPath, JSON.stringify(config, null, 1));
  return { bundle, ctl };
}

async function cycle(ctx: Ctx, p: CyclePlan): Promise<void> {
  const logFile = join(ctx.s.dir, `${p.id}.log`);
  const { bundle, ctl } = bundleFor(ctx, p);
  if (p.daemonKillAfterS !== null) {
    ctx.daemon.killAfter(p.daemonKillAfterS, p.daemonDownS);
  }
  const started = await runAsync(p.runtime, ['run', '-d', '--bundle', bundle, p.id], logFile);
  if (started.status !== 0) {
    ctx.report.startFailed++;
    ctx.log(`${p.id}: ${p.runtime} run failed (${started.status ?? started.signal}); hook kill ${p.hookKill}`);
    await remove(ctx, { ...p, fault: 'delete-force' }, logFile);
    return;
  }
  ctx.report.started++;
  const execs: Promise<unknown>[] = [];
  for (const c of p.calls.filter((k) => k.viaExec)) {
    const args = [CLI, 'exec', '--container', p.id, '--name', 'hostcall', '--policy', ctx.s.policy, '--', 'sh', '-c', callScript(c)];
    execs.push(runAsync(process.execPath, args, logFile, { timeoutS: 120 }));
  }
  // The agent's calls in one write: a reader that saw EOF between two writers would drop the second.
  // Each forked call leaves /ctl/end.<n> when it ran to its end (an OOM or ladder kill takes its shell too).
  const forked = p.calls.filter((k) => !k.viaExec).map((k, n) => `${callScript(k)}; : > /ctl/end.${n}`);
  // Generous: the agent's first exec is held until a daemon answers, and one SIGKILLed at start
  // answers only once restarted (its down time, then a Node start under emulation).
  if (forked.length > 0 && !(await eventually(() => writeCall(ctl, forked.join('\n')), 60_000))) {
    ctx.report.runProblems.push(`${p.id}: the agent never read its FIFO`);
  }
  ctx.report.callsSent += p.calls.length;
  await sleep(p.faultAfterS * 1000);
  await injectFault(ctx, p, p.fault, logFile);
  if (p.fault === 'none') {
    // Calls run to their end: every exec returns, and each forked call left its end mark or (killed)
    // every call has its record.
    await Promise.all(execs);
    const ends = () => readdirSync(ctl).filter((n) => n.startsWith('end.')).length;
    const logged = () => readOr(join(ctx.s.callDir, `${p.id}.jsonl`)).split('\n').filter(Boolean).length;
    await eventually(() => ends() >= forked.length || logged() >= p.calls.length, 60_000);
  }
  await remove(ctx, p, logFile);
  await Promise.all(execs);
  ctx.log(`${p.id}: ${p.runtime} ${p.fault}${p.hookKill === 'none' ? '' : `, ${p.hookKill} hook kill at ${p.hookKillAfterS} s`} done`);
}

/**
 * One container with no fault, started once the daemon runs and no more kills come: its one forked
 * call must begin and be logged. Returns the record's outcome, or why there is none.
 */
async function controlCycle(ctx: Ctx, id: string): Promise<string> {
  const call = { sleepS: 0.2, mib: 32, count: 4, viaExec: false };
  const p: CyclePlan = {
    index: -1,
    id,
    runtime: 'crun',
    hookKill: 'none',
    hookKillAfterS: 0,
    calls: [call],
    fault: 'none',
    faultAfterS: 0,
    runtimeKillAfterS: 0,
    daemonKillAfterS: null,
    daemonDownS: 0,
  };
  const logFile = join(ctx.s.dir, `${id}.log`);
  const { bundle, ctl } = bundleFor(ctx, p);
  const started = await runAsync(p.runtime, ['run', '-d', '--bundle', bundle, id], logFile);
  let outcome: string;
  if (started.status !== 0) outcome = `crun run failed (${started.status ?? started.signal})`;
  else if (!(await eventually(() => writeCall(ctl, callScript(call)), 60_000))) outcome = 'the agent never read its FIFO';
  else {
    ctx.report.callsSent++;
    const records = () => callRecords(ctx.s.callDir).filter((r) => r.container === id);
    // The daemon writes the record when the call exits: seconds under emulation, minutes at worst.
    outcome = (await eventually(() => records().length > 0, 180_000)) ? records().map((r) => r.outcome).join(', ') : 'no record within 180 s';
  }
  await remove(ctx, p, logFile);
  ctx.log(`${id}: control call ${outcome}`);
  return outcome;
}

/** The kernel log's lines about sched_ext, oldest first (dmesg). */
function schedExtKernelLog(): string[] {
  return run('dmesg', []).stdout.split('\n').filter((l) => /sched_ext/i.test(l));
}

/** What the running daemon's `status --json` says of its scheduler (undefined: no answer, or nothing about it). */
async function schedulerStatus(policy: string): Promise<{ state: string; detail: string } | undefined> {
  const r = await capture(process.execPath, [CLI, 'status', '--json', '--policy', policy]);
  try {
    const sched = (JSON.parse(r.out) as { scheduler?: { state: string; detail: string } | null }).scheduler;
    return sched ? { state: sched.state, detail: sched.detail } : undefined;
  } catch {
    return { state: 'no answer', detail: r.out.slice(0, 300) };
  }
}

function setUpBudget(name: string): void {
  writeFileSync(join(CGROUP_ROOT, 'cgroup.subtree_control'), '+memory +cpu +pids');
  mkdirSync(join(CGROUP_ROOT, name));
  writeFileSync(join(CGROUP_ROOT, name, 'cgroup.subtree_control'), '+memory +cpu +pids');
  // Small enough that concurrent calls cross the ladder's freeze line now and then.
  writeFileSync(join(CGROUP_ROOT, name, 'memory.max'), String(192 * MiB));
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const startedAt = Date.now();
  const report: ChaosReport = {
    seed: o.seed,
    cycles: o.cycles,
    elapsedS: 0,
    started: 0,
    startFailed: 0,
    kills: {},
    callsSent: 0,
    callsBegun: 0,
    control: { id: `chaos-${o.seed}-control`, outcome: 'not run' },
    daemonReadyS: [],
    perFault: {},
    outcomes: {},
    freezes: 0,
    runProblems: [],
    messages: [],
    leaks: [],
    schedExt: o.schedExt ? { atStart: undefined, kills: [], beforeStop: undefined, problems: [] } : null,
  };
  const s = scratch(o.schedExt ? LADDER + SCHED_EXT : LADDER);
  const budget = `chaos-${o.seed}`;
  const plans = planChaos({ cycles: o.cycles, seed: o.seed, prefix: budget, ...(o.daemonKillPercent === undefined ? {} : { daemonKillPercent: o.daemonKillPercent }) });
  const wrapper = join(s.dir, 'hook-wrapper.sh');
  writeFileSync(wrapper, HOOK_WRAPPER);
  const killLog = join(s.dir, 'hook-kills.log');
  const hookEnv = ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'];
  let hookCommand = [process.execPath, CLI];
  if (o.front) {
    // The front execs this on fallback with its own argv: "$@" is `hook --policy FILE`.
    const cli = join(s.dir, 'agentcgroup-cli');
    writeFileSync(cli, `#!/bin/sh\nexec ${process.execPath} ${CLI} "$@"\n`, { mode: 0o755 });
    hookCommand = [resolve('dist/agentcgroup-hook')];
    hookEnv.push(`AGENTCGROUP_BINARY=${cli}`, `AGENTCGROUP_ADMIN_SOCKET=${join(s.runDir, 'admin.sock')}`);
  }
  const cgroupsBefore = cgroupTree();
  const bpfBefore = bpfIds();
  const pinnedBefore = pinned();
  const schedExtBefore = schedExtView();
  const kernelLogBefore = o.schedExt ? schedExtKernelLog().length : 0;
  setUpBudget(budget);
  const log = (line: string) => o.say(`${((Date.now() - startedAt) / 1000).toFixed(1).padStart(6)} s  ${line}`);
  const ctx: Ctx = { s, budget, wrapper, hookCommand, hookEnv, killLog, report, daemon: undefined as unknown as DaemonKeeper, log };
  ctx.daemon = new DaemonKeeper(() => ctx);
  const markers = new MarkerWatch(join(s.runDir, 'calls'));
  markers.start();
  await ctx.daemon.start();
  if (report.schedExt) {
    await eventually(() => runsOurs(schedExtView()), 10_000);
    report.schedExt.atStart = schedExtView();
  }

  // A fixed number of slots, each taking the next cycle when its container is gone.
  let next = 0;
  const slot = async () => {
    while (next < plans.length) {
      const p = plans[next++]!;
      try {
        await cycle(ctx, p);
      } catch (err) {
        report.runProblems.push(`${p.id}: ${err instanceof Error ? err.message : String(err)}`);
      }
      if ((p.index + 1) % 10 === 0) log(`${p.index + 1}/${plans.length} cycles`);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, slot));
  // No more kills: a kill under way has restarted the daemon when this returns.
  await ctx.daemon.quiesce();
  try {
    report.control.outcome = await controlCycle(ctx, report.control.id);
  } catch (err) {
    report.runProblems.push(`${report.control.id}: ${err instanceof Error ? err.message : String(err)}`);
  }

  // The daemon finishes calls of gone containers on its own events: give it a moment, then stop it.
  await eventually(() => !listTree(s.runDir).some((p) => p.startsWith('containers/') && p !== 'containers/'), 30_000);
  // Asked of a daemon that runs (quiesced above).
  if (report.schedExt) report.schedExt.beforeStop = await schedulerStatus(s.policy);
  const stopped = await ctx.daemon.stop();
  if (stopped !== 0) report.runProblems.push(`the daemon exited ${stopped} on SIGTERM`);
  markers.stop();
  // The kernel frees a closed program, link or map from deferred work, and switches back to the fair
  // class off the daemon's exit path: waited for (a busy emulated machine took over a second), each
  // with a generous deadline; what is still there then is a leak.
  const bpfHad = new Set((['prog', 'link', 'map'] as const).flatMap((k) => bpfBefore[k].map((b) => `${k} ${b.id}`)));
  await eventually(() => {
    const now = bpfIds();
    return (['prog', 'link', 'map'] as const).every((k) => now[k].every((b) => bpfHad.has(`${k} ${b.id}`)));
  }, 30_000);
  if (report.schedExt) await eventually(() => schedExtView()?.state === 'disabled', 10_000);
  // The budget goes once its last container cgroup has (rmdir fails while one is there: left for the verdict).
  await eventually(() => {
    try {
      rmdirSync(join(CGROUP_ROOT, budget));
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ENOENT';
    }
  }, 15_000);
  // The hook wrapper's own killer (a subshell under the wrapper's command line) outlives the hook it
  // aims at by up to its delay (2.5 s) when the hook ends first: the test's process, not ours.
  await eventually(() => processesMentioning([wrapper]).length === 0, 10_000);

  const records = callRecords(s.callDir);
  for (const r of records) bump(report.outcomes, r.outcome);
  report.callsBegun = markers.begun.size;
  report.daemonReadyS = ctx.daemon.readyS;
  for (const p of plans) {
    const f = (report.perFault[p.fault] ??= { cycles: 0, sent: 0, begun: 0 });
    f.cycles++;
    f.sent += p.calls.length;
    f.begun += [...markers.begun.values()].filter((m) => m.container === p.id).length;
  }
  report.freezes = ctx.daemon.logs.reduce((n, l) => n + (readOr(l).match(/ frozen: /g)?.length ?? 0), 0);
  for (const line of readOr(killLog).split('\n').filter(Boolean)) bump(report.kills, `hook-${line.split(' ')[0]}`);
  const schedExtNow = schedExtView();
  report.leaks = findLeaks({
    cgroupsBefore,
    cgroupsNow: cgroupTree(),
    frozen: frozenCgroups(),
    bpfBefore,
    bpfNow: bpfIds(),
    pinnedBefore,
    pinnedNow: pinned(),
    runDir: existsSync(s.runDir) ? listTree(s.runDir) : [],
    callsBegun: [...markers.begun.values()],
    records,
    processes: processesMentioning([s.dir, CLI]),
    ...(schedExtBefore === undefined ? {} : { schedExtBefore }),
    ...(schedExtNow === undefined ? {} : { schedExtNow }),
  });
  const containerLogs = [...plans.map((p) => p.id), report.control.id].map((id) => join(s.dir, `${id}.log`));
  explainCallLeaks(report.leaks, markers, ctx.daemon, [...ctx.daemon.logs, ...containerLogs, killLog]);
  if (report.schedExt) {
    report.schedExt.kernelLog = schedExtKernelLog().slice(kernelLogBefore);
    report.schedExt.problems = schedExtProblems(report.schedExt, FALLBACK_DEADLINE_MS);
  }
  // Our own command lines (`$ crun ...`) are not messages; the agent's FIFO reopening is busybox noise.
  const printed = containerLogs.flatMap((f) => readOr(f).split('\n')).filter((l) => !/^[\d:.]+ \$ /.test(l) && !l.includes("can't open /ctl/fifo"));
  report.messages = tallyMessages(printed);
  report.elapsedS = Math.round((Date.now() - startedAt) / 1000);
  o.say(summary(report));
  return report;
}

/**
 * A call that began with no record (or two) explains itself: what its marker went through, when the
 * daemons came and went, and what the logs say of the call and its container (leaks.ts callEvidence).
 */
function explainCallLeaks(leaks: Leak[], markers: MarkerWatch, daemon: DaemonKeeper, logFiles: string[]): void {
  const callLeaks = leaks.filter((l) => l.call !== undefined);
  if (callLeaks.length === 0) return;
  const logs: LogText[] = logFiles.map((f) => ({ name: basename(f), text: readOr(f) }));
  for (const l of callLeaks) {
    const { container, call } = l.call!;
    l.detail = [
      ...markers.story(container, call).map((line) => `marker: ${line}`),
      ...daemon.timeline.slice(0, 15).map((line) => `daemons: ${line}`),
      ...callEvidence(container, call, logs),
    ];
  }
}

export function summary(r: ChaosReport): string {
  const kv = (o: Record<string, number>) => Object.entries(o).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
  return [
    `chaos: seed ${r.seed}, ${r.cycles} cycles in ${r.elapsedS} s: ${r.started} containers started, ${r.startFailed} starts failed`,
    `kills injected: ${kv(r.kills)}`,
    `tool calls: ${r.callsSent} sent, ${r.callsBegun} begun; records by outcome: ${kv(r.outcomes)}; ladder freezes: ${r.freezes}`,
    `daemon ready after (start, then each restart): ${r.daemonReadyS.map((t) => `${t} s`).join(', ')}; control call ${r.control.id}: ${r.control.outcome}`,
    `by fault (cycles/calls sent/begun): ${Object.entries(r.perFault).map(([k, f]) => `${k} ${f.cycles}/${f.sent}/${f.begun}`).join(', ')}`,
    `runtime and hook messages: ${r.messages.length === 0 ? 'none' : r.messages.map(([m, n]) => `\n  ${n} x ${m}`).join('')}`,
    `run problems: ${r.runProblems.length === 0 ? 'none' : r.runProblems.join('; ')}`,
    ...(r.schedExt ? [`sched_ext: ${describeSchedExt(r.schedExt)}; problems: ${r.schedExt.problems.length === 0 ? 'none' : r.schedExt.problems.join('; ')}`] : []),
    ...(r.schedExt?.problems.length && r.schedExt.kernelLog?.length ? [`kernel on sched_ext:\n  ${r.schedExt.kernelLog.join('\n  ')}`] : []),
    `leaks: ${countByKind(r.leaks)}${r.leaks.length === 0 ? '' : `\n  ${r.leaks.map((l) => `${l.kind}: ${l.what}${(l.detail ?? []).map((d) => `\n      ${d}`).join('')}`).join('\n  ')}`}`,
  ].join('\n');
}
