import type { Command } from 'commander';
import { describeError } from '../errors.js';
import type { Engine } from '../runtime/engineconfig.js';
import { processView } from '../runtime/self.js';
import { exitStatus, runShim, SHIM_SUMMARY } from '../runtime/shim.js';
import type { CliContext } from './context.js';

/**
 * `runtime`: the OCI runtime shim. src/cli/index.ts runs it without loading the rest of the CLI (a
 * runtime is started for every verb an engine sends); this registration serves `--help` and main().
 */
export function registerRuntime(program: Command, ctx: CliContext, setExit: (code: number) => void): void {
  program
    .command('runtime')
    .description(SHIM_SUMMARY)
    .usage('[--runtime PATH] [RUNTIME GLOBAL OPTIONS] VERB [ARGS...]   (agentcgroup runtime --help for more)')
    // Every argument, --help after the first one included, is the shim's or the runtime's, never commander's.
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .passThroughOptions()
    .argument('[args...]', "the runtime's command line, passed to it unchanged")
    .action(async (args: string[]) => {
      const ending = await runShim(args, { stdout: ctx.stdout, stderr: ctx.stderr, env: ctx.env, cwd: process.cwd(), view: processView() });
      setExit(exitStatus(ending));
    });

  // install.sh's helper: keeps the JSON and TOML edits in tested code, on hosts without node or jq.
  // Loaded when run: the hook's start goes through this file too, and must not pay for the TOML parser.
  program
    .command('install-config', { hidden: true })
    .description('add or remove the agentcgroup runtime in an engine config file (used by install.sh)')
    .argument('<engine>', 'docker | containerd')
    .argument('<action>', 'add | remove')
    .argument('<file>', 'daemon.json (docker); config.toml, or a k3s/RKE2 config template *.tmpl (containerd)')
    .action(async (engine: string, action: string, file: string) => {
      try {
        const { applyEngineConfig, ENGINES } = await import('../runtime/engineconfig.js');
        if (!(ENGINES as readonly string[]).includes(engine)) throw new Error(`unknown engine ${JSON.stringify(engine.slice(0, 40))} (expected ${ENGINES.join(' or ')})`);
        if (action !== 'add' && action !== 'remove') throw new Error(`unknown action ${JSON.stringify(action.slice(0, 40))} (expected add or remove)`);
        ctx.stdout(`${applyEngineConfig(engine as Engine, action, file)}\n`);
      } catch (err) {
        ctx.stderr(`agentcgroup: install-config: ${describeError(err)}\n`);
        setExit(1);
      }
    });
}
