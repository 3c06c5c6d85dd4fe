import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { AgentcgroupError } from '../../../src/errors.js';
import { ANNOTATION_KEYS, ANNOTATION_PREFIX, applyAnnotations } from '../../../src/config/annotations.js';
import { DEFAULT_POLICY, POLICY_KEYS } from '../../../src/config/policy.js';

const P = ANNOTATION_PREFIX;

/** The error applyAnnotations throws, checked to be a one-line bad-annotation naming `key`. */
function annotationError(t: Test, annotations: Record<string, string>, key: string): string {
  try {
    applyAnnotations(DEFAULT_POLICY, annotations);
  } catch (err) {
    t.type(err, AgentcgroupError);
    const e = err as AgentcgroupError;
    t.equal(e.code, 'bad-annotation');
    t.notMatch(e.message, /[\n\r\0\u2028]/, `one line: ${e.message}`);
    t.ok(e.message.startsWith(`annotation ${key}: `), `names ${key}`);
    return e.message;
  }
  t.fail(`${JSON.stringify(annotations)} was accepted`);
  return '';
}

t.test('the prefix and the documented keys', async (t) => {
  t.equal(P, 'io.agentcgroup.');
  t.same(
    ANNOTATION_KEYS.map((k) => k.key),
    [
      'io.agentcgroup.enable',
      'io.agentcgroup.priority',
      'io.agentcgroup.session.memory_high',
      'io.agentcgroup.agent.memory_high',
      'io.agentcgroup.agent.memory_max',
      'io.agentcgroup.agent.cpu_weight',
      'io.agentcgroup.tool.memory_high',
      'io.agentcgroup.tool.memory_max',
      'io.agentcgroup.tool.cpu_weight',
      'io.agentcgroup.tool.pids_max',
      'io.agentcgroup.depends_on',
      'io.agentcgroup.tracker.framework',
      'io.agentcgroup.tracker.launchers',
    ],
  );
  for (const { key, description } of ANNOTATION_KEYS) {
    t.match(description, /^[^\n]{10,120}$/, `${key} has a one-line description`);
  }
  const readme = readFileSync(new URL('../../../config/README.md', import.meta.url), 'utf8');
  for (const { key } of ANNOTATION_KEYS) t.match(readme, `| \`${key}\` |`, `config/README.md documents ${key}`);
});

t.test('tracker.framework comes comma-separated from an annotation', async (t) => {
  t.same(applyAnnotations(DEFAULT_POLICY, { 'io.agentcgroup.tracker.framework': 'node, claude' }).tracker.framework, ['node', 'claude']);
});

t.test('no annotations, or only foreign ones, change nothing', async (t) => {
  t.same(applyAnnotations(DEFAULT_POLICY, {}), DEFAULT_POLICY);
  const foreign = {
    'org.opencontainers.image.title': 'x',
    'io.kubernetes.cri.sandbox-id': '../../etc\n\u0000' + 'z'.repeat(10_000),
    'io.agentcgroupX.tool.memory_max': 'lots',
    'IO.AGENTCGROUP.tool.memory_max': 'lots',
    'agentcgroup.tool.memory_max': 'lots',
  };
  t.same(applyAnnotations(DEFAULT_POLICY, foreign), DEFAULT_POLICY, 'ignored whatever their content');
});

t.test('enable is accepted and changes no policy', async (t) => {
  t.same(applyAnnotations(DEFAULT_POLICY, { [`${P}enable`]: 'true' }), DEFAULT_POLICY);
  t.same(applyAnnotations(DEFAULT_POLICY, { [`${P}enable`]: 'false' }), DEFAULT_POLICY);
});

t.test('every overridable key is applied', async (t) => {
  const p = applyAnnotations(DEFAULT_POLICY, {
    [`${P}priority`]: 'low',
    [`${P}session.memory_high`]: '95%',
    [`${P}agent.memory_high`]: '1G',
    [`${P}agent.memory_max`]: '1610612736',
    [`${P}agent.cpu_weight`]: '300',
    [`${P}tool.memory_high`]: '40%',
    [`${P}tool.memory_max`]: '60%',
    [`${P}tool.cpu_weight`]: '50',
    [`${P}tool.pids_max`]: 'max',
  });
  t.same(p, {
    ...DEFAULT_POLICY,
    priority: 'low',
    session: { memoryHigh: { kind: 'percent', percent: 95 } },
    agent: {
      ...DEFAULT_POLICY.agent,
      memoryHigh: { kind: 'bytes', bytes: 2 ** 30 },
      memoryMax: { kind: 'bytes', bytes: 1.5 * 2 ** 30 },
      cpuWeight: 300,
    },
    tool: {
      ...DEFAULT_POLICY.tool,
      memoryHigh: { kind: 'percent', percent: 40 },
      memoryMax: { kind: 'percent', percent: 60 },
      cpuWeight: 50,
      pidsMax: 'max',
    },
  });
  t.equal(applyAnnotations(DEFAULT_POLICY, { [`${P}tool.pids_max`]: '256' }).tool.pidsMax, 256);
  t.same(applyAnnotations(DEFAULT_POLICY, { [`${P}tool.memory_max`]: ' 800M ' }).tool.memoryMax, { kind: 'bytes', bytes: 800 * 2 ** 20 });
});

t.test('applyAnnotations never mutates its input', async (t) => {
  const input = structuredClone(DEFAULT_POLICY);
  const before = structuredClone(input);
  const out = applyAnnotations(input, { [`${P}tool.memory_max`]: '90%', [`${P}tool.memory_high`]: '80%', [`${P}priority`]: 'high' });
  t.same(input, before, 'input unchanged');
  t.not(out, input);
  t.not(out.tool, input.tool, 'sections are copies too');
  t.not(out.tool.memoryMax, input.tool.memoryMax);
  out.paths.runDir = '/elsewhere';
  t.equal(input.paths.runDir, '/run/agentcgroup');
  t.doesNotThrow(() => applyAnnotations(DEFAULT_POLICY, { [`${P}priority`]: 'high' }), 'works on the frozen defaults');
  t.equal(DEFAULT_POLICY.priority, 'normal');
  t.throws(() => applyAnnotations(input, { [`${P}priority`]: 'high', [`${P}tool.pids_max`]: '-1' }));
  t.same(input, before, 'unchanged after a failure halfway through, too');
});

t.test('the spec example message', async (t) => {
  t.equal(
    annotationError(t, { [`${P}tool.memory_max`]: 'lots' }, `${P}tool.memory_max`),
    'annotation io.agentcgroup.tool.memory_max: "lots" is not a size (use bytes, 800M, 1.2G, 50% or max)',
  );
});

t.test('invalid values name the annotation key', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['priority', 'urgent', /must be low, normal or high, got "urgent"$/],
    ['priority', '', /must be low, normal or high, got ""$/],
    ['agent.cpu_weight', '0', /must be an integer from 1 to 10000, got 0$/],
    ['agent.cpu_weight', '10001', /must be an integer from 1 to 10000, got 10001$/],
    ['agent.cpu_weight', '1.5', /must be an integer from 1 to 10000, got "1\.5"$/],
    ['tool.cpu_weight', 'lots', /got "lots"$/],
    ['tool.cpu_weight', ' 100', /got " 100"$/],
    ['tool.pids_max', '-3', /must be a positive integer or max, got -3$/],
    ['tool.pids_max', '0', /must be a positive integer or max, got 0$/],
    ['tool.pids_max', '99999999999999999999', /must be a positive integer or max, got 100000000000000000000$/],
    ['tool.memory_max', '0%', /"0%" is not a percentage above 0 and at most 100$/],
    ['tool.memory_max', '4095', /"4095" is below one page \(4096 bytes\)$/],
    ['tool.memory_max', '800MB', /"800MB" is not a size/],
    ['session.memory_high', '1e9', /"1e9" is not a size/],
    ['agent.memory_high', '-1G', /"-1G" is not a size/],
  ];
  for (const [name, value, want] of cases) {
    t.match(annotationError(t, { [P + name]: value }, P + name), want, `${name}=${JSON.stringify(value)}`);
  }
});

t.test('unknown io.agentcgroup.* keys are errors', async (t) => {
  for (const name of ['tool.memroy_max', 'session.memory_max', 'tool', 'agent', '', 'enable.x', 'tool.memory_max.x']) {
    t.equal(annotationError(t, { [P + name]: '1G' }, P + name), `annotation ${P}${name}: unknown key`);
  }
  const hostile = `${P}x\ny`;
  const message = annotationError(t, { [hostile]: '1' }, JSON.stringify(hostile));
  t.equal(message, `annotation "${P}x\\ny": unknown key`, 'a hostile key is quoted');
});

t.test('host-only keys cannot be set by a container', async (t) => {
  const hostOnly = POLICY_KEYS.filter((k) => k.hostOnly).map((k) => k.key);
  t.same(hostOnly, [
    'strict',
    'agent.oom_score_adj',
    'tool.oom_group',
    'ladder.stall_ratio',
    'ladder.raise_step',
    'ladder.freeze_at',
    'ladder.thaw_below',
    'ladder.kill_at',
    'ladder.deadline',
    'ladder.recheck',
    'tracker.hold',
    'paths.run_dir',
    'paths.call_log_dir',
    'metrics.listen',
    'shim.always',
  ]);
  for (const name of hostOnly) {
    t.match(annotationError(t, { [P + name]: 'true' }, P + name), /: host-only: only the host policy file may set it, not the container$/);
  }
  t.match(annotationError(t, { [`${P}agent.oom_score_adj`]: '-1000' }, `${P}agent.oom_score_adj`), /host-only/);
});

t.test('hostile values are refused before parsing, quoted and cut in the message', async (t) => {
  const refusal = /: refused ".*"(… \(\d+ chars\))?: a value is at most 64 characters, without control characters, \/ or \.\.$/;
  const hostile = ['../x', '..', '1G/2', '/', '1M\n', '1M\r', '\u0000', '1G\u0000', '\t1G', '50%\u007f'];
  for (const value of [...hostile, 'x'.repeat(65), '9'.repeat(10_000)]) {
    const key = `${P}tool.memory_max`;
    t.match(annotationError(t, { [key]: value }, key), refusal, JSON.stringify(value).slice(0, 30));
  }
  const key = `${P}priority`;
  const rule = 'a value is at most 64 characters, without control characters, / or ..';
  t.equal(
    annotationError(t, { [key]: 'high\nstrict: true' }, key),
    `annotation io.agentcgroup.priority: refused "high\\nstrict: true": ${rule}`,
  );
  t.equal(annotationError(t, { [key]: '\u0000' }, key), `annotation ${key}: refused "\\u0000": ${rule}`);
  const long = annotationError(t, { [key]: 'h'.repeat(5000) }, key);
  t.match(long, /refused "h{60}"… \(5000 chars\):/, 'a long value is cut, as every quoted value is (src/text.ts)');
  t.ok(long.length < 200);
  t.doesNotThrow(() => applyAnnotations(DEFAULT_POLICY, { [`${P}tool.pids_max`]: '1'.repeat(16) }), '64 characters or fewer is fine');
  t.match(annotationError(t, { [`${P}enable`]: '../true' }, `${P}enable`), refusal, 'enable is checked too');
  t.match(
    annotationError(t, { [`${P}tool.memory_max`]: 5 as unknown as string }, `${P}tool.memory_max`),
    /refused "5"/,
    'a non-string value (from untyped JSON) is refused',
  );
});

t.test('memory_high above memory_max after the overrides is refused', async (t) => {
  t.equal(
    annotationError(t, { [`${P}tool.memory_high`]: '90%' }, `${P}tool.memory_high`),
    'annotation io.agentcgroup.tool.memory_high: tool.memory_high 90% is above tool.memory_max 85%',
  );
  t.equal(
    annotationError(t, { [`${P}tool.memory_max`]: '50%' }, `${P}tool.memory_max`),
    'annotation io.agentcgroup.tool.memory_max: tool.memory_high 70% is above tool.memory_max 50%',
    'names the annotation that was given',
  );
  t.equal(
    annotationError(t, { [`${P}agent.memory_high`]: '2G', [`${P}agent.memory_max`]: '1G' }, `${P}agent.memory_high`),
    'annotation io.agentcgroup.agent.memory_high: agent.memory_high 2G is above agent.memory_max 1G',
  );
  t.doesNotThrow(() => applyAnnotations(DEFAULT_POLICY, { [`${P}tool.memory_high`]: '85%' }), 'equal is fine');
  t.doesNotThrow(() => applyAnnotations(DEFAULT_POLICY, { [`${P}tool.memory_high`]: '64G' }), 'bytes against percent is not compared');
  t.doesNotThrow(() => applyAnnotations(DEFAULT_POLICY, { [`${P}tool.memory_high`]: '90%', [`${P}tool.memory_max`]: 'max' }));
  t.doesNotThrow(
    () => applyAnnotations(DEFAULT_POLICY, { [`${P}tool.memory_high`]: '95%', [`${P}tool.memory_max`]: '99%' }),
    'checked after all overrides, not one at a time',
  );
});
