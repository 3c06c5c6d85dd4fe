// The guest half of `npm run bench:sched` (issue 21, measure first): the framework's scheduling delay
// and the tool calls' throughput while tool calls in its own container and in another burn every CPU,
// (a) without agentcgroup, (b) with today's carve (cpu.weight on the agent leaf and each tool call, as
// planCarve writes it), (c) with the sched_ext scheduler (when built and the kernel has sched_ext), the
// daemon in its supervisor class, and (c-) the same with the daemon left a host task. A second probe in
// a host cgroup outside the containers stands in for the daemon (tool calls wait on it to be placed).
// Modes run interleaved round by round. Needs root and cgroup v2: run it in the test guest.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { applySteps } from '../src/carve/apply.js';
import { planCarve, planToolCgroup } from '../src/carve/plan.js';
import { Cgroupfs } from '../src/cgroup/cgroupfs.js';
import { DEFAULT_POLICY } from '../src/config/policy.js';
import type { Policy } from '../src/config/types.js';
import { hostMemoryBytes } from '../src/host/meminfo.js';
import { AgentScheduler, type SchedClass, schedExtStatus } from '../src/bpf/sched.js';
import { type Round, type SchedMode, markdown, parseBurn, parseProbe, summarize, verdict } from './sched/report.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const INTERVAL_US = Number(process.env.BENCH_INTERVAL_US ?? 5000);
const LOAD = resolve(process.env.BENCH_LOAD ?? 'build/sched/load');
const TOP = 'bench-sched';
/** The daemon stand-in's cgroup: a sibling of the containers' parent, as a service's is on a node. */
const HOST = 'bench-sched-host';
const fs = new Cgroupfs('/sys/fs/cgroup');

/** A program started inside `cgroup` (it moves itself in before exec), and its whole stdout (at 'close': 'exit' may come before the last of it). */
function runIn(cgroup: string, argv: string[]): { child: ChildProcess; out: Promise<string> } {
  const procs = fs.path(cgroup, 'cgroup.procs');
  const child = spawn('sh', ['-c', `echo $$ > ${procs} && exec "$@"`, 'sh', ...argv], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<string>((ok, fail) => child.on('close', (code) => (code === 0 ? ok(out) : fail(new Error(`${argv.join(' ')} in ${cgroup}: exit ${code}`)))));
  return { child, out: done };
}

interface Layout {
  /** Where the framework's probe runs, and each tool call's burner. */
  framework: string;
  calls: Record<string, string>;
  /** Stand-ins for the containers' own processes, ended after the round. */
  inits: ChildProcess[];
  /** Cgroups to remove after the round, deepest first. */
  made: string[];
  /** For mode (c): cgroup -> its class in the scheduler's map. */
  classes: Map<string, SchedClass>;
}

/** One container's cgroup, carved as the hook carves it (planCarve on the real tree), with one tool call. */
function carved(C: string, inits: ChildProcess[], policy: Policy): { agent: string; call: string; made: string[] } {
  fs.create(C);
  const init = runIn(C, ['sleep', '3600']);
  // Killed after the round: its end is expected, not a failure.
  init.out.catch(() => undefined);
  inits.push(init.child);
  // The carve moves whatever C holds: wait until the stand-in has moved itself in.
  for (let i = 0; i < 200 && fs.procs(C).length === 0; i++) spawnSync('sleep', ['0.05']);
  const plan = planCarve({
    cgroup: C,
    policy,
    controllers: fs.controllers(C),
    children: [],
    sessionMax: 'max',
    hostMemory: hostMemoryBytes('/proc'),
    freeze: false,
    oomScoreAdj: 0,
    oomGroup: false,
    swapAccounting: false,
  });
  applySteps(fs, plan.steps);
  applySteps(fs, planToolCgroup(C, 'call-1', plan.tool));
  return { agent: `${C}/agent`, call: `${C}/tools/call-1`, made: [`${C}/tools/call-1`, `${C}/tools`, `${C}/agent`, C] };
}

function layout(mode: SchedMode): Layout {
  const inits: ChildProcess[] = [];
  if (mode === 'none') {
    for (const c of ['c1', 'c2']) fs.create(`${TOP}/${c}`);
    return { framework: `${TOP}/c1`, calls: { same: `${TOP}/c1`, other: `${TOP}/c2` }, inits, made: [`${TOP}/c1`, `${TOP}/c2`], classes: new Map() };
  }
  // (b'): plain cpu.weight at its strongest for the framework, to weigh (c) against the best it can do.
  const policy: Policy = mode === 'weightMax' ? { ...DEFAULT_POLICY, agent: { ...DEFAULT_POLICY.agent, cpuWeight: 10000 } } : DEFAULT_POLICY;
  const c1 = carved(`${TOP}/c1`, inits, policy);
  const c2 = carved(`${TOP}/c2`, inits, policy);
  const classes = new Map<string, SchedClass>([
    [c1.agent, 'agent'],
    [c2.agent, 'agent'],
    [c1.call, 'tool'],
    [c2.call, 'tool'],
  ]);
  return { framework: c1.agent, calls: { same: c1.call, other: c2.call }, inits, made: [...c1.made, ...c2.made], classes };
}

/** A cgroup's id, as the scheduler's map keys it: its directory's inode on cgroup2. */
const cgroupId = (cg: string): bigint => statSync(fs.path(cg), { bigint: true }).ino;

async function round(mode: SchedMode, n: number): Promise<Round> {
  const l = layout(mode);
  // A fresh object each (c) round: with libbpf 1.1 a struct_ops map, once its link is gone, cannot be attached again (EBUSY).
  const sched = mode === 'scx' || mode === 'scxHost' ? AgentScheduler.open() : undefined;
  try {
    if (sched) {
      for (const [cg, cls] of l.classes) sched.setClass(cgroupId(cg), cls);
      sched.attach();
    }
    const threads = String(cpus().length);
    const probe = runIn(l.framework, [LOAD, 'probe', String(INTERVAL_US), String(SECONDS)]);
    const daemon = runIn(HOST, [LOAD, 'probe', String(INTERVAL_US), String(SECONDS)]);
    // Its pid is the program's (sh execs it), as the daemon registers its own at start.
    if (mode === 'scx') sched!.addSupervisor(daemon.child.pid!);
    const burners = Object.entries(l.calls).map(([name, cg]) => [name, runIn(cg, [LOAD, 'burn', threads, String(SECONDS)])] as const);
    const p = parseProbe(await probe.out);
    const d = parseProbe(await daemon.out);
    const burn: Record<string, number> = {};
    for (const [name, b] of burners) {
      const v = parseBurn(await b.out);
      if (v === undefined) throw new Error(`burner ${name} printed nothing to read`);
      burn[name] = v;
    }
    if (!p || !d) throw new Error(`the ${p ? "daemon's stand-in" : "framework's"} probe printed nothing to read`);
    return { mode, round: n, probe: p, daemon: d, burn };
  } finally {
    sched?.detach();
    sched?.close();
    for (const i of l.inits) i.kill('SIGKILL');
    for (const cg of l.made) {
      for (let i = 0; i < 100 && fs.exists(cg); i++) {
        try {
          fs.remove(cg);
        } catch {
          spawnSync('sleep', ['0.05']);
        }
      }
    }
  }
}

async function main(): Promise<void> {
  if (!existsSync(LOAD)) throw new Error(`${LOAD} missing: npm run bench:sched builds it`);
  fs.enableControllers('', ['cpu', 'memory', 'pids']);
  if (!fs.exists(TOP)) fs.create(TOP);
  if (!fs.exists(HOST)) fs.create(HOST);
  fs.enableControllers(TOP, ['cpu', 'memory', 'pids']);
  // (c) where the kernel has sched_ext (the object, dist/agentsched.bpf.o, is copied beside this script).
  const ext = schedExtStatus();
  let noScx: string | undefined = ext.state === undefined ? 'this kernel has no sched_ext' : undefined;
  try {
    if (!noScx) AgentScheduler.open().close();
  } catch (err) {
    noScx = err instanceof Error ? err.message : String(err);
  }
  if (noScx) console.log(`mode (c) left out: ${noScx}`);
  const modes: SchedMode[] = noScx ? ['none', 'weight', 'weightMax'] : ['none', 'weight', 'weightMax', 'scx', 'scxHost'];
  const rounds: Round[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Rotated each round: no mode always runs first, or always after another.
    for (let k = 0; k < modes.length; k++) {
      const mode = modes[(r + k) % modes.length]!;
      const one = await round(mode, r);
      rounds.push(one);
      console.log(`round ${r + 1} ${mode}: probe p50 ${one.probe.p50Us} us, p99 ${one.probe.p99Us} us, max ${one.probe.maxUs} us; daemon p99 ${one.daemon.p99Us} us; burn ${Object.entries(one.burn).map(([n, v]) => `${n} ${v.toFixed(0)}/s`).join(', ')}`);
    }
  }
  const summaries = summarize(rounds);
  const kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  const notes = [
    `Kernel ${kernel}, ${cpus().length} CPUs (qemu TCG: software emulation, so absolute delays are large; compare modes, not numbers with a real machine).`,
    `Probe: wakes every ${INTERVAL_US} us on an absolute timer, ~50 us of work per wake, for ${SECONDS} s a round; delay = how late each wake-up ran.`,
    `Load: a busy loop per CPU in a tool call of the framework's container and one in another container's tool call.`,
    `The daemon's stand-in: the same probe in ${HOST}, a cgroup beside the containers' parent (cpu.weight 100 each), as the daemon runs in a service's cgroup; in (c) its pid is in the scheduler's supervisor class, in (c-) it is a host task.`,
    ...(noScx ? [`(c) not run: ${noScx}.`] : ['(c) and (c-): bpf/sched/agentsched.bpf.c loaded and attached for each of their rounds, detached and closed after (classes: both agent leaves agent, both tool calls tool of normal priority).']),
    `cpu.weight as the carve writes it: agent ${DEFAULT_POLICY.agent.cpuWeight}, each tool call ${DEFAULT_POLICY.tool.cpuWeight}; the containers' own weights left at the kernel's 100.`,
  ];
  const md = markdown(summaries, notes);
  const dir = resolve(`results/sched-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'report.md'), md);
  writeFileSync(join(dir, 'rounds.json'), `${JSON.stringify({ rounds, summaries, verdict: verdict(summaries) ?? null }, null, 1)}\n`);
  console.log(md);
  console.log(`results: ${dir}`);
}

main().catch((err: unknown) => {
  console.error(`bench:sched failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
