// Files written as root by rename from a temporary file: whole or not at all, never through a planted
// symlink, with the mode and owner asked for, and (durable) flushed before and after the rename.
import t from 'tap';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { freshPath, writeFileAtomic, writeNewFile } from '../../../src/sys/atomicfile.js';
import { withFsRecorded } from '../../fixtures/fsync.js';

const { lstatSync, readdirSync, readFileSync, statSync, symlinkSync } = fs;

t.test('the whole text, the mode asked for whatever the umask, nothing left beside it', async (t) => {
  const old = process.umask(0);
  t.teardown(() => process.umask(old));
  const dir = t.testdir({ 'config.toml': 'old\n' });
  const path = join(dir, 'config.toml');
  writeFileAtomic(path, 'new\n', { mode: 0o640 });
  t.equal(readFileSync(path, 'utf8'), 'new\n');
  t.equal(statSync(path).mode & 0o7777, 0o640);
  t.same(readdirSync(dir), ['config.toml']);
  writeFileAtomic(join(dir, 'fresh.json'), '{}', { mode: 0o600 });
  t.equal(statSync(join(dir, 'fresh.json')).mode & 0o7777, 0o600, 'a new file too');
});

t.test('temporary names are fresh each time', async (t) => {
  const names = new Set(Array.from({ length: 50 }, () => freshPath('/d', '.x.', '.tmp')));
  t.equal(names.size, 50);
  for (const n of names) t.match(n, /^\/d\/\.x\.[0-9a-f]{16}\.tmp$/);
});

t.test('writeNewFile refuses a path that exists, a symlink (even a dangling one) included', async (t) => {
  const dir = t.testdir({ victim: 'host file\n' });
  const victim = join(dir, 'victim');
  symlinkSync(victim, join(dir, 'link'));
  symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling'));
  for (const name of ['victim', 'link', 'dangling']) {
    t.throws(() => writeNewFile(join(dir, name), 'planted\n', { mode: 0o644 }), { code: 'EEXIST' }, name);
  }
  t.equal(readFileSync(victim, 'utf8'), 'host file\n', 'nothing written through the links');
  t.notOk(fs.existsSync(join(dir, 'nowhere')), 'the dangling link made no file');
  t.ok(lstatSync(join(dir, 'link')).isSymbolicLink() && lstatSync(join(dir, 'dangling')).isSymbolicLink(), 'the links stay as they were');
});

t.test('a symlink in the place of the target is replaced, not followed', async (t) => {
  const dir = t.testdir({ victim: 'host file\n' });
  symlinkSync(join(dir, 'victim'), join(dir, 'record.json'));
  writeFileAtomic(join(dir, 'record.json'), '{}\n', { mode: 0o600 });
  t.equal(readFileSync(join(dir, 'victim'), 'utf8'), 'host file\n');
  t.ok(lstatSync(join(dir, 'record.json')).isFile());
});

t.test('the owner asked for (root only)', { skip: process.geteuid?.() !== 0 && 'needs root to give a file away' }, async (t) => {
  const path = join(t.testdir(), 'daemon.json');
  writeFileAtomic(path, '{}', { mode: 0o640, owner: { uid: 4242, gid: 4343 } });
  const st = statSync(path);
  t.same([st.uid, st.gid, st.mode & 0o7777], [4242, 4343, 0o640]);
});

t.test('a rename that fails leaves no temporary file behind', async (t) => {
  const dir = t.testdir({ taken: { inside: 'x' } });
  t.throws(() => writeFileAtomic(join(dir, 'taken'), 'text', { mode: 0o644 }));
  t.same(readdirSync(dir), ['taken']);
});

t.test('durable: the file flushed before it takes the name, the directory after', async (t) => {
  const { mod, seen } = await withFsRecorded<typeof import('../../../src/sys/atomicfile.js')>(t, 'src/sys/atomicfile.ts');
  const dir = t.testdir({ 'config.toml': 'old\n' });
  mod.writeFileAtomic(join(dir, 'config.toml'), 'new\n', { mode: 0o644, durable: true });
  t.same(seen, ['fsync', 'rename', 'fsync-dir']);
  t.equal(readFileSync(join(dir, 'config.toml'), 'utf8'), 'new\n');
  seen.length = 0;
  mod.writeFileAtomic(join(dir, 'state.json'), '{}', { mode: 0o600 });
  t.same(seen, ['rename'], 'run state is not flushed');
});
