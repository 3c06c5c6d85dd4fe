import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { describeError } from '../errors.js';
import { HOOK_FRONT_NAME, RUNTIME_FRONT_NAME, frontBytes } from '../hook/front.js';
import { STAGES, runHook } from '../hook/run.js';
import type { CliContext } from './context.js';

export function registerHook(program: Command, ctx: CliContext, setExit: (code: number) => void): void {
  program
    .command('hook')
    .description(
      'OCI hook: reads the container state on stdin. createRuntime (or poststart) carves the container cgroup into agent/ and tools/ and applies the policy; poststop finalizes call logs and removes our state. Fails open (exit 0, container unconstrained) unless the host policy says strict: true',
    )
    .argument('[stage]', `${STAGES.join(' | ')}; inferred from the state's status when omitted`)
    .option('--policy <file>', 'host policy YAML (default /etc/agentcgroup/policy.yaml if present, else built-in defaults)')
    .action(async (stage: string | undefined, opts: { policy?: string }) => {
      const out = await runHook({ stage, policyFile: opts.policy, env: ctx.env, uid: ctx.uid, readStdin: ctx.readStdin, fsOps: ctx.fsOps });
      if (out.stderr !== '') ctx.stderr(out.stderr);
      setExit(out.exit);
    });

  // install.sh: the native fronts this executable carries (src/hook/native/, src/runtime/native/), written out.
  const fronts = [['hook-front', HOOK_FRONT_NAME], ['runtime-front', RUNTIME_FRONT_NAME]] as const;
  for (const [command, name] of fronts) {
    program
      .command(command, { hidden: true })
      .argument('<file>', 'where to write it (must not exist)')
      .action((file: string) => {
        try {
          writeFileSync(file, frontBytes(name), { mode: 0o755, flag: 'wx' });
        } catch (err) {
          ctx.stderr(`agentcgroup: ${command}: ${describeError(err)}\n`);
          setExit(1);
        }
      });
  }
}
