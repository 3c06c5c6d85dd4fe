import type { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { evaluate } from '../doctor/evaluate.js';
import { renderJson, renderTable } from '../doctor/render.js';
import { loadPolicy } from '../config/policy.js';
import { type Read, gatherHostFacts, nriFacts } from '../host/facts.js';
import { describeError } from '../errors.js';
import type { CliContext } from './context.js';

async function tryTracker(): Promise<{ ok: boolean; detail: string }> {
  try {
    const { Tracker } = await import('../bpf/tracker.js');
    const { trackerObjectPath } = await import('../bpf/object-path.js');
    const started = process.hrtime.bigint();
    Tracker.open(trackerObjectPath()).close();
    return { ok: true, detail: `yes (${Number((process.hrtime.bigint() - started) / 1_000_000n)} ms to open, load, attach and close)` };
  } catch (err) {
    return { ok: false, detail: describeError(err) };
  }
}

/** Opens and loads the sched_ext scheduler (the kernel verifies it, kfuncs and all), never attaches it. */
async function trySched(): Promise<{ ok: boolean; detail: string }> {
  try {
    const { AgentScheduler } = await import('../bpf/sched.js');
    const started = process.hrtime.bigint();
    AgentScheduler.open().close();
    return { ok: true, detail: `loads (${Number((process.hrtime.bigint() - started) / 1_000_000n)} ms to open, load and close; not attached)` };
  } catch (err) {
    return { ok: false, detail: describeError(err) };
  }
}

/** Which cgroups systemd-oomd watches, as it says itself (read-only, over its D-Bus; a few ms). */
function oomctlDump(): Read {
  const r = spawnSync('oomctl', ['--no-pager', 'dump'], { encoding: 'utf8', timeout: 3000, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) return { ok: false, error: (r.error as NodeJS.ErrnoException).code ?? r.error.message };
  if (r.status !== 0) return { ok: false, error: (r.stderr.trim().split('\n')[0] ?? '') || `exit ${r.status ?? r.signal}` };
  return { ok: true, text: r.stdout };
}

interface DoctorOptions {
  json?: boolean;
  policy?: string;
  procRoot: string;
  sysRoot: string;
}

export function registerDoctor(program: Command, ctx: CliContext, setExit: (code: number) => void): void {
  program
    .command('doctor')
    .description("check whether this host can run agentcgroup (cgroup v2, controllers, PSI, eBPF ...) and whether the daemon would register as the container runtime's NRI plugin; exit 0 only when it can run. Reads only (the NRI socket is looked at, not connected to); as root it also loads and at once unloads the eBPF tracker to prove bpf() works, and where the kernel has sched_ext loads (never attaches) agentcgroup's scheduler")
    .option('--json', 'print every probe with what it found and how it decided, as JSON')
    .option('--policy <file>', 'host policy YAML, for nri.enable, nri.socket and sched_ext.enable (default /etc/agentcgroup/policy.yaml if present)')
    .option('--proc-root <dir>', 'read /proc from here (for tests and chroots)', '/proc')
    .option('--sys-root <dir>', 'read /sys from here (for tests and chroots)', '/sys')
    .action(async (opts: DoctorOptions) => {
      const facts = gatherHostFacts({ proc: opts.procRoot, sys: opts.sysRoot }, ctx.uid);
      // Loading a BPF program is the only honest test of bpf(); it leaves nothing behind, and is only
      // tried on the real host as root (fixture roots describe some other machine).
      const live = opts.procRoot === '/proc' && opts.sysRoot === '/sys' && ctx.uid === 0 && facts.btf;
      if (live) facts.tracker = await tryTracker();
      if (live && facts.schedExt.state !== undefined) facts.schedLoad = await trySched();
      // Likewise systemd-oomd is asked only on the real host, and only when it runs.
      const oomd = Array.isArray(facts.oomKillers.running) && facts.oomKillers.running.some((p) => p.name === 'systemd-oomd');
      if (opts.procRoot === '/proc' && oomd) facts.oomKillers.oomctl = oomctlDump();
      try {
        const { nri, schedExt } = loadPolicy(opts.policy);
        facts.nri = nriFacts(nri.socket, nri.enable);
        facts.schedEnable = schedExt.enable;
      } catch (err) {
        facts.nri = { policyError: describeError(err) };
      }
      const report = evaluate(facts);
      ctx.stdout(opts.json ? renderJson(report) : renderTable(report));
      setExit(report.verdict.ready ? 0 : 1);
    });
}
