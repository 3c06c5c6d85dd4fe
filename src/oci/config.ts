/** The bundle's config.json (runtime-spec config.md), reduced to the fields agentcgroup reads. */
import { type Stats, closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { getSystemErrorMap } from 'node:util';
import { AgentcgroupError } from '../errors.js';
import { oneLine, printable } from '../text.js';
import type { HookStage, OciConfig, OciHook, OciHooks } from './types.js';
import {
  absent,
  absolutePath,
  array,
  at,
  integer,
  lineString,
  parseJson,
  record,
  string,
  stringMap,
  type Where,
} from './validate.js';

// Far above any real config (seccomp profiles are the bulky part) yet bounded, since we read it as root.
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

const STAGES: readonly HookStage[] = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];

function parseHook(v: unknown, where: Where): OciHook {
  const obj = record(v, where);
  const hook: OciHook = { path: absolutePath(obj.path, at(where, 'path')) };
  if (!absent(obj.args)) hook.args = array(obj.args, at(where, 'args'), string);
  if (!absent(obj.env)) hook.env = array(obj.env, at(where, 'env'), string);
  if (!absent(obj.timeout)) hook.timeout = integer(obj.timeout, at(where, 'timeout'), 1);
  return hook;
}

// Unknown stages are skipped: newer specs may add some, and we never run hooks we do not know.
function parseHooks(v: unknown, where: Where): OciHooks {
  const hooks: OciHooks = {};
  if (absent(v)) return hooks;
  const obj = record(v, where);
  for (const stage of STAGES) {
    const list = obj[stage];
    if (!absent(list)) hooks[stage] = array(list, at(where, stage), parseHook);
  }
  return hooks;
}

/**
 * Whether a mount hands the container cgroupfs writable. Read leniently, never refused: mounts are the
 * runtime's to validate, and this only decides a warning. Inside its cgroup namespace a container's
 * root cannot touch its own cgroup's limits (the namespace root), but with cgroupfs writable it can
 * rewrite the limits of agent/ and tools/<call> below it, or move a call out of its cgroup.
 */
function cgroupfsWritable(mounts: unknown): boolean {
  if (!Array.isArray(mounts)) return false;
  return mounts.some((m: unknown) => {
    if (typeof m !== 'object' || m === null) return false;
    const { type, destination, options } = m as Record<string, unknown>;
    const isCgroupfs = type === 'cgroup' || type === 'cgroup2' || (destination === '/sys/fs/cgroup' && type === 'bind');
    return isCgroupfs && !(Array.isArray(options) && options.includes('ro'));
  });
}

/**
 * Validates config.json text; `source` names the file in messages. cgroupsPath is only checked to be
 * a single-line string: whether it is absolute, relative or systemd's slice:prefix:name is the runtime's
 * business.
 */
export function parseConfig(text: string, source: string): OciConfig {
  const root: Where = { code: 'bad-config', path: '', source };
  const obj = record(parseJson(text, printable(source), root.code, MAX_CONFIG_BYTES), root);
  const config: OciConfig = {
    ociVersion: string(obj.ociVersion, at(root, 'ociVersion')),
    annotations: stringMap(obj.annotations, at(root, 'annotations')),
    hooks: parseHooks(obj.hooks, at(root, 'hooks')),
    cgroupfsWritable: cgroupfsWritable(obj.mounts),
  };
  if (!absent(obj.linux)) {
    const where = at(root, 'linux');
    const linux = record(obj.linux, where);
    config.linux = absent(linux.cgroupsPath) ? {} : { cgroupsPath: lineString(linux.cgroupsPath, at(where, 'cgroupsPath')) };
  }
  return config;
}

function errnoMeaning(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const known = typeof e.errno === 'number' ? getSystemErrorMap().get(e.errno) : undefined;
  if (known) return `${known[1]} (${known[0]})`;
  return oneLine(e.code ?? (err instanceof Error ? err.message : String(err)), 120);
}

/**
 * Reads a config file as root: opened non-blocking and required to be a regular file no larger than
 * the cap, so a FIFO or /dev/zero planted in a bundle cannot hang or flood a root hook or the shim.
 */
export function readConfigText(file: string): { text: string; stat: Stats } {
  const cannot = (why: string) => new AgentcgroupError('bad-config', `cannot read ${printable(file)}: ${why}`);
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw cannot(errnoMeaning(err));
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw cannot(stat.isDirectory() ? 'is a directory' : 'not a regular file');
    // Counted while reading rather than trusted from fstat: the file may grow in between.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(64 * 1024);
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      total += n;
      if (total > MAX_CONFIG_BYTES) throw cannot(`larger than ${MAX_CONFIG_BYTES / 1024 / 1024} MiB`);
      chunks.push(chunk.subarray(0, n));
    }
    return { text: Buffer.concat(chunks).toString('utf8'), stat };
  } catch (err) {
    if (err instanceof AgentcgroupError) throw err;
    throw cannot(errnoMeaning(err));
  } finally {
    closeSync(fd);
  }
}

/** Reads and validates `<bundle>/config.json`. */
export function readBundleConfig(bundle: string): OciConfig {
  const file = join(absolutePath(bundle, { code: 'bad-config', path: 'bundle' }), 'config.json');
  return parseConfig(readConfigText(file).text, file);
}
