import type { Command } from 'commander';
import { applyAnnotations, refusalLine } from '../config/annotations.js';
import { DEFAULT_POLICY_FILE, loadPolicy } from '../config/policy.js';
import { printable } from '../text.js';
import { describeError } from '../errors.js';
import { readBundleConfig } from '../oci/config.js';
import type { CliContext } from './context.js';

/** `policy check`: what a hook would refuse, found before a container is started. */
export function registerPolicy(program: Command, ctx: CliContext, setExit: (code: number) => void): void {
  program
    .command('policy')
    .description('work with the host policy')
    .command('check')
    .description("validate a host policy file and, with --bundle, a container's io.agentcgroup.* annotations against it (listing those the host refuses, which the hook carves without); exit 0 when valid, else 1 with the first problem")
    .argument('[file]', 'policy YAML', DEFAULT_POLICY_FILE)
    .option('--bundle <dir>', 'an OCI bundle: its config.json and io.agentcgroup.* annotations are checked (even with io.agentcgroup.enable off)')
    .action((file: string, opts: { bundle?: string }) => {
      try {
        const policy = loadPolicy(file);
        let what = `policy ${printable(file)}`;
        if (opts.bundle !== undefined) {
          const { refused } = applyAnnotations(policy, readBundleConfig(opts.bundle).annotations);
          // Not a problem with either: the hook carves with the host's value for each.
          for (const r of refused) ctx.stdout(`${refusalLine(r)}\n`);
          what += ` with the annotations of ${printable(opts.bundle)}`;
        }
        ctx.stdout(`${what}: valid\n`);
      } catch (err) {
        ctx.stderr(`agentcgroup: policy check: ${describeError(err)}\n`);
        setExit(1);
      }
    });
}
