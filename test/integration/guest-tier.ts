// The integration tier, one guest of test/vm/tiers.json per test file (guest-<label>.test.ts), so each
// guest has tap's per-file time limit to itself: boots the guest (the host's kernel, or another suite's
// kernel with that suite's engines), runs its compiled scenarios inside it, and turns each scenario's
// recorded checks into tap assertions. Each scenario is reported as soon as it finishes (its `.rc` file
// appears in the exchange share), not after the whole guest. A scenario with no results (guest did not
// boot, bundle missing, crash, never reached) fails; nothing is skipped unless AGENTCGROUP_GUESTS or
// AGENTCGROUP_SCENARIOS leave a guest nothing to run.
import t, { type Test } from 'tap';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, watch, type FSWatcher } from 'node:fs';
import { basename, join } from 'node:path';
import { CHECKOUT, runInGuest, type GuestResult } from '../vm/guest.js';
import { type Tiers, guestScenarios, selects, tierProblems } from '../vm/tiers.js';
import type { CheckRecord, DoneRecord } from './harness.js';
import { describeSlowest } from './slowest.js';

const tiers = JSON.parse(readFileSync(join(CHECKOUT, 'test/vm/tiers.json'), 'utf8')) as Tiers;

// AGENTCGROUP_SCENARIOS="ladder observe" runs only those (by hand, to try a few without the whole tier);
// AGENTCGROUP_GUESTS="sid" only the tiers of guests of that kernel, "7.2-1cpu" only the guest of that label.
const only = (process.env.AGENTCGROUP_SCENARIOS ?? '').split(/[\s,]+/).filter((n) => n !== '');
const guests = (process.env.AGENTCGROUP_GUESTS ?? '').split(/[\s,]+/).filter((n) => n !== '');
const all = readdirSync(join(CHECKOUT, 'test/integration/scenarios'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => basename(f, '.ts'))
  .sort();

const tail = (output: string) => output.slice(-2000) || '(none)';

/** One guest: boots it, runs its scenarios one by one, a subtest each. */
async function tier(t: Test, kernel: string, cpus: number, scenarios: string[]): Promise<void> {
  // Each scenario gets its own time limit inside the guest, so one hang does not cost the others. The
  // limit catches hangs, not slowness: 600 s, over twice the longest scenario on a busy machine (ladder
  // ran past 300 s while other work shared the two cores). Its exit code lands in NAME.rc by rename, so
  // the host never reads a half-written one; by then its checks and output are complete.
  const script = `
  mkdir -p "$AGENTCGROUP_XFER/results"
  for name in ${scenarios.join(' ')}; do
    r="$AGENTCGROUP_XFER/results/$name"
    AGENTCGROUP_RESULTS="$r.jsonl" timeout -k 5 600 node "build/scenarios/$name.cjs" > "$r.out" 2>&1
    echo $? > "$r.rc.part" && mv "$r.rc.part" "$r.rc"
  done
  `;

  // One promise per scenario: true once its .rc appears, false if the guest ended without it.
  const settle = new Map<string, (finished: boolean) => void>();
  const finished = new Map(scenarios.map((name) => [name, new Promise<boolean>((resolve) => settle.set(name, resolve))]));
  let resultsDir: string | undefined;

  function look(): void {
    if (resultsDir === undefined) return;
    for (const [name, resolve] of settle) {
      if (existsSync(join(resultsDir, `${name}.rc`))) {
        settle.delete(name);
        resolve(true);
      }
    }
  }

  let watcher: FSWatcher | undefined;
  // inotify sees the guest's writes (qemu makes them on the host); the poll is only a safety net.
  const poll = setInterval(look, 5000);
  const started = Date.now();
  const guestRun: Promise<GuestResult> = runInGuest({
    kernel,
    cpus,
    script,
    keep: true,
    timeoutMs: 40 * 60_000,
    onStart(xfer) {
      resultsDir = join(xfer, 'results');
      mkdirSync(resultsDir, { recursive: true });
      watcher = watch(resultsDir, look);
    },
  })
    .catch((err: unknown): GuestResult => ({
      code: undefined,
      stdout: '',
      stderr: '',
      console: '',
      error: `cannot run the guest: ${err instanceof Error ? err.message : String(err)}`,
      xfer: resultsDir === undefined ? '' : join(resultsDir, '..'),
      elapsedMs: Date.now() - started,
    }))
    .then((guest) => {
      clearInterval(poll);
      watcher?.close();
      look();
      for (const resolve of settle.values()) resolve(false);
      settle.clear();
      return guest;
    });
  function readResults(name: string): { records: (CheckRecord | DoneRecord)[]; checks: CheckRecord[]; done: boolean; output: string; rc: string } {
    const read = (ext: string) => {
      const file = resultsDir === undefined ? undefined : join(resultsDir, `${name}.${ext}`);
      return file !== undefined && existsSync(file) ? readFileSync(file, 'utf8') : '';
    };
    const records = read('jsonl')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as CheckRecord | DoneRecord);
    return {
      records,
      checks: records.filter((r): r is CheckRecord => 'check' in r),
      done: records.some((r) => 'done' in r),
      output: read('out'),
      rc: read('rc').trim(),
    };
  }

  for (const name of scenarios) {
    t.test(name, async (t) => {
      const ended = await finished.get(name)!;
      const { records, checks, done, output, rc } = readResults(name);
      if (records.length > 0) t.comment(`slowest: ${describeSlowest(records, 3)}`);
      for (const c of checks) t.ok(c.ok, c.check, c.ok ? {} : { detail: c.detail });
      if (!ended) {
        const guest = await guestRun;
        t.fail(`scenario never finished (guest: ${guest.error ?? 'ended before it'}); its output: ${tail(output)}`);
      } else if (checks.length === 0) {
        t.fail(`scenario recorded no checks (exit ${rc}); its output: ${tail(output)}`);
      } else if (!done) {
        t.fail(`scenario did not finish (exit ${rc}); its output: ${tail(output)}`);
      }
    });
  }

  const guest = await guestRun;
  // Only now: a teardown makes tap end the file once it is idle, which it is between the last scenario's
  // result and the guest's power-off. The scenarios' subtests still read the results when they run.
  t.teardown(() => {
    if (guest.xfer !== '') rmSync(guest.xfer, { recursive: true, force: true });
  });
  t.comment(`guest (${kernel}, ${cpus} vCPU) ran ${scenarios.length} scenarios in ${(guest.elapsedMs / 1000).toFixed(1)} s`);
  t.ok(guest.error === undefined, 'the guest ran the tier and powered off', guest.error === undefined ? {} : { error: guest.error });
}

/**
 * The test file of the guest labelled `label`. Tap runs test/integration serially: one guest at a time,
 * since two emulated guests on this machine's cores would slow each other past the scenarios' limits.
 */
export async function runGuestTier(label: string): Promise<void> {
  const problems = [
    ...only.filter((n) => !all.includes(n)).map((n) => `AGENTCGROUP_SCENARIOS names ${n}, which is no scenario`),
    ...tierProblems(tiers, all),
    ...guests.filter((n) => !tiers.guests.some((g) => selects([n], g))).map((n) => `AGENTCGROUP_GUESTS names ${n}, which is no guest (kernel or label) of test/vm/tiers.json`),
  ];
  const g = tiers.guests.find((x) => x.label === label);
  if (g === undefined) problems.push(`${label} is no guest label of test/vm/tiers.json: this file's name is stale`);
  for (const problem of problems) t.fail(problem);
  if (g === undefined) return;
  const scenarios = guestScenarios(tiers, g, all).filter((n) => only.length === 0 || only.includes(n));
  if (!selects(guests, g) || scenarios.length === 0) {
    if (problems.length === 0) t.plan(0, `AGENTCGROUP_GUESTS or AGENTCGROUP_SCENARIOS leave guest ${label} nothing to run`);
    return;
  }
  await t.test(`guest ${g.label}`, (t) => tier(t, g.kernel, g.cpus, scenarios));
}
