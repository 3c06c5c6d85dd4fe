// One rule for untrusted text on a terminal or a log line (src/text.ts): C0, DEL, C1, zero-width and
// direction characters, bidi overrides and isolates, the BOM and line separators go out as \uXXXX;
// everything else, other scripts included, as it is.
import t from 'tap';
import { oneLine, printable, quote } from '../../src/text.js';
import { PRINTABLE } from '../fixtures/text.js';

const HOSTILE = ['\u0000', '\n', '\r', '\t', '\u001b[2J', '\u007f', '\u0085', '\u009b', '\u200b', '\u200f', '\u2028', '\u2029', '\u202e', '\u2066', '\ufeff'];

// Test names are TAP lines: the characters themselves would break them.
const name = (c: string) => [...c].map((x) => `U+${x.codePointAt(0)!.toString(16).padStart(4, '0')}`).join(' ');

t.test('oneLine escapes every character the rule names, and only those', async (t) => {
  for (const c of HOSTILE) {
    const out = oneLine(`a${c}b`);
    t.ok(/^[\x20-\x7e]*$/.test(out), `${name(c)} -> ${out}`);
    t.ok(PRINTABLE.test(out));
  }
  t.equal(oneLine('x\u001b]0;owned\u0007\u009b2J'), 'x\\u001b]0;owned\\u0007\\u009b2J');
  t.equal(oneLine('Ünïcödé 😀 "q" \\'), 'Ünïcödé 😀 "q" \\', 'other scripts, quotes and backslashes as they are');
  t.equal(oneLine('abcdef', 3), 'abc…', 'cut with an ellipsis');
  t.equal(oneLine('a\nb'.repeat(100)).length, 'a\\u000ab'.length * 100, 'not cut without max');
});

t.test('quote: JSON quoting, then the same rule; cut saying how long it was', async (t) => {
  t.equal(quote('800M'), '"800M"');
  t.equal(quote('a"b\\c'), '"a\\"b\\\\c"');
  t.equal(quote('1M\n\u0000'), '"1M\\n\\u0000"', "JSON's own escapes for C0");
  t.equal(quote('\u007f\u0085\u202e\u2028'), '"\\u007f\\u0085\\u202e\\u2028"', 'what JSON leaves raw is escaped');
  t.equal(quote('y'.repeat(61)), `"${'y'.repeat(60)}"… (61 chars)`);
  t.equal(quote('y'.repeat(5), 3), '"yyy"… (5 chars)');
  for (const c of HOSTILE) t.ok(PRINTABLE.test(quote(c)), name(c));
});

t.test('printable: a name as it is when nothing needs escaping, else quoted', async (t) => {
  t.equal(printable('/etc/agentcgroup/policy.yaml'), '/etc/agentcgroup/policy.yaml');
  t.equal(printable('/tmp/a b.yaml'), '/tmp/a b.yaml');
  t.equal(printable('/tmp/é.yaml'), '/tmp/é.yaml', 'other scripts need no quotes');
  t.equal(printable('/tmp/a\nb'), '"/tmp/a\\nb"');
  t.equal(printable('/tmp/\u202eb'), '"/tmp/\\u202eb"');
  t.equal(printable(''), '""', 'an empty name would be invisible');
  t.equal(printable('z'.repeat(201)), `"${'z'.repeat(200)}"… (201 chars)`);
});
