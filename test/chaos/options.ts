/** `npm run chaos` flags: `--cycles N --seed S --concurrency K`; an unknown flag or a bad value is an error. */
export interface ChaosFlags {
  cycles: number;
  seed: number;
  concurrency: number;
}

export const DEFAULT_FLAGS: Readonly<ChaosFlags> = { cycles: 200, seed: 1, concurrency: 5 };

export function parseFlags(argv: readonly string[]): ChaosFlags {
  const o: ChaosFlags = { ...DEFAULT_FLAGS };
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i]!;
    if (flag !== '--cycles' && flag !== '--seed' && flag !== '--concurrency') throw new Error(`unknown option ${flag} (--cycles, --seed, --concurrency)`);
    const v = Number(argv[i + 1]);
    if (!Number.isInteger(v) || v < 1) throw new Error(`${flag}: expected a positive integer, got ${JSON.stringify(argv[i + 1] ?? '')}`);
    o[flag.slice(2) as keyof ChaosFlags] = v;
  }
  return o;
}
