import { AGENT_LEAF, TOOLS_PARENT } from '../layout.js';
import type { TrackerEvent } from '../bpf/tracker.js';
import { DEFAULT_POLICY } from '../config/policy.js';
import { describeError } from '../errors.js';
import { Lineage, type LineageRules, type LineageView, type Program, type Starter } from '../policy/lineage.js';
import type { ProcessOps } from '../sys/procfs.js';
import type { Watched } from '../state/watched.js';
import type { CallBook, Log } from './calls.js';

/** What the router needs of the call book (a seam: unit tests stand in for it). */
export type CallSink = Pick<CallBook, 'begin' | 'join' | 'noteExit' | 'onEnded'>;

interface Followed {
  c: Watched;
  lineage: Lineage;
}

/** Agent-leaf children between fork and exec, for placement times; bounded, most never exec. */
const MAX_FORKS = 4096;

/**
 * Routes the tracker's events: each container's process tree (policy/lineage.ts) says which exec
 * starts a tool call; the call book makes its cgroup and moves it in. A process the tracker held at
 * exec is continued here, whatever happens to the decision: nothing stays stopped on our account.
 */
export class TrackerRouter {
  private readonly followed = new Map<bigint, Followed>();
  private readonly forks = new Map<number, bigint>();

  constructor(
    private readonly calls: CallSink,
    private readonly procs: ProcessOps,
    private readonly log: Log,
  ) {
    calls.onEnded((callId, c) => this.followed.get(c.cgroupId)?.lineage.ended(callId));
  }

  static rules(c: Watched): LineageRules {
    return { launchers: c.record.launchers ?? DEFAULT_POLICY.tracker.launchers, framework: c.record.framework };
  }

  follow(c: Watched): void {
    const inside = (pid: number) => this.procs.cgroup(pid)?.startsWith(`/${c.record.cgroup}/`) === true;
    const lineage = new Lineage(c.record.pid, TrackerRouter.rules(c), {
      // Only the container's own processes: the walk up never leaves it (a process started by
      // `docker exec` has its parent outside).
      parentOf: (pid) => {
        const ppid = this.procs.stat(pid)?.ppid;
        return ppid !== undefined && ppid > 0 && inside(ppid) ? ppid : undefined;
      },
      program: (pid) => this.program(pid),
    });
    this.followed.set(c.cgroupId, { c, lineage });
  }

  unfollow(c: Watched): void {
    this.followed.delete(c.cgroupId);
  }

  /** What each container's framework, launchers and sessions are taken to be. */
  roles(c: Watched): LineageView[] {
    return this.followed.get(c.cgroupId)?.lineage.roles() ?? [];
  }

  onEvent(e: TrackerEvent): void {
    try {
      this.route(e);
    } finally {
      if (e.held && !this.procs.resume(e.pid)) this.log.warn(`process ${e.pid}: held at exec and gone before it could be continued`);
    }
  }

  /**
   * After a (re)start: what the tracker could not see. Processes in the agent leaf are placed as
   * their exec would have placed them, from /proc; any left stopped at exec by a daemon that died
   * between hold and continue goes on. A stop inside a terminal job is the job's own and stays.
   */
  sweep(c: Watched): void {
    const f = this.followed.get(c.cgroupId);
    if (!f) return;
    const agent = `${c.record.cgroup}/${AGENT_LEAF}`;
    const pids = c.fs.procs(agent).sort((a, b) => a - b);
    for (const pid of pids) {
      // The init may not have exec'd the container's program yet (runtimes park it): its own exec
      // event, or the first child it forks, places it.
      if (pid === c.record.pid) continue;
      const program = this.program(pid);
      const stat = this.procs.stat(pid);
      if (!program || !stat) continue;
      // The same command line as its parent: a fork that has not exec'd (a worker), the parent's own.
      const parent = this.procs.cmdline(stat.ppid);
      if (parent !== undefined && parent.join('\0') === program.argv.join('\0')) f.lineage.fork(stat.ppid, pid);
      else this.decide(f, pid, stat.ppid, program, undefined);
    }
    this.continueStranded(c);
  }

  /** Continues whatever sits stopped at exec in the container's agent leaf or calls (a hold nobody answered). */
  continueStranded(c: Watched): void {
    const agent = `${c.record.cgroup}/${AGENT_LEAF}`;
    const tools = c.fs.exists(`${c.record.cgroup}/${TOOLS_PARENT}`) ? c.fs.children(`${c.record.cgroup}/${TOOLS_PARENT}`).map((k) => `${c.record.cgroup}/${TOOLS_PARENT}/${k}`) : [];
    for (const cg of [agent, ...tools]) {
      let members: number[];
      try {
        members = c.fs.procs(cg);
      } catch {
        continue;
      }
      for (const pid of members) if (this.strandedAtExec(pid) && this.procs.resume(pid)) this.log.info(`container ${c.record.id}: continued process ${pid}, left held at exec`);
    }
  }

  private strandedAtExec(pid: number): boolean {
    const s = this.procs.stat(pid);
    if (!s || s.state !== 'T') return false;
    if (s.ttyNr === 0) return true;
    return this.procs.stat(s.ppid)?.pgrp === s.pgrp;
  }

  private route(e: TrackerEvent): void {
    if (e.type === 'exit') {
      this.forks.delete(e.pid);
      this.calls.noteExit(e.pid, e.exitCode);
      this.followed.get(e.watchId)?.lineage.exit(e.pid);
      return;
    }
    const f = this.followed.get(e.watchId);
    if (!f) return;
    const inAgent = e.cgroupId === f.c.agentCgroupId;
    if (e.type === 'fork') {
      const { join } = f.lineage.fork(e.ppid, e.pid);
      // A child forked before its parent's move stays behind in the agent leaf: it follows the call.
      if (join !== undefined && inAgent) this.calls.join(join, e.pid);
      else if (inAgent) this.rememberFork(e.pid, e.tsNs);
      return;
    }
    const forkNs = this.forks.get(e.pid);
    this.forks.delete(e.pid);
    if (e.pid !== e.tgid) return;
    // Outside the agent leaf a process is already some call's (or placed by exec): nothing to decide.
    if (!inAgent) return;
    const program: Program = { comm: e.comm, filename: e.filename, argv: this.procs.cmdline(e.pid) ?? [e.filename] };
    this.decide(f, e.pid, e.ppid, program, { execNs: e.tsNs, held: e.held, ...(forkNs === undefined ? {} : { forkNs }) });
  }

  private decide(f: Followed, pid: number, ppid: number, program: Program, timing: { execNs: bigint; forkNs?: bigint; held: boolean } | undefined): void {
    const v = f.lineage.exec(pid, ppid, program);
    if (v.kind === 'join') {
      this.calls.join(v.callId, pid);
      return;
    }
    if (v.kind === 'stay') {
      if (v.role !== 'launcher') this.log.info(`container ${f.c.record.id}: process ${pid} (${program.argv.slice(0, 4).join(' ').slice(0, 120)}) is ${v.role === 'framework' ? 'the framework' : 'a session'}: ${v.why}`);
      return;
    }
    const callId = this.begin(f.c, pid, v.starter, program, timing);
    if (callId === undefined) f.lineage.unbound(pid);
    else f.lineage.bind(pid, callId, v.starter.role === 'session' ? v.starter.pid : undefined);
  }

  private begin(c: Watched, pid: number, starter: Starter, program: Program, timing: { execNs: bigint; forkNs?: bigint; held: boolean } | undefined): string | undefined {
    try {
      return this.calls.begin(c, pid, { argv: [...program.argv], fallback: program.comm || 'call', startedBy: starter, ...(timing ?? {}) });
    } catch (err) {
      this.log.warn(`container ${c.record.id}: cannot start a call for process ${pid}: ${describeError(err)}`);
      return undefined;
    }
  }

  private program(pid: number): Program | undefined {
    const argv = this.procs.cmdline(pid);
    const comm = this.procs.comm(pid);
    if (argv === undefined && comm === undefined) return undefined;
    return { comm: comm ?? '', filename: argv?.[0] ?? '', argv: argv ?? [comm ?? ''] };
  }

  private rememberFork(pid: number, tsNs: bigint): void {
    if (this.forks.size >= MAX_FORKS) this.forks.delete(this.forks.keys().next().value as number);
    this.forks.set(pid, tsNs);
  }
}
