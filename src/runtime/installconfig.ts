/**
 * The engine configuration install.sh registers the shim in, as pure text edits: Docker's daemon.json
 * here (one key under "runtimes", every other key kept), containerd's config.toml in containerdconfig.ts.
 * Each edit is undone exactly by its removal, and adding twice gives the same bytes.
 */
import { AgentcgroupError } from '../errors.js';
import { isRecord } from '../oci/validate.js';
import { oneLine, printable } from '../text.js';
import { realpathSync } from 'node:fs';
import { inSea } from '../sea/assets.js';
import { SHIM_LINK_NAME } from './self.js';

export const RUNTIME_NAME = 'agentcgroup';
/**
 * The runtime front engine configs name: install.sh's (and the DaemonSet's, on the host) in
 * /usr/local/bin; the Debian package's in /usr/bin, when this is the package's binary itself.
 */
export const INSTALLED_SHIM = shimPath(inSea() ? realBinary(process.execPath) : undefined);

/** The front beside a binary at `real` (resolved) when that is the package's, else install.sh's. */
export function shimPath(real: string | undefined): string {
  return real === '/usr/bin/agentcgroup' ? `/usr/bin/${SHIM_LINK_NAME}` : `/usr/local/bin/${SHIM_LINK_NAME}`;
}

function realBinary(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/**
 * The runtime front by its path, no runtimeArgs: every verb Docker sends (start, state, kill, delete,
 * each exec) goes to the real runtime without a Node start-up. An entry of an earlier install
 * (`agentcgroup` with runtimeArgs ["runtime"]) is replaced by the next `add`.
 */
export const DOCKER_ENTRY = { path: INSTALLED_SHIM };

/** Refuses an engine config with one line naming the file. */
export function bad(file: string, why: string): never {
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
