// A hostile container against the daemon itself: it hands its exec-socket connection to a child and
// exits so that the host gives its pid to a host process (ns_last_pid), then begins a call on that
// connection; and a tool call it starts has a full FIFO for stderr when the ladder kills it.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { againstDaemon, container, hostPid } from '../attacks.js';
import { type Checker, scenario } from '../harness.js';
import { type Scratch, adminAsk, eventually, exited, readOr, run, sleep, within } from '../bundle.js';

const MiB = 1 << 20;
const BUDGET = '/sys/fs/cgroup/it-hd-budget';

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

/** Grows in 10 MiB steps to `steps` of them, then holds until killed. */
const grow = (steps: number) => `const keep = []; setInterval(() => { if (keep.length < ${steps}) keep.push(Buffer.alloc(10 << 20, 1)); }, 50);`;

async function fifoStderr(c: Checker, s: Scratch, daemonLog: string): Promise<void> {
  const id = 'it-hd-fifo';
  writeFileSync('/sys/fs/cgroup/cgroup.subtree_control', '+memory +cpu +pids');
  mkdirSync(BUDGET, { recursive: true });
  writeFileSync(join(BUDGET, 'cgroup.subtree_control'), '+memory +cpu +pids');
  writeFileSync(join(BUDGET, 'memory.max'), String(256 * MiB));
  container(s, id, { cgroupsPath: `/it-hd-budget/${id}` });
  c.ok(await eventually(() => readOr(daemonLog).includes(`container ${id}`) || existsSync(join(s.runDir, 'sock', id, 'exec.sock')), 60_000), 'fifo: the container is followed');
  // A small call whose stderr is a FIFO it holds open itself and keeps full: a write to it would wait
  // forever. Then a big one: past freeze_at the ladder freezes the smaller (the larger runs on, its end
  // frees more), and ends it when it has been frozen for the deadline.
  const script = `mkfifo /run/f && exec 2<>/run/f && { head -c 1000000 /dev/zero >&2 & } && exec ${process.execPath} -e '${grow(2)}'`;
  const call = spawn('crun', ['exec', id, '/bin/sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let said = '';
  for (const out of [call.stdout!, call.stderr!]) out.on('data', (d: Buffer) => (said += d.toString()));
  const tools = `/sys/fs/cgroup/it-hd-budget/${id}/tools`;
  c.ok(await eventually(() => existsSync(tools) && readdirSync(tools).some((n) => n.startsWith('sh-')), 120_000), 'fifo: the small call is placed');
  const big = spawn('crun', ['exec', id, process.execPath, '-e', grow(15)], { stdio: 'ignore' });
  const killed = new RegExp(`container ${id}: call \\S+ killed`);
  const budget = () => ({ current: readOr(join(BUDGET, 'memory.current')).trim(), cgroups: run('sh', ['-c', `cd /sys/fs/cgroup/it-hd-budget/${id} && grep -H . */cgroup.procs */*/cgroup.procs */*/memory.current */*/cgroup.freeze`]).stdout, said, log: readOr(daemonLog).slice(-3000) });
  c.ok(await eventually(() => killed.test(readOr(daemonLog)), 180_000), 'fifo: the ladder froze and then killed the call (deadline 3 s)', budget());
  // Not killed: the container's deletion ends the call, so the scenario goes on either way.
  if (!killed.test(readOr(daemonLog))) run('crun', ['delete', '-f', id]);
  await within(exited(call), 60_000);
  c.match(readOr(daemonLog), new RegExp(`container ${id}: call sh-\\S+ killed`), 'fifo: the call killed is the one with the FIFO', readOr(daemonLog).slice(-2000));
  const answer = await Promise.race([adminAsk(join(s.runDir, 'admin.sock'), '{"v":1,"op":"ping"}'), sleep(60_000).then(() => 'timeout')]);
  c.match(answer, /"ok":true/, 'fifo: the daemon still answers after writing the reason to a full FIFO', answer);
  c.match(readOr(daemonLog), /kill reason not written to its stderr \(would-block\)/, 'fifo: the reason was not forced into the full FIFO', readOr(daemonLog).slice(-3000));
  const logged = readOr(join(s.callDir, `${id}.jsonl`));
  c.match(logged, /"reason":"[^"]*(frozen for|without progress)/, 'fifo: the call is logged with the reason', logged);
  run('crun', ['delete', '-f', id]);
  await within(exited(big), 60_000);
  run('rmdir', [BUDGET]);
}

scenario((c) =>
  againstDaemon(c, {
    reuse: (c, s) => pidReuse(c, s),
    fifo: (c, s, d) => fifoStderr(c, s, d.log),
  }),
);
