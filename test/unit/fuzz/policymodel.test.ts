// The fuzz oracle's model of the documented policy rules: it covers every key loadPolicy knows, takes
// its defaults from the shipped policy.yaml, and agrees with loadPolicy and applyAnnotations on the
// README's own examples. The fuzzers (policy.test.ts, annotations.test.ts) then compare them on
// thousands of generated files and annotation sets.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_POLICY, parsePolicyYaml, POLICY_KEYS } from '../../../src/config/policy.js';
import { annotationProblems, policyProblems } from './oracle.js';
import { CONTAINER_KEYS, MODEL_KEYS, OBSERVED_KEYS, expectAnnotations, expectPolicy, observed } from './policymodel.js';

t.test('the model covers every policy key, and reads every one of them back from a loaded policy', async (t) => {
  t.same([...MODEL_KEYS].sort(), POLICY_KEYS.map((k) => k.key).sort());
  t.same(OBSERVED_KEYS, MODEL_KEYS);
  t.same([...CONTAINER_KEYS].sort(), POLICY_KEYS.filter((k) => !k.hostOnly).map((k) => k.key).sort(), 'and which of them a container could set');
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
  ['agent:\n  oom_score_adj: -900\n', true],
  ['agent:\n  oom_score_adj: 0\n', false],
  ['agent:\n  oom_score_adj: "-900"\n', false],
  ['agent.oom_score_adj: -900\n', false],
  ['tool:\n  oom_score_adj_above: 0\n', true],
  ['tool:\n  oom_score_adj_above: 1000\n', true],
  ['tool:\n  oom_score_adj_above: 1001\n', false],
  ['tool:\n  oom_score_adj_above: -1\n', false],
  ['annotations:\n  allow: [session.memory_high, "agent.*", "tool.*", "tracker.*", priority, depends_on]\n  max_priority: normal\n', true],
  ['annotations:\n  allow: []\n', true],
  ['annotations:\n  allow: "tool.*, priority"\n  max_priority: high\n', true],
  ['annotations:\n  allow: ["*"]\n', true],
  ['annotations:\n  allow: [strict]\n', false],
  ['annotations:\n  allow: [tool.oom_group]\n', false],
  ['annotations:\n  allow: ["ladder.*"]\n', false],
  ['annotations:\n  allow: [tool.memroy_max]\n', false],
  ['annotations:\n  allow: [agent.oom_score_adj]\n', false],
  ['annotations:\n  allow: tool.*\n', true],
  ['annotations:\n  allow:\n', false],
  ['annotations:\n  max_priority: urgent\n', false],
  ['annotations:\n  max_priority: low\n', true],
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
  ['nri:\n  enable: auto\n  carve: hooks\n', true],
  ['nri:\n  enable: false\n  socket: /run/containerd/nri.sock\n', true],
  ['nri:\n  enable: "true"\n', false],
  ['nri:\n  enable: yes\n', false],
  ['nri:\n  carve: shim\n', false],
  ['nri:\n  socket: relative/nri.sock\n', false],
  [`nri:\n  socket: /${'s'.repeat(107)}\n`, false],
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

/** [host policy YAML, annotations, what the README says: an error, or the annotations refused]. */
const ANNOTATION_EXAMPLES: [string, Record<string, string>, 'error' | string[]][] = [
  ['', {}, []],
  ['', { 'io.agentcgroup.enable': 'true', 'org.example.x': '../\n' }, []],
  ['', { 'io.agentcgroup.tool.memory_max': '512M', 'io.agentcgroup.tracker.framework': 'node,claude' }, []],
  ['', { 'io.agentcgroup.priority': 'high' }, ['io.agentcgroup.priority']],
  ['', { 'io.agentcgroup.priority': 'low' }, ['io.agentcgroup.priority']],
  ['', { 'io.agentcgroup.priority': 'urgent' }, ['io.agentcgroup.priority']],
  ['', { 'io.agentcgroup.depends_on': 'db' }, ['io.agentcgroup.depends_on']],
  ['', { 'io.agentcgroup.tool.pids_max': '256' }, []],
  ['', { 'io.agentcgroup.tool.pids_max': '4097' }, ['io.agentcgroup.tool.pids_max']],
  ['', { 'io.agentcgroup.tool.pids_max': 'max' }, ['io.agentcgroup.tool.pids_max']],
  ['tool:\n  pids_max: max\n', { 'io.agentcgroup.tool.pids_max': 'max' }, []],
  ['', { 'io.agentcgroup.tool.pids_max': '0' }, 'error'],
  ['', { 'io.agentcgroup.tracker.framework': '*' }, ['io.agentcgroup.tracker.framework']],
  ['', { 'io.agentcgroup.tracker.launchers': 'tini, **' }, ['io.agentcgroup.tracker.launchers']],
  ['', { 'io.agentcgroup.tracker.framework': '*mcp*' }, []],
  ['', { 'io.agentcgroup.strict': 'false' }, 'error'],
  ['annotations:\n  allow: ["*"]\n', { 'io.agentcgroup.tool.oom_score_adj_above': '0' }, 'error'],
  ['', { 'io.agentcgroup.agent.oom_score_adj': '-900' }, 'error'],
  ['', { 'io.agentcgroup.tool.memroy_max': '1G' }, 'error'],
  ['', { 'io.agentcgroup.tool.memory_max': 'lots' }, 'error'],
  ['', { 'io.agentcgroup.tool.cpu_weight': ' 100' }, 'error'],
  ['', { 'io.agentcgroup.tool.cpu_weight': '007' }, []],
  ['', { 'io.agentcgroup.tool.memory_max': `${'1'.repeat(65)}` }, 'error'],
  ['', { 'io.agentcgroup.tracker.framework': '/usr/bin/node' }, 'error'],
  ['', { 'io.agentcgroup.enable': 'a..b' }, 'error'],
  ['annotations:\n  allow: []\n', { 'io.agentcgroup.enable': 'true', 'io.agentcgroup.tool.memory_max': '1G' }, ['io.agentcgroup.tool.memory_max']],
  ['annotations:\n  allow: [priority]\n  max_priority: high\n', { 'io.agentcgroup.priority': 'high' }, []],
  ['annotations:\n  allow: [priority]\n  max_priority: low\n', { 'io.agentcgroup.priority': 'normal' }, ['io.agentcgroup.priority']],
  ['', { 'io.agentcgroup.tool.memory_high': '90%' }, 'error'],
  ['', { 'io.agentcgroup.tool.memory_high': '90%', 'io.agentcgroup.tool.memory_max': '95%' }, []],
  ['annotations:\n  allow: [tool.memory_max]\n', { 'io.agentcgroup.tool.memory_high': '90%', 'io.agentcgroup.tool.memory_max': '95%' }, ['io.agentcgroup.tool.memory_high']],
];

t.test('the model and applyAnnotations agree on the documented annotation rules', async (t) => {
  for (const [yaml, annotations, want] of ANNOTATION_EXAMPLES) {
    const name = `${JSON.stringify(yaml)} ${JSON.stringify(annotations)}`;
    const host = expectPolicy(yaml);
    if (!host.valid) {
      t.fail(`host policy ${name} is invalid`);
      continue;
    }
    const expected = expectAnnotations(host.policy, annotations);
    t.same(expected.valid ? expected.refused : 'error', want, `model: ${name}`);
    t.same(annotationProblems(parsePolicyYaml(yaml, 'policy.yaml'), host.policy, annotations), [], `applyAnnotations: ${name}`);
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
