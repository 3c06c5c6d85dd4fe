import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // main() catches everything; this is the belt for a bug in main itself.
    process.stderr.write(`agentcgroup: internal error: ${String(err)}\n`);
    process.exitCode = 70;
  },
);
