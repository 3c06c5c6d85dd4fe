/**
 * What a host policy file should load as, restated from the rules config/README.md documents (keys,
 * sections, sizes, other values, the memory_high/memory_max order, retired keys, annotations.allow)
 * with the defaults config/policy.yaml ships, and the strict-line rule of the top-level README; and
 * what a container's io.agentcgroup.* annotations make of a host policy (README "Annotations": which
 * are errors, which the host refuses, what the rest set). Nothing of src/config is used: the fuzz
 * oracle compares loadPolicy and applyAnnotations against this, so a rule either gets wrong shows.
 * Only the YAML parser is shared (the yaml package turns text into data; what the data means is what
 * is modelled here).
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { Policy, Size } from '../../../src/config/types.js';

/** A setting's value in this model's own terms: a size is `max`, `N%` or a number of bytes. */
export type Value = boolean | number | string | string[] | { host: string; port: number } | null;
/** A whole policy: every dotted key (`tool.memory_max`) with its value. */
export type ModelPolicy = ReadonlyMap<string, Value>;

/**
 * `strict`: what a hook makes of a failure, from the policy, or from the text of one that does not
 * load. `keys`: an error line must name one of them (empty: nothing to look for, as when something
 * without a name is wrong too).
 */
export type Expectation = { valid: true; strict: boolean; policy: ModelPolicy } | { valid: false; strict: boolean; why: string; keys: string[] };

/** A rule for one key: its value, or why the written one is refused. */
type Rule = (v: unknown) => Value | { refused: string };

const refuse = (why: string) => ({ refused: why });
const isRefusal = (r: Value | { refused: string }): r is { refused: string } => r !== null && typeof r === 'object' && 'refused' in r;

const PAGE = 4096;
const BLANKS = /^[ \t]+|[ \t]+$/g;
/** U+0000 to U+001F and U+007F, as the README names control characters for these values. */
const CONTROL = /[\u0000-\u001f\u007f]/;

const switchRule: Rule = (v) => (typeof v === 'boolean' ? v : refuse('not true or false'));

const integer =
  (min: number, max: number): Rule =>
  (v) =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : refuse(`not a whole number from ${min} to ${max}`);

/** The priorities, lowest first. */
const PRIORITIES = ['low', 'normal', 'high'];
const priority: Rule = (v) => (typeof v === 'string' && PRIORITIES.includes(v) ? v : refuse('not low, normal or high'));

/** The README's one pattern form: `*` matches any run of characters, every other character itself. */
function globMatches(pattern: string, s: string): boolean {
  const [first = '', ...rest] = pattern.split('*');
  if (rest.length === 0) return s === first;
  const last = rest.pop()!;
  if (!s.startsWith(first) || s.length < first.length + last.length || !s.endsWith(last)) return false;
  let at = first.length;
  const end = s.length - last.length;
  for (const piece of rest) {
    const found = s.indexOf(piece, at);
    if (found < 0 || found + piece.length > end) return false;
    at = found + piece.length;
  }
  return true;
}

/** The README's "host-only" column, as it words it under "Host-only keys". */
const HOST_ONLY = ['strict', 'agent.swap_max', 'tool.swap_max', 'tool.oom_group', 'tool.oom_score_adj_above', 'ladder.*', 'tracker.hold', 'annotations.*', 'limits.*', 'paths.*', 'metrics.*', 'shim.*', 'nri.*', 'sched_ext.*'];
const hostOnly = (key: string) => HOST_ONLY.some((p) => globMatches(p, key));

/** `digits[.digits]` times `unit`, rounded down: exact, since a decimal of bytes is no float's business. */
function times(decimal: string, unit: bigint): bigint {
  const [whole = '', fraction = ''] = decimal.split('.');
  return (BigInt(whole + fraction) * unit) / 10n ** BigInt(fraction.length);
}

const UNIT: Record<string, bigint> = { K: 1n << 10n, M: 1n << 20n, G: 1n << 30n, T: 1n << 40n };

/** Sizes (README "Sizes"). */
const size: Rule = (v) => {
  let bytes: bigint;
  if (typeof v === 'number') {
    // A YAML integer: the same as the digits quoted. Nothing signed, fractional or beyond exact.
    if (!Number.isSafeInteger(v) || v < 0) return refuse('not a whole number of bytes');
    bytes = BigInt(v);
  } else if (typeof v === 'string') {
    const s = v.replace(BLANKS, '');
    if (s === 'max') return 'max';
    const percent = /^(\d+(?:\.\d+)?)%$/.exec(s);
    if (percent) {
      const p = Number(percent[1]);
      return p > 0 && p <= 100 ? `${p}%` : refuse('a percentage not above 0 and at most 100');
    }
    const scaled = /^(\d+(?:\.\d+)?)([KMGT])i?$/.exec(s);
    if (/^\d+$/.test(s)) bytes = BigInt(s);
    else if (scaled) bytes = times(scaled[1]!, UNIT[scaled[2]!]!);
    else return refuse('not a size');
  } else return refuse('not a size');
  if (bytes >= 2n ** 53n) return refuse('2^53 bytes or more');
  const pages = Number(bytes / BigInt(PAGE)) * PAGE;
  return pages >= PAGE ? pages : refuse('below one page');
};

const pidsMax: Rule = (v) => (v === 'max' ? 'max' : typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : refuse('not a positive whole number or max'));

/** A size with no session to be a share of (`limits.call_log_size`): bytes only, at least `min`. */
const bytesAtLeast =
  (min: number): Rule =>
  (v) => {
    const r = size(v);
    return typeof r === 'number' && r >= min ? r : refuse(`not a size in bytes of at least ${min}`);
  };

/** memory.swap.max (README "swap size"): `0`, a size in bytes or a binary unit, or max; no percentage. */
const swapSize: Rule = (v) => {
  if (v === 0 || (typeof v === 'string' && v.replace(BLANKS, '') === '0')) return 0;
  const r = size(v);
  return typeof r === 'number' || r === 'max' ? r : refuse('not 0, a size in bytes or max');
};

const share: Rule = (v) => {
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)%$/.exec(v.replace(BLANKS, '')) : null;
  const p = m ? Number(m[1]) : NaN;
  return p > 0 && p <= 100 ? p / 100 : refuse('not a percentage above 0 and at most 100');
};

const MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

const duration: Rule = (v) => {
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(v.replace(BLANKS, '')) : null;
  const ms = m ? Number(m[1]) * MS[m[2]!]! : NaN;
  return ms >= 100 && ms <= 60 * 60_000 ? Math.round(ms) : refuse('not a duration from 100ms to 60m');
};

const patterns: Rule = (v) => {
  const list = typeof v === 'string' ? v.split(',').map((p) => p.replace(BLANKS, '')).filter((p) => p !== '') : v;
  if (!Array.isArray(list) || list.length > 64) return refuse('not a list of up to 64 patterns');
  const fits = (p: unknown): p is string => typeof p === 'string' && p.length >= 1 && p.length <= 256 && !CONTROL.test(p);
  return list.every(fits) ? list : refuse('a pattern that is not 1 to 256 characters without control characters');
};

/**
 * `annotations.allow`: key names or patterns, each naming at least one key a container could set
 * (never a host-only one), up to 64 of up to 64 characters, as a list or one comma-separated string.
 */
const allow: Rule = (v) => {
  const list = typeof v === 'string' ? v.split(',').map((p) => p.replace(BLANKS, '')).filter((p) => p !== '') : v;
  if (!Array.isArray(list) || list.length > 64) return refuse('not a list of up to 64 keys or patterns');
  const fits = (p: unknown): p is string => typeof p === 'string' && p.length >= 1 && p.length <= 64 && CONTAINER_KEYS.some((k) => globMatches(p, k));
  return list.every(fits) ? list : refuse('an entry that names no key a container may set');
};

const ids: Rule = (v) => {
  const list = patterns(v);
  if (isRefusal(list)) return list;
  return (list as string[]).every((id) => /^[A-Za-z0-9_+.-]+$/.test(id) && !id.includes('..')) ? list : refuse('not container ids');
};

const path: Rule = (v) =>
  typeof v === 'string' && v.startsWith('/') && !CONTROL.test(v) && !v.split('/').includes('..') ? v : refuse('not an absolute path without control characters or ..');

/** A path, and one a unix socket address holds: at most 107 bytes. */
const socketPath: Rule = (v) => {
  const p = path(v);
  return typeof p === 'string' && Buffer.byteLength(p) > 107 ? refuse('longer than a unix socket address holds') : p;
};

/** One of `words` as written: a switch's true and false are YAML booleans, the rest plain words. */
const choice =
  (...words: readonly (string | boolean)[]): Rule =>
  (v) =>
    (typeof v === 'string' || typeof v === 'boolean') && words.includes(v) ? v : refuse(`not one of ${words.join(', ')}`);

/** `off`, `127.x.y.z:port` or `[::1]:port`: loopback only. */
const listen: Rule = (v) => {
  if (v === 'off') return null;
  const s = typeof v === 'string' ? v.replace(BLANKS, '') : '';
  const m = /^(?:(127(?:\.(?:0|[1-9]\d{0,2})){3})|\[(::1)\]):(\d{1,5})$/.exec(s);
  const port = Number(m?.[3]);
  const octets = m?.[1]?.split('.').map(Number) ?? [];
  if (!m || !(port >= 1 && port <= 65535) || octets.some((o) => o > 255)) return refuse('not off or a loopback address and port');
  return { host: m[1] ?? m[2]!, port };
};

/** Every key, by the README's table, with the rule for its kind. */
const RULES: ReadonlyMap<string, Rule> = new Map<string, Rule>([
  ['strict', switchRule],
  ['priority', priority],
  ['session.memory_high', size],
  ['agent.memory_high', size],
  ['agent.memory_max', size],
  ['agent.cpu_weight', integer(1, 10000)],
  ['agent.swap_max', swapSize],
  ['tool.memory_high', size],
  ['tool.memory_max', size],
  ['tool.cpu_weight', integer(1, 10000)],
  ['tool.swap_max', swapSize],
  ['tool.pids_max', pidsMax],
  ['tool.oom_group', switchRule],
  ['tool.oom_score_adj_above', integer(0, 1000)],
  ['depends_on', ids],
  ['ladder.stall_ratio', share],
  ['ladder.raise_step', share],
  ['ladder.freeze_at', share],
  ['ladder.thaw_below', share],
  ['ladder.reclaim', switchRule],
  ['ladder.reclaim_step', bytesAtLeast(1 << 20)],
  ['ladder.kill_at', share],
  ['ladder.deadline', duration],
  ['ladder.recheck', duration],
  ['tracker.framework', patterns],
  ['tracker.launchers', patterns],
  ['tracker.hold', switchRule],
  ['annotations.allow', allow],
  ['annotations.max_priority', priority],
  ['limits.exec_connections', integer(1, 1024)],
  ['limits.tool_calls', pidsMax],
  ['limits.argv_bytes', integer(256, 65536)],
  ['limits.call_log_size', bytesAtLeast(64 * 1024)],
  ['paths.run_dir', path],
  ['paths.call_log_dir', path],
  ['paths.exec_client', (v) => (v === 'off' ? null : path(v))],
  ['metrics.listen', listen],
  ['shim.always', switchRule],
  ['nri.enable', choice('auto', true, false)],
  ['nri.socket', socketPath],
  ['nri.carve', choice('auto', 'daemon', 'hooks')],
  ['sched_ext.enable', switchRule],
]);

/**
 * README "Retired keys": no longer settings, still read so that files written before keep loading.
 * The one value that loads sets nothing; any other is an error.
 */
const RETIRED: ReadonlyMap<string, unknown> = new Map<string, unknown>([['agent.oom_score_adj', -900]]);

export const MODEL_KEYS: readonly string[] = [...RULES.keys()];
/** The keys a container could set by annotation, where the host allows it. */
export const CONTAINER_KEYS: readonly string[] = MODEL_KEYS.filter((k) => !hostOnly(k));
const SECTIONS = new Set([...MODEL_KEYS, ...RETIRED.keys()].filter((k) => k.includes('.')).map((k) => k.split('.')[0]!));

/** One thing wrong with a policy, and the keys an error line about it would name (none: unpredictable). */
interface Problem {
  why: string;
  keys: string[];
}

/** Thrown inside the model: the policy is invalid. */
class Invalid {
  constructor(readonly problems: Problem[]) {}
}

/** A key the error line shows as it is (others it quotes): only those are looked for in it. */
const named = (key: string) => (/^[\w.-]+$/.test(key) ? [key] : []);

/** Sets `key`, or says what is wrong with it. */
function set(policy: Map<string, Value>, key: string, value: unknown): Problem | undefined {
  if (RETIRED.has(key)) return value === RETIRED.get(key) ? undefined : { why: `${key} is retired: remove it`, keys: [key] };
  const rule = RULES.get(key);
  if (!rule) return { why: `unknown key ${JSON.stringify(key)}`, keys: named(key) };
  const r = rule(value);
  if (isRefusal(r)) return { why: `${key}: ${r.refused}`, keys: [key] };
  policy.set(key, r);
  return undefined;
}

/** Within agent and within tool, memory_high above memory_max: sizes of one kind only compare (max with none). */
function orderProblems(policy: ModelPolicy): Problem[] {
  const pct = (v: Value | undefined) => (typeof v === 'string' && v.endsWith('%') ? Number(v.slice(0, -1)) : undefined);
  return ['agent', 'tool'].flatMap((section) => {
    const high = policy.get(`${section}.memory_high`);
    const max = policy.get(`${section}.memory_max`);
    const [hp, mp] = [pct(high), pct(max)];
    const above = (typeof high === 'number' && typeof max === 'number' && high > max) || (hp !== undefined && mp !== undefined && hp > mp);
    return above ? [{ why: `${section}.memory_high is above ${section}.memory_max`, keys: [`${section}.memory_high`] }] : [];
  });
}

/**
 * The document over `base`: sections one level deep, dotted keys refused at the top, as the README
 * says. Every problem is collected: the README promises an error naming a key, not which one first.
 */
function apply(doc: unknown, base: ModelPolicy): ModelPolicy {
  const policy = new Map(base);
  if (doc === null || doc === undefined) return policy;
  if (!(doc instanceof Map)) throw new Invalid([{ why: 'not a mapping', keys: [] }]);
  const problems: (Problem | undefined)[] = [];
  for (const [k, v] of doc as Map<unknown, unknown>) {
    if (typeof k !== 'string') problems.push({ why: 'a key that is not a word', keys: [] });
    else if (!SECTIONS.has(k)) problems.push(k.includes('.') ? { why: `dotted key ${k} at the top level`, keys: named(k) } : set(policy, k, v));
    else if (v === null) continue;
    else if (!(v instanceof Map)) problems.push({ why: `section ${k} is not a mapping`, keys: [k] });
    else {
      for (const [sk, sv] of v as Map<unknown, unknown>) {
        problems.push(typeof sk === 'string' ? set(policy, `${k}.${sk}`, sv) : { why: `a key in ${k} that is not a word`, keys: [] });
      }
    }
  }
  const found = problems.filter((p): p is Problem => p !== undefined);
  // memory_high against memory_max only means something once every value is known.
  if (found.length === 0) found.push(...orderProblems(policy));
  if (found.length > 0) throw new Invalid(found);
  return policy;
}

/** The text as YAML data; anything the parser objects to, or only warns about, is invalid. */
function yamlData(text: string): unknown {
  try {
    const doc = parseDocument(text);
    const problem = doc.errors[0] ?? doc.warnings[0];
    if (problem) throw new Invalid([{ why: `YAML: ${problem.message.split('\n')[0]}`, keys: [] }]);
    return doc.toJS({ mapAsMap: true });
  } catch (err) {
    if (err instanceof Invalid) throw err;
    // Aliases that multiply (a "billion laughs"), nesting deeper than the parser's stack.
    throw new Invalid([{ why: `YAML: ${err instanceof Error ? err.message : String(err)}`, keys: [] }]);
  }
}

/** A strict: true line at the top level (yes and on too, any case, a comment after it or not). */
function saysStrict(text: string): boolean {
  return text.split(/\r\n|\r|\n/).some((line) => /^strict[ \t]*:[ \t]*(true|yes|on)[ \t]*(#.*)?$/i.test(line));
}

/** The shipped file has every key at its default: it is the model's defaults. */
const DEFAULTS: ModelPolicy = (() => {
  const text = readFileSync(new URL('../../../config/policy.yaml', import.meta.url), 'utf8');
  const all = apply(yamlData(text), new Map());
  const missing = MODEL_KEYS.filter((k) => !all.has(k));
  if (missing.length > 0) throw new Error(`config/policy.yaml does not give ${missing.join(', ')}`);
  return all;
})();

/** What loading a policy file with this text must give. */
export function expectPolicy(text: string): Expectation {
  try {
    const policy = apply(yamlData(text), DEFAULTS);
    return { valid: true, strict: policy.get('strict') === true, policy };
  } catch (err) {
    if (!(err instanceof Invalid)) throw err;
    const { problems } = err;
    const keys = problems.every((p) => p.keys.length > 0) ? problems.flatMap((p) => p.keys) : [];
    return { valid: false, strict: saysStrict(text), why: problems.map((p) => p.why).join('; '), keys };
  }
}

function sizeValue(s: Size): Value {
  if (s.kind === 'max') return 'max';
  return s.kind === 'percent' ? `${s.percent}%` : s.bytes;
}

/** A loaded Policy in the model's terms, key by key, to compare. */
const FROM_POLICY: ReadonlyMap<string, (p: Policy) => Value> = new Map<string, (p: Policy) => Value>([
  ['strict', (p) => p.strict],
  ['priority', (p) => p.priority],
  ['session.memory_high', (p) => sizeValue(p.session.memoryHigh)],
  ['agent.memory_high', (p) => sizeValue(p.agent.memoryHigh)],
  ['agent.memory_max', (p) => sizeValue(p.agent.memoryMax)],
  ['agent.cpu_weight', (p) => p.agent.cpuWeight],
  ['agent.swap_max', (p) => p.agent.swapMax],
  ['tool.memory_high', (p) => sizeValue(p.tool.memoryHigh)],
  ['tool.memory_max', (p) => sizeValue(p.tool.memoryMax)],
  ['tool.cpu_weight', (p) => p.tool.cpuWeight],
  ['tool.swap_max', (p) => p.tool.swapMax],
  ['tool.pids_max', (p) => p.tool.pidsMax],
  ['tool.oom_group', (p) => p.tool.oomGroup],
  ['tool.oom_score_adj_above', (p) => p.tool.oomScoreAdjAbove],
  ['depends_on', (p) => p.dependsOn],
  ['ladder.stall_ratio', (p) => p.ladder.stallRatio],
  ['ladder.raise_step', (p) => p.ladder.raiseStep],
  ['ladder.freeze_at', (p) => p.ladder.freezeAt],
  ['ladder.thaw_below', (p) => p.ladder.thawBelow],
  ['ladder.reclaim', (p) => p.ladder.reclaim],
  ['ladder.reclaim_step', (p) => p.ladder.reclaimStepBytes],
  ['ladder.kill_at', (p) => p.ladder.killAt],
  ['ladder.deadline', (p) => p.ladder.deadlineMs],
  ['ladder.recheck', (p) => p.ladder.recheckMs],
  ['tracker.framework', (p) => p.tracker.framework],
  ['tracker.launchers', (p) => p.tracker.launchers],
  ['tracker.hold', (p) => p.tracker.hold],
  ['annotations.allow', (p) => p.annotations.allow],
  ['annotations.max_priority', (p) => p.annotations.maxPriority],
  ['limits.exec_connections', (p) => p.limits.execConnections],
  ['limits.tool_calls', (p) => p.limits.toolCalls],
  ['limits.argv_bytes', (p) => p.limits.argvBytes],
  ['limits.call_log_size', (p) => p.limits.callLogBytes],
  ['paths.run_dir', (p) => p.paths.runDir],
  ['paths.call_log_dir', (p) => p.paths.callLogDir],
  ['paths.exec_client', (p) => p.paths.execClient],
  ['metrics.listen', (p) => p.metrics.listen && { host: p.metrics.listen.host, port: p.metrics.listen.port }],
  ['shim.always', (p) => p.shim.always],
  ['nri.enable', (p) => p.nri.enable],
  ['nri.socket', (p) => p.nri.socket],
  ['nri.carve', (p) => p.nri.carve],
  ['sched_ext.enable', (p) => p.schedExt.enable],
]);

export const OBSERVED_KEYS: readonly string[] = [...FROM_POLICY.keys()];

/** `policy` (as loadPolicy gave it) in the model's terms. */
export function observed(policy: Policy): ModelPolicy {
  return new Map([...FROM_POLICY].map(([key, get]) => [key, get(policy)]));
}

// ---- annotations (README "Annotations") ----

/** Only keys with this prefix are read; every other annotation is ignored. */
export const PREFIX = 'io.agentcgroup.';

/**
 * What a container's annotations make of a host policy: an error (one of `keys`, annotation keys, is
 * named by it), or the policy with the applied ones and the annotation keys the host refused.
 */
export type AnnotationExpectation = { valid: true; policy: ModelPolicy; refused: string[] } | { valid: false; why: string; keys: string[] };

/** An annotation value is always a string; written in decimal digits it is an integer. */
const annotationValue = (raw: string): string | number => (/^-?\d+$/.test(raw) ? Number(raw) : raw);

const rank = (p: Value | undefined) => PRIORITIES.indexOf(String(p));

/** Why a container's value for `key` is beyond what the host allows (the README's "bound" column), or undefined. */
function beyondBound(key: string, wanted: Value, host: ModelPolicy): string | undefined {
  if (key === 'priority') return rank(wanted) > rank(host.get('annotations.max_priority')) ? 'above annotations.max_priority' : undefined;
  if (key === 'tool.pids_max') {
    const limit = host.get('tool.pids_max');
    return typeof limit === 'number' && (wanted === 'max' || (wanted as number) > limit) ? "above the host's tool.pids_max" : undefined;
  }
  // Without `/` (a value never has one), a pattern matches every program when it is nothing but `*`.
  if (key === 'tracker.framework' || key === 'tracker.launchers') return (wanted as string[]).some((p) => /^\*+$/.test(p)) ? 'a pattern that matches every program' : undefined;
  return undefined;
}

/** What `annotations` (all of a container's, ours or not) make of the valid host policy `host`. */
export function expectAnnotations(host: ModelPolicy, annotations: Readonly<Record<string, unknown>>): AnnotationExpectation {
  const policy = new Map(host);
  const refused: string[] = [];
  const applied = new Set<string>();
  const problems: Problem[] = [];
  const error = (key: string, why: string) => problems.push({ why: `${key}: ${why}`, keys: named(key) });
  for (const [key, raw] of Object.entries(annotations)) {
    if (!key.startsWith(PREFIX)) continue;
    const name = key.slice(PREFIX.length);
    const enable = name === 'enable';
    if (!enable && !RULES.has(name)) error(key, 'unknown key');
    else if (!enable && hostOnly(name)) error(key, 'host-only');
    else if (typeof raw !== 'string' || raw.length > 64 || CONTROL.test(raw) || raw.includes('/') || raw.includes('..')) error(key, 'a hostile value');
    else if (enable) continue;
    else if (!(host.get('annotations.allow') as string[]).some((p) => globMatches(p, name))) refused.push(key);
    else {
      const r = RULES.get(name)!(annotationValue(raw));
      if (isRefusal(r)) error(key, r.refused);
      else if (beyondBound(name, r, host) !== undefined) refused.push(key);
      else {
        policy.set(name, r);
        applied.add(name);
      }
    }
  }
  // The order check again, naming an annotation that was applied (the host's own values were in order).
  if (problems.length === 0) {
    for (const p of orderProblems(policy)) {
      const section = p.keys[0]!.split('.')[0]!;
      const blamed = [`${section}.memory_high`, `${section}.memory_max`].filter((k) => applied.has(k)).map((k) => PREFIX + k);
      problems.push({ why: p.why, keys: blamed });
    }
  }
  if (problems.length > 0) {
    const keys = problems.every((p) => p.keys.length > 0) ? problems.flatMap((p) => p.keys) : [];
    return { valid: false, why: problems.map((p) => p.why).join('; '), keys };
  }
  return { valid: true, policy, refused };
}
