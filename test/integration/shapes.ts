/**
 * Real agent container shapes on a real kernel: a crun container whose root is the host's /usr
 * (python3, node, bash, git, tini... are the host's real programs) runs a stand-in framework from
 * test/integration/agents; with the daemon running, the test looks from outside at which cgroup every
 * process of the container is in, and at what the daemon says it took for the framework.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Checker } from './harness.js';
import { type Scratch, adminAsk, eventually, makeBundle, readOr, run, runDetached } from './bundle.js';

export const AGENTS = resolve('test/integration/agents');
export const AGENT_PY = join(AGENTS, 'agent.py');
const MiB = 1 << 20;

export interface Proc {
  pid: number;
  argv: string[];
  state: string;
  /** Relative to the container's cgroup: `agent` or `tools/<call>`. */
  where: string;
}

export interface Shape {
  id: string;
  /** The container's process (init), as an engine would run it. */
  args: string[];
  env?: string[];
}

export interface Running {
  id: string;
  C: string;
  out: string;
  log: string;
}

const cgroupDir = (rel: string) => join('/sys/fs/cgroup', rel);

/** Starts the container and waits until its framework wrote OUT/ready. */
export async function startShape(c: Checker, s: Scratch, shape: Shape, readyFile = 'ready'): Promise<Running | undefined> {
  const out = join(s.dir, `${shape.id}.out`);
  mkdirSync(out, { recursive: true });
  const bundle = makeBundle(s, shape.id, { args: shape.args, hostRoot: true, memoryLimit: 1024 * MiB, binds: [{ source: out, destination: '/out' }] });
  if (shape.env) {
    const configPath = join(bundle, 'config.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as { process: { env: string[] } };
    config.process.env.push(...shape.env);
    writeFileSync(configPath, JSON.stringify(config));
  }
  const log = join(s.dir, `${shape.id}.log`);
  if (!c.equal(runDetached('crun', bundle, shape.id, log).status, 0, `${shape.id}: the container starts`, readOr(log).slice(-1500))) return undefined;
  const record = readOr(join(s.runDir, 'containers', `${shape.id}.json`));
  const C = record ? (JSON.parse(record) as { cgroup: string }).cgroup : '';
  const ready = await eventually(() => existsSync(join(out, readyFile)), 120_000);
  c.ok(ready && C !== '', `${shape.id}: the framework is up and its calls run`, { log: readOr(log).slice(-1500), out: readdirSync(out) });
  return ready && C !== '' ? { id: shape.id, C, out, log } : undefined;
}

/** Every process of the container, where it is; read from outside (cgroup.procs, /proc). */
export function processes(r: Running): Proc[] {
  const procs: Proc[] = [];
  const read = (where: string) => {
    for (const line of readOr(join(cgroupDir(r.C), where, 'cgroup.procs')).split('\n')) {
      const pid = Number(line);
      if (!pid) continue;
      const argv = readOr(`/proc/${pid}/cmdline`).split('\0').filter((a) => a !== '');
      const state = readOr(`/proc/${pid}/stat`).split(') ')[1]?.split(' ')[0] ?? '?';
      procs.push({ pid, argv, state, where });
    }
  };
  read('agent');
  const tools = cgroupDir(join(r.C, 'tools'));
  for (const t of existsSync(tools) ? readdirSync(tools).filter((n) => !n.includes('.')) : []) read(`tools/${t}`);
  return procs;
}

const show = (ps: Proc[]) => ps.map((p) => `${p.where}: ${p.pid} ${p.argv.join(' ').slice(0, 100)} [${p.state}]`);

/** The long tool calls (`sleep 600`, or a marked node call) each in a tools/ cgroup of its own, and nothing else astray. */
export async function expectCalls(c: Checker, r: Running, opts: { calls: number; inAgent: RegExp[]; isCall?: (p: Proc) => boolean }): Promise<Proc[]> {
  const isCall = opts.isCall ?? ((p: Proc) => p.argv[0] === 'sleep' && p.argv[1] === '600');
  let ps: Proc[] = [];
  // Settled: the daemon has decided every call it was told of (a held call sits stopped in the agent
  // leaf until it has); a generous deadline, since the guest's CPU is emulated.
  await eventually(() => {
    ps = processes(r);
    const calls = ps.filter(isCall);
    return calls.length >= opts.calls && calls.every((p) => p.where.startsWith('tools/')) && ps.every((p) => p.state !== 'T');
  }, 120_000);
  const calls = ps.filter(isCall);
  c.equal(calls.length, opts.calls, `${r.id}: ${opts.calls} long tool call(s) running`, show(ps));
  c.ok(calls.every((p) => p.where.startsWith('tools/')), `${r.id}: every tool call is in a tools/ cgroup`, show(ps));
  c.equal(new Set(calls.map((p) => p.where)).size, calls.length, `${r.id}: each call in a cgroup of its own`, show(ps));
  for (const re of opts.inAgent) {
    const found = ps.filter((p) => re.test(p.argv.join(' ')));
    c.ok(found.length > 0 && found.every((p) => p.where === 'agent'), `${r.id}: ${re.source} stays in the agent leaf`, show(ps));
  }
  c.ok(ps.every((p) => p.state !== 'T'), `${r.id}: no process is left stopped`, show(ps));
  return ps;
}

/** What the daemon's status says it took for the framework. */
export async function expectFramework(c: Checker, s: Scratch, r: Running, name: string): Promise<void> {
  const reply = await adminAsk(join(s.runDir, 'admin.sock'), '{"op":"snapshot"}');
  let framework: { role: string; name: string }[] = [];
  try {
    const st = JSON.parse(reply) as { containers: { id: string; framework: { role: string; name: string }[] }[] };
    framework = st.containers.find((k) => k.id === r.id)?.framework ?? [];
  } catch {
    // shown in the check's detail
  }
  c.ok(framework.some((f) => f.role === 'framework' && f.name === name), `${r.id}: status shows ${name} as the framework`, { framework, reply: reply.slice(0, 500) });
}

/** A call record as these checks read it. */
export interface CallLine {
  name: string;
  argv: string[];
  memory: { peak: number | null };
  placement?: { heldAtExec?: boolean };
  startedBy?: { role: string; name: string };
}

/**
 * Whether a call to `name` was begun from outside the container (docker exec, ExecSync). Its starter is
 * the engine's shim when the daemon could read that parent's program, else what it knows: that it is
 * outside. Which one depends on how fast the daemon looked, so either is right.
 */
export function begunFromOutside(name: string): (recs: CallLine[]) => boolean {
  const outside = ['containerd-shim-runc-v2', '(outside the container)'];
  return (recs) => recs.some((k) => k.name === name && k.startedBy?.role === 'framework' && outside.includes(k.startedBy.name));
}

/**
 * The container's call records once `done` says they are all there: the daemon logs a call when its
 * cgroup empties, which under emulation may come well after the call ended.
 */
export async function callRecords(s: Scratch, id: string, done: (recs: CallLine[]) => boolean): Promise<CallLine[]> {
  const read = () => readOr(join(s.callDir, `${id}.jsonl`)).split('\n').filter(Boolean).map((l) => JSON.parse(l) as CallLine);
  await eventually(() => done(read()), 60_000);
  return read();
}

export function stopShape(r: Running): void {
  run('crun', ['kill', r.id, 'KILL']);
  run('crun', ['delete', '-f', r.id]);
}
