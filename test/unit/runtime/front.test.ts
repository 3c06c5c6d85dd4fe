// The native runtime front (src/runtime/native/agentcgroup-runtime.c, built as
// dist/agentcgroup-runtime): every verb but create and run execs the real runtime in place (same pid,
// argv, environment plus the shim's loop mark, exit code); create, run, the shim's own options and
// anything unsettled exec the full binary as `agentcgroup runtime ARGS...`. Both ends are a stand-in
// (test/fixtures/standin.c) that records how it was run; the real runtimes are driven through the
// front in the guest (runtime-shim, docker, containerd scenarios).
import t from 'tap';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseRuntimeArgv } from '../../../src/runtime/argv.js';

const FRONT = resolve('dist/agentcgroup-runtime');
const work = mkdtempSync(join(tmpdir(), 'acg-rtfront-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

const cc = (out: string, src: string) => {
  const r = spawnSync(process.env.CC ?? 'cc', ['-O2', '-Wall', '-o', out, src], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cc ${src}: ${r.stderr}`);
  return out;
};
const STANDIN = cc(join(work, 'standin'), 'test/fixtures/standin.c');

// A node: the front installed beside a stand-in binary, stand-in runtimes in a PATH directory.
const install = join(work, 'usr-local-bin');
const path = join(work, 'path');
mkdirSync(install);
mkdirSync(path);
copyFileSync(FRONT, join(install, 'agentcgroup-runtime'));
copyFileSync(STANDIN, join(install, 'agentcgroup'));
for (const rt of ['runc', 'crun']) copyFileSync(STANDIN, join(path, rt));
const front = join(install, 'agentcgroup-runtime');
const binary = join(install, 'agentcgroup');

let seq = 0;
interface Ran {
  status: number | null;
  pid: number;
  /** What the stand-in recorded: argv (argv[0] as exec'd) and environment; undefined when none ran. */
  argv?: string[];
  env?: Map<string, string>;
  stdout: string;
  stderr: string;
}

function runFront(args: string[], env: NodeJS.ProcessEnv = {}, file = front): Ran {
  const dir = mkdtempSync(join(work, `r${seq++}-`));
  const full: NodeJS.ProcessEnv = { PATH: `${path}:/usr/bin:/bin`, STANDIN_DIR: dir, ...env };
  for (const [k, v] of Object.entries(full)) if (v === undefined) delete full[k];
  const r = spawnSync(file, args, { env: full, encoding: 'utf8', input: '' });
  const ran: Ran = { status: r.status, pid: r.pid, stdout: r.stdout, stderr: r.stderr };
  if (existsSync(join(dir, 'argv'))) {
    const list = (name: string) => readFileSync(join(dir, name), 'utf8').split('\0').slice(0, -1);
    ran.argv = list('argv');
    ran.env = new Map(list('env').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  }
  return ran;
}

const GLOBALS = ['--root', '/run/containerd/runc/k8s.io', '--log', '/run/x/log.json', '--log-format', 'json', '--systemd-cgroup'];

t.test('every verb but create and run: the real runtime, exec\'d in place with the same argv', async (t) => {
  for (const args of [
    [...GLOBALS, 'start', 'c1'],
    [...GLOBALS, 'state', 'c1'],
    [...GLOBALS, 'kill', 'c1', '9'],
    [...GLOBALS, 'delete', '--force', 'c1'],
    [...GLOBALS, 'exec', '--process', '/tmp/p.json', '--detach', '--pid-file', '/tmp/p.pid', 'c1'],
    ['--version'],
    ['-root', '/x', 'list'],
    ['--root=/x', 'create-like-name', 'c1'],
    ['--', 'state', 'c1'],
    [],
  ]) {
    const r = runFront(args, { STANDIN_EXIT: '3' });
    t.equal(r.status, 3, `${args.join(' ')}: the runtime's exit code`);
    t.same(r.argv, [join(path, 'runc'), ...args], 'runc from PATH, argv[0] its path, the rest exactly as given');
    t.equal(r.env?.get('AGENTCGROUP_SHIM_PID'), String(r.pid), 'exec\'d in place (the pid is the front\'s), with the loop mark set');
    t.equal(r.env?.get('STANDIN_EXIT'), '3', 'the environment passes');
    t.equal(r.stderr, 'stand-in ran\n', "the runtime's stderr, nothing of ours");
  }
});

t.test('create, run, --help, --runtime, the loop mark: the full binary, as `agentcgroup runtime ARGS...`', async (t) => {
  for (const [args, env, why] of [
    [[...GLOBALS, 'create', '--bundle', '/b', '--pid-file', '/b/init.pid', 'c1'], {}, 'create'],
    [['--root', 'create', 'run', 'c1'], {}, '--root takes a value: the verb is run'],
    [['run', '-d', '--bundle', '/b', 'c1'], {}, 'run'],
    [['--', 'create', 'c1'], {}, 'create after --'],
    [['--help'], {}, "the shim's --help"],
    [['-h'], {}, "the shim's -h"],
    [['--runtime', 'crun', 'state', 'c1'], {}, "the shim's --runtime"],
    [['--runtime=crun', 'state', 'c1'], {}, "the shim's --runtime="],
    [['state', 'c1'], { AGENTCGROUP_SHIM_PID: '77' }, 'started by a shim: a loop, for the shim to refuse'],
    [['state', 'c1'], { AGENTCGROUP_RUNTIME: 'nonesuch' }, 'no such runtime: the shim says so'],
    [['state', 'c1'], { AGENTCGROUP_RUNTIME: front }, 'the runtime named is this front'],
    [['state', 'c1'], { AGENTCGROUP_RUNTIME: binary }, 'the runtime named is the binary'],
  ] as const) {
    const r = runFront([...args], { ...env, STANDIN_EXIT: '5' });
    t.equal(r.status, 5, `${why}: the binary's exit code`);
    t.same(r.argv, [binary, 'runtime', ...args], `${why}: the binary beside the front, argv after \`runtime\` unchanged`);
    t.equal(r.env?.get('AGENTCGROUP_SHIM_PID'), (env as NodeJS.ProcessEnv).AGENTCGROUP_SHIM_PID, `${why}: no loop mark of the front's own`);
  }
});

t.test('which runtime: AGENTCGROUP_RUNTIME by name or path, else runc, else crun; never us', async (t) => {
  t.equal(runFront(['state', 'c1'], { AGENTCGROUP_RUNTIME: 'crun' }).argv?.[0], join(path, 'crun'), 'a name, looked up on PATH');
  t.equal(runFront(['state', 'c1'], { AGENTCGROUP_RUNTIME: join(path, 'crun') }).argv?.[0], join(path, 'crun'), 'a path');
  // The front itself first on PATH under the runtime's name (a link named runc): skipped.
  const shadow = join(work, 'shadow');
  mkdirSync(shadow);
  symlinkSync(front, join(shadow, 'runc'));
  t.equal(runFront(['state', 'c1'], { PATH: `${shadow}:${path}` }).argv?.[0], join(path, 'runc'), 'a link to the front named runc is passed over');
  const onlyCrun = join(work, 'only-crun');
  mkdirSync(onlyCrun);
  copyFileSync(STANDIN, join(onlyCrun, 'crun'));
  // The usual directories are looked in after PATH: on a host with runc there, that one wins.
  const fallback = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].map((d) => join(d, 'runc')).find((p) => existsSync(p));
  if (fallback === undefined) t.equal(runFront(['state', 'c1'], { PATH: onlyCrun }).argv?.[0], join(onlyCrun, 'crun'), 'no runc anywhere: crun');
  else t.match(runFront(['--version'], { PATH: onlyCrun }).stdout, /^runc version/, `no runc on PATH: ${fallback}, the real one`);
});

t.test('the binary: beside the front however it is reached, or $AGENTCGROUP_BINARY', async (t) => {
  const links = join(work, 'links');
  mkdirSync(links);
  symlinkSync(front, join(links, 'agentcgroup-runtime'));
  t.equal(runFront(['create', 'c1'], {}, join(links, 'agentcgroup-runtime')).argv?.[0], binary, 'through a link elsewhere: the binary beside the real front');
  const other = join(work, 'other-binary');
  copyFileSync(STANDIN, other);
  t.equal(runFront(['create', 'c1'], { AGENTCGROUP_BINARY: other }).argv?.[0], other, '$AGENTCGROUP_BINARY, absolute');
  t.equal(runFront(['create', 'c1'], { AGENTCGROUP_BINARY: 'relative' }).argv?.[0], binary, 'a relative one is not taken');
  const missing = runFront(['create', 'c1'], { AGENTCGROUP_BINARY: join(work, 'gone') });
  t.equal(missing.status, 1, 'no binary to run the shim: exit 1');
  t.match(missing.stderr, /^agentcgroup: runtime: cannot run the shim \S+\/gone: No such file or directory\n$/, 'one line naming it');
});

t.test('the front finds the verb where the shim does (src/runtime/argv.ts), for any command line', async (t) => {
  const token = fc.constantFrom('--root', '-root', '--root=/r', '--log', '--log-format', 'json', '--debug', '--systemd-cgroup', '-d', '--', '-', 'create', 'run', 'state', 'delete', 'c1', '--rootless', 'true', '--bundle', '/b');
  fc.assert(
    fc.property(fc.array(token, { maxLength: 7 }), (args) => {
      const verb = parseRuntimeArgv(args).verb;
      const r = runFront(args);
      const toShim = verb === 'create' || verb === 'run';
      t.equal(r.argv?.[1] === 'runtime' && r.argv[0] === binary, toShim, `${JSON.stringify(args)}: verb ${verb}`);
    }),
    { numRuns: 150 },
  );
});
