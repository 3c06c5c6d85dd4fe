/**
 * The shim as a CRI runtime in a containerd config, as a text edit: one marked block, every byte of
 * the operator's file kept, and the block removed exactly. The config is read (containerdtoml.ts) to
 * place the block where its version keeps CRI runtimes and to refuse what it cannot extend; it is never
 * written back from the parse.
 *
 * Version 2 (containerd 1.6, 1.7; 2.x migrates it when loading): plugins."io.containerd.grpc.v1.cri".
 * Version 3 (containerd 2.x): plugins."io.containerd.cri.v1.runtime". Version 1 has no CRI runtime
 * table of this shape, and a later one is unknown: both are refused.
 *
 * A file that is not there is made whole by us, marked so: a drop-in (/etc/containerd/conf.d, k0s's
 * /etc/k0s/containerd.d), config.toml of a containerd 2.x running on its defaults, or a template of k3s
 * or RKE2. Removing the block removes such a file and leaves any other as it was, byte for byte.
 *
 * A Go template of k3s or RKE2 (config.toml.tmpl, config-v3.toml.tmpl, which they render into the
 * config.toml they rewrite on every start) is not TOML: the block is appended to it unparsed, and a
 * template made by us is their base template plus the block.
 */
import { bad, INSTALLED_SHIM, RUNTIME_NAME } from './installconfig.js';
import { type ConfigVersion, CRI_PLUGIN, criContainerd, defaultRuntime, isKnownVersion, parseToml, systemdCgroupOf, tableAt, versionOf } from './containerdtoml.js';
import { oneLine } from '../text.js';

const BEGIN = `# BEGIN ${RUNTIME_NAME}:`;
const ADDED = `${BEGIN} added by install.sh --containerd, removed by install.sh --uninstall`;
const MADE = `${BEGIN} file made by install.sh --containerd, removed with it by install.sh --uninstall`;
const END = `# END ${RUNTIME_NAME}`;

/** k3s's and RKE2's whole generated config, as a template of theirs includes it. */
export const TEMPLATE_BASE = '{{ template "base" . }}';
/** The cgroup driver k3s and RKE2 chose for the node, in their template data. */
const TEMPLATE_SYSTEMD = '{{ .SystemdCgroup }}';

export const isTemplate = (file: string): boolean => file.endsWith('.tmpl');

/** What the node tells about the file beyond its text (nodeshape.ts finds it out). */
export interface ContainerdEdit {
  /** The major version of the containerd that reads the file, when known: 2.x adds configured runtimes to its built-in ones. */
  containerdMajor?: number | undefined;
  /** How to make the file when it is not there (a template needs nothing: its name tells its version). */
  make?: { version: ConfigVersion; systemdCgroup: boolean } | undefined;
}

function runtimeLines(version: ConfigVersion, systemdCgroup: string): string[] {
  const table = `plugins."${CRI_PLUGIN[version]}".containerd.runtimes.${RUNTIME_NAME}`;
  return [
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
  ];
}

const block = (begin: string, lines: readonly string[]) => [begin, ...lines, END, ''].join('\n');

/** The text without our block (and the blank line we put before it), and whether we made the file. */
function withoutBlock(text: string, file: string): { rest: string; made: boolean } {
  const start = text.search(new RegExp(`^${BEGIN}`, 'm'));
  if (start < 0) return { rest: text, made: false };
  const end = text.indexOf(`${END}\n`, start);
  if (end < 0) bad(file, `has "${BEGIN}..." without its end line`);
  const before = text.slice(0, start).replace(/\n\n$/, '\n');
  return { rest: before + text.slice(end + END.length + 1), made: text.startsWith(MADE, start) };
}

/** `text` and the block, after a blank line; a last line without its newline gets one. */
function appended(text: string, added: string): string {
  const base = text === '' || text.endsWith('\n') ? text : `${text}\n`;
  return `${base}\n${added}`;
}

/** A template's version: its own version line, else its name (config-v3.toml.tmpl is 3). */
function templateVersion(text: string, file: string): string {
  return /^\s*version\s*=\s*(\d+)/m.exec(text)?.[1] ?? (/-v3\.toml\.tmpl$/.test(file) ? '3' : '2');
}

function configVersion(doc: Record<string, unknown>, file: string): ConfigVersion {
  const v = versionOf(doc);
  if (isKnownVersion(v)) return v;
  const which = v.other === undefined ? '1 (no version line)' : oneLine(String(v.other), 20);
  return bad(file, `config version ${which}: only versions 2 (containerd 1.6, 1.7) and 3 (containerd 2.x) are supported; add the runtime by hand (see deploy/kubernetes/README.md)`);
}

function addToConfig(rest: string, file: string, containerdMajor: number | undefined): string {
  const parsed = parseToml(rest);
  if ('error' in parsed) bad(file, `not TOML: ${parsed.error}`);
  const version = configVersion(parsed.doc, file);
  const plugin = `plugins."${CRI_PLUGIN[version]}".containerd`;
  const runtimes = tableAt(criContainerd(parsed.doc, version), ['runtimes']);
  if (runtimes !== undefined && RUNTIME_NAME in runtimes) bad(file, `already defines a runtime "${RUNTIME_NAME}" that install.sh did not write`);
  // containerd 1.6 and 1.7 take a runtimes table in place of their built-in ones (checked with `config
  // dump`): ours alone would leave no default runtime. 2.x adds it to them (checked with 2.1), so a
  // node known to run 2.x may keep a version 2 file without one (Debian's package ships such a config.toml).
  const { name, table } = defaultRuntime(parsed.doc, version);
  if (version === 2 && table === undefined && (containerdMajor ?? 1) < 2) {
    bad(file, `does not define the default runtime [${plugin}.runtimes.${name}]; adding one runtime would drop the built-in ones of containerd 1.x. Start from \`containerd config default\``);
  }
  // Our runtime must drive cgroups the way kubelet and the default runtime do.
  const out = appended(rest, block(ADDED, runtimeLines(version, String(systemdCgroupOf(parsed.doc, version) === true))));
  // The file may hold the runtimes inline or as dotted keys, which TOML lets no later table extend.
  const check = parseToml(out);
  if ('error' in check) bad(file, `cannot take the runtime as a table [${plugin}.runtimes.${RUNTIME_NAME}]: ${check.error}`);
  return out;
}

function addToTemplate(rest: string, file: string): string {
  if (/runtimes\.["']?agentcgroup["']?\s*\]/.test(rest)) bad(file, `already defines a runtime "${RUNTIME_NAME}" that install.sh did not write`);
  return appended(rest, block(ADDED, runtimeLines(knownTemplateVersion(rest, file), TEMPLATE_SYSTEMD)));
}

function knownTemplateVersion(text: string, file: string): ConfigVersion {
  const named = templateVersion(text, file);
  if (named !== '2' && named !== '3') bad(file, `config version ${named}: only versions 2 and 3 are supported`);
  return Number(named) as ConfigVersion;
}

/** The file as we make it where there was none: all of it inside the block, marked as made. */
function made(file: string, edit: ContainerdEdit): string {
  if (isTemplate(file)) return block(MADE, [TEMPLATE_BASE, '', ...runtimeLines(knownTemplateVersion('', file), TEMPLATE_SYSTEMD)]);
  // Without knowing the node's containerd: a config holding only our runtime would replace 1.6's and 1.7's built-in runtimes.
  if (edit.make === undefined) bad(file, `not there (containerd runs on its defaults); write them first: containerd config default > ${file}`);
  const { version, systemdCgroup } = edit.make;
  return block(MADE, [`version = ${version}`, '', ...runtimeLines(version, String(systemdCgroup))]);
}

/**
 * The file's text (undefined: there is none) with our runtime; the same text when it is already there.
 * `file` names it in messages and tells a template (*.tmpl) from a config.
 */
export function addContainerdRuntime(text: string | undefined, file: string, edit: ContainerdEdit = {}): string {
  if (text === undefined) return made(file, edit);
  const { rest, made: ours } = withoutBlock(text, file);
  // A file we made holds nothing else: made again (the same bytes), or kept where we cannot tell how.
  if (ours && rest === '') return isTemplate(file) || edit.make !== undefined ? made(file, edit) : text;
  return isTemplate(file) ? addToTemplate(rest, file) : addToConfig(rest, file, edit.containerdMajor);
}

/** The text without our block; undefined for a file we made that holds nothing else (the file goes). */
export function removeContainerdRuntime(text: string, file: string): string | undefined {
  const { rest, made: ours } = withoutBlock(text, file);
  return ours && rest === '' ? undefined : rest;
}
