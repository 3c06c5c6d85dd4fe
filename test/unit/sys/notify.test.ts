// systemd's notify protocol: the address and the message as pure code, the notifier's seams, and one
// real datagram each to a path and an abstract AF_UNIX socket that python3 binds and reads.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { notifyAddress, notifyMessage, systemdNotifier } from '../../../src/sys/notify.js';

t.test('a path becomes sockaddr_un with family 1 and a terminating NUL', async (t) => {
  const a = notifyAddress('/run/systemd/notify');
  if (!a.ok) return t.fail(a.error);
  t.equal(a.sockaddr.readUInt16LE(0), 1);
  t.same(a.sockaddr.subarray(2), Buffer.from('/run/systemd/notify\0'));
  t.equal(a.sockaddr.length, 2 + '/run/systemd/notify'.length + 1);
});

t.test('an abstract @name has a leading NUL for the @, no terminator, and its length is the name', async (t) => {
  const a = notifyAddress('@/org/freedesktop/systemd1/notify/123');
  if (!a.ok) return t.fail(a.error);
  t.same(a.sockaddr.subarray(2), Buffer.from('\0/org/freedesktop/systemd1/notify/123'));
  t.equal(a.sockaddr.length, 2 + 1 + '/org/freedesktop/systemd1/notify/123'.length);
});

t.test('addresses we cannot speak to are refused with the reason', async (t) => {
  t.match(notifyAddress('vsock:2:1234'), { ok: false, error: /neither a socket path nor an abstract @name/ });
  t.match(notifyAddress('relative/notify'), { ok: false, error: /neither/ });
  t.match(notifyAddress('@'), { ok: false });
  t.match(notifyAddress('/a\0b'), { ok: false, error: /NUL byte/ });
  t.match(notifyAddress(`/${'x'.repeat(107)}`), { ok: false, error: /is 109 bytes, more than a unix socket address holds \(108\)/ }, '108 bytes and the NUL');
  t.equal(notifyAddress(`/${'x'.repeat(106)}`).ok, true, '107 with its NUL fits exactly');
  t.equal(notifyAddress(`@${'x'.repeat(107)}`).ok, true, 'an abstract name of 107 fits (NUL + 107)');
});

t.test('a message is KEY=value lines; values are one line; keys are checked', async (t) => {
  t.equal(notifyMessage([['READY', '1'], ['STATUS', 'ready: 2 container(s)\nsecond line']]).toString(), 'READY=1\nSTATUS=ready: 2 container(s) second line');
  t.throws(() => notifyMessage([['ready', '1']]), /not a notify key/);
  t.throws(() => notifyMessage([['A=B', '1']]), /not a notify key/);
});

t.test('no NOTIFY_SOCKET: nothing is sent and nothing loaded', async (t) => {
  const sent: Buffer[] = [];
  const n = await systemdNotifier({}, (l) => t.fail(l), (_a, p) => sent.push(p));
  n.ready('x');
  n.stopping();
  t.same(sent, []);
});

t.test('ready and stopping send one datagram each to the address; failures are one warning each', async (t) => {
  const sent: Array<[string, string]> = [];
  const n = await systemdNotifier({ NOTIFY_SOCKET: '@sock' }, (l) => t.fail(l), (a, p) => sent.push([a.subarray(3).toString(), p.toString()]));
  n.ready('ready: 0 container(s), tracker on');
  n.stopping();
  t.same(sent, [
    ['sock', 'READY=1\nSTATUS=ready: 0 container(s), tracker on'],
    ['sock', 'STOPPING=1\nSTATUS=stopping'],
  ]);
  const warnings: string[] = [];
  const failing = await systemdNotifier({ NOTIFY_SOCKET: '/run/x' }, (l) => warnings.push(l), () => {
    throw new Error('sendto failed: ECONNREFUSED');
  });
  failing.ready('r');
  t.same(warnings, ['systemd notification to /run/x failed: sendto failed: ECONNREFUSED']);
  const bad: string[] = [];
  (await systemdNotifier({ NOTIFY_SOCKET: 'vsock:2:9' }, (l) => bad.push(l))).ready('r');
  t.match(bad, [/^systemd notification not sent: NOTIFY_SOCKET "vsock:2:9"/]);
});

/** A directory with a short path: a socket path must fit in 108 bytes, and t.testdir()'s may not. */
function shortDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'acg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** python3 binds a datagram socket at `addr` (a path, or \0name), says so, then prints what it receives, base64, one line each. */
function receiver(addr: string, count: number) {
  const py = [
    'import socket, sys, base64, os',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
    's.bind(sys.argv[1].replace("@", "\\0", 1) if sys.argv[1].startswith("@") else sys.argv[1])',
    's.settimeout(10)',
    'print("bound", flush=True)',
    `for _ in range(${count}): print(base64.b64encode(s.recv(4096)).decode(), flush=True)`,
  ].join('\n');
  const child = spawn('python3', ['-c', py, addr], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const bound = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.startsWith('bound\n')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`python3 exited ${code}: ${err}`)));
  });
  const done = new Promise<string[]>((resolve) => child.on('exit', () => resolve(out.split('\n').slice(1, -1).map((l) => Buffer.from(l, 'base64').toString()))));
  return { bound, done };
}

for (const kind of ['path', 'abstract'] as const) {
  t.test(`a real datagram reaches an AF_UNIX socket (${kind})`, async (t) => {
    const addr = kind === 'path' ? join(shortDir(t), 'notify') : `@agentcgroup-test-${randomBytes(6).toString('hex')}`;
    const r = receiver(addr, 2);
    await r.bound;
    const warnings: string[] = [];
    const n = await systemdNotifier({ NOTIFY_SOCKET: addr }, (l) => warnings.push(l));
    n.ready('ready: 1 container(s)');
    n.stopping();
    t.same(await r.done, ['READY=1\nSTATUS=ready: 1 container(s)', 'STOPPING=1\nSTATUS=stopping']);
    t.same(warnings, []);
  });
}

t.test('a socket path nobody listens on is one warning, not a throw', async (t) => {
  const warnings: string[] = [];
  const n = await systemdNotifier({ NOTIFY_SOCKET: join(shortDir(t), 'none') }, (l) => warnings.push(l));
  n.ready('r');
  t.match(warnings, [/failed: sendto failed: ENOENT/]);
});

t.test('the shipped unit waits for READY=1 from the main process and names its documentation', async (t) => {
  const unit = readFileSync(new URL('../../../config/systemd/agentcgroup.service', import.meta.url), 'utf8');
  t.match(unit, /^Type=notify$/m);
  t.match(unit, /^NotifyAccess=main$/m);
  t.match(unit, /^Documentation=file:\/etc\/agentcgroup\/policy\.yaml$/m);
});
