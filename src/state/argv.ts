/**
 * A call's argv comes from its container (an exec request of up to 64 KiB, a /proc cmdline) and root
 * writes it to host disk twice, in the running marker and in the call log: what is kept is bounded.
 *
 * Bytes are counted as written, each argument JSON-encoded with its separator, so escapes count too
 * (an argument of control characters is six times its length on disk).
 */

/** What one argument (or a prefix of one) takes in the JSON array. */
const cost = (arg: string): number => Buffer.byteLength(JSON.stringify(arg)) + 1;

const ELLIPSIS = '…';

/** The last argument of a cut argv: how much is missing, so nobody reads a cut command as whole. */
export function cutMarker(moreArgs: number, bytes: number): string {
  return `${ELLIPSIS}[${moreArgs} more argument${moreArgs === 1 ? '' : 's'}, ${bytes} bytes not kept]`;
}

/** The longest prefix of `arg` that, with an ellipsis, costs at most `budget`; '' when none does. */
function prefixWithin(arg: string, budget: number): string {
  let out = '';
  let spent = cost(ELLIPSIS);
  for (const ch of arg) {
    const c = cost(ch) - 3; // the character alone, without its quotes and separator
    if (spent + c > budget) break;
    out += ch;
    spent += c;
  }
  return out === '' ? '' : out + ELLIPSIS;
}

/**
 * Pure: `argv` if it fits in `maxBytes`, else its leading whole arguments that fit and a last one
 * saying how many arguments and bytes were not kept. Only a first argument too long on its own is
 * cut inside (with an ellipsis): the program's name is what a reader of the record needs most.
 * The result always fits when `maxBytes` leaves room for the marker (policy asks at least 256), so
 * keeping an argv that was kept before changes nothing.
 */
export function keepArgv(argv: readonly string[], maxBytes: number): string[] {
  const costs = argv.map(cost);
  // The array's brackets, less the separator its last argument does not have.
  const total = 1 + costs.reduce((a, b) => a + b, 0);
  if (argv.length === 0 || total <= maxBytes) return [...argv];
  // Room for the longest marker this argv could need: counts only shrink from here, though a count
  // of 1 shrinking to 0 gains a plural s.
  let budget = maxBytes - 1 - cost(cutMarker(argv.length, total)) - 1;
  const kept: string[] = [];
  let keptBytes = 1;
  for (const [i, arg] of argv.entries()) {
    if (costs[i]! > budget) break;
    kept.push(arg);
    keptBytes += costs[i]!;
    budget -= costs[i]!;
  }
  let whole = kept.length;
  if (whole === 0) {
    const head = prefixWithin(argv[0]!, budget);
    if (head !== '') {
      kept.push(head);
      // What of the original the prefix holds: its cost without the ellipsis.
      keptBytes += cost(head) - (cost(ELLIPSIS) - 3);
      whole = 1;
    }
  }
  return [...kept, cutMarker(argv.length - whole, total - keptBytes)];
}
