import type { Command } from 'commander';
import { AgentcgroupError, describeError } from '../errors.js';
import { adminSocketFor, askDaemon } from './admin.js';
import type { CliContext } from './context.js';

export function registerMetrics(program: Command, ctx: CliContext, setExit: (code: number) => void): void {
  program
    .command('metrics')
    .description(
      'print the daemon\'s Prometheus metrics (text format 0.0.4), read from the cgroups now: per container and agent leaf memory, memory.events, pressure, frozen, and the graduated response\'s freezes, thaws, raises, kills and stalls; tool calls per container and tool name (running by state, ended by outcome, duration and peak histograms); containers running uncarved. The same text is served on GET /metrics when the policy sets metrics.listen. Exit 1 when the daemon is not reachable',
    )
    .option('--policy <file>', 'host policy YAML, for the run directory (default /etc/agentcgroup/policy.yaml if present)')
    .action(async (opts: { policy?: string }) => {
      try {
        const reply = await askDaemon(adminSocketFor(ctx, opts.policy), 'metrics');
        if (typeof reply.text !== 'string') throw new AgentcgroupError('bad-reply', 'the daemon sent no metrics text: is it another version?');
        ctx.stdout(reply.text);
      } catch (err) {
        ctx.stderr(`agentcgroup: metrics: ${describeError(err)}\n`);
        setExit(1);
      }
    });
}
