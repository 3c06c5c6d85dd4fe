// Generated annotation sets over generated host policies: applyAnnotations does what the model of the
// documented admission rules says (config/README.md "Annotations"): an error naming an annotation, or
// the same annotations refused (the host's value kept) and the same values applied.
import t from 'tap';
import fc from 'fast-check';
import { parsePolicyYaml } from '../../../src/config/policy.js';
import { annotationHost, annotationMap, containerAnnotations, plainAnnotations } from './generators.js';
import { bump, fuzz, type Tally } from './fuzz.js';
import { annotationProblems } from './oracle.js';
import { expectAnnotations, expectPolicy } from './policymodel.js';

const RUNS = 6000;

t.test('annotations: generated sets over generated host policies', async (t) => {
  const outcomes: Tally = new Map();
  await fuzz(t, 'annotations', fc.tuple(annotationHost, fc.oneof(annotationMap, plainAnnotations, containerAnnotations)), RUNS, async ([text, annotations]) => {
    const host = expectPolicy(text);
    // An invalid host policy is the policy fuzzer's business: nothing to weigh annotations against.
    if (!host.valid) return bump(outcomes, 'host invalid');
    const problems = annotationProblems(parsePolicyYaml(text, 'policy.yaml'), host.policy, annotations);
    const expected = expectAnnotations(host.policy, annotations);
    bump(outcomes, expected.valid ? (expected.refused.length > 0 ? 'some refused' : 'all applied') : 'error');
    if (problems.length > 0) throw new Error(problems.join('\n'));
  });
  t.comment(`outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`);
  for (const outcome of ['some refused', 'all applied', 'error']) t.ok((outcomes.get(outcome) ?? 0) >= RUNS / 20, `a fair share of cases end ${outcome}`);
});
