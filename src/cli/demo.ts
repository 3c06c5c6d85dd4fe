import type { Command } from 'commander';
import { describeError } from '../errors.js';
import type { CliContext } from './context.js';

export function registerDemo(program: Command, ctx: CliContext, setExit: (code: number) => void): void {
  program
    .command('demo')
    .description(
      'show, on this host, an agent container surviving tool-call bursts that a flat limit OOM-kills (needs a ready host: see doctor; root, crun, busybox-static, node). On a host that is not ready, `bash install.sh --demo` runs it in the test guest',
    )
    .action(async () => {
      try {
        const { runDemo } = await import('../demo/demo.js');
        await runDemo((l) => ctx.stdout(`${l}\n`));
      } catch (err) {
        ctx.stderr(`agentcgroup: demo: ${describeError(err)}\n`);
        setExit(1);
      }
    });
}
