/**
 * The shim as a CRI runtime in containerd's config.toml, as a text edit: one marked block appended,
 * every byte of the operator's config kept, and the block removed exactly. The config is read with a
 * TOML parser (smol-toml, loaded only by `install-config`) to place the block where its version keeps
 * CRI runtimes and to refuse what it cannot extend; it is never written back from the parse.
 *
 * Version 2 (containerd 1.6, 1.7; 2.x migrates it when loading): plugins."io.containerd.grpc.v1.cri".
 * Version 3 (containerd 2.x): plugins."io.containerd.cri.v1.runtime". Version 1 has no CRI runtime
 * table of this shape, and a later one is unknown: both are refused.
 *
 * A Go template of k3s or RKE2 (config.toml.tmpl, config-v3.toml.tmpl, which they render into the
 * config.toml they rewrite on every start) is not TOML: the block is appended to it unparsed, and a
 * template that does not exist yet is made as their base template plus the block.
 */
import { parse, TomlError } from 'smol-toml';
import { describeError } from '../errors.js';
import { isRecord } from '../oci/validate.js';
import { oneLine } from '../text.js';
import { bad, INSTALLED_SHIM, RUNTIME_NAME } from './installconfig.js';

const CRI_PLUGIN = { 2: 'io.containerd.grpc.v1.cri', 3: 'io.containerd.cri.v1.runtime' } as const;
type Version = keyof typeof CRI_PLUGIN;

const BEGIN = `# BEGIN ${RUNTIME_NAME}: added by install.sh --containerd, removed by install.sh --uninstall`;
const END = `# END ${RUNTIME_NAME}`;

/** k3s's and RKE2's whole generated config, as a template of theirs includes it. */
export const TEMPLATE_BASE = '{{ template "base" . }}\n';
/** The cgroup driver k3s and RKE2 chose for the node, in their template data. */
const TEMPLATE_SYSTEMD = '{{ .SystemdCgroup }}';

export const isTemplate = (file: string): boolean => file.endsWith('.tmpl');

function containerdBlock(version: Version, systemdCgroup: string): string {
  const table = `plugins."${CRI_PLUGIN[version]}".containerd.runtimes.${RUNTIME_NAME}`;
  return [
    BEGIN,
    `# The shim as a CRI runtime handler (RuntimeClass handler "${RUNTIME_NAME}"): containerd's runc shim runs`,
    `# ${INSTALLED_SHIM}, which is agentcgroup behaving as \`agentcgroup runtime\` in front of runc.`,
    `[${table}]`,
    '  runtime_type = "io.containerd.runc.v2"',
    '  # The annotations the shim and hooks read (io.agentcgroup.enable and policy keys), passed into config.json.',
    '  pod_annotations = ["io.agentcgroup.*"]',
    '  container_annotations = ["io.agentcgroup.*"]',
    '',
    `[${table}.options]`,
    `  BinaryName = "${INSTALLED_SHIM}"`,
    `  SystemdCgroup = ${systemdCgroup}`,
    END,
    '',
  ].join('\n');
}

/** The text without our block (and the blank line we put before it), and whether it had one. */
function withoutBlock(text: string, file: string): { rest: string; had: boolean } {
  const start = text.indexOf(BEGIN);
  if (start < 0) return { rest: text, had: false };
  const end = text.indexOf(`${END}\n`, start);
  if (end < 0) bad(file, `has "${BEGIN.slice(0, 24)}..." without its end line`);
  const before = text.slice(0, start).replace(/\n\n$/, '\n');
  return { rest: before + text.slice(end + END.length + 1), had: true };
}

/** `text` and the block, after a blank line; a last line without its newline gets one. */
function appended(text: string, block: string): string {
  const base = text === '' || text.endsWith('\n') ? text : `${text}\n`;
  return `${base}\n${block}`;
}

type Parsed = { doc: Record<string, unknown> } | { error: string };

function parseToml(text: string): Parsed {
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
function tableAt(table: Record<string, unknown> | undefined, path: readonly string[]): Record<string, unknown> | undefined {
  let at: unknown = table;
  for (const key of path) at = isRecord(at) ? at[key] : undefined;
  return isRecord(at) ? at : undefined;
}

function configVersion(doc: Record<string, unknown>, file: string): Version {
  const v = doc.version;
  if (v === 2 || v === 3) return v;
  const which = v === undefined ? '1 (no version line)' : oneLine(String(v), 20);
  return bad(file, `config version ${which}: only versions 2 (containerd 1.6, 1.7) and 3 (containerd 2.x) are supported; add the runtime by hand (see deploy/kubernetes/README.md)`);
}

function addToConfig(rest: string, file: string): string {
  const parsed = parseToml(rest);
  if ('error' in parsed) bad(file, `not TOML: ${parsed.error}`);
  const version = configVersion(parsed.doc, file);
  const plugin = `plugins."${CRI_PLUGIN[version]}".containerd`;
  const cri = tableAt(parsed.doc, ['plugins', CRI_PLUGIN[version], 'containerd']);
  const runtimes = tableAt(cri, ['runtimes']);
  if (runtimes !== undefined && RUNTIME_NAME in runtimes) bad(file, `already defines a runtime "${RUNTIME_NAME}" that install.sh did not write`);
  const defaultName = typeof cri?.default_runtime_name === 'string' ? cri.default_runtime_name : 'runc';
  const defaults = tableAt(runtimes, [defaultName]);
  // containerd 1.6 and 1.7 take a runtimes table in place of their built-in ones (checked with `config
  // dump`): ours alone would leave no default runtime. 2.x adds it to them (checked with 2.1).
  if (version === 2 && defaults === undefined) {
    bad(file, `does not define the default runtime [${plugin}.runtimes.${defaultName}]; adding one runtime would drop the built-in ones. Start from \`containerd config default\``);
  }
  // Our runtime must drive cgroups the way kubelet and the default runtime do.
  const systemd = tableAt(defaults, ['options'])?.SystemdCgroup === true;
  const out = appended(rest, containerdBlock(version, String(systemd)));
  // The file may hold the runtimes inline or as dotted keys, which TOML lets no later table extend.
  const check = parseToml(out);
  if ('error' in check) bad(file, `cannot take the runtime as a table [${plugin}.runtimes.${RUNTIME_NAME}]: ${check.error}`);
  return out;
}

function addToTemplate(rest: string, file: string): string {
  if (/runtimes\.["']?agentcgroup["']?\s*\]/.test(rest)) bad(file, `already defines a runtime "${RUNTIME_NAME}" that install.sh did not write`);
  // A template of its own names its version; without one the name does (config-v3.toml.tmpl is 3).
  const named = /^\s*version\s*=\s*(\d+)/m.exec(rest)?.[1] ?? (/-v3\.toml\.tmpl$/.test(file) ? '3' : '2');
  if (named !== '2' && named !== '3') bad(file, `config version ${named}: only versions 2 and 3 are supported`);
  return appended(rest === '' ? TEMPLATE_BASE : rest, containerdBlock(Number(named) as Version, TEMPLATE_SYSTEMD));
}

/** config.toml (or a k3s/RKE2 template, '' when there is none yet) with our runtime; the same text when it is already there. */
export function addContainerdRuntime(text: string, file: string): string {
  const { rest } = withoutBlock(text, file);
  return isTemplate(file) ? addToTemplate(rest, file) : addToConfig(rest, file);
}

/** The text without our block; undefined for a template that held only the base and our block (the file goes). */
export function removeContainerdRuntime(text: string, file: string): string | undefined {
  const { rest, had } = withoutBlock(text, file);
  return had && isTemplate(file) && rest === TEMPLATE_BASE ? undefined : rest;
}
