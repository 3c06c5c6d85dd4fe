// `agentcgroup runtime` end to end on the host, with a fake runtime (a shell script that records what
// it was given): argv, exit codes, signals and fds pass through; create edits config.json exactly once
// and fails open; other verbs touch nothing. The real runtimes are driven in the guest (runtime-shim.ts).
import t, { type Test } from 'tap';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, closeSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, realpathSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliBundle, cliCommand } from './cli-bundle.js';

const FAKE = `#!/bin/sh
out=$FAKE_OUT
printf '%s\\n' "$@" > "$out.argv"
echo "$AGENTCGROUP_SHIM_PID" > "$out.mark"
readlink /proc/$$/fd/3 > "$out.fd3" 2>/dev/null
case "$FAKE_MODE" in
  wait) trap 'echo TERM > "$out.sig"; exit 42' TERM; echo up > "$out.up"; while :; do sleep 0.05; done ;;
  late) echo up > "$out.up"; sleep "$FAKE_LATE"
    trap 'echo INT >> "$out.sig"' INT; trap 'echo TERM >> "$out.sig"; got=1' TERM
    while [ -z "$got" ]; do sleep 0.05; done; sleep 0.3; exit 42 ;;
  die) kill -TERM $$ ;;
esac
echo "fake says hi"
echo "fake complains" >&2
exit \${FAKE_EXIT:-0}
`;

interface World {
  dir: string;
  fake: string;
  out: string;
  bundle: string;
  config: string;
  runDir: string;
  env: NodeJS.ProcessEnv;
}

function world(t: Test, annotations: Record<string, string> = { 'io.agentcgroup.enable': 'true' }, policyExtra = ''): World {
  const dir = t.testdir({ bundle: {} });
  const fake = join(dir, 'fake-runtime');
  writeFileSync(fake, FAKE);
  chmodSync(fake, 0o755);
  const runDir = join(dir, 'run');
  writeFileSync(join(dir, 'policy.yaml'), `paths:\n  run_dir: ${runDir}\n  call_log_dir: ${join(dir, 'calls')}\n  exec_client: ${join(dir, 'agentcgroup-exec')}\n${policyExtra}`);
  const bundle = join(dir, 'bundle');
  const config = join(bundle, 'config.json');
  writeFileSync(config, JSON.stringify({ ociVersion: '1.0.2', process: { args: ['sh'] }, mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }], annotations, hooks: { prestart: [{ path: '/bin/true' }] } }));
  chmodSync(config, 0o640);
  const env = { PATH: process.env.PATH, AGENTCGROUP_POLICY: join(dir, 'policy.yaml'), FAKE_OUT: join(dir, 'out') };
  return { dir, fake, out: join(dir, 'out'), bundle, config, runDir, env };
}

function shim(w: World, args: string[], extraEnv: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return spawnSync(...cliCommand(['runtime', '--runtime', w.fake, ...args]), { encoding: 'utf8', env: { ...w.env, ...extraEnv }, cwd: w.dir });
}

const read = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8') : undefined);
const argvSeen = (w: World) => read(`${w.out}.argv`)?.split('\n').slice(0, -1);
const config = (w: World) => JSON.parse(readFileSync(w.config, 'utf8'));
// containerd's runc shim, as it calls a runtime (go-runc).
const globals = (w: World) => ['--root', join(w.dir, 'state'), '--log', join(w.bundle, 'log.json'), '--log-format', 'json'];

t.test('pass-through verbs: exact argv, stdout, stderr and exit code; config.json untouched', async (t) => {
  const w = world(t);
  const before = readFileSync(w.config);
  const mtime = statSync(w.config).mtimeMs;
  for (const [args, code] of [
    [[...globals(w), 'state', 'c1'], 0],
    [[...globals(w), 'kill', 'c1', 'KILL'], 3],
    [['--debug', 'delete', '--force', 'c1'], 1],
    [['start', 'with space', '', '--', '-x', 'ünï'], 0],
  ] as const) {
    const r = shim(w, [...args], { FAKE_EXIT: String(code) });
    t.equal(r.status, code, `${args.join(' ')}: exit code passes through`);
    t.same(argvSeen(w), args, 'the runtime gets the exact argv');
    t.equal(r.stdout, 'fake says hi\n');
    t.equal(r.stderr, 'fake complains\n', 'nothing of ours on stderr');
  }
  t.same(readFileSync(w.config), before, 'config.json is byte for byte the same');
  t.equal(statSync(w.config).mtimeMs, mtime, 'and not rewritten');
  t.notOk(existsSync(w.runDir), 'no state of ours appears');
  t.match(read(`${w.out}.mark`), /^\d+\n$/, 'the runtime is told a shim started it (loop detection)');
});

t.test('create, as containerd calls it: hooks and the socket mount added once; argv unchanged', async (t) => {
  const w = world(t);
  const args = [...globals(w), 'create', '--bundle', w.bundle, '--pid-file', join(w.bundle, 'init.pid'), 'c1'];
  const r = shim(w, args);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stderr, 'fake complains\n', 'no warning');
  t.same(argvSeen(w), args);
  const c = config(w);
  const self = realpathSync(cliBundle());
  const hook = (stage: string) => ({ path: process.execPath, args: ['agentcgroup', self, 'hook', stage], env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `AGENTCGROUP_POLICY=${w.env.AGENTCGROUP_POLICY}`], timeout: 30 });
  t.same(c.hooks, { prestart: [{ path: '/bin/true' }], createRuntime: [hook('createRuntime')], poststop: [hook('poststop')] }, 'our two stages, the existing hook kept');
  const sockDir = join(w.runDir, 'sock', 'c1');
  t.same(c.mounts.at(-1), { destination: '/run/agentcgroup', type: 'bind', source: sockDir, options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] }, 'the exec socket directory is mounted last');
  t.equal(c.mounts.length, 2);
  t.same(c.process, { args: ['sh'] }, 'everything else kept');
  t.equal(statSync(w.config).mode & 0o777, 0o640, 'mode kept');
  t.equal(statSync(sockDir).mode & 0o777, 0o755, 'the socket directory exists before the runtime mounts it, searchable');

  const again = readFileSync(w.config, 'utf8');
  t.equal(shim(w, args).status, 0, 'create retried');
  t.equal(readFileSync(w.config, 'utf8'), again, 'adds nothing the second time');

  t.equal(shim(w, ['delete', 'c1'], { FAKE_EXIT: '1' }).status, 1);
  t.ok(existsSync(sockDir), 'a failed delete leaves the socket directory');
  t.equal(shim(w, ['delete', '--force', 'c1']).status, 0);
  t.notOk(existsSync(sockDir), 'a delete that worked removes it');
});

t.test('create with the exec client installed: mounted over a placeholder in the socket directory; an unfit one is one warning', async (t) => {
  const w = world(t);
  const client = join(w.dir, 'agentcgroup-exec');
  writeFileSync(client, '#!/bin/sh\n', { mode: 0o755 });
  const args = ['create', '--bundle', w.bundle, 'c1'];
  const r = shim(w, args);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stderr, 'fake complains\n', 'no warning');
  const sockDir = join(w.runDir, 'sock', 'c1');
  t.same(config(w).mounts.slice(-2), [
    { destination: '/run/agentcgroup', type: 'bind', source: sockDir, options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] },
    { destination: '/run/agentcgroup/agentcgroup-exec', type: 'bind', source: client, options: ['bind', 'ro', 'nosuid', 'nodev'] },
  ]);
  const placeholder = lstatSync(join(sockDir, 'agentcgroup-exec'));
  t.ok(placeholder.isFile() && placeholder.size === 0, 'the mountpoint is an empty file in the socket directory');
  t.equal(shim(w, ['delete', '--force', 'c1']).status, 0);
  t.notOk(existsSync(sockDir), 'delete removes the directory, placeholder and all');

  const unfit = world(t);
  writeFileSync(join(unfit.dir, 'agentcgroup-exec'), '#!/bin/sh\n', { mode: 0o755 });
  chmodSync(join(unfit.dir, 'agentcgroup-exec'), 0o777);
  const u = shim(unfit, args);
  t.equal(u.status, 0, 'the container is still created');
  t.match(u.stderr, /^agentcgroup: runtime: warning: the exec client .*agentcgroup-exec has mode 0777: others than its owner may write it: containers get no agentcgroup-exec\nfake complains\n$/, 'one warning line');
  t.same(config(unfit).mounts.map((m: { destination: string }) => m.destination), ['/proc', '/run/agentcgroup'], 'the socket directory only');
  t.notOk(existsSync(join(unfit.runDir, 'sock', 'c1', 'agentcgroup-exec')), 'no placeholder');
});

t.test('create with a Docker 28 config: every byte of it kept around our additions (memlock -1 is 2^64-1)', async (t) => {
  const w = world(t);
  const original = readFileSync('test/fixtures/oci/docker28-config.json', 'utf8');
  writeFileSync(w.config, original);
  const r = shim(w, ['create', '--bundle', w.bundle, 'c1']);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stderr, 'fake complains\n', 'no warning');
  const out = readFileSync(w.config, 'utf8');
  t.equal(config(w).hooks.poststop.length, 1, 'edited');
  // Our hooks go last, our mount after the engine's: cut both out, and the engine's text is left.
  const withoutHooks = `${out.slice(0, out.lastIndexOf(',"hooks":'))}}`;
  const mount = withoutHooks.indexOf(',{"destination":"/run/agentcgroup"');
  t.equal(withoutHooks.slice(0, mount) + withoutHooks.slice(withoutHooks.indexOf('}', mount) + 1), original);
});

t.test('run, and crun spellings: -b, --config relative to the bundle, options after the id', async (t) => {
  const w = world(t);
  writeFileSync(join(w.bundle, 'other.json'), readFileSync(w.config));
  const untouched = readFileSync(w.config, 'utf8');
  const r = shim(w, ['run', 'c2', '-b', 'bundle', '--config=other.json', '-d']);
  t.equal(r.status, 0, r.stderr);
  t.equal(JSON.parse(readFileSync(join(w.bundle, 'other.json'), 'utf8')).hooks.poststop.length, 1, 'the named config got the hooks');
  t.equal(readFileSync(w.config, 'utf8'), untouched, 'config.json did not');
  t.ok(existsSync(join(w.runDir, 'sock', 'c2')), 'run -d: the container lives on, its socket directory too');
  t.equal(shim(w, ['run', '--bundle', w.bundle, 'c3']).status, 0);
  t.notOk(existsSync(join(w.runDir, 'sock', 'c3')), 'foreground run: gone with the container');
});

t.test('the gate: annotation, shim.always, opt-out, pod sandboxes', async (t) => {
  const cases: [Record<string, string>, string, boolean][] = [
    [{}, '', false],
    [{ 'io.agentcgroup.enable': 'false' }, '', false],
    [{ 'io.agentcgroup.enable': 'yes' }, '', true],
    [{}, 'shim:\n  always: true\n', true],
    [{ 'io.agentcgroup.enable': 'off' }, 'shim:\n  always: true\n', false],
    [{ 'io.kubernetes.cri.container-type': 'sandbox', 'io.agentcgroup.enable': 'true' }, '', false],
  ];
  for (const [annotations, policy, carved] of cases) {
    const w = world(t, annotations, policy);
    const before = readFileSync(w.config, 'utf8');
    const r = shim(w, ['create', '--bundle', w.bundle, 'c1']);
    t.equal(r.status, 0);
    t.equal(r.stderr, 'fake complains\n');
    const changed = readFileSync(w.config, 'utf8') !== before;
    t.equal(changed, carved, `${JSON.stringify(annotations)} ${policy.trim()}: ${carved ? 'hooks added' : 'left alone'}`);
  }
});

t.test('fails open on a bad config, refuses under a strict policy', async (t) => {
  for (const [name, text] of [
    ['not JSON', '{"ociVersion": '],
    ['hooks not an object', JSON.stringify({ ociVersion: '1', annotations: { 'io.agentcgroup.enable': 'true' }, hooks: [] })],
    ['mounts not an array', JSON.stringify({ ociVersion: '1', annotations: { 'io.agentcgroup.enable': 'true' }, mounts: {} })],
  ]) {
    const w = world(t);
    writeFileSync(w.config, text as string);
    const r = shim(w, ['create', 'c1'], {});
    t.equal(r.status, 0, `${name}: the runtime still runs`);
    t.match(r.stderr, /^agentcgroup: runtime: warning: .*config left unchanged, the container runs unconstrained\nfake complains\n$/, `${name}: one warning line`);
    t.equal(readFileSync(w.config, 'utf8'), text, `${name}: file unchanged`);
    t.notOk(existsSync(join(w.runDir, 'sock', 'c1')), `${name}: no socket directory left`);
    const rec = JSON.parse(readFileSync(join(w.runDir, 'uncarved', 'c1.json'), 'utf8'));
    t.match(rec, { id: 'c1', stage: 'shim' }, `${name}: an uncarved record for the daemon to show`);
    t.notOk('pid' in rec, 'no pid before create: it goes at delete');
    t.equal(shim(w, ['delete', 'c1'], {}).status, 0);
    t.notOk(existsSync(join(w.runDir, 'uncarved', 'c1.json')), `${name}: delete removes it`);
  }
  // With the runtime's --pid-file, the record learns the container's init after create, so the sweep
  // can drop it with no delete of ours (the runtime front sends delete straight to the runtime).
  const uncarved = (x: World) => join(x.runDir, 'uncarved', 'c1.json');
  const pw = world(t);
  writeFileSync(pw.config, '{"ociVersion": ');
  const pidFile = join(pw.bundle, 'init.pid');
  writeFileSync(pidFile, `${process.pid}\n`); // what the runtime would have written: a live process
  const withPid = shim(pw, ['create', '--bundle', pw.bundle, '--pid-file', pidFile, 'c1']);
  t.equal(withPid.status, 0);
  t.match(JSON.parse(readFileSync(uncarved(pw), 'utf8')), { id: 'c1', stage: 'shim', pid: process.pid, started: Number }, "the init's pid and start time added after create");
  t.equal(shim(pw, ['create', '--bundle', pw.bundle, '--pid-file', pidFile, 'c1'], { FAKE_EXIT: '1' }).status, 1);
  t.notOk(existsSync(uncarved(pw)), 'a create that failed leaves no record');
  t.equal(shim(pw, ['run', '--bundle', pw.bundle, 'c1']).status, 0);
  t.notOk(existsSync(uncarved(pw)), 'nor does a foreground run once it has ended');
  writeFileSync(pidFile, 'x\n');
  const junk = shim(pw, ['run', '-d', '--bundle', pw.bundle, '--pid-file', pidFile, 'c1']);
  t.match(junk.stderr, /\nagentcgroup: runtime: warning: the pid file .* holds no pid\n$/, 'a pid file without a pid: one more warning line');
  t.ok(existsSync(uncarved(pw)), 'and the record stays, for delete');

  const w = world(t, { 'io.agentcgroup.enable': 'true' }, 'strict: true\n');
  writeFileSync(w.config, '[]');
  const r = shim(w, ['create', '--bundle', w.bundle, 'c1']);
  t.equal(r.status, 1, 'strict: create fails');
  t.match(r.stderr, /^agentcgroup: runtime: .*must be a JSON object.*refusing to create the container \(strict policy\)\n$/);
  t.equal(argvSeen(w), undefined, 'and the runtime is not run');
  const bad = world(t, { 'io.agentcgroup.enable': 'true' }, 'strict: maybe\n');
  const open = shim(bad, ['create', '--bundle', bad.bundle, 'c1']);
  t.equal(open.status, 0, 'a broken policy file: fail open');
  t.match(open.stderr, /^agentcgroup: runtime: warning: .*strict: must be true or false/);
});

t.test('a failed create removes the socket directory it made', async (t) => {
  const w = world(t);
  const r = shim(w, ['create', '--bundle', w.bundle, 'c1'], { FAKE_EXIT: '1' });
  t.equal(r.status, 1);
  t.notOk(existsSync(join(w.runDir, 'sock', 'c1')));
  mkdirSync(join(w.runDir, 'sock', 'busy'), { recursive: true });
  shim(w, ['create', '--bundle', w.bundle, 'busy'], { FAKE_EXIT: '1' });
  t.ok(existsSync(join(w.runDir, 'sock', 'busy')), 'one that was there (a live container of that id) stays');
});

/** The shim running `args` in the background, once its fake runtime is up; `ended`: its exit code and signal. */
async function upShim(w: World, args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(...cliCommand(['runtime', '--runtime', w.fake, ...args]), { env: { ...w.env, ...env }, cwd: w.dir, stdio: 'ignore' });
  const ended = new Promise<[number | null, string | null]>((r) => child.on('exit', (code, sig) => r([code, sig])));
  for (let i = 0; i < 500 && !existsSync(`${w.out}.up`); i++) await new Promise((r) => setTimeout(r, 20));
  return { child, ended };
}

t.test('signals are forwarded; a runtime killed by a signal kills the shim the same way', async (t) => {
  const w = world(t);
  const { child, ended } = await upShim(w, ['run', 'c1'], { FAKE_MODE: 'wait' });
  child.kill('SIGTERM');
  t.same(await ended, [42, null], "the runtime got SIGTERM and the shim exits with the runtime's code");
  t.equal(read(`${w.out}.sig`), 'TERM\n');

  const died = spawnSync(...cliCommand(['runtime', '--runtime', w.fake, 'state', 'c1']), { env: { ...w.env, FAKE_MODE: 'die' }, cwd: w.dir });
  t.equal(died.signal, 'SIGTERM', 'the shim dies of the signal that killed the runtime');
});

// crun's window: its container runs before crun takes signals over (sys/sigready.ts); here, a runtime
// that is up before it traps TERM.
t.test('a foreground run or exec: a signal waits until the runtime takes it over, then reaches the container', async (t) => {
  for (const args of [['run', 'c1'], ['exec', 'c1', 'sh']]) {
    const w = world(t);
    const { child, ended } = await upShim(w, args, { FAKE_MODE: 'late', FAKE_LATE: '1' });
    child.kill('SIGTERM');
    // Apart, so the shim gets them in this order (two pending at once come lowest number first).
    await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGINT');
    t.same(await ended, [42, null], `${args[0]}: the runtime got SIGTERM once it trapped it, and the shim exits with its code`);
    t.same(read(`${w.out}.sig`)?.split('\n').filter(Boolean).sort(), ['INT', 'TERM'], `${args[0]}: both signals reached it`);
  }
});

t.test('other verbs, and a detached run: signals go on at once, as to an exec\'d runtime', async (t) => {
  for (const args of [['create', '--bundle', 'bundle', 'c1'], ['run', '-d', 'c1'], ['exec', '--detach', 'c1', 'sh'], ['state', 'c1']]) {
    const w = world(t);
    const { child, ended } = await upShim(w, args, { FAKE_MODE: 'late', FAKE_LATE: '5' });
    const sent = Date.now();
    child.kill('SIGTERM');
    t.same(await ended, [null, 'SIGTERM'], `${args[0]} ${args[1]}: the runtime died of it, and so did the shim`);
    t.ok(Date.now() - sent < 4000, `${args[0]} ${args[1]}: without waiting for the bound`);
  }
});

t.test('--preserve-fds: the container-bound fds reach the runtime at the same numbers', async (t) => {
  const w = world(t, {});
  const fd = openSync(join(w.dir, 'passed'), 'w');
  try {
    const r = spawnSync(...cliCommand(['runtime', '--runtime', w.fake, 'create', '--preserve-fds', '1', 'c1']), { env: w.env, cwd: w.bundle, stdio: ['ignore', 'pipe', 'pipe', fd] });
    t.equal(r.status, 0);
    t.equal(read(`${w.out}.fd3`), `${join(w.dir, 'passed')}\n`, 'fd 3 is the one we were given');
    spawnSync(...cliCommand(['runtime', '--runtime', w.fake, 'create', 'c1']), { env: w.env, cwd: w.bundle, stdio: ['ignore', 'pipe', 'pipe', fd] });
    t.equal(read(`${w.out}.fd3`), '', 'without --preserve-fds it is not passed');
  } finally {
    closeSync(fd);
  }
});

t.test('which runtime: --runtime, AGENTCGROUP_RUNTIME, never agentcgroup itself', async (t) => {
  const w = world(t);
  const viaEnv = spawnSync(...cliCommand(['runtime', 'state', 'x']), { encoding: 'utf8', env: { ...w.env, AGENTCGROUP_RUNTIME: w.fake } });
  t.equal(viaEnv.stdout, 'fake says hi\n', 'AGENTCGROUP_RUNTIME names it');
  const link = join(w.dir, 'runc');
  symlinkSync(cliBundle(), link);
  const loop = shim(w, ['state', 'x'], {});
  t.equal(loop.status, 0, 'control: the fake runs');
  for (const [args, env, pattern] of [
    [['--runtime', link], {}, /--runtime ".*runc" is agentcgroup itself/],
    [[], { AGENTCGROUP_RUNTIME: 'nonexistent-runtime' }, /AGENTCGROUP_RUNTIME "nonexistent-runtime": no such executable/],
    [['--runtime', w.fake], { AGENTCGROUP_SHIM_PID: '1234' }, /started by another agentcgroup runtime shim \(pid "1234"\)/],
  ] as const) {
    const r = spawnSync(...cliCommand(['runtime', ...args, 'state', 'x']), { encoding: 'utf8', env: { ...w.env, ...env } });
    t.equal(r.status, 1);
    t.match(r.stderr, pattern);
    t.equal(r.stderr.split('\n').length, 2, 'one line');
    t.equal(argvSeen(w)?.join(' '), 'state x', 'nothing ran after the control');
  }
  const only = spawnSync(...cliCommand(['runtime', 'state', 'x']), { encoding: 'utf8', env: { ...w.env, PATH: w.dir } });
  t.notMatch(only.stderr, /itself/, 'a runc on PATH that is us is skipped, not run');
});

t.test('as agentcgroup-runtime (containerd BinaryName), and --help', async (t) => {
  const w = world(t);
  const link = join(w.dir, 'agentcgroup-runtime');
  symlinkSync(cliBundle(), link);
  const r = spawnSync(...cliCommand(['--root', '/x', 'state', 'c1'], link), { encoding: 'utf8', env: { ...w.env, AGENTCGROUP_RUNTIME: w.fake } });
  t.equal(r.status, 0, r.stderr);
  t.same(argvSeen(w), ['--root', '/x', 'state', 'c1'], 'the link name makes it the shim, all arguments the runtime\'s');
  const help = spawnSync(...cliCommand(['runtime', '--help']), { encoding: 'utf8' });
  t.equal(help.status, 0);
  t.match(help.stdout, /^Usage: agentcgroup runtime \[--runtime PATH\]/);
  t.match(help.stdout, /agentcgroup-runtime \[RUNTIME GLOBAL OPTIONS\]/);
  const top = spawnSync(...cliCommand(['--help']), { encoding: 'utf8' });
  t.match(top.stdout, /^  runtime \[args\.\.\.\] +OCI runtime shim/m, 'listed in the CLI help');
  t.notMatch(top.stdout, /install-config/, 'the installer helper is hidden');
  const later = shim(w, ['state', '--help']);
  t.same(argvSeen(w), ['state', '--help'], 'a later --help is the runtime\'s');
  t.equal(later.status, 0);
});
