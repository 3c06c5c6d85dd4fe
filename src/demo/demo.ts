/**
 * `agentcgroup demo`: the pitch, on a real kernel. An agent container with a flat limit would be
 * OOM-killed by one tool-call burst; carved by agentcgroup, the same burst is throttled and then let
 * through by the daemon, a runaway call is killed alone, and the agent lives on.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isSea } from 'node:sea';
import { AgentcgroupError } from '../errors.js';

const MiB = 1 << 20;
const LIMIT = 256 * MiB;

type Say = (line: string) => void;

/** This program, as a command line: the single binary, or node with the bundle. */
function self(): string[] {
  return isSea() ? [process.execPath] : [process.execPath, process.argv[1] ?? 'agentcgroup'];
}

function must(cmd: string, args: string[], what: string, cwd?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd });
  if (r.error) throw new AgentcgroupError('demo', `${what}: cannot run ${cmd} (${r.error.message})`);
  if (r.status !== 0) throw new AgentcgroupError('demo', `${what} failed: ${(r.stderr || r.stdout).trim().split('\n').pop() ?? ''}`);
  return r.stdout;
}

/** A busybox container whose framework runs each line of /ctl/fifo as a tool call (fork + exec). */
function bundle(dir: string, name: string, ctl: string, hooks?: { policy: string; annotations: Record<string, string> }): string {
  const b = join(dir, name);
  mkdirSync(join(b, 'rootfs/bin'), { recursive: true });
  copyFileSync('/bin/busybox', join(b, 'rootfs/bin/busybox'));
  for (const t of ['sh', 'sleep', 'env', 'dd']) symlinkSync('busybox', join(b, 'rootfs/bin', t));
  must('crun', ['spec'], 'crun spec', b);
  const config = JSON.parse(readFileSync(join(b, 'config.json'), 'utf8'));
  config.process.terminal = false;
  config.process.args = ['/bin/sh', '-c', 'while :; do while read -r cmd; do env sh -c "$cmd" & done < /ctl/fifo; done'];
  config.root = { path: 'rootfs', readonly: true };
  config.linux.resources = { memory: { limit: LIMIT } };
  config.mounts.push({ destination: '/ctl', type: 'bind', source: ctl, options: ['rbind', 'rw'] });
  if (hooks) {
    const [cmd, ...rest] = self();
    const hook = { path: cmd, args: ['agentcgroup', ...rest, 'hook', '--policy', hooks.policy] };
    config.hooks = { createRuntime: [hook], poststop: [hook] };
    config.annotations = hooks.annotations;
  }
  writeFileSync(join(b, 'config.json'), JSON.stringify(config));
  return b;
}

/** Detached: the container keeps the stdio it is given, so a pipe would never close. */
function startContainer(bundlePath: string, id: string): void {
  const r = spawnSync('crun', ['run', '-d', '--bundle', bundlePath, id], { stdio: 'ignore' });
  if (r.error || r.status !== 0) throw new AgentcgroupError('demo', `crun run ${id} failed (${r.error?.message ?? `exit ${r.status}`})`);
}

function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  return new Promise((resolve) => {
    const tick = () => (check() ? resolve(true) : Date.now() > end ? resolve(false) : setTimeout(tick, 100));
    tick();
  });
}

function state(id: string): string {
  const r = spawnSync('crun', ['state', id], { encoding: 'utf8' });
  return r.status === 0 ? ((JSON.parse(r.stdout) as { status?: string }).status ?? '?') : 'gone';
}

const mib = (b: number) => `${Math.round(b / MiB)}M`;
const cg = (path: string) => readFileSync(join('/sys/fs/cgroup', path), 'utf8').trim();
const burst = (mb: number) => `dd if=/dev/zero of=/dev/null bs=${mb}M count=1`;

interface Call {
  name: string;
  outcome: string;
  cgroup: string;
  reason?: string;
  memory: { peak: number | null };
  events: { high: number; oom_kill: number };
}

export async function runDemo(say: Say): Promise<void> {
  if (!existsSync('/bin/busybox')) throw new AgentcgroupError('demo', '/bin/busybox is missing (apt-get install busybox-static)');
  const dir = mkdtempSync('/tmp/agentcgroup-demo-');
  const ctl = join(dir, 'ctl');
  mkdirSync(ctl);
  must('mkfifo', [join(ctl, 'fifo')], 'mkfifo');
  const policy = join(dir, 'policy.yaml');
  writeFileSync(policy, `paths:\n  run_dir: ${dir}/run\n  call_log_dir: ${dir}/calls\nladder:\n  recheck: 300ms\n`);
  const toolCall = (line: string) => appendFileSync(join(ctl, 'fifo'), `${line}\n`);
  let daemon: ChildProcess | undefined;
  try {
    say(`An agent container limited to ${mib(LIMIT)} by its engine (crun); its framework runs tool calls as child processes.\n`);

    say('1. Without agentcgroup: one flat limit for framework and tools.');
    const flat = bundle(dir, 'flat-agent', ctl);
    startContainer(flat, 'flat-agent');
    // As Kubernetes sets for every container on cgroup v2: an OOM takes the whole container.
    writeFileSync('/sys/fs/cgroup/flat-agent/memory.oom.group', '1');
    toolCall(burst(300));
    await waitFor(() => state('flat-agent') !== 'running', 60_000);
    say(`   a 300M tool call: oom_kill ${/oom_kill (\d+)/.exec(existsSync('/sys/fs/cgroup/flat-agent') ? cg('flat-agent/memory.events') : '')?.[1] ?? '(cgroup gone)'}; the agent is ${state('flat-agent') === 'running' ? 'still running' : 'dead, and its context with it'}.`);
    spawnSync('crun', ['delete', '-f', 'flat-agent']);

    say('\n2. With agentcgroup: the hooks carve the container and the daemon places each tool call.');
    const [cmd, ...rest] = self();
    daemon = spawn(cmd!, [...rest, 'daemon', '--policy', policy], { stdio: ['ignore', 'ignore', 'pipe'] });
    let daemonLog = '';
    daemon.stderr!.on('data', (d: Buffer) => (daemonLog += d.toString()));
    if (!(await waitFor(() => daemonLog.includes('daemon ready'), 60_000))) throw new AgentcgroupError('demo', `the daemon did not start: ${daemonLog.trim()}`);
    // The stand-in framework is a shell, which is a launcher by default: the container takes shells
    // off its launcher list, so its shell is the framework and each `sh -c` it starts a call.
    const annotations = { 'io.agentcgroup.tool.memory_high': '96M', 'io.agentcgroup.tool.memory_max': '224M', 'io.agentcgroup.tracker.launchers': 'tini,env' };
    const carved = bundle(dir, 'agent', ctl, { policy, annotations });
    startContainer(carved, 'agent');
    say(`   agent/         memory.max ${mib(Number(cg('agent/memory.max')))} (the engine's), memory.high ${mib(Number(cg('agent/memory.high')))}`);
    say(`   agent/agent/   the framework: pid ${cg('agent/agent/cgroup.procs').split('\n').join(' ')}, protected from the OOM killer`);
    say('   agent/tools/   one cgroup per tool call: memory.high 96M, memory.max 224M, OOM group');

    const log = join(dir, 'calls/agent.jsonl');
    const calls = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Call) : []);
    const show = (c: Call | undefined) =>
      c ? `${c.cgroup.replace(/^\/agent/, 'agent')}: ${c.outcome}, peak ${mib(c.memory.peak ?? 0)}, throttled ${c.events.high}x, oom_kill ${c.events.oom_kill}${c.reason ? ` (${c.reason})` : ''}` : 'not logged';
    toolCall(burst(300));
    await waitFor(() => calls().length >= 1, 120_000);
    say(`   the same 300M tool call:  ${show(calls()[0])}`);
    say(`   the agent is ${state('agent')}: the call died alone, the framework's context is intact.`);

    toolCall(burst(180));
    await waitFor(() => calls().length >= 2, 120_000);
    say(`   a 180M tool call over its memory.high: ${show(calls()[1])}`);
    const second = calls()[1]?.cgroup.split('/').pop() ?? '-';
    for (const l of daemonLog.split('\n').filter((x) => x.includes(second))) say(`     daemon: ${l.replace(/^agentcgroup: /, '')}`);
    say(`   throttled instead of killed; the agent is ${state('agent')}.`);
    say(`\nEach call is one JSON line in ${log} (kept after the container is gone).`);
  } finally {
    spawnSync('crun', ['delete', '-f', 'agent']);
    spawnSync('crun', ['delete', '-f', 'flat-agent']);
    daemon?.kill('SIGTERM');
  }
}
