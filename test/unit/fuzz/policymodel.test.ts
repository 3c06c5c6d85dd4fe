// The fuzz oracle's model of the documented policy rules: it covers every key loadPolicy knows, takes
// its defaults from the shipped policy.yaml, and agrees with loadPolicy on the README's own examples.
// The fuzzer (policy.test.ts) then compares the two on thousands of generated files.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_POLICY, POLICY_KEYS } from '../../../src/config/policy.js';
import { policyProblems } from './oracle.js';
import { MODEL_KEYS, OBSERVED_KEYS, expectPolicy, observed } from './policymodel.js';

t.test('the model covers every policy key, and reads every one of them back from a loaded policy', async (t) => {
  t.same([...MODEL_KEYS].sort(), POLICY_KEYS.map((k) => k.key).sort());
  t.same(OBSERVED_KEYS, MODEL_KEYS);
});

t.test('an empty file is the shipped policy.yaml, which is the built-in defaults', async (t) => {
  const empty = expectPolicy('');
  t.ok(empty.valid);
  if (empty.valid) t.same(Object.fromEntries(empty.policy), Object.fromEntries(observed(structuredClone(DEFAULT_POLICY))));
});

/** [YAML, valid by the rules]: the README's examples and what it says is refused. */
const EXAMPLES: [string, boolean][] = [
  ['tool:\n  memory_max: 800M\n', true],
  ['tool:\n  memory_max: 1.2G\n', true],
  ['tool:\n  memory_max: 512Ki\n', true],
  ['tool:\n  memory_high: 10%\n  memory_max: 12.5%\n', true],
  ['tool:\n  memory_max: 1073741824\n', true],
  ['tool:\n  memory_max: "1073741824"\n', true],
  ['tool:\n  memory_max: " 800M\t"\n', true],
  ['tool:\n  memory_max: 4097\n', true],
  ['tool:\n  memory_max: 4095\n', false],
  ['tool:\n  memory_max: 800m\n', false],
  ['tool:\n  memory_max: 800MB\n', false],
  ['tool:\n  memory_max: "1e9"\n', false],
  ['tool:\n  memory_max: "+1G"\n', false],
  ['tool:\n  memory_max: 0%\n', false],
  ['tool:\n  memory_max: 150%\n', false],
  ['tool:\n  memory_max: 8192T\n', false],
  ['tool:\n  memory_high: 2G\n  memory_max: 1G\n', false],
  ['agent:\n  memory_high: 90%\n  memory_max: 50%\n', false],
  ['tool:\n  memory_high: 900M\n  memory_max: 50%\n', true],
  ['tool:\n  pids_max: max\n  cpu_weight: 10000\n', true],
  ['tool:\n  pids_max: 0\n', false],
  ['tool:\n  cpu_weight: "100"\n', false],
  ['agent:\n  oom_score_adj: -1001\n', false],
  ['ladder:\n  deadline: 1.5s\n  recheck: 100ms\n', true],
  ['ladder:\n  deadline: 99ms\n', false],
  ['ladder:\n  deadline: 61m\n', false],
  ['ladder:\n  freeze_at: 12.5%\n', true],
  ['ladder:\n  freeze_at: 0.5\n', false],
  ['tracker:\n  framework: "node, claude"\n', true],
  ['tracker:\n  framework: ["a\\u0007b"]\n', false],
  ['depends_on: [db, cache-1]\n', true],
  ['depends_on: "../x"\n', false],
  ['strict: true\n', true],
  ['strict: yes\n', false],
  ['tool.memory_max: 1G\n', false],
  ['tool:\n', true],
  ['tool: 5\n', false],
  ['Strict: true\n', false],
  ['priority: !custom low\n', false],
  ['metrics:\n  listen: 127.0.0.1:9464\n', true],
  ['metrics:\n  listen: "[::1]:9464"\n', true],
  ['metrics:\n  listen: 10.0.0.1:9464\n', false],
  ['paths:\n  run_dir: /run/../etc\n', false],
];

t.test('the model and loadPolicy agree on the documented examples', async (t) => {
  const file = join(t.testdir(), 'policy.yaml');
  for (const [yaml, valid] of EXAMPLES) {
    const expected = expectPolicy(yaml);
    t.equal(expected.valid, valid, `model: ${JSON.stringify(yaml)}`);
    writeFileSync(file, yaml);
    t.same(policyProblems(file, expected), [], `loadPolicy: ${JSON.stringify(yaml)}`);
  }
});

t.test('an invalid file is strict by its strict: true line, as the README says', async (t) => {
  for (const [text, strict] of [
    ['strict: true\nbogus: 1\n', true],
    ['STRICT: Yes # fleet\r\nbogus: 1\n', true],
    ['  strict: true\nbogus: 1\n', false],
    ['strict: false\nbogus: 1\n', false],
  ] as const) {
    const e = expectPolicy(text);
    t.notOk(e.valid);
    t.equal(e.strict, strict, JSON.stringify(text));
  }
});
