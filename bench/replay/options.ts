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

export interface Options {
  traces: string;
  seed: number;
  /** Agent counts tried, in order; the first `max` traces of the pick are the agents. */
  agents: number[];
  budgetMiB: number;
  memoryDiv: number;
  timeDiv: number;
  /** Original trace length kept (seconds). */
  minS: number;
  maxS: number;
  minBash: number;
  modes: Mode[];
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
  out: string;
}

export const DEFAULTS: Options = {
  traces: '/work/shared/traces/agent-traces.jsonl',
  seed: 1,
  agents: [2, 3, 4, 6, 8, 10, 12],
  budgetMiB: 448,
  memoryDiv: 8,
  timeDiv: 20,
  minS: 60,
  maxS: 600,
  minBash: 3,
  modes: ['a', 'b', 'c', 'd'],
  reps: 5,
  overheads: true,
  replay: true,
  peakMargin: 1.05,
  recheck: '200ms',
  init: 'tini',
  out: '',
};

const positive = (flag: string, v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag}: expected a positive number, got ${JSON.stringify(v)}`);
  return n;
};

/** `--flag value` pairs, `--no-overheads` and `--overheads-only` (the later wins); an unknown flag is an error naming it. */
export function parseOptions(argv: readonly string[]): Options {
  const o: Options = { ...DEFAULTS, agents: [...DEFAULTS.agents], modes: [...DEFAULTS.modes] };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
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
        o.seed = Math.floor(positive(flag, v));
        break;
      case '--agents':
        o.agents = v.split(',').map((x) => Math.floor(positive(flag, x)));
        if (o.agents.some((n, k) => k > 0 && n <= o.agents[k - 1]!)) throw new Error(`${flag}: counts must increase, got ${v}`);
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
      case '--modes': {
        const modes = v.split(',');
        for (const m of modes) if (!MODES.includes(m as Mode)) throw new Error(`${flag}: unknown mode ${JSON.stringify(m)} (a, b, c, d)`);
        o.modes = modes as Mode[];
        break;
      }
      default:
        throw new Error(`unknown option ${flag}`);
    }
  }
  return o;
}
