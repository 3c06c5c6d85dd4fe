import { processView, shimArgv } from '../runtime/self.js';

// As the runtime shim (`agentcgroup runtime ...`, or the agentcgroup-runtime link), only the shim is
// loaded: engines start a runtime for every verb (state, kill, delete), so the rest of the CLI, whose
// modules are imported lazily here, must not cost each of them its load time.
const view = processView();
const shim = shimArgv(view);

const run: Promise<void> = shim
  ? import('../runtime/shim.js').then(async ({ endAs, runShim }) => {
      const io = { stdout: (t: string) => process.stdout.write(t), stderr: (t: string) => process.stderr.write(t), env: process.env, cwd: process.cwd(), view };
      endAs(await runShim(shim, io));
    })
  : import('./main.js').then(async ({ main }) => {
      process.exitCode = await main(process.argv.slice(2));
    });

run.catch((err: unknown) => {
  // main() and runShim() catch everything; this is the belt for a bug in them.
  process.stderr.write(`agentcgroup: internal error: ${String(err)}\n`);
  process.exitCode = 70;
});
