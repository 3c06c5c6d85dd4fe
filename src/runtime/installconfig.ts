/**
 * The engine configuration install.sh registers the shim in, as pure text edits: Docker's daemon.json
 * (one key under "runtimes", every other key kept) and containerd's config.toml (one marked block).
 * Each edit is undone exactly by its removal, and adding twice gives the same bytes.
 */
import { AgentcgroupError } from '../errors.js';
import { isRecord } from '../oci/validate.js';
import { oneLine, printable } from '../text.js';
import { SHIM_LINK_NAME } from './self.js';

export const RUNTIME_NAME = 'agentcgroup';
export const INSTALLED_BINARY = '/usr/local/bin/agentcgroup';
export const INSTALLED_SHIM = `/usr/local/bin/${SHIM_LINK_NAME}`;

/** Docker puts runtimeArgs before the runtime's own arguments: `agentcgroup runtime --root ... create ...`. */
export const DOCKER_ENTRY = { path: INSTALLED_BINARY, runtimeArgs: ['runtime'] };

function bad(file: string, why: string): never {
  throw new AgentcgroupError('bad-engine-config', `${printable(file)}: ${why}; left unchanged`);
}

function parseDaemonJson(text: string, file: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    bad(file, `not JSON (${oneLine((err as Error).message, 100)})`);
  }
  if (!isRecord(doc)) bad(file, 'must be a JSON object');
  if (doc.runtimes !== undefined && !isRecord(doc.runtimes)) bad(file, '"runtimes" must be an object');
  return doc;
}

/** The file's own indentation, so a rewrite changes only what it must. */
function indentOf(text: string): string {
  return /^\{\s*\n([ \t]+)"/.exec(text)?.[1] ?? '  ';
}

const render = (doc: Record<string, unknown>, like: string) => `${JSON.stringify(doc, null, indentOf(like))}\n`;

/** daemon.json text (empty when absent) with our runtime; the same text when it is already there. */
export function addDockerRuntime(text: string, file: string): string {
  const doc = parseDaemonJson(text, file);
  const runtimes = (doc.runtimes ?? {}) as Record<string, unknown>;
  if (JSON.stringify(runtimes[RUNTIME_NAME]) === JSON.stringify(DOCKER_ENTRY)) return text;
  return render({ ...doc, runtimes: { ...runtimes, [RUNTIME_NAME]: DOCKER_ENTRY } }, text);
}

/** daemon.json text without our runtime (and without "runtimes" if that left it empty); undefined: nothing left, remove the file. */
export function removeDockerRuntime(text: string, file: string): string | undefined {
  const doc = parseDaemonJson(text, file);
  const runtimes = (doc.runtimes ?? {}) as Record<string, unknown>;
  if (!(RUNTIME_NAME in runtimes)) return text;
  if (doc['default-runtime'] === RUNTIME_NAME) bad(file, `"default-runtime" is "${RUNTIME_NAME}": set it back (to runc) first, or dockerd will not start without the runtime`);
  const { [RUNTIME_NAME]: _ours, ...others } = runtimes;
  // Every key where it was: "runtimes" replaced in place, or dropped once empty.
  const entries = Object.entries(doc).flatMap(([k, v]): [string, unknown][] => (k !== 'runtimes' ? [[k, v]] : Object.keys(others).length > 0 ? [[k, others]] : []));
  return entries.length > 0 ? render(Object.fromEntries(entries), text) : undefined;
}

// containerd 1.6/1.7 (config version 2). Not a drop-in under conf.d: containerd's `imports` replace a
// plugin's whole section (checked with containerd 1.6 `config dump`: an imported runtime table drops
// the main file's sandbox_image and runtimes), so the runtime must live in config.toml itself.
const CRI = 'plugins."io.containerd.grpc.v1.cri".containerd';
const BEGIN = `# BEGIN ${RUNTIME_NAME}: added by install.sh --containerd, removed by install.sh --uninstall`;
const END = `# END ${RUNTIME_NAME}`;

function containerdBlock(systemdCgroup: boolean): string {
  return [
    BEGIN,
    `# The shim as a CRI runtime handler (RuntimeClass handler "${RUNTIME_NAME}"): containerd's runc shim runs`,
    `# ${INSTALLED_SHIM}, which is agentcgroup behaving as \`agentcgroup runtime\` in front of runc.`,
    `[${CRI}.runtimes.${RUNTIME_NAME}]`,
    '  runtime_type = "io.containerd.runc.v2"',
    '  # The annotations the shim and hooks read (io.agentcgroup.enable and policy keys), passed into config.json.',
    '  pod_annotations = ["io.agentcgroup.*"]',
    '  container_annotations = ["io.agentcgroup.*"]',
    '',
    `[${CRI}.runtimes.${RUNTIME_NAME}.options]`,
    `  BinaryName = "${INSTALLED_SHIM}"`,
    `  SystemdCgroup = ${systemdCgroup}`,
    END,
    '',
  ].join('\n');
}

interface Section {
  /** The table name with quotes and spaces removed: plugins.io.containerd.grpc.v1.cri.containerd. */
  key: string;
  body: string;
}

/** Top-level tables of a TOML text, by header; enough to find runtimes without a TOML parser. */
function sections(text: string): Section[] {
  const out: Section[] = [{ key: '', body: '' }];
  for (const line of text.split('\n')) {
    const header = /^\s*\[([^[\]]+)\]\s*(#.*)?$/.exec(line);
    if (header) out.push({ key: (header[1] as string).replace(/["'\s]/g, ''), body: '' });
    else (out.at(-1) as Section).body += `${line}\n`;
  }
  return out;
}

/** config.toml without our block, and the block's bounds; the blank line we put before it goes too. */
function withoutBlock(text: string, file: string): { rest: string; had: boolean } {
  const start = text.indexOf(BEGIN);
  if (start < 0) return { rest: text, had: false };
  const end = text.indexOf(`${END}\n`, start);
  if (end < 0) bad(file, `has "${BEGIN.slice(0, 24)}..." without its end line`);
  const before = text.slice(0, start).replace(/\n\n$/, '\n');
  return { rest: before + text.slice(end + END.length + 1), had: true };
}

/** config.toml text with our runtime block; the same text when it is already there. */
export function addContainerdRuntime(text: string, file: string): string {
  const { rest } = withoutBlock(text, file);
  const version = /^\s*version\s*=\s*(\d+)/m.exec(rest)?.[1];
  if (version !== '2') {
    bad(file, `config version ${version ?? '1 (no version line)'}: only version 2 (containerd 1.6 and 1.7) is supported; add the runtime by hand (see deploy/kubernetes/README.md)`);
  }
  const tables = sections(rest);
  const cri = CRI.replace(/["'\s]/g, '');
  const defaultName = /^\s*default_runtime_name\s*=\s*"([^"]+)"/m.exec(rest)?.[1] ?? 'runc';
  if (tables.some((s) => s.key === `${cri}.runtimes.${RUNTIME_NAME}`)) bad(file, `already defines a runtime "${RUNTIME_NAME}" that install.sh did not write`);
  // A runtimes table of ours alone would replace containerd's built-in runtimes map, default included.
  if (!tables.some((s) => s.key === `${cri}.runtimes.${defaultName}`)) {
    bad(file, `does not define the default runtime [${CRI}.runtimes.${defaultName}]; adding one runtime would drop the built-in ones. Start from \`containerd config default\``);
  }
  const options = tables.find((s) => s.key === `${cri}.runtimes.${defaultName}.options`);
  // Our runtime must drive cgroups the way kubelet and the default runtime do.
  const systemd = /^\s*SystemdCgroup\s*=\s*true\b/m.test(options?.body ?? '');
  const base = rest === '' || rest.endsWith('\n') ? rest : `${rest}\n`;
  return `${base}\n${containerdBlock(systemd)}`;
}

/** config.toml text without our block. */
export function removeContainerdRuntime(text: string, file: string): string {
  return withoutBlock(text, file).rest;
}
