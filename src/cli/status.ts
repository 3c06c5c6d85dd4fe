import type { Command } from 'commander';
import { parseSnapshot } from '../metrics/snapshot.js';
import { describeFramework, describeNri, describeScheduler, describeTracker, describeUncarved } from '../metrics/top.js';
import { oneLine } from '../text.js';
import { describeError } from '../errors.js';
import { adminSocketFor, askDaemon } from './admin.js';
import type { CliContext } from './context.js';

export function registerStatus(program: Command, ctx: CliContext, setExit: (code: number) => void): void {
  program
    .command('status')
    .description("ask the running daemon which containers and tool calls it follows; exit 1 when it is not reachable")
    .option('--json', "print the daemon's snapshot as JSON (for scripts): per container and tool call, memory current/high/max/peak, memory.events, pressure, state (running, throttled, frozen) and what the graduated response did")
    .option('--policy <file>', 'host policy YAML, for the run directory (default /etc/agentcgroup/policy.yaml if present)')
    .action(async (opts: { json?: boolean; policy?: string }) => {
      try {
        const reply = await askDaemon(adminSocketFor(ctx, opts.policy), 'snapshot');
        const snap = parseSnapshot(reply);
        if (opts.json) ctx.stdout(`${JSON.stringify(reply)}\n`);
        else {
          ctx.stdout(`${describeTracker(snap)}, ${snap.containers.length} container(s), ${snap.calls} tool call(s) running\n`);
          const nri = describeNri(snap);
          if (nri !== undefined) ctx.stdout(`${nri}\n`);
          const sched = describeScheduler(snap);
          if (sched !== undefined) ctx.stdout(`${sched}\n`);
          for (const line of describeUncarved(snap)) ctx.stdout(`${line}\n`);
          for (const c of snap.containers) {
            const calls = c.calls.length ? c.calls.map((k) => oneLine(k.id)).join(' ') : '-';
            ctx.stdout(`${oneLine(c.id)}  /${c.cgroup}  framework ${describeFramework(c.framework)}  calls ${calls}\n`);
          }
        }
      } catch (err) {
        ctx.stderr(`agentcgroup: status: ${describeError(err)}\n`);
        setExit(1);
      }
    });
}
