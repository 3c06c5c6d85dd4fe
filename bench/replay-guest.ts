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
import { describeError } from '../src/errors.js';
import { adminSocketPath } from '../src/state/paths.js';
import { type Scratch, eventually, exited, makeBundle, readOr, scratch, sleep } from '../test/integration/bundle.js';
import { agentBundle } from './replay/bundle.js';
import { agentProcess, initSource } from './replay/init.js';
import { type Options, type Variant, hostPolicy, nextCount, parseOptions, parseVariant, variantName } from './replay/options.js';
import { type AgentPlan, planAgent, planText, shapeOf } from './replay/plan.js';
import { type BenchResult, type Overheads, type RunRecord, markdown, overheadTable, reclaimRows, reclaimTable, rows, runsTable, seedVerdictTable, setMarkdown, spreadTable, stopReason, summaryTable, verdictTable } from './replay/report.js';
import { type AgentRun, type CallLine, classOf, fate, ladderActions, ladderTotals, lost, parseAgentOut, parseFlat, parseMax, placed, placement } from './replay/stats.js';
import { type SwapSetUp, swapLine } from './replay/swap.js';
import { type Zram, zramOff, zramOn } from '../test/integration/zram.js';
import { plot } from './replay/svg.js';
import { parseTraces, pickTraces } from '../src/plan/traces.js';

const MiB = 1 << 20;
const CG = '/sys/fs/cgroup';
const BUILT = resolve('dist/agentcgroup');
/** The single binary as installed: a copy in the guest's RAM (see stageLocally). */
let BIN = BUILT;
const AGENT_BIN = resolve('build/bench/replay-agent');
const started = Date.now();
/**
 * Where the budget cgroups go, relative to the cgroup2 root: the guest's root itself (the guest is
 * ours), or with --native a subtree of this host's made for the run and removed after it.
 */
let PARENT = '';

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

/** The scratch policy's own lines (its paths): the host policy below them changes with the variant. */
let policyPaths = '';

/** The host policy of `v` for the hooks and the daemon (started after it: it reads its policy once). */
function usePolicy(s: Scratch, recheck: string, v: Pick<Variant, 'reclaim'>): void {
  writeFileSync(s.policy, `${policyPaths}${hostPolicy(recheck, v)}`);
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
  seed: number;
  plans: AgentPlan[];
  budget: number;
  /** (b)'s memory.max per agent, from its memory.peak run alone. */
  staticMax: number[];
  daemon?: { log: string };
  results: string;
}

let runNo = 0;

/** One run: the agents `agents` (indices into the pick) together, in `variant`, under a fresh budget cgroup. */
async function replay(ctx: Ctx, kind: RunRecord['kind'], variant: Variant, agents: number[]): Promise<RunRecord> {
  const mode = variant.mode;
  const tag = `s${ctx.seed}-${kind === 'alone' ? 'alone' : variant.key}${agents.length}-${++runNo}`;
  const budgetRel = `${PARENT ? `${PARENT}/` : ''}replay-${tag}`;
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
      // As kubelet runs every container on cgroup v2: an OOM anywhere in it kills all of it.
      ...(variant.oomGroup ? { unified: { 'memory.oom.group': '1' } } : {}),
      ...(variant.priorities ? { annotations: { 'io.agentcgroup.priority': classOf(i) } } : {}),
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
    variant: variant.key,
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
      const records = ids.flatMap((id) => readOr(join(ctx.s.callDir, `${id}.jsonl`)).split('\n').filter(Boolean).map((line) => JSON.parse(line) as CallLine));
      for (const r of records) outcomes[r.outcome ?? '?'] = (outcomes[r.outcome ?? '?'] ?? 0) + 1;
      record.outcomes = outcomes;
      record.placed = placed(records);
      record.ladderCalls = ladderTotals(records);
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
  const lostN = r.agents.filter(lost).length;
  const reclaimed = r.ladderCalls?.reclaimedBytes ? `, ${(r.ladderCalls.reclaimedBytes / MiB).toFixed(0)} MiB reclaimed from frozen calls` : '';
  const ladder = r.ladder ? `, ladder freeze/thaw/raise/kill ${r.ladder.freezes}/${r.ladder.thaws}/${r.ladder.raises}/${r.ladder.kills}${reclaimed}` : '';
  const moved = r.mode === 'd' && r.kind === 'mode' ? r.agents.filter((a) => placement(a) === 'moved').length : 0;
  say(
    `${label}: ${count('finished')}/${r.agents.length} finished whole` +
      `${lostN ? `, ${lostN} agents lost` : ''}${killedCalls ? `, ${killedCalls} calls killed` : ''}` +
      `${count('call-failed') ? `, ${count('call-failed')} other call failures` : ''}` +
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

async function measureOverheads(o: Options, s: Scratch, results: string): Promise<Overheads> {
  // Bare crun: create + start + delete of a container whose process is /bin/true.
  const plain = makeBundle(s, 'oh-plain', { args: ['/bin/true'], hookStages: [] });
  const hooked = makeBundle(s, 'oh-hooked', { args: ['/bin/true'], hookStages: [] });
  for (const b of [plain, hooked]) symlinkSync('busybox', join(b, 'rootfs/bin/true'));
  setHooks(hooked, { createRuntime: [binaryHook(s)], poststop: [binaryHook(s)] });
  const log = join(results, 'overheads.log');
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
  const hostFile = join(results, 'host-startup.json');
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

const NOTES = (o: Options, budget: number, { init, swap }: Host): string[] => [
  `Scale: memory MB of the traces / ${o.memoryDiv} (as MiB), time / ${o.timeDiv}. Traces: for each seed a seeded pick of the runs lasting ${o.minS}-${o.maxS} s with ${o.minBash}+ Bash calls; the first k agents of the pick make a run with k agents.`,
  `Each agent is a crun container (busybox rootfs) whose framework is bench/replay/agent.c (static). Init: ${init}. The framework holds the trace's memory outside Bash windows and starts each Bash call as its own process (fork + execve of /bin/tool), which holds what the container held above the framework during the window and exits 0. Other tools (Read, Edit...) run inside Claude Code itself, so their windows are framework time. Closed loop: the framework waits for a call before its next think time. It writes its own cgroup after the start and before the end; in (d) the agent leaf is where it belongs.`,
  `Calls' memory shape: ${o.shape}. A ramp call follows the trace, linear between samples, from 0; a burst call holds from its first millisecond the most it will hold from then on (same peak, same duration), as a tool that allocates at once does: the daemon must have it in its own cgroup before it runs (held at exec), or the memory lands in the agent leaf. mixed: a seeded half of the calls burst.`,
  "A call's time is progress: it sleeps in 25 ms slices, and a slice that took far longer (frozen, stalled) counts as two, so a frozen call ends that much later.",
  `Modes, all under one budget cgroup with memory.max ${(budget / MiB).toFixed(0)} MiB: (a) no memory.max per agent; (b) memory.max = the agent's own memory.peak measured running alone × ${o.peakMargin}; (c) memory.max = budget / agents; (d) the container's memory.max = the budget (the policy's percentages are of it), hooks (createRuntime, poststop) and daemon from the single binary dist/agentcgroup with the shipped default policy except ladder.recheck ${o.recheck}, the priority annotation allowed and ladder.reclaim false (plain freeze: frozen calls keep their memory). (a)-(c) run without hooks or daemon.`,
  '"oom.group" (k): memory.oom.group=1 on each container cgroup, set by the runtime from config.json\'s unified map as kubelet asks on cgroup v2: an OOM kill anywhere in the container kills all of it, framework and context. Under agentcgroup the carve moves it down: the agent leaf keeps it, each tool call has its own, the container\'s goes to 0.',
  '"reclaim rung" (r): ladder.reclaim true (the shipped default), the one difference from the same mode without r: while the budget stays at freeze_at, frozen calls\' memory is pushed out with memory.reclaim (to swap) before any call is killed. The reclaim table puts each beside its plain-freeze mode at the same counts; Σ frozen s and Σ reclaimed MiB are summed from the daemon\'s call records (their ladder field).',
  `Swap: ${swap}. The kernel's own reclaim uses it in every mode (a call at its memory.high or a container at its memory.max swaps before it is OOM-killed), so every mode ran with the same swap. The memory agents and calls hold is 1.25 KiB of pseudo-random bytes per 4 KiB page, the rest zeros: it compresses about 3:1 (all-zero pages would cost zram nothing and flatter the rung).`,
  '"priorities" (p): even agents of the pick annotated io.agentcgroup.priority=high, odd ones low; the class tables split every mode\'s agents the same way, so "without" is the same agents unannotated.',
  'Agents lost: the framework died before its plan\'s end (its context is gone). Calls killed: tool calls ended by SIGKILL (the OOM killer; in (d) also the ladder\'s last resort). Finished whole: the plan ran to its end and every tool call exited 0.',
  'Slowdown: p50 (p95) of the durations of the calls that exited 0, over the p50 (p95) of the same calls when their agent ran alone in mode (a) (each agent once, alone, before the first run that needs it); ×(a) compares with mode (a) at the same agent count, which isolates the mode from CPU contention.',
  'Reserved: Σ of the agents\' memory.max for (b) and (c); the budget for (a) and (d), which reserve nothing per agent and share the pool. Used: the budget cgroup\'s memory.current averaged every 100 ms from the start to the last agent\'s end, and its memory.peak. Waste: 1 - average used / reserved.',
  `Density search: the counts ${o.agents.join(', ')}, then ${o.grow || 'the last gap'} more at a time up to ${o.maxAgents} (or the traces eligible), every mode still searching side by side at each count. A mode stops at its first agent lost, when fewer than half its agents finished whole, or (b) when its memory.max values no longer fit the budget. Density (no agent lost): the largest count before the first run that lost one, memory.max values fitting; "every agent whole" also asks every call to exit 0.`,
  o.native
    ? 'Native: run on this host\'s own cgroup v2 tree (no qemu), in a subtree made for the run and removed after it; binaries run from where they are installed.'
    : "Binaries the runs execute (crun, podman, conmon, their libraries, and dist/agentcgroup) are copied into the guest's tmpfs and bind-mounted over their paths first, as a local disk's page cache would hold them: the guest reads the host's files over 9p without a page cache. The guest is qemu TCG on 2 vCPUs: 15-60x slower for CPU work, so every mode pays CPU contention that grows with the number of agents, and the daemon (Node) competes with the agents for the same 2 vCPUs.",
  `Overheads: medians of ${o.reps} alternating repetitions after one warm-up each. podman run --rm of /bin/true with the shipped hooks.d JSON against an empty hooks directory; bare crun create + start + delete of /bin/true with and without createRuntime + poststop hooks in config.json; \`agentcgroup exec --container\` of /bin/true against spawning /bin/true; then, with the daemon running, the same through the native hook front.`,
];

/** --native: a subtree of this host's cgroup v2 tree (the host half has refused hosts without memory, cpu, pids). */
function nativeParent(): string {
  const root = readOr(join(CG, 'cgroup.subtree_control')).trim().split(/\s+/);
  const missing = ['memory', 'cpu', 'pids'].filter((c) => !root.includes(c));
  if (missing.length > 0) writeFileSync(join(CG, 'cgroup.subtree_control'), missing.map((c) => `+${c}`).join(' '));
  const parent = `agentcgroup-bench-${process.pid}`;
  mkdirSync(join(CG, parent));
  writeFileSync(join(CG, parent, 'cgroup.subtree_control'), '+memory +cpu +pids');
  return parent;
}

/** What every seed's runs had alike, as the report says it. */
type Host = Pick<BenchResult, 'kernel' | 'init'> & { swap: string };

/** One seed: its own pick of agents, each alone once, then the density search. */
async function searchSeed(o: Options, s: Scratch, seed: number, budget: number, host: Host, results: string): Promise<BenchResult> {
  const eligible = pickTraces(parseTraces(readFileSync(o.traces, 'utf8')), { seed, minS: o.minS, maxS: o.maxS, minBash: o.minBash });
  const max = Math.min(o.maxAgents, eligible.length);
  const traces = eligible.slice(0, max);
  const plans = traces.map((t, i) => planAgent(t, { memoryDiv: o.memoryDiv, timeDiv: o.timeDiv }, shapeOf(o.shape, seed, i)));
  say(`seed ${seed}: ${eligible.length} traces eligible, up to ${max} agents`);
  writeFileSync(join(results, `plans-seed${seed}.json`), JSON.stringify(plans, null, 1));
  const ctx: Ctx = { o, s, seed, plans, budget, staticMax: [], results };
  const runs: RunRecord[] = [];
  const alone = async (n: number) => {
    for (let i = ctx.staticMax.length; i < n; i++) {
      const p = plans[i]!;
      say(`  agent ${i + 1}: ${p.task} (${p.model}), ${(p.durationMs / 1000).toFixed(1)} s, ${p.calls.length} Bash calls (${p.calls.filter((c) => c.shape === 'burst').length} burst), baseline ${(p.baselineKiB / 1024).toFixed(0)} MiB, trace peak ${(p.tracePeakKiB / 1024).toFixed(0)} MiB`);
      const r = await replay(ctx, 'alone', parseVariant('a'), [i]);
      runs.push(r);
      ctx.staticMax[i] = Math.ceil((r.agents[0]!.memoryPeak * o.peakMargin) / MiB) * MiB;
      progress(r, `seed ${seed}, alone, agent ${i + 1}`);
    }
  };
  // Counts outermost, modes side by side at each count: whatever else loads the machine meanwhile
  // weighs on every mode at that count alike.
  const searching = new Map(o.modes.map((v) => [v.key, v]));
  let last: number | undefined;
  for (let n = nextCount(o, undefined, max); n !== undefined && searching.size > 0; n = nextCount(o, n, max)) {
    await alone(n);
    for (const v of o.modes) {
      if (!searching.has(v.key)) continue;
      // The daemon runs only for (d)'s runs, so (a)-(c) pay nothing for its tracker; its hooks and it
      // read the policy of this variant (plain freeze, or the reclaim rung).
      if (v.mode === 'd') usePolicy(s, o.recheck, v);
      const daemon = v.mode === 'd' ? await startDaemon(s) : undefined;
      if (daemon) ctx.daemon = { log: daemon.log };
      try {
        const r = await replay(ctx, 'mode', v, [...Array(n).keys()]);
        runs.push(r);
        progress(r, `seed ${seed}, ${variantName(v)}, ${n} agents`);
        const why = stopReason(r);
        if (why) {
          say(`seed ${seed}, ${variantName(v)}: ${why} at ${n} agents, search stops`);
          searching.delete(v.key);
        }
      } finally {
        if (daemon) {
          daemon.child.kill('SIGTERM');
          await exited(daemon.child);
          delete ctx.daemon;
        }
      }
    }
    last = n;
  }
  const searchEnd =
    searching.size === 0
      ? `every mode stopped, the last at ${last} agents`
      : `ended at ${last} agents (${max < o.maxAgents ? `only ${eligible.length} traces eligible` : `--max-agents ${o.maxAgents}`}) with ${[...searching.keys()].join(', ')} still searching`;
  say(`seed ${seed}: search ${searchEnd}`);
  return {
    kernel: host.kernel,
    seed,
    variants: o.modes.map((v) => v.key),
    shape: o.shape,
    searchEnd,
    memoryDiv: o.memoryDiv,
    timeDiv: o.timeDiv,
    budgetBytes: budget,
    agentCounts: o.agents,
    init: host.init,
    swap: host.swap,
    inputs: plans.slice(0, ctx.staticMax.length).map((p, i) => ({
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
    notes: NOTES(o, budget, host),
    elapsedS: (Date.now() - started) / 1000,
  };
}

/** A setup the run cannot go on without, said in one line (no stack: nothing in the code went wrong). */
class Refusal extends Error {}

/** --swap zram, set up before the first run so every mode, the plain-freeze baseline too, runs on the same host. */
function zramForBench(bytes: number): Zram {
  try {
    return zramOn(bytes);
  } catch (err) {
    throw new Refusal(`--swap ${describeError(err)}`);
  }
}

function options(argv: readonly string[]): Options {
  try {
    return parseOptions(argv);
  } catch (err) {
    throw new Refusal(describeError(err));
  }
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  const results = resolve(o.out || `results/replay-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-')}`);
  mkdirSync(results, { recursive: true });
  logFile = join(results, 'log.txt');
  if (o.native) PARENT = nativeParent();
  let zram: SwapSetUp['zram'];
  try {
    zram = o.swap === 'zram' ? zramForBench(o.zramBytes) : undefined;
    await bench(o, results, swapLine(readOr('/proc/swaps'), { ...(zram ? { zram } : {}), native: o.native }));
  } finally {
    if (zram) zramOff();
    if (PARENT) rmdirSync(join(CG, PARENT));
  }
}

async function bench(o: Options, results: string, swap: string): Promise<void> {
  if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: npm run build:binary`);
  if (!existsSync(AGENT_BIN)) throw new Error(`${AGENT_BIN} is missing: clang -static -O2 -o build/bench/replay-agent bench/replay/agent.c`);
  const initBin = initSource(o.init);
  if (initBin && !existsSync(initBin)) throw new Error(`${initBin} is missing (package ${o.init}), or run with --init none`);
  const initVersion = initBin ? (spawnSync(initBin, ['--version'], { encoding: 'utf8' }).stdout ?? '').trim() : '';
  const init = agentProcess(o.init, ['/bin/agent', 'PLAN', 'OUT'], initVersion).label;
  const kernel = readOr('/proc/sys/kernel/osrelease').trim();
  const budget = Math.floor((o.budgetMiB * MiB) / 4096) * 4096;
  const where = o.native ? `native, in /sys/fs/cgroup/${PARENT}` : 'qemu TCG guest';
  say(`agentcgroup trace replay (${where}): kernel ${kernel}, seeds ${o.seeds.join(',')}, memory /${o.memoryDiv}, time /${o.timeDiv}, budget ${o.budgetMiB} MiB, agents ${o.agents.join(',')} then on, modes ${o.modes.map((v) => v.key).join(',')}, shape ${o.shape}`);
  say(`  agents' init: ${init}`);
  say(`  swap: ${swap}`);

  if (!o.native) {
    writeFileSync(join(CG, 'cgroup.subtree_control'), '+memory +cpu +pids');
    const staged = stageLocally('/tmp/replay-local', join(results, 'stage.log'));
    say(`staged in tmpfs: ${BUILT} and ${staged.length} runtime files (${staged.filter((f) => f.includes('/bin/')).join(', ')} and their libraries)`);
  }
  const s = scratch();
  policyPaths = readFileSync(s.policy, 'utf8');
  const set: BenchResult[] = [];
  const write = () => writeFileSync(join(results, 'results.json'), JSON.stringify({ seeds: set, overheads }, null, 1));
  let overheads: Overheads | undefined;
  for (const seed of o.replay ? o.seeds : []) {
    set.push(await searchSeed(o, s, seed, budget, { kernel, init, swap }, results));
    write();
  }
  if (o.overheads) {
    try {
      // The last (d) run's policy may be the rung's: the overheads run on one policy whatever the modes.
      usePolicy(s, o.recheck, { reclaim: false });
      overheads = await measureOverheads(o, s, results);
    } catch (err) {
      say(`overheads failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const elapsedS = (Date.now() - started) / 1000;
  write();
  const one = set.length === 1 ? { ...set[0]!, elapsedS, ...(overheads ? { overheads } : {}) } : undefined;
  writeFileSync(join(results, 'report.md'), one ? markdown(one) : setMarkdown(set, overheads, elapsedS));
  for (const r of set) {
    const svg = plot(rows(r), [...new Set(r.runs.filter((k) => k.kind === 'mode').map((k) => k.agents.length))].sort((a, b) => a - b), `seed ${r.seed}, memory /${o.memoryDiv}, time /${o.timeDiv}, budget ${o.budgetMiB} MiB, kernel ${kernel} (${where})`);
    writeFileSync(join(results, r === set[0] ? 'replay.svg' : `replay-seed${r.seed}.svg`), svg);
  }
  say(`done in ${elapsedS.toFixed(0)} s; results in ${results}`);
  const print = [
    '',
    `Scale: memory /${o.memoryDiv}, time /${o.timeDiv}; budget ${o.budgetMiB} MiB; seeds ${o.seeds.join(', ')}; ${where}`,
    `Agents' init: ${init}`,
    `Swap: ${swap}`,
    '',
    ...(set.length > 1 ? [spreadTable(set), '', seedVerdictTable(set), ''] : []),
    ...set.flatMap((r) => [`Seed ${r.seed}:`, '', runsTable(r), '', summaryTable(r), '', ...(reclaimRows(r).length > 0 ? [reclaimTable(r), ''] : [])]),
    ...(overheads ? [overheadTable(overheads), ''] : []),
    ...(one ? [verdictTable(one), ''] : []),
  ].join('\n');
  console.log(print);
  appendFileSync(logFile, `${print}\n`);
}

main().catch((err: unknown) => {
  say(`bench:replay failed: ${err instanceof Refusal ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
