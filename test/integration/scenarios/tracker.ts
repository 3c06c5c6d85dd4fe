// The eBPF tracker on the guest's kernel (6.1, or 7.2 in the sid guest): the CO-RE object built on the
// host loads; fork, exec and exit of processes in a watched cgroup and in a sub-cgroup below it arrive
// with the right ids, parents, file names and exit codes; an unwatched cgroup stays silent; close()
// leaves nothing behind.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import koffi from 'koffi';
import { Tracker, type TrackerEvent } from '../../../src/bpf/tracker.js';
import { Cgroupfs } from '../../../src/cgroup/cgroupfs.js';
import { eventually, within } from '../bundle.js';
import { scenario } from '../harness.js';

const PROGRAMS = ['agentcg_fork', 'agentcg_exec', 'agentcg_exit'];
const CHILDREN = 50;

const ourPrograms = (): string[] => {
  const r = spawnSync('bpftool', ['prog', 'show', '--json'], { encoding: 'utf8' });
  return (JSON.parse(r.stdout) as { name?: string }[]).map((p) => p.name ?? '').filter((n) => PROGRAMS.includes(n));
};

const bpfFds = (): number =>
  readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith('anon_inode:bpf');
    } catch {
      return false; // the directory's own fd, gone by now
    }
  }).length;

/** Waits for the epoll fd to become readable, as the daemon's loop would (test only: koffi's uv poll). */
function readable(fd: number, timeoutMs: number): Promise<boolean> {
  return new Promise((done) => {
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      poll.close();
      done(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    const poll = koffi.node.poll(fd, { readable: true }, () => finish(true));
  });
}

/** Runs `script` with sh inside `cgroup`, placed there before its first command; returns the shell's pid. */
function runIn(cgroup: string, script: string): number {
  const r = spawnSync('/bin/sh', ['-c', 'echo $$ > "$1/cgroup.procs" && exec /bin/sh -c "$2"', 'sh', cgroup, script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`workload in ${cgroup} failed (${r.status ?? r.signal}): ${r.stderr}`);
  return r.pid;
}

/**
 * The state of a held process once its SIGSTOP has taken effect. The exec event reaches the ring
 * buffer while the process is still in the kernel on its way back to user space (7.2 showed it in R
 * and in D there), where the pending SIGSTOP stops it before its first instruction; waits for T up to
 * 10 s, then returns whatever state it is in.
 */
function stoppedState(pid: number): string {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[0] ?? '?';
    if (state === 'T' || Date.now() > deadline) return state;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
  }
}

/**
 * Runs `script` with sh inside `cgroup` (moved there before its first command), continuing every
 * process the tracker holds, as the daemon does; returns the events, the state each held process
 * was in when seen, and the exit code.
 */
async function runHeld(tracker: Tracker, cgroup: string, script: string): Promise<{ events: TrackerEvent[]; states: Map<number, string>; code: number | null }> {
  const child = spawn('/bin/sh', ['-c', `echo $$ > "$1/cgroup.procs" && ${script}`, 'sh', cgroup], { stdio: 'ignore' });
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let done = false;
  void exit.then(() => (done = true));
  const events: TrackerEvent[] = [];
  const states = new Map<number, string>();
  const deadline = Date.now() + 60_000;
  while (!done && Date.now() < deadline) {
    if (!(await readable(tracker.epollFd, 500))) continue;
    for (const e of drain(tracker)) {
      events.push(e);
      if (!e.held) continue;
      states.set(e.pid, stoppedState(e.pid));
      process.kill(e.pid, 'SIGCONT');
    }
  }
  const ended = await within(exit, 5_000);
  const code = ended === 'timeout' ? null : ended;
  events.push(...drain(tracker));
  return { events, states, code };
}

/** Check details are JSON: bigints become strings. */
const show = (v: unknown): unknown => JSON.parse(JSON.stringify(v ?? null, (_k, x: unknown) => (typeof x === 'bigint' ? String(x) : x)));

function drain(tracker: Tracker): TrackerEvent[] {
  const events: TrackerEvent[] = [];
  while (tracker.consume((e) => events.push(e)).events > 0);
  return events;
}

scenario(async (c) => {
  const fs = new Cgroupfs('/sys/fs/cgroup');
  const watched = 'agentcg-it-tracker';
  const sub = `${watched}/sub`;
  const unwatched = 'agentcg-it-untracked';
  const id = (cg: string) => statSync(fs.path(cg), { bigint: true }).ino;
  const fdsBefore = bpfFds();
  c.equal(ourPrograms().length, 0, 'no tracker programs loaded before open');
  let tracker: Tracker | undefined;
  try {
    for (const cg of [watched, sub, unwatched]) fs.create(cg);
    const [wId, subId, uId] = [id(watched), id(sub), id(unwatched)];

    const t0 = performance.now();
    tracker = Tracker.open(resolve('dist/tracker.bpf.o'));
    const openMs = Math.round(performance.now() - t0);
    c.ok(true, 'open, load and attach', { openMs });
    c.equal(ourPrograms().sort().join(' '), [...PROGRAMS].sort().join(' '), 'our three programs are loaded while open');
    tracker.watch(wId);

    // `; :` keeps sh from exec'ing the last command in place of forking it.
    const t1 = process.hrtime.bigint();
    const shellPid = runIn(
      fs.path(watched),
      `i=0; while [ $i -lt ${CHILDREN} ]; do /bin/true; i=$((i+1)); done
       sh -c 'exit 3'
       sh -c 'echo $$ > "$1/cgroup.procs" && /bin/sleep 0; :' sh ${fs.path(sub)}
       :`,
    );
    runIn(fs.path(unwatched), 'for i in 1 2 3 4 5 6 7 8 9 10; do /bin/true; done; :');
    const t2 = process.hrtime.bigint();

    c.ok(await readable(tracker.epollFd, 10_000), 'epollFd becomes readable');
    const t3 = performance.now();
    const events = drain(tracker);
    const consumeMs = Math.round(performance.now() - t3);
    const drops = tracker.drops();
    c.ok(events.length > 0, 'events delivered', { events: events.length, drops: String(drops), consumeMs });
    c.equal(String(drops), '0', 'no events dropped');

    const of = (type: string, pred: (e: TrackerEvent) => boolean) => events.filter((e) => e.type === type && pred(e));
    c.equal(events.filter((e) => e.cgroupId === uId).length, 0, 'the unwatched cgroup produces no events');
    c.ok(events.every((e) => e.watchId === wId), 'every event names the watched cgroup as the match');
    c.ok(events.every((e) => e.tsNs >= t1 && e.tsNs <= t2), 'timestamps are CLOCK_MONOTONIC within the run');

    const forks = of('fork', (e) => e.ppid === shellPid);
    const children = new Set(forks.map((e) => e.pid));
    c.equal(forks.length, CHILDREN + 2, 'a fork event for every child of the shell, with the shell as ppid');
    c.ok(forks.every((e) => e.tgid === e.pid && e.cgroupId === wId && e.comm === 'sh'), 'forks: new processes in the watched cgroup, comm inherited');
    const trues = of('exec', (e) => e.filename === '/bin/true');
    c.equal(trues.length, CHILDREN, 'an exec event with filename /bin/true for each child');
    c.ok(trues.every((e) => children.has(e.pid) && e.ppid === shellPid && e.comm === 'true'), 'the execs are the forked children');
    const trueExits = of('exit', (e) => trues.some((x) => x.pid === e.pid));
    c.equal(trueExits.length, CHILDREN, 'an exit event for each /bin/true');
    c.ok(trueExits.every((e) => e.exitCode === 0), '... each with exit code 0');
    const failed = of('exit', (e) => e.exitCode !== 0);
    c.equal(failed.length, 1, 'exactly one non-zero exit');
    c.ok(failed[0]?.exitCode === 3 << 8 && children.has(failed[0].pid), "sh -c 'exit 3' exits with 3 << 8 = 768", show(failed[0]));
    c.equal(of('exec', (e) => e.pid === shellPid && e.ppid === process.pid && e.filename === '/bin/sh').length, 1, "the wrapper's exec into the shell is seen");
    c.equal(of('exit', (e) => e.pid === shellPid && e.exitCode === 0).length, 1, "the shell's own exit is seen");

    const inSub = events.filter((e) => e.cgroupId === subId);
    const sleeper = of('exec', (e) => e.filename === '/bin/sleep')[0];
    c.equal(inSub.map((e) => e.type).join(' '), 'fork exec exit exit', 'the sub-cgroup: grandchild fork, exec, exit, then its parent exits');
    c.ok(sleeper !== undefined && sleeper.cgroupId === subId && sleeper.watchId === wId && children.has(sleeper.ppid), 'a grandchild in a sub-cgroup: cgroup_id the sub-cgroup, watch_id the watched parent', show(sleeper));
    c.equal(events.length, 3 * CHILDREN + 11, 'nothing else: exactly the expected number of events');

    c.ok(events.every((e) => !e.held), 'nothing is held in a cgroup not marked for holding');

    // The hold: an exec in a cgroup marked with holdIn() is stopped before its first instruction,
    // and goes on only when continued; inside a terminal job (a job-control shell on a pty) never.
    tracker.holdIn(wId);
    const plain = await runHeld(tracker, fs.path(watched), 'exec /bin/true');
    const held = plain.events.find((e) => e.type === 'exec' && e.filename === '/bin/true');
    c.ok(held?.held === true, 'an exec in a held cgroup comes with held', show(held));
    c.equal(plain.states.get(held?.pid ?? -1), 'T', 'the process is stopped (state T) until continued');
    c.equal(plain.code, 0, 'once continued it runs to its end (exit 0)');
    const job = await runHeld(tracker, fs.path(watched), 'echo "/bin/true; exit" | exec script -qc "bash --norc --noprofile -i" /dev/null');
    const inJob = job.events.find((e) => e.type === 'exec' && e.filename === '/bin/true');
    c.ok(inJob !== undefined && !inJob.held, 'a job of a job-control shell on a pty is not held', show(job.events.filter((e) => e.type === 'exec')));
    c.ok(job.events.some((e) => e.type === 'exec' && e.held && /script$/.test(e.filename)), 'while script itself, with no terminal, was', show(job.events.filter((e) => e.type === 'exec')));
    tracker.release(wId);
    const free = await runHeld(tracker, fs.path(watched), 'exec /bin/true');
    c.ok(free.events.every((e) => !e.held), 'after release() nothing is held', show(free.events));

    tracker.unwatch(wId);
    tracker.unwatch(wId);
    c.ok(true, 'unwatch of a cgroup not watched is not an error');
    runIn(fs.path(watched), '/bin/true; :');
    c.equal(drain(tracker).length, 0, 'after unwatch the cgroup is silent');

    tracker.close();
    tracker.close();
    // Newer kernels free a raw tracepoint link's program after an RCU grace period, not at close().
    c.ok(await eventually(() => ourPrograms().length === 0, 60_000), 'close() leaves no tracker program loaded (bpftool prog show)');
    c.equal(bpfFds(), fdsBefore, 'close() leaves no BPF fds open');
    try {
      tracker.watch(wId);
      c.ok(false, 'use after close is refused');
    } catch (err) {
      c.match((err as Error).message, /used after close/, 'use after close is refused');
    }
    try {
      Tracker.open(resolve('build/bpf/layout.json'));
      c.ok(false, 'a bad object is refused');
    } catch (err) {
      c.match((err as Error).message, /^cannot open eBPF object .*layout\.json: [^\n]+$/, 'a bad object is refused in one line');
    }
    c.equal(ourPrograms().length + bpfFds() - fdsBefore, 0, 'a failed open leaves nothing behind');
  } finally {
    tracker?.close();
    for (const cg of [sub, watched, unwatched]) if (fs.exists(cg)) fs.remove(cg);
  }
  c.ok(![sub, watched, unwatched].some((cg) => fs.exists(cg)), 'test cgroups removed');
});
