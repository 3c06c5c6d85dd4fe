/**
 * The swap a replay ran with, as its report says it: the reclaim rung pushes frozen calls' memory to
 * swap, and the kernel's own reclaim uses it in every mode, so a result means little without it. Pure:
 * /proc/swaps and what the bench set up in, one line out.
 */
import { parseSwaps } from '../../src/doctor/evaluate.js';
import type { Zram } from '../../test/integration/zram.js';


export interface SwapSetUp {
  /** The zram device the bench set up, and its compressor; absent: it set none up. */
  zram?: Zram;
  native: boolean;
}

const gib = (kib: number) => `${(kib / (1 << 20)).toFixed(1)} GiB`;

/** One line: the swap devices /proc/swaps lists, and who set them up. */
export function swapLine(procSwaps: string, how: SwapSetUp): string {
  const devices = parseSwaps(procSwaps);
  if (devices.length === 0) return `none (/proc/swaps lists no device${how.native ? " on this host" : ''}: the reclaim rung can free page cache only)`;
  const list = devices.map((d) => (d.name === how.zram?.device ? `${d.name} (zram, ${how.zram.algorithm}, ${gib(d.sizeKiB)})` : `${d.name} (${d.type}, ${gib(d.sizeKiB)})`)).join(', ');
  const who = how.zram ? 'set up by the bench before the first run, for every mode alike' : how.native ? "this host's own, as it was (--native leaves it alone)" : 'already there';
  return `${list}; ${who}`;
}
