// Generated OCI states, config.json files, annotation sets, stage arguments, host conditions and
// kernel faults through `agentcgroup hook` (main(argv)) against a fake cgroupfs. Every case must end
// by the exit rules with at most one line, leave the world as it was on failure, and carve completely
// (undone by poststop) on success.
import t from 'tap';
import fc from 'fast-check';
import { join } from 'node:path';
import { HOST_KINDS, type HostKind, makeBundles, World } from '../../fixtures/fuzzworld.js';
import { configJson, fault, hostPolicy, ociState, stageArg } from './generators.js';
import { bump, fuzz, scratchDir, type Tally } from './fuzz.js';
import { bundleCheckProblems, commandProblems, expectedPolicy, hookCase } from './oracle.js';

const RUNS = 6000;

t.test('hook: generated states, configs, annotations, hosts and faults', async (t) => {
  const dir = scratchDir(t);
  const bundles = makeBundles(join(dir, 'bundles'));
  const worlds = new Map(HOST_KINDS.map((k) => [k, new World(join(dir, k), k, bundles)]));
  // Most cases on a ready host, where carves can happen; each unsupported host gets its share.
  const host = fc.oneof({ weight: HOST_KINDS.length * 2, arbitrary: fc.constant<HostKind>('unified') }, ...HOST_KINDS.map((k) => ({ weight: 1, arbitrary: fc.constant(k) })));
  const cases = fc.record({ host, policy: hostPolicy, config: configJson, state: ociState(bundles), stage: stageArg, fault });
  const outcomes: Tally = new Map();

  const count = await fuzz(t, 'hook', cases, RUNS, async (c) => {
    const w = worlds.get(c.host)!;
    w.reset();
    w.writePolicy(c.policy);
    w.writeConfig(c.config);
    if (c.fault) w.kernel.failures.set(...c.fault);
    const v = await hookCase(w, c.stage === undefined ? [] : [c.stage], c.state);
    // The same config through the config path: a checker, so it fails non-zero.
    const check = await w.run(['policy', 'check', w.policyFile, '--bundle', bundles.plain]);
    const problems = [...v.problems, ...commandProblems(check, 'policy check', 1)];
    // Valid: it listed the annotations the host refuses, which must be those the rules refuse.
    if (check.code === 0) problems.push(...bundleCheckProblems(check.out, c.config, expectedPolicy(w.policyFile)));
    bump(outcomes, `${c.host === 'unified' ? 'ready' : 'unsupported'} ${v.outcome}`);
    if (problems.length > 0) throw new Error(problems.join('\n'));
  });
  t.comment(`outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`);
  // A fuzz suite that never reaches a carve tests only refusals.
  t.ok((outcomes.get('ready carved') ?? 0) >= count / 20, 'a fair share of cases carve');
  t.equal(outcomes.get('unsupported carved'), undefined, 'no carve on an unsupported host');
});
