/**
 * Which exec in a container starts a tool call. Pure: the tracker's event and what we know of the
 * container in, a decision out.
 *
 * The rule: a process sitting in the agent leaf that execs a new program is a tool call (the
 * framework forked it to run a command) unless it is the container's init, or the program is listed
 * as part of the framework. Processes already in a tool call's cgroup are that call's own business.
 */
export interface ExecEvent {
  pid: number;
  tgid: number;
  cgroupId: bigint;
  comm: string;
  filename: string;
}

export interface AgentView {
  agentCgroupId: bigint;
  initPid: number;
  framework: readonly string[];
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

/** A pattern with a `/` names a program by path; one without, by process name. */
export function matchesFramework(patterns: readonly string[], e: Pick<ExecEvent, 'comm' | 'filename'>): boolean {
  return patterns.some((p) => globToRegExp(p).test(p.includes('/') ? e.filename : e.comm));
}

export function isToolCallExec(e: ExecEvent, c: AgentView): boolean {
  return e.pid === e.tgid && e.cgroupId === c.agentCgroupId && e.pid !== c.initPid && !matchesFramework(c.framework, e);
}

/** The name a call gets in logs: the program's base name (comm is cut at 15 characters). */
export function callName(e: Pick<ExecEvent, 'comm' | 'filename'>): string {
  const base = e.filename.split('/').pop();
  return base && base.length > 0 ? base : e.comm || 'call';
}
