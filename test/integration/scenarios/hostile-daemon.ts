// A hostile container against the daemon itself: it hands its exec-socket connection to a child and
// exits so that the host gives its pid to a host process (ns_last_pid), then begins a call on that
// connection; and a tool call it starts has a full FIFO for stderr when the ladder kills it.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Checker, scenario } from '../harness.js';
import { CLI, SHELL_FRAMEWORK, type Scratch, adminAsk, eventually, exited, makeBundle, readOr, run, runDetached, scratch, sleep, startDaemon, within } from '../bundle.js';

const MiB = 1 << 20;
const BUDGET = '/sys/fs/cgroup/it-hd-budget';
const POLICY = 'ladder:\n  recheck: 200ms\n  deadline: 3s\n  freeze_at: 50%\n  thaw_below: 40%\n  kill_at: 97%\n';

function container(s: Scratch, id: string, opts: { cgroupsPath?: string; args?: string[]; annotations?: Record<string, string> } = {}): void {
  const sockDir = join(s.runDir, 'sock', id);
  mkdirSync(sockDir, { recursive: true, mode: 0o700 });
  const binds = [
    { source: sockDir, destination: '/run/agentcgroup' },
    { source: s.dir, destination: '/scratch', readonly: true },
  ];
  const bundle = makeBundle(s, id, { args: ['/bin/sleep', '900'], hostRoot: true, binds, ...opts });
  const started = runDetached('crun', bundle, id, join(s.dir, `${id}.log`));
  if (started.status !== 0) throw new Error(`${id} did not start: ${started.log}`);
}

/** The host pid of the process whose command line ends with `marker`, if one runs. */
function hostPid(marker: string): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const argv = readOr(`/proc/${name}/cmdline`).split('\0').filter(Boolean);
    if (argv.at(-1) === marker) return Number(name);
  }
  return undefined;
}

/**
 * Connects, passes the connection to a child (fd 3) and exits. The child waits for a line on its
 * FIFO, then begins a call on the inherited connection and prints the reply.
 */
const PARENT = `
const net = require('net');
const { spawn } = require('child_process');
const s = net.createConnection('/run/agentcgroup/exec.sock', () => {
  const child = spawn(process.execPath, ['-e', process.env.CHILD, 'reuse-child'], { stdio: ['ignore', 'inherit', 'inherit', s], detached: true });
  child.unref();
  setTimeout(() => process.exit(0), 500);
});
`;
const CHILD = `
const fs = require('fs');
const net = require('net');
require('child_process').execFileSync('mkfifo', ['/run/go']);
const go = fs.readFileSync('/run/go', 'utf8');
const s = new net.Socket({ fd: 3, readable: true, writable: true });
let buf = '';
s.on('data', (d) => { buf += d; if (buf.includes('\\n')) { console.log(buf.trim()); process.exit(0); } });
s.on('close', () => { console.log(buf.trim() || 'closed'); process.exit(0); });
s.write(JSON.stringify({ v: 1, op: 'begin', name: 'reused', argv: ['reused'] }) + '\\n');
`;

/** A host process that is given pid `want`: ns_last_pid set just below it, retried while others race. */
async function hostProcessAt(want: number): Promise<ChildProcess | undefined> {
  for (let i = 0; i < 200; i++) {
    writeFileSync('/proc/sys/kernel/ns_last_pid', String(want - 1));
    const p = spawn('/bin/sleep', ['600'], { stdio: 'ignore' });
    if (p.pid === want) return p;
    p.kill('SIGKILL');
    await exited(p);
  }
  return undefined;
}

async function pidReuse(c: Checker, s: Scratch): Promise<void> {
  const id = 'it-hd-reuse';
  container(s, id);
  c.ok(await eventually(() => existsSync(join(s.runDir, 'sock', id, 'exec.sock')), 60_000), 'reuse: the exec socket is served');
  const exec = spawn('crun', ['exec', '--env', `CHILD=${CHILD}`, id, process.execPath, '-e', PARENT, 'reuse-parent'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  exec.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  exec.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const closed = new Promise<void>((r) => exec.stdout!.on('close', () => r()));
  c.ok(await eventually(() => hostPid('reuse-parent') !== undefined, 60_000), 'reuse: the connecting process runs');
  const peer = hostPid('reuse-parent')!;
  c.ok(await eventually(() => hostPid('reuse-child') !== undefined && hostPid('reuse-parent') === undefined, 60_000), 'reuse: it handed its connection to a child and exited');
  const child = hostPid('reuse-child');
  const bystander = await hostProcessAt(peer);
  c.ok(bystander !== undefined, `reuse: a host process was given the exited peer's pid ${peer}`);
  const before = readOr(`/proc/${peer}/cgroup`).trim();
  const adjBefore = readOr(`/proc/${peer}/oom_score_adj`).trim();
  c.ok(await eventually(() => existsSync(`/proc/${child}/root/run/go`), 60_000), 'reuse: the child waits for its cue');
  writeFileSync(`/proc/${child}/root/run/go`, 'go\n');
  await Promise.race([closed, sleep(120_000)]);
  c.match(out, /"ok":false.*the process that connected has exited/, 'reuse: a begin on a connection whose process exited is refused', out);
  c.equal(readOr(`/proc/${peer}/cgroup`).trim(), before, 'reuse: the host process at that pid was not moved', before);
  c.equal(readOr(`/proc/${peer}/oom_score_adj`).trim(), adjBefore, 'reuse: nor its oom_score_adj changed');
  bystander?.kill('SIGKILL');
  run('crun', ['delete', '-f', id]);
}

/** Grows in 10 MiB steps until frozen (and then killed): up to 220 MiB. */
const GROW = `const keep = []; setInterval(() => { if (keep.length < 22) keep.push(Buffer.alloc(10 << 20, 1)); }, 50);`;

async function fifoStderr(c: Checker, s: Scratch, daemonLog: string): Promise<void> {
  const id = 'it-hd-fifo';
  writeFileSync('/sys/fs/cgroup/cgroup.subtree_control', '+memory +cpu +pids');
  mkdirSync(BUDGET, { recursive: true });
  writeFileSync(join(BUDGET, 'cgroup.subtree_control'), '+memory +cpu +pids');
  writeFileSync(join(BUDGET, 'memory.max'), String(256 * MiB));
  container(s, id, { cgroupsPath: `/it-hd-budget/${id}` });
  c.ok(await eventually(() => readOr(daemonLog).includes(`container ${id}`) || existsSync(join(s.runDir, 'sock', id, 'exec.sock')), 60_000), 'fifo: the container is followed');
  // Its stderr a FIFO it holds open itself and keeps full: a write to it would wait forever.
  const script = `mkfifo /run/f && exec 2<>/run/f && { head -c 1000000 /dev/zero >&2 & } && exec ${process.execPath} -e '${GROW}'`;
  const call = spawn('crun', ['exec', id, '/bin/sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let said = '';
  for (const out of [call.stdout!, call.stderr!]) out.on('data', (d: Buffer) => (said += d.toString()));
  const killed = new RegExp(`container ${id}: call \\S+ killed`);
  const budget = () => ({ current: readOr(join(BUDGET, 'memory.current')).trim(), cgroups: run('sh', ['-c', `cd /sys/fs/cgroup/it-hd-budget/${id} && grep -H . */cgroup.procs */*/cgroup.procs */*/memory.current */*/cgroup.freeze`]).stdout, said, log: readOr(daemonLog).slice(-3000) });
  c.ok(await eventually(() => killed.test(readOr(daemonLog)), 180_000), 'fifo: the ladder froze and then killed the call (deadline 3 s)', budget());
  // Not killed: the container's deletion ends the call, so the scenario goes on either way.
  if (!killed.test(readOr(daemonLog))) run('crun', ['delete', '-f', id]);
  await within(exited(call), 60_000);
  const answer = await Promise.race([adminAsk(join(s.runDir, 'admin.sock'), '{"v":1,"op":"ping"}'), sleep(60_000).then(() => 'timeout')]);
  c.match(answer, /"ok":true/, 'fifo: the daemon still answers after writing the reason to a full FIFO', answer);
  c.match(readOr(daemonLog), /kill reason not written to its stderr \(would-block\)/, 'fifo: the reason was not forced into the full FIFO', readOr(daemonLog).slice(-3000));
  const logged = readOr(join(s.callDir, `${id}.jsonl`));
  c.match(logged, /"reason":"[^"]*(frozen for|without progress)/, 'fifo: the call is logged with the reason', logged);
  run('crun', ['delete', '-f', id]);
  rmSync(BUDGET, { recursive: true, force: true });
  run('rmdir', [BUDGET]);
}

/**
 * One container floods the tracker (a fork/exec storm run as a tool call: its events fill the shared
 * ring) while another's framework starts a tool call every 300 ms: those are still placed, lost
 * events are counted and made up for by a rescan, and the daemon keeps answering.
 */
async function storm(c: Checker, s: Scratch, daemonLog: string): Promise<void> {
  const built = run('clang', ['-static', '-O2', '-o', join(s.dir, 'storm'), resolve('test/integration/agents/storm.c')]);
  if (!c.equal(built.status, 0, 'storm: the generator builds', built.stderr)) return;
  container(s, 'it-hd-calm', { args: ['/bin/sh', '-c', 'while :; do /usr/bin/true; sleep 0.3; done'], annotations: SHELL_FRAMEWORK });
  container(s, 'it-hd-storm');
  const calm = () => readOr(join(s.callDir, 'it-hd-calm.jsonl')).split('\n').filter(Boolean).length;
  c.ok(await eventually(() => calm() >= 3, 120_000), 'storm: the calm container\'s calls are placed before the storm');
  const flood = spawn('crun', ['exec', 'it-hd-storm', '/scratch/storm', '-w', '4', '-s', '60', '/usr/bin/true'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let report = '';
  flood.stdout!.on('data', (d: Buffer) => (report += d.toString()));
  const stormStart = new Date().toISOString();
  const during = calm();
  const pings: string[] = [];
  const started = Date.now();
  // Until five of the calm container's calls are placed while the storm runs (60 s), a ping a second.
  while (Date.now() - started < 55_000 && calm() - during < 5) {
    pings.push(await Promise.race([adminAsk(join(s.runDir, 'admin.sock'), '{"v":1,"op":"ping"}'), sleep(30_000).then(() => 'timeout')]));
    await sleep(1000);
  }
  c.ok(pings.every((p) => /"ok":true/.test(p)), 'storm: the daemon answers every ping during the storm', pings.filter((p) => !/"ok":true/.test(p)));
  c.ok(calm() - during >= 5, 'storm: the calm container\'s calls are still placed during the storm', { during, after: calm() });
  const placed = readOr(join(s.callDir, 'it-hd-calm.jsonl'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { start: string; placement?: { afterExecUs: number } });
  const p50 = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? null;
  const ms = (before: boolean) => p50(placed.filter((r) => r.placement && r.start < stormStart === before).map((r) => r.placement!.afterExecUs / 1000));
  c.ok(true, 'storm: the calm container\'s placement after exec, p50 ms before and during the storm', { before: ms(true), during: ms(false) });
  await exited(flood);
  c.match(report, /"started":[1-9]/, 'storm: the storm ran', report);
  const snap = await adminAsk(join(s.runDir, 'admin.sock'), '{"v":1,"op":"snapshot"}');
  let counts: { events: number; eventsDropped: number; rescans: number } | undefined;
  try {
    counts = (JSON.parse(snap) as { trackerCounts?: typeof counts }).trackerCounts;
  } catch {
    counts = undefined;
  }
  c.ok((counts?.events ?? 0) > 0, 'storm: the snapshot counts the tracker\'s events', counts);
  c.ok((counts?.eventsDropped ?? 0) === 0 || (counts?.rescans ?? 0) > 0 || /rescanning the agent leaves/.test(readOr(daemonLog)), 'storm: lost events, if any, were made up for by a rescan', counts);
  for (const id of ['it-hd-calm', 'it-hd-storm']) run('crun', ['delete', '-f', id]);
}

/**
 * Opens 64 connections to its exec socket and holds them; then, on one more, writes 16 MiB of
 * requests without reading a reply. Prints what it saw.
 */
const FLOOD = `
const net = require('net');
const path = '/run/agentcgroup/exec.sock';
const open = () => new Promise((resolve) => {
  const s = net.createConnection(path);
  let buf = '';
  s.on('data', (d) => { buf += d; });
  s.on('error', () => {});
  s.on('close', () => resolve({ s, buf, closed: true }));
  setTimeout(() => resolve({ s, buf, closed: s.destroyed }), 3000);
});
(async () => {
  const held = await Promise.all(Array.from({ length: 64 }, open));
  const refused = held.filter((h) => /too many connections/.test(h.buf)).length;
  const open_ = held.filter((h) => !h.closed).length;
  for (const h of held) h.s.destroy();
  await new Promise((r) => setTimeout(r, 1000));
  const flood = net.createConnection(path);
  flood.on('error', () => {});
  flood.pause();
  const line = JSON.stringify({ v: 1, op: 'end', call: 'x'.repeat(200), exit: 0, signal: null }) + '\\n';
  let written = 0;
  const closed = new Promise((r) => flood.on('close', r));
  flood.on('connect', () => { const chunk = line.repeat(1000); const pump = () => { while (written < (16 << 20) && !flood.destroyed) { written += chunk.length; if (!flood.write(chunk)) return flood.once('drain', pump); } }; pump(); });
  const r = await Promise.race([closed.then(() => 'closed'), new Promise((r) => setTimeout(() => r('open'), 60000))]);
  console.log(JSON.stringify({ refused, open: open_, flood: r, written }));
  process.exit(0);
})();
`;

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readOr(`/proc/${pid}/status`))?.[1] ?? 0);
}

async function floods(c: Checker, s: Scratch, daemonPid: number): Promise<void> {
  container(s, 'it-hd-flood');
  container(s, 'it-hd-neighbour');
  c.ok(await eventually(() => ['it-hd-flood', 'it-hd-neighbour'].every((id) => existsSync(join(s.runDir, 'sock', id, 'exec.sock'))), 60_000), 'floods: both exec sockets are served');
  const rssBefore = rssKiB(daemonPid);
  const r = run('crun', ['exec', 'it-hd-flood', process.execPath, '-e', FLOOD]);
  let seen: { refused?: number; open?: number; flood?: string; written?: number } = {};
  try {
    seen = JSON.parse(r.stdout) as typeof seen;
  } catch {
    seen = {};
  }
  c.ok((seen.refused ?? 0) >= 64 - 16 && (seen.open ?? 99) <= 16, 'floods: past limits.exec_connections (16) a connection is refused with one line', { seen, stderr: r.stderr });
  c.equal(seen.flood, 'closed', 'floods: a client that writes requests and never reads a reply is dropped', seen);
  const grown = rssKiB(daemonPid) - rssBefore;
  c.ok(grown < 64 * 1024, 'floods: the daemon did not buffer the flood (RSS grew less than 64 MiB)', { grownKiB: grown });
  const neighbour = run('crun', ['exec', 'it-hd-neighbour', process.execPath, CLI, 'exec', '--', '/bin/true']);
  c.equal(neighbour.status, 0, 'floods: another container still runs a tool call through its socket', neighbour.stderr);
  const answer = await Promise.race([adminAsk(join(s.runDir, 'admin.sock'), '{"v":1,"op":"ping"}'), sleep(60_000).then(() => 'timeout')]);
  c.match(answer, /"ok":true/, 'floods: and the daemon answers', answer);
  for (const id of ['it-hd-flood', 'it-hd-neighbour']) run('crun', ['delete', '-f', id]);
}

scenario(async (c) => {
  const s = scratch(POLICY);
  rmSync(s.runDir, { recursive: true, force: true });
  const daemon = await startDaemon(s);
  // AGENTCGROUP_PARTS="fifo storm" runs only those parts (by hand, while working on one).
  const parts = (process.env.AGENTCGROUP_PARTS ?? 'reuse fifo storm floods').split(/[\s,]+/);
  try {
    if (parts.includes('reuse')) await pidReuse(c, s);
    if (parts.includes('fifo')) await fifoStderr(c, s, daemon.log);
    if (parts.includes('storm')) await storm(c, s, daemon.log);
    if (parts.includes('floods')) await floods(c, s, daemon.child.pid!);
  } finally {
    daemon.child.kill('SIGTERM');
    await exited(daemon.child);
  }
  c.ok(!readFileSync(daemon.log, 'utf8').includes('Uncaught'), 'the daemon logged no uncaught exception');
});
