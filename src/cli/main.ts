import { Command, CommanderError } from 'commander';
import { policyTextSaysStrict } from '../config/policy.js';
import { describeError } from '../errors.js';
import { hostEnvFrom } from '../host/env.js';
import { type CliContext, processContext } from './context.js';
import { registerDaemon } from './daemon.js';
import { registerDemo } from './demo.js';
import { registerDoctor } from './doctor.js';
import { registerExec } from './exec.js';
import { registerHook } from './hook.js';
import { registerMetrics } from './metrics.js';
import { registerPlan } from './plan.js';
import { registerReport } from './report.js';
import { registerRuntime } from './runtime.js';
import { registerPolicy } from './policy.js';
import { registerStatus } from './status.js';
import { registerTop } from './top.js';
import { VERSION, VERSION_LINE } from '../version.js';

export { VERSION };

/** `--policy FILE` or `--policy=FILE` in an argv commander refused as a whole. */
function policyArgument(argv: readonly string[]): string | undefined {
  const at = argv.indexOf('--policy');
  if (at >= 0) return argv[at + 1];
  return argv.find((a) => a.startsWith('--policy='))?.slice('--policy='.length);
}

/**
 * Runs the CLI and returns the exit code. Never calls process.exit and never lets a stack trace
 * reach the user: anything thrown becomes one line on stderr.
 */
export async function main(argv: readonly string[], ctx: CliContext = processContext()): Promise<number> {
  let exitCode = 0;
  const setExit = (code: number) => {
    exitCode = code;
  };
  const program = new Command()
    .name('agentcgroup')
    .description('Per-tool-call cgroup v2 resource control for AI-agent containers')
    .version(VERSION_LINE)
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeOut: ctx.stdout, writeErr: ctx.stderr })
    .showSuggestionAfterError();
  registerDoctor(program, ctx, setExit);
  registerHook(program, ctx, setExit);
  registerPolicy(program, ctx, setExit);
  registerExec(program, ctx, setExit);
  registerDaemon(program, ctx, setExit);
  registerDemo(program, ctx, setExit);
  registerStatus(program, ctx, setExit);
  registerTop(program, ctx, setExit);
  registerMetrics(program, ctx, setExit);
  registerReport(program, ctx, setExit);
  registerPlan(program, ctx, setExit);
  registerRuntime(program, ctx, setExit);
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    // Commander has already printed its own message (usage errors, --help, --version).
    if (err instanceof CommanderError) {
      // A hook line an engine runs with arguments we refuse (an old or hand-edited hooks.d file) still
      // fails open: the container must not fail to start over it unless the host asked for strict.
      if (argv[0] === 'hook' && err.exitCode !== 0) return policyTextSaysStrict(policyArgument(argv) ?? hostEnvFrom(ctx.env).policyFile) ? 1 : 0;
      return err.exitCode;
    }
    ctx.stderr(`agentcgroup: ${describeError(err)}\n`);
    return 1;
  }
  return exitCode;
}
