/**
 * For people: `npm run vm -- 'shell script'` runs the script in the test guest and passes its output
 * through. AGENTCGROUP_VM_CPUS sets the guest's vCPUs (default 2).
 */
import { runInGuest } from './guest.js';

const script = process.argv.slice(2).join(' ');
if (script === '') {
  process.stderr.write('usage: npm run vm -- <shell script to run inside the guest>\n');
  process.exitCode = 2;
} else {
  const cpus = process.env.AGENTCGROUP_VM_CPUS ? Number(process.env.AGENTCGROUP_VM_CPUS) : undefined;
  const r = await runInGuest({ script, timeoutMs: Number(process.env.AGENTCGROUP_VM_TIMEOUT ?? 600) * 1000, ...(cpus ? { cpus } : {}) });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  if (r.error) process.stderr.write(`vm: ${r.error}\n`);
  process.exitCode = r.code ?? 125;
}
