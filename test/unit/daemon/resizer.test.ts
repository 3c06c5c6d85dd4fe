// The resizer against the simulated kernel, a run dir and hand-fired inotify: the engine writes C's
// memory.max after the carve (docker update --memory), and the agent leaf, C's memory.high, the tool
// template (record and memory) and running calls follow, in order, once, and only below C.
import t, { type Test } from 'tap';
import { Cgroupfs } from '../../../src/cgroup/cgroupfs.js';
import { applySteps } from '../../../src/carve/apply.js';
import { memorySizesOf, planCarve } from '../../../src/carve/plan.js';
import { DEFAULT_POLICY } from '../../../src/config/policy.js';
import type { Policy } from '../../../src/config/types.js';
import { SessionResizer } from '../../../src/daemon/resizer.js';
import { CONTROLLERS } from '../../../src/layout.js';
import { SnapshotCollector } from '../../../src/metrics/collect.js';
import { Tally } from '../../../src/metrics/tally.js';
import { type ContainerRecord, StateStore } from '../../../src/state/records.js';
import type { Watched } from '../../../src/state/watched.js';
import { carveInput } from '../../fixtures/carveinput.js';
import { FakeEvents } from '../../fixtures/fakeevents.js';
import { FakeKernel } from '../../fixtures/fakekernel.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const C = 'pod/ctr';
const MAX_FILE = `/cg/${C}/memory.max`;
/** What a percentage of `session` resolves to: whole pages. */
const share = (session: number, percent: number) => Math.floor((session * percent) / 100 / 4096) * 4096;

/** The shipped policy with the agent leaf sized in percentages too (the default leaves it unlimited). */
const SIZED: Policy = { ...structuredClone(DEFAULT_POLICY), agent: { ...DEFAULT_POLICY.agent, memoryHigh: { kind: 'percent', percent: 40 }, memoryMax: { kind: 'percent', percent: 60 } } };

/** A container `ctr` carved at a 1G session by the carve's own plan, its record in a run dir, and a resizer following nothing yet. */
function world(t: Test, policy: Policy = SIZED) {
  const kernel = new FakeKernel('/cg');
  const fs = new Cgroupfs('/cg', kernel);
  fs.enableControllers('', CONTROLLERS);
  fs.create('pod');
  fs.enableControllers('pod', CONTROLLERS);
  fs.create(C);
  fs.write(C, 'memory.max', String(GiB));
  kernel.spawnAt(C, 10);
  const plan = planCarve(carveInput(policy, 0, C));
  applySteps(fs, plan.steps);
  const dir = t.testdir();
  const store = new StateStore(`${dir}/run`, `${dir}/log`);
  const { sessionBytes, agent, tool, oomScoreAdj } = plan;
  const record: ContainerRecord = { version: 1, id: 'ctr', cgroupRoot: '/cg', cgroup: C, bundle: '/b', pid: 10, stage: 'createRuntime', state: 'carved', carvedAt: '', sessionBytes, sessionMax: GiB, sizes: memorySizesOf(policy), agent, tool, framework: [], priority: 1, dependsOn: [], oomScoreAdj };
  store.saveContainer(record);
  const c: Watched = { record, fs, cgroupId: 1n, agentCgroupId: 2n };
  const events = new FakeEvents();
  const log: string[] = [];
  /** How often the resizer read the host's memory: only when C's memory.max is not the one it took up last. */
  const meminfoReads = { n: 0 };
  const resizer = (host = 8 * GiB) => new SessionResizer({ events, store, hostMemory: () => (meminfoReads.n++, host), log: { info: (l) => log.push(l), warn: (l) => log.push(`WARN ${l}`) } });
  /** What the engine does on `docker update --memory`: C's memory.max, which inotify reports. */
  const engineSets = (max: number | 'max') => {
    fs.write(C, 'memory.max', String(max));
    events.change(MAX_FILE);
  };
  /** A running tool call with the template, as CallBook.begin makes one. */
  const call = (name: string) => {
    const cg = `${C}/tools/${name}`;
    applySteps(fs, [{ op: 'mkdir', cgroup: cg }, { op: 'write', cgroup: cg, file: 'memory.max', value: String(tool.memoryMax) }, { op: 'write', cgroup: cg, file: 'memory.high', value: String(tool.memoryHigh) }]);
    return cg;
  };
  const limits = (cg: string) => [fs.read(cg, 'memory.high').trim(), fs.read(cg, 'memory.max').trim()];
  kernel.log.length = 0;
  return { kernel, fs, store, c, events, log, resizer, meminfoReads, engineSets, call, limits };
}

t.test('docker update --memory 2g: the agent leaf, C memory.high, the tool template and the record follow', async (t) => {
  const w = world(t);
  w.resizer().follow(w.c);
  t.same(w.kernel.log, [], 'carved at this size: nothing written at follow');
  w.engineSets(2 * GiB);
  t.same(w.limits(`${C}/agent`), [String(share(2 * GiB, 40)), String(share(2 * GiB, 60))]);
  t.equal(w.fs.read(C, 'memory.high').trim(), String(share(2 * GiB, 90)));
  t.same(w.kernel.log, [
    `write pod/ctr/memory.max ${2 * GiB}`,
    `write pod/ctr/memory.high ${share(2 * GiB, 90)}`,
    `write pod/ctr/agent/memory.max ${share(2 * GiB, 60)}`,
    `write pod/ctr/agent/memory.high ${share(2 * GiB, 40)}`,
  ], 'the engine, then C and the agent leaf: a growing memory.max before memory.high');
  const tool = { memoryHigh: share(2 * GiB, 70), memoryMax: share(2 * GiB, 85), cpuWeight: 100, pidsMax: 4096, oomGroup: true };
  t.same(w.c.record.tool, tool, "the daemon's next call gets the new template");
  const saved = w.store.loadContainer('ctr');
  t.same([saved?.sessionMax, saved?.sessionBytes, saved?.tool, saved?.agent.memoryMax], [2 * GiB, 2 * GiB, tool, share(2 * GiB, 60)], 'and so does exec, from the record');
  t.same(w.log, ['container ctr: memory.max 1G -> 2G: session memory.high 1.8G; agent memory.high 819.2M, memory.max 1.2G; tool calls memory.high 1.4G, memory.max 1.7G (0 running call(s) changed)']);
});

t.test("through systemd: C's memory.high, which systemd resets just before memory.max, is put back", async (t) => {
  const w = world(t);
  w.resizer(GiB).follow(w.c); // a host of 1G: a limit of 2G is the same session
  w.fs.write(C, 'memory.high', 'max');
  w.engineSets(2 * GiB);
  t.equal(w.fs.read(C, 'memory.high').trim(), String(share(GiB, 90)));
  t.same(w.limits(`${C}/agent`), [String(share(GiB, 40)), String(share(GiB, 60))], 'the agent leaf as it was');
  t.equal(w.kernel.log.filter((l) => l.includes('/agent/')).length, 0, 'and not written');
  t.match(w.log, [/^container ctr: memory\.max 1G -> 2G \(host 1G\): session memory\.high 921\.6M; /]);
});

t.test('a shrink with running calls: memory.high before memory.max everywhere, a raise taken back, nothing outside C', async (t) => {
  const w = world(t);
  const plain = w.call('plain-1');
  const raised = w.call('raised-1');
  w.fs.write(raised, 'memory.high', String(800 * MiB)); // the ladder raised it
  w.kernel.log.length = 0;
  w.resizer().follow(w.c);
  w.engineSets(512 * MiB);
  const half = (p: number) => String(share(512 * MiB, p));
  t.same(w.limits(`${C}/agent`), [half(40), half(60)]);
  t.same(w.limits(plain), [half(70), half(85)]);
  t.same(w.limits(raised), [half(70), half(85)]);
  const order = w.kernel.log.filter((l) => /(agent|plain-1)\/memory\./.test(l)).map((l) => l.split(' ')[1]);
  t.same(order, ['pod/ctr/agent/memory.high', 'pod/ctr/agent/memory.max', 'pod/ctr/tools/plain-1/memory.high', 'pod/ctr/tools/plain-1/memory.max']);
  t.ok(w.kernel.log.slice(1).every((l) => l.startsWith(`write ${C}/`)), 'every write of ours is below C');
  t.match(w.log, [/^container ctr: memory.max 1G -> 512M: .* \(2 running call\(s\) changed\)$/]);
});

t.test('a grow keeps a raise the ladder gave above the new template', async (t) => {
  const w = world(t);
  const raised = w.call('raised-1');
  w.fs.write(raised, 'memory.high', String(share(GiB, 85))); // raised all the way to its memory.max
  w.resizer().follow(w.c);
  w.engineSets(1152 * MiB);
  t.same(w.limits(raised), [String(share(GiB, 85)), String(share(1152 * MiB, 85))], '85% of 1G is above 70% of 1.125G: kept');
});

t.test('a resize while no daemon ran is taken up at follow; one recorded is not done again', async (t) => {
  const w = world(t);
  w.fs.write(C, 'memory.max', 'max');
  w.kernel.log.length = 0;
  w.resizer().follow(w.c);
  t.same(w.limits(`${C}/agent`), [String(share(8 * GiB, 40)), String(share(8 * GiB, 60))], 'no limit: the host is the session');
  t.match(w.log, [/^container ctr: memory\.max 1G -> max \(host 8G\): /]);
  w.kernel.log.length = 0;
  w.log.length = 0;
  const restarted = { ...w.c, record: w.store.loadContainer('ctr')! };
  w.resizer().follow(restarted);
  t.same([w.kernel.log, w.log], [[], []], 'a restarted daemon finds the record in step');
});

t.test("the supervisor's reading is a safety net: a change inotify did not report is followed at its look", async (t) => {
  const w = world(t);
  const r = w.resizer();
  r.follow(w.c);
  w.fs.write(C, 'memory.max', String(2 * GiB)); // no inotify
  r.check(w.c, 2 * GiB);
  t.equal(w.c.record.sessionMax, 2 * GiB);
  w.kernel.log.length = 0;
  w.meminfoReads.n = 0;
  r.check(w.c, 2 * GiB);
  r.check(w.c);
  t.same([w.kernel.log, w.meminfoReads.n], [[], 0], 'each later look costs a comparison');
  t.equal(w.log.length, 1, 'one line per resize');
});

t.test('status and top read the new limits: the snapshot reads the cgroups live', async (t) => {
  const w = world(t);
  w.call('pytest-1');
  w.resizer().follow(w.c);
  w.engineSets(2 * GiB);
  const counters = new Tally();
  const snap = new SnapshotCollector().collect(
    { containers: [w.c], runningCalls: () => [], counters: { container: (id) => counters.container(id), call: (k) => counters.call(k) }, isStalled: () => false, roles: () => [], tracker: false },
    new Date(),
  );
  const ctr = snap.containers[0]!;
  t.same([ctr.memory.max, ctr.memory.high, ctr.agent?.high, ctr.agent?.max], [2 * GiB, share(2 * GiB, 90), share(2 * GiB, 40), share(2 * GiB, 60)]);
  t.same([ctr.calls[0]?.memory.high, ctr.calls[0]?.memory.max], [share(2 * GiB, 70), share(2 * GiB, 85)]);
});

t.test('a size the policy cannot follow (no throttle zone) is said once and changes nothing', async (t) => {
  const policy: Policy = { ...structuredClone(DEFAULT_POLICY), tool: { ...DEFAULT_POLICY.tool, memoryMax: { kind: 'bytes', bytes: GiB } } };
  const w = world(t, policy);
  const r = w.resizer();
  r.follow(w.c);
  w.engineSets(2 * GiB);
  w.engineSets(2 * GiB);
  r.check(w.c, 2 * GiB);
  t.same(w.kernel.log.filter((l) => !l.startsWith(`write ${C}/memory.max`)), [], 'nothing of ours written');
  t.same(w.log, ['WARN container ctr: memory.max is now 2G: its limits stay as they were: tool: memory_high 1.4G is above memory_max 1G']);
  t.equal(w.store.loadContainer('ctr')?.sessionMax, GiB);
});

t.test('a record of an older version: said once, nothing written', async (t) => {
  const w = world(t);
  const { sizes: _, sessionMax: __, ...older } = w.c.record;
  w.c.record = older;
  w.resizer().follow(w.c);
  w.engineSets(2 * GiB);
  w.engineSets(2 * GiB);
  t.same(w.kernel.log.filter((l) => !l.startsWith(`write ${C}/memory.max`)), []);
  t.same(w.log, ['WARN container ctr: memory.max is now 2G, but it was carved by an older agentcgroup whose record keeps no sizes: its limits stay as carved']);
});

t.test('a write that fails is undone, said once, and tried again at the next change', async (t) => {
  const w = world(t);
  const r = w.resizer();
  r.follow(w.c);
  const before = w.limits(`${C}/agent`);
  const highBefore = w.fs.read(C, 'memory.high');
  w.kernel.failures.set(`${C}/agent/memory.high`, 'EIO');
  w.engineSets(2 * GiB);
  t.same(w.limits(`${C}/agent`), before, 'the agent leaf as it was');
  t.equal(w.fs.read(C, 'memory.high'), highBefore, 'and C too');
  t.equal(w.store.loadContainer('ctr')?.sessionMax, GiB, 'not recorded');
  // The fake kernel fails the read that comes before the write (of the value to undo to): after C's memory.high and the agent's memory.max.
  t.match(w.log, [/^WARN container ctr: cannot follow memory\.max 2G: cannot read .*agent\/memory\.high/]);
  w.kernel.failures.set(`${C}/agent/memory.high`, 'EIO');
  r.check(w.c, 2 * GiB); // the supervisor's next look: the same failure
  t.equal(w.log.length, 1, 'said once');
  w.events.change(MAX_FILE);
  t.same(w.limits(`${C}/agent`), [String(share(2 * GiB, 40)), String(share(2 * GiB, 60))]);
  t.equal(w.store.loadContainer('ctr')?.sessionMax, 2 * GiB);
  t.equal(w.log.length, 2);
});

t.test('a call that ends meanwhile is no failure; unfollow closes the watch', async (t) => {
  const w = world(t);
  w.call('gone-1');
  w.kernel.failures.set(`${C}/tools/gone-1/memory.high`, 'ENOENT');
  const r = w.resizer();
  r.follow(w.c);
  t.ok(w.events.watching(MAX_FILE));
  w.engineSets(2 * GiB);
  t.equal(w.log.filter((l) => l.startsWith('WARN')).length, 0);
  t.match(w.log, [/\(0 running call\(s\) changed\)$/]);
  r.unfollow('ctr');
  t.notOk(w.events.watching(MAX_FILE));
});
