/**
 * Tiny checks for untrusted JSON. Each throws an AgentcgroupError whose one-line message names the
 * field path and shows what was found, e.g. `state.pid: must be a non-negative integer, got "12"`.
 */
import { AgentcgroupError } from '../errors.js';
import { oneLine, printable, quote } from '../text.js';

/** Where a value sits: the error code to throw and the path to name; `source` (a file) prefixes the path. */
export interface Where {
  readonly code: string;
  readonly path: string;
  readonly source?: string;
}

export function at(where: Where, key: string | number): Where {
  const step = typeof key === 'number' ? `[${key}]` : /^[A-Za-z_]\w*$/.test(key) ? `.${key}` : `[${show(key)}]`;
  return { ...where, path: where.path === '' ? step.replace(/^\./, '') : `${where.path}${step}` };
}

/** A value as it may appear in a message: strings quoted, escaped and cut at `max` characters. */
export function show(value: unknown, max = 60): string {
  if (typeof value === 'string') return quote(value, max);
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  return oneLine(String(value), max);
}

/** Throws `path: problem, got <value>`; a missing value reads `path: missing (problem)`. */
export function fail(where: Where, problem: string, ...got: [] | [unknown]): never {
  const path = where.source === undefined ? where.path : where.path === '' ? printable(where.source) : `${printable(where.source)}: ${where.path}`;
  if (got.length === 0) throw new AgentcgroupError(where.code, `${path}: ${problem}`);
  const found = got[0] === undefined ? `missing (${problem})` : `${problem}, got ${show(got[0])}`;
  throw new AgentcgroupError(where.code, `${path}: ${found}`);
}

/**
 * A plain object, as a JSON or YAML parser makes for `{...}`; not an array, and not a class instance
 * such as the LosslessNumber the shim's exact parse makes of a number (runtime/exactjson.ts).
 */
export function isRecord(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Go's encoding/json writes `null` for an unset map or slice without omitempty: treat it as absent. */
export function absent(v: unknown): v is undefined | null {
  return v === undefined || v === null;
}

/**
 * Parses JSON text after a size cap. `what` leads the messages (`OCI state on stdin`). The cap is in
 * UTF-8 bytes; length is checked first because a string's bytes are never fewer than its code units.
 */
export function parseJson(text: string, what: string, code: string, maxBytes: number, empty = `${what} is empty`): unknown {
  if (text.length > maxBytes || Buffer.byteLength(text, 'utf8') > maxBytes) {
    throw new AgentcgroupError(code, `${what} is larger than ${maxBytes / 1024 / 1024} MiB`);
  }
  if (text.trim() === '') throw new AgentcgroupError(code, empty);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new AgentcgroupError(code, `${what} is not JSON: ${oneLine(reason, 100)}`);
  }
}

export function record(v: unknown, where: Where): Record<string, unknown> {
  if (!isRecord(v)) fail(where, 'must be a JSON object', v);
  return v;
}

export function string(v: unknown, where: Where): string {
  if (typeof v !== 'string') fail(where, 'must be a string', v);
  return v;
}

/** A string bound for a syscall or a log line: the kernel stops at NUL, a newline forges log lines. */
export function lineString(v: unknown, where: Where): string {
  const s = string(v, where);
  if (/[\0\n\r]/.test(s)) fail(where, 'must not contain NUL or newline', s);
  return s;
}

export function absolutePath(v: unknown, where: Where): string {
  const s = lineString(v, where);
  if (!s.startsWith('/')) fail(where, 'must be an absolute path', s);
  return s;
}

export function integer(v: unknown, where: Where, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    fail(where, min === 0 ? 'must be a non-negative integer' : `must be an integer >= ${min}`, v);
  }
  return v;
}

export function optionalInteger(v: unknown, where: Where, min: number): number | undefined {
  return absent(v) ? undefined : integer(v, where, min);
}

/** An array whose items each pass `item`, which is told the item's own path. */
export function array<T>(v: unknown, where: Where, item: (v: unknown, where: Where) => T): T[] {
  if (!Array.isArray(v)) fail(where, 'must be an array', v);
  return v.map((x: unknown, i) => item(x, at(where, i)));
}

/** An optional object of string values, copied so a `__proto__` key stays an ordinary entry. */
export function stringMap(v: unknown, where: Where): Record<string, string> {
  if (absent(v)) return {};
  const obj = record(v, where);
  return Object.fromEntries(Object.entries(obj).map(([k, val]) => [k, string(val, at(where, k))]));
}
