// A container's call log is appended to for as long as the host keeps it: a container making calls
// forever must not fill the disk. At its size limit it moves to <log>.1 and begins anew.
import t from 'tap';
import { existsSync, lstatSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cutOffRecord } from '../../../src/exec/record.js';
import { type RunningCall, StateStore } from '../../../src/state/records.js';
import { appendJsonLine } from '../../../src/state/files.js';

const call = (i: number): RunningCall => ({
  callId: `make-${i}`,
  name: 'make',
  argv: ['make', `target-${i}`],
  cgroup: `/c/tools/make-${i}`,
  start: new Date(0).toISOString(),
  limits: { high: 1, max: 2 },
  owner: 'daemon',
});
const ids = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id) : []);

t.test('a full log moves to .1, replacing the one before; no record is split or lost but the oldest', async (t) => {
  const dir = t.testdir();
  const limit = 4096;
  const store = new StateStore(join(dir, 'run'), join(dir, 'calls'), { argvBytes: 4096, callLogBytes: limit });
  const log = store.callLog('c');
  const n = 200;
  for (let i = 0; i < n; i++) {
    store.appendCall('c', cutOffRecord('c', call(i), new Date(1000)));
    t.ok(statSync(log).size <= limit, `the current log stays within ${limit} bytes`);
  }
  const previous = ids(`${log}.1`);
  const current = ids(log);
  t.ok(previous.length > 0, 'rotated at least twice: a previous generation is kept');
  t.notOk(existsSync(`${log}.2`), 'one previous generation only');
  const kept = [...previous, ...current];
  t.same(kept, Array.from({ length: kept.length }, (_, i) => `make-${n - kept.length + i}`), 'the newest records, in order, each whole');
  t.ok(statSync(`${log}.1`).size <= limit);
  t.equal(statSync(log).mode & 0o777, 0o600, 'the fresh log is private like the first');
});

t.test('a line longer than the limit still goes in whole, alone in its generation', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'x.jsonl');
  appendJsonLine(path, { a: 1 }, dir, 64);
  appendJsonLine(path, { big: 'y'.repeat(200) }, dir, 64);
  t.same(readFileSync(`${path}.1`, 'utf8'), '{"a":1}\n');
  t.equal(readFileSync(path, 'utf8'), `${JSON.stringify({ big: 'y'.repeat(200) })}\n`);
  appendJsonLine(path, { b: 2 }, dir, 64);
  t.same(readFileSync(path, 'utf8'), '{"b":2}\n', 'and is rotated away by the next');
});

t.test('without a limit, or under it, a log only grows', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'x.jsonl');
  writeFileSync(path, 'z'.repeat(10_000));
  appendJsonLine(path, { a: 1 }, dir);
  appendJsonLine(path, { b: 2 }, dir, 20_000);
  t.notOk(existsSync(`${path}.1`));
  t.equal(statSync(path).size, 10_000 + 16);
});

t.test('a symlink planted as the previous generation is replaced, never written through', async (t) => {
  const dir = t.testdir({ 'victim': 'host file\n' });
  const path = join(dir, 'x.jsonl');
  symlinkSync(join(dir, 'victim'), `${path}.1`);
  appendJsonLine(path, { a: 1 }, dir, 64);
  appendJsonLine(path, { b: 'y'.repeat(100) }, dir, 64);
  t.equal(readFileSync(join(dir, 'victim'), 'utf8'), 'host file\n');
  t.notOk(lstatSync(`${path}.1`).isSymbolicLink());
  t.equal(readFileSync(`${path}.1`, 'utf8'), '{"a":1}\n');
});
