import t, { type Test } from 'tap';
import { AgentcgroupError } from '../../../src/errors.js';
import { formatBytes, formatSize, parseSize, resolveSize } from '../../../src/config/size.js';

const K = 1024;
const M = K * K;
const G = M * K;

/** The error parseSize throws for `text`, checked to be a one-line bad-policy naming the key. */
function sizeError(t: Test, text: string, key = 'tool.memory_max'): string {
  try {
    parseSize(text, key);
  } catch (err) {
    t.type(err, AgentcgroupError);
    const e = err as AgentcgroupError;
    t.equal(e.code, 'bad-policy');
    t.notMatch(e.message, /[\n\r\0]/, 'one line, no raw control characters');
    t.ok(e.message.startsWith(`${key}: `), `names the key: ${e.message}`);
    return e.message;
  }
  t.fail(`${JSON.stringify(text)} was accepted`);
  return '';
}

t.test('max, bytes, units and percentages', async (t) => {
  t.same(parseSize('max', 'k'), { kind: 'max' });
  t.same(parseSize('1073741824', 'k'), { kind: 'bytes', bytes: G });
  t.same(parseSize('800M', 'k'), { kind: 'bytes', bytes: 800 * M });
  t.same(parseSize('800Mi', 'k'), { kind: 'bytes', bytes: 800 * M });
  t.same(parseSize('512K', 'k'), { kind: 'bytes', bytes: 512 * K });
  t.same(parseSize('2Gi', 'k'), { kind: 'bytes', bytes: 2 * G });
  t.same(parseSize('1T', 'k'), { kind: 'bytes', bytes: 1024 * G });
  t.same(parseSize('1.5Ti', 'k'), { kind: 'bytes', bytes: 1536 * G });
  t.same(parseSize('50%', 'k'), { kind: 'percent', percent: 50 });
  t.same(parseSize('12.5%', 'k'), { kind: 'percent', percent: 12.5 });
  t.same(parseSize('100%', 'k'), { kind: 'percent', percent: 100 });
  t.same(parseSize('0.1%', 'k'), { kind: 'percent', percent: 0.1 });
});

t.test('spaces and tabs around a size are trimmed, nothing else', async (t) => {
  t.same(parseSize('  800M\t', 'k'), { kind: 'bytes', bytes: 800 * M });
  t.same(parseSize(' max ', 'k'), { kind: 'max' });
  t.same(parseSize(' 50% ', 'k'), { kind: 'percent', percent: 50 });
  sizeError(t, '1M\n');
  sizeError(t, '\n1M');
  sizeError(t, '1M\r');
  sizeError(t, '1M\u0000');
  sizeError(t, '\u00a01M');
  sizeError(t, '8 00M');
});

t.test('byte values round down to whole pages and stay at least one page', async (t) => {
  t.same(parseSize('4096', 'k'), { kind: 'bytes', bytes: 4096 });
  t.same(parseSize('8191', 'k'), { kind: 'bytes', bytes: 4096 });
  t.same(parseSize('1.2G', 'k'), { kind: 'bytes', bytes: Math.floor((1.2 * G) / 4096) * 4096 });
  t.equal((parseSize('1.2G', 'k') as { bytes: number }).bytes % 4096, 0);
  t.same(parseSize('4K', 'k'), { kind: 'bytes', bytes: 4096 });
  t.match(sizeError(t, '4095'), /^tool\.memory_max: "4095" is below one page \(4096 bytes\)$/);
  t.match(sizeError(t, '0'), /below one page/, 'zero bytes');
  t.match(sizeError(t, '0.5K'), /below one page/);
  t.match(sizeError(t, '0K'), /below one page/);
});

t.test('the spec example message', async (t) => {
  t.equal(sizeError(t, '12Q'), 'tool.memory_max: "12Q" is not a size (use bytes, 800M, 1.2G, 50% or max)');
});

t.test('everything else is refused with a one-line message naming the key', async (t) => {
  for (const bad of [
    '', ' ', '-1', '-800M', '+1', 'NaN', 'Infinity', '0x1000', '800MB', '1.2g', '800 M',
    'M', '.5G', '5.G', '1,5G', '1K1', 'MAX', 'Max', 'max%', '%', '50 %', '1.5', '1/2G', '50%%', '∞', '1KiB', '1mi',
  ]) {
    t.match(sizeError(t, bad), /is not a size \(use bytes, 800M, 1\.2G, 50% or max\)$/, JSON.stringify(bad));
  }
});

t.test("Kubernetes quantities: Ki..Ti and K..T are binary here; Kubernetes-only spellings say what M means", async (t) => {
  // The binary suffixes mean what Kubernetes means by them.
  t.same(parseSize('512Mi', 'k'), { kind: 'bytes', bytes: 512 * M });
  t.same(parseSize('1Gi', 'k'), { kind: 'bytes', bytes: G });
  t.same(parseSize('64Ki', 'k'), { kind: 'bytes', bytes: 64 * K });
  t.same(parseSize('2Ti', 'k'), { kind: 'bytes', bytes: 2 * 1024 * G });
  // K M G T keep their docker/cgroup meaning (a policy written before stays what it was): 1G is 2^30, not 10^9.
  t.same(parseSize('1G', 'k'), parseSize('1Gi', 'k'));
  t.same(parseSize('512M', 'k'), parseSize('512Mi', 'k'));
  for (const k8s of ['1k', '500m', '100m', '1P', '1Pi', '1E', '1Ei', '1e9', '1E9', '1e+30', '1.5e3', '2E-3', '+1k', '-1k']) {
    const message = sizeError(t, k8s);
    t.equal(message, `tool.memory_max: ${JSON.stringify(k8s)} is not a size (use bytes, 512Mi, 1.2G, 50% or max; units are binary, 1M = 1Mi = 2^20 bytes, not Kubernetes' 10^6)`, k8s);
  }
});

t.test('percentages must be above 0 and at most 100', async (t) => {
  for (const bad of ['0%', '0.0%', '100.1%', '101%', '1000%']) {
    t.match(sizeError(t, bad), /is not a percentage above 0 and at most 100$/, bad);
  }
});

t.test('sizes above 2^53 bytes are refused', async (t) => {
  t.same(parseSize(String(2 ** 52), 'k'), { kind: 'bytes', bytes: 2 ** 52 });
  t.match(sizeError(t, '9007199254740993'), /is too large/);
  t.match(sizeError(t, '9'.repeat(400)), /is too large/);
  t.match(sizeError(t, '8193T'), /is too large/);
  t.match(sizeError(t, `${'9'.repeat(400)}.5G`), /is too large/);
});

t.test('hostile values are quoted, escaped and cut in the message', async (t) => {
  t.match(sizeError(t, '../x'), /^tool\.memory_max: "\.\.\/x" is not a size/);
  t.match(sizeError(t, '1M\n'), /^tool\.memory_max: "1M\\n" is not a size/);
  t.match(sizeError(t, '\u0000'), /^tool\.memory_max: "\\u0000" is not a size/);
  t.match(sizeError(t, '1M\u2028'), /"1M\\u2028"/, 'a line separator is escaped too');
  t.match(sizeError(t, '\u202eG008'), /"\\u202eG008"/, 'a bidi override is escaped');
  const long = sizeError(t, 'x'.repeat(10_000));
  t.ok(long.length < 150, `long value cut: ${long.length} characters`);
  t.match(long, /^tool\.memory_max: "x{60}"… \(10000 chars\) is not a size/, 'cut as every quoted value is (src/text.ts)');
});

t.test('resolveSize: percent of the session, rounded down to pages', async (t) => {
  t.equal(resolveSize({ kind: 'max' }, 8 * G), 'max');
  t.equal(resolveSize({ kind: 'bytes', bytes: 800 * M }, 8 * G), 800 * M, 'bytes as is, even above the session');
  t.equal(resolveSize({ kind: 'percent', percent: 50 }, 8 * G), 4 * G);
  t.equal(resolveSize({ kind: 'percent', percent: 100 }, 8 * G), 8 * G);
  t.equal(resolveSize({ kind: 'percent', percent: 70 }, G), Math.floor((0.7 * G) / 4096) * 4096);
  t.equal((resolveSize({ kind: 'percent', percent: 85 }, 1000 * M) as number) % 4096, 0);
  t.equal(resolveSize({ kind: 'percent', percent: 50 }, 3 * 4096), 4096, '1.5 pages rounds down to 1');
  t.equal(resolveSize({ kind: 'percent', percent: 1 }, 4096), 4096, 'never below one page');
  t.equal(resolveSize({ kind: 'percent', percent: 12.5 }, 2 ** 40), 2 ** 37);
});

t.test('formatBytes: binary units, at most one decimal, no .0', async (t) => {
  t.equal(formatBytes(0), '0');
  t.equal(formatBytes(1023), '1023');
  t.equal(formatBytes(1024), '1K');
  t.equal(formatBytes(4096), '4K');
  t.equal(formatBytes(512 * K), '512K');
  t.equal(formatBytes(900 * M), '900M');
  t.equal(formatBytes(1536 * K), '1.5M');
  t.equal(formatBytes(G), '1G');
  t.equal(formatBytes(1288486912), '1.2G', 'what 1.2G parses to');
  t.equal(formatBytes(M - 1), '1M', 'rounds up into the next unit, not 1024K');
  t.equal(formatBytes(1.25 * G), '1.3G');
  t.equal(formatBytes(3 * 1024 * G), '3T');
  t.equal(formatBytes(2 ** 53), '8192T');
  t.equal(formatBytes('max'), 'max', 'no limit reads as the kernel writes it');
});

t.test('formatSize writes a Size as policy does', async (t) => {
  t.equal(formatSize({ kind: 'max' }), 'max');
  t.equal(formatSize({ kind: 'percent', percent: 12.5 }), '12.5%');
  t.equal(formatSize({ kind: 'bytes', bytes: 900 * M }), '900M');
});
