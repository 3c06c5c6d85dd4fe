// Generated policy YAML (valid keys with bad values, unknown keys, wrong types, bombs, anchors, deep
// nesting, mutations) through every command that reads a policy: loadPolicy gives what the model of
// the documented rules says (valid or not, every value, the key an error names), `policy check` says
// valid or names one problem and exits 1, the hook fails open (or exits 1 when strict) with the world
// untouched, and `exec` exits 125, each with one line.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../../fixtures/cli.js';
import { makeBundles, World } from '../../fixtures/fuzzworld.js';
import { policyBody } from './generators.js';
import { bump, fuzz, scratchDir, type Tally } from './fuzz.js';
import { commandProblems, expectedPolicy, hookCase, policyProblems } from './oracle.js';

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
    const expected = expectedPolicy(w.policyFile);
    const { valid } = expected;
    const problems = policyProblems(w.policyFile, expected);

    const check = await w.run(['policy', 'check', w.policyFile]);
    problems.push(...commandProblems(check, 'policy check', 1));
    if ((check.code === 0) !== valid) problems.push(`policy check exit ${check.code} for a policy that is ${valid ? 'valid' : 'invalid'}`);
    if (check.code === 0 && !/^policy [^\n]+: valid\n$/.test(check.out)) problems.push(`policy check printed ${JSON.stringify(check.out)}`);

    const hook = await hookCase(w, ['createRuntime'], state, expected);
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

t.test('policy check: the shipped policy, a missing file, a bundle', async (t) => {
  const dir = scratchDir(t);
  const bundles = makeBundles(join(dir, 'bundles'));
  t.same(await runCli(['policy', 'check', 'config/policy.yaml']), { code: 0, out: 'policy config/policy.yaml: valid\n', err: '' });
  t.same(await runCli(['policy', 'check', join(dir, 'nope.yaml')]), { code: 1, out: '', err: `agentcgroup: policy check: policy file ${join(dir, 'nope.yaml')}: not found\n` });
  writeFileSync(join(bundles.plain, 'config.json'), JSON.stringify({ ociVersion: '1.0.2', annotations: { 'io.agentcgroup.tool.memory_max': '512M' } }));
  const ok = await runCli(['policy', 'check', 'config/policy.yaml', '--bundle', bundles.plain]);
  t.same(ok, { code: 0, out: `policy config/policy.yaml with the annotations of ${bundles.plain}: valid\n`, err: '' });
  writeFileSync(join(bundles.plain, 'config.json'), JSON.stringify({ ociVersion: '1.0.2', annotations: { 'io.agentcgroup.priority': 'high' } }));
  t.same(await runCli(['policy', 'check', 'config/policy.yaml', '--bundle', bundles.plain]), {
    code: 0,
    out: `annotation io.agentcgroup.priority: not allowed by the host policy (annotations.allow); the host's value applies\npolicy config/policy.yaml with the annotations of ${bundles.plain}: valid\n`,
    err: '',
  }, 'a refused annotation is said, and is no reason to fail: the hook carves with the host value');
  writeFileSync(join(bundles.plain, 'config.json'), JSON.stringify({ ociVersion: '1.0.2', annotations: { 'io.agentcgroup.strict': 'false' } }));
  const hostOnly = await runCli(['policy', 'check', 'config/policy.yaml', '--bundle', bundles.plain]);
  t.equal(hostOnly.code, 1);
  t.match(hostOnly.err, /^agentcgroup: policy check: annotation io\.agentcgroup\.strict: [^\n]+\n$/);
});
