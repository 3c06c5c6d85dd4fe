/**
 * What a host lets a container's annotations change. Annotations come from whoever starts the
 * container, so a key must be in the host's annotations.allow, and a value that would reach past the
 * container's own share (outrank its neighbours, loosen a guard the host set) is refused. Pure.
 */
import { globToRegExp } from '../glob.js';
import { quote } from '../text.js';
import { PRIORITY_RANK } from './policy.js';
import type { Policy } from './types.js';

/** Whether annotations.allow lets a container set `key` (a policy key, without the annotation prefix). */
export function allowedByHost(allow: readonly string[], key: string): boolean {
  return allow.some((pattern) => globToRegExp(pattern).test(key));
}

/**
 * A program pattern that matches every program: only `*` and `/` (a pattern with a `/` is matched
 * against the exec'd path, which always has one). As tracker.framework it would make every program
 * the container runs part of its framework: no tool calls, so nothing the daemon could freeze or
 * kill there, whatever the container does to its neighbours' memory; as tracker.launchers, the same.
 */
export function isCatchAll(pattern: string): boolean {
  return /^[*/]*\*[*/]*$/.test(pattern);
}

function catchAll(patterns: readonly string[]): string | undefined {
  const found = patterns.find(isCatchAll);
  return found === undefined ? undefined : `pattern ${quote(found)} matches every program`;
}

const pidsAbove = (wanted: number | 'max', host: number | 'max') => host !== 'max' && (wanted === 'max' || wanted > host);

/** Per key, why the container's value (applied to `wanted`) is beyond what the host allows. */
const BOUNDS = new Map<string, (wanted: Policy, host: Policy) => string | undefined>([
  // Priority decides whose tool calls are frozen and killed first, across containers.
  ['priority', (w, h) => (PRIORITY_RANK[w.priority] > PRIORITY_RANK[h.annotations.maxPriority] ? `${w.priority} is above annotations.max_priority ${h.annotations.maxPriority}` : undefined)],
  // pids.max guards the host's pid space against a fork bomb: a container may tighten it, not loosen it.
  ['tool.pids_max', (w, h) => (pidsAbove(w.tool.pidsMax, h.tool.pidsMax) ? `${w.tool.pidsMax} is above the host's tool.pids_max ${h.tool.pidsMax}` : undefined)],
  ['tracker.framework', (w) => catchAll(w.tracker.framework)],
  ['tracker.launchers', (w) => catchAll(w.tracker.launchers)],
]);

/** Why the container's value for `key`, applied to `wanted`, is beyond the host's bounds; undefined when within. */
export function beyondHostBounds(key: string, wanted: Policy, host: Policy): string | undefined {
  return BOUNDS.get(key)?.(wanted, host);
}
