import { createConnection } from 'node:net';
import type { Command } from 'commander';
import { loadPolicy } from '../config/policy.js';
import { adminSocketPath } from '../daemon/paths.js';
import { AgentcgroupError, describeError } from '../errors.js';
import { hostEnvFrom } from '../hook/environment.js';
import type { CliContext } from './context.js';

/** One request on the root-only admin socket, one JSON line back. */
function ask(path: string, op: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let buf = '';
    s.once('connect', () => s.write(`${JSON.stringify({ op })}\n`));
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\n')) s.end();
    });
    s.once('error', (err: NodeJS.ErrnoException) =>
      reject(new AgentcgroupError('no-daemon', `the agentcgroup daemon is not reachable at ${path} (${err.code ?? err.message}): is it running, and are you root?`)),
    );
    s.once('close', () => {
      try {
        resolve(JSON.parse(buf.split('\n')[0] ?? '') as Record<string, unknown>);
      } catch {
        reject(new AgentcgroupError('bad-reply', `the daemon at ${path} answered something that is not JSON`));
      }
    });
  });
}

export function registerStatus(program: Command, ctx: CliContext, setExit: (code: number) => void): void {
  program
    .command('status')
    .description("ask the running daemon which containers and tool calls it follows; exit 1 when it is not reachable")
    .option('--json', 'print the daemon\'s answer as JSON (for scripts)')
    .option('--policy <file>', 'host policy YAML, for the run directory (default /etc/agentcgroup/policy.yaml if present)')
    .action(async (opts: { json?: boolean; policy?: string }) => {
      try {
        const host = hostEnvFrom(ctx.env);
        const reply = await ask(adminSocketPath(loadPolicy(opts.policy ?? host.policyFile).paths.runDir), 'status');
        if (reply.ok !== true) throw new AgentcgroupError('refused', `the daemon refused: ${String(reply.error ?? 'no reason')}`);
        if (opts.json) ctx.stdout(`${JSON.stringify(reply)}\n`);
        else {
          const containers = (reply.containers as { id: string; cgroup: string; calls: string[] }[] | undefined) ?? [];
          ctx.stdout(`tracker ${reply.tracker ? 'on' : 'off'}, ${containers.length} container(s), ${String(reply.calls)} tool call(s) running\n`);
          for (const c of containers) ctx.stdout(`${c.id}  /${c.cgroup}  ${c.calls.length ? c.calls.join(' ') : '-'}\n`);
        }
      } catch (err) {
        ctx.stderr(`agentcgroup: status: ${describeError(err)}\n`);
        setExit(1);
      }
    });
}
