import type { Command } from 'commander';
import { loadPolicy } from '../config/policy.js';
import { describeError } from '../errors.js';
import { hostEnvFrom } from '../host/env.js';
import { parseSnapshot } from '../metrics/snapshot.js';
import type { Report } from '../report/aggregate.js';
import type { DaemonCounts } from '../report/tune.js';
import { adminSocketFor, askDaemon } from './admin.js';
import type { CliContext } from './context.js';

interface ReadOptions {
  container?: string;
  since?: string;
  json?: boolean;
  dir?: string;
  policy?: string;
}

/** The call logs read into a Report, as both commands' options say. Loaded when run: the hook and the shim go through this CLI too. */
async function readReport(ctx: CliContext, opts: ReadOptions): Promise<Report> {
  const [{ ReportBuilder }, { callLogs, parseSince, readCallLogs }] = await Promise.all([import('../report/aggregate.js'), import('../report/calllog.js')]);
  const since = opts.since === undefined ? undefined : parseSince(opts.since, Date.now());
  const dir = opts.dir ?? loadPolicy(opts.policy ?? hostEnvFrom(ctx.env).policyFile).paths.callLogDir;
  const builder = new ReportBuilder();
  await readCallLogs(callLogs(dir, opts.container), builder, since);
  return builder.build(since === undefined ? undefined : new Date(since).toISOString());
}

/** The running daemon's counters summed over the containers it follows, or why they could not be read (no daemon is no error here). */
async function daemonCounts(ctx: CliContext, policy: string | undefined): Promise<DaemonCounts | string> {
  try {
    const snap = parseSnapshot(await askDaemon(adminSocketFor(ctx, policy), 'snapshot'));
    const sum = (k: 'freezes' | 'raises' | 'stalls' | 'stallsResolved') => snap.containers.reduce((s, c) => s + c.counters[k], 0);
    return { containers: snap.containers.length, freezes: sum('freezes'), raises: sum('raises'), stalls: sum('stalls'), stallsResolved: sum('stallsResolved') };
  } catch (err) {
    return describeError(err);
  }
}

const COMMANDS = {
  report: {
    description:
      'what the call logs say, per tool (the program: pytest, git, npm...): calls, duration p50/p95, memory.peak p50/p95/max, how many were throttled, OOM-killed, ended by the ladder or failed, and time stalled on memory; per container: the framework\'s baseline and how far a call took it. One streaming pass over the logs; needs no daemon',
    json: 'the figures as JSON (bytes and milliseconds), for scripts',
    async render(r: Report, json: boolean): Promise<string> {
      const { renderReport } = await import('../report/render.js');
      return json ? `${JSON.stringify(r)}\n` : renderReport(r);
    },
  },
  tune: {
    description:
      "policy changes the call logs and the running daemon's counters argue for, each with its evidence: OOM kills despite memory.high (widen the zone), calls stalled to the deadline or raised by the ladder (raise tool.memory_high or ladder.deadline), sessions frozen short of memory (fewer agents), a throttle zone never reached. Without a daemon, the logs alone. Advice only: it never edits the policy",
    json: 'the advice as JSON (key, change, evidence, tool), for scripts',
    async render(r: Report, json: boolean, ctx: CliContext, opts: ReadOptions): Promise<string> {
      const { advise, renderAdvice } = await import('../report/tune.js');
      const daemon = await daemonCounts(ctx, opts.policy);
      const advice = advise(r, typeof daemon === 'string' ? undefined : daemon);
      return json ? `${JSON.stringify({ records: r.records, daemon, advice })}\n` : renderAdvice(r, advice, daemon);
    },
  },
} as const;

export function registerReport(program: Command, ctx: CliContext, setExit: (code: number) => void): void {
  for (const [name, c] of Object.entries(COMMANDS)) {
    program
      .command(name)
      .description(c.description)
      .option('--container <id>', "only this container's call log")
      .option('--since <when>', 'only calls started since: a duration back from now (90s, 30m, 12h, 7d) or a time (2026-12-01T10:00:00Z)')
      .option('--json', c.json)
      .option('--dir <dir>', "the call log directory (default: the policy's paths.call_log_dir)")
      .option('--policy <file>', 'host policy YAML, for paths.call_log_dir (default /etc/agentcgroup/policy.yaml if present)')
      .action(async (opts: ReadOptions) => {
        try {
          ctx.stdout(await c.render(await readReport(ctx, opts), opts.json === true, ctx, opts));
        } catch (err) {
          ctx.stderr(`agentcgroup: ${name}: ${describeError(err)}\n`);
          setExit(1);
        }
      });
  }
}
