import t from 'tap';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_REASON, MAX_UNCARVED, listUncarved, processStart, recordUncarved, removeUncarved, uncarvedDir } from '../../../src/state/uncarved.js';

const NOW = new Date('2025-01-01T10:00:00.000Z');

/** A /proc with one process, `pid`, started at `start` ticks; its comm holds spaces and a ')'. */
function proc(dir: string, pid: number, start: number): string {
  const root = join(dir, 'proc');
  mkdirSync(join(root, String(pid)), { recursive: true });
  const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
  fields[19] = String(start);
  writeFileSync(join(root, String(pid), 'stat'), `${pid} (a b) c) ${fields.join(' ')}\n`);
  return root;
}

t.test('written, listed, removed; the start time read past a hostile comm', async (t) => {
  const dir = t.testdir();
  const run = join(dir, 'run');
  const procRoot = proc(dir, 42, 777);
  t.equal(processStart(procRoot, 42), 777);
  t.equal(processStart(procRoot, 43), undefined);
  t.equal(recordUncarved(run, { id: 'c1', stage: 'createRuntime', reason: 'EACCES\nsecond line', pid: 42 }, NOW, procRoot), undefined);
  t.same(listUncarved(run, procRoot), [{ id: 'c1', at: NOW.toISOString(), stage: 'createRuntime', reason: 'EACCES second line', pid: 42, started: 777 }]);
  t.equal((readdirSync(uncarvedDir(run)).length), 1);
  removeUncarved(run, 'c1');
  t.same(listUncarved(run, procRoot), []);
  removeUncarved(run, '../x');
  t.pass('an invalid id removes nothing and throws nothing');
});

t.test('a record goes when its init is gone, or its pid names a process started at another time', async (t) => {
  const dir = t.testdir();
  const run = join(dir, 'run');
  const procRoot = proc(dir, 42, 777);
  recordUncarved(run, { id: 'gone', stage: 'poststart', reason: 'x', pid: 41 }, NOW, procRoot);
  recordUncarved(run, { id: 'live', stage: 'createRuntime', reason: 'x', pid: 42 }, NOW, procRoot);
  recordUncarved(run, { id: 'shim', stage: 'shim', reason: 'x' }, NOW, procRoot);
  t.same(listUncarved(run, procRoot).map((r) => r.id), ['live', 'shim'], 'the one without a process goes (listing removes it), the shim one waits for its delete');
  t.notOk(existsSync(join(uncarvedDir(run), 'gone.json')));
  proc(dir, 42, 999);
  t.same(listUncarved(run, procRoot).map((r) => r.id), ['shim'], 'pid reused');
});

t.test('bounded: an invalid id, a long reason, a full directory, and what else is in it', async (t) => {
  const dir = t.testdir();
  const run = join(dir, 'run');
  const procRoot = join(dir, 'noproc');
  t.match(recordUncarved(run, { id: '../../etc/x', stage: 'shim', reason: 'x' }, NOW, procRoot), /cannot record the container as uncarved: .*container id/);
  recordUncarved(run, { id: 'long', stage: 'shim', reason: 'y'.repeat(10_000) }, NOW, procRoot);
  t.equal(listUncarved(run, procRoot)[0]?.reason.length, MAX_REASON);
  for (let i = 0; i < MAX_UNCARVED + 5; i++) recordUncarved(run, { id: `c${i}`, stage: 'shim', reason: 'x' }, NOW, procRoot);
  t.equal(readdirSync(uncarvedDir(run)).length, MAX_UNCARVED, 'no more files than the cap');
  t.match(recordUncarved(run, { id: 'one-more', stage: 'shim', reason: 'x' }, NOW, procRoot), /64 uncarved containers are recorded already/);
  t.equal(recordUncarved(run, { id: 'long', stage: 'shim', reason: 'again' }, NOW, procRoot), undefined, 'one already there is rewritten');
  // What is no record goes: bad JSON, a wrong name, a stage we never write, a file too large.
  const d = uncarvedDir(run);
  writeFileSync(join(d, 'c0.json'), '{');
  writeFileSync(join(d, 'c1.json'), JSON.stringify({ id: 'other', at: 'x', stage: 'shim', reason: 'x' }));
  writeFileSync(join(d, 'c2.json'), JSON.stringify({ id: 'c2', at: 'x', stage: 'boot', reason: 'x' }));
  writeFileSync(join(d, 'c3.json'), JSON.stringify({ id: 'c3', at: 'x', stage: 'shim', reason: 'x'.repeat(5000) }));
  writeFileSync(join(d, 'notes.txt'), 'x');
  const ids = listUncarved(run, procRoot).map((r) => r.id);
  for (const gone of ['c0', 'c1', 'c2', 'c3', 'other']) t.notOk(ids.includes(gone), `${gone} is not listed`);
  t.notOk(existsSync(join(d, 'notes.txt')), 'and removed');
  t.ok(ids.length <= MAX_UNCARVED);
  t.equal(readFileSync(join(d, 'long.json'), 'utf8').endsWith('\n'), true);
});
