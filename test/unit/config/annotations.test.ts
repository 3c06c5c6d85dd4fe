import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { AgentcgroupError } from '../../../src/errors.js';
import { isCatchAll } from '../../../src/config/admission.js';
import { ANNOTATION_KEYS, ANNOTATION_PREFIX, applyAnnotations, refusalLine } from '../../../src/config/annotations.js';
import { DEFAULT_POLICY, POLICY_KEYS } from '../../../src/config/policy.js';
import type { Policy } from '../../../src/config/types.js';

const P = ANNOTATION_PREFIX;

/** A host that lets containers set every key they could, up to the highest priority. */
const OPEN: Policy = { ...structuredClone(DEFAULT_POLICY), annotations: { allow: ['*'], maxPriority: 'high' } };

/** A host policy: the defaults with `changes` merged over the annotations section. */
const hostWith = (changes: Partial<Policy['annotations']>, base: Policy = DEFAULT_POLICY): Policy => ({
  ...structuredClone(base),
  annotations: { ...base.annotations, ...changes },
});

/** The policy applyAnnotations makes, checked to have refused nothing. */
function applied(t: Test, host: Policy, annotations: Record<string, string>): Policy {
  const { policy, refused } = applyAnnotations(host, annotations);
  t.same(refused, [], 'nothing refused');
  return policy;
}

/** The error applyAnnotations throws, checked to be a one-line bad-annotation naming `key`. */
function annotationError(t: Test, annotations: Record<string, string>, key: string, host: Policy = DEFAULT_POLICY): string {
  try {
    applyAnnotations(host, annotations);
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
  t.same(
    ANNOTATION_KEYS.filter((k) => !k.allowedByDefault).map((k) => k.key),
    ['io.agentcgroup.priority', 'io.agentcgroup.depends_on'],
    'by default a container may set every key but those that rank it against its neighbours',
  );
  const readme = readFileSync(new URL('../../../config/README.md', import.meta.url), 'utf8');
  for (const { key, allowedByDefault } of ANNOTATION_KEYS) {
    t.match(readme, `| \`${key}\` | ${allowedByDefault ? 'yes' : 'no'} |`, `config/README.md documents ${key}, allowed by default or not`);
  }
});

t.test('tracker.framework comes comma-separated from an annotation', async (t) => {
  t.same(applied(t, DEFAULT_POLICY, { 'io.agentcgroup.tracker.framework': 'node, claude' }).tracker.framework, ['node', 'claude']);
});

t.test('no annotations, or only foreign ones, change nothing', async (t) => {
  t.same(applyAnnotations(DEFAULT_POLICY, {}), { policy: DEFAULT_POLICY, refused: [] });
  const foreign = {
    'org.opencontainers.image.title': 'x',
    'io.kubernetes.cri.sandbox-id': '../../etc\n\u0000' + 'z'.repeat(10_000),
    'io.agentcgroupX.tool.memory_max': 'lots',
    'IO.AGENTCGROUP.tool.memory_max': 'lots',
    'agentcgroup.tool.memory_max': 'lots',
  };
  t.same(applyAnnotations(DEFAULT_POLICY, foreign), { policy: DEFAULT_POLICY, refused: [] }, 'ignored whatever their content');
});

t.test('enable is accepted and changes no policy', async (t) => {
  t.same(applied(t, DEFAULT_POLICY, { [`${P}enable`]: 'true' }), DEFAULT_POLICY);
  t.same(applied(t, hostWith({ allow: [] }), { [`${P}enable`]: 'false' }), hostWith({ allow: [] }), 'whatever the host allows');
});

t.test('every overridable key is applied where the host allows it', async (t) => {
  const p = applied(t, OPEN, {
    [`${P}priority`]: 'low',
    [`${P}session.memory_high`]: '95%',
    [`${P}agent.memory_high`]: '1G',
    [`${P}agent.memory_max`]: '1610612736',
    [`${P}agent.cpu_weight`]: '300',
    [`${P}tool.memory_high`]: '40%',
    [`${P}tool.memory_max`]: '60%',
    [`${P}tool.cpu_weight`]: '50',
    [`${P}tool.pids_max`]: '4096',
    [`${P}depends_on`]: 'db-1,cache',
  });
  t.same(p, {
    ...OPEN,
    priority: 'low',
    dependsOn: ['db-1', 'cache'],
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
      pidsMax: 4096,
    },
  });
  t.equal(applied(t, DEFAULT_POLICY, { [`${P}tool.pids_max`]: '256' }).tool.pidsMax, 256);
  t.same(applied(t, DEFAULT_POLICY, { [`${P}tool.memory_max`]: ' 800M ' }).tool.memoryMax, { kind: 'bytes', bytes: 800 * 2 ** 20 });
});

t.test('applyAnnotations never mutates its input', async (t) => {
  const input = structuredClone(DEFAULT_POLICY);
  const before = structuredClone(input);
  const out = applyAnnotations(input, { [`${P}tool.memory_max`]: '90%', [`${P}tool.memory_high`]: '80%', [`${P}priority`]: 'high' }).policy;
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
    ['depends_on', 'a,b c', /must be container ids \(letters, digits, _ \+ \. -\), got "b c"$/],
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
    ['tool.memory_max', '500m', /"500m" is not a size \(use bytes, 512Mi, 1\.2G, 50% or max; units are binary, 1M = 1Mi = 2\^20 bytes, not Kubernetes' 10\^6\)$/],
    ['tool.memory_max', '1k', /"1k" is not a size .*not Kubernetes' 10\^6\)$/],
  ];
  for (const [name, value, want] of cases) {
    t.match(annotationError(t, { [P + name]: value }, P + name, OPEN), want, `${name}=${JSON.stringify(value)}`);
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
    'agent.swap_max',
    'tool.swap_max',
    'tool.oom_group',
    'tool.oom_score_adj_above',
    'ladder.stall_ratio',
    'ladder.raise_step',
    'ladder.freeze_at',
    'ladder.thaw_below',
    'ladder.reclaim',
    'ladder.reclaim_step',
    'ladder.kill_at',
    'ladder.deadline',
    'ladder.recheck',
    'tracker.hold',
    'annotations.allow',
    'annotations.max_priority',
    'limits.exec_connections',
    'limits.tool_calls',
    'limits.argv_bytes',
    'limits.call_log_size',
    'paths.run_dir',
    'paths.call_log_dir',
    'paths.exec_client',
    'metrics.listen',
    'shim.always',
    'nri.enable',
    'nri.socket',
    'nri.carve',
    'sched_ext.enable',
  ]);
  for (const name of hostOnly) {
    t.match(annotationError(t, { [P + name]: 'true' }, P + name, OPEN), /: host-only: only the host policy file may set it, not the container$/, 'even where the host allows everything');
  }
  t.equal(annotationError(t, { [`${P}annotations.allow`]: 'strict' }, `${P}annotations.allow`), `annotation ${P}annotations.allow: host-only: only the host policy file may set it, not the container`);
  t.equal(annotationError(t, { [`${P}agent.oom_score_adj`]: '-1000' }, `${P}agent.oom_score_adj`), `annotation ${P}agent.oom_score_adj: unknown key`, 'a retired key is no annotation either');
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

t.test('by default a container cannot rank itself against its neighbours: refused, not an error', async (t) => {
  const { policy, refused } = applyAnnotations(DEFAULT_POLICY, {
    [`${P}priority`]: 'high',
    [`${P}depends_on`]: 'db-1',
    [`${P}tool.memory_max`]: '60%',
    [`${P}tool.memory_high`]: '50%',
  });
  t.same(refused, [
    { key: `${P}priority`, reason: 'not allowed by the host policy (annotations.allow)' },
    { key: `${P}depends_on`, reason: 'not allowed by the host policy (annotations.allow)' },
  ]);
  t.equal(policy.priority, 'normal', "the host's priority");
  t.same(policy.dependsOn, [], "the host's depends_on");
  t.same(policy.tool.memoryMax, { kind: 'percent', percent: 60 }, 'the allowed keys still apply');
  t.equal(refusalLine(refused[0]!), `annotation ${P}priority: not allowed by the host policy (annotations.allow); the host's value applies`);
  // Not parsed either: a value the host will not use is no reason to leave the container uncarved.
  t.same(applyAnnotations(DEFAULT_POLICY, { [`${P}priority`]: 'urgent' }).refused.map((r) => r.key), [`${P}priority`]);
});

t.test('annotations.allow decides, by key or pattern', async (t) => {
  const none = hostWith({ allow: [] });
  const { policy, refused } = applyAnnotations(none, { [`${P}tool.memory_max`]: '60%', [`${P}tracker.framework`]: 'node' });
  t.same(refused.map((r) => r.key), [`${P}tool.memory_max`, `${P}tracker.framework`]);
  t.same(policy, none);
  const tools = hostWith({ allow: ['tool.*', 'depends_on'] });
  const p = applyAnnotations(tools, { [`${P}tool.cpu_weight`]: '50', [`${P}depends_on`]: 'db-1', [`${P}agent.cpu_weight`]: '50' });
  t.same(p.refused.map((r) => r.key), [`${P}agent.cpu_weight`]);
  t.equal(p.policy.tool.cpuWeight, 50);
  t.same(p.policy.dependsOn, ['db-1']);
  t.equal(p.policy.agent.cpuWeight, 100);
});

t.test('an allowed priority is bounded by annotations.max_priority', async (t) => {
  const host = hostWith({ allow: ['priority'] });
  t.equal(host.annotations.maxPriority, 'normal', 'normal by default');
  t.equal(applied(t, host, { [`${P}priority`]: 'low' }).priority, 'low', 'a container may always lower itself');
  t.equal(applied(t, host, { [`${P}priority`]: 'normal' }).priority, 'normal');
  const high = applyAnnotations(host, { [`${P}priority`]: 'high' });
  t.same(high.refused, [{ key: `${P}priority`, reason: 'high is above annotations.max_priority normal' }]);
  t.equal(high.policy.priority, 'normal');
  t.equal(applied(t, hostWith({ allow: ['priority'], maxPriority: 'high' }), { [`${P}priority`]: 'high' }).priority, 'high');
  const low = hostWith({ allow: ['priority'], maxPriority: 'low' });
  t.same(applyAnnotations(low, { [`${P}priority`]: 'normal' }).refused.map((r) => r.reason), ['normal is above annotations.max_priority low']);
});

t.test("tool.pids_max may tighten the host's, never loosen it", async (t) => {
  t.equal(applied(t, DEFAULT_POLICY, { [`${P}tool.pids_max`]: '4096' }).tool.pidsMax, 4096);
  for (const value of ['4097', 'max']) {
    const { policy, refused } = applyAnnotations(DEFAULT_POLICY, { [`${P}tool.pids_max`]: value });
    t.same(refused, [{ key: `${P}tool.pids_max`, reason: `${value} is above the host's tool.pids_max 4096` }], value);
    t.equal(policy.tool.pidsMax, 4096);
  }
  const unlimited: Policy = { ...structuredClone(DEFAULT_POLICY), tool: { ...DEFAULT_POLICY.tool, pidsMax: 'max' } };
  t.equal(applied(t, unlimited, { [`${P}tool.pids_max`]: 'max' }).tool.pidsMax, 'max', 'a host without a limit bounds nothing');
  t.equal(applied(t, unlimited, { [`${P}tool.pids_max`]: '99999' }).tool.pidsMax, 99999);
});

t.test('a framework or launcher pattern that matches every program is refused', async (t) => {
  for (const key of ['tracker.framework', 'tracker.launchers'] as const) {
    const listIn = (p: Policy) => (key === 'tracker.framework' ? p.tracker.framework : p.tracker.launchers);
    for (const value of ['*', '**', 'node,*', ' * ,x']) {
      const { policy, refused } = applyAnnotations(DEFAULT_POLICY, { [P + key]: value });
      t.equal(refused.length, 1, `${key}=${value}`);
      t.match(refused[0]?.reason, /^pattern "\*+" matches every program$/);
      t.same(policy, DEFAULT_POLICY, "the host's lists stay");
    }
    for (const value of ['node', '*mcp*', 'claude*', 'python3,*.js']) {
      t.same(listIn(applied(t, DEFAULT_POLICY, { [P + key]: value })), value.split(','), `${key}=${value}`);
    }
  }
});

t.test('memory_high against memory_max blames only an annotation that was applied', async (t) => {
  // tool.memory_high is refused here: the conflict is between the host's 70% and the container's 50%.
  const host = hostWith({ allow: ['tool.memory_max'] });
  t.equal(
    annotationError(t, { [`${P}tool.memory_high`]: '40%', [`${P}tool.memory_max`]: '50%' }, `${P}tool.memory_max`, host),
    'annotation io.agentcgroup.tool.memory_max: tool.memory_high 70% is above tool.memory_max 50%',
  );
});

t.test('isCatchAll: only * and / (a / pattern is matched against the path, which always has one)', async (t) => {
  for (const p of ['*', '***', '/*', '*/*', '/*/', '**/**']) t.ok(isCatchAll(p), p);
  for (const p of ['/', 'a*', '*a*', '/usr/*', '*.js', '*/bin/*']) t.notOk(isCatchAll(p), p);
});
