import { AgentcgroupError } from '../errors.js';
import { printable, quote } from '../text.js';
import { allowedByHost, beyondHostBounds } from './admission.js';
import { DEFAULT_POLICY, memoryOrderProblems, POLICY_KEYS, setPolicyKey } from './policy.js';
import type { Policy } from './types.js';

/** Annotations are written by whoever starts the container: only this prefix is ours to read. */
export const ANNOTATION_PREFIX = 'io.agentcgroup.';

export const ENABLE = `${ANNOTATION_PREFIX}enable`;

// The gate of hooks/agentcgroup.json (its value regex), and the opt-out every path honours.
const ON = /^(1|true|yes|on)$/;
const OFF = /^(0|false|no|off)$/i;
// containerd's CRI marks the pod's pause container so: it runs no agent, and carving it costs two hook
// starts per pod for nothing.
const CRI_CONTAINER_TYPE = 'io.kubernetes.cri.container-type';

/** The container said no: io.agentcgroup.enable is 0, false, no or off (any case). */
export function optedOut(annotations: Readonly<Record<string, string>>): boolean {
  return OFF.test(annotations[ENABLE] ?? '');
}

/**
 * Whether a container is agentcgroup's, for every path that chooses (the runtime shim, the daemon as
 * an NRI plugin), as the hooks.d JSON does: annotated io.agentcgroup.enable=true, or (policy
 * shim.always) any not annotated off; never a pod sandbox.
 */
export function optsIn(annotations: Readonly<Record<string, string>>, always: boolean): boolean {
  if (annotations[CRI_CONTAINER_TYPE] === 'sandbox') return false;
  return always ? !optedOut(annotations) : ON.test(annotations[ENABLE] ?? '');
}
const MAX_VALUE_LENGTH = 64;
// No legitimate value (a size, a number, a priority) needs these; refusing them up front keeps a
// hostile value out of every parser and every message.
const HOSTILE = /[\x00-\x1f\x7f/]|\.\./;

export interface AnnotationKey {
  key: string;
  description: string;
  /** Whether a host with the default annotations.allow lets a container set it. */
  allowedByDefault: boolean;
}

/** Every annotation a container may set where the host allows it, for docs and help. */
export const ANNOTATION_KEYS: readonly AnnotationKey[] = [
  { key: ENABLE, description: 'turns agentcgroup on for this container (read by the hooks, not a policy setting)', allowedByDefault: true },
  ...POLICY_KEYS.filter((k) => !k.hostOnly).map(({ key, description }) => ({
    key: ANNOTATION_PREFIX + key,
    description,
    allowedByDefault: allowedByHost(DEFAULT_POLICY.annotations.allow, key),
  })),
];

/**
 * An annotation the host policy does not let this container use. Not an error: the same container
 * may run on hosts that allow more, and it still gets carved, with the host's value for that key.
 */
export interface Refusal {
  key: string;
  reason: string;
}

/** A refusal as one line for the hook's log and `policy check`. */
export function refusalLine(r: Refusal): string {
  return `annotation ${printable(r.key)}: ${r.reason}; the host's value applies`;
}

export interface Annotated {
  policy: Policy;
  refused: Refusal[];
}

/** A malformed annotation (unknown or host-only key, hostile or invalid value): an error. */
function invalid(key: string, reason: string): never {
  throw new AgentcgroupError('bad-annotation', `annotation ${printable(key)}: ${reason}`);
}

// Annotation values are always strings; integers become numbers so they meet the same validators as YAML.
const coerce = (raw: string): string | number => (/^-?\d+$/.test(raw) ? Number(raw) : raw);

/** `policy` with one annotation applied (a copy), or why `host` refuses it. */
function withAnnotation(policy: Policy, host: Policy, key: string, raw: unknown): Policy | Refusal {
  const name = key.slice(ANNOTATION_PREFIX.length);
  const known = POLICY_KEYS.find((k) => k.key === name);
  if (key !== ENABLE && !known) invalid(key, 'unknown key');
  if (known?.hostOnly) invalid(key, 'host-only: only the host policy file may set it, not the container');
  if (typeof raw !== 'string' || raw.length > MAX_VALUE_LENGTH || HOSTILE.test(raw)) {
    const rule = `a value is at most ${MAX_VALUE_LENGTH} characters, without control characters, / or ..`;
    invalid(key, `refused ${quote(String(raw))}: ${rule}`);
  }
  if (key === ENABLE) return policy;
  if (!allowedByHost(host.annotations.allow, name)) return { key, reason: 'not allowed by the host policy (annotations.allow)' };
  const next = structuredClone(policy);
  try {
    setPolicyKey(next, name, coerce(raw), `annotation ${key}`);
  } catch (err) {
    if (err instanceof AgentcgroupError) throw new AgentcgroupError('bad-annotation', err.message, { cause: err });
    throw err;
  }
  const beyond = beyondHostBounds(name, next, host);
  return beyond === undefined ? next : { key, reason: beyond };
}

/**
 * `host` with the container's io.agentcgroup.* annotations applied, where the host allows them, and
 * the ones it refused; `host` itself is left as it was. A malformed annotation throws bad-annotation.
 */
export function applyAnnotations(host: Policy, annotations: Record<string, string>): Annotated {
  let policy = structuredClone(host);
  const refused: Refusal[] = [];
  const applied = new Set<string>();
  for (const [key, raw] of Object.entries(annotations)) {
    if (!key.startsWith(ANNOTATION_PREFIX)) continue;
    const result = withAnnotation(policy, host, key, raw);
    if ('reason' in result) {
      refused.push(result);
    } else {
      policy = result;
      applied.add(key);
    }
  }
  // A conflict the annotations did not touch was the host's to catch when its policy was parsed.
  for (const { section, reason } of memoryOrderProblems(policy)) {
    const given = [`${section}.memory_high`, `${section}.memory_max`].map((k) => ANNOTATION_PREFIX + k);
    const blamed = given.find((k) => applied.has(k));
    if (blamed) invalid(blamed, reason);
  }
  return { policy, refused };
}
