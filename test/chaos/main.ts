/**
 * `npm run chaos [-- --cycles N --seed S --concurrency K --front --sched-ext --daemon-kill-percent P]`,
 * inside the test guest: the chaos run (driver.ts) with its summary on stdout; exits 1 when anything of
 * ours leaked, the run itself broke, or (`--sched-ext`, on a kernel with sched_ext: `AGENTCGROUP_VM_KERNEL=sid
 * AGENTCGROUP_VM_CPUS=1`) the scheduler did not come and go with the daemon as it should.
 */
import { runChaos } from './driver.js';
import { parseFlags } from './options.js';

async function main(): Promise<void> {
  const r = await runChaos({ ...parseFlags(process.argv.slice(2)), say: (l) => console.log(l) });
  if (r.leaks.length > 0 || r.runProblems.length > 0 || r.control.outcome !== 'ok' || (r.schedExt?.problems.length ?? 0) > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(`chaos: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
