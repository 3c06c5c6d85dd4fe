import t from 'tap';
import { DEFAULT_POLICY } from '../../../src/config/policy.js';
import {
  Lineage,
  type Program,
  type ProcView,
  type Verdict,
  isSessionShell,
  matchesProgram,
  programName,
} from '../../../src/policy/lineage.js';

const rules = DEFAULT_POLICY.tracker;
const prog = (...argv: string[]): Program => {
  const name = (argv[0] ?? '').split('/').pop() ?? '';
  return { comm: name.replace(/^-/, '').slice(0, 15), filename: argv[0]?.startsWith('/') ? argv[0] : `/usr/bin/${name}`, argv };
};
const noProc: ProcView = { parentOf: () => undefined, program: () => undefined };

/** Drives a container's events as the kernel would: spawn = fork + exec; the verdict of the exec is returned. */
class World {
  readonly l: Lineage;
  private next = 100;
  readonly calls: string[] = [];
  constructor(init: string[], view: ProcView = noProc) {
    this.l = new Lineage(1, rules, view);
    this.last = this.act(1, 0, init);
  }
  last: Verdict;
  /** parent forks a child that execs argv; a call verdict is bound to a new call id. */
  spawn(parent: number, ...argv: string[]): { pid: number; v: Verdict } {
    const pid = this.next++;
    this.l.fork(parent, pid);
    return { pid, v: this.act(pid, parent, argv) };
  }
  forkOnly(parent: number): number {
    const pid = this.next++;
    this.l.fork(parent, pid);
    return pid;
  }
  act(pid: number, ppid: number, argv: string[]): Verdict {
    const v = this.l.exec(pid, ppid, prog(...argv));
    if (v.kind === 'call') {
      const id = `call-${this.calls.length}`;
      this.calls.push(id);
      this.l.bind(pid, id, v.starter.role === 'session' ? v.starter.pid : undefined);
    }
    return v;
  }
}

const kind = (v: Verdict) => (v.kind === 'stay' ? v.role : v.kind);

t.test('framework as the container init: everything it starts is a call', async (t) => {
  const w = new World(['python3', 'agent.py']);
  t.equal(kind(w.last), 'framework');
  t.equal(kind(w.spawn(1, 'bash', '-c', 'pytest').v), 'call');
  t.equal(kind(w.spawn(1, 'node', 'x.js').v), 'call', 'a program named like a framework is still a call when the framework starts it');
});

t.test('init wrappers: tini, docker-init, dumb-init, catatonit keep the framework in the agent leaf', async (t) => {
  for (const init of [['/sbin/tini', '--'], ['/sbin/docker-init', '--'], ['dumb-init'], ['catatonit', '--']]) {
    const w = new World([...init, 'python3', 'agent.py']);
    t.equal(kind(w.last), 'launcher', `${init[0]} is a launcher`);
    const fw = w.spawn(1, 'python3', 'agent.py');
    t.equal(kind(fw.v), 'framework', `python3 under ${init[0]} is the framework`);
    for (let i = 0; i < 4; i++) t.equal(kind(w.spawn(fw.pid, 'bash', '-c', `echo ${i}`).v), 'call', `call ${i} under ${init[0]}`);
    t.equal(w.calls.length, 4, 'four separate calls');
  }
});

t.test('entrypoint script and sh -c "a; b": setup commands and the framework are not calls', async (t) => {
  const w = new World(['/bin/sh', '/entrypoint.sh']);
  t.equal(kind(w.spawn(1, 'mkdir', '-p', '/work').v), 'framework', 'a setup command the script runs is not a call (it is what the launcher started)');
  const fw = w.spawn(1, 'python3', 'agent.py');
  t.equal(kind(fw.v), 'framework');
  t.equal(kind(w.spawn(fw.pid, 'git', 'status').v), 'call');
  const w2 = new World(['sh', '-c', 'python3 agent.py; echo done']);
  t.equal(kind(w2.spawn(1, 'python3', 'agent.py').v), 'framework');
  const w3 = new World(['sh', '-c', 'exec python3 agent.py']);
  t.equal(kind(w3.act(1, 0, ['python3', 'agent.py'])), 'framework', 'exec in place: the same pid becomes the framework');
  t.equal(kind(w3.spawn(1, 'ls').v), 'call');
});

t.test('language launchers: npx runs the framework through sh -c; python -m is the framework itself', async (t) => {
  const w = new World(['/sbin/tini', '--', 'npx', 'my-agent']);
  const npx = w.spawn(1, 'npx', 'my-agent');
  t.equal(kind(npx.v), 'launcher');
  const sh = w.spawn(npx.pid, 'sh', '-c', 'my-agent');
  t.equal(kind(sh.v), 'launcher');
  const fw = w.spawn(sh.pid, '/usr/local/bin/my-agent');
  t.equal(kind(fw.v), 'framework');
  t.equal(kind(w.spawn(fw.pid, 'npx', 'prettier', '--check', '.').v), 'call', 'npx started by the framework is a call');
  const m = new World(['python3', '-m', 'agent']);
  t.equal(kind(m.last), 'framework');
});

t.test('Claude Code-like: bash -c per call, helpers, an MCP server at boot', async (t) => {
  const w = new World(['/sbin/docker-init', '--', 'node', '/app/cli.js']);
  const fw = w.spawn(1, 'node', '/app/cli.js');
  const mcp = w.spawn(fw.pid, 'node', '/app/mcp-server.js');
  t.equal(kind(mcp.v), 'framework', 'an MCP server (by its conventional name) is part of the framework');
  t.equal(kind(w.spawn(fw.pid, 'npx', '-y', '@modelcontextprotocol/server-filesystem', '/repo').v), 'framework', 'an MCP server through npx');
  t.equal(kind(w.spawn(fw.pid, 'rg', '--json', 'TODO').v), 'call', 'ripgrep');
  t.equal(kind(w.spawn(fw.pid, 'git', 'status', '--porcelain').v), 'call', 'git probe');
  t.equal(kind(w.spawn(fw.pid, '/bin/bash', '-c', '-l', 'npm test').v), 'call');
  t.equal(kind(w.spawn(fw.pid, 'bash', '-lc', 'make').v), 'call', 'Codex-like bash -lc');
  t.equal(kind(w.spawn(mcp.pid, 'git', 'log').v), 'call', 'what a framework helper runs is a call');
});

t.test('mini-swe-agent / Aider-like: subprocess.run(cmd, shell=True)', async (t) => {
  const w = new World(['tini', '--', 'python3', '-m', 'minisweagent']);
  const fw = w.spawn(1, 'python3', '-m', 'minisweagent');
  const call = w.spawn(fw.pid, '/bin/sh', '-c', 'python -c "import numpy"');
  t.equal(kind(call.v), 'call');
  // sh forks python for its command: the child joins the call.
  const child = w.l.fork(call.pid, 900);
  t.same(child, { join: 'call-0' });
  t.equal(kind(w.l.exec(900, call.pid, prog('python', '-c', 'import numpy'))), 'join');
  // A worker the framework forks without exec is the framework's; what it execs is a call.
  const worker = w.forkOnly(fw.pid);
  t.equal(kind(w.spawn(worker, 'pytest').v), 'call');
});

t.test('SWE-agent / OpenHands-like: one persistent shell; each command is a call; a pipeline is one call', async (t) => {
  const w = new World(['python3', 'swe.py']);
  const shell = w.spawn(1, '/bin/bash');
  t.equal(kind(shell.v), 'session', 'bash with no command reads commands: a session, never a call');
  const a = w.spawn(shell.pid, 'grep', '-r', 'foo');
  t.equal(kind(a.v), 'call');
  const b = w.spawn(shell.pid, 'wc', '-l');
  t.equal(kind(b.v), 'join', 'the second stage of `grep | wc` joins the first');
  w.l.exit(a.pid);
  w.l.exit(b.pid);
  t.equal(kind(w.spawn(shell.pid, 'make').v), 'call', 'the next command line is a new call');
  const sub = w.forkOnly(shell.pid);
  t.equal(kind(w.spawn(sub, 'ls').v), 'join', 'a subshell of the same line joins the running make');
  t.equal(w.calls.length, 2);
  w.l.ended('call-1');
  t.equal(kind(w.spawn(shell.pid, 'ls').v), 'call', 'after the call ended a new one starts');
});

t.test('tmux and script: the terminal host and its shell are sessions, the typed commands calls', async (t) => {
  const w = new World(['python3', 'openhands.py']);
  const client = w.spawn(1, 'tmux', 'new-session', '-d', '-s', 'main');
  t.equal(kind(client.v), 'session');
  const server = w.forkOnly(client.pid); // tmux daemonizes: the server is the client's fork
  const shell = w.spawn(server, '-bash');
  t.equal(kind(shell.v), 'session', 'tmux runs a login shell: a session');
  t.equal(kind(w.spawn(shell.pid, 'pytest', '-x').v), 'call');
  t.equal(kind(w.spawn(1, 'tmux', 'send-keys', '-t', 'main', 'ls', 'Enter').v), 'session', 'tmux send-keys is no call');
  const s = new World(['python3', 'agent.py']);
  const script = s.spawn(1, 'script', '-q', '-c', 'bash', '/dev/null');
  t.equal(kind(script.v), 'session');
  const inner = s.spawn(script.pid, '/bin/sh', '-c', 'bash');
  t.equal(kind(inner.v), 'session', "script's child shell is part of the session");
  t.equal(kind(s.spawn(inner.pid, 'git', 'diff').v), 'call');
});

t.test('processes whose forks were missed are placed from /proc', async (t) => {
  // The daemon started after the container: init (tini) and the framework already run.
  const tree: Record<number, { parent: number; argv: string[] }> = {
    1: { parent: 0, argv: ['tini', '--', 'python3', 'agent.py'] },
    7: { parent: 1, argv: ['python3', 'agent.py'] },
  };
  const view: ProcView = {
    parentOf: (pid) => (tree[pid]?.parent || undefined),
    program: (pid) => (tree[pid] ? prog(...tree[pid]!.argv) : undefined),
  };
  const l = new Lineage(1, rules, view);
  t.equal(kind(l.exec(50, 7, prog('bash', '-c', 'ls'))), 'call', 'a child of the framework found in /proc');
  t.same(l.roles().map((r) => `${r.pid}:${r.role}:${r.name}`), ['1:launcher:tini', '7:framework:python3']);
  t.equal(kind(l.exec(60, 1, prog('python3', 'agent2.py'))), 'framework', 'a second child of tini is framework too');
  t.equal(kind(new Lineage(1, rules, noProc).exec(70, 4000, prog('pytest'))), 'call', 'started from outside the container (docker exec): a call');
});

t.test('the starter of a call is what status and the records show', async (t) => {
  const w = new World(['tini', '--', 'node', 'cli.js']);
  const fw = w.spawn(1, 'node', 'cli.js');
  const c = w.spawn(fw.pid, 'bash', '-c', 'ls');
  t.same(c.v.kind === 'call' ? c.v.starter : undefined, { pid: fw.pid, role: 'framework', name: 'node' });
  t.same(w.l.roles().map((r) => r.role), ['launcher', 'framework']);
});

t.test('a fork bomb is bounded', async (t) => {
  const w = new World(['python3', 'a.py']);
  const call = w.spawn(1, 'sh', '-c', 'bomb');
  let pid = 10_000;
  for (let i = 0; i < 40_000; i++) w.l.fork(call.pid, pid++);
  t.ok(w.l.size <= 32_768, `tracked ${w.l.size}`);
  t.same(w.l.roles().map((r) => r.role), ['framework'], 'the framework is never evicted');
});

t.test('a shell as the framework (shells taken off the launchers): what it runs through env sh -c is a call', async (t) => {
  const l = new Lineage(1, { ...rules, launchers: ['tini', 'env'] }, noProc);
  t.equal(kind(l.exec(1, 0, prog('/bin/sh', '-c', 'while read -r cmd; do env sh -c "$cmd" & done'))), 'framework');
  l.fork(1, 5);
  t.equal(kind(l.exec(5, 1, prog('env', 'sh', '-c', 'sleep 1; dd'))), 'call');
});

t.test('session shells: no -c and no script', async (t) => {
  for (const argv of [['bash'], ['-bash'], ['bash', '-i'], ['bash', '--norc', '--noprofile'], ['sh', '-s'], ['bash', '-o', 'pipefail'], ['sh', '-s', 'arg']]) {
    t.ok(isSessionShell(prog(...argv)), argv.join(' '));
  }
  for (const argv of [['bash', '-c', 'ls'], ['bash', '-lc', 'ls'], ['bash', 'script.sh'], ['sh', '-e', 'x.sh'], ['python3'], ['bash', '--rcfile', 'x', '-c', 'ls']]) {
    t.notOk(isSessionShell(prog(...argv)), argv.join(' '));
  }
});

t.test('patterns: names, paths, the script an interpreter runs; never a shell command line', async (t) => {
  t.ok(matchesProgram(['claude'], prog('/opt/claude/bin/claude')));
  t.ok(matchesProgram(['cl*'], prog('claude')));
  t.ok(matchesProgram(['/opt/*/claude'], prog('/opt/claude/bin/claude')));
  t.notOk(matchesProgram(['c.aude'], prog('claude')), '. is literal');
  t.ok(matchesProgram(['*mcp*'], prog('uvx', 'mcp-server-fetch')));
  t.ok(matchesProgram(['*mcp*'], prog('python3', '-m', 'mcp_server_git')));
  t.notOk(matchesProgram(['*mcp*'], prog('bash', '-c', 'grep mcp file')), 'a shell command line is not a program name');
  t.notOk(matchesProgram(['*mcp*'], prog('git', 'status')));
  t.notOk(matchesProgram(['sh'], prog('env', 'sh', '-c', 'dd ...')), 'only interpreters run scripts: env runs sh as a program of its own');
  t.notOk(matchesProgram(['*mcp*'], prog('grep', '-r', 'mcp')), 'grep searches for mcp, it is not one');
  t.equal(programName(prog('-bash')), 'bash');
  t.equal(programName({ comm: 'sh', filename: '/bin/busybox', argv: ['sh', '-c', 'x'] }), 'sh', 'busybox applets by argv[0]');
});
