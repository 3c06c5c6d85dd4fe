/**
 * Containers that started uncarved: the hook or the shim failed open (no strict policy), so the
 * container runs without our cgroups. Each leaves one small record, <run_dir>/uncarved/<id>.json, for
 * the daemon to report in `status`, `top` and the metrics: the stderr line the engine may never show
 * is not all that is left of it. Bounded: at most MAX_UNCARVED records, each under MAX_RECORD_BYTES,
 * the reason one line of at most MAX_REASON characters. A record goes at the container's poststop (or
 * the shim's delete), and a sweep removes those whose container's init is gone.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describeError } from '../errors.js';
import { validateContainerId } from '../oci/ids.js';
import { ensurePrivateDir, removeIfExists, replacePrivateFile } from './files.js';

export const MAX_UNCARVED = 64;
export const MAX_REASON = 300;
const MAX_RECORD_BYTES = 4096;

/** Where the container failed open: the hook's stage, or the shim before create. */
export const UNCARVED_STAGES = ['createRuntime', 'poststart', 'shim'] as const;
export type UncarvedStage = (typeof UNCARVED_STAGES)[number];

export interface UncarvedRecord {
  id: string;
  /** ISO 8601. */
  at: string;
  stage: UncarvedStage;
  /** One line: why the carve (or the config edit) failed. */
  reason: string;
  /** The container's init and its start time (clock ticks after boot, /proc/<pid>/stat field 22), when known: the sweep's test of the container's end. */
  pid?: number;
  started?: number;
}

export function uncarvedDir(runDir: string): string {
  return join(runDir, 'uncarved');
}

/** One line, as written: whoever shows it escapes it (text.ts oneLine). */
const cut = (s: string) => s.replace(/[\r\n]+/g, ' ').slice(0, MAX_REASON);

function fileOf(runDir: string, id: string): string {
  return join(uncarvedDir(runDir), `${validateContainerId(id)}.json`);
}

/** starttime of /proc/<pid>/stat, or undefined when the process is gone. The comm may hold anything: fields are counted after its last ')'. */
export function processStart(procRoot: string, pid: number): number | undefined {
  try {
    const stat = readFileSync(join(procRoot, String(pid), 'stat'), 'utf8');
    const v = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes the record; never throws (it runs where the container is already failing open): one line
 * back when it could not be written, or when MAX_UNCARVED others are there already.
 */
export function recordUncarved(
  runDir: string,
  what: { id: string; stage: UncarvedStage; reason: string; pid?: number },
  now: Date,
  procRoot = '/proc',
): string | undefined {
  try {
    const path = fileOf(runDir, what.id);
    const dir = uncarvedDir(runDir);
    ensurePrivateDir(dir, runDir);
    const others = readdirSync(dir).filter((f) => f.endsWith('.json') && f !== `${what.id}.json`);
    if (others.length >= MAX_UNCARVED) return `${others.length} uncarved containers are recorded already: this one is not`;
    const started = what.pid === undefined || what.pid <= 0 ? undefined : processStart(procRoot, what.pid);
    const rec: UncarvedRecord = {
      id: what.id,
      at: now.toISOString(),
      stage: what.stage,
      reason: cut(what.reason),
      ...(what.pid !== undefined && what.pid > 0 ? { pid: what.pid } : {}),
      ...(started === undefined ? {} : { started }),
    };
    replacePrivateFile(path, `${JSON.stringify(rec)}\n`);
    return undefined;
  } catch (err) {
    return `cannot record the container as uncarved: ${describeError(err)}`;
  }
}

/**
 * The container's init, once the runtime has made it, added to a record written before (the shim's,
 * before create): the sweep can then tell the container's end, with no delete of ours to wait for.
 * Never throws; one line back when the record could not be completed.
 */
export function attachUncarvedPid(runDir: string, id: string, pid: number, procRoot = '/proc'): string | undefined {
  try {
    const path = fileOf(runDir, id);
    const rec = parse(readFileSync(path, 'utf8'));
    if (rec === undefined) return `the uncarved record of ${id} is unreadable`;
    const started = processStart(procRoot, pid);
    if (started === undefined) return `the container's init (pid ${pid}) is gone already`;
    replacePrivateFile(path, `${JSON.stringify({ ...rec, pid, started })}\n`);
    return undefined;
  } catch (err) {
    return `cannot complete the uncarved record: ${describeError(err)}`;
  }
}

/** The container's record goes (its poststop, the shim's delete); an invalid id has none. */
export function removeUncarved(runDir: string, id: string): void {
  try {
    removeIfExists(fileOf(runDir, id));
  } catch {
    // No record can exist under an invalid id.
  }
}

function parse(text: string): UncarvedRecord | undefined {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
    validateContainerId(o.id);
  } catch {
    return undefined;
  }
  if (typeof o.at !== 'string' || typeof o.reason !== 'string' || !UNCARVED_STAGES.includes(o.stage as UncarvedStage)) return undefined;
  const int = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : undefined);
  const pid = int(o.pid);
  const started = int(o.started);
  return {
    id: o.id as string,
    at: o.at,
    stage: o.stage as UncarvedStage,
    reason: cut(o.reason),
    ...(pid === undefined ? {} : { pid }),
    ...(started === undefined ? {} : { started }),
  };
}

/** Gone: its init exited, or its pid now names a process started at another time. A record without a pid lives until its delete. */
export function uncarvedEnded(rec: UncarvedRecord, procRoot: string): boolean {
  if (rec.pid === undefined) return false;
  const now = processStart(procRoot, rec.pid);
  return now === undefined || (rec.started !== undefined && now !== rec.started);
}

/**
 * The records of containers still there, sorted by id; those whose container ended are removed on
 * the way (as are unreadable ones and anything else in the directory that is no record).
 */
export function listUncarved(runDir: string, procRoot: string): UncarvedRecord[] {
  const dir = uncarvedDir(runDir);
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return [];
  }
  const live: UncarvedRecord[] = [];
  for (const name of names) {
    const path = join(dir, name);
    let rec: UncarvedRecord | undefined;
    try {
      const st = statSync(path);
      if (st.isFile() && st.size <= MAX_RECORD_BYTES && name.endsWith('.json')) rec = parse(readFileSync(path, 'utf8'));
    } catch {
      continue;
    }
    if (rec && `${rec.id}.json` === name && !uncarvedEnded(rec, procRoot) && live.length < MAX_UNCARVED) live.push(rec);
    else removeQuietly(path);
  }
  return live;
}

function removeQuietly(path: string): void {
  try {
    removeIfExists(path);
  } catch {
    // A directory or a file we may not remove: left alone, and never reported.
  }
}
