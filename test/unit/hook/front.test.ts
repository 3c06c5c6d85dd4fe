// The native hook front (src/hook/native/agentcgroup-hook.c, built as dist/agentcgroup-hook): against
// a fake daemon on a unix socket in a temp directory it relays the daemon's exit code and stderr; in
// every other case it execs the full binary (here a stand-in that records how it was run) with the
// same argv, argv[0] included, the same environment and the same stdin bytes. Then the front against
// the daemon's real admin socket handler and hook op, on the simulated kernel.
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { type Socket, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { STDIN_LIMIT } from '../../../src/cli/context.js';
import { replyAdmin } from '../../../src/daemon/admin.js';
import { HOOK_OP_LIMITS, answerHook } from '../../../src/daemon/hookop.js';
import { MAX_LINE } from '../../../src/daemon/lines.js';
import { serveLines } from '../../../src/daemon/sockets.js';
import { daemonReachable } from '../../../src/hook/daemoncheck.js';
import { viewDifference } from '../../../src/sys/procview.js';
import { hookEnv } from '../../fixtures/hookenv.js';
import { runCli } from '../../fixtures/cli.js';
import { sampleSnapshot } from '../../fixtures/snapshot.js';

const SOURCE = 'src/hook/native/agentcgroup-hook.c';
const FRONT = resolve('dist/agentcgroup-hook');
const ARGV = ['agentcgroup', 'hook', 'createRuntime'];

// Socket paths must fit 107 bytes: a short temp directory, not the tap fixture directory.
const work = mkdtempSync(join(tmpdir(), 'acg-front-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const cc = (out: string, src: string, ...flags: string[]) => {
  const r = spawnSync(process.env.CC ?? 'cc', ['-O2', '-Wall', ...flags, '-o', out, src], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cc ${src}: ${r.stderr}`);
  return out;
};
const STANDIN = cc(join(work, 'standin'), 'test/fixtures/standin.c');
// The same front with a short bound on the exchange, for the daemon that never answers.
const FAST_FRONT = cc(join(work, 'front-fast'), SOURCE, '-DEXCHANGE_MS=300');

let seq = 0;
function place() {
  const dir = mkdtempSync(join(work, `c${seq++}-`));
  return { dir, socket: join(dir, 'admin.sock') };
}

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: Buffer;
  ms: number;
}

interface FrontRun {
  argv?: string[];
  stdin?: Buffer | 'closed';
  env?: NodeJS.ProcessEnv;
  front?: string;
  /** Called once the front runs, with its pid. */
  started?: (pid: number) => void;
}

function runFront(dir: string, socket: string | undefined, opts: FrontRun = {}): Promise<Ran> {
  const argv = opts.argv ?? ARGV;
  const env: NodeJS.ProcessEnv = {
    PATH: '/usr/bin:/bin',
    STANDIN_DIR: dir,
    AGENTCGROUP_BINARY: STANDIN,
    ...(socket === undefined ? {} : { AGENTCGROUP_ADMIN_SOCKET: socket }),
    ...opts.env,
  };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  const front = opts.front ?? FRONT;
  const closed = opts.stdin === 'closed';
  // bash's exec -a keeps argv[0] while closing fd 0 first.
  const child = closed
    ? spawn('bash', ['--norc', '--noprofile', '-c', 'exec -a "$0" "$FRONT_UNDER_TEST" "$@" <&-', ...argv], { env: { ...env, FRONT_UNDER_TEST: front } })
    : spawn(front, argv.slice(1), { argv0: argv[0]!, env });
  const began = Date.now();
  if (child.pid !== undefined) opts.started?.(child.pid);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => err.push(d));
  child.stdin.on('error', () => {}); // a front that stops reading past its bound
  if (!closed) child.stdin.end(opts.stdin ?? Buffer.from('{"ociVersion":"1.0.2","id":"c1","status":"created","pid":1,"bundle":"/b"}'));
  return new Promise((done) =>
    child.on('close', (code, signal) => done({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err), ms: Date.now() - began })),
  );
}

/** How the stand-in binary was run, or undefined when it was not. */
function standin(dir: string) {
  if (!existsSync(join(dir, 'argv'))) return undefined;
  const list = (name: string) => readFileSync(join(dir, name), 'utf8').split('\0').slice(0, -1);
  return {
    argv: list('argv'),
    env: list('env'),
    stdin: existsSync(join(dir, 'stdin-closed')) ? ('closed' as const) : readFileSync(join(dir, 'stdin')),
  };
}

/** A fake daemon: each request line is recorded and answered by `answer` (which may also close, stall...). */
async function fakeDaemon(socket: string, answer: (line: string, s: Socket) => void, onConnect?: (s: Socket) => void) {
  const lines: string[] = [];
  let connections = 0;
  const server = createServer((s) => {
    connections++;
    s.on('error', () => {});
    if (onConnect) return onConnect(s);
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      lines.push(line);
      answer(line, s);
    });
  });
  await new Promise<void>((r) => server.listen(socket, r));
  t.teardown(() => server.close());
  return { lines, connections: () => connections, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const replyLine = (exit: number, stderr: string | Buffer) => `${JSON.stringify({ v: 1, ok: true, exit, stderr: b64(stderr) })}\n`;
/** A state with bytes JSON would not carry as they are: NUL, invalid UTF-8, a newline. */
const ODD_STATE = Buffer.concat([Buffer.from('{"id":"c\n1"}'), Buffer.from([0, 0xff, 0xfe, 0x80, 10, 13])]);

t.test('relays the daemon: its exit code and stderr, to the byte; the binary never runs', async (t) => {
  for (const [exit, stderr] of [[1, 'agentcgroup: createRuntime for container c1: x; refusing to start the container (strict policy)\n'], [0, ''], [255, Buffer.from([0xff, 10])]] as const) {
    const { dir, socket } = place();
    const daemon = await fakeDaemon(socket, (_l, s) => s.write(replyLine(exit, stderr)));
    const r = await runFront(dir, socket, { stdin: ODD_STATE, env: { AGENTCGROUP_POLICY: '/etc/p.yaml', AGENTCGROUP_PROC_ROOT: '/proc', OTHER: 'not forwarded' } });
    t.equal(r.code, exit, `exit ${exit}`);
    t.same(r.stderr, Buffer.from(stderr), 'stderr relayed');
    t.equal(r.stdout, '', 'nothing on stdout');
    t.equal(standin(dir), undefined, 'the binary was not run');
    t.equal(daemon.lines.length, 1);
    const req = JSON.parse(daemon.lines[0]!) as { op: string; argv: string[]; env: string[]; stdin: string };
    t.same(Object.keys(req), ['op', 'argv', 'env', 'stdin']);
    t.equal(req.op, 'hook');
    t.same(req.argv.map((a) => Buffer.from(a, 'base64').toString()), ARGV, 'argv, argv[0] included');
    t.same(req.env.map((a) => Buffer.from(a, 'base64').toString()).sort(), [`AGENTCGROUP_ADMIN_SOCKET=${socket}`, `AGENTCGROUP_BINARY=${STANDIN}`, 'AGENTCGROUP_POLICY=/etc/p.yaml', 'AGENTCGROUP_PROC_ROOT=/proc'], 'its AGENTCGROUP_* variables, no others');
    t.equal(req.stdin, ODD_STATE.toString('base64'), 'stdin byte for byte');
  }
});

/** The front ran the stand-in exactly as it was run itself. */
function ranAsCalled(t: Test, dir: string, r: Ran, stdin: Buffer | 'closed', argv = ARGV) {
  const s = standin(dir);
  if (!t.ok(s, 'the binary ran')) return;
  t.same(s!.argv, argv, 'the same argv, argv[0] included');
  if (stdin === 'closed') t.equal(s!.stdin, 'closed', 'stdin still closed');
  else t.ok(Buffer.isBuffer(s!.stdin) && (s!.stdin as Buffer).equals(stdin), `the same ${stdin.length} stdin bytes`);
  t.ok(s!.env.includes(`STANDIN_DIR=${dir}`) && s!.env.includes('PATH=/usr/bin:/bin'), 'the same environment');
  t.equal(r.code, 7, "the binary's exit code");
  t.equal(r.stderr.toString(), 'stand-in ran\n', "the binary's stderr, nothing of the front's");
}

t.test('no daemon: the binary, as the front was run', async (t) => {
  const { dir, socket } = place();
  const r = await runFront(dir, socket, { stdin: ODD_STATE, env: { STANDIN_EXIT: '7' } });
  ranAsCalled(t, dir, r, ODD_STATE);
  const s = standin(dir)!;
  t.ok(s.env.includes(`AGENTCGROUP_ADMIN_SOCKET=${socket}`), 'its variables too');
});

t.test('AGENTCGROUP_ADMIN_SOCKET empty: never asks, runs the binary', async (t) => {
  const { dir, socket } = place();
  const daemon = await fakeDaemon(socket, (_l, s) => s.write(replyLine(0, '')));
  const r = await runFront(dir, '', { env: { STANDIN_EXIT: '7' }, stdin: ODD_STATE });
  ranAsCalled(t, dir, r, ODD_STATE);
  t.equal(daemon.connections(), 0);
});

t.test('the daemon declines, does not know the op, answers something malformed, or too much: the binary', async (t) => {
  const bad: [string, string][] = [
    ['declined', '{"v":1,"ok":false,"error":"declined: the caller is in another mnt namespace"}\n'],
    ['an older daemon', '{"v":1,"ok":false,"error":"unknown op \\"hook\\": one of ping, snapshot, metrics"}\n'],
    ['no stderr', '{"v":1,"ok":true,"exit":1}\n'],
    ['exit above 255', '{"v":1,"ok":true,"exit":256,"stderr":""}\n'],
    ['exit with a leading zero', '{"v":1,"ok":true,"exit":01,"stderr":""}\n'],
    ['a negative exit', '{"v":1,"ok":true,"exit":-1,"stderr":""}\n'],
    ['a fraction', '{"v":1,"ok":true,"exit":1.5,"stderr":""}\n'],
    ['stderr unpadded', '{"v":1,"ok":true,"exit":0,"stderr":"QQ"}\n'],
    ['stderr with a character base64 has not', '{"v":1,"ok":true,"exit":0,"stderr":"QQ=\\n"}\n'],
    ['padding inside', '{"v":1,"ok":true,"exit":0,"stderr":"QQ==QUJD"}\n'],
    ['keys in another order', '{"ok":true,"v":1,"exit":0,"stderr":""}\n'],
    ['white space', '{"v":1,"ok":true,"exit":0,"stderr":"" }\n'],
    ['more after the line', `${replyLine(0, 'x')}{}\n`],
    ['a line without its newline, then the end', '{"v":1,"ok":true,"exit":0,"stderr":""}'],
    ['an empty line', '\n'],
    ['too long', replyLine(0, 'x'.repeat(HOOK_OP_LIMITS.replyBytes))],
  ];
  for (const [name, line] of bad) {
    const { dir, socket } = place();
    const daemon = await fakeDaemon(socket, (_l, s) => s.end(line));
    const r = await runFront(dir, socket, { env: { STANDIN_EXIT: '7' }, stdin: ODD_STATE });
    t.equal(daemon.lines.length, 1, `${name}: asked`);
    t.test(name, async (t) => ranAsCalled(t, dir, r, ODD_STATE));
  }
  // Just within the bound: relayed.
  const { dir, socket } = place();
  const fits = 'y'.repeat(((HOOK_OP_LIMITS.replyBytes - 64) / 4) * 3);
  await fakeDaemon(socket, (_l, s) => s.write(replyLine(3, fits)));
  const r = await runFront(dir, socket);
  t.equal(r.code, 3);
  t.equal(r.stderr.toString(), fits, 'a reply up to the bound is relayed whole');
});

t.test('the daemon closes early: before reading, or having read the request', async (t) => {
  for (const [name, opts] of [
    ['at once', { connect: (s: Socket) => s.destroy() }],
    ['after the request', { answer: (_l: string, s: Socket) => s.destroy() }],
    ['half a reply, then the end', { answer: (_l: string, s: Socket) => s.end('{"v":1,"ok":true,"ex') }],
  ] as const) {
    const { dir, socket } = place();
    await fakeDaemon(socket, 'answer' in opts ? opts.answer : () => {}, 'connect' in opts ? opts.connect : undefined);
    const r = await runFront(dir, socket, { env: { STANDIN_EXIT: '7' }, stdin: ODD_STATE });
    t.test(name, async (t) => ranAsCalled(t, dir, r, ODD_STATE));
  }
});

t.test('a daemon that does not answer in time: the binary, once the bound has passed', async (t) => {
  const { dir, socket } = place();
  const daemon = await fakeDaemon(socket, () => {});
  const r = await runFront(dir, socket, { front: FAST_FRONT, env: { STANDIN_EXIT: '7' }, stdin: ODD_STATE });
  t.equal(daemon.lines.length, 1);
  ranAsCalled(t, dir, r, ODD_STATE);
  t.ok(r.ms >= 300, `waited the bound (${r.ms} ms)`);
});

t.test('too much to forward: the binary, without asking', async (t) => {
  const cases: [string, FrontRun, Buffer][] = [];
  const big = Buffer.alloc(200 * 1024, 'a');
  cases.push(['a state too long for one request line', { stdin: big }, big]);
  const over = Buffer.alloc(STDIN_LIMIT + 300 * 1024, 'b');
  cases.push(['stdin past the hook bound: the binary gets the bytes up to one past it, and refuses as it would', { stdin: over }, over.subarray(0, STDIN_LIMIT + 1)]);
  // With AGENTCGROUP_BINARY and AGENTCGROUP_ADMIN_SOCKET: one more than a request carries.
  const tooMany = Object.fromEntries(Array.from({ length: HOOK_OP_LIMITS.env - 1 }, (_, i) => [`AGENTCGROUP_X${i}`, '1']));
  cases.push(['more AGENTCGROUP_* variables than a request carries', { env: tooMany, stdin: ODD_STATE }, ODD_STATE]);
  const many = [...ARGV, ...Array(HOOK_OP_LIMITS.args).fill('x')];
  cases.push(['more arguments than a request carries', { argv: many, stdin: ODD_STATE }, ODD_STATE]);
  for (const [name, opts, expected] of cases) {
    const { dir, socket } = place();
    const daemon = await fakeDaemon(socket, (_l, s) => s.write(replyLine(0, '')));
    const r = await runFront(dir, socket, { ...opts, env: { STANDIN_EXIT: '7', ...opts.env } });
    t.test(name, async (t) => {
      t.equal(daemon.connections(), 0, 'the daemon was not asked');
      ranAsCalled(t, dir, r, expected, opts.argv);
    });
  }
  // One variable fewer: forwarded.
  const { dir, socket } = place();
  const daemon = await fakeDaemon(socket, (_l, s) => s.write(replyLine(0, '')));
  const vars = Object.fromEntries(Array.from({ length: HOOK_OP_LIMITS.env - 2 }, (_, i) => [`AGENTCGROUP_X${i}`, '1']));
  t.equal((await runFront(dir, socket, { env: vars })).code, 0);
  t.equal(daemon.lines.length, 1, `${HOOK_OP_LIMITS.env} variables are forwarded`);
});

t.test("a socket another user listens on is no daemon of ours: the binary", { skip: process.getuid?.() !== 0 && 'needs root to listen as another user' }, async (t) => {
  const open = mkdtempSync(join(tmpdir(), 'acg-front-other-'));
  t.teardown(() => rmSync(open, { recursive: true, force: true }));
  chmodSync(open, 0o777);
  const socket = join(open, 'admin.sock');
  const server = `require('net').createServer((s) => s.on('data', () => s.end(${JSON.stringify(replyLine(0, 'impostor\n'))}))).listen(process.argv[1], () => process.stdout.write('ready'))`;
  const impostor = spawn(process.execPath, ['-e', server, socket], { uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'inherit'], env: { PATH: '/usr/bin:/bin' } });
  t.teardown(() => impostor.kill('SIGKILL'));
  await new Promise((r) => impostor.stdout.once('data', r));
  const { dir } = place();
  const r = await runFront(dir, socket, { env: { STANDIN_EXIT: '7' }, stdin: ODD_STATE });
  ranAsCalled(t, dir, r, ODD_STATE);
});

t.test('stdin closed: the binary with stdin still closed', async (t) => {
  const { dir, socket } = place();
  const daemon = await fakeDaemon(socket, (_l, s) => s.write(replyLine(0, '')));
  const r = await runFront(dir, socket, { stdin: 'closed', env: { STANDIN_EXIT: '7' } });
  ranAsCalled(t, dir, r, 'closed');
  t.equal(daemon.connections(), 0);
});

t.test('no binary to run: one line, exit 127 (a runtime would have failed to start the hook)', async (t) => {
  const { dir } = place();
  const missing = await runFront(dir, join(dir, 'none.sock'), { env: { AGENTCGROUP_BINARY: join(dir, 'nothing') } });
  t.equal(missing.code, 127);
  t.equal(missing.stderr.toString(), `agentcgroup: hook: cannot run ${join(dir, 'nothing')}: No such file or directory\n`);
  const relative = await runFront(dir, join(dir, 'none.sock'), { env: { AGENTCGROUP_BINARY: 'bin/agentcgroup' } });
  t.equal(relative.code, 127);
  t.match(relative.stderr.toString(), /^agentcgroup: hook: AGENTCGROUP_BINARY is not an absolute path: bin\/agentcgroup: Invalid argument\n$/);
  if (!existsSync('/usr/local/bin/agentcgroup')) {
    const byDefault = await runFront(dir, join(dir, 'none.sock'), { env: { AGENTCGROUP_BINARY: undefined } });
    t.equal(byDefault.stderr.toString(), 'agentcgroup: hook: cannot run /usr/local/bin/agentcgroup: No such file or directory\n', 'the default binary');
  }
});

t.test('signals: no handler of its own, so a signal ends the front as it would end the hook', async (t) => {
  const { dir, socket } = place();
  let pid = 0;
  const daemon = await fakeDaemon(socket, () => process.kill(pid, 'SIGTERM'));
  const r = await runFront(dir, socket, { started: (p) => (pid = p) });
  t.equal(daemon.lines.length, 1);
  t.equal(r.signal, 'SIGTERM');
  t.equal(standin(dir), undefined);
});

t.test('its bounds are the daemon and the hook bounds', async (t) => {
  const src = readFileSync(SOURCE, 'utf8');
  const define = (name: string) => {
    const m = new RegExp(`^#define ${name} \\(?([^\\n]+?)\\)?$`, 'm').exec(src);
    return m ? (Function(`return ${m[1]}`)() as number) : undefined;
  };
  t.equal(define('STDIN_LIMIT'), STDIN_LIMIT, 'the hook reads stdin up to the same bound (cli/context.ts)');
  t.equal(define('REQUEST_MAX'), MAX_LINE, 'a request is one admin line (daemon/lines.ts)');
  t.equal(define('REPLY_MAX'), HOOK_OP_LIMITS.replyBytes);
  t.equal(define('MAX_ARGS'), HOOK_OP_LIMITS.args);
  t.equal(define('MAX_ENV'), HOOK_OP_LIMITS.env);
});

t.test("against the daemon's own admin socket and hook op: the hook's answer, byte for byte", async (t) => {
  const h = hookEnv(t.testdir(), { rootControllers: '+memory +cpu', policy: 'strict: true\n' });
  const { dir, socket } = place();
  const deps = { fsOps: h.kernel, viewDifference: (pid: number) => viewDifference(pid), daemonReachable: (p: string) => daemonReachable(p) };
  const server = await serveLines(
    socket,
    0o600,
    (p) => (p.uid === 0 ? undefined : 'root only'),
    (line, peer, reply) => replyAdmin(line, { pid: process.pid, snapshot: () => sampleSnapshot(), hook: (msg, p) => answerHook(msg, p, deps) }, peer, reply),
  );
  t.teardown(() => server.close());
  const state = h.state('created');
  const argv = ['agentcgroup', 'hook', 'createRuntime', '--policy', h.policyFile];
  const viaFront = await runFront(dir, socket, { argv, stdin: Buffer.from(state), env: { AGENTCGROUP_PROC_ROOT: h.proc } });
  const inProcess = await runCli(argv.slice(1), { stdin: state, env: { AGENTCGROUP_PROC_ROOT: h.proc }, fsOps: h.kernel });
  t.equal(viaFront.code, 1, 'strict: refused');
  t.equal(viaFront.code, inProcess.code);
  t.equal(viaFront.stderr.toString(), inProcess.err, 'the same line');
  t.equal(standin(dir), undefined, 'answered by the daemon');

  const carved = hookEnv(t.testdir());
  const deps2 = { ...deps, fsOps: carved.kernel };
  Object.assign(deps, deps2);
  const ok = await runFront(dir, socket, { argv: ['agentcgroup', 'hook', '--policy', carved.policyFile], stdin: Buffer.from(carved.state('created')), env: { AGENTCGROUP_PROC_ROOT: carved.proc } });
  t.same({ code: ok.code, stderr: ok.stderr.toString() }, { code: 0, stderr: '' });
  t.equal(carved.kernel.whereIs(4242), 'ctr1/agent', 'carved by the daemon');
});

t.test('an older daemon on the real admin socket (no hook op): the binary', async (t) => {
  const { dir, socket } = place();
  const server = await serveLines(socket, 0o600, () => undefined, (line, peer, reply) => replyAdmin(line, { pid: 1, snapshot: () => sampleSnapshot() }, peer, reply));
  t.teardown(() => server.close());
  const r = await runFront(dir, socket, { env: { STANDIN_EXIT: '7' }, stdin: ODD_STATE });
  ranAsCalled(t, dir, r, ODD_STATE);
});

t.test('the real CLI behind the front: the state it reads from the handed-on stdin (a memfd) gives what a pipe gives', async (t) => {
  const CLI = resolve('dist/agentcgroup.cjs');
  const h = hookEnv(t.testdir(), { annotations: { 'io.agentcgroup.enable': 'false' } });
  const argv = ['node', CLI, 'hook', '--policy', h.policyFile];
  for (const [name, stdin] of [
    ['a container that opts out', h.state('created')],
    ['not an OCI state', 'not an OCI state'],
    ['nothing', ''],
  ] as const) {
    const { dir } = place();
    const viaFront = await runFront(dir, join(dir, 'none.sock'), { argv, stdin: Buffer.from(stdin), env: { AGENTCGROUP_BINARY: process.execPath } });
    const direct = spawnSync(process.execPath, argv.slice(1), { input: stdin, encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
    t.same({ code: viaFront.code, stderr: viaFront.stderr.toString() }, { code: direct.status, stderr: direct.stderr }, name);
  }
});

t.test('agentcgroup hook-front FILE writes out the front (for install.sh), never over a file', async (t) => {
  const { dir } = place();
  const out = join(dir, 'agentcgroup-hook');
  const env = { PATH: '/usr/bin:/bin' };
  const first = spawnSync(process.execPath, [resolve('dist/agentcgroup.cjs'), 'hook-front', out], { encoding: 'utf8', env });
  t.equal(first.status, 0, first.stderr);
  t.ok(readFileSync(out).equals(readFileSync(FRONT)), 'the built front, byte for byte');
  t.equal(statSync(out).mode & 0o777, 0o755);
  const again = spawnSync(process.execPath, [resolve('dist/agentcgroup.cjs'), 'hook-front', out], { encoding: 'utf8', env });
  t.equal(again.status, 1);
  t.match(again.stderr, /^agentcgroup: hook-front: EEXIST[^\n]*\n$/);
});
