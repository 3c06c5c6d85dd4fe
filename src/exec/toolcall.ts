import { readFileSync, rmSync } from 'node:fs';
import { Cgroupfs } from '../cgroup/cgroupfs.js';
import { checkCgroupPath, findCgroup2Root } from '../cgroup/locate.js';
import { parseLimit } from '../cgroup/stats.js';
import { resolveLimits } from '../carve/plan.js';
import type { Policy } from '../config/types.js';
import { AgentcgroupError, describeError } from '../errors.js';
import type { HostEnv } from '../host/env.js';
import { hostMemoryBytes } from '../host/meminfo.js';
import { TOOLS_PARENT } from '../layout.js';
import type { Limits } from '../limits.js';
import { type LadderRecord, type RunningCall, StateStore } from '../state/records.js';
import { settleCall } from '../state/settle.js';
import { shellStatus, spawnForwarding } from '../sys/forward.js';
import { quote } from '../text.js';
import { createCallCgroup, finishCallCgroup, newCallId } from './callcgroup.js';
import { type CallStats, NO_STATS, callNotice, finishedRecord, parseLadderRecord } from './record.js';

export type ExecTarget = { container: string } | { cgroup: string };

export interface ExecRequest {
  target: ExecTarget;
  name: string;
  argv: string[];
  policy: Policy;
}

interface Resolved {
  fs: Cgroupfs;
  cgroup: string;
  tool: Limits;
  container: string | null;
  logKey: string;
}

/** Finds C and the tool template: from a carve's record, or from policy for a bare cgroup path. */
function resolveTarget(req: ExecRequest, store: StateStore, host: HostEnv): Resolved {
  if ('container' in req.target) {
    const id = req.target.container;
    const rec = store.loadContainer(id);
    if (!rec) throw new AgentcgroupError('unknown-container', `container ${id} is not carved by agentcgroup (no record in ${store.runDir}/containers)`);
    return { fs: new Cgroupfs(rec.cgroupRoot, host.fsOps), cgroup: rec.cgroup, tool: rec.tool, container: id, logKey: id };
  }
  const root = host.cgroupRoot ?? findCgroup2Root(host.procRoot);
  const given = req.target.cgroup;
  const relative = given.startsWith(`${root}/`) ? given.slice(root.length) : given;
  const cgroup = checkCgroupPath(relative, '--cgroup');
  const fs = new Cgroupfs(root, host.fsOps);
  if (!fs.exists(`${cgroup}/${TOOLS_PARENT}`)) throw new AgentcgroupError('not-carved', `cgroup ${fs.path(cgroup)} is not carved by agentcgroup (it has no ${TOOLS_PARENT}/ child)`);
  const { tool } = resolveLimits(req.policy, parseLimit(fs.read(cgroup, 'memory.max')), hostMemoryBytes(host.procRoot));
  return { fs, cgroup, tool, container: null, logKey: `cgroup-${cgroup.replace(/\//g, '_')}` };
}

/*
 * Node has no pre-exec hook, so a tiny sh moves itself into the call's cgroup (writing 0 moves the
 * writer) and only then execs the command: not one byte of the command is charged elsewhere. It
 * reports the move on fd 3, which the command does not inherit.
 */
const PLACE = 'echo 0 > "$0" || exit 126; echo placed >&3; exec "$@" 3>&-';

interface ChildEnd {
  placed: boolean;
  exit: number | null;
  signal: NodeJS.Signals | null;
}

async function runPlaced(procsFile: string, argv: string[]): Promise<ChildEnd> {
  let report = '';
  const end = await spawnForwarding('/bin/sh', ['-c', PLACE, procsFile, ...argv], { stdio: ['inherit', 'inherit', 'inherit', 'pipe'] }, '/bin/sh to place the tool call', 'close', (child) =>
    child.stdio[3]?.on('data', (d: Buffer) => (report += d.toString())),
  );
  return { placed: report.includes('placed'), ...end };
}

/** Runs one tool call in a fresh C/tools/<call-id> and returns the exit code to pass on. */
export async function runToolCall(req: ExecRequest, host: HostEnv, stderr: (line: string) => void): Promise<number> {
  const store = new StateStore(req.policy.paths.runDir, req.policy.paths.callLogDir, req.policy.limits);
  const t = resolveTarget(req, store, host);
  const callId = newCallId(req.name);
  const cg = createCallCgroup(t.fs, t.cgroup, callId, t.tool);
  const call: RunningCall = {
    callId,
    name: req.name,
    argv: req.argv,
    cgroup: `/${cg}`,
    start: host.now().toISOString(),
    limits: { high: t.tool.memoryHigh, max: t.tool.memoryMax },
    owner: 'exec',
  };
  let end: ChildEnd;
  try {
    if (t.container) store.markRunning(t.container, call);
    end = await runPlaced(t.fs.path(cg, 'cgroup.procs'), req.argv);
  } catch (err) {
    // Nothing ran: no record, the marker just goes.
    cleanup(t, cg, stderr);
    if (t.container) store.clearRunning(t.container, callId);
    throw err;
  }
  // The daemon's graduated response may have ended the call: it leaves the reason beside the marker.
  const supervisorReason = t.container ? readReason(store.reasonFile(t.container, callId)) : undefined;
  const ladder = t.container ? readLadder(store.ladderFile(t.container, callId)) : undefined;
  const stats = cleanup(t, cg, stderr);
  // Killed before it could report the move (by the caller, the daemon, the container's end) is a call
  // that was killed, not a placement failure. Either way the call had a marker: it gets its record,
  // unless the container's teardown has logged it as cut off already.
  const notStarted = !end.placed && !end.signal ? `not started: cannot move it into ${t.fs.path(cg)}` : undefined;
  const rec = finishedRecord(call, t.container, stats, { exit: end.exit, signal: end.signal, end: host.now() }, notStarted ?? supervisorReason, ladder);
  settleCall(store, rec, t.logKey, (line) => stderr(`agentcgroup: ${line}\n`));
  if (notStarted) throw new AgentcgroupError('place-failed', `tool call ${quote(req.name)} was ${notStarted}`);
  const notice = callNotice(rec);
  if (notice) stderr(`${notice}\n`);
  return shellStatus(end);
}

/** A file the daemon left beside the marker, read once and removed; none is no news. */
function takeFile(path: string): string | undefined {
  try {
    const text = readFileSync(path, 'utf8').trim();
    rmSync(path, { force: true });
    return text;
  } catch {
    return undefined;
  }
}

function readReason(path: string): string | undefined {
  const text = takeFile(path);
  return text ? text.slice(0, 500) : undefined;
}

function readLadder(path: string): LadderRecord | undefined {
  const text = takeFile(path);
  return text === undefined ? undefined : parseLadderRecord(text);
}

/** Stragglers (a daemonized child of the call) are killed with the call: its cgroup must go. */
function cleanup(t: Resolved, cg: string, stderr: (line: string) => void): CallStats {
  try {
    return finishCallCgroup(t.fs, cg);
  } catch (err) {
    stderr(`agentcgroup: cannot remove tool-call cgroup: ${describeError(err)}\n`);
    return NO_STATS;
  }
}
