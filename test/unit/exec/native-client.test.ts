// The in-container exec client in C (src/exec/native/agentcgroup-exec.c) against a fake daemon on a
// unix socket: the same bytes on the socket as the TypeScript client (src/exec/client.ts) for the same
// argv, nothing the daemon's decoder refuses, the same exit statuses and stderr lines; and its own
// failures (no socket, a refusal, a reply that is not one, a request over the protocol's bounds) as one
// line and exit 125 before the command runs.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_ARGS, MAX_MESSAGE_BYTES, parseRequest } from '../../../src/exec/protocol.js';
import { type Answer, BEGUN, ENDED, NOTICE, fakeExecd, nativeClient, runClient, usual } from '../../fixtures/fakeexecd.js';
import { cliCommand } from '../runtime/cli-bundle.js';
import type { Request } from '../../../src/exec/protocol.js';

const C = nativeClient();
const env = (socket: string) => ({ PATH: process.env.PATH, AGENTCGROUP_EXEC_SOCKET: socket });

type Client = 'c' | 'ts';
/** The client's command line for `args` (what follows `agentcgroup-exec` or `agentcgroup exec`). */
const line = (client: Client, args: readonly string[]): [string, string[]] => (client === 'c' ? [C, [...args]] : cliCommand(['exec', ...args]));

/**
 * Runs a client against a fake daemon answering `answer`; `bytes` are extra arguments given as
 * printf octal escapes (Node cannot pass bytes that are not UTF-8 in an argv), after `args`.
 */
async function run(client: Client, args: readonly string[], answer?: (req: Request, line: string) => Answer, bytes: readonly string[] = []) {
  const d = await fakeExecd(answer);
  try {
    let [cmd, argv] = line(client, args);
    const e: NodeJS.ProcessEnv = env(d.path);
    if (bytes.length > 0) {
      bytes.forEach((b, i) => (e[`B${i}`] = b));
      const more = bytes.map((_, i) => `"$(printf "$B${i}")"`).join(' ');
      [cmd, argv] = ['/bin/sh', ['-c', `exec "$@" ${more}`, 'sh', cmd, ...argv]];
    }
    const r = await runClient(cmd, argv, e);
    return { ...r, lines: [...d.lines], refused: [...d.refused] };
  } finally {
    await d.close();
  }
}

const oneLine = (s: string) => /^agentcgroup: exec: [^\n]+\n$/.test(s);
/** A value in a test's name, ASCII only: U+2028 and C1 controls in a name would break TAP's lines. */
const show = (v: unknown) => JSON.stringify(v).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

t.test('the same bytes on the socket as the TypeScript client, and all the daemon decodes', async (t) => {
  const weird = ['a"b', 'back\\slash', 'new\nline', 'tab\there', '\x01\x08\x0c\x0d\x1b\x1f\x7f', 'é😀', '\u2028\u2029', '\u0080\u009f', '', ' ', '/'];
  const cases: { args: string[]; bytes?: string[]; name: string; argv?: string[] }[] = [
    { args: ['true'], name: 'true' },
    { args: ['--', 'true', ...weird], name: 'true' },
    { args: ['--name', 'my "tool"\n\u00e9', '--', '/bin/true'], name: 'my "tool"\n\u00e9' },
    { args: ['/usr/bin/../bin/true'], name: 'true', argv: ['/usr/bin/../bin/true'] },
    // Invalid UTF-8, one U+FFFD per maximal subpart: a stray byte, a cut sequence, a surrogate, a cut
    // 4-byte sequence at the end, overlongs, past U+10FFFF; then valid text after it.
    { args: ['true'], bytes: ['\\377', '\\342\\202x', '\\355\\240\\200', '\\360\\237\\230', '\\300\\257', '\\340\\200\\200', '\\364\\220\\200\\200', 'a\\303\\251\\303b\\360\\237\\230\\200'], name: 'true' },
  ];
  for (const c of cases) {
    const [fromC, fromTs] = [await run('c', c.args, undefined, c.bytes), await run('ts', c.args, undefined, c.bytes)];
    const what = show(c.args);
    t.equal(fromC.code, 0, `${what}: ran`, { stderr: fromC.stderr });
    t.equal(fromTs.code, 0, `${what}: ran (ts)`, { stderr: fromTs.stderr });
    t.same(fromC.lines, fromTs.lines, `${what}: byte for byte what the TypeScript client sends`);
    t.same(fromC.refused, [], `${what}: nothing the daemon refuses`);
    const begin = parseRequest(fromC.lines[0] ?? '');
    t.equal(begin.op === 'begin' && begin.name, c.name, `${what}: the name`);
    if (c.argv && begin.op === 'begin') t.same(begin.argv, c.argv);
    if (c.bytes && begin.op === 'begin') {
      const decoded = c.bytes.map((b) => Buffer.from(b.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))), 'latin1').toString('utf8'));
      t.same(begin.argv.slice(1), decoded, `${what}: invalid UTF-8 as Node's decoder has it`);
    }
    t.same(fromC.lines[1], `{"v":1,"op":"end","call":"pytest-mx1q2-a1b2c3","exit":0,"signal":null}`);
    t.equal(fromC.stderr, `${NOTICE}\n`, 'the notice on stderr');
    t.equal(fromTs.stderr, fromC.stderr);
  }
});

t.test('exit statuses as a shell has them, the end reported with them, the same as the TypeScript client', async (t) => {
  // Short: a message quotes at most 60 characters of it.
  const dir = mkdtempSync(join(tmpdir(), 'ac-nx-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'not-executable'), '#!/bin/sh\n', { mode: 0o644 });
  const cases: [string[], number, string, RegExp | undefined][] = [
    [['sh', '-c', 'exit 0'], 0, '"exit":0,"signal":null', undefined],
    [['sh', '-c', 'exit 3'], 3, '"exit":3,"signal":null', undefined],
    [['sh', '-c', 'kill -9 $$'], 137, '"exit":null,"signal":"SIGKILL"', undefined],
    [['sh', '-c', 'kill -TERM $$'], 143, '"exit":null,"signal":"SIGTERM"', undefined],
    [['no-such-command-here'], 127, '"exit":127,"signal":null', /^agentcgroup: exec: cannot run "no-such-command-here": ENOENT\n/],
    [[join(dir, 'not-executable')], 126, '"exit":126,"signal":null', /^agentcgroup: exec: cannot run ".*not-executable": EACCES\n/],
  ];
  for (const [argv, status, end, said] of cases) {
    for (const client of ['c', 'ts'] as const) {
      const r = await run(client, ['--', ...argv]);
      const what = `${client}: ${argv.join(' ')}`;
      t.equal(r.code, status, what, { stderr: r.stderr });
      t.match(r.lines[1], new RegExp(`^\\{"v":1,"op":"end","call":"pytest-mx1q2-a1b2c3",${end.replace(/[{}]/g, '\\$&')}\\}$`), `${what}: the end says so`);
      if (said) t.match(r.stderr, said, `${what}: one line naming it`);
      t.ok(r.stderr.endsWith(`${NOTICE}\n`), `${what}: then the notice`);
    }
  }
});

t.test('forwarded signals reach the command; its status is ours', async (t) => {
  for (const [sig, code] of [['SIGTERM', 7], ['SIGHUP', 8], ['SIGINT', 9], ['SIGUSR1', 10]] as const) {
    const d = await fakeExecd();
    const script = `trap "exit ${code}" ${sig.slice(3)}; echo ready; while :; do sleep 0.02; done`;
    const r = await runClient(C, ['sh', '-c', script], env(d.path), (pid, out) => {
      const poll = setInterval(() => {
        if (!out().includes('ready')) return;
        clearInterval(poll);
        process.kill(pid, sig);
      }, 10);
    });
    t.equal(r.code, code, `${sig} reached sh, which exited ${code}`, { stderr: r.stderr });
    t.same(d.lines[1], `{"v":1,"op":"end","call":"pytest-mx1q2-a1b2c3","exit":${code},"signal":null}`);
    await d.close();
  }
});

t.test('replies: read as JSON, whatever else they hold; anything not one object line is 125, before the command runs', async (t) => {
  const ok: string[] = [
    ' { "v" : 1 , "ok" : true , "call" : "c-1" } \r\n',
    '{"v":1,"ok":false,"ok":true,"call":"x","call":"c-1"}\n',
    '{"v":1,"ok":true,"call":"c-1","extra":{"a":[1,-2.5e3,{"b":null}],"s":"\\u00e9\\n\\"","t":[true,false,[]]},"notice":null,"error":null}\n',
    '{"v":1,"ok":true,"call":"c\\u002d1"}\n',
  ];
  for (const reply of ok) {
    const r = await run('c', ['sh', '-c', 'echo ran'], (req) => (req.op === 'begin' ? reply : ENDED));
    t.equal(r.code, 0, show(reply), { stderr: r.stderr });
    t.equal(r.stdout, 'ran\n');
    t.match(r.lines[1], /"call":"c-1"/, 'the call id as decoded');
  }
  const bad: [string, RegExp][] = [
    ['null\n', /not one JSON object line/],
    ['[]\n', /not one JSON object line/],
    ['"x"\n', /not one JSON object line/],
    ['{"ok":"yes","call":"c-1"}\n', /not one JSON object line/],
    ['{"ok":true,"call":7}\n', /not one JSON object line/],
    ['{"ok":true,"call":"c-1"} x\n', /not one JSON object line/],
    ['{"ok":true,"call":"c-1",}\n', /not one JSON object line/],
    ['{"ok":true,"call":"c-1"\n', /not one JSON object line/],
    ['{"ok":true,"call":"c\x01"}\n', /not one JSON object line/],
    ['{"ok":true,"call":"\\ud800"} \n', /call id that is not one/],
    [`{"a":${'['.repeat(100)}${']'.repeat(100)},"ok":true,"call":"c-1"}\n`, /not one JSON object line/],
    [`{"ok":true,"call":"c-1","pad":"${'x'.repeat(70 * 1024)}"}\n`, /not one JSON object line of at most 64 KiB/],
    ['x'.repeat(70 * 1024), /not one JSON object line of at most 64 KiB/],
    ['{"v":1,"ok":true}\n', /the daemon refused the call: no reason given/],
    ['{"v":1,"ok":true,"call":""}\n', /the daemon refused the call: no reason given/],
    ['{"v":1,"ok":false,"error":"process 42 is not in the agent leaf: a tool call cannot start another one"}\n', /the daemon refused the call: process 42 is not in the agent leaf/],
    ['{"v":1,"ok":true,"call":"../../x"}\n', /the daemon sent a call id that is not one: "..\/..\/x"/],
  ];
  for (const [reply, said] of bad) {
    const r = await run('c', ['sh', '-c', 'echo ran'], (req) => (req.op === 'begin' ? reply : ENDED));
    t.equal(r.code, 125, show(reply.slice(0, 60)));
    t.ok(oneLine(r.stderr), 'one line', { stderr: r.stderr });
    t.match(r.stderr, said);
    t.equal(r.stdout, '', 'the command did not run');
    t.equal(r.lines.length, 1, 'no end sent');
  }
});

t.test('the reply to end: its notice decoded as the TypeScript client prints it; a refusal said, the status kept', async (t) => {
  const escaped = '{"v":1,"ok":true,"notice":"agentcgroup: \\u00e9 \\ud83d\\ude00 \\"q\\" \\\\ \\/ done"}\n';
  for (const client of ['c', 'ts'] as const) {
    const r = await run(client, ['sh', '-c', 'exit 2'], (req) => (req.op === 'begin' ? BEGUN : escaped));
    t.equal(r.code, 2);
    t.equal(r.stderr, 'agentcgroup: é 😀 "q" \\ / done\n', `${client}: decoded`);
    const refused = await run(client, ['sh', '-c', 'exit 2'], (req) => (req.op === 'begin' ? BEGUN : '{"v":1,"ok":false,"error":"no such call on this connection"}\n'));
    t.equal(refused.code, 2, `${client}: the command's status all the same`);
    t.equal(refused.stderr, 'agentcgroup: exec: the daemon refused the end of the call: no such call on this connection\n');
    const garbled = await run(client, ['sh', '-c', 'exit 2'], (req) => (req.op === 'begin' ? BEGUN : 'not json\n'));
    t.equal(garbled.code, 125, `${client}: a reply that is not one is 125`);
    t.equal(garbled.stderr, 'agentcgroup: exec: the daemon sent something that is not one JSON object line of at most 64 KiB\n');
  }
});

t.test('a daemon gone: before the call, 125; during it, the command runs to its end and its status is ours', async (t) => {
  for (const client of ['c', 'ts'] as const) {
    const early = await run(client, ['sh', '-c', 'echo ran'], () => ({ close: true }));
    t.equal(early.code, 125, `${client}: closed at begin`);
    t.equal(early.stderr, 'agentcgroup: exec: the agentcgroup daemon closed the exec socket\n');
    t.equal(early.stdout, '');
    const during = await run(client, ['sh', '-c', 'sleep 0.3; echo ran; exit 3'], (req) => (req.op === 'begin' ? { close: true, write: BEGUN, afterMs: 50 } : ENDED));
    t.equal(during.code, 3, `${client}: closed during the call: the command's status`);
    t.equal(during.stdout, 'ran\n', 'the command ran to its end');
    t.equal(during.stderr, 'agentcgroup: exec: the agentcgroup daemon closed the exec socket during the call; its end was not reported\n');
    const atEnd = await run(client, ['sh', '-c', 'exit 4'], (req) => (req.op === 'begin' ? BEGUN : { close: true }));
    t.equal(atEnd.code, 4, `${client}: closed at end: the command's status`);
    t.match(atEnd.stderr, /closed the exec socket during the call; its end was not reported\n$/);
  }
  const none = await runClient(C, ['true'], env('/nonexistent/exec.sock'));
  t.equal(none.code, 125, 'no socket');
  t.equal(none.stderr, 'agentcgroup: exec: cannot reach the agentcgroup daemon at "/nonexistent/exec.sock": ENOENT\n');
  const refused = await runClient(C, ['true'], env(`/tmp/${'x'.repeat(120)}`));
  t.equal(refused.code, 125, 'a path no unix socket address holds');
  t.ok(oneLine(refused.stderr), 'one line', { stderr: refused.stderr });
});

t.test("the protocol's bounds: refused here, with one line, before anything is sent", async (t) => {
  // {"v":1,"op":"begin","name":"true","argv":["true","<pad>"]}: the line exactly at the bound goes.
  const overhead = Buffer.byteLength('{"v":1,"op":"begin","name":"true","argv":["true",""]}');
  const atBound = await run('c', ['true', 'a'.repeat(MAX_MESSAGE_BYTES - overhead)]);
  t.equal(atBound.code, 0, `a begin of exactly ${MAX_MESSAGE_BYTES} bytes`, { stderr: atBound.stderr });
  t.equal(Buffer.byteLength(atBound.lines[0] ?? ''), MAX_MESSAGE_BYTES);
  t.same(atBound.refused, []);
  const escapes = await run('c', ['true', '\n'.repeat(Math.floor((MAX_MESSAGE_BYTES - overhead) / 2) + 1)]);
  t.equal(escapes.code, 125, 'counted as JSON: \\n is two bytes');

  const cases: [string, string[], RegExp][] = [
    ['one byte over', ['true', 'a'.repeat(MAX_MESSAGE_BYTES - overhead + 1)], /the command line is longer than the 65536 bytes the exec socket takes \(as JSON\)/],
    ['too many arguments', ['true', ...Array.from({ length: MAX_ARGS }, () => 'x')], /1025 arguments, more than the 1024 the exec socket takes/],
    ['a name of 257 characters', ['--name', 'n'.repeat(257), 'true'], /the tool-call name must be 1 to 256 characters, got "n{60}"…/],
    ['a name of 129 astral characters (258 UTF-16 units, as the daemon counts)', ['--name', '😀'.repeat(129), 'true'], /the tool-call name must be 1 to 256 characters/],
    ['an empty name', ['--name', '', 'true'], /the tool-call name must be 1 to 256 characters, got ""$/m],
    ['a command with no name to take', ['/'], /the tool-call name must be 1 to 256 characters, got ""$/m],
  ];
  for (const [what, args, said] of cases) {
    const r = await run('c', args);
    t.equal(r.code, 125, what);
    t.ok(oneLine(r.stderr), `${what}: one line`, { stderr: r.stderr });
    t.match(r.stderr, said, what);
    t.same(r.lines, [], `${what}: nothing sent`);
  }
  for (const name of ['n'.repeat(256), '😀'.repeat(128), 'é'.repeat(256)]) {
    const r = await run('c', ['--name', name, 'true']);
    t.equal(r.code, 0, `a name of ${name.length} UTF-16 units goes`, { stderr: r.stderr });
    t.same(r.refused, []);
  }
});

t.test('the command line: --name, --, and everything after the command is its own', async (t) => {
  const cases: [string[], string, string[]][] = [
    [['--name', 'n', '--', 'sh', '-c', 'exit 0'], 'n', ['sh', '-c', 'exit 0']],
    [['--name=n2', 'true'], 'n2', ['true']],
    [['sh', '-c', 'exit 0', '--name', 'x', '--'], 'sh', ['sh', '-c', 'exit 0', '--name', 'x', '--']],
    [['--', '--name'], '--name', ['--name']],
    [['--name', '-x', 'true'], '-x', ['true']],
  ];
  for (const [args, name, argv] of cases) {
    const [c, ts] = [await run('c', args), await run('ts', args)];
    const begin = parseRequest(c.lines[0] ?? '');
    t.same(begin.op === 'begin' && [begin.name, begin.argv], [name, argv], show(args));
    t.same(c.lines[0], ts.lines[0], `${show(args)}: as the TypeScript client reads it`);
  }
  for (const [args, said] of [
    [['--name'], /--name needs a value/],
    [['-x', 'true'], /unknown option "-x"/],
    [['--container', 'c1', 'true'], /unknown option "--container"/],
    [[], /no command given/],
    [['--'], /no command given/],
    [['--name', 'n'], /no command given/],
  ] as const) {
    const r = await run('c', args);
    t.equal(r.code, 125, show(args));
    t.ok(oneLine(r.stderr), 'one line', { stderr: r.stderr });
    t.match(r.stderr, said);
    t.same(r.lines, [], 'nothing sent');
  }
  const help = await runClient(C, ['--help'], env('/nonexistent'));
  t.equal(help.code, 0);
  t.match(help.stdout, /^usage: agentcgroup-exec \[--name NAME\] \[--\] CMD \[ARGS\.\.\.\]\n/);
});

t.test('the binary: static, so a container needs no library of ours or its own', async (t) => {
  const elf = readFileSync(C);
  t.same([...elf.subarray(0, 5)], [0x7f, 0x45, 0x4c, 0x46, 2], 'ELF, 64-bit');
  // Program headers (e_phoff at 0x20, e_phentsize 0x36, e_phnum 0x38): no PT_INTERP (3), no PT_DYNAMIC (2).
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const types = Array.from({ length: elf.readUInt16LE(0x38) }, (_, i) => elf.readUInt32LE(phoff + i * elf.readUInt16LE(0x36)));
  t.notOk(types.includes(3) || types.includes(2), 'no program interpreter, nothing dynamic: statically linked');
  t.ok(statSync(C).size < 2_000_000, `small: ${statSync(C).size} bytes`);
});

// The fixture's answers are what the daemon sends; keep them honest against the protocol's types.
t.test('the fake daemon answers as the protocol says', async (t) => {
  t.same(JSON.parse(BEGUN), { v: 1, ok: true, call: 'pytest-mx1q2-a1b2c3' });
  t.same(usual(parseRequest('{"v":1,"op":"end","call":"c","exit":0,"signal":null}')), ENDED);
});
