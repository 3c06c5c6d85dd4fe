// A container controls its calls' argv (an exec request, its cmdline): what root keeps of it is bounded,
// cut at whole arguments with a marker saying what is missing, whoever writes the marker or the record.
import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cutOffRecord } from '../../../src/exec/record.js';
import { cutMarker, keepArgv } from '../../../src/state/argv.js';
import { type RunningCall, StateStore } from '../../../src/state/records.js';

/** Bytes of an argv as the records hold it: the JSON array. */
const written = (argv: string[]) => Buffer.byteLength(JSON.stringify(argv));

t.test('an argv that fits is kept as it is', async (t) => {
  const argv = ['pytest', '-x', 'tests/'];
  t.same(keepArgv(argv, 256), argv);
  t.not(keepArgv(argv, 256), argv, 'a copy: the caller may change its own');
  t.same(keepArgv([], 256), []);
});

t.test('a long argv keeps its leading whole arguments and says what was cut', async (t) => {
  const argv = ['grep', '-r', ...Array.from({ length: 100 }, (_, i) => `pattern-${i}`)];
  const kept = keepArgv(argv, 256);
  const marker = kept.at(-1)!;
  t.match(marker, /^…\[\d+ more arguments, \d+ bytes not kept\]$/);
  const whole = kept.slice(0, -1);
  t.same(whole, argv.slice(0, whole.length), 'a prefix of whole arguments');
  t.ok(whole.length >= 2, `kept ${whole.length} arguments`);
  t.equal(marker, cutMarker(argv.length - whole.length, written(argv) - written(whole)), 'counts what is missing');
  t.ok(written(kept) <= 256, `${written(kept)} bytes`);
});

t.test('a first argument too long on its own is cut inside, at a character', async (t) => {
  const kept = keepArgv(['é'.repeat(1000), '--flag'], 256);
  t.equal(kept.length, 2);
  t.match(kept[0], /^é+…$/, 'the program name, cut with an ellipsis');
  t.match(kept[1], /^…\[1 more argument, \d+ bytes not kept\]$/);
  t.ok(written(kept) <= 256);
  t.match(keepArgv(['x'.repeat(5000)], 256)[1], /^…\[0 more arguments, /);
});

t.test('escapes count: control characters take six bytes each on disk', async (t) => {
  const argv = ['sh', '\u0001'.repeat(100)];
  t.ok(written(argv) > 256 && argv.join('').length < 256, 'short in characters, long as JSON');
  t.same(keepArgv(argv, 256).slice(0, -1), ['sh']);
});

t.test('property: the result fits, is a prefix plus a marker, and keeping it again changes nothing', async (t) => {
  const arg = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 300 }), fc.constant('\u0000'.repeat(50)));
  fc.assert(
    fc.property(fc.array(arg, { maxLength: 60 }), fc.integer({ min: 256, max: 4096 }), (argv, max) => {
      const kept = keepArgv(argv, max);
      if (written(kept) > max) return false;
      if (written(argv) <= max) return JSON.stringify(kept) === JSON.stringify(argv);
      const whole = kept.slice(0, -1);
      const prefix = whole.every((a, i) => a === argv[i] || (i === 0 && a.endsWith('…') && argv[0]!.startsWith(a.slice(0, -1))));
      return prefix && JSON.stringify(keepArgv(kept, max)) === JSON.stringify(kept);
    }),
    { numRuns: 500 },
  );
});

t.test('the store keeps the bound in markers and records, whoever made them', async (t) => {
  const dir = t.testdir();
  const store = new StateStore(join(dir, 'run'), join(dir, 'calls'), { argvBytes: 300, callLogBytes: 1 << 20 });
  const argv = ['cat', ...Array.from({ length: 1000 }, () => 'x'.repeat(60))];
  const call: RunningCall = { callId: 'cat-1', name: 'cat', argv, cgroup: '/c/tools/cat-1', start: new Date(0).toISOString(), limits: { high: 1, max: 2 }, owner: 'daemon' };
  store.markRunning('c', call);
  const [marker] = store.runningCalls('c');
  t.ok(written(marker!.argv) <= 300, 'the marker');
  t.equal(marker!.argv[0], 'cat');
  t.equal(call.argv.length, 1001, "the caller's call is left alone");
  store.appendCall('c', cutOffRecord('c', call, new Date(1000)));
  const rec = JSON.parse(readFileSync(store.callLog('c'), 'utf8')) as { argv: string[] };
  t.same(rec.argv, marker!.argv, 'the record: cut the same way');
});
