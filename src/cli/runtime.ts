import type { Command } from 'commander';
import { describeError } from '../errors.js';
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
    .description("add or remove the agentcgroup runtime in an engine's config (used by install.sh and the Kubernetes DaemonSet)")
    .argument('<engine>', 'docker | containerd')
    .argument('<action>', 'add | remove FILE; containerd also: detect | register | unregister ROOT (the node shape under ROOT: deploy/kubernetes/README.md)')
    .argument('<target>', 'daemon.json (docker); config.toml, a drop-in, or a k3s/RKE2 config template *.tmpl (containerd); ROOT: / for this host')
    .option('--restart', 'register, unregister: restart the node\'s containerd (or k3s, RKE2, k0s unit) when a config changed')
    .option('--dry-run', 'say what would change, with the diff of each file, and change nothing (install.sh --dry-run)')
    .action(async (engine: string, action: string, target: string, options: { restart?: boolean; dryRun?: boolean }) => {
      try {
        const { installConfig } = await import('../runtime/installcli.js');
        for (const line of installConfig(engine, action, target, { restart: options.restart === true, dryRun: options.dryRun === true })) ctx.stdout(`${line}\n`);
      } catch (err) {
        ctx.stderr(`agentcgroup: install-config: ${describeError(err)}\n`);
        setExit(1);
      }
    });

  // install.sh's other helper: the in-container exec client comes out of this program (the single
  // executable carries it), so a host needs only the binary to install it.
  program
    .command('install-exec-client', { hidden: true })
    .description('write the in-container exec client (agentcgroup-exec) to FILE, 0755, by rename (used by install.sh)')
    .argument('<file>', 'where, absolute: the policy\'s paths.exec_client (/usr/local/lib/agentcgroup/agentcgroup-exec)')
    .action(async (file: string) => {
      try {
        const { execClientBytes, installExecClient } = await import('../exec/clientfile.js');
        installExecClient(file, execClientBytes());
        ctx.stdout(`${file}\n`);
      } catch (err) {
        ctx.stderr(`agentcgroup: install-exec-client: ${describeError(err)}\n`);
        setExit(1);
      }
    });
}
