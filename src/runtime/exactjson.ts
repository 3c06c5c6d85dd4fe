/**
 * config.json as the shim rewrites it: every number comes back exactly as the engine wrote it.
 * JSON.parse makes each number a double, so a round trip through it changes every integer beyond 2^53
 * and every number a double cannot hold: Docker 28 writes `--ulimit memlock=-1` as
 * 18446744073709551615 (RLIMIT_INFINITY), which JSON.stringify gives back as 18446744073709552000, and
 * runc refuses a config whose rlimit does not fit a uint64; seccomp argument values and masks, memory
 * limits near 2^63 and `1e3`-style spellings go the same way. lossless-json keeps each number as its
 * text (a LosslessNumber) and writes that text back. Loaded only with prepare.ts, so pass-through verbs
 * and the hook never load it.
 */
import { parse, stringify } from 'lossless-json';
import { AgentcgroupError, describeError } from '../errors.js';
import { isRecord } from '../oci/validate.js';
import { oneLine, printable } from '../text.js';

/**
 * The config document, numbers kept as their text. A key given twice keeps its last value, as
 * JSON.parse and Go's encoding/json (runc) read it, where lossless-json would refuse the config.
 */
export function parseExact(text: string, file: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parse(text, null, { onDuplicateKey: ({ newValue }) => newValue });
  } catch (err) {
    // A RangeError (nesting deeper than the stack) as much as a SyntaxError: one line either way.
    throw new AgentcgroupError('bad-config', `${printable(file)}: cannot be read for editing: ${oneLine(describeError(err), 100)}`);
  }
  if (!isRecord(doc)) throw new AgentcgroupError('bad-config', `${printable(file)}: must be a JSON object`);
  return doc;
}

/** A document of parseExact, with whatever was added to it, as compact JSON text. */
export function stringifyExact(doc: Record<string, unknown>): string {
  // Defined for any object: stringify only answers undefined for a function or undefined at the top.
  return stringify(doc) as string;
}
