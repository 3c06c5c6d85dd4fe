import t from 'tap';
import { FAULTS, HOOK_KILLS, deck, planChaos } from '../../chaos/plan.js';
import { rng } from '../../../src/plan/traces.js';

t.test('a seed gives the same plan every time, another seed another plan', async (t) => {
  const a = planChaos({ cycles: 30, seed: 4, prefix: 'x' });
  t.same(planChaos({ cycles: 30, seed: 4, prefix: 'x' }), a);
  t.not(JSON.stringify(planChaos({ cycles: 30, seed: 5, prefix: 'x' })), JSON.stringify(a));
  t.same(a.map((p) => p.id).slice(0, 2), ['x-0', 'x-1']);
});

t.test('even a short run has every fault, both hook kills, a daemon kill and both runtimes', async (t) => {
  for (const seed of [1, 2, 3, 7]) {
    const p = planChaos({ cycles: FAULTS.length + 2, seed, prefix: 'x' });
    t.same(new Set(p.map((c) => c.fault)), new Set(FAULTS), `seed ${seed}: faults`);
    t.same(new Set(p.map((c) => c.hookKill)), new Set(HOOK_KILLS), `seed ${seed}: hook kills`);
    t.ok(p.some((c) => c.daemonKillAfterS !== null), `seed ${seed}: a daemon kill`);
    t.same(new Set(p.map((c) => c.runtime)), new Set(['crun', 'runc']), `seed ${seed}: runtimes`);
  }
});

t.test('more daemon kills where asked for, the same faults, hook kills and runtimes', async (t) => {
  const kills = (p: ReturnType<typeof planChaos>) => p.filter((c) => c.daemonKillAfterS !== null).length;
  const base = planChaos({ cycles: 8, seed: 7, prefix: 'x' });
  const more = planChaos({ cycles: 8, seed: 7, prefix: 'x', daemonKillPercent: 40 });
  t.ok(kills(more) >= 2 && kills(more) > kills(base), `8 cycles, seed 7: ${kills(base)} daemon kills at 9%, ${kills(more)} at 40%`);
  t.same(planChaos({ cycles: 8, seed: 7, prefix: 'x', daemonKillPercent: 9 }), base, '9% is the default');
  const decks = (p: ReturnType<typeof planChaos>) => p.map((c) => [c.fault, c.hookKill, c.runtime]);
  t.same(decks(more), decks(base), 'faults, hook kills and runtimes unchanged');
  const long = planChaos({ cycles: 1000, seed: 3, prefix: 'x', daemonKillPercent: 40 });
  t.ok(Math.abs(kills(long) / 1000 - 0.4) < 0.05, `1000 cycles at 40%: ${kills(long)}`);
  t.throws(() => planChaos({ cycles: 8, seed: 7, prefix: 'x', daemonKillPercent: 0 }), /above 0 and below 100/);
  t.throws(() => planChaos({ cycles: 8, seed: 7, prefix: 'x', daemonKillPercent: 100 }), /above 0 and below 100/);
});

t.test('a long run has the kinds roughly in proportion to their weights', async (t) => {
  const d = deck(rng(9), 10_000, { a: 70, b: 20, c: 10 });
  const share = (k: string) => d.filter((x) => x === k).length / d.length;
  t.ok(Math.abs(share('a') - 0.7) < 0.03, `a ${share('a')}`);
  t.ok(Math.abs(share('c') - 0.1) < 0.03, `c ${share('c')}`);
  t.same(deck(rng(9), 2, { a: 1, b: 1, c: 1 }).length, 2, 'fewer draws than kinds: no forced coverage');
  t.notOk(deck(rng(9), 50, { a: 1, b: 0 }).includes('b'), 'a kind of weight 0 never comes');
});

t.test('calls allocate 32 to 96 MiB and sleep before it; bad cycle counts are refused', async (t) => {
  const calls = planChaos({ cycles: 200, seed: 1, prefix: 'x' }).flatMap((p) => p.calls);
  t.ok(calls.every((c) => c.mib >= 32 && c.mib <= 96 && c.sleepS >= 0.2 && c.sleepS <= 2));
  t.ok(calls.some((c) => c.viaExec) && calls.some((c) => !c.viaExec), 'both forked and exec calls');
  t.throws(() => planChaos({ cycles: 0, seed: 1, prefix: 'x' }), /positive integer/);
});
