/**
 * `npm run bench:replay` (runs inside the test guest, started by bench/replay-host.ts; prints, asserts
 * nothing). Replays real agent traces as real containers under one memory budget in four modes, and
 * measures the hooks' overhead. See bench/README.md.
 */
import { type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  statSync,
  openSync,
  readFileSync,
  rmSync,
  rmdirSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { adminSocketPath } from '../src/state/paths.js';
import { type Scratch, eventually, exited, makeBundle, readOr, scratch, sleep } from '../test/integration/bundle.js';
import { agentBundle } from './replay/bundle.js';
import { DOCKER_INIT, agentProcess } from './replay/init.js';
import { MODE_NAMES, type Mode, type Options, parseOptions } from './replay/options.js';
import { type AgentPlan, planAgent, planText } from './replay/plan.js';
import { type BenchResult, type Overheads, type RunRecord, allSurvived, markdown, reserved, withinBudget, overheadTable, rows, runsTable, summaryTable, verdictTable } from './replay/report.js';
import { type AgentRun, fate, ladderActions, parseAgentOut, parseFlat, parseMax, placement } from './replay/stats.js';
import { plot } from './replay/svg.js';
import { parseTraces, pickTraces } from '../src/plan/traces.js';

const MiB = 1 << 20;
const CG = '/sys/fs/cgroup';
const BUILT = resolve('dist/agentcgroup');
/** The single binary as installed: a copy in the guest's RAM (see stageLocally). */
let BIN = BUILT;
const AGENT_BIN = resolve('build/bench/replay-agent');
const started = Date.now();

let logFile = '';
function say(line: string): void {
  const stamp = new Date(Date.now() - started).toISOString().slice(14, 19);
  const text = `[${stamp}] ${line}`;
  console.log(text);
  if (logFile) appendFileSync(logFile, `${text}\n`);
}

interface Done {
  code: number | null;
  out: string;
}

/**
 * A child process, awaited without blocking the event loop (the sampler keeps ticking). Its output goes
 * to `log`, never to a pipe: `crun run -d` hands its stdio to the container, which would hold a pipe
 * open for its whole life.
 */
function spawnAsync(cmd: string, args: string[], log: string): Promise<Done> {
  return new Promise((done) => {
    const fd = openSync(log, 'a');
    const child = spawn(cmd, args, { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    child.on('error', (e) => done({ code: null, out: e.message }));
    child.on('exit', (code) => done({ code, out: readOr(log).slice(-2000) }));
  });
}

function must<T extends SpawnSyncReturns<string | Buffer>>(r: T, what: string): T {
  if (r.status !== 0) throw new Error(`${what} failed (${r.status ?? r.signal}): ${String(r.stderr ?? '')}${String(r.stdout ?? '')}`.slice(0, 2000));
  return r;
}

/** A runtime command whose stdio must not be a pipe (crun gives it to the container); output to `log`. */
function quiet(cmd: string, args: string[], log: string): void {
  const fd = openSync(log, 'a');
  try {
    const r = spawnSync(cmd, args, { stdio: ['ignore', fd, fd], timeout: 120_000 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${readOr(log).slice(-1000)}`);
  } finally {
    closeSync(fd);
  }
}

/**
 * The guest runs the host's own binaries from a 9p share without a page cache: every exec reads the
 * file again through the emulated virtio transport (measured: node 1.5-4 s from the share, 0.5-0.8 s
 * from tmpfs; the 100 MB single binary 4-10 s, 1-1.4 s). A real host runs them from a local disk's page
 * cache. So the runtimes, their libraries and our binary are copied into tmpfs first, and bind-mounted
 * over their paths (the guest's own mount namespace; gone at power-off).
 */
function stageLocally(dir: string, log: string): string[] {
  const files = new Set<string>();
  for (const bin of ['/usr/bin/podman', '/usr/bin/crun', '/usr/bin/conmon']) {
    if (!existsSync(bin)) continue;
    files.add(realpathSync(bin));
    const ldd = spawnSync('ldd', [bin], { encoding: 'utf8' }).stdout ?? '';
    for (const m of ldd.matchAll(/(\/\S+) \(0x[0-9a-f]+\)/g)) files.add(realpathSync(m[1]!));
  }
  mkdirSync(dir, { recursive: true });
  for (const f of files) {
    const copy = join(dir, f.slice(1).replace(/\//g, '_'));
    copyFileSync(f, copy);
    chmodSync(copy, statSync(f).mode & 0o7777);
    quiet('mount', ['--bind', copy, f], log);
  }
  BIN = join(dir, 'agentcgroup');
  copyFileSync(BUILT, BIN);
  chmodSync(BIN, 0o755);
  return [...files];
}

const binaryHook = (s: Scratch) => ({ path: BIN, args: ['agentcgroup', 'hook', '--policy', s.policy], env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'] });

function setHooks(bundle: string, hooks: Record<string, unknown[]>): void {
  const file = join(bundle, 'config.json');
  const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  config.hooks = hooks;
  writeFileSync(file, JSON.stringify(config, null, 1));
}

interface Ctx {
  o: Options;
  s: Scratch;
  plans: AgentPlan[];
  budget: number;
  /** (b)'s memory.max per agent, from its memory.peak run alone. */
  staticMax: number[];
  daemon?: { log: string };
  results: string;
}

let runNo = 0;

/** One run: the agents `agents` (indices into the pick) together, in `mode`, under a fresh budget cgroup. */
async function replay(ctx: Ctx, kind: RunRecord['kind'], mode: Mode, agents: number[]): Promise<RunRecord> {
  const tag = `${kind === 'alone' ? 'alone' : mode}${agents.length}-${++runNo}`;
  const budgetRel = `replay-${tag}`;
  const budgetDir = join(CG, budgetRel);
  mkdirSync(budgetDir);
  writeFileSync(join(budgetDir, 'cgroup.subtree_control'), '+memory +cpu +pids');
  writeFileSync(join(budgetDir, 'memory.max'), String(ctx.budget));
  const work = mkdtempSync(`/tmp/replay-${tag}-`);
  const ctl = join(work, 'ctl');
  const outDir = join(ctx.results, 'runs', tag);
  mkdirSync(ctl);
  mkdirSync(outDir, { recursive: true });
  must(spawnSync('mkfifo', [join(ctl, 'go')], { encoding: 'utf8' }), 'mkfifo');
  for (const i of agents) writeFileSync(join(ctl, `plan-${i}.txt`), planText(ctx.plans[i]!));
  const share = Math.floor(ctx.budget / agents.length / 4096) * 4096;
  const ids = agents.map((i) => `rp-${tag}-${i}`);
  const runLog = join(outDir, 'runtime.log');
  const bundles = agents.map((i, k) => {
    const limit = mode === 'a' ? undefined : mode === 'b' ? ctx.staticMax[i] : mode === 'c' ? share : ctx.budget;
    const bundle = agentBundle(ctx.s, {
      id: ids[k]!,
      agent: i,
      init: ctx.o.init,
      agentBin: AGENT_BIN,
      ctl,
      out: outDir,
      cgroupsPath: `/${budgetRel}/${ids[k]}`,
      ...(limit === undefined ? {} : { memoryLimit: limit }),
    });
    if (mode === 'd' && kind === 'mode') setHooks(bundle, { createRuntime: [binaryHook(ctx.s)], poststop: [binaryHook(ctx.s)] });
    return bundle;
  });
  const outFile = (i: number) => join(outDir, `agent-${i}.txt`);
  const cg = (k: number, file: string) => join(budgetDir, ids[k]!, file);

  const startedRuns = await Promise.all(ids.map((id, k) => spawnAsync('crun', ['run', '-d', '--bundle', bundles[k]!, id], runLog)));
  const failed = startedRuns.findIndex((r) => r.code !== 0);
  if (failed >= 0) throw new Error(`crun run ${ids[failed]} failed: ${startedRuns[failed]!.out}`);
  if (!(await eventually(() => agents.every((i) => readOr(outFile(i)).startsWith('P\n')), 120_000))) throw new Error(`agents of ${tag} did not reach the start: ${readOr(runLog)}`);
  await sleep(300);

  let sum = 0;
  let samples = 0;
  const sampler = setInterval(() => {
    const v = Number(readOr(join(budgetDir, 'memory.current')));
    if (Number.isFinite(v)) {
      sum += v;
      samples++;
    }
  }, 100);
  const daemonFrom = ctx.daemon ? readOr(ctx.daemon.log).length : 0;
  const go = openSync(join(ctl, 'go'), 'r+');
  const t0 = Date.now();
  await eventually(() => agents.every((i) => /^S /m.test(readOr(outFile(i)))), 30_000);
  closeSync(go);
  const longest = Math.max(...agents.map((i) => ctx.plans[i]!.durationMs));
  const finished = await eventually(() => ids.every((_, k) => /^populated 0$/m.test(readOr(cg(k, 'cgroup.events')))), 4 * longest + 120_000);
  const wallMs = Date.now() - t0;
  clearInterval(sampler);

  const runs: AgentRun[] = agents.map((i, k) => ({
    agent: i,
    out: parseAgentOut(readOr(outFile(i))),
    plannedCalls: ctx.plans[i]!.calls.length,
    memoryPeak: Number(readOr(cg(k, 'memory.peak'))),
    memoryMax: parseMax(readOr(cg(k, 'memory.max'), 'max')),
    oomKills: parseFlat(readOr(cg(k, 'memory.events'))).oom_kill ?? 0,
  }));
  const record: RunRecord = {
    kind,
    mode,
    agents: runs,
    budgetBytes: ctx.budget,
    budgetPeak: Number(readOr(join(budgetDir, 'memory.peak'))),
    budgetAvg: samples > 0 ? sum / samples : NaN,
    budgetOomKills: parseFlat(readOr(join(budgetDir, 'memory.events'))).oom_kill ?? 0,
    wallMs,
    timedOut: !finished,
  };
  await Promise.all(ids.map((id) => spawnAsync('crun', ['delete', '-f', id], runLog)));
  if (ctx.daemon) {
    // The daemon logs a call when its cgroup empties: give it a moment for the last ones.
    await sleep(1000);
    const slice = readOr(ctx.daemon.log).slice(daemonFrom);
    if (mode === 'd') {
      record.ladder = ladderActions(slice);
      const outcomes: Record<string, number> = {};
      // Each agent's call log kept beside its output (what `agentcgroup report` reads).
      mkdirSync(join(outDir, 'calls'), { recursive: true });
      for (const id of ids) if (existsSync(join(ctx.s.callDir, `${id}.jsonl`))) copyFileSync(join(ctx.s.callDir, `${id}.jsonl`), join(outDir, 'calls', `${id}.jsonl`));
      for (const id of ids) {
        for (const line of readOr(join(ctx.s.callDir, `${id}.jsonl`)).split('\n').filter(Boolean)) {
          const o = (JSON.parse(line) as { outcome?: string }).outcome ?? '?';
          outcomes[o] = (outcomes[o] ?? 0) + 1;
        }
      }
      record.outcomes = outcomes;
    }
    writeFileSync(join(outDir, 'daemon.log'), slice);
  }
  for (let i = 0; i < 20 && existsSync(budgetDir); i++) {
    try {
      rmdirSync(budgetDir);
    } catch {
      await sleep(250);
    }
  }
  for (const b of bundles) rmSync(b, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
  writeFileSync(join(outDir, 'record.json'), JSON.stringify(record, null, 1));
  return record;
}

function progress(r: RunRecord, label: string): void {
  const fates = r.agents.map(fate);
  const count = (f: string) => fates.filter((x) => x === f).length;
  const killedCalls = r.agents.reduce((n, a) => n + a.out.calls.filter((c) => c.status === 137).length, 0);
  const ladder = r.ladder ? `, ladder freeze/thaw/raise/kill ${r.ladder.freezes}/${r.ladder.thaws}/${r.ladder.raises}/${r.ladder.kills}` : '';
  const moved = r.mode === 'd' && r.kind === 'mode' ? r.agents.filter((a) => placement(a) === 'moved').length : 0;
  say(
    `${label}: ${count('finished')}/${r.agents.length} finished` +
      `${count('agent-killed') ? `, ${count('agent-killed')} agents killed` : ''}${killedCalls ? `, ${killedCalls} calls killed` : ''}` +
      `${count('call-failed') + count('unfinished') ? `, ${count('call-failed') + count('unfinished')} other failures` : ''}` +
      `${moved ? `, ${moved} frameworks taken for a tool call` : ''}${r.timedOut ? ', TIMED OUT' : ''}, budget peak ${(r.budgetPeak / MiB).toFixed(0)} MiB, avg ${(r.budgetAvg / MiB).toFixed(0)} MiB${ladder}, ${(r.wallMs / 1000).toFixed(1)} s`,
  );
}

async function startDaemon(s: Scratch): Promise<{ child: ReturnType<typeof spawn>; log: string }> {
  const log = join(s.dir, 'daemon.log');
  const fd = openSync(log, 'a');
  const child = spawn(BIN, ['daemon', '--policy', s.policy], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  if (!(await eventually(() => readOr(log).includes('daemon ready'), 180_000))) throw new Error(`daemon did not start: ${readOr(log)}`);
  return { child, log };
}

function busyboxRootfs(dir: string, tools: string[]): void {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', join(dir, 'bin/busybox'));
  for (const t of tools) symlinkSync('busybox', join(dir, 'bin', t));
}

function timed(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/** Medians need a few repetitions; with and without alternate, after one warm-up each. */
function alternate(reps: number, without: () => void, withIt: () => void): { without: number[]; with: number[] } {
  without();
  withIt();
  const out = { without: [] as number[], with: [] as number[] };
  for (let i = 0; i < reps; i++) {
    out.without.push(timed(without));
    out.with.push(timed(withIt));
  }
  return out;
}

async function overheads(ctx: Ctx): Promise<Overheads> {
  const { s, o } = ctx;
  // Bare crun: create + start + delete of a container whose process is /bin/true.
  const plain = makeBundle(s, 'oh-plain', { args: ['/bin/true'], hookStages: [] });
  const hooked = makeBundle(s, 'oh-hooked', { args: ['/bin/true'], hookStages: [] });
  for (const b of [plain, hooked]) symlinkSync('busybox', join(b, 'rootfs/bin/true'));
  setHooks(hooked, { createRuntime: [binaryHook(s)], poststop: [binaryHook(s)] });
  const log = join(ctx.results, 'overheads.log');
  let n = 0;
  const cycle = (bundle: string) => () => {
    const id = `oh-crun-${++n}`;
    quiet('crun', ['create', '--bundle', bundle, id], log);
    quiet('crun', ['start', id], log);
    quiet('crun', ['delete', '-f', id], log);
  };
  say(`overheads: bare crun, ${o.reps} repetitions each way`);
  const crun = alternate(o.reps, cycle(plain), cycle(hooked));

  // Podman with the shipped hooks.d JSON, its path the single binary.
  const rootfs = join(s.dir, 'oh-rootfs');
  busyboxRootfs(rootfs, ['true', 'cat']);
  const withDir = join(s.dir, 'hooks-with');
  const withoutDir = join(s.dir, 'hooks-without');
  mkdirSync(withDir);
  mkdirSync(withoutDir);
  const shipped = JSON.parse(readFileSync('hooks/agentcgroup.json', 'utf8')) as { hook: Record<string, unknown> };
  shipped.hook.path = BIN;
  shipped.hook.env = [`AGENTCGROUP_POLICY=${s.policy}`];
  writeFileSync(join(withDir, 'agentcgroup.json'), JSON.stringify(shipped));
  const podmanArgs = (hooksDir: string, cmd: string[]) => [
    '--root', join(s.dir, 'storage'), '--runroot', join(s.dir, 'runroot'), '--storage-driver', 'vfs', '--network-config-dir', join(s.dir, 'net'),
    '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', '--hooks-dir', hooksDir,
    'run', '--rm', '--network', 'none', '--annotation', 'io.agentcgroup.enable=true', '--rootfs', rootfs, ...cmd,
  ];
  const podman = (hooksDir: string, cmd: string[]) => must(spawnSync('podman', podmanArgs(hooksDir, cmd), { encoding: 'utf8', timeout: 300_000 }), 'podman run');
  const carved = podman(withDir, ['/bin/cat', '/proc/self/cgroup']).stdout;
  if (carved !== '0::/agent\n') throw new Error(`podman with the hook did not run the command in the agent leaf: ${JSON.stringify(carved)}`);
  const bare = podman(withoutDir, ['/bin/cat', '/proc/self/cgroup']).stdout;
  if (bare === '0::/agent\n') throw new Error('podman without hooks ran the command in an agent leaf');
  say(`overheads: podman run --rm, ${o.reps} repetitions each way`);
  const pod = alternate(o.reps, () => podman(withoutDir, ['/bin/true']), () => podman(withDir, ['/bin/true']));

  // exec: a tool call through agentcgroup exec into a carved container, against running it directly.
  const execBundle = makeBundle(s, 'oh-exec', { args: ['/bin/sleep', '3600'], hookStages: [] });
  setHooks(execBundle, { createRuntime: [binaryHook(s)], poststop: [binaryHook(s)] });
  quiet('crun', ['run', '-d', '--bundle', execBundle, 'oh-exec'], log);
  const direct = () => must(spawnSync('/bin/true', [], { encoding: 'utf8' }), '/bin/true');
  const viaExec = () => must(spawnSync(BIN, ['exec', '--container', 'oh-exec', '--policy', s.policy, '--name', 'true', '--', '/bin/true'], { encoding: 'utf8', timeout: 120_000 }), 'agentcgroup exec');
  say(`overheads: agentcgroup exec, ${o.reps} repetitions each way`);
  const exec = alternate(o.reps, direct, viaExec);
  quiet('crun', ['delete', '-f', 'oh-exec'], log);
  say(`overheads: start-up of the binary, ${o.reps} repetitions each way`);
  const startup = alternate(o.reps, direct, () => must(spawnSync(BIN, ['--version'], { encoding: 'utf8', timeout: 120_000 }), 'agentcgroup --version'));
  // As installed, with the daemon running: hooks.d's JSON names the native hook front, which hands
  // each hook to the daemon (it runs the hook's own code, already loaded).
  const front = join(dirname(BIN), 'agentcgroup-hook');
  copyFileSync(resolve('dist/agentcgroup-hook'), front);
  chmodSync(front, 0o755);
  // No binary to fall back on: a hook the daemon did not serve fails the run, so every measured hook went to it.
  const frontEnv = [`AGENTCGROUP_POLICY=${s.policy}`, 'AGENTCGROUP_BINARY=/nonexistent/agentcgroup', `AGENTCGROUP_ADMIN_SOCKET=${adminSocketPath(s.runDir)}`];
  const frontDir = join(s.dir, 'hooks-front');
  mkdirSync(frontDir);
  const asInstalled = JSON.parse(readFileSync('hooks/agentcgroup.json', 'utf8')) as { hook: Record<string, unknown> };
  asInstalled.hook.path = front;
  asInstalled.hook.env = frontEnv;
  writeFileSync(join(frontDir, 'agentcgroup.json'), JSON.stringify(asInstalled));
  const frontHooked = makeBundle(s, 'oh-front', { args: ['/bin/true'], hookStages: [] });
  symlinkSync('busybox', join(frontHooked, 'rootfs/bin/true'));
  const frontHook = { path: front, args: ['agentcgroup', 'hook'], env: frontEnv };
  setHooks(frontHooked, { createRuntime: [frontHook], poststop: [frontHook] });
  const daemon = await startDaemon(s);
  let podmanFront: Overheads['podmanFront'];
  let crunFront: Overheads['crunFront'];
  try {
    const viaFront = podman(frontDir, ['/bin/cat', '/proc/self/cgroup']).stdout;
    if (viaFront !== '0::/agent\n') throw new Error(`podman with the front did not run the command in the agent leaf: ${JSON.stringify(viaFront)}`);
    say(`overheads: podman run --rm, hooks through the front, daemon running, ${o.reps} repetitions each way`);
    podmanFront = alternate(o.reps, () => podman(withoutDir, ['/bin/true']), () => podman(frontDir, ['/bin/true']));
    say(`overheads: bare crun, hooks through the front, daemon running, ${o.reps} repetitions each way`);
    crunFront = alternate(o.reps, cycle(plain), cycle(frontHooked));
  } finally {
    daemon.child.kill('SIGTERM');
    await exited(daemon.child);
  }
  const hostFile = join(ctx.results, 'host-startup.json');
  const hostStartup = existsSync(hostFile) ? (JSON.parse(readFileSync(hostFile, 'utf8')) as Overheads['hostStartup']) : undefined;
  return {
    podman: pod,
    crun,
    exec,
    startup,
    ...(hostStartup ? { hostStartup } : {}),
    podmanFront,
    crunFront,
    command: 'podman --root/--runroot <tmp> --storage-driver vfs --cgroup-manager cgroupfs --events-backend file --hooks-dir <dir> run --rm --network none --annotation io.agentcgroup.enable=true --rootfs <busybox> /bin/true',
  };
}

const NOTES = (o: Options, budget: number, init: string): string[] => [
  `Scale: memory MB of the traces / ${o.memoryDiv} (as MiB), time / ${o.timeDiv}. Traces: seeded pick (seed ${o.seed}) of runs lasting ${o.minS}-${o.maxS} s with ${o.minBash}+ Bash calls; the first k agents of the pick make a run with k agents.`,
  `Each agent is a crun container (busybox rootfs) whose framework is bench/replay/agent.c (static). Init: ${init}. The framework holds the trace's memory outside Bash windows and starts each Bash call as its own process (fork + execve of /bin/tool), which holds what the container held above the framework during the window (linear between samples) and exits 0. Other tools (Read, Edit...) run inside Claude Code itself, so their windows are framework time. Closed loop: the framework waits for a call before its next think time. It writes its own cgroup after the start and before the end; in (d) the agent leaf is where it belongs.`,
  "A call's time is progress: it sleeps in 25 ms slices, and a slice that took far longer (frozen, stalled) counts as two, so a frozen call ends that much later.",
  `Modes, all under one budget cgroup with memory.max ${(budget / MiB).toFixed(0)} MiB: (a) no memory.max per agent; (b) memory.max = the agent's own memory.peak measured running alone × ${o.peakMargin}; (c) memory.max = budget / agents; (d) the container's memory.max = the budget (the policy's percentages are of it), hooks (createRuntime, poststop) and daemon from the single binary dist/agentcgroup with the shipped default policy except ladder.recheck ${o.recheck}; all agents at priority normal. (a)-(c) run without hooks or daemon.`,
  'Survival: an agent survived when its plan ran to the end and every tool call exited 0. "agents killed": the framework itself died (OOM). "calls killed": tool calls ended by SIGKILL (the OOM killer; in (d) also the ladder\'s last resort).',
  'Slowdown: p50 (p95) of the durations of the calls that exited 0, over the p50 (p95) of the same calls when their agent ran alone in mode (a) (each agent once, alone, first); ×(a) compares with mode (a) at the same agent count, which isolates the mode from the guest\'s CPU contention.',
  'Reserved: Σ of the agents\' memory.max for (b) and (c); the budget for (a) and (d), which reserve nothing per agent and share the pool. Used: the budget cgroup\'s memory.current averaged every 100 ms from the start to the last agent\'s end, and its memory.peak. Waste: 1 - average used / reserved.',
  'Density: the largest agent count tried with 100% survival, searching upward and stopping a mode at its first loss; for (b) the agents\' memory.max values must also fit in the budget (a static reservation does not overcommit), "survival only" drops that condition.',
  "Binaries the runs execute (crun, podman, conmon, their libraries, and dist/agentcgroup) are copied into the guest's tmpfs and bind-mounted over their paths first, as a local disk's page cache would hold them: the guest reads the host's files over 9p without a page cache, where one exec of the 100 MB single binary took 4-10 s instead of 1-1.4 s.",
  `Overheads: medians of ${o.reps} alternating repetitions after one warm-up each, daemon not running. podman run --rm of /bin/true with the shipped hooks.d JSON (path: the single binary, AGENTCGROUP_POLICY in its env) against an empty hooks directory; bare crun create + start + delete of /bin/true with and without createRuntime + poststop hooks in config.json; \`agentcgroup exec --container\` of /bin/true into a carved container against spawning /bin/true.`,
  'The guest is qemu TCG on 2 vCPUs: 15-60x slower for CPU work, so every mode pays CPU contention that grows with the number of agents, and the daemon (Node) competes with the agents for the same 2 vCPUs.',
];

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const results = resolve(o.out || `results/replay-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-')}`);
  mkdirSync(results, { recursive: true });
  logFile = join(results, 'log.txt');
  if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: npm run build:binary`);
  if (!existsSync(AGENT_BIN)) throw new Error(`${AGENT_BIN} is missing: clang -static -O2 -o build/bench/replay-agent bench/replay/agent.c`);
  if (o.init === 'tini' && !existsSync(DOCKER_INIT.source)) throw new Error(`${DOCKER_INIT.source} is missing (package tini), or run with --init none`);
  const initVersion = o.init === 'tini' ? (spawnSync(DOCKER_INIT.source, ['--version'], { encoding: 'utf8' }).stdout ?? '').trim() : '';
  const init = agentProcess(o.init, ['/bin/agent', 'PLAN', 'OUT'], initVersion).label;
  const kernel = readOr('/proc/sys/kernel/osrelease').trim();
  const budget = Math.floor((o.budgetMiB * MiB) / 4096) * 4096;
  const maxAgents = Math.max(...o.agents);
  const traces = pickTraces(parseTraces(readFileSync(o.traces, 'utf8')), { seed: o.seed, count: maxAgents, minS: o.minS, maxS: o.maxS, minBash: o.minBash });
  const plans = traces.map((t) => planAgent(t, { memoryDiv: o.memoryDiv, timeDiv: o.timeDiv }));
  say(`agentcgroup trace replay: kernel ${kernel}, seed ${o.seed}, memory /${o.memoryDiv}, time /${o.timeDiv}, budget ${o.budgetMiB} MiB, agents ${o.agents.join(',')}, modes ${o.modes.join(',')}`);
  say(`  agents' init: ${init}`);
  plans.forEach((p, i) => say(`  agent ${i + 1}: ${p.task} (${p.model}), ${(p.durationMs / 1000).toFixed(1)} s, ${p.calls.length} Bash calls, baseline ${(p.baselineKiB / 1024).toFixed(0)} MiB, trace peak ${(p.tracePeakKiB / 1024).toFixed(0)} MiB`));
  writeFileSync(join(results, 'plans.json'), JSON.stringify(plans, null, 1));

  writeFileSync(join(CG, 'cgroup.subtree_control'), '+memory +cpu +pids');
  const staged = stageLocally('/tmp/replay-local', join(results, 'stage.log'));
  say(`staged in tmpfs: ${BUILT} and ${staged.length} runtime files (${staged.filter((f) => f.includes('/bin/')).join(', ')} and their libraries)`);
  const s = scratch(`ladder:\n  recheck: ${o.recheck}\n`);
  const ctx: Ctx = { o, s, plans, budget, staticMax: [], results };
  const runs: RunRecord[] = [];

  for (let i = 0; i < (o.replay ? maxAgents : 0); i++) {
    const r = await replay(ctx, 'alone', 'a', [i]);
    runs.push(r);
    ctx.staticMax[i] = Math.ceil((r.agents[0]!.memoryPeak * o.peakMargin) / MiB) * MiB;
    progress(r, `alone, agent ${i + 1}`);
  }
  // Counts outermost, modes side by side at each count: whatever else loads the machine meanwhile
  // weighs on every mode at that count alike. A mode leaves the search at its first loss.
  const searching = new Set(o.modes);
  for (const n of o.replay ? o.agents : []) {
    for (const mode of o.modes) {
      if (!searching.has(mode)) continue;
      // The daemon runs only for (d)'s runs, so (a)-(c) pay nothing for its tracker.
      const daemon = mode === 'd' ? await startDaemon(s) : undefined;
      if (daemon) ctx.daemon = { log: daemon.log };
      try {
        const r = await replay(ctx, 'mode', mode, [...Array(n).keys()]);
        runs.push(r);
        progress(r, `${MODE_NAMES[mode]}, ${n} agents`);
        if (!allSurvived(r)) {
          say(`${MODE_NAMES[mode]}: survival below 100% at ${n} agents, search stops`);
          searching.delete(mode);
        } else if (!withinBudget(r)) {
          say(`${MODE_NAMES[mode]}: the agents' memory.max values (${(reserved(r).bytes / MiB).toFixed(0)} MiB) no longer fit the ${o.budgetMiB} MiB budget at ${n} agents, search stops`);
          searching.delete(mode);
        }
      } finally {
        if (daemon) {
          daemon.child.kill('SIGTERM');
          await exited(daemon.child);
          delete ctx.daemon;
        }
      }
    }
    if (searching.size === 0) break;
  }

  const res: BenchResult = {
    kernel,
    seed: o.seed,
    memoryDiv: o.memoryDiv,
    timeDiv: o.timeDiv,
    budgetBytes: budget,
    agentCounts: o.agents,
    init,
    inputs: plans.map((p, i) => ({
      agent: i,
      task: p.task,
      model: p.model,
      durationMs: p.durationMs,
      calls: p.calls.length,
      baselineKiB: p.baselineKiB,
      tracePeakKiB: p.tracePeakKiB,
      maxCallKiB: Math.max(0, ...p.calls.map((c) => c.peakKiB)),
    })),
    runs,
    notes: NOTES(o, budget, init),
    elapsedS: 0,
  };
  writeFileSync(join(results, 'results.json'), JSON.stringify(res, null, 1));
  if (o.overheads) {
    try {
      res.overheads = await overheads(ctx);
    } catch (err) {
      say(`overheads failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  res.elapsedS = (Date.now() - started) / 1000;
  writeFileSync(join(results, 'results.json'), JSON.stringify(res, null, 1));
  writeFileSync(join(results, 'report.md'), markdown(res));
  writeFileSync(join(results, 'replay.svg'), plot(rows(res), o.agents, `seed ${o.seed}, memory /${o.memoryDiv}, time /${o.timeDiv}, budget ${o.budgetMiB} MiB, kernel ${kernel} (qemu TCG guest)`));
  say(`done in ${res.elapsedS.toFixed(0)} s; results in ${results}`);
  const print = [
    '',
    `Scale: memory /${o.memoryDiv}, time /${o.timeDiv}; budget ${o.budgetMiB} MiB; seed ${o.seed}`,
    `Agents' init: ${init}`,
    '',
    runsTable(res),
    '',
    summaryTable(res),
    '',
    ...(res.overheads ? [overheadTable(res.overheads), ''] : []),
    verdictTable(res),
    '',
  ].join('\n');
  console.log(print);
  appendFileSync(logFile, `${print}\n`);
}

main().catch((err: unknown) => {
  say(`bench:replay failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
