/**
 * `npm run chaos` flags: `--cycles N --seed S --concurrency K`, `--front` (the hooks are the native
 * hook front, answered by the daemon when it runs) and `--sched-ext` (the daemon runs with policy
 * sched_ext.enable: its scheduler is the system's, and each daemon kill must give the CPU back to the
 * fair class), `--daemon-kill-percent P` (the share of cycles that SIGKILL the daemon, above 0 and below
 * 100; 9 by default); an unknown flag or a bad value is an error.
 */
export interface ChaosFlags {
  cycles: number;
  seed: number;
  concurrency: number;
  front: boolean;
  schedExt: boolean;
  /** Share of cycles that SIGKILL the daemon, in percent (plan.ts). */
  daemonKillPercent: number;
}

export const DEFAULT_FLAGS: Readonly<ChaosFlags> = { cycles: 200, seed: 1, concurrency: 5, front: false, schedExt: false, daemonKillPercent: 9 };

export function parseFlags(argv: readonly string[]): ChaosFlags {
  const o: ChaosFlags = { ...DEFAULT_FLAGS };
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i]!;
    if (flag === '--front' || flag === '--sched-ext') {
      o[flag === '--front' ? 'front' : 'schedExt'] = true;
      i -= 1;
      continue;
    }
    if (flag === '--daemon-kill-percent') {
      const p = Number(argv[i + 1]);
      if (!Number.isInteger(p) || p < 1 || p > 99) throw new Error(`${flag}: expected an integer from 1 to 99, got ${JSON.stringify(argv[i + 1] ?? '')}`);
      o.daemonKillPercent = p;
      continue;
    }
    if (flag !== '--cycles' && flag !== '--seed' && flag !== '--concurrency') throw new Error(`unknown option ${flag} (--cycles, --seed, --concurrency, --front, --sched-ext, --daemon-kill-percent)`);
    const v = Number(argv[i + 1]);
    if (!Number.isInteger(v) || v < 1) throw new Error(`${flag}: expected a positive integer, got ${JSON.stringify(argv[i + 1] ?? '')}`);
    o[flag.slice(2) as 'cycles' | 'seed' | 'concurrency'] = v;
  }
  return o;
}
