/**
 * fast-check generators for what a hook and a policy check are handed: OCI states, config.json files,
 * annotation sets and policy YAML, each mostly well-formed with broken and hostile variants mixed in
 * (wrong types, missing fields, huge and hostile strings, YAML bombs and deep nesting).
 */
import fc from 'fast-check';
import { stringify } from 'yaml';
import { ANNOTATION_PREFIX } from '../../../src/config/annotations.js';
import { POLICY_KEYS } from '../../../src/config/policy.js';
import { type Bundles, CTR, PID } from '../../fixtures/fuzzworld.js';

/** Mostly `valid`, sometimes one of `broken`. */
function mostly<T>(valid: fc.Arbitrary<T>, ...broken: fc.Arbitrary<T>[]): fc.Arbitrary<T> {
  return fc.oneof({ weight: 4 * broken.length, arbitrary: valid }, ...broken.map((arbitrary) => ({ weight: 1, arbitrary })));
}

/** Pieces that break paths, lines and terminals; joined with ordinary text. */
const HOSTILE_PIECES = ['..', '/', '\n', '\0', '\r', '\u2028', '\u202e', '\u001b[2J', '\u009b', 'é', '😀', ' ', '\t', ',', '*', '%', '"', '\\'];
export const hostileString = fc
  .array(fc.oneof(fc.constantFrom(...HOSTILE_PIECES), fc.string({ maxLength: 6 }), fc.string({ unit: 'binary', maxLength: 4 })), { minLength: 1, maxLength: 8 })
  .map((parts) => parts.join(''));

/** Strings of every sort: plain, unicode, hostile, very long. */
export const anyString = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  hostileString,
  fc.nat({ max: 5000 }).map((n) => 'x'.repeat(n)),
);

/** JSON values of the wrong type for a string field, and so on. */
export const wrongType: fc.Arbitrary<unknown> = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 3 }));

const ID_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+.-'.split('');
/** Ids runc accepts and we accept (no `..`). */
export const validId = fc
  .array(fc.constantFrom(...ID_CHARS), { minLength: 1, maxLength: 64 })
  .map((cs) => cs.join(''))
  .filter((s) => !s.includes('..') && s !== '.');

/** Ids that must be refused: each carries at least one of `..`, `/`, newline, NUL, or is too long. */
export const hostileId = fc.oneof(
  fc.tuple(validId, fc.constantFrom('..', '/', '\n', '\0', '../', '/..'), fc.string({ maxLength: 6 })).map(([a, bad, b]) => `${a}${bad}${b}`),
  fc.tuple(fc.string({ maxLength: 6 }), fc.constantFrom('..', '/', '\n', '\0')).map(([a, bad]) => `${bad}${a}`),
  fc.constantFrom('..', '.', '/', '../../etc', '/etc/passwd', 'a/../../b', `${CTR}\n`, `${CTR}\0x`, 'x'.repeat(1025), 'ctr\u2028', 'é', ''),
);

const SIZES = ['800M', '1.2G', '512Ki', '70%', '150%', '0%', '100%', '0.5%', '-1', '0', '1', '4095', '4096', '1073741824', '9007199254740993', '99999999999999999999', '1e3', 'max', 'MAX', ' 800M ', '800MB', '800m', '.5G', '1.G', '+1G', '0x100', '١٢٣', '1G\n', '12T', '9999T', '%', 'G', '2Gi', '1Ti', '1k', '500m', '1Pi', '1Ei', '1E9'];
const INTS = ['100', '1', '0', '10000', '10001', '-5', '1.5', '', 'max', '-1000', '1000', '-0', '007'];
const PRIORITIES = ['low', 'normal', 'high', 'HIGH', 'urgent', ''];
const BOOLS = ['true', 'false', 'yes', 'no', '1', '0', 'on', 'off', 'TRUE', ''];
// `*` alone, or among others, matches every program: beyond what a container may set.
const LISTS = ['a,b', 'a,,b', ' a , b ', ',', 'x'.repeat(300), 'a'.repeat(1025), Array.from({ length: 70 }, (_, i) => `c${i}`).join(','), 'bash,python3', 'a*b', '*', 'node, **', '*mcp*,*'];

/** Candidate values for a key of this kind: `good` ones only, or the odd ones too. */
function kindValues(key: string, good: boolean): fc.Arbitrary<string> {
  const pick = (all: string[], fine: string[]) => fc.constantFrom(...(good ? fine : all));
  if (key.endsWith('memory_high') || key.endsWith('memory_max')) return pick(SIZES, ['800M', '1.2G', '512Ki', '2Gi', '70%', '50%', '100%', 'max', '1073741824']);
  if (key.endsWith('cpu_weight') || key.endsWith('pids_max')) return pick([...INTS, '4096'], ['100', '1', '1000', '4096']);
  if (key.includes('oom_score_adj')) return pick([...INTS, '4096'], ['0', '500', '1000']);
  if (key === 'limits.call_log_size') return pick([...SIZES, '64K', '60K', '65536', '16M'], ['64K', '16M', '1G', '65536']);
  if (key.startsWith('limits.')) return pick([...INTS, '16', '255', '256', '512', '1024', '1025', '4096', '65536', '65537'], ['256', '512', '1024']);
  if (key.endsWith('priority')) return pick(PRIORITIES, ['low', 'normal', 'high']);
  if (key.endsWith('enable') || key.endsWith('strict') || key.endsWith('oom_group')) return pick(BOOLS, ['true', 'false', '1', 'off']);
  return pick(LISTS, ['a,b', 'bash,python3', 'a*b']);
}

/** Values as an annotation (always a string) for a key of this kind. */
function valuesFor(key: string): fc.Arbitrary<string> {
  return mostly(kindValues(key, false), hostileString, anyString);
}

const ANNOTATABLE = ['enable', ...POLICY_KEYS.map((k) => k.key)];
const ODD_KEYS = ['io.agentcgroup.agent.oom_score_adj', 'io.agentcgroup.unknown', 'io.agentcgroup.', 'io.agentcgroup.tool.memory_max.x', 'IO.AGENTCGROUP.enable', 'io.agentcgroup.tool', 'io.agentcgroup.../x', 'io.agentcgroup.tool.memory_max\n'];
const FOREIGN_KEYS = ['org.opencontainers.image.title', 'run.oci.hooks.stdout', 'io.kubernetes.cri.container-type', ''];

/** One annotation: mostly our keys with fitting values, some odd and foreign ones. */
export const annotation: fc.Arbitrary<[string, string]> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...ANNOTATABLE).chain((k) => fc.tuple(fc.constant(ANNOTATION_PREFIX + k), valuesFor(k))) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...ODD_KEYS), anyString) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...FOREIGN_KEYS), anyString) },
  { weight: 1, arbitrary: fc.tuple(anyString, anyString) },
);

/** A map of annotations, ours (mostly) and others. */
export const annotationMap: fc.Arbitrary<Record<string, string>> = fc.array(annotation, { maxLength: 5 }).map((kv) => Object.fromEntries(kv));

/** An annotation set: usually a map of strings, sometimes with a non-string value or not a map. */
export const annotations: fc.Arbitrary<unknown> = mostly<unknown>(
  annotationMap,
  fc.tuple(fc.constantFrom(...ANNOTATABLE), wrongType).map(([k, v]) => ({ [ANNOTATION_PREFIX + k]: v })),
  wrongType,
);

const CONTAINER_KEYS = ['enable', ...POLICY_KEYS.filter((k) => !k.hostOnly).map((k) => k.key)];

/** Annotations a container that wants carving could well set: known keys, fitting values. */
export const plainAnnotations: fc.Arbitrary<Record<string, string>> = fc
  .array(fc.constantFrom(...CONTAINER_KEYS).chain((k) => fc.tuple(fc.constant(ANNOTATION_PREFIX + k), kindValues(k, true))), { maxLength: 4 })
  .map((kv) => Object.fromEntries(kv));

/** Annotations of keys a container may set, with every sort of value of their kind (some not parsing, some beyond a host's bound). */
export const containerAnnotations: fc.Arbitrary<Record<string, string>> = fc
  .array(fc.constantFrom(...CONTAINER_KEYS).chain((k) => fc.tuple(fc.constant(ANNOTATION_PREFIX + k), kindValues(k, false))), { maxLength: 4 })
  .map((kv) => Object.fromEntries(kv));

/** A field that is usually `valid`, sometimes missing, of the wrong type, or hostile. */
function field(valid: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return mostly<unknown>(valid, fc.constant(undefined), wrongType, anyString);
}

const STATUSES = ['creating', 'created', 'running', 'stopped', 'paused', 'Created', 'x'.repeat(33), ''];

/** The text of an OCI state on stdin. */
export function ociState(b: Bundles): fc.Arbitrary<string> {
  const bundle = fc.oneof(
    { weight: 12, arbitrary: fc.constant(b.plain) },
    // b.zero is /dev/zero as config.json: read up to the 16 MiB cap, a few milliseconds each.
    { weight: 1, arbitrary: fc.constantFrom(b.missing, b.dirConfig, b.fifo, b.zero, b.absent, 'bundle', './bundle', '', `${b.plain}\n`, `${b.plain}\0`, `${b.plain}/../bundle`) },
  );
  const pid = fc.oneof(
    { weight: 12, arbitrary: fc.constant(PID) },
    { weight: 1, arbitrary: fc.constantFrom(0, -1, 1, 99999, 1.5, 2 ** 53, 1e300, String(PID)) },
  );
  const state = fc.record(
    {
      ociVersion: field(fc.constantFrom('1.0.2', '1.2.0')),
      id: mostly<unknown>(fc.oneof({ weight: 3, arbitrary: fc.constant(CTR) }, { weight: 1, arbitrary: validId }), hostileId, wrongType),
      status: field(fc.constantFrom(...STATUSES)),
      pid,
      bundle: field(bundle),
      annotations: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: plainAnnotations }, { weight: 2, arbitrary: annotations }),
      extra: fc.option(fc.json({ maxDepth: 2 }), { freq: 5 }),
    },
    { requiredKeys: ['id', 'pid'] },
  );
  const plausible = fc.record(
    {
      ociVersion: fc.constant('1.0.2'),
      id: fc.oneof({ weight: 3, arbitrary: fc.constant(CTR) }, { weight: 1, arbitrary: validId }),
      status: fc.constantFrom('creating', 'created', 'running', 'stopped'),
      pid: fc.constant(PID),
      bundle: fc.constant(b.plain),
      annotations: fc.option(plainAnnotations, { nil: undefined }),
    },
    { requiredKeys: ['ociVersion', 'id', 'status', 'pid', 'bundle'] },
  );
  return fc.oneof(
    { weight: 15, arbitrary: plausible.map((s) => JSON.stringify(s)) },
    { weight: 10, arbitrary: state.map((s) => JSON.stringify(s)) },
    { weight: 3, arbitrary: rawJsonOddities },
  );
}

/** Text that is not a well-formed JSON object: truncated, not an object, too big, too deep. */
const rawJsonOddities: fc.Arbitrary<string> = fc.oneof(
  fc.json({ maxDepth: 3 }),
  anyString,
  fc.tuple(fc.json(), fc.nat()).map(([j, n]) => j.slice(0, n % (j.length + 1))),
  fc.constantFrom('', ' \n', '\ufeff{}', '{}', '[]', 'null', '{"id":"ctr1"}{"id":"x"}', '['.repeat(100_000), `{"id":"${'x'.repeat(1 << 20)}"}`, '{"__proto__":{"id":"x"}}'),
);

const CGROUPS_PATHS = ['/ctr1', 'ctr1', 'system.slice:docker:abc', 'machine.slice:libpod:ctr1', 'user.slice:podman:..', '../../x', '/a/../../b', 'a\nb', 'a\0b', ''];

/** The text of a bundle's config.json. */
export const configJson: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 30,
    arbitrary: fc
      .record({ ociVersion: fc.constant('1.0.2'), annotations: plainAnnotations, linux: fc.constant({ cgroupsPath: 'system.slice:docker:ctr1' }) })
      .map((c) => JSON.stringify(c)),
  },
  {
    weight: 20,
    arbitrary: fc
      .record(
        {
          ociVersion: field(fc.constant('1.0.2')),
          annotations: fc.oneof({ weight: 2, arbitrary: plainAnnotations }, { weight: 3, arbitrary: annotations }, { weight: 1, arbitrary: fc.constant(undefined) }),
          linux: mostly<unknown>(
            fc.record({ cgroupsPath: fc.option(fc.constantFrom(...CGROUPS_PATHS), { nil: undefined }) }, { requiredKeys: [] }),
            fc.record({ cgroupsPath: fc.oneof(wrongType, anyString) }),
            wrongType,
          ),
          hooks: mostly<unknown>(
            fc.constant({ createRuntime: [{ path: '/usr/local/bin/agentcgroup', args: ['agentcgroup', 'hook'] }] }),
            fc.constant({ poststop: [{ path: 'relative/hook' }] }),
            fc.constant({ createRuntime: [{ path: '/x', timeout: 0 }] }),
            fc.record({ prestart: wrongType }),
          ),
        },
        { requiredKeys: ['ociVersion'] },
      )
      .map((c) => JSON.stringify(c)),
  },
  { weight: 2, arbitrary: rawJsonOddities },
);

// ---- policies ----

const YAML_ODD_VALUES: unknown[] = [true, false, null, -1, 0, 1.5, 1e400, [], ['a'], [[]], { a: 1 }, '', '~', 'yes', 'on', '1.2G', '150%', '-1', 'max', 'x'.repeat(300)];

/** A value for a policy key: with `good`, one that fits its kind; else anything, fitting or not. */
function policyValue(key: string, good: boolean): fc.Arbitrary<unknown> {
  let typed: fc.Arbitrary<unknown>;
  if (key === 'strict' || key === 'tool.oom_group') typed = fc.boolean();
  else if (key === 'depends_on' || key === 'tracker.framework') typed = fc.array(good ? validId : fc.oneof(validId, anyString), { maxLength: 4 });
  // Retired: the old default still loads, any other value is an error.
  else if (key === 'agent.oom_score_adj') typed = good ? fc.constant(-900) : fc.constantFrom(-900, -899, 0, 1000, '-900', -900.5);
  else if (key === 'annotations.allow') typed = fc.subarray(good ? ['*', 'tool.*', 'priority', 'depends_on', 'tracker.framework'] : ['*', 'tool.*', 'priority', 'strict', 'tool.memroy_max', '']);
  else if (key === 'ladder.deadline' || key === 'ladder.recheck') typed = fc.constantFrom(...(good ? ['30s', '500ms', '2m'] : ['30s', '0s', '99ms', '61m', '1h', '1.5s', 's']));
  else if (key.startsWith('ladder.')) typed = fc.constantFrom(...(good ? ['50%', '10%', '90%', '75%'] : ['50%', '0%', '101%', '0.5', '100%', '1e1%']));
  else typed = kindValues(key, good).map((v) => (/^-?\d+$/.test(v) ? Number(v) : v));
  return good ? typed : mostly<unknown>(typed, fc.constantFrom(...YAML_ODD_VALUES), anyString);
}

/**
 * Policy keys the fuzzer may set: every key but paths (a policy that parses must keep run state in the
 * world), and the retired ones policy files may still hold.
 */
const FUZZ_KEYS = [...POLICY_KEYS.map((k) => k.key).filter((k) => !k.startsWith('paths.')), 'agent.oom_score_adj'];
/** The keys whose fitting values policyValue knows. */
const KNOWN_KINDS = FUZZ_KEYS.filter((k) => /^(strict|priority|depends_on|(session|agent|tool|ladder|tracker|annotations|limits)\.)/.test(k));

/** A policy as a structured document: known keys in their sections (or dotted), unknown ones, wrong shapes. */
function structuredPolicy(good: boolean): fc.Arbitrary<string> {
  const known = fc.constantFrom(...(good ? KNOWN_KINDS : FUZZ_KEYS)).chain((k) => fc.tuple(fc.constant(k), policyValue(k, good)));
  const unknown = fc.tuple(fc.constantFrom('unknown', 'tool.unknown', 'Strict', 'tool.memory-max', 'session'), fc.constantFrom<unknown>(1, 'x', { a: 1 }, null));
  return fc
    .tuple(fc.array(good ? known : fc.oneof({ weight: 8, arbitrary: known }, { weight: 1, arbitrary: unknown }), { maxLength: 8 }), good ? fc.constant(false) : fc.boolean())
    .map(([pairs, dotted]) => {
      const doc: Record<string, unknown> = {};
      for (const [key, value] of pairs) {
        const [section, sub] = key.split('.');
        if (sub === undefined || dotted) doc[key] = value;
        else {
          const s = doc[section!];
          doc[section!] = { ...(s !== null && typeof s === 'object' && !Array.isArray(s) ? s : {}), [sub]: value };
        }
      }
      return stringify(doc);
    });
}

function billionLaughs(levels: number): string {
  const lines = ['a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
  for (let i = 1; i <= levels; i++) lines.push(`a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]`);
  return `${lines.join('\n')}\ntool:\n  memory_high: *a${levels}\n`;
}

/** Nesting around where the parser's stack gives out (it slows down fast beyond): a few of them. */
const deepYaml: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(1, 50, 500, 2000).map((d) => `tool:\n  memory_high: ${'['.repeat(d)}${']'.repeat(d)}\n`),
  fc.constantFrom(10, 200, 1100).map((d) => Array.from({ length: d }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')),
);

/** Hand-written YAML that parsers and validators trip over. */
const trickyYaml: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: 1, max: 12 }).map(billionLaughs),
  fc.constantFrom(
    'tool: &t\n  memory_high: 50%\nagent: *t\n',
    'base: &b {memory_high: 60%}\ntool:\n  <<: *b\n',
    'strict: !!str true\n',
    'tool:\n  pids_max: !!binary aGVsbG8=\n',
    'priority: !custom low\n',
    'tool: !!set {a, b}\n',
    'depends_on: !!omap [a: 1]\n',
    'strict: true\n---\nstrict: false\n',
    '%YAML 1.1\n---\nstrict: yes\n',
    '%TAG ! tag:x,2000:\n---\nstrict: !x true\n',
    '\ufeffstrict: true\n',
    'tool:\n\tmemory_high: 50%\n',
    'strict: true\r\ntool:\r\n  memory_max: 1G\r\n',
    'strict: true\nstrict: false\n',
    'tool: {memory_high: 1G, memory_max: 512M}\n',
    '? [complex, key]\n: 1\n',
    '? tool\n: {memory_max: 2G}\n',
    '"tool.memory_max": 1G\n',
    'tool:\n  memory_high: "1G\\n"\n',
    'tool:\n  memory_high: |\n    1G\n',
    'tool:\n  memory_high: >-\n    1G\n',
    'tool:\n  memory_max: 1.2G\n  memory_high: 150%\n',
    'tool:\n  memory_high: 2G\n  memory_max: 1G\n',
    'agent:\n  memory_high: 90%\n  memory_max: 50%\n',
    'tool:\n  memory_high: 900M\n  memory_max: 50%\n',
    'tool:\n  pids_max: -1\n',
    'tool:\n  pids_max: 1e3\n',
    'tool:\n  cpu_weight: 0x10\n',
    'tool:\n  cpu_weight: .inf\n',
    'agent:\n  oom_score_adj: -1001\n',
    'agent:\n  oom_score_adj: -900\n',
    'annotations:\n  allow: [strict]\n',
    'annotations:\n  allow: "*"\n  max_priority: high\n',
    'ladder:\n  deadline: 0s\n',
    'tracker:\n  framework: [bash, "a\\u0000b"]\n',
    'depends_on: "../x"\n',
    'tool:\n',
    '...\n',
    '[]\n',
    '"just a string"\n',
    '42\n',
    '#only a comment\n',
    '',
    'strict: true\n',
    'strict: true\ntool:\n  memory_high: 95%\n  memory_max: 50%\n',
    // The parser quotes what it trips over: these must come out escaped.
    'tool:\n  memory_high: >\u202e\n',
    'strict: !\u202eevil true\n',
    '\u0085strict: true\n',
    'tool:\n  memory_high: "\u001b[2J\n',
  ),
);

/** A policy body (world paths are appended): structured, tricky, mutated, or any text. */
export const policyBody: fc.Arbitrary<string> = fc.oneof(
  { weight: 12, arbitrary: structuredPolicy(true) },
  { weight: 12, arbitrary: structuredPolicy(false) },
  { weight: 6, arbitrary: trickyYaml },
  { weight: 1, arbitrary: deepYaml },
  {
    weight: 4,
    arbitrary: fc.tuple(fc.oneof(structuredPolicy(false), trickyYaml), fc.nat(), fc.oneof(fc.string({ maxLength: 3 }), fc.constantFrom(':', '-', '[', '{', '"', "'", '&', '*', '!', '|', '>', '\t', '\n  '))).map(
      ([text, at, insert]) => {
        const i = at % (text.length + 1);
        return `${text.slice(0, i)}${insert}${text.slice(i)}`;
      },
    ),
  },
  { weight: 1, arbitrary: anyString },
);

/** Policies a hook fuzz case runs under: valid ones, some strict. */
export const hostPolicy = fc.constantFrom(
  '',
  'strict: true\n',
  'strict: true\ntool:\n  memory_max: 512M\n  memory_high: 256M\n',
  'priority: low\nagent:\n  memory_max: 90%\n',
  'tool:\n  pids_max: max\n  oom_group: false\n',
  'annotations:\n  allow: ["*"]\n  max_priority: high\n',
  'annotations:\n  allow: []\n',
  'annotations:\n  allow: [priority, "tool.*", "tracker.*"]\n  max_priority: low\ntool:\n  pids_max: 256\n',
  'annotations:\n  allow: "*.memory_*, *_weight"\n',
  'tool:\n  oom_score_adj_above: 1000\n',
  'agent:\n  oom_score_adj: -900\n',
);

/** Host policies annotations are weighed against: mostly valid, with every key, the annotations section most of all. */
export const annotationHost: fc.Arbitrary<string> = fc.oneof(
  { weight: 2, arbitrary: hostPolicy },
  { weight: 2, arbitrary: structuredPolicy(true) },
  {
    weight: 3,
    arbitrary: fc
      .record({
        allow: fc.subarray(['*', 'priority', 'depends_on', 'tool.*', 'tool.pids_max', 'tracker.*', '*.memory_high', 'agent.*', 'session.memory_high']),
        max: fc.constantFrom('low', 'normal', 'high'),
        pids: fc.constantFrom('max', 1, 100, 4096, 99999),
        high: fc.constantFrom('50%', '1G', 'max'),
      })
      .map(({ allow, max, pids, high }) => stringify({ annotations: { allow, max_priority: max }, tool: { pids_max: pids, memory_high: high } })),
  },
);

/** The stage argument of `agentcgroup hook`. */
export const stageArg: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 6, arbitrary: fc.constantFrom('createRuntime', 'poststart', 'poststop') },
  { weight: 1, arbitrary: fc.constantFrom('CREATERUNTIME', 'prestart', 'poststop ', '') },
  { weight: 1, arbitrary: hostileString.filter((s) => !s.startsWith('-')) },
);

/** Kernel failures to inject: a cgroup or file a carve touches, and the errno it meets there. */
export const FAULT_POINTS = [
  `${CTR}/agent`,
  `${CTR}/agent/cgroup.procs`,
  `${CTR}/cgroup.procs`,
  `${CTR}/cgroup.subtree_control`,
  `${CTR}/cgroup.controllers`,
  `${CTR}/tools`,
  `${CTR}/tools/cgroup.subtree_control`,
  `${CTR}/memory.max`,
  `${CTR}/memory.high`,
  `${CTR}/agent/memory.max`,
  `${CTR}/agent/memory.high`,
  `${CTR}/agent/cpu.weight`,
  `${CTR}/cgroup.freeze`,
  `${CTR}/cgroup.events`,
];
export const fault: fc.Arbitrary<[string, string] | undefined> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...FAULT_POINTS), fc.constantFrom('EINVAL', 'EBUSY', 'ENOENT', 'EACCES', 'EPERM', 'ENOSPC', 'EIO', 'ESRCH')) },
);
