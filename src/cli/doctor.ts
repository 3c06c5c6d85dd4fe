import type { Command } from 'commander';
import { evaluate } from '../doctor/evaluate.js';
import { renderJson, renderTable } from '../doctor/render.js';
import { gatherHostFacts } from '../host/facts.js';
import type { CliContext } from './context.js';

interface DoctorOptions {
  json?: boolean;
  procRoot: string;
  sysRoot: string;
}

export function registerDoctor(program: Command, ctx: CliContext, setExit: (code: number) => void): void {
  program
    .command('doctor')
    .description('check, read-only, whether this host can run agentcgroup (cgroup v2, controllers, PSI, ...); exit 0 only when it can')
    .option('--json', 'print every probe with what it found and how it decided, as JSON')
    .option('--proc-root <dir>', 'read /proc from here (for tests and chroots)', '/proc')
    .option('--sys-root <dir>', 'read /sys from here (for tests and chroots)', '/sys')
    .action((opts: DoctorOptions) => {
      const report = evaluate(gatherHostFacts({ proc: opts.procRoot, sys: opts.sysRoot }, ctx.uid));
      ctx.stdout(opts.json ? renderJson(report) : renderTable(report));
      setExit(report.verdict.ready ? 0 : 1);
    });
}
