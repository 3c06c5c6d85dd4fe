import type { Command } from 'commander';
import { loadPolicy } from '../config/policy.js';
import { describeError } from '../errors.js';
import { hostEnvFrom } from '../host/env.js';
import type { CliContext } from './context.js';

export function registerReport(program: Command, ctx: CliContext, setExit: (code: number) => void): void {
  program
    .command('report')
    .description(
      'what the call logs say, per tool (the program: pytest, git, npm...): calls, duration p50/p95, memory.peak p50/p95/max, how many were throttled, OOM-killed, ended by the ladder or failed, and time stalled on memory; per container: calls, peak max against mean. One streaming pass over the logs; needs no daemon',
    )
    .option('--container <id>', "only this container's call log")
    .option('--since <when>', 'only calls started since: a duration back from now (90s, 30m, 12h, 7d) or a time (2026-12-01T10:00:00Z)')
    .option('--json', 'the figures as JSON (bytes and milliseconds), for scripts')
    .option('--dir <dir>', "the call log directory (default: the policy's paths.call_log_dir)")
    .option('--policy <file>', 'host policy YAML, for paths.call_log_dir (default /etc/agentcgroup/policy.yaml if present)')
    .action(async (opts: { container?: string; since?: string; json?: boolean; dir?: string; policy?: string }) => {
      try {
        // Loaded when run: the hook and the shim go through this CLI too, and need none of it.
        const [{ ReportBuilder }, { callLogs, parseSince, readCallLogs }, { renderReport }] = await Promise.all([
          import('../report/aggregate.js'),
          import('../report/calllog.js'),
          import('../report/render.js'),
        ]);
        const since = opts.since === undefined ? undefined : parseSince(opts.since, Date.now());
        const dir = opts.dir ?? loadPolicy(opts.policy ?? hostEnvFrom(ctx.env).policyFile).paths.callLogDir;
        const builder = new ReportBuilder();
        await readCallLogs(callLogs(dir, opts.container), builder, since);
        const report = builder.build(since === undefined ? undefined : new Date(since).toISOString());
        ctx.stdout(opts.json ? `${JSON.stringify(report)}\n` : renderReport(report));
      } catch (err) {
        ctx.stderr(`agentcgroup: report: ${describeError(err)}\n`);
        setExit(1);
      }
    });
}
