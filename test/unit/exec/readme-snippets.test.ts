// The README's snippets that speak the exec protocol themselves ("Tool calls from inside a container"),
// taken from README.md as written and run against a stand-in for the daemon that holds each line to the
// daemon's own decoder: begin, the command, end with how it ended, the notice; 125 when refused.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRequest, type Request } from '../../../src/exec/protocol.js';
import { type Answer, NOTICE, fakeExecd, runClient } from '../../fixtures/fakeexecd.js';

/** The fenced block of README.md whose first line starts with `first`. */
function snippet(first: string): string {
  const blocks = [...readFileSync('README.md', 'utf8').matchAll(/^```\w*\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? '');
  const found = blocks.filter((b) => b.startsWith(first));
  if (found.length !== 1) throw new Error(`README.md has ${found.length} blocks starting ${first}`);
  return found[0]!;
}

const dir = mkdtempSync(join(tmpdir(), 'ac-snippets-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const python = join(dir, 'call.py');
writeFileSync(python, `${snippet('import json, os, signal, socket, subprocess, sys')}\nsys.exit(tool_call(sys.argv[1:]))\n`);
const node = join(dir, 'agentcgroup-call.mjs');
writeFileSync(node, snippet('// agentcgroup-call.mjs'));
const hasPython = spawnSync('python3', ['--version']).status === 0;

const snippets: [string, string, string[], boolean][] = [
  ['python', 'python3', [python], hasPython],
  ['node', process.execPath, [node], true],
];

for (const [what, cmd, pre, available] of snippets) {
  t.test(`the ${what} snippet`, { skip: available ? false : `no ${cmd} here` }, async (t) => {
    const run = async (argv: string[], answer?: (req: Request, line: string) => Answer) => {
      const d = await fakeExecd(answer);
      try {
        const r = await runClient(cmd, [...pre, ...argv], { PATH: process.env.PATH, AGENTCGROUP_EXEC_SOCKET: d.path });
        return { ...r, requests: d.lines.map((l) => parseRequest(l)), refused: d.refused };
      } finally {
        await d.close();
      }
    };
    const cases: [string[], number, { exit: number | null; signal: string | null }][] = [
      [['sh', '-c', 'echo out; exit 3'], 3, { exit: 3, signal: null }],
      [['sh', '-c', 'kill -9 $$'], 137, { exit: null, signal: 'SIGKILL' }],
      [['no-such-command-here'], 127, { exit: 127, signal: null }],
    ];
    for (const [argv, status, end] of cases) {
      const r = await run(argv);
      t.equal(r.code, status, argv.join(' '), { stderr: r.stderr });
      t.same(r.refused, [], 'every line as the daemon decodes it');
      t.same(r.requests, [
        { v: 1, op: 'begin', name: argv[0], argv },
        { v: 1, op: 'end', call: 'pytest-mx1q2-a1b2c3', ...end },
      ]);
      t.ok(r.stderr.endsWith(`${NOTICE}\n`), 'the notice on stderr');
    }
    t.equal((await run(['sh', '-c', 'echo out'])).stdout, 'out\n', 'stdout passed through');
    const refused = await run(['sh', '-c', 'echo ran'], () => '{"v":1,"ok":false,"error":"process 42 is not in the agent leaf"}\n');
    t.equal(refused.code, 125, 'refused: 125');
    t.equal(refused.stdout, '', 'before the command runs');
    t.equal(refused.stderr, 'agentcgroup: exec: the daemon refused the call: process 42 is not in the agent leaf\n');
    const none = await runClient(cmd, [...pre, 'true'], { PATH: process.env.PATH, AGENTCGROUP_EXEC_SOCKET: join(dir, 'none.sock') });
    t.equal(none.code, 125, 'no daemon: 125');
    t.match(none.stderr, /^agentcgroup: exec: .*(ENOENT|No such file)/);
    const gone = await run(['sh', '-c', 'sleep 0.3; exit 4'], (req) => (req.op === 'begin' ? { close: true, write: '{"v":1,"ok":true,"call":"c-1"}\n', afterMs: 50 } : '{"v":1,"ok":true}\n'));
    t.equal(gone.code, 4, 'the daemon gone during the call: the command ran on, its status kept');
  });
}
