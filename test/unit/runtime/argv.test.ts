// Reading runtime command lines as engines write them (containerd's go-runc, Docker, Podman's conmon,
// crun's own argp spellings) without changing them.
import t from 'tap';
import { parseRuntimeArgv, passesSignals, splitShimArgs } from '../../../src/runtime/argv.js';

t.test('containerd and Docker: global options, then the verb', async (t) => {
  const g = ['--root', '/run/containerd/runc/k8s.io', '--log', '/b/log.json', '--log-format', 'json', '--systemd-cgroup'];
  t.same(parseRuntimeArgv([...g, 'create', '--bundle', '/b', '--pid-file', '/b/init.pid', '--console-socket', '/tmp/pty.sock', 'c1']), {
    verb: 'create', bundle: '/b', pidFile: '/b/init.pid', id: 'c1', detach: false, keep: false, preserveFds: 0,
  });
  t.same(parseRuntimeArgv([...g, 'start', 'c1']), { verb: 'start', detach: false, keep: false, preserveFds: 0 });
  t.same(parseRuntimeArgv([...g, 'delete', '--force', 'c1']), { verb: 'delete', id: 'c1', detach: false, keep: false, preserveFds: 0 });
  t.same(parseRuntimeArgv(['--root=/r', '--debug', 'delete', '-f', 'c1']).id, 'c1');
  t.equal(parseRuntimeArgv(['kill', 'c1', 'KILL']).verb, 'kill');
  t.same(parseRuntimeArgv(['--version']), { detach: false, keep: false, preserveFds: 0 }, 'no verb');
  t.same(parseRuntimeArgv([]), { detach: false, keep: false, preserveFds: 0 });
});

t.test('a global option value that looks like a verb is not the verb', async (t) => {
  t.equal(parseRuntimeArgv(['--root', 'create', 'state', 'x']).verb, 'state');
  t.equal(parseRuntimeArgv(['--log', 'run', '--log-format', 'text', 'kill', 'x']).verb, 'kill');
  t.equal(parseRuntimeArgv(['-root', 'create', 'state', 'x']).verb, 'state', "Go's single-dash spelling (runc)");
  t.equal(parseRuntimeArgv(['--cgroup-manager', 'systemd', 'start', 'x']).verb, 'start', 'crun-only options too');
});

t.test('create and run: every spelling of the bundle, the config file, the id', async (t) => {
  const cases: [string[], { bundle?: string; configFile?: string; id?: string; detach?: boolean; keep?: boolean; preserveFds?: number }][] = [
    [['create', 'c1'], { id: 'c1' }],
    [['create', '-b', '/b', 'c1'], { bundle: '/b', id: 'c1' }],
    [['create', '-b/b', 'c1'], { bundle: '/b', id: 'c1' }],
    [['create', '--bundle=/b', 'c1'], { bundle: '/b', id: 'c1' }],
    [['create', '-bundle', '/b', 'c1'], { bundle: '/b', id: 'c1' }],
    [['create', 'c1', '--bundle', '/b'], { bundle: '/b', id: 'c1' }],
    [['create', '-f', 'other.json', 'c1'], { configFile: 'other.json', id: 'c1' }],
    [['create', '--config=other.json', '-b', 'rel', 'c1'], { bundle: 'rel', configFile: 'other.json', id: 'c1' }],
    [['run', '-d', '--bundle', '/b', 'c1'], { bundle: '/b', id: 'c1', detach: true }],
    [['run', '-db', '/b', 'c1'], { bundle: '/b', id: 'c1', detach: true }],
    [['run', '--detach', '--keep', 'c1'], { id: 'c1', detach: true, keep: true }],
    [['create', '--preserve-fds', '2', 'c1'], { id: 'c1', preserveFds: 2 }],
    [['create', '--preserve-fds=1', '--no-pivot', 'c1'], { id: 'c1', preserveFds: 1 }],
    [['create', '--preserve-fds', 'many', 'c1'], { id: 'c1' }],
    [['create', '--preserve-fds', '99999', 'c1'], { id: 'c1' }],
    [['create', '--', '-weird-id'], { id: '-weird-id' }],
    [['create'], {}],
  ];
  for (const [argv, want] of cases) {
    t.same(parseRuntimeArgv(argv), { verb: argv[0], detach: false, keep: false, preserveFds: 0, ...want }, argv.join(' '));
  }
});

t.test('exec: --preserve-fds before the id; the command after it is not read', async (t) => {
  t.equal(parseRuntimeArgv(['exec', '--preserve-fds', '1', '-e', 'A=1', 'c1', 'sh']).preserveFds, 1);
  t.equal(parseRuntimeArgv(['exec', 'c1', 'prog', '--preserve-fds', '3']).preserveFds, 0, "the command's own options");
  t.equal(parseRuntimeArgv(['exec', '-p', '--preserve-fds', 'c1']).preserveFds, 0, 'a value that looks like an option');
});

t.test('exec: -d and --detach before the id, not in the command', async (t) => {
  t.equal(parseRuntimeArgv(['exec', '-d', 'c1', 'sh']).detach, true);
  t.equal(parseRuntimeArgv(['exec', '--detach', '--pid-file', '/p', 'c1', 'sh']).detach, true);
  t.equal(parseRuntimeArgv(['exec', '-td', 'c1', 'sh']).detach, true, 'in a cluster');
  t.equal(parseRuntimeArgv(['exec', 'c1', 'sh', '-d']).detach, false, "the command's own -d");
  t.equal(parseRuntimeArgv(['exec', '-p', '/proc.json', 'c1']).detach, false);
});

t.test('the runtime passes signals on to the container: a foreground run or exec', async (t) => {
  const g = ['--root', '/r', '--log', '/b/log.json'];
  const cases: [string[], boolean][] = [
    [[...g, 'run', '--bundle', '/b', 'c1'], true],
    [['run', 'c1', '--keep'], true],
    [['exec', '-e', 'A=1', 'c1', 'sh'], true],
    [['run', '-d', 'c1'], false],
    [['run', '--detach', '-b', '/b', 'c1'], false],
    [['exec', '--detach', 'c1', 'sh'], false],
    [[...g, 'create', '--bundle', '/b', 'c1'], false],
    [['start', 'c1'], false],
    [['kill', 'c1', 'TERM'], false],
    [['delete', '-f', 'c1'], false],
    [['--version'], false],
  ];
  for (const [argv, want] of cases) t.equal(passesSignals(parseRuntimeArgv(argv)), want, argv.join(' '));
});

t.test("the shim's own leading options", async (t) => {
  t.same(splitShimArgs(['--runtime', '/usr/bin/crun', '--root', '/r', 'state', 'x']), { runtime: '/usr/bin/crun', help: false, argv: ['--root', '/r', 'state', 'x'] });
  t.same(splitShimArgs(['--runtime=crun', 'state', 'x']), { runtime: 'crun', help: false, argv: ['state', 'x'] });
  t.same(splitShimArgs(['--help']), { help: true, argv: [] });
  t.same(splitShimArgs(['-h']), { help: true, argv: [] });
  t.same(splitShimArgs(['state', '--help']), { help: false, argv: ['state', '--help'] }, "later, --help is the runtime's");
  t.same(splitShimArgs(['--root', '/r', '--runtime', 'x', 'state']), { help: false, argv: ['--root', '/r', '--runtime', 'x', 'state'] }, 'only leading --runtime is ours');
  t.same(splitShimArgs(['--runtime']), { help: false, argv: ['--runtime'] }, 'a --runtime without a value goes to the runtime, which says so');
});
