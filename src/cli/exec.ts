import { basename } from 'node:path';
import type { Command } from 'commander';
import { loadPolicy } from '../config/policy.js';
import { AgentcgroupError, describeError } from '../errors.js';
import { type ExecTarget, runToolCall } from '../exec/toolcall.js';
import { hostEnvFrom } from '../hook/environment.js';
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

function target(opts: ExecOptions): ExecTarget {
  if (opts.container !== undefined && opts.cgroup !== undefined) throw new AgentcgroupError('bad-args', 'give either --container or --cgroup, not both');
  if (opts.container !== undefined) return { container: validateContainerId(opts.container) };
  if (opts.cgroup !== undefined) return { cgroup: opts.cgroup };
  throw new AgentcgroupError('bad-args', 'give --container ID or --cgroup PATH (the carved container cgroup)');
}

export function registerExec(program: Command, ctx: CliContext, setExit: (code: number) => void): void {
  program
    .command('exec')
    .description(
      'run one tool call in its own cgroup C/tools/<call-id> of a carved container, placed there before it starts; passes stdio, signals and the exit code through, appends a JSON line to the call log <paths.call_log_dir>/<container id>.jsonl (default /var/lib/agentcgroup/calls), and says on stderr when the call was throttled or OOM-killed. Exits 125 when agentcgroup itself fails',
    )
    .usage('[--container ID | --cgroup PATH] [--name NAME] -- CMD [ARGS...]')
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
        const req = { target: target(opts), name: opts.name ?? basename(argv[0] ?? 'call'), argv, policy: loadPolicy(host.policyFile) };
        setExit(await runToolCall(req, host, ctx.stderr));
      } catch (err) {
        ctx.stderr(`agentcgroup: exec: ${describeError(err)}\n`);
        setExit(EXEC_FAILED);
      }
    });
}
