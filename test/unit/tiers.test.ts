// test/vm/tiers.json and how the integration tier reads it (test/vm/tiers.ts): which guest runs what.
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { basename } from 'node:path';
import { type Tiers, guestScenarios, selects, tierProblems } from '../vm/tiers.js';

const tiers = JSON.parse(readFileSync('test/vm/tiers.json', 'utf8')) as Tiers;
const all = readdirSync('test/integration/scenarios')
  .filter((f) => f.endsWith('.ts'))
  .map((f) => basename(f, '.ts'))
  .sort();

t.test('the file itself is sound', async (t) => {
  t.same(tierProblems(tiers, all), []);
});

t.test('sched_ext scenarios run only in a one-vCPU guest of a kernel with sched_ext, never on 6.1', async (t) => {
  t.ok(tiers.needsSchedExt.includes('sched-ext') && tiers.needsSchedExt.includes('chaos-sched'));
  for (const g of tiers.guests) {
    const runs = guestScenarios(tiers, g, all).filter((n) => tiers.needsSchedExt.includes(n));
    if (g.kernel === 'host' || g.cpus !== 1) t.same(runs, [], `${g.label} (${g.kernel}, ${g.cpus} vCPU) runs none`);
  }
  const host = tiers.guests.find((g) => g.kernel === 'host')!;
  t.equal(host.scenarios, 'all');
  t.notOk(guestScenarios(tiers, host, all).includes('sched-ext'));
  t.ok(guestScenarios(tiers, host, all).includes('chaos'), 'the plain chaos run stays on 6.1');
});

t.test('"all", and picking guests by kernel or label', async (t) => {
  const x: Tiers = {
    needsEngines: ['docker'],
    needsSchedExt: ['sched'],
    guests: [
      { kernel: 'host', label: '6.1', cpus: 2, scenarios: 'all' },
      { kernel: 'sid', label: '7.2', cpus: 2, scenarios: 'all' },
      { kernel: 'sid', label: '7.2-1cpu', cpus: 1, scenarios: ['sched'] },
    ],
  };
  const names = ['a', 'docker', 'sched'];
  t.same(guestScenarios(x, x.guests[0]!, names), ['a']);
  t.same(guestScenarios(x, x.guests[1]!, names), ['a', 'docker'], "another suite's all takes the engines, not sched_ext");
  t.same(guestScenarios(x, x.guests[2]!, names), ['sched']);
  t.same(x.guests.filter((g) => selects([], g)).length, 3, 'none named: every guest');
  t.same(x.guests.filter((g) => selects(['sid'], g)).map((g) => g.label), ['7.2', '7.2-1cpu']);
  t.same(x.guests.filter((g) => selects(['7.2-1cpu'], g)).map((g) => g.label), ['7.2-1cpu']);
  t.same(tierProblems(x, names), []);
  t.same(tierProblems({ ...x, guests: [x.guests[0]!, { ...x.guests[2]!, cpus: 0, scenarios: ['nope'] }] }, names), [
    'guest 7.2-1cpu: cpus must be a positive integer, not 0',
    'test/vm/tiers.json names nope for 7.2-1cpu, which is no scenario',
    'test/vm/tiers.json lists sched in needsSchedExt but no guest names it',
  ]);
});

t.test('each guest has its own test file (tap times each file on its own), and each file a guest', async (t) => {
  const files = readdirSync('test/integration').filter((f) => /^guest-.*\.test\.ts$/.test(f)).sort();
  t.same(files, tiers.guests.map((g) => `guest-${g.label}.test.ts`).sort());
  for (const f of files) {
    const label = /^guest-(.*)\.test\.ts$/.exec(f)![1];
    t.match(readFileSync(`test/integration/${f}`, 'utf8'), `runGuestTier('${label}')`, `${f} runs its own guest`);
  }
});
