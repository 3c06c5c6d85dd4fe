import { AgentcgroupError } from '../errors.js';
import type { Bytes } from '../limits.js';
import { quote } from '../text.js';
import type { Size } from './types.js';

/** cgroup memory limits are kept in pages: a limit that is not a multiple would be rounded by the kernel anyway. */
export const PAGE_SIZE = 4096;

/** How sizes are written, for messages that reject one. */
export const SIZE_FORMS = 'use bytes, 800M, 1.2G, 50% or max';

const UNITS = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 } as const;
type Unit = keyof typeof UNITS;

// Upper-case units only, optional `i`, no `B`: one spelling per size, so a typo is an error, not a guess.
// The units are binary, as docker, systemd and cgroup tools read them: 800M and 800Mi are both 800 * 2^20.
// Kubernetes reads 800M as 800 * 10^6; a quantity only Kubernetes writes (k, m, P, E, Pi, Ei, an
// exponent) is refused with a line saying what M means here, rather than read one way or the other.
const BYTES = /^(\d+)$/;
const WITH_UNIT = /^(\d+(?:\.\d+)?)([KMGT])i?$/;
const PERCENT = /^(\d+(?:\.\d+)?)%$/;
// Kubernetes' quantity suffixes we do not take: decimal k and P E, milli m, Pi Ei, and exponents (1e9, 1E9).
const KUBERNETES_ONLY = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[kmPE]|[PE]i|[eE][+-]?\d+)$/;

/** What a refused Kubernetes quantity is told: M is binary here. */
export const SIZE_UNITS = "use bytes, 512Mi, 1.2G, 50% or max; units are binary, 1M = 1Mi = 2^20 bytes, not Kubernetes' 10^6";

const floorToPage = (n: number) => Math.floor(n / PAGE_SIZE) * PAGE_SIZE;

/** A size as written in policy or an annotation; errors are one bad-policy line starting with `key`. */
export function parseSize(text: string, key: string): Size {
  const fail = (reason: string): never => {
    throw new AgentcgroupError('bad-policy', `${key}: ${quote(text)} ${reason}`);
  };
  // Only blanks are trimmed: a newline or NUL in a size means the value was not meant for us.
  const s = text.replace(/^[ \t]+|[ \t]+$/g, '');
  if (s === 'max') return { kind: 'max' };

  const percent = PERCENT.exec(s);
  if (percent) {
    const p = Number(percent[1]);
    if (!(p > 0 && p <= 100)) fail('is not a percentage above 0 and at most 100');
    return { kind: 'percent', percent: p };
  }

  let bytes: number;
  const plain = BYTES.exec(s);
  const withUnit = WITH_UNIT.exec(s);
  if (plain) bytes = Number(plain[1]);
  else if (withUnit) bytes = Math.floor(Number(withUnit[1]) * UNITS[withUnit[2] as Unit]);
  else if (KUBERNETES_ONLY.test(s)) return fail(`is not a size (${SIZE_UNITS})`);
  else return fail(`is not a size (${SIZE_FORMS})`);
  if (!Number.isSafeInteger(bytes)) fail('is too large (at most 2^53 bytes)');
  const rounded = floorToPage(bytes);
  if (rounded < PAGE_SIZE) fail(`is below one page (${PAGE_SIZE} bytes)`);
  return { kind: 'bytes', bytes: rounded };
}

/**
 * Whether `v` is a Size as parseSize makes one: a carve record keeps the policy's sizes, and what it
 * says ends up in cgroupfs, so it is checked like input when read back.
 */
export function isSize(v: unknown): v is Size {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as { kind?: unknown; bytes?: unknown; percent?: unknown };
  switch (s.kind) {
    case 'max':
      return true;
    case 'percent':
      return typeof s.percent === 'number' && s.percent > 0 && s.percent <= 100;
    case 'bytes':
      return Number.isSafeInteger(s.bytes) && (s.bytes as number) >= PAGE_SIZE && (s.bytes as number) % PAGE_SIZE === 0;
    default:
      return false;
  }
}

/**
 * A Size in bytes for a session of `sessionBytes` (the container's memory.max, or host memory). A
 * percentage never resolves below one page: 0 in memory.max would OOM-kill the group on its first page.
 */
export function resolveSize(size: Size, sessionBytes: number): Bytes {
  switch (size.kind) {
    case 'max':
      return 'max';
    case 'bytes':
      return size.bytes;
    case 'percent':
      return Math.max(PAGE_SIZE, floorToPage((sessionBytes * size.percent) / 100));
  }
}

/** Bytes for people: 900M, 1.2G, 512K, and plain bytes below 1K. Binary units, at most one decimal. No limit reads max. */
export function formatBytes(n: Bytes): string {
  if (n === 'max' || n < UNITS.K) return String(n);
  // Largest unit first, so 1048575 reads 1M rather than 1024K.
  for (const unit of ['T', 'G', 'M', 'K'] as const) {
    const v = Math.round((n / UNITS[unit]) * 10) / 10;
    if (v >= 1) return `${v}${unit}`;
  }
  return String(n);
}

/** A Size as written in policy: 70%, 900M, max. */
export function formatSize(size: Size): string {
  if (size.kind === 'max') return 'max';
  return size.kind === 'percent' ? `${size.percent}%` : formatBytes(size.bytes);
}
