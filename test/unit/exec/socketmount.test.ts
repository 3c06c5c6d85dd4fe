// What a container gets beside its exec socket: the mount plan (pure), whether a host file may be the
// exec client every container execs, and the socket directory with the client's placeholder made
// without following anything planted there.
import t from 'tap';
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { execClientSource, installExecClient, judgeExecClient } from '../../../src/exec/clientfile.js';
import { CONTAINER_EXEC_CLIENT, execMounts, makeExecSocketDir } from '../../../src/exec/socketmount.js';

const SOCKET_DIR = { destination: '/run/agentcgroup', type: 'bind', source: '/run/agentcgroup/sock/c1', options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] };

t.test('the plan: the socket directory, then the client over its placeholder, executable but read-only', async (t) => {
  t.equal(CONTAINER_EXEC_CLIENT, '/run/agentcgroup/agentcgroup-exec');
  t.same(execMounts('/run/agentcgroup', 'c1', undefined), [SOCKET_DIR], 'no client on the host: the directory alone');
  t.same(execMounts('/run/agentcgroup', 'c1', '/usr/local/lib/agentcgroup/agentcgroup-exec'), [
    SOCKET_DIR,
    { destination: '/run/agentcgroup/agentcgroup-exec', type: 'bind', source: '/usr/local/lib/agentcgroup/agentcgroup-exec', options: ['bind', 'ro', 'nosuid', 'nodev'] },
  ]);
  t.throws(() => execMounts('/run/agentcgroup', '../x', undefined), { code: 'bad-id' }, 'a hostile id names no directory');
});

t.test('judged: a regular file, root\'s (or ours), written by nobody else, executable', async (t) => {
  const st = (over: Partial<{ uid: number; mode: number; file: boolean; link: boolean }> = {}) => {
    const s = { uid: 0, mode: 0o100755, file: true, link: false, ...over };
    return { uid: s.uid, mode: s.mode, isFile: () => s.file, isSymbolicLink: () => s.link };
  };
  t.equal(judgeExecClient(st(), 0), undefined);
  t.equal(judgeExecClient(st({ mode: 0o100555 }), 0), undefined, 'read-only is fine');
  t.equal(judgeExecClient(st({ uid: 1000 }), 1000), undefined, 'ours, running unprivileged');
  t.equal(judgeExecClient(st({ link: true, file: false }), 0), 'is a symlink');
  t.equal(judgeExecClient(st({ file: false }), 0), 'is not a regular file');
  t.equal(judgeExecClient(st({ uid: 1000 }), 0), 'is owned by uid 1000, not root');
  t.equal(judgeExecClient(st({ mode: 0o100775 }), 0), 'has mode 0775: others than its owner may write it');
  t.equal(judgeExecClient(st({ mode: 0o100757 }), 0), 'has mode 0757: others than its owner may write it');
  t.equal(judgeExecClient(st({ mode: 0o100644 }), 0), 'has mode 0644: not executable');
});

t.test('the policy\'s file on disk: off, missing, fit, or one warning', async (t) => {
  const dir = t.testdir({ 'agentcgroup-exec': '#!/bin/sh\n', other: '' });
  const client = join(dir, 'agentcgroup-exec');
  chmodSync(client, 0o755);
  t.same(execClientSource(null), {}, 'off');
  t.same(execClientSource(join(dir, 'missing')), {}, 'not installed: silently none');
  t.same(execClientSource(join(dir, 'other', 'x')), {}, 'a path through a file (ENOTDIR): none');
  t.same(execClientSource(client), { path: client });
  symlinkSync(client, join(dir, 'link'));
  t.same(execClientSource(join(dir, 'link')), { warning: `the exec client ${join(dir, 'link')} is a symlink: containers get no agentcgroup-exec` }, 'a symlink is not followed');
  chmodSync(client, 0o777);
  t.match(execClientSource(client), { warning: /has mode 0777: others than its owner may write it: containers get no agentcgroup-exec$/ });
});

t.test('the socket directory and the placeholder: made once, never through a symlink', async (t) => {
  const top = t.testdir({ elsewhere: { target: 'keep' } });
  const runDir = join(top, 'run');
  const dir = makeExecSocketDir(runDir, 'c1', true);
  t.equal(dir, join(runDir, 'sock/c1'), 'made now');
  const placeholder = lstatSync(join(runDir, 'sock/c1/agentcgroup-exec'));
  t.ok(placeholder.isFile() && placeholder.size === 0, 'an empty regular file to mount over');
  t.equal(placeholder.mode & 0o7777, 0o444);
  t.equal(statSync(join(runDir, 'sock/c1')).mode & 0o7777, 0o755);
  t.equal(makeExecSocketDir(runDir, 'c1', true), undefined, 'there already: not ours to remove on failure, placeholder kept');
  t.equal(makeExecSocketDir(runDir, 'c2'), join(runDir, 'sock/c2'));
  t.same(readdirSync(join(runDir, 'sock/c2')), [], 'no client: no placeholder');

  // Planted (only root could: sock/ is root's and 0700): refused, never written through.
  const target = join(top, 'elsewhere/target');
  mkdirSync(join(runDir, 'sock/c3'));
  symlinkSync(target, join(runDir, 'sock/c3/agentcgroup-exec'));
  t.throws(() => makeExecSocketDir(runDir, 'c3', true), { code: 'unsafe-dir', message: /agentcgroup-exec is not a regular file: remove it$/ });
  t.equal(readFileSync(target, 'utf8'), 'keep', 'the symlink was not followed');
  symlinkSync(join(top, 'elsewhere'), join(runDir, 'sock/c4'));
  t.throws(() => makeExecSocketDir(runDir, 'c4', true), { code: 'unsafe-dir', message: /sock\/c4 is not a directory: remove it$/ });
  chmodSync(join(runDir, 'sock'), 0o777);
  t.throws(() => makeExecSocketDir(runDir, 'c5', true), { code: 'unsafe-dir' }, 'a sock/ others may write in is refused');
});

t.test('installExecClient: absolute only, 0755, by rename, its directory made', async (t) => {
  const dest = join(t.testdir(), 'usr/local/lib/agentcgroup/agentcgroup-exec');
  installExecClient(dest, new Uint8Array([0x7f, 0x45, 0x4c, 0x46]));
  t.same([...readFileSync(dest)], [0x7f, 0x45, 0x4c, 0x46]);
  t.equal(statSync(dest).mode & 0o7777, 0o755);
  const ino = statSync(dest).ino;
  installExecClient(dest, new Uint8Array([1]));
  t.not(statSync(dest).ino, ino, 'replaced by rename');
  t.throws(() => installExecClient('relative/agentcgroup-exec', new Uint8Array()), { code: 'bad-args' });
});
