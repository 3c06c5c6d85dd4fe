import t from 'tap';
import { Cgroupfs, type FsOps } from '../../../src/cgroup/cgroupfs.js';
import { memoryStatus } from '../../../src/cgroup/stats.js';
import { SnapshotCollector, type SnapshotSources } from '../../../src/metrics/collect.js';
import { Tally } from '../../../src/metrics/tally.js';
import { ToolStats } from '../../../src/metrics/toolstats.js';
import type { ContainerRecord, RunningCall } from '../../../src/state/records.js';
import type { Watched } from '../../../src/state/watched.js';

const MiB = 1 << 20;

/** Files by path; a directory is any prefix of a file's path. Reads of other paths fail with ENOENT. */
function tree(files: Record<string, string>): FsOps {
  const dirs = (p: string) => Object.keys(files).filter((f) => f.startsWith(`${p}/`));
  return {
    readFile: (p) => {
      const v = files[p];
      if (v === undefined) throw Object.assign(new Error(`ENOENT ${p}`), { code: 'ENOENT' });
      return v;
    },
    writeFile: () => {
      throw new Error('read-only');
    },
    writeFileAsync: () => Promise.reject(new Error('read-only')),
    mkdir: () => {},
    rmdir: () => {},
    watch: () => {
      throw new Error('not watched');
    },
    kill: () => {
      throw new Error('nothing to kill');
    },
    isDir: (p) => dirs(p).length > 0,
    subdirs: (p) => [...new Set(dirs(p).map((f) => f.slice(p.length + 1).split('/')).filter((parts) => parts.length > 1).map((parts) => parts[0]!))],
  };
}

const cgroup = (current: number, extra: Record<string, string> = {}): Record<string, string> => ({
  'memory.current': `${current}\n`,
  'memory.high': 'max\n',
  'memory.max': 'max\n',
  'memory.peak': `${current}\n`,
  'memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n',
  'memory.pressure': 'some avg10=1.50 avg60=0.00 avg300=0.00 total=1500\nfull avg10=0.50 avg60=0.00 avg300=0.00 total=500\n',
  'cgroup.events': 'populated 1\nfrozen 0\n',
  ...extra,
});

function at(prefix: string, files: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(files).map(([k, v]) => [`/cg/${prefix}/${k}`, v]));
}

function setup(files: Record<string, string>, markers: RunningCall[] = []) {
  const fs = new Cgroupfs('/cg', tree(files));
  const record = { id: 'c1', cgroup: 'c1', priority: 2 } as ContainerRecord;
  const watched: Watched = { record, fs, cgroupId: 1n, agentCgroupId: 2n };
  const tally = new Tally();
  const src: SnapshotSources = {
    containers: [watched],
    runningCalls: (id) => (id === 'c1' ? markers : []),
    counters: tally,
    isStalled: (key) => key === 'c1/stalled-1-aaaaaa',
    roles: () => [{ pid: 12, role: 'framework', name: 'python3' }],
    tracker: false,
  };
  return { src, tally };
}

t.test('memoryStatus reads what is there and defaults the rest', async (t) => {
  const files = cgroup(5 * MiB, { 'memory.high': '8388608\n', 'cgroup.events': 'populated 1\nfrozen 1\n' });
  const m = memoryStatus((f) => files[f]);
  t.same(m, {
    current: 5 * MiB,
    high: 8 * MiB,
    max: 'max',
    peak: 5 * MiB,
    events: { low: 0, high: 0, max: 0, oom: 0, oom_kill: 0 },
    pressure: { some: { avg10: 1.5, totalUs: 1500 }, full: { avg10: 0.5, totalUs: 500 } },
    frozen: true,
  });
  const bare = memoryStatus((f) => (f === 'memory.current' ? '7\n' : undefined));
  t.same(bare, { current: 7, high: 'max', max: 'max', peak: null, events: {}, pressure: { some: { avg10: 0, totalUs: 0 }, full: { avg10: 0, totalUs: 0 } }, frozen: false }, 'an old kernel');
  t.throws(() => memoryStatus(() => undefined), /no memory\.current/, 'a cgroup that is gone');
});

t.test('a container, its agent leaf and its calls, with names, states and counters', async (t) => {
  const marker: RunningCall = { callId: 'pytest-1-abcdef', name: 'pytest', argv: ['pytest'], cgroup: '/c1/tools/pytest-1-abcdef', start: '2025-01-01T00:00:00.000Z', limits: { high: 'max', max: 'max' }, owner: 'exec' };
  const { src, tally } = setup(
    {
      ...at('c1', cgroup(100 * MiB, { 'memory.max': `${256 * MiB}\n` })),
      ...at('c1/agent', cgroup(40 * MiB)),
      ...at('c1/tools/pytest-1-abcdef', cgroup(20 * MiB, { 'memory.high': `${64 * MiB}\n` })),
      ...at('c1/tools/stalled-1-aaaaaa', cgroup(10 * MiB, { 'memory.high': `${64 * MiB}\n` })),
      ...at('c1/tools/frozen-1-bbbbbb', cgroup(1 * MiB, { 'cgroup.events': 'populated 1\nfrozen 1\n' })),
      ...at('c1/tools/full-1-cccccc', cgroup(64 * MiB, { 'memory.high': `${64 * MiB}\n` })),
    },
    [marker],
  );
  tally.noteAction({ kind: 'freeze', call: 'c1/frozen-1-bbbbbb', reason: 'r' }, 0);
  const snap = new SnapshotCollector().collect(src, new Date('2025-01-01T00:00:01.000Z'));
  t.equal(snap.at, '2025-01-01T00:00:01.000Z');
  t.equal(snap.calls, 4);
  t.equal(snap.tracker, false);
  const c = snap.containers[0]!;
  t.same([c.id, c.cgroup, c.priority, c.memory.current, c.memory.max, c.agent?.current], ['c1', 'c1', 2, 100 * MiB, 256 * MiB, 40 * MiB]);
  t.equal(c.counters.freezes, 1);
  const byId = new Map(c.calls.map((k) => [k.id, k]));
  t.same([...byId.keys()], ['frozen-1-bbbbbb', 'full-1-cccccc', 'pytest-1-abcdef', 'stalled-1-aaaaaa'], 'sorted by id');
  t.same([byId.get('pytest-1-abcdef')!.name, byId.get('pytest-1-abcdef')!.owner, byId.get('pytest-1-abcdef')!.start], ['pytest', 'exec', marker.start], 'from the marker');
  t.same([byId.get('full-1-cccccc')!.name, byId.get('full-1-cccccc')!.owner, byId.get('full-1-cccccc')!.start], ['full', null, null], 'without one, the name is the id\'s');
  t.equal(byId.get('pytest-1-abcdef')!.state, 'running');
  t.equal(byId.get('stalled-1-aaaaaa')!.state, 'throttled', "the supervisor's stall");
  t.equal(byId.get('stalled-1-aaaaaa')!.stalled, true);
  t.equal(byId.get('full-1-cccccc')!.state, 'throttled', 'at memory.high');
  t.equal(byId.get('frozen-1-bbbbbb')!.state, 'frozen');
  t.equal(byId.get('frozen-1-bbbbbb')!.counters.freezes, 1);
});

t.test('memory.events high rising between two looks makes a call throttled', async (t) => {
  const files = { ...at('c1', cgroup(MiB)), ...at('c1/tools/x-1-dddddd', cgroup(MiB, { 'memory.high': `${64 * MiB}\n`, 'memory.events': 'high 3\n' })) };
  const { src } = setup(files);
  const collector = new SnapshotCollector();
  t.equal(collector.collect(src, new Date(1000)).containers[0]!.calls[0]!.state, 'running', 'first look');
  files['/cg/c1/tools/x-1-dddddd/memory.events'] = 'high 4\n';
  t.equal(collector.collect(src, new Date(1500)).containers[0]!.calls[0]!.state, 'throttled', 'it rose');
  t.equal(collector.collect(src, new Date(60_000)).containers[0]!.calls[0]!.state, 'running', 'and then stopped rising');
});

t.test('cgroups that vanish are left out, not errors', async (t) => {
  const { src } = setup({ ...at('c1', cgroup(MiB)), '/cg/c1/tools/gone-1-eeeeee/cgroup.procs': '' });
  const snap = new SnapshotCollector().collect(src, new Date(0));
  t.equal(snap.containers[0]!.calls.length, 0, 'a call without memory files');
  t.equal(snap.containers[0]!.agent, null, 'no agent leaf');
  const empty = setup({}).src;
  t.same(new SnapshotCollector().collect(empty, new Date(0)).containers, [], 'a container whose cgroup is gone');
});

t.test('the tracker counts: asked for on each snapshot, null while the daemon does not count or has no tracker', async (t) => {
  const { src } = setup({ ...at('c1', cgroup(MiB)) });
  const collector = new SnapshotCollector();
  t.equal(collector.collect(src, new Date(0)).trackerCounts, null, 'no source');
  let dropped = 3;
  const counted: SnapshotSources = { ...src, tracker: true, trackerCounts: () => ({ events: 40, batches: 5, eventsDropped: dropped, rescans: 1 }) };
  t.same(collector.collect(counted, new Date(0)).trackerCounts, { events: 40, batches: 5, eventsDropped: 3, rescans: 1 });
  dropped = 9;
  t.equal(collector.collect(counted, new Date(1)).trackerCounts?.eventsDropped, 9, 'read afresh, not kept');
  t.equal(collector.collect({ ...counted, tracker: false }, new Date(2)).trackerCounts, null, 'the tracker is off: counts of a ring nobody reads are not shown');
});

t.test("the NRI link's state: asked for on each snapshot, left out by a daemon that has no link", async (t) => {
  const { src } = setup({ ...at('c1', cgroup(MiB)) });
  const collector = new SnapshotCollector();
  t.notOk('nri' in collector.collect(src, new Date(0)), 'no source');
  let state: 'waiting' | 'connected' = 'waiting';
  const withLink: SnapshotSources = { ...src, nri: () => ({ state, detail: state === 'connected' ? 'synchronized' : 'connecting: /var/run/nri/nri.sock' }) };
  t.same(collector.collect(withLink, new Date(0)).nri, { state: 'waiting', detail: 'connecting: /var/run/nri/nri.sock' });
  state = 'connected';
  t.same(collector.collect(withLink, new Date(1)).nri, { state: 'connected', detail: 'synchronized' });
});

t.test('calls that ended per tool, and the containers running uncarved: asked for on each snapshot, left out without a source', async (t) => {
  const { src } = setup({ ...at('c1', cgroup(MiB)) });
  const collector = new SnapshotCollector();
  const plain = collector.collect(src, new Date(0));
  t.notOk('uncarved' in plain || 'tools' in plain.containers[0]!, 'no source');
  const stats = new ToolStats();
  stats.note('c1', { name: 'make', outcome: 'failed', durationMs: 10, memory: { peak: null, high: 'max', max: 'max' } });
  const uncarved = [{ id: 'u1', at: 'x', stage: 'shim' as const, reason: 'r' }];
  const snap = collector.collect({ ...src, tools: (id) => stats.container(id), uncarved: () => uncarved }, new Date(0));
  t.same(snap.containers[0]!.tools?.map((x) => [x.tool, x.outcomes.failed]), [['make', 1]]);
  t.same(snap.uncarved, uncarved);
});
