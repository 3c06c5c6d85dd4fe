// A container's root can swap its exec socket for a symlink to a host file: the daemon must never
// chmod through it.
import t from 'tap';
import { createServer } from 'node:net';
import { statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chmodOwnSocket } from '../../../src/daemon/sockets.js';

t.test('the mode of a socket is set', async (t) => {
  const path = join(t.testdir(), 'exec.sock');
  const server = createServer();
  await new Promise<void>((r) => server.listen(path, r));
  t.teardown(() => server.close());
  chmodOwnSocket(path, 0o666);
  t.equal(statSync(path).mode & 0o777, 0o666);
});

t.test('a symlink in its place is refused and its target left alone', async (t) => {
  const dir = t.testdir();
  const target = join(dir, 'host-secret');
  writeFileSync(target, 'x', { mode: 0o600 });
  symlinkSync(target, join(dir, 'exec.sock'));
  t.throws(() => chmodOwnSocket(join(dir, 'exec.sock'), 0o666), /replaced before its mode was set/);
  t.equal(statSync(target).mode & 0o777, 0o600);
});

t.test('a plain file in its place is refused too', async (t) => {
  const path = join(t.testdir(), 'exec.sock');
  writeFileSync(path, '', { mode: 0o600 });
  t.throws(() => chmodOwnSocket(path, 0o666), /replaced/);
  t.equal(statSync(path).mode & 0o777, 0o600);
});
