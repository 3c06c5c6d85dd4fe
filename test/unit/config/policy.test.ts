import t, { type Test } from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { AgentcgroupError } from '../../../src/errors.js';
import {
  DEFAULT_POLICY,
  DEFAULT_POLICY_FILE,
  loadPolicy,
  memoryOrderProblems,
  parsePolicyYaml,
  POLICY_KEYS,
} from '../../../src/config/policy.js';
import type { Policy } from '../../../src/config/types.js';

const SRC = '/etc/agentcgroup/policy.yaml';
const SHIPPED = new URL('../../../config/policy.yaml', import.meta.url);

/** The error `fn` throws, checked to be a one-line AgentcgroupError with `code`. */
function oneLineError(t: Test, fn: () => unknown, code = 'bad-policy'): string {
  try {
    fn();
  } catch (err) {
    t.type(err, AgentcgroupError);
    t.equal((err as AgentcgroupError).code, code);
    const { message } = err as Error;
    t.notMatch(message, /[\n\r\0]/, `one line: ${message}`);
    return message;
  }
  t.fail('did not throw');
  return '';
}

const policyError = (t: Test, yaml: string, source = SRC) => oneLineError(t, () => parsePolicyYaml(yaml, source));

t.test('DEFAULT_POLICY holds the agreed defaults and is frozen', async (t) => {
  t.same(DEFAULT_POLICY, {
    strict: false,
    priority: 'normal',
    session: { memoryHigh: { kind: 'percent', percent: 90 } },
    agent: { memoryHigh: { kind: 'max' }, memoryMax: { kind: 'max' }, cpuWeight: 100, swapMax: 0 },
    tool: {
      memoryHigh: { kind: 'percent', percent: 70 },
      memoryMax: { kind: 'percent', percent: 85 },
      cpuWeight: 100,
      swapMax: 'max',
      pidsMax: 4096,
      oomGroup: true,
      oomScoreAdjAbove: 500,
    },
    dependsOn: [],
    ladder: { stallRatio: 0.5, raiseStep: 0.1, freezeAt: 0.9, thawBelow: 0.75, killAt: 0.98, reclaim: true, reclaimStepBytes: 64 * 2 ** 20, deadlineMs: 30_000, recheckMs: 500 },
    tracker: DEFAULT_POLICY.tracker,
    annotations: {
      allow: [
        'session.memory_high', 'agent.memory_high', 'agent.memory_max', 'agent.cpu_weight',
        'tool.memory_high', 'tool.memory_max', 'tool.cpu_weight', 'tool.pids_max',
        'tracker.framework', 'tracker.launchers',
      ],
      maxPriority: 'normal',
    },
    limits: { execConnections: 16, toolCalls: 512, argvBytes: 4096, callLogBytes: 16 * 2 ** 20 },
    paths: { runDir: '/run/agentcgroup', callLogDir: '/var/lib/agentcgroup/calls', execClient: '/usr/local/lib/agentcgroup/agentcgroup-exec' },
    metrics: { listen: null },
    shim: { always: false },
    nri: { enable: 'auto', socket: '/var/run/nri/nri.sock', carve: 'auto' },
    schedExt: { enable: false },
  });
  t.equal(DEFAULT_POLICY_FILE, '/etc/agentcgroup/policy.yaml');
  t.ok(Object.isFrozen(DEFAULT_POLICY) && Object.isFrozen(DEFAULT_POLICY.tool.memoryMax), 'deeply frozen');
});

t.test('the shipped config/policy.yaml is exactly the defaults, with every key written out', async (t) => {
  const text = readFileSync(SHIPPED, 'utf8');
  t.same(parsePolicyYaml(text, 'config/policy.yaml'), DEFAULT_POLICY);
  const doc = parse(text) as Record<string, unknown>;
  const written = Object.entries(doc).flatMap(([k, v]) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.keys(v).map((sk) => `${k}.${sk}`) : [k],
  );
  t.same(written, POLICY_KEYS.map((k) => k.key), 'every key, in POLICY_KEYS order');
});

t.test('config/README.md documents every policy key with its host-only status', async (t) => {
  const readme = readFileSync(new URL('../../../config/README.md', import.meta.url), 'utf8');
  for (const { key, hostOnly } of POLICY_KEYS) {
    t.match(readme, new RegExp(`^\\| \`${key.replace('.', '\\.')}\` \\| [^|]+ \\| ${hostOnly ? 'yes' : 'no'} \\|`, 'm'), key);
  }
});

t.test('empty and comment-only files are the defaults, as a fresh copy', async (t) => {
  for (const text of ['', '\n', '# nothing here\n', '---\n', '# a\n\n# b\n', 'tool:\n  # pids_max: 10\n']) {
    const p = parsePolicyYaml(text, SRC);
    t.same(p, DEFAULT_POLICY, JSON.stringify(text));
    t.not(p, DEFAULT_POLICY);
    t.notOk(Object.isFrozen(p.tool), 'callers get a mutable copy');
  }
});

t.test('every key is read and merged over the defaults', async (t) => {
  const p = parsePolicyYaml(
    [
      'strict: true',
      'priority: high',
      'session:',
      '  memory_high: 95%',
      'agent:',
      '  memory_high: 1G',
      '  memory_max: 2147483648',
      '  cpu_weight: 10000',
      '  swap_max: 256M',
      'tool:',
      '  memory_high: "600M"',
      '  memory_max: 1.5G',
      '  cpu_weight: 1',
      '  swap_max: 0',
      '  pids_max: max',
      '  oom_group: false',
      '  oom_score_adj_above: 1000',
      'depends_on: [db-1, cache.2]',
      'ladder:',
      '  stall_ratio: 60%',
      '  raise_step: 25%',
      '  freeze_at: 85%',
      '  thaw_below: 70%',
      '  kill_at: 99.5%',
      '  reclaim: false',
      '  reclaim_step: 16M',
      '  deadline: 2m',
      '  recheck: 250ms',
      'tracker:',
      '  framework: [node, /usr/local/bin/claude*]',
      '  launchers: [tini, sh]',
      '  hold: false',
      'annotations:',
      '  allow: [tool.*, priority]',
      '  max_priority: high',
      'limits:',
      '  exec_connections: 4',
      '  tool_calls: max',
      '  argv_bytes: 256',
      '  call_log_size: 1G',
      'paths:',
      '  run_dir: /run/ac',
      '  call_log_dir: /srv/logs/calls',
      '  exec_client: off',
      'metrics:',
      '  listen: 127.0.0.1:9464',
      'shim:',
      '  always: true',
      'nri:',
      '  enable: false',
      '  socket: /run/containerd/nri.sock',
      '  carve: hooks',
      'sched_ext:',
      '  enable: true',
    ].join('\n'),
    SRC,
  );
  t.same(p, {
    strict: true,
    priority: 'high',
    session: { memoryHigh: { kind: 'percent', percent: 95 } },
    agent: {
      memoryHigh: { kind: 'bytes', bytes: 2 ** 30 },
      memoryMax: { kind: 'bytes', bytes: 2 ** 31 },
      cpuWeight: 10000,
      swapMax: 256 * 2 ** 20,
    },
    tool: {
      memoryHigh: { kind: 'bytes', bytes: 600 * 2 ** 20 },
      memoryMax: { kind: 'bytes', bytes: 1.5 * 2 ** 30 },
      cpuWeight: 1,
      swapMax: 0,
      pidsMax: 'max',
      oomGroup: false,
      oomScoreAdjAbove: 1000,
    },
    dependsOn: ['db-1', 'cache.2'],
    ladder: { stallRatio: 0.6, raiseStep: 0.25, freezeAt: 0.85, thawBelow: 0.7, killAt: 0.995, reclaim: false, reclaimStepBytes: 16 * 2 ** 20, deadlineMs: 120_000, recheckMs: 250 },
    tracker: { framework: ['node', '/usr/local/bin/claude*'], launchers: ['tini', 'sh'], hold: false },
    annotations: { allow: ['tool.*', 'priority'], maxPriority: 'high' },
    limits: { execConnections: 4, toolCalls: 'max', argvBytes: 256, callLogBytes: 2 ** 30 },
    paths: { runDir: '/run/ac', callLogDir: '/srv/logs/calls', execClient: null },
    metrics: { listen: { host: '127.0.0.1', port: 9464 } },
    shim: { always: true },
    nri: { enable: false, socket: '/run/containerd/nri.sock', carve: 'hooks' },
    schedExt: { enable: true },
  } satisfies Policy);
});

t.test('a partial file keeps the other defaults', async (t) => {
  const p = parsePolicyYaml('tool:\n  pids_max: 512\n', SRC);
  t.equal(p.tool.pidsMax, 512);
  t.same({ ...p, tool: { ...p.tool, pidsMax: 4096 } }, DEFAULT_POLICY);
  t.equal(parsePolicyYaml('tool:\n  oom_score_adj_above: 0\n', SRC).tool.oomScoreAdjAbove, 0);
  t.equal(parsePolicyYaml('tool:\n  memory_max: 4097\n', SRC).tool.memoryMax.kind, 'bytes');
  t.same(parsePolicyYaml('tool:\n  memory_max: 4097\n', SRC).tool.memoryMax, { kind: 'bytes', bytes: 4096 }, 'rounded to a page');
  const float = parsePolicyYaml('agent:\n  memory_max: 1e10\n', SRC).agent.memoryMax;
  t.same(float, { kind: 'bytes', bytes: 9999998976 }, 'a YAML float with an integer value is that integer');
});

t.test('tracker.framework takes a list of printable patterns', async (t) => {
  t.same(parsePolicyYaml('tracker:\n  framework: node, python3\n', SRC).tracker.framework, ['node', 'python3'], 'a string is a comma-separated list');
  t.match(policyError(t, 'tracker:\n  framework: 7\n'), /tracker\.framework: must be a list of up to 64 program patterns/);
  t.match(policyError(t, 'tracker:\n  framework: [""]\n'), /tracker\.framework: must be a list/);
  t.match(policyError(t, 'tracker:\n  framework: ["a\\tb"]\n'), /tracker\.framework: must be a list/);
});

t.test('ladder shares, durations and dependency ids are checked', async (t) => {
  t.match(policyError(t, 'ladder:\n  freeze_at: 0.9\n'), /ladder\.freeze_at: must be a percentage above 0 and at most 100 \(like 90%\), got 0\.9$/);
  t.match(policyError(t, 'ladder:\n  freeze_at: 120%\n'), /ladder\.freeze_at: must be a percentage/);
  t.match(policyError(t, 'ladder:\n  deadline: 30\n'), /ladder\.deadline: must be a duration from 100ms to 60m/);
  t.match(policyError(t, 'ladder:\n  recheck: 5ms\n'), /ladder\.recheck: must be a duration/);
  t.match(policyError(t, 'ladder:\n  reclaim_step: 4K\n'), /ladder\.reclaim_step: must be a size of at least 1M/);
  t.match(policyError(t, 'tool:\n  swap_max: 50%\n'), /tool\.swap_max: must be a size in bytes \(0, 512M, 2G\) or max, got "50%"$/);
  t.match(policyError(t, 'agent:\n  swap_max: -1\n'), /agent\.swap_max: must be a size in bytes/);
  t.match(policyError(t, 'depends_on: [../etc]\n'), /depends_on: must be container ids/);
});

t.test('the spec example: pids_max -3', async (t) => {
  t.equal(
    policyError(t, 'tool:\n  pids_max: -3\n'),
    '/etc/agentcgroup/policy.yaml: tool.pids_max: must be a positive integer or max, got -3',
  );
});

t.test('wrong types and out-of-range values name the file and the key path', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['strict: yes', /: strict: must be true or false, got "yes"$/],
    ['strict: 1', /: strict: must be true or false, got 1$/],
    ['strict:', /: strict: must be true or false, got nothing$/],
    ['priority: urgent', /: priority: must be low, normal or high, got "urgent"$/],
    ['priority: HIGH', /: priority: must be low, normal or high, got "HIGH"$/],
    ['session:\n  memory_high: 12Q', /: session\.memory_high: "12Q" is not a size \(use bytes, 800M, 1\.2G, 50% or max\)$/],
    ['session:\n  memory_high: 0%', /: session\.memory_high: "0%" is not a percentage above 0 and at most 100$/],
    ['agent:\n  memory_max: 1.5', /: agent\.memory_max: "1\.5" is not a size/],
    ['agent:\n  memory_max: -4096', /: agent\.memory_max: "-4096" is not a size/],
    ['agent:\n  memory_max: 1e30', /: agent\.memory_max: "1e\+30" is not a size/],
    ['agent:\n  memory_max: [1G]', /: agent\.memory_max: must be a size \(use bytes, 800M, 1\.2G, 50% or max\), got a list$/],
    ['agent:\n  memory_max: true', /: agent\.memory_max: must be a size .*, got true$/],
    ['agent:\n  cpu_weight: 0', /: agent\.cpu_weight: must be an integer from 1 to 10000, got 0$/],
    ['agent:\n  cpu_weight: 10001', /: agent\.cpu_weight: must be an integer from 1 to 10000, got 10001$/],
    ['agent:\n  cpu_weight: 1.5', /got 1\.5$/],
    ['agent:\n  cpu_weight: "100"', /: agent\.cpu_weight: must be an integer from 1 to 10000, got "100"$/],
    ['tool:\n  oom_score_adj_above: -1', /: tool\.oom_score_adj_above: must be an integer from 0 to 1000, got -1$/],
    ['tool:\n  oom_score_adj_above: 1001', /: tool\.oom_score_adj_above: must be an integer from 0 to 1000, got 1001$/],
    ['annotations:\n  max_priority: urgent', /: annotations\.max_priority: must be low, normal or high, got "urgent"$/],
    ['annotations:\n  allow: 7', /: annotations\.allow: must be a list of policy keys a container may set, or patterns over them like tool\.\*, got 7$/],
    ['annotations:\n  allow: ["tool.memory max"]', /: annotations\.allow: must be a list/],
    ['tool:\n  cpu_weight: .nan', /: tool\.cpu_weight: .*got NaN$/],
    ['tool:\n  pids_max: 0', /: tool\.pids_max: must be a positive integer or max, got 0$/],
    ['tool:\n  pids_max: 1.5', /got 1\.5$/],
    ['tool:\n  pids_max: unlimited', /got "unlimited"$/],
    ['tool:\n  pids_max: 9007199254740993', /: tool\.pids_max: must be a positive integer or max, got 9007199254740992$/],
    ['tool:\n  oom_group: "true"', /: tool\.oom_group: must be true or false, got "true"$/],
    ['tool:\n  oom_group: {a: 1}', /: tool\.oom_group: must be true or false, got a mapping$/],
    ['limits:\n  exec_connections: 0', /: limits\.exec_connections: must be an integer from 1 to 1024, got 0$/],
    ['limits:\n  tool_calls: 0', /: limits\.tool_calls: must be a positive integer or max, got 0$/],
    ['limits:\n  argv_bytes: 255', /: limits\.argv_bytes: must be an integer from 256 to 65536, got 255$/],
    ['limits:\n  argv_bytes: 65537', /: limits\.argv_bytes: must be an integer from 256 to 65536, got 65537$/],
    ['limits:\n  call_log_size: 60K', /: limits\.call_log_size: must be a size of at least 64K \(bytes, 800K, 16M\), got "60K"$/],
    ['limits:\n  call_log_size: 50%', /: limits\.call_log_size: must be a size of at least 64K .*, got "50%"$/],
    ['limits:\n  call_log_size: max', /: limits\.call_log_size: must be a size .*, got "max"$/],
    ['limits:\n  call_log_size: 16MB', /: limits\.call_log_size: must be a size .*, got "16MB"$/],
    ['paths:\n  run_dir: run/agentcgroup', /: paths\.run_dir: must be an absolute path without .* segments, got "run\/agentcgroup"$/],
    ['paths:\n  run_dir: /run/../etc', /: paths\.run_dir: must be an absolute path/],
    ['paths:\n  run_dir: /run/..', /: paths\.run_dir: must be an absolute path/],
    ['paths:\n  call_log_dir: "/var/log\\nx"', /: paths\.call_log_dir: .*got "\/var\/log\\nx"$/],
    ['paths:\n  call_log_dir: "/var/log\\0x"', /: paths\.call_log_dir: .*got "\/var\/log\\u0000x"$/],
    ['paths:\n  call_log_dir: 7', /: paths\.call_log_dir: .*got 7$/],
    ['paths:\n  exec_client: agentcgroup-exec', /: paths\.exec_client: must be off or an absolute path without .* segments, got "agentcgroup-exec"$/],
    ['paths:\n  exec_client: false', /: paths\.exec_client: must be off or an absolute path .*, got false$/],
    ['nri:\n  enable: "true"', /: nri\.enable: must be auto, true or false, got "true"$/],
    ['nri:\n  enable: on', /: nri\.enable: must be auto, true or false, got "on"$/],
    ['nri:\n  carve: shim', /: nri\.carve: must be auto, daemon or hooks, got "shim"$/],
    ['nri:\n  socket: nri.sock', /: nri\.socket: must be an absolute path/],
    [`nri:\n  socket: /${'n'.repeat(107)}`, /: nri\.socket: must be at most 107 bytes, as a unix socket address holds/],
    ['tool: 5', /: tool: must be a mapping, got 5$/],
    ['tool: [1]', /: tool: must be a mapping, got a list$/],
  ];
  for (const [yaml, want] of cases) {
    const message = policyError(t, yaml);
    t.ok(message.startsWith(`${SRC}: `), `names the file: ${message}`);
    t.match(message, want, yaml);
  }
});

t.test('annotations.allow names keys a container could set, never host-only ones', async (t) => {
  const allow = (list: string) => parsePolicyYaml(`annotations:\n  allow: ${list}\n`, SRC).annotations.allow;
  t.same(allow('[]'), [], 'nothing at all');
  t.same(allow('[priority, depends_on, "tool.*"]'), ['priority', 'depends_on', 'tool.*']);
  t.same(allow('"*"'), ['*'], 'everything a container could set, as one pattern');
  t.same(allow('tool.*, priority'), ['tool.*', 'priority'], 'a string is a comma-separated list');
  t.equal(policyError(t, 'annotations:\n  allow: [tool.memroy_max]\n'), `${SRC}: annotations.allow: "tool.memroy_max" names no key a container may set (host-only keys never are)`);
  for (const hostOnly of ['strict', 'tracker.hold', 'ladder.*', 'paths.*', 'tool.oom_group', 'tool.oom_score_adj_above', 'annotations.allow']) {
    t.match(policyError(t, `annotations:\n  allow: ["${hostOnly}"]\n`), /names no key a container may set \(host-only keys never are\)$/, hostOnly);
  }
});

t.test('agent.oom_score_adj is retired: its old default still loads, any other value is an error', async (t) => {
  // Every policy file installed before says -900 (the shipped copy had every key): it must keep loading.
  const old = parsePolicyYaml('agent:\n  cpu_weight: 100\n  oom_score_adj: -900\n', SRC);
  t.same(old, DEFAULT_POLICY, 'read, and changes nothing');
  t.notOk(POLICY_KEYS.some((k) => k.key === 'agent.oom_score_adj'), 'not listed');
  for (const value of ['-1000', '0', '-899', '"-900"']) {
    t.match(policyError(t, `agent:\n  oom_score_adj: ${value}\n`), /: agent\.oom_score_adj: retired: the framework keeps the oom_score_adj the engine gave the container and tool calls get tool\.oom_score_adj_above more; remove this key, got /, value);
  }
});

t.test('paths with .. only as part of a name are fine', async (t) => {
  t.equal(parsePolicyYaml('paths:\n  run_dir: /run/a..b\n', SRC).paths.runDir, '/run/a..b');
});

t.test('unknown keys are errors, at any level', async (t) => {
  t.equal(policyError(t, 'stirct: true'), `${SRC}: stirct: unknown key`);
  t.equal(policyError(t, 'tool:\n  memroy_max: 1G'), `${SRC}: tool.memroy_max: unknown key`);
  t.equal(policyError(t, 'session:\n  memory_max: 1G'), `${SRC}: session.memory_max: unknown key`);
  t.match(policyError(t, 'paths:\n  run_dir:\n    x: 1'), /^\/etc\/agentcgroup\/policy\.yaml: paths\.run_dir: must be .*, got a mapping$/);
  t.equal(policyError(t, 'tool.memory_max: 1G'), `${SRC}: tool.memory_max: unknown key (nest it under its section)`);
  t.equal(policyError(t, '1: 2'), `${SRC}: 1: unknown key`);
  t.equal(policyError(t, '"a\\nb": 2'), `${SRC}: "a\\nb": unknown key`, 'a hostile key is quoted');
  t.equal(policyError(t, '[a]: 2'), `${SRC}: a list: unknown key`);
});

t.test('a document that is not a mapping', async (t) => {
  t.equal(policyError(t, '- strict'), `${SRC}: must be a mapping of policy keys, got a list`);
  t.equal(policyError(t, 'just text'), `${SRC}: must be a mapping of policy keys, got "just text"`);
  t.equal(policyError(t, '42'), `${SRC}: must be a mapping of policy keys, got 42`);
});

t.test('YAML syntax errors are one line with the line number', async (t) => {
  t.equal(policyError(t, 'strict: false\nstrict: true\n'), `${SRC}: line 2: Map keys must be unique`);
  t.match(policyError(t, 'tool:\n  pids_max: [1\n'), /^\/etc\/agentcgroup\/policy\.yaml: line \d+: /);
  t.match(policyError(t, 'tool:\n  pids_max: 1\n cpu_weight: 2\n'), /^\/etc\/agentcgroup\/policy\.yaml: line 3: /);
  t.match(policyError(t, '--- 1\n--- 2\n'), /: line \d+: Source contains multiple documents/);
  t.match(policyError(t, 'tool:\n  pids_max: !weird 5\n'), /: line 2: Unresolved tag: !weird$/, 'an unknown tag is not let through');
  t.equal(policyError(t, 'strict: *nope\n'), `${SRC}: Unresolved alias (the anchor must be set before the alias): nope`);
});

t.test('a hostile source name is quoted', async (t) => {
  t.equal(policyError(t, 'strict: 1', '/tmp/a\nb.yaml'), '"/tmp/a\\nb.yaml": strict: must be true or false, got 1');
});

t.test('memory_high above memory_max of the same kind is refused, naming both keys', async (t) => {
  t.equal(
    policyError(t, 'tool:\n  memory_high: 90%\n'),
    `${SRC}: tool.memory_high 90% is above tool.memory_max 85%`,
  );
  t.equal(
    policyError(t, 'agent:\n  memory_high: 2G\n  memory_max: 1G\n'),
    `${SRC}: agent.memory_high 2G is above agent.memory_max 1G`,
  );
  const mixed = parsePolicyYaml('tool:\n  memory_high: 900G\n  memory_max: 10%\n', SRC);
  t.equal(mixed.tool.memoryHigh.kind, 'bytes', 'bytes against percent depends on the session: not compared');
  t.same(parsePolicyYaml('tool:\n  memory_high: max\n', SRC).tool.memoryHigh, { kind: 'max' }, 'max compares with nothing');
  t.same(parsePolicyYaml('tool:\n  memory_high: 85%\n', SRC).tool.memoryHigh, { kind: 'percent', percent: 85 }, 'equal is fine');
});

t.test('memoryOrderProblems lists every offending section', async (t) => {
  const p = structuredClone(DEFAULT_POLICY);
  t.same(memoryOrderProblems(p), []);
  p.agent.memoryHigh = { kind: 'bytes', bytes: 8192 };
  p.agent.memoryMax = { kind: 'bytes', bytes: 4096 };
  p.tool.memoryHigh = { kind: 'percent', percent: 99 };
  t.same(memoryOrderProblems(p).map((x) => x.section), ['agent', 'tool']);
});

t.test('loadPolicy', async (t) => {
  const dir = t.testdir({
    'policy.yaml': 'priority: low\n',
    'bad.yaml': 'tool:\n  pids_max: -3\n',
    'adir': {},
  });
  t.equal(loadPolicy(join(dir, 'policy.yaml')).priority, 'low', 'an explicit file');
  t.equal(loadPolicy(undefined, join(dir, 'policy.yaml')).priority, 'low', 'the default file when it exists');
  t.same(loadPolicy(undefined, join(dir, 'missing.yaml')), DEFAULT_POLICY, 'no default file: defaults');
  t.equal(
    oneLineError(t, () => loadPolicy(join(dir, 'missing.yaml'))),
    `policy file ${join(dir, 'missing.yaml')}: not found`,
    'a named file that does not exist is an error',
  );
  t.equal(
    oneLineError(t, () => loadPolicy(join(dir, 'bad.yaml'))),
    `${join(dir, 'bad.yaml')}: tool.pids_max: must be a positive integer or max, got -3`,
  );
  t.equal(oneLineError(t, () => loadPolicy(join(dir, 'adir'))), `policy file ${join(dir, 'adir')}: cannot read (EISDIR)`);
  t.equal(oneLineError(t, () => loadPolicy(undefined, join(dir, 'adir'))), `policy file ${join(dir, 'adir')}: cannot read (EISDIR)`);
});

t.test('loadPolicy reads the file every time, parses each text once, and hands out copies', async (t) => {
  const dir = t.testdir({ 'p.yaml': 'strict: true\n' });
  const file = join(dir, 'p.yaml');
  const a = loadPolicy(file);
  const b = loadPolicy(file);
  t.same(a, b);
  t.not(a, b, 'a copy each time');
  a.strict = false;
  t.equal(loadPolicy(file).strict, true, "one caller's change reaches no other");
  writeFileSync(file, 'strict: false\n');
  t.equal(loadPolicy(file).strict, false, 'a changed file is read and parsed again');
  writeFileSync(file, 'strict: maybe\n');
  t.throws(() => loadPolicy(file), 'a broken text throws');
  t.throws(() => loadPolicy(file), 'each time: nothing of it was kept');
});
