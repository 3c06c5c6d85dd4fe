import t from 'tap';
import { existsSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CG_ROOT, PID, hookEnv } from '../../fixtures/hookenv.js';

const GiB = 1 << 30;

t.test('createRuntime carves agent + tools, applies the policy and records it', async (t) => {
  const h = hookEnv(t.testdir());
  // What the engine set: a weight of its own (the kernel's default is 100) and the init's oom_score_adj.
  h.kernel.writeFile(`${CG_ROOT}/ctr1/cpu.weight`, '250');
  h.kernel.log.length = 0;
  const r = await h.hook(['createRuntime'], h.state('created'));
  t.same(r, { code: 0, out: '', err: '' });
  const k = h.kernel;
  t.equal(k.whereIs(PID), 'ctr1/agent', 'init moved into the agent leaf');
  t.equal(k.readFile(`${CG_ROOT}/ctr1/cgroup.subtree_control`).trim(), 'cpu memory pids');
  t.equal(k.readFile(`${CG_ROOT}/ctr1/tools/cgroup.subtree_control`).trim(), 'cpu memory pids');
  t.equal(k.readFile(`${CG_ROOT}/ctr1/memory.high`).trim(), String(Math.floor((GiB * 0.9) / 4096) * 4096), 'session memory.high 90% of memory.max');
  t.equal(k.readFile(`${CG_ROOT}/ctr1/memory.max`).trim(), String(GiB), "the engine's memory.max is untouched");
  t.equal(k.readFile(`${CG_ROOT}/ctr1/cpu.weight`).trim(), '250', "the engine's cpu.weight is untouched");
  t.notMatch(k.log.join('\n'), /write ctr1\/cpu\.weight/, 'not even rewritten');
  t.equal(readFileSync(join(h.proc, String(PID), 'oom_score_adj'), 'utf8'), '0', "the framework keeps the engine's oom_score_adj");
  const rec = JSON.parse(readFileSync(join(h.runDir, 'containers/ctr1.json'), 'utf8'));
  t.same(rec.oomScoreAdj, { engine: 0, tool: 500 }, 'tool calls go 500 above it');
  t.equal(rec.cgroup, 'ctr1');
  t.equal(rec.tool.memoryMax, Math.floor((GiB * 0.85) / 4096) * 4096, 'tool template: 85% of the session');
  t.equal(rec.tool.memoryHigh, Math.floor((GiB * 0.7) / 4096) * 4096);
});

t.test('a second carve of the same container changes nothing', async (t) => {
  const h = hookEnv(t.testdir());
  await h.hook(['createRuntime'], h.state('created'));
  const before = h.kernel.snapshot();
  const r = await h.hook([], h.state('created'));
  t.equal(r.code, 0);
  t.equal(r.err, '');
  t.same(h.kernel.snapshot(), before);
});

t.test('the stage is inferred from the status: runc creating and crun created carve, stopped tears down', async (t) => {
  const h = hookEnv(t.testdir());
  t.equal((await h.hook([], h.state('creating'))).code, 0);
  t.equal(h.kernel.whereIs(PID), 'ctr1/agent');
  t.ok(existsSync(join(h.runDir, 'containers/ctr1.json')));
  const { pid: _pid, ...noPid } = JSON.parse(h.state('stopped')) as Record<string, unknown>;
  t.equal((await h.hook([], JSON.stringify(noPid))).code, 0, 'runc poststop has no pid at all');
  t.notOk(existsSync(join(h.runDir, 'containers/ctr1.json')), 'record removed');
});

t.test('poststart carves a running container under freeze and thaws it', async (t) => {
  const h = hookEnv(t.testdir());
  const r = await h.hook(['poststart'], h.state('running'));
  t.equal(r.code, 0, r.err);
  const log = h.kernel.log.join('\n');
  t.match(log, /write ctr1\/cgroup\.freeze 1[\s\S]*write ctr1\/agent\/cgroup\.procs 4242[\s\S]*write ctr1\/cgroup\.freeze 0/);
  t.equal(h.kernel.readFile(`${CG_ROOT}/ctr1/cgroup.events`), 'populated 1\nfrozen 0\n', 'nothing left frozen');
});

t.test('poststop logs calls cut off by teardown, removes our state, and is idempotent', async (t) => {
  const h = hookEnv(t.testdir());
  await h.hook(['createRuntime'], h.state('created'));
  const marker = join(h.runDir, 'calls/ctr1');
  mkdirSync(marker, { recursive: true });
  const call = { callId: 'pytest-1', name: 'pytest', argv: ['pytest'], cgroup: '/ctr1/tools/pytest-1', start: new Date(Date.now() - 1000).toISOString(), limits: { high: 1, max: 2 }, owner: 'exec' };
  writeFileSync(join(marker, 'pytest-1.json'), JSON.stringify(call));
  h.runtimeRemoves();
  for (let i = 0; i < 2; i++) {
    const r = await h.hook(['poststop'], h.state('stopped'));
    t.same(r, { code: 0, out: '', err: '' }, `poststop run ${i + 1} is quiet`);
  }
  const lines = readFileSync(join(h.callDir, 'ctr1.jsonl'), 'utf8').trim().split('\n');
  t.equal(lines.length, 1, 'the cut-off call is logged once');
  const rec = JSON.parse(lines[0]!);
  t.equal(rec.outcome, 'cut-off');
  t.equal(rec.name, 'pytest');
  t.notOk(existsSync(join(h.runDir, 'containers/ctr1.json')));
  t.notOk(existsSync(marker));
});

t.test('poststop with no carve (createRuntime never ran) is a quiet no-op', async (t) => {
  const h = hookEnv(t.testdir());
  const before = h.kernel.snapshot();
  t.same(await h.hook(['poststop'], h.state('stopped')), { code: 0, out: '', err: '' });
  t.same(h.kernel.snapshot(), before);
});

t.test('poststop after a runtime died: our leftovers are removed, the live tree is not touched otherwise', async (t) => {
  const h = hookEnv(t.testdir());
  await h.hook(['createRuntime'], h.state('created'));
  h.kernel.mkdir(`${CG_ROOT}/ctr1/tools/call-1`);
  h.kernel.spawnAt('ctr1/tools/call-1', 999);
  h.kernel.writeFile(`${CG_ROOT}/ctr1/agent/cgroup.kill`, '1');
  const r = await h.hook(['poststop'], h.state('stopped'));
  t.same(r, { code: 0, out: '', err: '' });
  t.notOk(h.kernel.isDir(`${CG_ROOT}/ctr1`), 'agent, tools and then the emptied C are gone: the runtime has given up on it');
  t.equal(h.kernel.whereIs(999), undefined, 'the straggler was killed');
});

// Every refusal: one line naming the problem, exit 0 (fail-open), no record, the tree as it was.
const refusals: [string, Parameters<typeof hookEnv>[1], (h: ReturnType<typeof hookEnv>) => string, RegExp][] = [
  ['missing controller', { rootControllers: '+memory +cpu' }, (h) => h.state('created'), /lacks the pids controller/],
  ['malformed state', {}, () => '{"ociVersion": "1.0", "id": ', /not JSON/],
  ['hostile id', {}, (h) => h.state('created', { id: '../../etc' }), /state\.id: /],
  ['hostile annotation', { annotations: { 'io.agentcgroup.tool.memory_max': '../../x' } }, (h) => h.state('created'), /io\.agentcgroup\.tool\.memory_max/],
  ['unknown annotation', { annotations: { 'io.agentcgroup.strict': 'false' } }, (h) => h.state('created'), /io\.agentcgroup\.strict/],
  ['no pid', {}, (h) => h.state('created', { pid: 0 }), /no pid/],
  ['inverted zone', { policy: 'tool:\n  memory_high: 95%\n  memory_max: 50%\n' }, (h) => h.state('created'), /memory_high/],
];
for (const [name, opts, stdin, pattern] of refusals) {
  t.test(`refused and untouched: ${name}`, async (t) => {
    const h = hookEnv(t.testdir(), opts);
    const before = h.kernel.snapshot();
    const r = await h.hook(['createRuntime'], stdin(h));
    t.equal(r.code, 0, 'fails open');
    t.match(r.err, pattern);
    t.match(r.err, /^agentcgroup: [^\n]*; the container runs unconstrained\n$/, 'exactly one line');
    t.same(h.kernel.snapshot(), before, 'cgroup tree unchanged');
    t.notOk(existsSync(join(h.runDir, 'containers/ctr1.json')), 'no record');
    // The failure stays where the daemon sees it, when the container is known by a valid id.
    const uncarved = join(h.runDir, 'uncarved/ctr1.json');
    if (['malformed state', 'hostile id'].includes(name)) t.notOk(existsSync(join(h.runDir, 'uncarved')), 'no container to name: no uncarved record');
    else if (name === 'inverted zone') t.notOk(existsSync(join(h.runDir, 'uncarved')), 'the policy did not load: no run dir to write to');
    else t.match(JSON.parse(readFileSync(uncarved, 'utf8')), { id: 'ctr1', stage: 'createRuntime', reason: pattern }, 'an uncarved record, with the reason');
  });
}

t.test('the uncarved record: the init named by pid and start time, removed at poststop; none under strict', async (t) => {
  const h = hookEnv(t.testdir(), { rootControllers: '+memory +cpu' });
  await h.hook(['createRuntime'], h.state('created'));
  const file = join(h.runDir, 'uncarved/ctr1.json');
  const rec = JSON.parse(readFileSync(file, 'utf8'));
  t.equal(rec.pid, PID);
  t.equal(rec.stage, 'createRuntime');
  t.notMatch(rec.reason, /\n/, 'one line');
  t.same(await h.hook(['poststop'], h.state('stopped')), { code: 0, out: '', err: '' });
  t.notOk(existsSync(file), 'poststop removes it');
  const strict = hookEnv(t.testdir(), { rootControllers: '+memory +cpu', policy: 'strict: true\n' });
  t.equal((await strict.hook(['createRuntime'], strict.state('created'))).code, 1);
  t.notOk(existsSync(join(strict.runDir, 'uncarved')), 'a container refused is not running uncarved');
});

t.test('strict host policy turns a refusal into a non-zero exit', async (t) => {
  const h = hookEnv(t.testdir(), { rootControllers: '+memory +cpu', policy: 'strict: true\n' });
  const r = await h.hook(['createRuntime'], h.state('created'));
  t.equal(r.code, 1);
  t.match(r.err, /^agentcgroup: createRuntime for container ctr1: .*refusing to start the container \(strict policy\)\n$/);
});

t.test('a policy that does not load: strict when its text says strict: true, else fail open', async (t) => {
  for (const [extra, code] of [['strict: true\nladder: [\n', 1], ['strict: yes # hosts of the CI fleet\nbogus_key: 1\n', 1], ['ladder: [\n', 0], ['strict: false\nbogus_key: 1\n', 0]] as const) {
    const h = hookEnv(t.testdir(), { policy: extra });
    const before = h.kernel.snapshot();
    const r = await h.hook(['createRuntime'], h.state('created'));
    t.equal(r.code, code, JSON.stringify(extra));
    t.equal(r.err.split('\n').length, 2, 'one line');
    t.match(r.err, code ? /refusing to start the container \(strict policy\)/ : /the container runs unconstrained/);
    t.same(h.kernel.snapshot(), before, 'cgroup tree unchanged');
  }
});

t.test('a policy file over 1 MiB is refused without being parsed', async (t) => {
  const h = hookEnv(t.testdir(), { policy: `# ${'x'.repeat(1024 * 1024)}\n` });
  const r = await h.hook(['createRuntime'], h.state('created'));
  t.equal(r.code, 0);
  t.match(r.err, /policy file .*cannot read \(larger than 1024 KiB\)/);
});

t.test('hook arguments we refuse still fail open, unless the policy is strict', async (t) => {
  const h = hookEnv(t.testdir());
  const r = await h.hook(['createRuntime', '--no-such-option'], h.state('created'));
  t.equal(r.code, 0, 'fails open');
  t.match(r.err, /unknown option/);
  const strict = hookEnv(t.testdir(), { policy: 'strict: true\n' });
  const s = await strict.hook(['createRuntime', 'extra', 'args'], strict.state('created'));
  t.equal(s.code, 1, 'strict: the container does not start');
});

t.test('a container given cgroupfs writable is carved, with a warning saying what that lets it do', async (t) => {
  const cases: [string, unknown[], boolean][] = [
    ['privileged (rw cgroup mount)', [{ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'rw'] }], true],
    ['a bind of the host cgroupfs', [{ destination: '/sys/fs/cgroup', type: 'bind', source: '/sys/fs/cgroup', options: ['rbind'] }], true],
    ['the engines default (ro)', [{ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'ro'] }], false],
    ['odd mounts are not our business', [7, null, { type: 'cgroup2', options: 'ro' }], true],
  ];
  for (const [name, mounts, warned] of cases) {
    const h = hookEnv(t.testdir());
    writeFileSync(join(h.bundle, 'config.json'), JSON.stringify({ ociVersion: '1.0.2', mounts }));
    const r = await h.hook(['createRuntime'], h.state('created'));
    t.equal(r.code, 0, name);
    t.ok(existsSync(join(h.runDir, 'containers/ctr1.json')), `${name}: carved`);
    t.equal(/warning: the container mounts cgroupfs writable/.test(r.err), warned, name);
  }
});

// A kernel error at any step of the carve must leave the tree exactly as it was.
const failPoints = ['ctr1/agent', 'ctr1/agent/cgroup.procs', 'ctr1/cgroup.subtree_control', 'ctr1/tools', 'ctr1/tools/cgroup.subtree_control', 'ctr1/memory.high', 'ctr1/agent/cpu.weight'];
for (const point of failPoints) {
  t.test(`a kernel error at ${point} is rolled back`, async (t) => {
    const h = hookEnv(t.testdir());
    const before = h.kernel.snapshot();
    h.kernel.failures.set(point, 'EINVAL');
    const r = await h.hook(['createRuntime'], h.state('created'));
    t.equal(r.code, 0);
    t.match(r.err, /the kernel rejected the value|cannot/);
    t.equal(r.err.split('\n').length, 2, 'one line');
    t.same(h.kernel.snapshot(), before);
    t.notOk(existsSync(join(h.runDir, 'containers/ctr1.json')));
  });
}

t.test('io.agentcgroup.enable=false leaves the container alone', async (t) => {
  const h = hookEnv(t.testdir(), { annotations: { 'io.agentcgroup.enable': 'false' } });
  const before = h.kernel.snapshot();
  t.same(await h.hook(['createRuntime'], h.state('created')), { code: 0, out: '', err: '' });
  t.same(h.kernel.snapshot(), before);
});

t.test('annotations override the tool template within the session', async (t) => {
  const h = hookEnv(t.testdir(), { annotations: { 'io.agentcgroup.tool.memory_max': '512M', 'io.agentcgroup.tool.memory_high': '50%' } });
  t.same(await h.hook(['createRuntime'], h.state('created')), { code: 0, out: '', err: '' });
  const rec = JSON.parse(readFileSync(join(h.runDir, 'containers/ctr1.json'), 'utf8'));
  t.equal(rec.tool.memoryMax, 512 << 20);
  t.equal(rec.tool.memoryHigh, 512 << 20, '50% of the 1G session');
  // What a resize recomputes from: the sizes as the annotations wrote them, and the memory.max they met.
  t.same(rec.sizes, {
    session: { memoryHigh: { kind: 'percent', percent: 90 } },
    agent: { memoryHigh: { kind: 'max' }, memoryMax: { kind: 'max' } },
    tool: { memoryHigh: { kind: 'percent', percent: 50 }, memoryMax: { kind: 'bytes', bytes: 512 << 20 } },
  });
  t.equal(rec.sessionMax, 1 << 30);
});

t.test('an annotation the host does not allow is refused in one line each, and the carve goes on with the host value', async (t) => {
  const annotations = { 'io.agentcgroup.priority': 'high', 'io.agentcgroup.depends_on': 'db-1', 'io.agentcgroup.tracker.framework': '*', 'io.agentcgroup.tool.memory_max': '900M' };
  const h = hookEnv(t.testdir(), { annotations });
  const r = await h.hook(['createRuntime'], h.state('created'));
  t.equal(r.code, 0);
  t.equal(
    r.err,
    [
      "agentcgroup: warning: annotation io.agentcgroup.priority: not allowed by the host policy (annotations.allow); the host's value applies",
      "agentcgroup: warning: annotation io.agentcgroup.depends_on: not allowed by the host policy (annotations.allow); the host's value applies",
      'agentcgroup: warning: annotation io.agentcgroup.tracker.framework: pattern "*" matches every program; the host\'s value applies',
      '',
    ].join('\n'),
  );
  t.equal(h.kernel.whereIs(PID), 'ctr1/agent', 'carved');
  const rec = JSON.parse(readFileSync(join(h.runDir, 'containers/ctr1.json'), 'utf8'));
  t.equal(rec.priority, 1, "the host's priority, normal");
  t.same(rec.dependsOn, []);
  t.same(rec.framework, ['*mcp*', '*modelcontextprotocol*'], "the host's framework patterns");
  t.equal(rec.tool.memoryMax, 900 << 20, 'an allowed annotation still applies');
});

t.test('a priority the host allows ranks the container, and still leaves its cpu.weight alone', async (t) => {
  const h = hookEnv(t.testdir(), { annotations: { 'io.agentcgroup.priority': 'high' }, policy: 'annotations:\n  allow: [priority]\n  max_priority: high\n' });
  t.same(await h.hook(['createRuntime'], h.state('created')), { code: 0, out: '', err: '' });
  const rec = JSON.parse(readFileSync(join(h.runDir, 'containers/ctr1.json'), 'utf8'));
  t.equal(rec.priority, 2, 'high');
  t.equal(h.kernel.readFile(`${CG_ROOT}/ctr1/cpu.weight`).trim(), '100', "the kernel's default, as the engine left it");
  t.notMatch(h.kernel.log.join('\n'), /write ctr1\/cpu\.weight/);
});

t.test("oom_score_adj: the framework keeps the engine's, tool calls go above it, never past 1000", async (t) => {
  // Kubernetes QoS classes: Guaranteed, Burstable, BestEffort.
  const cases: Array<[string, string, { engine: number; tool: number }]> = [
    ['-997', '', { engine: -997, tool: -497 }],
    ['600', '', { engine: 600, tool: 1000 }],
    ['1000', '', { engine: 1000, tool: 1000 }],
    ['0', 'tool:\n  oom_score_adj_above: 0\n', { engine: 0, tool: 0 }],
    ['-500', 'tool:\n  oom_score_adj_above: 1000\n', { engine: -500, tool: 500 }],
  ];
  for (const [engine, policy, want] of cases) {
    const h = hookEnv(t.testdir(), { policy });
    writeFileSync(join(h.proc, String(PID), 'oom_score_adj'), `${engine}\n`);
    t.same(await h.hook(['createRuntime'], h.state('created')), { code: 0, out: '', err: '' }, engine);
    t.equal(readFileSync(join(h.proc, String(PID), 'oom_score_adj'), 'utf8'), `${engine}\n`, `${engine}: not written`);
    t.same(JSON.parse(readFileSync(join(h.runDir, 'containers/ctr1.json'), 'utf8')).oomScoreAdj, want, `${engine}: recorded`);
  }
});

t.test('an init whose oom_score_adj cannot be read is not carved', async (t) => {
  for (const content of [undefined, 'lots', '-1001']) {
    const h = hookEnv(t.testdir());
    const file = join(h.proc, String(PID), 'oom_score_adj');
    if (content === undefined) rmSync(file);
    else writeFileSync(file, content);
    const before = h.kernel.snapshot();
    const r = await h.hook(['createRuntime'], h.state('created'));
    t.equal(r.code, 0);
    t.equal(r.err, `agentcgroup: createRuntime for container ctr1: cannot read the oom_score_adj of container process ${PID}; the container runs unconstrained\n`, String(content));
    t.same(h.kernel.snapshot(), before, 'nothing changed');
    t.notOk(existsSync(join(h.runDir, 'containers/ctr1.json')));
  }
});

t.test('a container without a memory limit takes the host memory as its session', async (t) => {
  const h = hookEnv(t.testdir(), { memoryMax: 'max' });
  t.equal((await h.hook(['createRuntime'], h.state('created'))).code, 0);
  const rec = JSON.parse(readFileSync(join(h.runDir, 'containers/ctr1.json'), 'utf8'));
  t.equal(rec.sessionBytes, 8 * GiB);
  t.equal(rec.sessionMax, 'max', 'the engine\'s value, not the host memory it stands for');
});

// The hook reads no number of config.json (the session is the kernel's memory.max): Docker 28's
// integers past 2^53 there pass through it, and a memory.max past the host's memory means no limit.
t.test('a Docker 28 config with 2^64-1 in it, and a memory.max above the host: carved on the host memory', async (t) => {
  const h = hookEnv(t.testdir(), { memoryMax: '4611686018427387904' });
  writeFileSync(join(h.bundle, 'config.json'), readFileSync('test/fixtures/oci/docker28-config.json'));
  const r = await h.hook(['createRuntime'], h.state('created'));
  t.equal(r.code, 0, r.err);
  t.equal(r.err, '');
  const rec = JSON.parse(readFileSync(join(h.runDir, 'containers/ctr1.json'), 'utf8'));
  t.equal(rec.sessionBytes, 8 * GiB);
});

t.test('unsupported hosts get one line and the container starts', async (t) => {
  const v1 = hookEnv(t.testdir());
  writeFileSync(join(v1.proc, 'self/mountinfo'), '35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n');
  const r1 = await v1.hook(['createRuntime'], v1.state('created'));
  t.equal(r1.code, 0);
  t.match(r1.err, /^agentcgroup: createRuntime for container ctr1: no cgroup2 filesystem is mounted \(cgroup v1 host\).*unconstrained\n$/);

  const hybrid = hookEnv(t.testdir());
  writeFileSync(join(hybrid.proc, String(PID), 'cgroup'), '4:memory:/ctr1\n0::/\n');
  const r2 = await hybrid.hook(['createRuntime'], hybrid.state('created'));
  t.equal(r2.code, 0);
  t.match(r2.err, /^agentcgroup: [^\n]*sits in the cgroup2 root: its cgroup is managed on cgroup v1 \(hybrid host\?\)[^\n]*\n$/);

  const gone = hookEnv(t.testdir());
  const r3 = await gone.hook(['createRuntime'], gone.state('created', { pid: 99999 }));
  t.match(r3.err, /cannot read the cgroup of container process 99999: no such process/);
});

t.test('without a daemon the first carve warns once, later ones stay quiet', async (t) => {
  const h = hookEnv(t.testdir(), { daemonNoticePending: true });
  const first = await h.hook(['createRuntime'], h.state('created'));
  t.equal(first.code, 0);
  t.match(first.err, /^agentcgroup: warning: the agentcgroup daemon is not running: [^\n]*\n$/);
  h.runtimeRemoves();
  await h.hook(['poststop'], h.state('stopped'));
  h.runtimeCreates();
  const second = await h.hook(['createRuntime'], h.state('created'));
  t.same(second, { code: 0, out: '', err: '' }, 'said once');
});
