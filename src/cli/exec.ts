import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { loadPolicy } from '../config/policy.js';
import { AgentcgroupError, describeError } from '../errors.js';
import { CONTAINER_EXEC_SOCKET, runViaSocket } from '../exec/client.js';
import { type ExecTarget, runToolCall } from '../exec/toolcall.js';
import { hostEnvFrom } from '../host/env.js';
import { validateContainerId } from '../oci/ids.js';
import type { CliContext } from './context.js';

/** Our own failures (not the command's) exit 125, as podman and docker do, so callers can tell them apart. */
export const EXEC_FAILED = 125;

interface ExecOptions {
  container?: string;
  cgroup?: string;
  name?: string;
  policy?: string;
}

/** From the host: a container or cgroup. Inside a container: its exec socket, when mounted. */
function target(opts: ExecOptions, socket: string): ExecTarget | { socket: string } {
  if (opts.container !== undefined && opts.cgroup !== undefined) throw new AgentcgroupError('bad-args', 'give either --container or --cgroup, not both');
  if (opts.container !== undefined) return { container: validateContainerId(opts.container) };
  if (opts.cgroup !== undefined) return { cgroup: opts.cgroup };
  if (existsSync(socket)) return { socket };
  throw new AgentcgroupError('bad-args', `give --container ID or --cgroup PATH (the carved container cgroup); inside a container, the daemon's socket ${socket} is not there`);
}

export function registerExec(program: Command, ctx: CliContext, setExit: (code: number) => void): void {
  program
    .command('exec')
    .description(
      'run one tool call in its own cgroup C/tools/<call-id> of a carved container, placed there before it starts; passes stdio, signals and the exit code through, appends a JSON line to the call log <paths.call_log_dir>/<container id>.jsonl (default /var/lib/agentcgroup/calls), and says on stderr when the call was throttled or OOM-killed. Exits 125 when agentcgroup itself fails',
    )
    .usage('[--container ID | --cgroup PATH] [--name NAME] -- CMD [ARGS...]\n       (inside a container, with neither: through the daemon at /run/agentcgroup/exec.sock)')
    .option('--container <id>', 'the container, by the id its hooks saw')
    .option('--cgroup <path>', 'the carved container cgroup, absolute or relative to the cgroup2 root')
    .option('--name <name>', 'tool-call name for logs and messages (default: the command name)')
    .option('--policy <file>', 'host policy YAML (default /etc/agentcgroup/policy.yaml if present)')
    .argument('<cmd...>', 'the command and its arguments')
    .passThroughOptions()
    .action(async (argv: string[], opts: ExecOptions) => {
      try {
        const host = hostEnvFrom(ctx.env, ctx.fsOps);
        if (opts.policy !== undefined) host.policyFile = opts.policy;
        const name = opts.name ?? basename(argv[0] ?? 'call');
        const where = target(opts, ctx.env.AGENTCGROUP_EXEC_SOCKET ?? CONTAINER_EXEC_SOCKET);
        if ('socket' in where) setExit(await runViaSocket(where.socket, name, argv, ctx.stderr));
        else setExit(await runToolCall({ target: where, name, argv, policy: loadPolicy(host.policyFile) }, host, ctx.stderr));
      } catch (err) {
        ctx.stderr(`agentcgroup: exec: ${describeError(err)}\n`);
        setExit(EXEC_FAILED);
      }
    });
}
