/**
 * `npm run chaos` flags: `--cycles N --seed S --concurrency K`, and `--front` (the hooks are the native
 * hook front, answered by the daemon when it runs); an unknown flag or a bad value is an error.
 */
export interface ChaosFlags {
  cycles: number;
  seed: number;
  concurrency: number;
  front: boolean;
}

export const DEFAULT_FLAGS: Readonly<ChaosFlags> = { cycles: 200, seed: 1, concurrency: 5, front: false };

export function parseFlags(argv: readonly string[]): ChaosFlags {
  const o: ChaosFlags = { ...DEFAULT_FLAGS };
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i]!;
    if (flag === '--front') {
      o.front = true;
      i -= 1;
      continue;
    }
    if (flag !== '--cycles' && flag !== '--seed' && flag !== '--concurrency') throw new Error(`unknown option ${flag} (--cycles, --seed, --concurrency, --front)`);
    const v = Number(argv[i + 1]);
    if (!Number.isInteger(v) || v < 1) throw new Error(`${flag}: expected a positive integer, got ${JSON.stringify(argv[i + 1] ?? '')}`);
    o[flag.slice(2) as 'cycles' | 'seed' | 'concurrency'] = v;
  }
  return o;
}
