/**
 * What each chaos cycle does, decided up front from the seed (pure): which runtime, which faults, which
 * tool calls. The timing of a real kernel under emulation is not reproducible; the plan is.
 */
import { rng } from '../../src/plan/traces.js';

/** What happens to a running container, on top of its tool calls. */
export const FAULTS = ['none', 'kill-call', 'kill-init', 'runtime-kill', 'delete-force', 'kill-runtime-delete'] as const;
export type Fault = (typeof FAULTS)[number];

export const HOOK_KILLS = ['none', 'createRuntime', 'poststop'] as const;
export type HookKill = (typeof HOOK_KILLS)[number];

export interface CallPlan {
  /** Seconds the call sleeps before it allocates: a fault may land in either half. */
  sleepS: number;
  /** dd's block: allocated once and held while dd copies `count` blocks. */
  mib: number;
  count: number;
  /** `agentcgroup exec --container` from the host instead of a call the agent forks itself. */
  viaExec: boolean;
}

export interface CyclePlan {
  index: number;
  id: string;
  runtime: 'crun' | 'runc';
  hookKill: HookKill;
  /** Seconds after its start that the chosen hook is SIGKILLed (it may have finished by then). */
  hookKillAfterS: number;
  calls: CallPlan[];
  fault: Fault;
  /** Seconds after the container started that the fault strikes. */
  faultAfterS: number;
  /** For kill-runtime-delete: seconds into `delete` that the runtime is SIGKILLed. */
  runtimeKillAfterS: number;
  /** SIGKILL the daemon during this cycle: after this many seconds, down for `daemonDownS`. */
  daemonKillAfterS: number | null;
  daemonDownS: number;
}

export interface PlanOptions {
  cycles: number;
  seed: number;
  /** Container ids are `<prefix>-<index>`. */
  prefix: string;
  /**
   * Share of cycles that SIGKILL the daemon, in percent (default 9): more where the daemon's death is
   * what is under test (the sched_ext run). The faults, hook kills and runtimes stay the seed's (the
   * timings and calls drawn after a kill's moment do not).
   */
  daemonKillPercent?: number;
}

type Weights<K extends string> = Readonly<Record<K, number>>;

export const FAULT_WEIGHTS: Weights<Fault> = {
  none: 30,
  'kill-call': 20,
  'kill-init': 15,
  'runtime-kill': 10,
  'delete-force': 15,
  'kill-runtime-delete': 10,
};
export const HOOK_KILL_WEIGHTS: Weights<HookKill> = { none: 82, createRuntime: 10, poststop: 8 };
export const DAEMON_KILL_PERCENT = 9;
const RUNTIME_WEIGHTS: Weights<'crun' | 'runc'> = { crun: 75, runc: 25 };

/**
 * `n` draws by weight in which every kind of positive weight appears at least once when `n` allows,
 * shuffled: a short run still covers every kind of fault, a long one has them in proportion.
 */
export function deck<K extends string>(next: () => number, n: number, weights: Weights<K>): K[] {
  const kinds = (Object.keys(weights) as K[]).filter((k) => weights[k] > 0);
  const total = kinds.reduce((sum, k) => sum + weights[k], 0);
  const draw = (): K => {
    let x = next() * total;
    for (const k of kinds) {
      x -= weights[k];
      if (x < 0) return k;
    }
    return kinds[kinds.length - 1]!;
  };
  const out: K[] = n >= kinds.length ? [...kinds] : [];
  while (out.length < n) out.push(draw());
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export function planChaos(o: PlanOptions): CyclePlan[] {
  if (!Number.isInteger(o.cycles) || o.cycles < 1) throw new Error(`cycles must be a positive integer, not ${o.cycles}`);
  const killPercent = o.daemonKillPercent ?? DAEMON_KILL_PERCENT;
  if (!(killPercent > 0 && killPercent < 100)) throw new Error(`daemonKillPercent must be above 0 and below 100, not ${killPercent}`);
  const next = rng(o.seed);
  const between = (lo: number, hi: number) => Math.round((lo + next() * (hi - lo)) * 100) / 100;
  const faults = deck(next, o.cycles, FAULT_WEIGHTS);
  const hookKills = deck(next, o.cycles, HOOK_KILL_WEIGHTS);
  // With both kinds weighed above 0 a deck takes as many draws whatever the weights: the decks after it stay the seed's.
  const daemonKills = deck(next, o.cycles, { no: 100 - killPercent, yes: killPercent });
  const runtimes = deck(next, o.cycles, RUNTIME_WEIGHTS);
  return faults.map((fault, index) => {
    const calls = Array.from({ length: 1 + Math.floor(next() * 3) }, () => ({
      sleepS: between(0.2, 2),
      mib: 32 * (1 + Math.floor(next() * 3)),
      count: 4 + Math.floor(next() * 12),
      viaExec: next() < 0.15,
    }));
    return {
      index,
      id: `${o.prefix}-${index}`,
      runtime: runtimes[index]!,
      hookKill: hookKills[index]!,
      // Node starts in about half a second in the guest: kills land before, during and after the work.
      hookKillAfterS: between(0.2, 2.5),
      calls,
      fault,
      faultAfterS: between(0.3, 3),
      runtimeKillAfterS: between(0.02, 1.5),
      daemonKillAfterS: daemonKills[index] === 'yes' ? between(0, 4) : null,
      daemonDownS: between(0, 3),
    };
  });
}
