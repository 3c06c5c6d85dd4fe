// Engine configs (and a bundle's config) are replaced whole and durably, keeping the mode and owner of
// the file they replace, and never through a symlink planted beside them.
import t from 'tap';
import { chownSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configWrite, readConfigFile, replaceConfigFile } from '../../../src/runtime/configfile.js';

t.test('a config is written durably, with the mode and owner of the file it replaces', async (t) => {
  const like = statSync(join(t.testdir({ f: '' }), 'f'));
  t.same(configWrite(undefined, 0), { mode: 0o644, owner: undefined, durable: true }, 'a new one: 0644');
  t.same(configWrite(like, 0), { mode: like.mode & 0o7777, owner: { uid: like.uid, gid: like.gid }, durable: true });
  t.same(configWrite(like, 1000), { mode: like.mode & 0o7777, owner: undefined, durable: true }, 'unprivileged: no chown');
});

t.test('the mode and owner of the file replaced are kept', { skip: process.geteuid?.() !== 0 && 'needs root to chown' }, async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'config.json');
  writeFileSync(file, '{}', { mode: 0o640 });
  chownSync(file, 4242, 4343);
  replaceConfigFile(readConfigFile(file), '{"a":1}');
  const st = statSync(file);
  t.same([st.uid, st.gid, st.mode & 0o7777], [4242, 4343, 0o640]);
  t.same(readdirSync(dir), ['config.json'], 'no temporary file left');
});

t.test('a symlink planted at the temporary name used before it was random does not stop the write', async (t) => {
  const dir = t.testdir({ 'config.json': '{}', victim: 'host file\n' });
  const file = join(dir, 'config.json');
  symlinkSync(join(dir, 'victim'), join(dir, `.config.json.agentcgroup-${process.pid}`));
  replaceConfigFile(readConfigFile(file), '{"a":1}');
  t.equal(readFileSync(file, 'utf8'), '{"a":1}');
  t.equal(readFileSync(join(dir, 'victim'), 'utf8'), 'host file\n');
});
