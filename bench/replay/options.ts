/** Command-line options of the replay bench (the guest's environment is clean: settings come as flags). Pure. */
import { INITS, type Init } from './init.js';

export type Mode = 'a' | 'b' | 'c' | 'd';
export const MODES: readonly Mode[] = ['a', 'b', 'c', 'd'];

export const MODE_NAMES: Record<Mode, string> = {
  a: '(a) no limits',
  b: '(b) static max = own peak',
  c: '(c) static max = equal share',
  d: '(d) agentcgroup',
};

/**
 * A mode as one run sets it up: `k`, memory.oom.group=1 on each container cgroup, as kubelet sets it on
 * cgroup v2 (an OOM anywhere in the container kills all of it: the agent is lost); `p` (agentcgroup
 * only), the priority mix: half the agents annotated high, half low; `r` (agentcgroup only), the
 * ladder's reclaim rung: frozen calls' memory pushed out to swap before any kill. Without `r`
 * agentcgroup runs plain freeze (ladder.reclaim false), so `dk` and `dkr` differ by the rung alone.
 */
export interface Variant {
  key: string;
  mode: Mode;
  oomGroup: boolean;
  priorities: boolean;
  reclaim: boolean;
}

export const VARIANT_KEYS = ['a', 'ak', 'b', 'bk', 'c', 'ck', 'd', 'dk', 'dp', 'dkp', 'dr', 'dkr', 'dpr', 'dkpr'] as const;
/** Every mode, and each also as kubelet runs it; agentcgroup as kubelet runs it with the priority mix. */
export const DEFAULT_VARIANTS = ['a', 'ak', 'b', 'bk', 'c', 'ck', 'd', 'dk', 'dkp'] as const;

export function parseVariant(key: string): Variant {
  const m = /^([abcd])(k?)(p?)(r?)$/.exec(key);
  if (!m || ((m[3] || m[4]) && m[1] !== 'd')) throw new Error(`--modes: unknown mode ${JSON.stringify(key)} (${VARIANT_KEYS.join(', ')})`);
  return { key, mode: m[1] as Mode, oomGroup: m[2] === 'k', priorities: m[3] === 'p', reclaim: m[4] === 'r' };
}

export const variantName = (v: Variant): string =>
  `${MODE_NAMES[v.mode]}${v.oomGroup ? ', oom.group' : ''}${v.priorities ? ', priorities' : ''}${v.reclaim ? ', reclaim rung' : ''}`;

/**
 * The host policy the daemon and hooks of an agentcgroup run read (the rest is the shipped default).
 * ladder.reclaim is written either way: its default is true, and a plain-freeze run must say false.
 * Agents may rank themselves (the priority mix) only because this policy allows it.
 */
export const hostPolicy = (recheck: string, v: Pick<Variant, 'reclaim'>): string =>
  `ladder:\n  recheck: ${recheck}\n  reclaim: ${v.reclaim}\nannotations:\n  allow: [priority]\n  max_priority: high\n`;

/**
 * Swap in the guest, set up once before every mode (so the baselines run on the same host): `zram`, a
 * compressed swap device in RAM of `zramBytes`; `none`, no swap set up (with --native, the host's own
 * swap as it is: the bench never touches a real host's).
 */
export type Swap = 'zram' | 'none';
export const SWAPS: readonly Swap[] = ['zram', 'none'];

/** The shape of a tool call's memory: as sampled (ramps between samples), or all of it at once. */
export type Shape = 'ramp' | 'burst' | 'mixed';
export const SHAPES: readonly Shape[] = ['ramp', 'burst', 'mixed'];

export interface Options {
  traces: string;
  /** Each seed picks its own agents and runs the whole search: the spread across seeds is reported. */
  seeds: number[];
  /** Agent counts tried first, in order; the first k traces of the pick are the agents of a run with k. */
  agents: number[];
  /**
   * After the listed counts, the search goes on by this many agents (0: the last gap of the list)
   * until every mode has stopped or `maxAgents` (and the traces eligible) run out.
   */
  grow: number;
  maxAgents: number;
  budgetMiB: number;
  memoryDiv: number;
  timeDiv: number;
  /** Original trace length kept (seconds). */
  minS: number;
  maxS: number;
  minBash: number;
  modes: Variant[];
  shape: Shape;
  /** Repetitions of each overhead measurement (medians are reported). */
  reps: number;
  overheads: boolean;
  /** false (--overheads-only): the overheads alone, no trace replay. */
  replay: boolean;
  /** (b)'s memory.max: the agent's memory.peak run alone, times this. */
  peakMargin: number;
  /** ladder.recheck given to the daemon in mode (d). */
  recheck: string;
  /** The agent containers' init wrapper (none: the framework is PID 1). */
  init: Init;
  /** On this host's own cgroup v2 tree, in a subtree the bench makes and removes: no qemu, no staging. */
  native: boolean;
  /** Default: zram when a mode has the reclaim rung (it needs somewhere to push memory), else none. */
  swap: Swap;
  /** zram's disksize: uncompressed capacity; at ~3:1 it takes about a third of that in RAM, full. */
  zramBytes: number;
  out: string;
}

export const DEFAULTS: Options = {
  traces: '/work/shared/traces/agent-traces.jsonl',
  seeds: [1, 2, 3],
  agents: [2, 4, 6, 8, 10, 12],
  grow: 0,
  maxAgents: 40,
  budgetMiB: 448,
  memoryDiv: 8,
  timeDiv: 20,
  minS: 60,
  maxS: 600,
  minBash: 3,
  modes: DEFAULT_VARIANTS.map(parseVariant),
  shape: 'mixed',
  reps: 5,
  overheads: true,
  replay: true,
  peakMargin: 1.05,
  recheck: '200ms',
  init: 'tini',
  native: false,
  swap: 'none',
  // Twice the default budget: room for every frozen call's memory; ~350 MB of the guest's 2048 when full.
  zramBytes: 1 << 30,
  out: '',
};

const counts = (flag: string, v: string): number[] => {
  const n = v.split(',').map((x) => Math.floor(positive(flag, x)));
  if (n.some((k, i) => i > 0 && k <= n[i - 1]!)) throw new Error(`${flag}: counts must increase, got ${v}`);
  return n;
};

/** A size as zram's disksize takes it: bytes, or a number with K, M or G (binary). */
function size(flag: string, v: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(v);
  const bytes = m ? Number(m[1]) * 1024 ** ' KMG'.indexOf((m[2] || ' ').toUpperCase()) : 0;
  if (bytes < 1 << 20) throw new Error(`${flag}: expected a size of at least 1M, like 512M or 1G, got ${JSON.stringify(v)}`);
  return bytes;
}

const positive = (flag: string, v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag}: expected a positive number, got ${JSON.stringify(v)}`);
  return n;
};

/**
 * `--flag value` pairs, `--no-overheads` and `--overheads-only` (the later wins), `--native`; an unknown
 * flag is an error naming it.
 */
export function parseOptions(argv: readonly string[]): Options {
  const o: Options = { ...DEFAULTS, seeds: [...DEFAULTS.seeds], agents: [...DEFAULTS.agents], modes: [...DEFAULTS.modes] };
  let swap: Swap | undefined;
  let zramSize = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--native') {
      o.native = true;
      continue;
    }
    if (flag === '--no-overheads' || flag === '--overheads-only') {
      o.overheads = flag === '--overheads-only';
      o.replay = flag === '--no-overheads';
      continue;
    }
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${flag}: missing value`);
    i++;
    switch (flag) {
      case '--traces':
        o.traces = v;
        break;
      case '--out':
        o.out = v;
        break;
      case '--seed':
        o.seeds = [Math.floor(positive(flag, v))];
        break;
      case '--seeds':
        o.seeds = counts(flag, v);
        break;
      case '--agents':
        o.agents = counts(flag, v);
        break;
      case '--grow':
        o.grow = v === '0' ? 0 : Math.floor(positive(flag, v));
        break;
      case '--max-agents':
        o.maxAgents = Math.floor(positive(flag, v));
        break;
      case '--shape':
        if (!SHAPES.includes(v as Shape)) throw new Error(`${flag}: expected ${SHAPES.join(', ')}, got ${JSON.stringify(v)}`);
        o.shape = v as Shape;
        break;
      case '--budget':
        o.budgetMiB = positive(flag, v);
        break;
      case '--memory-div':
        o.memoryDiv = positive(flag, v);
        break;
      case '--time-div':
        o.timeDiv = positive(flag, v);
        break;
      case '--min-s':
        o.minS = positive(flag, v);
        break;
      case '--max-s':
        o.maxS = positive(flag, v);
        break;
      case '--min-bash':
        o.minBash = Math.floor(positive(flag, v));
        break;
      case '--reps':
        o.reps = Math.floor(positive(flag, v));
        break;
      case '--peak-margin':
        o.peakMargin = positive(flag, v);
        break;
      case '--recheck':
        if (!/^\d+(ms|s)$/.test(v)) throw new Error(`${flag}: expected a duration like 200ms, got ${JSON.stringify(v)}`);
        o.recheck = v;
        break;
      case '--init':
        if (!INITS.includes(v as Init)) throw new Error(`${flag}: expected ${INITS.join(' or ')}, got ${JSON.stringify(v)}`);
        o.init = v as Init;
        break;
      case '--swap':
        if (!SWAPS.includes(v as Swap)) throw new Error(`${flag}: expected ${SWAPS.join(' or ')}, got ${JSON.stringify(v)}`);
        swap = v as Swap;
        break;
      case '--zram-size':
        o.zramBytes = size(flag, v);
        zramSize = true;
        break;
      case '--modes': {
        o.modes = v.split(',').map(parseVariant);
        const twice = o.modes.find((m, k) => o.modes.findIndex((x) => x.key === m.key) !== k);
        if (twice) throw new Error(`${flag}: ${twice.key} given twice`);
        break;
      }
      default:
        throw new Error(`unknown option ${flag}`);
    }
  }
  if (o.agents.at(-1)! > o.maxAgents) throw new Error(`--agents: ${o.agents.at(-1)} is above --max-agents ${o.maxAgents}`);
  o.swap = swapOf(o, swap);
  if (zramSize && o.swap !== 'zram') throw new Error('--zram-size: only with --swap zram');
  return o;
}

/** --swap as given, else zram when a mode has the reclaim rung; --native never sets swap up on a real host. */
function swapOf(o: Pick<Options, 'modes' | 'native'>, given: Swap | undefined): Swap {
  if (o.native && given === 'zram') throw new Error("--swap zram: --native leaves this host's swap as it is (the report says what /proc/swaps lists)");
  return given ?? (!o.native && o.modes.some((m) => m.reclaim) ? 'zram' : 'none');
}

/**
 * The density search's next agent count after `last` (none tried yet: undefined): the next listed
 * count, then `grow` (or the list's last gap) more at a time, up to `max`. undefined: the search is over.
 */
export function nextCount(o: Pick<Options, 'agents' | 'grow'>, last: number | undefined, max: number): number | undefined {
  const listed = o.agents.find((n) => last === undefined || n > last);
  const gap = o.agents.length > 1 ? o.agents.at(-1)! - o.agents.at(-2)! : 1;
  const next = listed ?? (last ?? 0) + (o.grow || gap);
  return next <= max ? next : undefined;
}
