/**
 * Which process in a container is the framework and which exec starts a tool call, decided from who
 * started whom. Pure: the tracker's fork, exec and exit events in, a verdict per exec out; where an
 * event is missing (the daemon started late, an event was lost) it asks a read-only view of /proc.
 *
 * The rule (config/README.md shows it on real container shapes):
 * - The container's init, and every program a *launcher* starts, is part of the lineage. A launcher
 *   is an init wrapper, a shell or a language launcher (tini, dumb-init, catatonit, sh, env, npx...,
 *   `tracker.launchers`); the first program in the lineage that is not one is the **framework**.
 *   Launchers only start the framework (and its setup): nothing they start is a tool call.
 * - Every program the framework starts is a **tool call**, whatever its name (a node framework runs
 *   `node` for its tools too), unless it matches `tracker.framework` (helpers that are part of the
 *   framework, such as MCP servers) or is a **session**: a shell with no command to run (it reads its
 *   commands from a pipe or a pty) or a terminal host (tmux, screen, script).
 * - Every program a session starts is a tool call; a session never is one, so it is never frozen or
 *   killed as one. While a call a session started still has processes, what the same session starts
 *   joins that call (one command line `a | b` is one call).
 * - A process forked and not exec'd is its parent's: a subshell of a session, a worker of the framework.
 */
import { globToRegExp } from '../glob.js';

export type Role = 'launcher' | 'framework' | 'session' | 'call';

/** What an exec'd program is: from the tracker's event, and /proc/<pid>/cmdline while it is held. */
export interface Program {
  comm: string;
  filename: string;
  argv: readonly string[];
}

export interface LineageRules {
  /** Programs that only start others: init wrappers, shells, language launchers. */
  launchers: readonly string[];
  /** Programs the framework starts that belong to it, not tool calls (`tracker.framework`). */
  framework: readonly string[];
}

/** A read-only view of /proc for processes whose events the daemon did not see. */
export interface ProcView {
  parentOf(pid: number): number | undefined;
  program(pid: number): Program | undefined;
}

export type Verdict =
  /** Not a tool call: stays in the agent leaf. `role` says what it was taken for. */
  | { kind: 'stay'; role: Exclude<Role, 'call'>; why: string }
  /** A new tool call, started by `starter` (the framework or a session). */
  | { kind: 'call'; starter: Starter; why: string }
  /** Part of a call that already runs (its leader's child, or the next stage of a session's pipeline). */
  | { kind: 'join'; callId: string; why: string };

/** Who started a call: what `status`, `top` and the call record show. */
export interface Starter {
  pid: number;
  role: 'framework' | 'session';
  name: string;
}

/** Shown by `status`: what the daemon takes for the framework and its helpers. */
export interface LineageView {
  pid: number;
  role: Exclude<Role, 'call'>;
  name: string;
}

const SHELLS = new Set(['sh', 'bash', 'dash', 'ash', 'zsh', 'ksh', 'mksh', 'fish', 'busybox']);
const TERMINAL_HOSTS = new Set(['tmux', 'tmux: server', 'tmux: client', 'screen', 'SCREEN', 'script']);
/** Shell options that take the next word as their value. */
const SHELL_VALUE_OPTIONS = new Set(['-o', '+o', '-O', '+O', '--rcfile', '--init-file']);

const base = (path: string) => path.split('/').pop() ?? '';

/** The program's own name: argv[0]'s base name (busybox applets and login shells' `-bash`), else the path's. */
export function programName(p: Program): string {
  const arg0 = base(p.argv[0] ?? '').replace(/^-/, '');
  return arg0 || base(p.filename) || p.comm;
}

/** Programs whose first argument names the program that really runs: a script, module or package. */
const INTERPRETERS = /^(node(js)?|python[0-9.]*|pypy[0-9.]*|npx|bunx?|deno|uvx?|pipx|ruby|perl|java)$/;

/**
 * The script or package an interpreter or launcher runs: its first argument that is not an option
 * (`node mcp-server.js`, `npx -y @modelcontextprotocol/server-git`, `python3 -m mcp_server`). Only
 * for interpreters: `env sh -c ...` runs sh as a program of its own, and a shell's first argument is
 * a command line, not a program.
 */
function scriptOf(p: Program): string | undefined {
  if (!INTERPRETERS.test(programName(p))) return undefined;
  return p.argv.slice(1, 8).find((a) => !a.startsWith('-'));
}

/**
 * A pattern with a `/` matches the exec'd path; one without matches the process name, the program's
 * name, or the script an interpreter runs; `*` is a wildcard.
 */
export function matchesProgram(patterns: readonly string[], p: Program): boolean {
  const names = [p.comm, programName(p), base(p.filename)];
  const script = scriptOf(p);
  if (script !== undefined) names.push(script);
  return patterns.some((pat) => {
    const re = globToRegExp(pat);
    return pat.includes('/') ? re.test(p.filename) || (script !== undefined && re.test(script)) : names.some((n) => re.test(n));
  });
}

/** A shell that was given no command and no script: it reads commands from its stdin or terminal. */
export function isSessionShell(p: Program): boolean {
  if (!SHELLS.has(programName(p)) && !SHELLS.has(base(p.filename))) return false;
  const args = p.argv.slice(1);
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '--') return i + 1 >= args.length;
    if (SHELL_VALUE_OPTIONS.has(a)) {
      i++;
      continue;
    }
    if (a === '-s') return true; // commands from stdin; what follows are positional parameters
    if (/^-[a-zA-Z]*c[a-zA-Z]*$/.test(a)) return false;
    if (a.startsWith('-') || a.startsWith('+')) continue;
    return false; // a script file
  }
  return true;
}

export function isTerminalHost(p: Program): boolean {
  return TERMINAL_HOSTS.has(programName(p)) || TERMINAL_HOSTS.has(p.comm);
}

interface Proc {
  /** What it is since its last exec; a forked process is its parent's until it execs. */
  role: Role;
  /** The role of the process that started it: decides what its next exec makes it. */
  starter: Role | 'init';
  starterPid: number;
  name: string;
  /** It exec'd a program of its own (a fork that has not is listed under its parent only). */
  execd: boolean;
  callId?: string;
}

interface CallState {
  members: number;
  /** The session whose command line it is: later stages of the same line join it. */
  session?: number;
}

/** Processes tracked per container; past this the oldest call members are forgotten (a fork bomb). */
export const MAX_TRACKED = 32_768;
const MAX_PROC_DEPTH = 64;

/**
 * The process tree of one container as its events tell it. One per container: a pid is looked up
 * only among that container's processes, so no other container's events can change its verdicts.
 */
export class Lineage {
  private readonly procs = new Map<number, Proc>();
  private readonly calls = new Map<string, CallState>();
  /** The call a session's current command line runs as. */
  private readonly sessionCall = new Map<number, string>();

  constructor(
    readonly initPid: number,
    private readonly rules: LineageRules,
    private readonly view: ProcView,
  ) {}

  /** A fork: the child is its parent's until it execs; a call member's child joins the call. */
  fork(parent: number, child: number): { join?: string } {
    const p = this.procs.get(parent) ?? this.recover(parent, undefined, 1);
    const entry: Proc = { role: p.role, starter: p.starter, starterPid: p.starterPid, name: p.name, execd: false };
    if (p.role === 'call' && p.callId !== undefined) {
      entry.callId = p.callId;
      const c = this.calls.get(p.callId);
      if (c) c.members++;
    }
    // What a child execs is judged by the role of the nearest process that exec'd a program of its
    // own: a subshell of a session is the session's, a worker forked by the framework the framework's.
    if (p.role !== 'call' && p.execd) {
      entry.starter = p.role;
      entry.starterPid = parent;
    }
    this.put(child, entry);
    return entry.callId !== undefined ? { join: entry.callId } : {};
  }

  /** An exec by a process's leader: what the new program is. */
  exec(pid: number, ppid: number, program: Program): Verdict {
    let proc = this.procs.get(pid);
    if (!proc) proc = this.recover(pid, ppid, 0);
    const name = programName(program);
    proc.execd = true;
    if (proc.role === 'call' && proc.callId !== undefined) {
      proc.name = name;
      return { kind: 'join', callId: proc.callId, why: 'a process of a running call' };
    }
    const verdict = this.judge(proc, program);
    proc.name = name;
    if (verdict.kind === 'stay') proc.role = verdict.role;
    else if (verdict.kind === 'call') proc.role = 'call';
    else if (verdict.kind === 'join') this.bind(pid, verdict.callId);
    return verdict;
  }

  /** The router began the call a `call` verdict asked for. */
  bind(pid: number, callId: string, session?: number): void {
    const proc = this.procs.get(pid);
    if (!proc) return;
    if (!this.calls.has(callId)) this.calls.set(callId, { members: 0, ...(session === undefined ? {} : { session }) });
    const c = this.calls.get(callId)!;
    if (proc.callId !== callId) c.members++;
    proc.role = 'call';
    proc.callId = callId;
    if (session !== undefined) this.sessionCall.set(session, callId);
  }

  /** The router could not begin the call: the process stays in the agent leaf as what started it. */
  unbound(pid: number): void {
    const proc = this.procs.get(pid);
    if (proc && proc.role !== 'call') proc.role = proc.starter === 'session' ? 'session' : 'framework';
  }

  exit(pid: number): void {
    const proc = this.procs.get(pid);
    if (!proc) return;
    this.procs.delete(pid);
    if (proc.callId !== undefined) this.memberGone(proc.callId);
    this.sessionCall.delete(pid);
  }

  /** The call ended (its cgroup emptied): nothing joins it any more. */
  ended(callId: string): void {
    const c = this.calls.get(callId);
    this.calls.delete(callId);
    if (c?.session !== undefined && this.sessionCall.get(c.session) === callId) this.sessionCall.delete(c.session);
    for (const p of this.procs.values()) if (p.callId === callId) delete p.callId;
  }

  /** What is taken for the framework, its launchers and sessions: for status, top and the logs. */
  roles(): LineageView[] {
    const out: LineageView[] = [];
    for (const [pid, p] of this.procs) if (p.role !== 'call' && p.execd) out.push({ pid, role: p.role, name: p.name });
    return out.sort((a, b) => a.pid - b.pid);
  }

  get size(): number {
    return this.procs.size;
  }

  private judge(proc: Proc, program: Program): Verdict {
    const name = programName(program);
    switch (proc.starter) {
      case 'init':
      case 'launcher':
        if (matchesProgram(this.rules.framework, program)) return { kind: 'stay', role: 'framework', why: `${name} is named in tracker.framework` };
        if (matchesProgram(this.rules.launchers, program)) return { kind: 'stay', role: 'launcher', why: `${name} is a launcher` };
        return { kind: 'stay', role: 'framework', why: `the first program a launcher or init starts that is not one` };
      case 'framework':
        if (matchesProgram(this.rules.framework, program)) return { kind: 'stay', role: 'framework', why: `${name} is named in tracker.framework` };
        if (isTerminalHost(program)) return { kind: 'stay', role: 'session', why: `${name} is a terminal host` };
        if (isSessionShell(program)) return { kind: 'stay', role: 'session', why: `${name} has no command: it reads commands` };
        return { kind: 'call', starter: this.starter(proc), why: 'started by the framework' };
      case 'session': {
        if (isTerminalHost(program) || isSessionShell(program)) return { kind: 'stay', role: 'session', why: `${name} runs a session's commands` };
        const host = this.procs.get(proc.starterPid);
        if (host && TERMINAL_HOSTS.has(host.name) && SHELLS.has(name)) return { kind: 'stay', role: 'session', why: `${name} is the shell of terminal host ${host.name}` };
        const open = this.sessionCall.get(proc.starterPid);
        if (open !== undefined && (this.calls.get(open)?.members ?? 0) > 0) return { kind: 'join', callId: open, why: 'the same command line of the session' };
        return { kind: 'call', starter: this.starter(proc), why: 'a command the session runs' };
      }
      case 'call':
        // A call member that lost its call (the call ended): its exec starts nothing new.
        return { kind: 'stay', role: 'framework', why: 'left over from an ended call' };
    }
  }

  private starter(proc: Proc): Starter {
    const s = this.procs.get(proc.starterPid);
    return { pid: proc.starterPid, role: proc.starter === 'session' ? 'session' : 'framework', name: s?.name ?? (proc.starterPid === 0 ? '(outside the container)' : '?') };
  }

  /**
   * A process whose fork was not seen: its place is rebuilt from /proc, up to a known ancestor. At
   * depth 0 it is the one about to exec (its verdict comes from that exec); above, ancestors are
   * judged by the program they run now.
   */
  private recover(pid: number, ppidHint: number | undefined, depth: number): Proc {
    const known = this.procs.get(pid);
    if (known) return known;
    let entry: Proc;
    if (pid === this.initPid || depth >= MAX_PROC_DEPTH) {
      entry = { role: 'launcher', starter: 'init', starterPid: pid, name: 'init', execd: true };
    } else {
      const ppid = (depth === 0 ? ppidHint : undefined) ?? this.view.parentOf(pid);
      if (ppid === undefined || ppid <= 0) {
        // Started from outside the container (docker exec, kubectl exec): whoever runs it there acts
        // as the framework, so it is judged as the framework's child.
        entry = { role: 'framework', starter: 'framework', starterPid: 0, name: '(outside the container)', execd: false };
      } else {
        const parent = this.recover(ppid, undefined, depth + 1);
        entry = {
          role: parent.role,
          starter: parent.role === 'call' ? parent.starter : parent.role,
          starterPid: parent.role === 'call' ? parent.starterPid : ppid,
          name: parent.name,
          execd: true,
        };
        if (parent.role === 'call' && parent.callId !== undefined) entry.callId = parent.callId;
      }
    }
    if (depth > 0) {
      // An ancestor: what it is follows from its own program, as its exec would have said.
      const program = this.view.program(pid);
      if (program) {
        entry.name = programName(program);
        if (entry.role !== 'call') {
          const v = this.judge(entry, program);
          entry.role = v.kind === 'stay' ? v.role : 'framework';
        }
      }
    }
    this.put(pid, entry);
    return entry;
  }

  private put(pid: number, entry: Proc): void {
    if (this.procs.size >= MAX_TRACKED) this.evict();
    this.procs.set(pid, entry);
  }

  private evict(): void {
    for (const [pid, p] of this.procs) {
      if (p.role === 'call') {
        this.procs.delete(pid);
        if (p.callId !== undefined) this.memberGone(p.callId);
        return;
      }
    }
    const first = this.procs.keys().next().value;
    if (first !== undefined) this.procs.delete(first);
  }

  private memberGone(callId: string): void {
    const c = this.calls.get(callId);
    if (c) c.members = Math.max(0, c.members - 1);
  }
}
