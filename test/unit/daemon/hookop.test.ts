// The admin op `hook`: the daemon runs a hook stage for the native front and answers what the hook
// process would have: the same exit code, the same stderr to the byte, the same cgroups and run state.
// Each case runs `agentcgroup hook` (main, in-process) on one simulated host and the op on a twin of
// it, then compares everything but the temp directory's name.
import t, { type Test } from 'tap';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { answerAdmin } from '../../../src/daemon/admin.js';
import { HOOK_OP_LIMITS, type HookOpDeps, answerHook, hookArguments, hookReply, parseHookRequest } from '../../../src/daemon/hookop.js';
import { daemonReachable } from '../../../src/hook/daemoncheck.js';
import { viewDifference } from '../../../src/sys/procview.js';
import { CG_ROOT, PID, type HookEnvOptions, hookEnv } from '../../fixtures/hookenv.js';
import { sampleSnapshot } from '../../fixtures/snapshot.js';

type Host = ReturnType<typeof hookEnv>;

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');
const ROOT_PEER = { pid: process.pid, uid: 0, gid: 0 };

/** The request the front sends for `agentcgroup hook ARGS` with this stdin and AGENTCGROUP_* environment. */
function request(argv: string[], stdin: string, env: Record<string, string>): Record<string, unknown> {
  return { op: 'hook', argv: argv.map(b64), env: Object.entries(env).map(([k, v]) => b64(`${k}=${v}`)), stdin: b64(stdin) };
}

function deps(h: Host, over: Partial<HookOpDeps> = {}): HookOpDeps {
  return { fsOps: h.kernel, viewDifference: (pid) => viewDifference(pid), daemonReachable: (p) => daemonReachable(p), ...over };
}

/** The op as the front asks it for the hook line `agentcgroup hook ARGS --policy FILE`. */
async function opHook(h: Host, args: string[], stdin: string, env: Record<string, string> = {}) {
  const msg = request(['agentcgroup', 'hook', ...args, '--policy', h.policyFile], stdin, { AGENTCGROUP_PROC_ROOT: h.proc, ...env });
  const reply = await answerHook(msg, ROOT_PEER, deps(h));
  if (!reply.ok) throw new Error(`declined: ${reply.error}`);
  return { code: reply.exit, out: '', err: unb64(reply.stderr) };
}

/** Files under `dir`, with their contents, the temp directory's name taken out. */
function files(dir: string, base: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(base, p)] = readFileSync(p, 'utf8').replaceAll(base, '<dir>').replace(/"(carvedAt|start|end)":"[^"]*"/g, '"$1":"<time>"').replace(/"durationMs":\d+/g, '"durationMs":0');
    }
  };
  walk(dir);
  return out;
}

/** The same steps through the process and through the op, on twin hosts: every outcome alike. */
async function twins(t: Test, opts: HookEnvOptions, steps: (h: Host, run: (args: string[], stdin: string) => Promise<{ code: number; err: string }>) => Promise<void>) {
  const results: { runs: { code: number; err: string }[]; kernel: unknown; files: Record<string, string> }[] = [];
  for (const via of ['process', 'op'] as const) {
    const dir = t.testdir();
    const h = hookEnv(dir, opts);
    const runs: { code: number; err: string }[] = [];
    const run = async (args: string[], stdin: string) => {
      const r = via === 'process' ? await h.hook(args, stdin) : await opHook(h, args, stdin);
      const seen = { code: r.code, err: r.err.replaceAll(dir, '<dir>') };
      runs.push(seen);
      return seen;
    };
    await steps(h, run);
    results.push({ runs, kernel: h.kernel.snapshot(), files: { ...files(h.runDir, dir), ...files(h.callDir, dir) } });
  }
  const [process, op] = results;
  t.same(op!.runs, process!.runs, 'the same exit codes and stderr, byte for byte');
  t.same(op!.kernel, process!.kernel, 'the same cgroup tree');
  t.same(op!.files, process!.files, 'the same run state and call logs');
  return process!.runs;
}

t.test('a container that opts in: carved alike, quietly', async (t) => {
  const runs = await twins(t, { annotations: { 'io.agentcgroup.enable': 'true' } }, async (h, run) => {
    await run(['createRuntime'], h.state('created'));
    t.equal(h.kernel.whereIs(PID), 'ctr1/agent', 'the init sits in the agent leaf');
  });
  t.same(runs, [{ code: 0, err: '' }]);
});

t.test('a container that opts out: left alone alike', async (t) => {
  const runs = await twins(t, { annotations: { 'io.agentcgroup.enable': 'false' } }, async (h, run) => {
    await run(['createRuntime'], h.state('created'));
    t.equal(h.kernel.whereIs(PID), 'ctr1');
  });
  t.same(runs, [{ code: 0, err: '' }]);
});

t.test('bad state JSON: the same one line, fail open', async (t) => {
  const runs = await twins(t, {}, async (_h, run) => {
    await run(['createRuntime'], '{"ociVersion": "1.0", "id": ');
    await run([], '');
  });
  t.match(runs[0]!.err, /^agentcgroup: createRuntime: .*not JSON.*; the container runs unconstrained\n$/);
  t.equal(runs[0]!.code, 0);
});

t.test('strict refusal: exit 1 and the same line', async (t) => {
  const runs = await twins(t, { rootControllers: '+memory +cpu', policy: 'strict: true\n' }, async (h, run) => {
    await run(['createRuntime'], h.state('created'));
  });
  t.equal(runs[0]!.code, 1);
  t.match(runs[0]!.err, /refusing to start the container \(strict policy\)\n$/);
});

t.test('a policy that does not load stays strict through the op too', async (t) => {
  const runs = await twins(t, { policy: 'strict: true\nladder: [\n' }, async (h, run) => {
    await run(['createRuntime'], h.state('created'));
  });
  t.equal(runs[0]!.code, 1);
});

t.test('poststop: the teardown alike, a cut-off call logged once, idempotent', async (t) => {
  const runs = await twins(t, {}, async (h, run) => {
    await run(['createRuntime'], h.state('created'));
    const marker = join(h.runDir, 'calls/ctr1');
    mkdirSync(marker, { recursive: true });
    const call = { callId: 'pytest-1', name: 'pytest', argv: ['pytest'], cgroup: '/ctr1/tools/pytest-1', start: '2026-01-01T00:00:00.000Z', limits: { high: 1, max: 2 }, owner: 'exec' };
    writeFileSync(join(marker, 'pytest-1.json'), JSON.stringify(call));
    h.runtimeRemoves();
    await run(['poststop'], h.state('stopped'));
    await run([], h.state('stopped'));
  });
  t.same(runs.map((r) => r.code), [0, 0, 0]);
});

t.test('poststop after a runtime died: the straggler killed and C removed alike (waits on inotify in the daemon)', async (t) => {
  await twins(t, {}, async (h, run) => {
    await run(['createRuntime'], h.state('created'));
    h.kernel.mkdir(`${CG_ROOT}/ctr1/tools/call-1`);
    h.kernel.spawnAt('ctr1/tools/call-1', 999);
    h.kernel.writeFile(`${CG_ROOT}/ctr1/agent/cgroup.kill`, '1');
    await run(['poststop'], h.state('stopped'));
    t.notOk(h.kernel.isDir(`${CG_ROOT}/ctr1`));
  });
});

t.test('poststart (frozen around the move), an inferred stage, a bad stage: alike', async (t) => {
  await twins(t, {}, async (h, run) => {
    await run(['poststart'], h.state('running'));
  });
  await twins(t, {}, async (h, run) => {
    await run([], h.state('creating'));
    await run(['bogus'], h.state('created'));
    await run(['POSTSTOP'], h.state('stopped'));
  });
});

t.test('the "daemon is not running" notice: said alike, once', async (t) => {
  const runs = await twins(t, { daemonNoticePending: true }, async (h, run) => {
    await run(['createRuntime'], h.state('created'));
    h.runtimeRemoves();
    await run(['poststop'], h.state('stopped'));
    h.runtimeCreates();
    await run(['createRuntime'], h.state('created'));
  });
  t.match(runs[0]!.err, /^agentcgroup: warning: the agentcgroup daemon is not running/);
  t.equal(runs[2]!.err, '');
});

t.test('refused annotations and a writable cgroupfs: the same warnings', async (t) => {
  const runs = await twins(t, { annotations: { 'io.agentcgroup.priority': 'high' } }, async (h, run) => {
    writeFileSync(join(h.bundle, 'config.json'), JSON.stringify({ ociVersion: '1.0.2', annotations: { 'io.agentcgroup.priority': 'high' }, mounts: [{ destination: '/sys/fs/cgroup', type: 'cgroup', options: ['rw'] }] }));
    await run(['createRuntime'], h.state('created'));
  });
  t.equal(runs[0]!.err.split('\n').length, 3, 'two warning lines');
});

t.test('the daemon answering for itself: its own admin socket counts as reachable without a connection', async (t) => {
  const h = hookEnv(t.testdir(), { daemonNoticePending: true });
  const asked: string[] = [];
  const msg = request(['agentcgroup', 'hook', 'createRuntime', '--policy', h.policyFile], h.state('created'), { AGENTCGROUP_PROC_ROOT: h.proc });
  const reply = await answerHook(msg, ROOT_PEER, deps(h, { daemonReachable: async (p) => (asked.push(p), true) }));
  t.same(reply, { v: 1, ok: true, exit: 0, stderr: '' }, 'no notice: a daemon answered');
  t.same(asked, [join(h.runDir, 'admin.sock')], "the caller's policy's run dir");
});

t.test('declined, so that the front runs the binary: shapes the daemon cannot answer exactly', async (t) => {
  const h = hookEnv(t.testdir());
  const before = h.kernel.snapshot();
  const env = { AGENTCGROUP_PROC_ROOT: h.proc };
  const cases: [string, string[], Record<string, string>, RegExp][] = [
    ['argv[0] the runtime shim link', ['agentcgroup-runtime', 'hook'], env, /argv\[0\] makes the binary the runtime shim/],
    ['argv[0] a path to the runtime shim link', ['/usr/local/bin/agentcgroup-runtime', 'hook'], env, /argv\[0\] makes the binary the runtime shim/],
    ['the node script first', ['node', '/x/agentcgroup.cjs', 'hook'], env, /not the hook command/],
    ['another command', ['agentcgroup', 'status'], env, /not the hook command/],
    ['--help', ['agentcgroup', 'hook', '--help'], env, /an option other than --policy/],
    ['an unknown option', ['agentcgroup', 'hook', 'createRuntime', '--no-such-option'], env, /an option other than --policy/],
    ['a second argument', ['agentcgroup', 'hook', 'createRuntime', 'extra'], env, /more than one argument/],
    ['--policy twice', ['agentcgroup', 'hook', '--policy', h.policyFile, `--policy=${h.policyFile}`], env, /--policy twice/],
    ['--policy without a file', ['agentcgroup', 'hook', '--policy'], env, /--policy without a file/],
    ['a relative --policy', ['agentcgroup', 'hook', '--policy', 'policy.yaml'], env, /--policy is not an absolute path/],
    ['a relative AGENTCGROUP_POLICY', ['agentcgroup', 'hook'], { ...env, AGENTCGROUP_POLICY: 'p.yaml' }, /AGENTCGROUP_POLICY is not an absolute path/],
    ['an empty AGENTCGROUP_PROC_ROOT', ['agentcgroup', 'hook'], { AGENTCGROUP_PROC_ROOT: '' }, /AGENTCGROUP_PROC_ROOT is not an absolute path/],
    ['a relative AGENTCGROUP_CGROUP_ROOT', ['agentcgroup', 'hook'], { ...env, AGENTCGROUP_CGROUP_ROOT: 'sys' }, /AGENTCGROUP_CGROUP_ROOT/],
  ];
  for (const [name, argv, e, pattern] of cases) {
    const reply = await answerHook(request(argv, h.state('created'), e), ROOT_PEER, deps(h));
    t.notOk(reply.ok, name);
    t.match(!reply.ok && reply.error, /^declined: /, name);
    t.match(!reply.ok && reply.error, pattern, name);
  }
  const apart = await answerHook(request(['agentcgroup', 'hook', '--policy', h.policyFile], h.state('created'), env), ROOT_PEER, deps(h, { viewDifference: () => 'the caller is in another mnt namespace' }));
  t.same(apart, { v: 1, ok: false, error: 'declined: the caller is in another mnt namespace' }, 'a caller that sees the host otherwise (the daemon in its pod)');
  t.same(h.kernel.snapshot(), before, 'nothing was carved');
  const empty = await answerHook(request(['agentcgroup', 'hook', 'createRuntime', '--policy', h.policyFile], h.state('created'), { ...env, AGENTCGROUP_POLICY: '', AGENTCGROUP_CGROUP_ROOT: '' }), ROOT_PEER, deps(h));
  t.ok(empty.ok, 'an empty AGENTCGROUP_POLICY or AGENTCGROUP_CGROUP_ROOT is unset to the hook, not a relative path');
});

t.test('the argv shapes of our hook lines', async (t) => {
  t.same(hookArguments(['agentcgroup', 'hook']), { stage: undefined, policyFile: undefined }, 'hooks.d: the stage from the status');
  t.same(hookArguments(['agentcgroup', 'hook', 'createRuntime']), { stage: 'createRuntime', policyFile: undefined }, 'the shim and the daemon');
  t.same(hookArguments(['agentcgroup', 'hook', 'poststop', '--policy', '/p']), { stage: 'poststop', policyFile: '/p' });
  t.same(hookArguments(['agentcgroup', 'hook', '--policy=/p', 'poststop']), { stage: 'poststop', policyFile: '/p' });
  t.same(hookArguments(['agentcgroup', 'hook', '']), { stage: '', policyFile: undefined }, 'an empty argument is a (bad) stage, as commander takes it');
  t.same(hookArguments(['/usr/local/bin/agentcgroup-hook', 'hook']), { stage: undefined, policyFile: undefined }, 'any other argv[0]: the binary would be the CLI');
  t.type(hookArguments(['agentcgroup']), 'string');
  t.type(hookArguments(['agentcgroup', 'hook', '--', 'createRuntime']), 'string');
  t.type(hookArguments(['agentcgroup', 'hook', '--policy', '--other']), 'string');
});

t.test('requests: bounds and malformed fields, one line each', async (t) => {
  const ok = request(['agentcgroup', 'hook'], '{}', { AGENTCGROUP_POLICY: '/p' });
  t.same(parseHookRequest(ok), { argv: ['agentcgroup', 'hook'], env: { AGENTCGROUP_POLICY: '/p' }, stdin: '{}' });
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['no argv', { ...ok, argv: undefined }, /^argv: /],
    ['an empty argv', { ...ok, argv: [] }, /^argv: /],
    ['too many arguments', { ...ok, argv: Array(HOOK_OP_LIMITS.args + 1).fill(b64('x')) }, /^argv: an array of 1 to 64/],
    ['an argument not base64', { ...ok, argv: ['a?b'] }, /^argv: /],
    ['base64 without its padding', { ...ok, argv: ['YQ'] }, /^argv: /],
    ['a NUL in an argument', { ...ok, argv: [b64('a\0b')] }, /without NUL/],
    ['env not an array', { ...ok, env: { AGENTCGROUP_POLICY: '/p' } }, /^env: /],
    ['too many variables', { ...ok, env: Array(HOOK_OP_LIMITS.env + 1).fill(b64('AGENTCGROUP_X=1')) }, /^env: an array of at most 32/],
    ['a variable not ours', { ...ok, env: [b64('PATH=/bin')] }, /^env: each entry/],
    ['a variable without =', { ...ok, env: [b64('AGENTCGROUP_POLICY')] }, /^env: each entry/],
    ['a variable twice', { ...ok, env: [b64('AGENTCGROUP_X=1'), b64('AGENTCGROUP_X=2')] }, /AGENTCGROUP_X twice/],
    ['no stdin', { ...ok, stdin: undefined }, /^stdin: /],
    ['stdin not base64', { ...ok, stdin: '{}' }, /^stdin: /],
  ];
  for (const [name, msg, pattern] of bad) t.match(parseHookRequest(msg), pattern, name);
  const h = hookEnv(t.testdir());
  t.same(await answerHook({ op: 'hook', argv: 'agentcgroup hook' }, ROOT_PEER, deps(h)), { v: 1, ok: false, error: 'argv: an array of 1 to 64 base64 strings' }, 'answered as a failure');
  const binary = Buffer.from([0xff, 0xfe, 0x7b]);
  t.equal((parseHookRequest({ ...ok, stdin: binary.toString('base64') }) as { stdin: string }).stdin, binary.toString('utf8'), 'stdin decoded as the hook decodes its stdin (invalid UTF-8 as U+FFFD)');
});

t.test('replies: exactly the keys the front checks, in its order; a huge stderr cut to fit', async (t) => {
  t.equal(JSON.stringify(hookReply({ exit: 1, stderr: 'agentcgroup: x\n' })), `{"v":1,"ok":true,"exit":1,"stderr":"${b64('agentcgroup: x\n')}"}`);
  const line = 'agentcgroup: warning: container c: cannot remove it\n';
  const huge = line.repeat(10_000);
  const reply = hookReply({ exit: 0, stderr: huge });
  t.ok(JSON.stringify(reply).length + 1 <= HOOK_OP_LIMITS.replyBytes, 'within the front bound');
  const text = unb64(reply.stderr);
  t.ok(huge.startsWith(text.slice(0, text.lastIndexOf(line) + line.length)), 'whole lines, from the start');
  t.match(text, /\nagentcgroup: warning: \d+ more bytes of this hook's messages cut\n$/);
});

t.test('the admin socket dispatches the op to the daemon, with the peer; an older daemon does not know it', async (t) => {
  const seen: unknown[] = [];
  const src = { pid: 1, snapshot: () => sampleSnapshot(), hook: async (msg: Record<string, unknown>, peer: typeof ROOT_PEER) => (seen.push([msg.op, peer.pid]), hookReply({ exit: 0, stderr: '' })) };
  t.same(await answerAdmin('{"op":"hook"}', src, ROOT_PEER), { v: 1, ok: true, exit: 0, stderr: '' });
  t.same(seen, [['hook', process.pid]]);
  t.same(await answerAdmin('{"op":"hook"}', { pid: 1, snapshot: () => sampleSnapshot() }, ROOT_PEER), { v: 1, ok: false, error: 'unknown op "hook": one of ping, snapshot, metrics' }, 'no hook op: unknown, and the front runs the binary');
  t.same(await answerAdmin('{"op":"nope"}', src, ROOT_PEER), { v: 1, ok: false, error: 'unknown op "nope": one of ping, snapshot, metrics, hook' });
  const throwing = { ...src, hook: async () => { throw new Error('boom'); } };
  t.same(await answerAdmin('{"op":"hook"}', throwing, ROOT_PEER), { v: 1, ok: false, error: 'boom' }, 'a failure, never a rejection');
});

t.test('viewDifference: this process shares its own view; a pid outside ours does not', async (t) => {
  t.equal(viewDifference(process.pid), undefined);
  t.match(viewDifference(0), /pid namespace/);
  t.match(viewDifference(2 ** 22 + 7), /cannot compare/);
});
