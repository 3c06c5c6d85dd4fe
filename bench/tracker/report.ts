/** What `npm run bench:tracker` prints: the measurements of both modes side by side. Pure. */
import { quantile } from '../replay/stats.js';

export type Mode = 'hold' | 'no hold';
export type Kind = 'dd' | 'python' | 'cache' | 'true';

/** One tool call as measured: what landed on the agent leaf, and its timings. */
export interface Sample {
  mode: Mode;
  kind: Kind;
  /** Bytes charged to the agent leaf by this call (anonymous: 64 MiB minus the call's own peak; cache: the leaf's file pages). */
  agentBytes: number | null;
  /** The framework's wall time around subprocess.run. */
  wallUs: number;
  /** Exec to in its own cgroup (the daemon's placement). */
  placedUs: number | null;
}

const MiB = 1 << 20;
const WHAT: Record<Kind, string> = {
  dd: 'dd bs=64M (allocates at once)',
  python: "python3 b'\\x01' * 64M at start",
  cache: 'cat of a 64 MiB file (page cache)',
  true: 'true',
};

function pct(values: number[], fmt: (v: number) => string): string {
  if (values.length === 0) return 'n/a';
  return `${fmt(quantile(values, 0.5))} / ${fmt(quantile(values, 0.99))}`;
}

const mib = (b: number) => `${(b / MiB).toFixed(2)} MiB`;
const ms = (us: number) => `${(us / 1000).toFixed(1)} ms`;

/** Lines of the report: per kind, p50 / p99 for both modes, and the goal line. */
export function report(samples: readonly Sample[]): string[] {
  const of = (mode: Mode, kind: Kind) => samples.filter((s) => s.mode === mode && s.kind === kind);
  const pad = (s: string, n: number) => s.padEnd(n);
  const W = 40;
  const lines = [`${pad('', W + 2)}${pad('with the hold (p50 / p99)', 30)}without (p50 / p99)`];
  lines.push('bytes charged to the agent leaf per call:');
  for (const kind of ['dd', 'python', 'cache'] as const) {
    const bytes = (mode: Mode) => of(mode, kind).map((s) => s.agentBytes).filter((b): b is number => b !== null);
    lines.push(`  ${pad(WHAT[kind], W)}${pad(pct(bytes('hold'), mib), 30)}${pct(bytes('no hold'), mib)}`);
  }
  lines.push('start latency:');
  const placed = (mode: Mode) => samples.filter((s) => s.mode === mode && s.placedUs !== null).map((s) => s.placedUs!);
  lines.push(`  ${pad('exec -> in its own cgroup', W)}${pad(pct(placed('hold'), ms), 30)}${pct(placed('no hold'), ms)}`);
  const wall = (mode: Mode) => of(mode, 'true').map((s) => s.wallUs);
  lines.push(`  ${pad('true: wall time the framework sees', W)}${pad(pct(wall('hold'), ms), 30)}${pct(wall('no hold'), ms)}`);
  const gained = (q: number) => quantile(wall('hold'), q) - quantile(wall('no hold'), q);
  lines.push(`  ${pad('latency a call gains from the hold', W)}${ms(gained(0.5))} / ${ms(gained(0.99))}`);
  const worst = Math.max(...(['dd', 'python', 'cache'] as const).map((k) => quantile(of('hold', k).map((s) => s.agentBytes ?? Infinity), 0.99)));
  lines.push(`goal: under 1 MiB on the agent leaf per call at p99 with the hold: ${worst < MiB ? 'met' : 'missed'} (worst p99 ${mib(worst)})`);
  return lines;
}
