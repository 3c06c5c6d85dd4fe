/**
 * Guest check of the sched_ext agent scheduler (issue 21 prototype): loads dist/agentsched.bpf.o
 * (or AGENTCGROUP_SCHED_OBJECT), attaches it, prints /sys/kernel/sched_ext, gives its own cgroup the
 * agent class, one busy child's cgroup the tool-call class and two busy children's cgroup the low
 * tool-call class, spins beside them for 2 s (printing who got how much CPU), and then:
 *   node try-load.cjs          detaches and prints the state again (and the exit record)
 *   node try-load.cjs exit     process.exit() while attached: the kernel must revert on the fd's close
 *   node try-load.cjs kill     SIGKILLs itself while attached: likewise
 * Bundle: npx esbuild bench/sched/try-load.ts --bundle --platform=node --target=node20 --format=cjs \
 *   --outfile=build/sched/try-load.cjs --external:koffi
 * Cgroups are made only inside the test guest (AGENTCGROUP_IN_GUEST=1 and a sched_ext kernel).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import koffi from 'koffi';
import { possibleCpus } from '../../src/bpf/libbpf.js';
import { AgentScheduler, schedExtStatus, SCHED_OBJECT_ENV } from '../../src/bpf/sched.js';

const mode = process.argv[2] ?? 'detach';
const CG = '/sys/fs/cgroup';
const LEAVES = ['agent', 'tool', 'low'];
const out = (line: string) => process.stdout.write(`try-load: ${line}\n`);
const status = (when: string) => out(`${when}: ${JSON.stringify(schedExtStatus())}`);

function cgroupId(dir: string): bigint {
  return statSync(dir, { bigint: true }).ino;
}

function ownCgroup(): string {
  const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'));
  return join(CG, line ? line.slice(3) : '/');
}

function spin(ms: number): { cpuMs: number; wallMs: number } {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  let x = 0;
  while (process.hrtime.bigint() - t0 < BigInt(ms) * 1_000_000n) x += Math.sqrt(x + 1);
  const c = process.cpuUsage(c0);
  return { cpuMs: Math.round((c.user + c.system) / 1000), wallMs: Math.round(Number(process.hrtime.bigint() - t0) / 1e6) };
}

/**
 * Takes libbpf's log over from src/bpf/libbpf.ts (which keeps only a failure's last lines) so that a
 * rejected load shows the whole verifier log. libbpf.ts binds libbpf on first use and installs its
 * own printer then: possibleCpus() makes that happen first, so this printer is the one left.
 */
function captureLibbpfLog(): string[] {
  possibleCpus();
  const lines: string[] = [];
  const so = koffi.load('libbpf.so.1');
  const libc = koffi.load('libc.so.6');
  const vasprintf = libc.func('int vasprintf(_Out_ void **out, void *fmt, void *ap)');
  const free = libc.func('void free(void *ptr)');
  const proto = koffi.proto('int try_load_libbpf_print(int level, void *fmt, void *ap)');
  const print = (level: number, fmt: unknown, ap: unknown): number => {
    if (level > 1) return 0;
    const outp: [unknown] = [null];
    if (vasprintf(outp, fmt, ap) >= 0 && outp[0] !== null) {
      lines.push(...koffi.decode.string(outp[0]).split('\n').filter((l) => l !== ''));
      free(outp[0]);
    }
    return 0;
  };
  so.func('void *libbpf_set_print(try_load_libbpf_print *fn)')(koffi.register(print, koffi.pointer(proto)));
  return lines;
}

/** A process's CPU time in ms (utime + stime of /proc/PID/stat, at USER_HZ 100). */
function cpuMsOf(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return -1;
  }
}

// The bundle is build/sched/try-load.cjs: the checkout's dist/ is two levels up.
const objectPath = process.env[SCHED_OBJECT_ENV] ?? join(__dirname, '../../dist/agentsched.bpf.o');
const inGuest = process.env.AGENTCGROUP_IN_GUEST === '1' && existsSync('/sys/kernel/sched_ext');

async function main(): Promise<void> {
  status('before');
  const log = captureLibbpfLog();
  const t0 = Date.now();
  let sched: AgentScheduler;
  try {
    sched = AgentScheduler.open(objectPath);
  } catch (err) {
    out(`libbpf log (last 120 lines):\n${log.slice(-120).join('\n')}`);
    throw err;
  }
  out(`loaded (verifier accepted) in ${Date.now() - t0} ms`);
  try {
    sched.attach();
  } catch (err) {
    out(`libbpf log (last 40 lines):\n${log.slice(-40).join('\n')}`);
    throw err;
  }
  status('attached');
  const early = sched.exitInfo();
  if (early) out(`exited already: ${JSON.stringify(early, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))}`);

  let children: ChildProcess[] = [];
  let base: string | undefined;
  let home: string | undefined;
  if (inGuest) {
    home = ownCgroup();
    base = join(CG, 'agentsched-try');
    for (const d of [base, ...LEAVES.map((l) => join(base!, l))]) mkdirSync(d, { recursive: true });
    writeFileSync(join(base, 'agent', 'cgroup.procs'), String(process.pid));
    sched.setClass(cgroupId(join(base, 'agent')), 'agent');
    sched.setClass(cgroupId(join(base, 'tool')), 'tool');
    sched.setClass(cgroupId(join(base, 'low')), 'toolLow');
    children = ['tool', 'low', 'low'].map((leaf) => {
      const c = spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' });
      writeFileSync(join(base!, leaf, 'cgroup.procs'), String(c.pid));
      return c;
    });
    out(`classes: agent=${cgroupId(join(base, 'agent'))} (this process), tool=${cgroupId(join(base, 'tool'))} (1 busy child), toolLow=${cgroupId(join(base, 'low'))} (2 busy children)`);
  } else {
    out('not in the test guest: no cgroups made, own cgroup left unclassified');
  }

  const before = children.map((c) => cpuMsOf(c.pid));
  const s = spin(2000);
  const spinners = children.map((c, i) => cpuMsOf(c.pid) - before[i]!);
  out(`agent-class spin: ${s.cpuMs} ms CPU in ${s.wallMs} ms wall; beside it, tool spinner ${spinners[0]} ms, toolLow spinners ${spinners.slice(1).join(' + ')} ms`);
  out(`stats: ${JSON.stringify(sched.stats(), (_k, v) => (typeof v === 'bigint' ? Number(v) : v))}`);
  status('still attached');

  if (mode === 'exit' || mode === 'kill') {
    for (const c of children) c.kill('SIGKILL');
    out(`${mode} while attached: the kernel must revert when the link's fd closes`);
    if (mode === 'kill') process.kill(process.pid, 'SIGKILL');
    process.exit(0);
  }

  sched.detach();
  status('detached');
  const exit = sched.exitInfo();
  out(`exit record: ${exit ? JSON.stringify(exit, (_k, v) => (typeof v === 'bigint' ? Number(v) : v)) : 'none'}`);
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r)))));
  if (base !== undefined && home !== undefined) {
    writeFileSync(join(home, 'cgroup.procs'), String(process.pid));
    for (const d of [...LEAVES.map((l) => join(base!, l)), base]) rmdirSync(d);
  }
  sched.close();
  out('done');
}

main().catch((err: unknown) => {
  out(`failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
