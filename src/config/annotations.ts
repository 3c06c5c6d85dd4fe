import { AgentcgroupError } from '../errors.js';
import { printable, quote } from '../text.js';
import { memoryOrderProblems, POLICY_KEYS, setPolicyKey } from './policy.js';
import type { Policy } from './types.js';

/** Annotations are written by whoever starts the container: only this prefix is ours to read. */
export const ANNOTATION_PREFIX = 'io.agentcgroup.';

const ENABLE = `${ANNOTATION_PREFIX}enable`;
const MAX_VALUE_LENGTH = 64;
// No legitimate value (a size, a number, a priority) needs these; refusing them up front keeps a
// hostile value out of every parser and every message.
const HOSTILE = /[\x00-\x1f\x7f/]|\.\./;

export interface AnnotationKey {
  key: string;
  description: string;
}

/** Every annotation a container may set, for docs and help. */
export const ANNOTATION_KEYS: readonly AnnotationKey[] = [
  { key: ENABLE, description: 'turns agentcgroup on for this container (read by the hooks, not a policy setting)' },
  ...POLICY_KEYS.filter((k) => !k.hostOnly).map(({ key, description }) => ({
    key: ANNOTATION_PREFIX + key,
    description,
  })),
];

function refuse(key: string, reason: string): never {
  throw new AgentcgroupError('bad-annotation', `annotation ${printable(key)}: ${reason}`);
}

// Annotation values are always strings; integers become numbers so they meet the same validators as YAML.
const coerce = (raw: string): string | number => (/^-?\d+$/.test(raw) ? Number(raw) : raw);

function setFromAnnotation(policy: Policy, key: string, raw: unknown): void {
  const name = key.slice(ANNOTATION_PREFIX.length);
  const known = POLICY_KEYS.find((k) => k.key === name);
  if (key !== ENABLE && !known) refuse(key, 'unknown key');
  if (known?.hostOnly) refuse(key, 'host-only: only the host policy file may set it, not the container');
  if (typeof raw !== 'string' || raw.length > MAX_VALUE_LENGTH || HOSTILE.test(raw)) {
    const rule = `a value is at most ${MAX_VALUE_LENGTH} characters, without control characters, / or ..`;
    refuse(key, `refused ${quote(String(raw))}: ${rule}`);
  }
  if (key === ENABLE) return;
  try {
    setPolicyKey(policy, name, coerce(raw), `annotation ${key}`);
  } catch (err) {
    if (err instanceof AgentcgroupError) throw new AgentcgroupError('bad-annotation', err.message, { cause: err });
    throw err;
  }
}

/** `policy` with the container's io.agentcgroup.* annotations applied; `policy` itself is left as it was. */
export function applyAnnotations(policy: Policy, annotations: Record<string, string>): Policy {
  const out = structuredClone(policy);
  for (const [key, raw] of Object.entries(annotations)) {
    if (key.startsWith(ANNOTATION_PREFIX)) setFromAnnotation(out, key, raw);
  }
  // A conflict the annotations did not touch was the host's to catch when its policy was parsed.
  for (const { section, reason } of memoryOrderProblems(out)) {
    const given = [`${section}.memory_high`, `${section}.memory_max`].map((k) => ANNOTATION_PREFIX + k);
    const blamed = given.find((k) => Object.hasOwn(annotations, k));
    if (blamed) refuse(blamed, reason);
  }
  return out;
}
