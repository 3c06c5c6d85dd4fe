import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { AgentcgroupError } from '../errors.js';
import { globToRegExp } from '../glob.js';
import { type ListenAddress, parseListenAddress } from './listen.js';
import { oneLine, printable, quote } from '../text.js';
import { formatBytes, formatSize, parseSize, SIZE_FORMS } from './size.js';
import type { NriCarve, NriEnable, Policy, Priority, Size } from './types.js';

export const DEFAULT_POLICY_FILE = '/etc/agentcgroup/policy.yaml';

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') Object.values(value).forEach(deepFreeze);
  return Object.freeze(value);
}

const percent = (p: number): Size => ({ kind: 'percent', percent: p });
const MAX: Size = { kind: 'max' };

/** Frozen so no caller can change every later policy by accident; parse and apply work on copies. */
export const DEFAULT_POLICY: Policy = deepFreeze({
  strict: false,
  priority: 'normal',
  session: { memoryHigh: percent(90) },
  agent: { memoryHigh: MAX, memoryMax: MAX, cpuWeight: 100, swapMax: 0 },
  tool: { memoryHigh: percent(70), memoryMax: percent(85), cpuWeight: 100, swapMax: 'max', pidsMax: 4096, oomGroup: true, oomScoreAdjAbove: 500 },
  dependsOn: [],
  ladder: { stallRatio: 0.5, raiseStep: 0.1, freezeAt: 0.9, thawBelow: 0.75, killAt: 0.98, reclaim: true, reclaimStepBytes: 64 * 2 ** 20, deadlineMs: 30_000, recheckMs: 500 },
  tracker: {
    framework: ['*mcp*', '*modelcontextprotocol*'],
    launchers: [
      'tini', 'tini-static', 'docker-init', 'dumb-init', 'catatonit',
      'sh', 'bash', 'dash', 'ash', 'zsh', 'ksh', 'mksh',
      'env', 'nohup', 'setsid', 'su-exec', 'gosu', 'setpriv', 'runuser', 'su', 'sudo', 'chpst', 'nice', 'ionice', 'taskset', 'stdbuf', 'timeout',
      'npx', 'npm', 'pnpm', 'yarn', 'bunx', 'uv', 'uvx', 'pipx', 'poetry', 'pdm', 'hatch', 'corepack',
    ],
    hold: true,
  },
  // What only divides the container's own share; nothing that ranks it against its neighbours.
  annotations: {
    allow: [
      'session.memory_high', 'agent.memory_high', 'agent.memory_max', 'agent.cpu_weight',
      'tool.memory_high', 'tool.memory_max', 'tool.cpu_weight', 'tool.pids_max',
      'tracker.framework', 'tracker.launchers',
    ],
    maxPriority: 'normal',
  },
  limits: { execConnections: 16, toolCalls: 512, argvBytes: 4096, callLogBytes: 16 * 2 ** 20 },
  paths: { runDir: '/run/agentcgroup', callLogDir: '/var/lib/agentcgroup/calls', execClient: '/usr/local/lib/agentcgroup/agentcgroup-exec' },
  metrics: { listen: null },
  shim: { always: false },
  nri: { enable: 'auto', socket: '/var/run/nri/nri.sock', carve: 'auto' },
  schedExt: { enable: false },
});

/** Priorities in order: the daemon freezes and kills the tool calls of lower ranks first. */
export const PRIORITY_RANK: Readonly<Record<Priority, number>> = deepFreeze({ low: 0, normal: 1, high: 2 });

/** One policy setting: its snake_case key path (as in YAML, and after the annotation prefix). */
export interface PolicyKey {
  key: string;
  description: string;
  /** Only the host's policy file may set it: annotations come from the container. */
  hostOnly: boolean;
}

interface Setting extends PolicyKey {
  /** Validates `value` and writes it into `policy`; `where` prefixes any error message. */
  set(policy: Policy, value: unknown, where: string): void;
  /** No longer a setting: still read, so that policy files written before keep loading, but not listed. */
  retired?: true;
}

function fail(where: string, reason: string): never {
  throw new AgentcgroupError('bad-policy', `${where}: ${reason}`);
}

/** A parsed YAML value as shown in a message. */
function show(value: unknown): string {
  if (typeof value === 'string') return quote(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  return value instanceof Map ? 'a mapping' : 'an unsupported value';
}

function bool(value: unknown, where: string): boolean {
  return typeof value === 'boolean' ? value : fail(where, `must be true or false, got ${show(value)}`);
}

function priority(value: unknown, where: string): Priority {
  if (typeof value === 'string' && Object.hasOwn(PRIORITY_RANK, value)) return value as Priority;
  return fail(where, `must be low, normal or high, got ${show(value)}`);
}

const int = (min: number, max: number) => (value: unknown, where: string): number =>
  Number.isInteger(value) && (value as number) >= min && (value as number) <= max
    ? (value as number)
    : fail(where, `must be an integer from ${min} to ${max}, got ${show(value)}`);

// memory.swap.max: bytes (0 is never) or max; a share of the session has no meaning for swap.
function swapSize(value: unknown, where: string): number | 'max' {
  if (value === 0 || (typeof value === 'string' && value.replace(/^[ \t]+|[ \t]+$/g, '') === '0')) return 0;
  const s = sizeOrNone(value, where);
  if (s?.kind === 'max') return 'max';
  if (s?.kind === 'bytes') return s.bytes;
  return fail(where, `must be a size in bytes (0, 512M, 2G) or max, got ${show(value)}`);
}

function countOrMax(value: unknown, where: string): number | 'max' {
  if (value === 'max' || (Number.isSafeInteger(value) && (value as number) > 0)) return value as number | 'max';
  return fail(where, `must be a positive integer or max, got ${show(value)}`);
}

// YAML gives a plain integer as a number; String() hands it to the one size grammar.
function size(value: unknown, where: string): Size {
  if (typeof value === 'string' || typeof value === 'number') return parseSize(String(value), where);
  return fail(where, `must be a size (${SIZE_FORMS}), got ${show(value)}`);
}

// The size grammar's reading of a value, or none: for keys whose own message says what they take.
function sizeOrNone(value: unknown, where: string): Size | undefined {
  try {
    return typeof value === 'string' || typeof value === 'number' ? parseSize(String(value), where) : undefined;
  } catch {
    return undefined;
  }
}

// A size with no session to be a share of: bytes or a binary unit only, so the one message says so
// rather than the size grammar's, which offers percentages and max.
const bytes = (min: number) => (value: unknown, where: string): number => {
  const s = sizeOrNone(value, where);
  if (s?.kind === 'bytes' && s.bytes >= min) return s.bytes;
  return fail(where, `must be a size of at least ${formatBytes(min)} (bytes, 800K, 16M), got ${show(value)}`);
};

// Paths are joined with container ids and created as root: nothing relative, nothing that climbs.
const isPath = (value: unknown): value is string =>
  typeof value === 'string' && value.startsWith('/') && !/[\x00-\x1f\x7f]/.test(value) && !value.split('/').includes('..');

const PATH_FORM = 'an absolute path without control characters or .. segments';

function path(value: unknown, where: string): string {
  return isPath(value) ? value : fail(where, `must be ${PATH_FORM}, got ${show(value)}`);
}

function pathOrOff(value: unknown, where: string): string | null {
  if (value === 'off') return null;
  return isPath(value) ? value : fail(where, `must be off or ${PATH_FORM}, got ${show(value)}`);
}

// A YAML list, or (from an annotation) one comma-separated string.
const listOf = (value: unknown): unknown => (typeof value === 'string' ? value.split(',').map((p) => p.trim()).filter((p) => p !== '') : value);

// Patterns are matched, never used as paths, but still kept printable and short.
function patterns(value: unknown, where: string): string[] {
  const list = listOf(value);
  const ok = (p: unknown) => typeof p === 'string' && p.length > 0 && p.length <= 256 && !/[\x00-\x1f\x7f]/.test(p);
  if (Array.isArray(list) && list.length <= 64 && list.every(ok)) return list as string[];
  return fail(where, `must be a list of up to 64 program patterns (a path with /, else a process name; * matches anything), got ${show(value)}`);
}

// A share written as a percentage ("90%"), as sizes are; kept as a fraction.
function share(value: unknown, where: string): number {
  const m = typeof value === 'string' ? /^(\d{1,3}(?:\.\d+)?)%$/.exec(value.trim()) : null;
  const p = m ? Number(m[1]) : NaN;
  if (p > 0 && p <= 100) return p / 100;
  return fail(where, `must be a percentage above 0 and at most 100 (like 90%), got ${show(value)}`);
}

// "30s", "500ms", "2m": the units an operator would write.
function duration(value: unknown, where: string): number {
  const m = typeof value === 'string' ? /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(value.trim()) : null;
  const ms = m ? Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2] as 'ms' | 's' | 'm'] : NaN;
  if (ms >= 100 && ms <= 3_600_000) return Math.round(ms);
  return fail(where, `must be a duration from 100ms to 60m (like 30s or 500ms), got ${show(value)}`);
}

// Container ids as the hooks see them: validated like ids, since they are compared with records' names.
function ids(value: unknown, where: string): string[] {
  const list = patterns(value, where);
  const bad = list.find((id) => !/^[\w+.-]{1,1024}$/.test(id) || id.includes('..'));
  if (bad !== undefined) fail(where, `must be container ids (letters, digits, _ + . -), got ${quote(bad)}`);
  return list;
}

function listen(value: unknown, where: string): ListenAddress | null {
  if (value === 'off') return null;
  const parsed = parseListenAddress(typeof value === 'string' ? value.trim() : '');
  return parsed.ok ? parsed.address : fail(where, `${parsed.problem}, got ${show(value)}`);
}

// sun_path holds 108 bytes with its NUL; libuv silently cuts a longer path and connects elsewhere.
const MAX_SOCKET_PATH = 107;

function socketPath(value: unknown, where: string): string {
  const p = path(value, where);
  if (Buffer.byteLength(p) <= MAX_SOCKET_PATH) return p;
  return fail(where, `must be at most ${MAX_SOCKET_PATH} bytes, as a unix socket address holds, got ${show(value)}`);
}

function nriEnable(value: unknown, where: string): NriEnable {
  if (value === 'auto' || typeof value === 'boolean') return value;
  return fail(where, `must be auto, true or false, got ${show(value)}`);
}

const NRI_CARVE: readonly NriCarve[] = ['auto', 'daemon', 'hooks'];

function nriCarve(value: unknown, where: string): NriCarve {
  if (NRI_CARVE.includes(value as NriCarve)) return value as NriCarve;
  return fail(where, `must be auto, daemon or hooks, got ${show(value)}`);
}

const CPU_WEIGHT = int(1, 10000);

// Each entry must name at least one key a container could set: a typo would otherwise allow nothing,
// silently. Host-only keys are never allowed, so `tool.*` allows the tool keys that are not.
function allowList(value: unknown, where: string): string[] {
  const list = listOf(value);
  const ok = (p: unknown) => typeof p === 'string' && /^[a-z_.*]{1,64}$/.test(p);
  if (!Array.isArray(list) || list.length > 64 || !list.every(ok)) {
    fail(where, `must be a list of policy keys a container may set, or patterns over them like tool.*, got ${show(value)}`);
  }
  const settable = SETTINGS.filter((s) => !s.hostOnly).map((s) => s.key);
  const idle = (list as string[]).find((p) => !settable.some((k) => globToRegExp(p).test(k)));
  if (idle !== undefined) fail(where, `${quote(idle)} names no key a container may set (host-only keys never are)`);
  return list as string[];
}

// agent.oom_score_adj set the framework below the engine's value (-900), which ranked a container's
// processes against every other on the host. The framework now keeps the engine's value and tool
// calls sit above it. Its old default is what every policy file installed before says, so it still
// loads; any other value was a choice that no longer holds, and is said so.
function retiredOomScoreAdj(_policy: Policy, value: unknown, where: string): void {
  if (value !== -900) fail(where, `retired: the framework keeps the oom_score_adj the engine gave the container and tool calls get tool.oom_score_adj_above more; remove this key, got ${show(value)}`);
}

const EXEC_CONNECTIONS = int(1, 1024);
const RECLAIM_STEP = bytes(2 ** 20);
// Up to the exec protocol's whole request; at least room for a program name and the cut marker.
const ARGV_BYTES = int(256, 65536);
// A few records at the least, or every append would rotate.
const CALL_LOG_BYTES = bytes(64 * 1024);

const SETTINGS: readonly Setting[] = [
  { key: 'strict', hostOnly: true, set: (p, v, w) => { p.strict = bool(v, w); },
    description: 'a hook that cannot carve stops the container instead of running it uncarved' },
  { key: 'priority', hostOnly: false, set: (p, v, w) => { p.priority = priority(v, w); },
    description: 'which containers\' tool calls are frozen and killed first: low, normal or high' },
  { key: 'session.memory_high', hostOnly: false, set: (p, v, w) => { p.session.memoryHigh = size(v, w); },
    description: "memory.high of the whole container, as a share of its memory limit" },
  { key: 'agent.memory_high', hostOnly: false, set: (p, v, w) => { p.agent.memoryHigh = size(v, w); },
    description: "memory.high of the agent framework's cgroup" },
  { key: 'agent.memory_max', hostOnly: false, set: (p, v, w) => { p.agent.memoryMax = size(v, w); },
    description: "memory.max of the agent framework's cgroup" },
  { key: 'agent.cpu_weight', hostOnly: false, set: (p, v, w) => { p.agent.cpuWeight = CPU_WEIGHT(v, w); },
    description: "cpu.weight of the agent framework's cgroup (1 to 10000)" },
  { key: 'agent.swap_max', hostOnly: true, set: (p, v, w) => { p.agent.swapMax = swapSize(v, w); },
    description: "memory.swap.max of the agent framework's cgroup: 0 (never swapped, the default) or a size or max" },
  { key: 'agent.oom_score_adj', hostOnly: true, retired: true, set: retiredOomScoreAdj,
    description: 'retired: the framework keeps the engine\'s oom_score_adj' },
  { key: 'tool.memory_high', hostOnly: false, set: (p, v, w) => { p.tool.memoryHigh = size(v, w); },
    description: "memory.high of each tool call's cgroup" },
  { key: 'tool.memory_max', hostOnly: false, set: (p, v, w) => { p.tool.memoryMax = size(v, w); },
    description: "memory.max of each tool call's cgroup" },
  { key: 'tool.cpu_weight', hostOnly: false, set: (p, v, w) => { p.tool.cpuWeight = CPU_WEIGHT(v, w); },
    description: "cpu.weight of each tool call's cgroup (1 to 10000)" },
  { key: 'tool.swap_max', hostOnly: true, set: (p, v, w) => { p.tool.swapMax = swapSize(v, w); },
    description: "memory.swap.max of each tool call's cgroup: how much of a call may be swapped out (max by default)" },
  { key: 'tool.pids_max', hostOnly: false, set: (p, v, w) => { p.tool.pidsMax = countOrMax(v, w); },
    description: "pids.max of each tool call's cgroup: a positive integer or max" },
  { key: 'tool.oom_group', hostOnly: true, set: (p, v, w) => { p.tool.oomGroup = bool(v, w); },
    description: 'memory.oom.group of each tool call: an OOM kills the whole call' },
  { key: 'tool.oom_score_adj_above', hostOnly: true, set: (p, v, w) => { p.tool.oomScoreAdjAbove = int(0, 1000)(v, w); },
    description: "how far a tool call's oom_score_adj sits above the container's own (0 to 1000, at most 1000 in all)" },
  { key: 'depends_on', hostOnly: false, set: (p, v, w) => { p.dependsOn = ids(v, w); },
    description: 'containers this agent needs: they are not frozen before it (ids, comma-separated in an annotation)' },
  { key: 'ladder.stall_ratio', hostOnly: true, set: (p, v, w) => { p.ladder.stallRatio = share(v, w); },
    description: 'share of an interval fully stalled on memory that counts as a call making no progress' },
  { key: 'ladder.raise_step', hostOnly: true, set: (p, v, w) => { p.ladder.raiseStep = share(v, w); },
    description: "how far a stalled call's memory.high rises per step, as a share of its memory.max" },
  { key: 'ladder.freeze_at', hostOnly: true, set: (p, v, w) => { p.ladder.freezeAt = share(v, w); },
    description: 'budget use at which the lowest-priority tool calls are frozen' },
  { key: 'ladder.thaw_below', hostOnly: true, set: (p, v, w) => { p.ladder.thawBelow = share(v, w); },
    description: 'budget use below which frozen tool calls thaw, highest priority first' },
  { key: 'ladder.reclaim', hostOnly: true, set: (p, v, w) => { p.ladder.reclaim = bool(v, w); },
    description: "push frozen tool calls' memory out (memory.reclaim, to swap) while the budget stays at freeze_at, before any kill" },
  { key: 'ladder.reclaim_step', hostOnly: true, set: (p, v, w) => { p.ladder.reclaimStepBytes = RECLAIM_STEP(v, w); },
    description: 'bytes asked of one frozen call per reclaim step (at least 1M)' },
  { key: 'ladder.kill_at', hostOnly: true, set: (p, v, w) => { p.ladder.killAt = share(v, w); },
    description: 'budget use at which the lowest-priority tool call is killed, the last resort' },
  { key: 'ladder.deadline', hostOnly: true, set: (p, v, w) => { p.ladder.deadlineMs = duration(v, w); },
    description: 'a tool call stalled without progress or frozen this long is ended, with the reason' },
  { key: 'ladder.recheck', hostOnly: true, set: (p, v, w) => { p.ladder.recheckMs = duration(v, w); },
    description: 'how often the daemon looks again while any tool call exists; with none, only kernel events wake it' },
  { key: 'tracker.framework', hostOnly: false, set: (p, v, w) => { p.tracker.framework = patterns(v, w); },
    description: 'programs the framework starts that are part of it, not tool calls (MCP servers by default)' },
  { key: 'tracker.launchers', hostOnly: false, set: (p, v, w) => { p.tracker.launchers = patterns(v, w); },
    description: 'programs that only start the framework: init wrappers, shells, exec helpers, npx and the like' },
  { key: 'tracker.hold', hostOnly: true, set: (p, v, w) => { p.tracker.hold = bool(v, w); },
    description: 'stop a tool call at exec until it is in its own cgroup, so nothing it allocates is charged to the agent' },
  { key: 'annotations.allow', hostOnly: true, set: (p, v, w) => { p.annotations.allow = allowList(v, w); },
    description: 'the keys a container may set by annotation (patterns like tool.* allowed); by default those that only divide its own share' },
  { key: 'annotations.max_priority', hostOnly: true, set: (p, v, w) => { p.annotations.maxPriority = priority(v, w); },
    description: 'the highest priority a container may give itself, when annotations.allow has priority' },
  { key: 'limits.exec_connections', hostOnly: true, set: (p, v, w) => { p.limits.execConnections = EXEC_CONNECTIONS(v, w); },
    description: "open connections on one container's exec socket (1 to 1024); one more is refused" },
  { key: 'limits.tool_calls', hostOnly: true, set: (p, v, w) => { p.limits.toolCalls = countOrMax(v, w); },
    description: "tool calls of one container at once: cgroup.max.descendants of its tools/ cgroup, a positive integer or max" },
  { key: 'limits.argv_bytes', hostOnly: true, set: (p, v, w) => { p.limits.argvBytes = ARGV_BYTES(v, w); },
    description: "bytes of a tool call's command line kept in its records (256 to 65536); longer ones are cut at a whole word" },
  { key: 'limits.call_log_size', hostOnly: true, set: (p, v, w) => { p.limits.callLogBytes = CALL_LOG_BYTES(v, w); },
    description: 'a call log reaching this size is moved to <log>.1, replacing the one before, and begun anew' },
  { key: 'paths.run_dir', hostOnly: true, set: (p, v, w) => { p.paths.runDir = path(v, w); },
    description: 'per-container run state, removed when the container stops' },
  { key: 'paths.call_log_dir', hostOnly: true, set: (p, v, w) => { p.paths.callLogDir = path(v, w); },
    description: 'per-container call logs (JSON lines), kept after the container is gone' },
  { key: 'paths.exec_client', hostOnly: true, set: (p, v, w) => { p.paths.execClient = pathOrOff(v, w); },
    description: 'the in-container exec client, bind-mounted into each container at /run/agentcgroup/agentcgroup-exec when installed there; or off' },
  { key: 'metrics.listen', hostOnly: true, set: (p, v, w) => { p.metrics.listen = listen(v, w); },
    description: 'also serve Prometheus metrics over HTTP on this loopback address and port (127.0.0.1:19464), or off' },
  { key: 'shim.always', hostOnly: true, set: (p, v, w) => { p.shim.always = bool(v, w); },
    description: 'the runtime shim adds the hooks to every container it creates, not only annotated ones' },
  { key: 'nri.enable', hostOnly: true, set: (p, v, w) => { p.nri.enable = nriEnable(v, w); },
    description: "the daemon registers as an NRI plugin of the container runtime: auto (when its socket is there, or once it appears), true (waits for it) or false" },
  { key: 'nri.socket', hostOnly: true, set: (p, v, w) => { p.nri.socket = socketPath(v, w); },
    description: "the runtime's NRI socket" },
  { key: 'nri.carve', hostOnly: true, set: (p, v, w) => { p.nri.carve = nriCarve(v, w); },
    description: 'how the daemon carves a container it sees through NRI: daemon (itself, once the runtime has created it, before it starts), hooks (our OCI hooks added to the container) or auto (daemon for containerd, and for CRI-O unless strict; hooks otherwise)' },
  { key: 'sched_ext.enable', hostOnly: true, set: (p, v, w) => { p.schedExt.enable = bool(v, w); },
    description: "the daemon makes agentcgroup's sched_ext scheduler the system's scheduler while it runs (a kernel with sched_ext recent enough for it: 7.2 is, 6.12 is not): agents' frameworks run ahead of tool calls, tool calls share by priority; false: cpu.weight only" },
];

/** Every policy key, in the order of the shipped policy file, for docs and help. */
export const POLICY_KEYS: readonly PolicyKey[] = SETTINGS.filter((s) => !s.retired).map(({ key, description, hostOnly }) => ({
  key,
  description,
  hostOnly,
}));

const SETTING_BY_KEY = new Map(SETTINGS.map((s) => [s.key, s]));
const SECTIONS = new Set(SETTINGS.filter((s) => s.key.includes('.')).map((s) => s.key.split('.')[0]));

/** Sets one key of `policy` (mutating it) after validating the value; throws bad-policy prefixed with `where`. */
export function setPolicyKey(policy: Policy, key: string, value: unknown, where: string): void {
  const setting = SETTING_BY_KEY.get(key);
  if (!setting) fail(where, 'unknown key');
  setting.set(policy, value, where);
}

export interface MemoryOrderProblem {
  section: 'agent' | 'tool';
  /** Names both keys and both values. */
  reason: string;
}

/**
 * Sections whose memory_high is above their memory_max. Only sizes of one kind compare: 90% against 2G
 * depends on the session, and memory.high max under a finite memory.max is a valid "hard limit only".
 */
export function memoryOrderProblems(policy: Policy): MemoryOrderProblem[] {
  return (['agent', 'tool'] as const).flatMap((section) => {
    const { memoryHigh: high, memoryMax: max } = policy[section];
    const above =
      (high.kind === 'percent' && max.kind === 'percent' && high.percent > max.percent) ||
      (high.kind === 'bytes' && max.kind === 'bytes' && high.bytes > max.bytes);
    if (!above) return [];
    const reason = `${section}.memory_high ${formatSize(high)} is above ${section}.memory_max ${formatSize(max)}`;
    return [{ section, reason }];
  });
}

/** The parsed YAML as [key path, value] pairs: sections are one level deep, so this is the whole walk. */
function entries(doc: unknown, source: string): Array<[string, unknown]> {
  if (doc === null || doc === undefined) return [];
  if (!(doc instanceof Map)) fail(source, `must be a mapping of policy keys, got ${show(doc)}`);
  const out: Array<[string, unknown]> = [];
  for (const [k, v] of doc) {
    const key = typeof k === 'string' ? k : show(k);
    if (!SECTIONS.has(key)) {
      // A dotted top-level key would be a second spelling of a nested one, and one could shadow the other.
      if (key.includes('.')) fail(`${source}: ${printable(key)}`, 'unknown key (nest it under its section)');
      out.push([key, v]);
      continue;
    }
    // `tool:` with every child commented out is an empty section, not an error.
    if (v === null) continue;
    if (!(v instanceof Map)) fail(`${source}: ${key}`, `must be a mapping, got ${show(v)}`);
    for (const [sk, sv] of v) out.push([`${key}.${typeof sk === 'string' ? sk : show(sk)}`, sv]);
  }
  return out;
}

const TOO_DEEP = 'nested too deeply to be a policy';

/** A parser failure as one line. Deep nesting overflows the parser's stack, caught or not. */
function parserProblem(err: unknown): string {
  if (err instanceof RangeError) return TOO_DEEP;
  return firstLine(err instanceof Error ? err.message : String(err));
}

/** The parser quotes the policy text in its messages, bidi overrides and all: escaped here. */
function firstLine(message: string): string {
  return oneLine(message.split('\n')[0] ?? '', 200);
}

export function parsePolicyYaml(text: string, source: string): Policy {
  const src = printable(source);
  const lineCounter = new LineCounter();
  let doc: ReturnType<typeof parseDocument>;
  try {
    doc = parseDocument(text, { prettyErrors: false, lineCounter });
  } catch (err) {
    fail(src, parserProblem(err));
  }
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) {
    const why = problem.code === 'RESOURCE_EXHAUSTION' ? TOO_DEEP : firstLine(problem.message);
    fail(`${src}: line ${lineCounter.linePos(problem.pos[0]).line}`, why);
  }
  let data: unknown;
  try {
    // As Maps, non-string keys stay keys instead of being stringified with a process warning.
    data = doc.toJS({ mapAsMap: true });
  } catch (err) {
    fail(src, parserProblem(err));
  }

  const policy = structuredClone(DEFAULT_POLICY);
  for (const [key, value] of entries(data, src)) setPolicyKey(policy, key, value, `${src}: ${printable(key)}`);
  const [order] = memoryOrderProblems(policy);
  if (order) fail(src, order.reason);
  return policy;
}

/**
 * The host policy. Without `file`, `defaultFile` is optional (no file = defaults); a file the operator
 * named must exist, since silently running on defaults would hide a typo in the path.
 */
/** Far above any real policy (the shipped one is ~4 KiB), so a runaway file cannot stall every container start. */
const MAX_POLICY_BYTES = 1024 * 1024;

function readPolicyText(path: string): string {
  const text = readFileSync(path, 'utf8');
  if (Buffer.byteLength(text) > MAX_POLICY_BYTES) throw Object.assign(new Error('too large'), { code: `larger than ${MAX_POLICY_BYTES / 1024} KiB` });
  return text;
}

export function loadPolicy(file: string | undefined, defaultFile: string = DEFAULT_POLICY_FILE): Policy {
  const path = file ?? defaultFile;
  let text: string;
  try {
    text = readPolicyText(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && file === undefined) return structuredClone(DEFAULT_POLICY);
    const why = code === 'ENOENT' ? 'not found' : `cannot read (${code ?? (err as Error).message})`;
    fail(`policy file ${printable(path)}`, why);
  }
  // Read afresh every time, parsed once per text: the daemon runs a hook per container stage for the
  // native front (daemon/hookop.ts), and parsing the commented YAML costs more than the hook's own
  // work (5 ms here, hundreds under emulation). A policy that fails to parse is never kept.
  const key = `${path}\0${text}`;
  let policy = PARSED.get(key);
  if (policy === undefined) {
    policy = parsePolicyYaml(text, path);
    if (PARSED.size >= PARSED_MAX) PARSED.delete(PARSED.keys().next().value as string);
    PARSED.set(key, policy);
  }
  // A copy each time: no caller's change to its policy reaches another's.
  return structuredClone(policy);
}

const PARSED = new Map<string, Policy>();
const PARSED_MAX = 8;

/**
 * Whether a policy that could not be loaded meant to be strict: a top-level `strict: true` line. A
 * host that asked for strict keeps it through a typo elsewhere in the file (containers do not start
 * unconstrained); a file that cannot be read at all is not strict.
 */
export function policyTextSaysStrict(file: string | undefined, defaultFile: string = DEFAULT_POLICY_FILE): boolean {
  try {
    return /^strict[ \t]*:[ \t]*(true|yes|on)[ \t]*(#.*)?$/im.test(readPolicyText(file ?? defaultFile));
  } catch {
    return false;
  }
}
