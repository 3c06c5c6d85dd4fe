// A container's root can swap its exec socket for a symlink to a host file: the daemon must never
// chmod through it.
import t, { type Test } from 'tap';
import * as net from 'node:net';
import { type Server, type Socket, createConnection, createServer } from 'node:net';
import { mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LineHandler, type LineServerOptions, chmodOwnSocket, serveLines } from '../../../src/daemon/sockets.js';

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

// serveLines faces hostile containers on their exec sockets: nothing a client does may make root hold
// more (connections, buffers, replies) or take the daemon down. Every wait below is on an event, with
// a deadline only so a broken build fails instead of hanging.

/** A short directory: a unix socket address holds 108 bytes, and tap's test dirs are long. */
function shortDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'ac-sock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function within<T>(p: Promise<T>, what: string, ms = 20_000): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms).unref())]);
}

/** A promise and its resolver, for events a test waits on. */
function signal<T = void>(): { promise: Promise<T>; fire: (v: T) => void } {
  let fire!: (v: T) => void;
  const promise = new Promise<T>((r) => (fire = r));
  return { promise, fire };
}

interface Client {
  socket: Socket;
  /** The next reply line, parsed. */
  next(): Promise<{ ok?: boolean; error?: string; echo?: string }>;
  closed: Promise<void>;
  isClosed(): boolean;
}

function connect(path: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    const lines: string[] = [];
    const waiters: ((line: string) => void)[] = [];
    let buf = '';
    let isClosed = false;
    const closed = new Promise<void>((r) => socket.once('close', () => ((isClosed = true), r())));
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const w = waiters.shift();
        if (w) w(line);
        else lines.push(line);
      }
    });
    // A connection the server drops may end in ECONNRESET or EPIPE: that is the close we test for.
    socket.on('error', () => {});
    socket.once('connect', () =>
      resolve({
        socket,
        next: () => within(new Promise<string>((r) => (lines.length > 0 ? r(lines.shift()!) : waiters.push(r))), 'reply').then((l) => JSON.parse(l)),
        closed,
        isClosed: () => isClosed,
      }),
    );
    socket.once('error', reject);
  });
}

interface Served {
  path: string;
  logged: string[];
  /** Resolves with the next line logged. */
  nextLog(): Promise<string>;
  /** Resolves when the server has seen this many connections close. */
  closes(n: number): Promise<void>;
}

/** A server answering `{"echo": line}` unless `handler` is given; its log lines are kept. */
async function serve(t: Test, options: LineServerOptions = {}, handler?: LineHandler, onClose?: () => void, admit: () => string | undefined = () => undefined): Promise<Served> {
  const path = join(shortDir(t), 's.sock');
  const logged: string[] = [];
  const logWaiters: ((l: string) => void)[] = [];
  let closeCount = 0;
  const closeWaiters: { n: number; fire: () => void }[] = [];
  const server = await serveLines(
    path,
    0o600,
    admit,
    handler ?? ((line, _peer, reply) => reply({ v: 1, ok: true, echo: line })),
    () => {
      closeCount++;
      for (const w of closeWaiters.filter((w) => closeCount >= w.n)) w.fire();
      onClose?.();
    },
    {
      ...options,
      log: (l) => {
        logged.push(l);
        logWaiters.shift()?.(l);
      },
    },
  );
  t.teardown(() => server.close());
  return {
    path,
    logged,
    nextLog: () => within(new Promise<string>((r) => logWaiters.push(r)), 'log line'),
    closes: (n) => within(closeCount >= n ? Promise.resolve() : new Promise<void>((fire) => closeWaiters.push({ n, fire })), `${n} closed connections`),
  };
}

t.test('a request gets its reply', async (t) => {
  const s = await serve(t);
  const c = await connect(s.path);
  c.socket.write('hello\n');
  t.same(await c.next(), { v: 1, ok: true, echo: 'hello' });
  c.socket.end();
  await s.closes(1);
  t.same(s.logged, []);
});

t.test('one connection over the cap is refused with one error line; a freed place is taken again', async (t) => {
  const s = await serve(t, { maxConnections: 2 });
  const [a, b] = [await connect(s.path), await connect(s.path)];
  for (const c of [a, b]) {
    c.socket.write('ping\n');
    t.equal((await c.next()).echo, 'ping', 'admitted');
  }
  const extra = await connect(s.path);
  t.same(await extra.next(), { v: 1, ok: false, error: 'too many connections (at most 2)' });
  await within(extra.closed, 'close of the refused connection');
  a.socket.end();
  await s.closes(1);
  const again = await connect(s.path);
  again.socket.write('ping\n');
  t.equal((await again.next()).echo, 'ping', 'admitted once a place is free');
  b.socket.write('still\n');
  t.equal((await b.next()).echo, 'still', 'the others were never touched');
});

t.test('a connection that sends nothing is closed after the idle time', async (t) => {
  const s = await serve(t, { idleMs: 30 });
  const silent = await connect(s.path);
  t.same(await silent.next(), { v: 1, ok: false, error: 'closed after 30 ms with nothing to do' });
  await within(silent.closed, 'close');
});

t.test('a held connection (an exec client during its call) stays however long it is silent', async (t) => {
  let isHeld = true;
  let asked = 0;
  const thrice = signal();
  const s = await serve(t, {
    idleMs: 10,
    held: () => {
      if (++asked === 3) thrice.fire();
      return isHeld;
    },
  });
  const c = await connect(s.path);
  c.socket.write('begin\n');
  t.equal((await c.next()).echo, 'begin');
  await within(thrice.promise, 'three idle periods');
  t.notOk(c.isClosed(), 'open after three idle times while held');
  isHeld = false;
  t.match((await c.next()).error, /^closed after 10 ms/, 'closed once no longer held, without traffic of its own');
  await within(c.closed, 'close');
  t.same(s.logged, []);
});

t.test('pipelined requests are handled one at a time, in order', async (t) => {
  let inFlight = 0;
  let most = 0;
  const seen: string[] = [];
  const s = await serve(t, {}, (line, _peer, reply) => {
    seen.push(line);
    most = Math.max(most, ++inFlight);
    // Answered later: the next line must wait for it.
    setImmediate(() => {
      inFlight--;
      reply({ v: 1, ok: true, echo: line });
    });
  });
  const c = await connect(s.path);
  c.socket.write('a\nb\nc\nd\ne\n');
  const replies: string[] = [];
  for (let i = 0; i < 5; i++) replies.push((await c.next()).echo!);
  t.same(replies, ['a', 'b', 'c', 'd', 'e']);
  t.same(seen, ['a', 'b', 'c', 'd', 'e']);
  t.equal(most, 1, 'never two requests in a handler at once');
});

t.test('a line longer than the bound is refused and the connection closed', async (t) => {
  const s = await serve(t);
  const c = await connect(s.path);
  c.socket.write('x'.repeat(70 * 1024));
  t.same(await c.next(), { v: 1, ok: false, error: 'request too long' });
  await within(c.closed, 'close');
});

t.test('a failure reply ends the connection; what the client sent after it is not handled', async (t) => {
  const seen: string[] = [];
  const s = await serve(t, {}, (line, _peer, reply) => {
    seen.push(line);
    reply(line === 'bad' ? { v: 1, ok: false, error: 'bad request' } : { v: 1, ok: true, echo: line });
  });
  const c = await connect(s.path);
  c.socket.write('good\nbad\nafter\n');
  t.equal((await c.next()).echo, 'good');
  t.same(await c.next(), { v: 1, ok: false, error: 'bad request' });
  await within(c.closed, 'close');
  t.same(seen, ['good', 'bad']);
});

t.test('a client that never reads its replies is dropped, and stops being read before that', async (t) => {
  let handled = 0;
  const pad = 'x'.repeat(64 * 1024);
  const s = await serve(t, { maxUnread: 1024 }, (_line, _peer, reply) => {
    handled++;
    reply({ v: 1, ok: true, pad });
  });
  const c = await connect(s.path);
  c.socket.pause();
  c.socket.write('r\n'.repeat(1000));
  const why = await s.nextLog();
  t.match(why, /: dropped a connection: \d+ bytes of replies left unread$/);
  await s.closes(1);
  t.ok(handled < 1000, `handled ${handled} of 1000 requests: the rest were never read`);
});

t.test('a handler that throws closes its connection only; the daemon goes on', async (t) => {
  const s = await serve(t, {}, (line, _peer, reply) => {
    if (line === 'boom') throw new Error('kaboom');
    reply({ v: 1, ok: true, echo: line });
  });
  const c = await connect(s.path);
  c.socket.write('boom\nnever\n');
  t.same(await c.next(), { v: 1, ok: false, error: 'internal error' }, 'the client learns nothing of ours');
  await within(c.closed, 'close');
  t.match(s.logged, [/: a request handler failed: kaboom$/]);
  const next = await connect(s.path);
  next.socket.write('fine\n');
  t.equal((await next.next()).echo, 'fine', 'others are served');
});

t.test('an onClose that throws is logged, not raised', async (t) => {
  const s = await serve(t, {}, undefined, () => {
    throw new Error('close went wrong');
  });
  const c = await connect(s.path);
  c.socket.end();
  t.match(await s.nextLog(), /: closing the connection of process \d+: close went wrong$/);
});

t.test('an admission check that throws is logged and costs only that connection', async (t) => {
  let admitThrows = true;
  const admit = () => {
    if (admitThrows) throw new Error('admit went wrong');
    return undefined;
  };
  const s = await serve(t, {}, undefined, undefined, admit);
  const refused = await connect(s.path);
  await within(refused.closed, 'close of a connection admit threw on');
  t.match(s.logged, [/: accepting a connection: admit went wrong$/]);
  admitThrows = false;
  const c = await connect(s.path);
  c.socket.write('hi\n');
  t.equal((await c.next()).echo, 'hi', 'the next connection is served');
});

t.test('a held check that throws is logged, and the idle connection closed', async (t) => {
  const held = () => {
    throw new Error('held went wrong');
  };
  const s = await serve(t, { idleMs: 10, held });
  const c = await connect(s.path);
  t.match((await c.next()).error, /^closed after 10 ms/);
  t.match(s.logged, [/: process \d+: cannot tell whether an idle connection is held: held went wrong$/]);
});

t.test('an error on the listening socket after listen (a failed accept: EMFILE) is logged, not raised', async (t) => {
  let listening: Server | undefined;
  const { serveLines: serve } = await t.mockImport<typeof import('../../../src/daemon/sockets.js')>('../../../src/daemon/sockets.js', {
    'node:net': { ...net, createServer: (...args: Parameters<typeof net.createServer>) => (listening = net.createServer(...args)) },
  });
  const logged: string[] = [];
  const path = join(shortDir(t), 's.sock');
  const server = await serve(path, 0o600, () => undefined, (line, _peer, reply) => reply({ v: 1, ok: true, echo: line }), undefined, { log: (l) => logged.push(l) });
  t.teardown(() => server.close());
  // What Node does when accept() fails: an 'error' event, which throws when nobody listens.
  listening!.emit('error', Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' }));
  t.same(logged, [`${path}: accept EMFILE (EMFILE)`]);
  const c = await connect(path);
  c.socket.write('still here\n');
  t.equal((await c.next()).echo, 'still here');
});

t.test('a refused client that writes at once still reads why, not a reset connection', async (t) => {
  const served = await serve(t, {}, undefined, undefined, () => 'not in container c1');
  // Many at once, each writing a request the moment it connects: the refusal must reach every one.
  const answers = await Promise.all(
    Array.from({ length: 20 }, async () => {
      const socket = createConnection(served.path);
      let got = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (got += d));
      const ended = new Promise<string>((r) => {
        socket.on('error', (e: NodeJS.ErrnoException) => r(`error ${e.code}`));
        socket.on('close', () => r(got));
      });
      socket.on('connect', () => socket.write(`${'x'.repeat(200_000)}\n`));
      return within(ended, 'close');
    }),
  );
  t.same(new Set(answers.map((a) => (/not in container c1/.test(a) ? 'refused' : a))), new Set(['refused']));
});
