// Generated policy YAML (valid keys with bad values, unknown keys, wrong types, bombs, anchors, deep
// nesting, mutations) through every command that reads a policy: `policy check` says valid or names
// one problem and exits 1, the hook fails open (or exits 1 when strict) with the world untouched,
// and `exec` exits 125, each with one line.
import t from 'tap';
import { join } from 'node:path';
import { makeBundles, World } from '../../fixtures/fuzzworld.js';
import { policyBody } from './generators.js';
import { bump, fuzz, scratchDir, type Tally } from './fuzz.js';
import { commandProblems, hookCase, parsedPolicy } from './oracle.js';

const RUNS = 4000;

t.test('policy: generated YAML through policy check, the hook and exec', async (t) => {
  const dir = scratchDir(t);
  const bundles = makeBundles(join(dir, 'bundles'));
  const w = new World(join(dir, 'host'), 'unified', bundles);
  const state = JSON.stringify({ ociVersion: '1.0.2', id: 'ctr1', status: 'created', pid: 4242, bundle: bundles.plain });
  const outcomes: Tally = new Map();

  await fuzz(t, 'policy', policyBody, RUNS, async (body) => {
    w.reset();
    w.writePolicy(body);
    const policy = parsedPolicy(w.policyFile);
    const valid = policy !== undefined;
    const problems: string[] = [];

    const check = await w.run(['policy', 'check', w.policyFile]);
    problems.push(...commandProblems(check, 'policy check', 1));
    if ((check.code === 0) !== valid) problems.push(`policy check exit ${check.code} for a policy that is ${valid ? 'valid' : 'invalid'}`);
    if (check.code === 0 && !/^policy [^\n]+: valid\n$/.test(check.out)) problems.push(`policy check printed ${JSON.stringify(check.out)}`);

    const hook = await hookCase(w, ['createRuntime'], state, policy);
    problems.push(...hook.problems);
    if (!valid && hook.outcome !== 'refused') problems.push(`the hook ${hook.outcome} under an invalid policy`);

    w.reset();
    // Never carved, so exec stops before starting anything: it must still read the policy first.
    const exec = await w.run(['exec', '--container', 'not-carved', '--policy', w.policyFile, '--', 'true']);
    problems.push(...commandProblems(exec, 'exec', 125));
    if (exec.code !== 125) problems.push(`exec exit ${exec.code}`);

    bump(outcomes, `${valid ? 'valid' : 'invalid'} policy, hook ${hook.outcome}`);
    if (problems.length > 0) throw new Error(problems.join('\n'));
  });
  t.comment(`outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`);
  t.ok((outcomes.get('valid policy, hook carved') ?? 0) >= RUNS / 20, 'a fair share of policies are valid and carve');
});
