import { createConnection } from 'node:net';
import { loadPolicy } from '../config/policy.js';
import { type AdminOp, adminRequestLine } from '../daemon/admin.js';
import { AgentcgroupError } from '../errors.js';
import { hostEnvFrom } from '../host/env.js';
import { adminSocketPath, checkSocketPath } from '../state/paths.js';
import type { CliContext } from './context.js';

/** One request on the root-only admin socket, one JSON line back. */
function ask(path: string, op: AdminOp): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const s = createConnection(checkSocketPath(path));
    let buf = '';
    s.once('connect', () => s.write(adminRequestLine(op)));
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

/** The admin socket of the daemon the host policy (or --policy) names, by its run directory. */
export function adminSocketFor(ctx: CliContext, policyFile: string | undefined): string {
  return adminSocketPath(loadPolicy(policyFile ?? hostEnvFrom(ctx.env).policyFile).paths.runDir);
}

/** Asks the daemon; a refusal is an error, so callers get only answers. */
export async function askDaemon(socket: string, op: AdminOp): Promise<Record<string, unknown>> {
  const reply = await ask(socket, op);
  if (reply.ok !== true) throw new AgentcgroupError('refused', `the daemon refused: ${String(reply.error ?? 'no reason')}`);
  return reply;
}
