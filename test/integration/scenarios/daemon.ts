// The supervisor on a real kernel: a stand-in agent in a crun container forks tool calls (sh -c,
// as agent frameworks run commands) that burst memory; the daemon moves each into its own cgroup;
// a SIGKILL and restart of the daemon loses nothing; exec from inside a container goes through the
// container's own socket, by `agentcgroup exec` and by the static client mounted beside the socket,
// read-only, as the shim and the daemon mount them.
import { appendFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Checker, scenario } from '../harness.js';
import { execMounts, makeExecSocketDir } from '../../../src/exec/socketmount.js';
import { CLI, SHELL_FRAMEWORK, type Scratch, adminAsk, eventually, exited, installExecClient, makeBundle, readOr, run, runDetached, scratch, sleep, startDaemon } from '../bundle.js';

const MiB = 1 << 20;
const cg = (rel: string, file = '') => join('/sys/fs/cgroup', rel, file);

interface Call {
  name: string;
  outcome: string;
  cgroup: string;
  memory: { peak: number | null };
}

const calls = (s: Scratch, id: string): Call[] =>
  readOr(join(s.callDir, `${id}.jsonl`))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Call);

/**
 * The agent reads commands from a FIFO and runs each as `sh -c CMD &`: a fork, then an exec, as agent
 * frameworks run tools. `read` is a shell builtin, so the idle agent itself never execs anything.
 */
// Through `env`, whose execvp is always a real execve: busybox's shell would otherwise run `sh`, `dd`
// and friends in-process, where no exec marks a tool call (a real framework's spawn always execs).
const AGENT = 'while :; do while read -r cmd; do env sh -c "$cmd" & done < /ctl/fifo; done';

function toolCall(ctl: string, script: string): void {
  appendFileSync(join(ctl, 'fifo'), `${script}\n`);
}

/** Whether some process's command line holds `text` (the kernel's view, from /proc). */
function commandRuns(text: string): boolean {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .some((p) => readOr(`/proc/${p}/cmdline`).includes(text));
}

/** Context switches (a thread waking) and CPU ticks (a thread spinning) of all the daemon's threads. */
function activity(pid: number): { wakeups: number; ticks: number } {
  let wakeups = 0;
  let ticks = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    wakeups += Number(/^voluntary_ctxt_switches:\s+(\d+)$/m.exec(readOr(`/proc/${pid}/task/${tid}/status`))?.[1] ?? 0);
    const stat = readOr(`/proc/${pid}/task/${tid}/stat`).split(') ')[1]?.split(' ') ?? [];
    ticks += Number(stat[11] ?? 0) + Number(stat[12] ?? 0);
  }
  return { wakeups, ticks };
}

async function agentContainer(c: Checker, s: Scratch): Promise<void> {
  const id = 'it-daemon';
  const ctl = join(s.dir, 'ctl');
  mkdirSync(ctl);
  run('mkfifo', [join(ctl, 'fifo')]);
  const bundle = makeBundle(s, id, { args: ['/bin/sh', '-c', AGENT], memoryLimit: 512 * MiB, binds: [{ source: ctl, destination: '/ctl' }], annotations: SHELL_FRAMEWORK });
  let daemon = await startDaemon(s);
  c.equal(runDetached('crun', bundle, id, join(s.dir, 'agent.log')).status, 0, 'agent container starts');
  const C = JSON.parse(readOr(join(s.runDir, 'containers', `${id}.json`))).cgroup as string;

  // Idle: the daemon sleeps in its waits and has no children. Taking in the new container keeps it busy
  // for a while (how long depends on the machine), so look at 3 s windows until one is quiet: a daemon
  // that polls or spins never has one.
  const windows: { wakeups: number; cpuTicks: number }[] = [];
  const quiet = (w: { wakeups: number; cpuTicks: number }) => w.wakeups <= 2 && w.cpuTicks <= 2;
  for (const until = Date.now() + 60_000; Date.now() < until && !windows.some(quiet); ) {
    const before = activity(daemon.child.pid!);
    await sleep(3000);
    const after = activity(daemon.child.pid!);
    windows.push({ wakeups: after.wakeups - before.wakeups, cpuTicks: after.ticks - before.ticks });
  }
  c.ok(windows.some(quiet), 'idle daemon neither wakes up nor spins', windows);
  c.equal(readOr(`/proc/${daemon.child.pid}/task/${daemon.child.pid}/children`).trim(), '', 'daemon spawned no child process');

  for (let i = 1; i <= 3; i++) toolCall(ctl, 'sleep 1; dd if=/dev/zero of=/dev/null bs=48M count=1');
  const three = await eventually(() => calls(s, id).length >= 3, 60_000);
  c.ok(three, 'three tool calls logged by the daemon', calls(s, id));
  const logged = calls(s, id);
  c.ok(logged.every((k) => (k.memory.peak ?? 0) >= 48 * MiB), 'each call cgroup saw its 48M burst in memory.peak', logged.map((k) => k.memory.peak));
  c.ok(logged.every((k) => k.outcome === 'ok' && k.cgroup.startsWith(`/${C}/tools/sh-`)), 'each ran in its own tools/ cgroup and ended ok', logged);
  const agentPeak = Number(readOr(cg(C, 'agent/memory.peak')));
  c.ok(agentPeak < 16 * MiB, 'the agent leaf stayed near its baseline', { agentPeak });
  c.ok(await eventually(() => readdirSync(cg(C, 'tools')).filter((n) => !n.includes('.')).length === 0), 'tool cgroups are gone after the calls');

  // SIGKILL mid-call: one call running when the daemon dies, one started while it is down.
  toolCall(ctl, 'sleep 6; dd if=/dev/zero of=/dev/null bs=32M count=1');
  const running = await eventually(() => readdirSync(cg(C, 'tools')).some((n) => n.startsWith('sh-')), 30_000);
  c.ok(running, 'a long call is running in its cgroup');
  daemon.child.kill('SIGKILL');
  await exited(daemon.child);
  toolCall(ctl, 'sleep 8; dd if=/dev/zero of=/dev/null bs=32M count=1');
  c.ok(await eventually(() => commandRuns('sleep 8; dd'), 60_000), 'a call starts while the daemon is down');
  daemon = await startDaemon(s, 'daemon2.log');
  // What the restarted daemon did, for a check that fails: its log, and what is left in tools/.
  const restarted = () => ({ tools: readdirSync(cg(C, 'tools')).filter((n) => !n.includes('.')), log: readOr(daemon.log).slice(-3000) });
  const five = await eventually(() => calls(s, id).length >= 5, 180_000);
  c.ok(five, 'after restart both calls are logged: the one it was tracking and the one started meanwhile', { calls: calls(s, id).slice(3), ...restarted() });
  c.ok(calls(s, id).slice(3).every((k) => (k.memory.peak ?? 0) >= 32 * MiB), 'and each burst was charged to its own call', calls(s, id).slice(3).map((k) => k.memory.peak));
  c.ok(await eventually(() => restarted().tools.length === 0, 120_000), 'no tool cgroup left after restart', restarted());

  const ping = await adminAsk(join(s.runDir, 'admin.sock'), '{"op":"snapshot"}');
  c.match(ping, /"ok":true.*"it-daemon"/, 'admin socket answers root with the status');
  const status = run(process.execPath, [CLI, 'status', '--json', '--policy', s.policy]);
  c.match(status.stdout, /^\{"v":1,"ok":true,"containers":\[\{"id":"it-daemon"/, 'agentcgroup status --json shows the container', status.stderr);
  const nobody = run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e',
    `const s=require('net').createConnection(${JSON.stringify(join(s.runDir, 'admin.sock'))});s.on('error',e=>{console.log(e.code);});s.on('data',d=>{console.log(String(d));s.end()});s.on('connect',()=>s.write('{"op":"ping"}\\n'))`]);
  c.match(nobody.stdout, /EACCES|refused/, 'the admin socket refuses non-root', nobody.stdout + nobody.stderr);

  run('crun', ['delete', '-f', id]);
  daemon.child.kill('SIGTERM');
  c.equal(await exited(daemon.child), 0, 'SIGTERM stops the daemon cleanly');
  c.ok(!existsSync(join(s.runDir, 'admin.sock')), 'admin socket removed');
}

async function execInside(c: Checker, s: Scratch): Promise<void> {
  const id = 'it-inside';
  const sockDir = join(s.runDir, 'sock', id);
  // What the shim and the daemon do: the socket directory with the client's placeholder, both mounts.
  const client = installExecClient(s);
  makeExecSocketDir(s.runDir, id, true);
  const bundle = makeBundle(s, id, { args: ['/bin/sleep', '300'], hostRoot: true, memoryLimit: 512 * MiB, mounts: execMounts(s.runDir, id, client) });
  const daemon = await startDaemon(s, 'daemon3.log');
  c.equal(runDetached('crun', bundle, id, join(s.dir, 'inside.log')).status, 0, 'container with the exec socket starts');
  c.ok(await eventually(() => existsSync(join(sockDir, 'exec.sock'))), 'the daemon opened the container’s exec socket');
  const r = run('crun', ['exec', id, process.execPath, CLI, 'exec', '--name', 'probe', '--', 'cat', '/proc/self/cgroup']);
  c.ok(r.status === 0, 'agentcgroup exec inside the container exits 0', { status: r.status, stderr: r.stderr });
  c.match(r.stdout, /^0::\/tools\/[a-z0-9_.-]+\n$/, 'the command ran in a tool-call cgroup', r.stdout);
  c.ok(await eventually(() => calls(s, id).some((k) => k.name === 'probe')), 'the call is logged under its name');

  // The static client, mounted beside the socket: no node, no binary of ours in the image needed.
  const EXEC = '/run/agentcgroup/agentcgroup-exec';
  const native = run('crun', ['exec', id, EXEC, '--name', 'probe-native', '--', 'cat', '/proc/self/cgroup']);
  c.equal(native.status, 0, 'agentcgroup-exec inside the container exits 0', native.stderr);
  c.match(native.stdout, /^0::\/tools\/[a-z0-9_.-]+\n$/, 'the command ran in a tool-call cgroup', native.stdout);
  c.ok(await eventually(() => calls(s, id).some((k) => k.name === 'probe-native' && k.outcome === 'ok')), 'the call is logged under its name, ok');
  const three = run('crun', ['exec', id, EXEC, '--', 'sh', '-c', 'exit 3']);
  c.equal(three.status, 3, "the command's exit code is the client's", three.stderr);
  c.ok(await eventually(() => calls(s, id).some((k) => k.name === 'sh' && k.outcome === 'failed')), 'and the call is logged as failed');
  const killed = run('crun', ['exec', id, EXEC, '--', 'sh', '-c', 'kill -9 $$']);
  c.equal(killed.status, 137, 'a command ended by SIGKILL: 137', killed.stderr);
  const missing = run('crun', ['exec', id, EXEC, '--', 'no-such-command-here']);
  c.equal(missing.status, 127, 'not found: 127', missing.stderr);
  c.match(missing.stderr, /^agentcgroup: exec: cannot run "no-such-command-here": ENOENT\n/, 'said in one line', missing.stderr);
  const nested = run('crun', ['exec', id, EXEC, '--', EXEC, '--', 'true']);
  c.equal(nested.status, 125, 'a call cannot start another one: 125', nested.stderr);
  c.match(nested.stderr, /^agentcgroup: exec: the daemon refused the call: .*not in the agent leaf/m, 'refused by the daemon, in one line', nested.stderr);
  const write = run('crun', ['exec', id, 'sh', '-c', `echo x > ${EXEC}`]);
  c.ok(write.status !== 0, 'the container cannot write the client', write.stderr);
  const remove = run('crun', ['exec', id, 'rm', '-f', EXEC]);
  c.ok(remove.status !== 0, 'nor remove it', remove.stderr);
  const plant = run('crun', ['exec', id, 'ln', '-s', '/bin/sh', '/run/agentcgroup/x']);
  c.ok(plant.status !== 0, 'nor plant anything beside it', plant.stderr);
  const mountinfo = run('crun', ['exec', id, 'cat', '/proc/self/mountinfo']).stdout.split('\n').find((l) => l.split(' ')[4] === EXEC) ?? '';
  const options = (mountinfo.split(' ')[5] ?? '').split(',');
  c.ok(['ro', 'nosuid', 'nodev'].every((o) => options.includes(o)) && !options.includes('noexec'), 'mounted ro,nosuid,nodev, not noexec', mountinfo);
  c.equal(readOr(join(sockDir, 'agentcgroup-exec')), '', "the host's placeholder is still empty");
  // The client's own cost over running the command directly, as the detail of a check that each of
  // those runs exited 0: the timings are no pass or fail (bench:fast-paths measures it), so a few do.
  const RUNS = 5;
  const time = (argv: string[]) => {
    const t0 = process.hrtime.bigint();
    let failed = 0;
    for (let i = 0; i < RUNS; i++) if (run('crun', ['exec', id, ...argv]).status !== 0) failed++;
    return { meanMs: Number(process.hrtime.bigint() - t0) / RUNS / 1e6, failed };
  };
  const direct = time(['true']);
  const through = time([EXEC, '--', 'true']);
  c.ok(direct.failed === 0 && through.failed === 0, `crun exec of true, ${RUNS} times direct and ${RUNS} through agentcgroup-exec, each exits 0 (detail: mean ms)`, { direct, through });
  const outsider = await adminAsk(join(sockDir, 'exec.sock'), '{"v":1,"op":"begin","name":"x","argv":["x"]}');
  c.match(outsider, /"ok":false.*not in container it-inside/, 'a process outside the container is refused');
  run('crun', ['delete', '-f', id]);
  daemon.child.kill('SIGTERM');
  await exited(daemon.child);
  c.ok(!existsSync(join(sockDir, 'exec.sock')), 'exec socket removed with the container');
}

scenario(async (c) => {
  const s = scratch();
  await agentContainer(c, s);
  await execInside(c, s);
});
