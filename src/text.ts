/**
 * Untrusted text (container ids, call names and argv, paths, policy and annotation values, parser and
 * errno messages) reaches terminals and log lines. One rule says what may not go out raw, and one
 * form shows it instead: `\uXXXX`, which a reader can see and no terminal acts on.
 *
 * Escaped, and why:
 *  - C0 controls U+0000-U+001F and DEL U+007F: ESC starts terminal sequences (rewrite the screen, set
 *    the title), CR and backspace overwrite what was printed, newline and NUL split or end a log line.
 *    Everything we print untrusted text into is one line (a message, a log line, a table cell), so
 *    newline and tab are escaped with the rest.
 *  - C1 controls U+0080-U+009F: U+009B is a one-character CSI on terminals that take 8-bit controls,
 *    U+0085 a line break to some readers.
 *  - What hides or reorders text: zero-width characters and direction marks U+200B-U+200F, bidi
 *    embeddings and overrides U+202A-U+202E, invisible operators and isolates U+2060-U+2069, the BOM
 *    U+FEFF. With them a name can read as another.
 *  - The line and paragraph separators U+2028 and U+2029: line breaks to JavaScript and some viewers.
 * Everything else, other scripts included, is shown as it is.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

const escape = (s: string) => s.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/**
 * Text from outside as part of a line: escaped by the rule above, and when `max` is given cut to that
 * many characters with an ellipsis, so a hostile value cannot flood the line.
 */
export function oneLine(s: string, max?: number): string {
  return escape(max !== undefined && s.length > max ? `${s.slice(0, max)}…` : s);
}

/**
 * A value shown in a message: JSON-quoted, so where it starts and ends stays plain (and control
 * characters read as \n, \t, \u001b), escaped by the rule above, and cut at `max` characters saying
 * how long it was.
 */
export function quote(value: string, max = 60): string {
  return escape(value.length > max ? `${JSON.stringify(value.slice(0, max))}… (${value.length} chars)` : JSON.stringify(value));
}

/** A name leading a message (a file, a key): as it is when nothing in it needs escaping, else quoted. */
export function printable(name: string, max = 200): string {
  return name !== '' && name.length <= max && escape(name) === name ? name : quote(name, max);
}

/** Pure: the JSON object (or array) a text holds; undefined for bad JSON and for a bare value. */
export function jsonObject(text: string): Record<string, unknown> | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
}
