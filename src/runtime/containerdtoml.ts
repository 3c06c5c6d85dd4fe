/**
 * Reading a containerd config (TOML, with smol-toml) for what install.sh asks of it: its version, where
 * that version keeps CRI runtimes, the default runtime's cgroup driver, what it imports and whether
 * its CRI plugin is off. Only reads: the edits (containerdconfig.ts) never write a parse back.
 */
import { posix } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { describeError } from '../errors.js';
import { isRecord } from '../oci/validate.js';
import { oneLine } from '../text.js';

/** Where each config version keeps the CRI plugin's runtimes: 2 (containerd 1.6, 1.7; 2.x migrates it) and 3 (2.x). */
export const CRI_PLUGIN = { 2: 'io.containerd.grpc.v1.cri', 3: 'io.containerd.cri.v1.runtime' } as const;
export type ConfigVersion = keyof typeof CRI_PLUGIN;

export type Parsed = { doc: Record<string, unknown> } | { error: string };

export function parseToml(text: string): Parsed {
  try {
    // TOML integers are 64-bit: one past 2^53 is read, as a BigInt, rather than refused.
    return { doc: parse(text, { integersAsBigInt: 'asNeeded' }) };
  } catch (err) {
    // smol-toml's message goes on with an excerpt of the file over several lines: the first one, and where.
    if (err instanceof TomlError) return { error: `${oneLine(err.message.split('\n')[0] ?? '', 120)} (line ${err.line})` };
    return { error: oneLine(describeError(err), 120) };
  }
}

/** The table at `path` below `table`, or undefined when any step is missing or not a table. */
export function tableAt(table: Record<string, unknown> | undefined, path: readonly string[]): Record<string, unknown> | undefined {
  let at: unknown = table;
  for (const key of path) at = isRecord(at) ? at[key] : undefined;
  return isRecord(at) ? at : undefined;
}

/** 2 or 3, or what the file says instead (undefined: no version line, which containerd reads as 1). */
export function versionOf(doc: Record<string, unknown>): ConfigVersion | { other: unknown } {
  const v = doc.version;
  return v === 2 || v === 3 ? v : { other: v };
}

export const isKnownVersion = (v: ConfigVersion | { other: unknown }): v is ConfigVersion => v === 2 || v === 3;

/** The CRI plugin's `containerd` table of a config of `version`, holding default_runtime_name and runtimes. */
export const criContainerd = (doc: Record<string, unknown>, version: ConfigVersion) => tableAt(doc, ['plugins', CRI_PLUGIN[version], 'containerd']);

/** The name of the runtime pods get by default, and its table where the config defines it. */
export function defaultRuntime(doc: Record<string, unknown>, version: ConfigVersion): { name: string; table: Record<string, unknown> | undefined } {
  const cri = criContainerd(doc, version);
  const name = typeof cri?.default_runtime_name === 'string' ? cri.default_runtime_name : 'runc';
  return { name, table: tableAt(cri, ['runtimes', name]) };
}

/** The default runtime's SystemdCgroup where the config sets it (a config that does not leaves containerd's false). */
export function systemdCgroupOf(doc: Record<string, unknown>, version: ConfigVersion): boolean | undefined {
  const set = tableAt(defaultRuntime(doc, version).table, ['options'])?.SystemdCgroup;
  return typeof set === 'boolean' ? set : undefined;
}

/** The config's `imports`, the strings of it. */
export function importsOf(doc: Record<string, unknown>): string[] {
  return Array.isArray(doc.imports) ? doc.imports.filter((i): i is string => typeof i === 'string') : [];
}

/** Whether `disabled_plugins` turns the CRI plugin off (as Docker's containerd.io package ships it): kubelet cannot use that containerd. */
export function criDisabled(doc: Record<string, unknown>): boolean {
  const off = Array.isArray(doc.disabled_plugins) ? doc.disabled_plugins : [];
  return off.some((p) => p === 'cri' || p === CRI_PLUGIN[2] || p === CRI_PLUGIN[3]);
}

/**
 * Go's filepath.Match pattern as a RegExp: `*` any run and `?` one character, both short of a '/';
 * `[...]` a class (`[^...]` negated); `\` quotes the next character.
 */
function goGlob(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charAt(i);
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) out += escapeRe(pattern.charAt(++i));
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) return /$^/; // Go: a malformed pattern matches nothing
      const body = pattern.slice(i + 1, end);
      out += `[${body.startsWith('^') ? `^${body.slice(1).replace(/[\]\\]/g, '\\$&')}` : body.replace(/[\]\\^]/g, '\\$&')}]`;
      i = end;
    } else out += escapeRe(c);
  }
  return new RegExp(`^${out}$`);
}

const escapeRe = (c: string) => c.replace(/[.+?^${}()|[\]\\*/]/g, '\\$&');

/**
 * Whether containerd, reading the config at `configPath` with these imports, reads `file` too: as
 * containerd resolves them, a relative import is taken from the config's directory, and only an
 * import holding `*` is a pattern (cmd/containerd/server/config: resolveImports).
 */
export function importsCover(imports: readonly string[], configPath: string, file: string): boolean {
  return imports.some((raw) => {
    const path = posix.normalize(posix.isAbsolute(raw) ? raw : posix.join(posix.dirname(configPath), raw));
    return path.includes('*') ? goGlob(path).test(file) : path === file;
  });
}
