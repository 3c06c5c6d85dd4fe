// The integration tier: boots the test guest once, runs every compiled scenario inside it, and turns
// each scenario's recorded checks into tap assertions. A scenario with no results (guest did not boot,
// bundle missing, crash) fails; nothing here is ever skipped.
import t from 'tap';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CHECKOUT, runInGuest } from '../vm/guest.js';
import type { CheckRecord } from './harness.js';

const scenarios = readdirSync(join(CHECKOUT, 'test/integration/scenarios'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => basename(f, '.ts'))
  .sort();

// Each scenario gets its own time limit inside the guest, so one hang does not cost the others.
const script = `
mkdir -p "$AGENTCGROUP_XFER/results"
for name in ${scenarios.join(' ')}; do
  AGENTCGROUP_RESULTS="$AGENTCGROUP_XFER/results/$name.jsonl" timeout -k 5 300 node "build/scenarios/$name.cjs" \\
    > "$AGENTCGROUP_XFER/results/$name.out" 2>&1
  echo $? > "$AGENTCGROUP_XFER/results/$name.rc"
done
`;

const guest = await runInGuest({ script, keep: true, timeoutMs: 40 * 60_000 });
t.teardown(() => rmSync(guest.xfer, { recursive: true, force: true }));
t.comment(`guest ran ${scenarios.length} scenarios in ${(guest.elapsedMs / 1000).toFixed(1)} s`);

function readResults(name: string): { checks: CheckRecord[]; done: boolean; output: string } {
  const file = join(guest.xfer, 'results', `${name}.jsonl`);
  const outFile = join(guest.xfer, 'results', `${name}.out`);
  const output = existsSync(outFile) ? readFileSync(outFile, 'utf8') : '';
  if (!existsSync(file)) return { checks: [], done: false, output };
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  const records = lines.map((l) => JSON.parse(l) as CheckRecord | { done: true });
  return {
    checks: records.filter((r): r is CheckRecord => 'check' in r),
    done: records.some((r) => 'done' in r),
    output,
  };
}

for (const name of scenarios) {
  t.test(name, async (t) => {
    const { checks, done, output } = readResults(name);
    if (guest.error) t.fail(`guest: ${guest.error}`);
    if (checks.length === 0) t.fail(`scenario recorded no checks; its output: ${output.slice(-2000) || '(none)'}`);
    for (const c of checks) t.ok(c.ok, c.check, c.ok ? {} : { detail: c.detail });
    if (checks.length > 0 && !done) t.fail(`scenario did not finish; its output: ${output.slice(-2000)}`);
  });
}
