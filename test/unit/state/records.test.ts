// A container record keeps the engine's oom_score_adj and the one its tool calls get; the daemon
// writes the latter into /proc, so a record that says anything else is refused.
import t from 'tap';
import { join } from 'node:path';
import { AgentcgroupError } from '../../../src/errors.js';
import { type ContainerRecord, StateStore, callOomScoreAdj } from '../../../src/state/records.js';

const limits = { memoryHigh: 1 << 20, memoryMax: 2 << 20, cpuWeight: 100 };
const record: ContainerRecord = {
  version: 1,
  id: 'c1',
  cgroupRoot: '/sys/fs/cgroup',
  cgroup: 'c1',
  bundle: '/b',
  pid: 42,
  stage: 'createRuntime',
  state: 'carved',
  carvedAt: '2026-01-01T00:00:00.000Z',
  sessionBytes: 1 << 30,
  agent: limits,
  tool: limits,
  framework: [],
  priority: 1,
  dependsOn: [],
  oomScoreAdj: { engine: -997, tool: -497 },
};

t.test("callOomScoreAdj: the record's tool value; 0 for a record of an older version", async (t) => {
  t.equal(callOomScoreAdj(record), -497);
  t.equal(callOomScoreAdj({ ...record, oomScoreAdj: { engine: 1000, tool: 1000 } }), 1000);
  const { oomScoreAdj: _, ...older } = record;
  t.equal(callOomScoreAdj(older), 0, 'what the daemon wrote before, when the framework sat at -900');
});

t.test('loadContainer keeps a sound oomScoreAdj and refuses one that is not', async (t) => {
  const store = new StateStore(join(t.testdir(), 'run'), join(t.testdir(), 'calls'));
  store.saveContainer(record);
  t.same(store.loadContainer('c1'), record);
  const { oomScoreAdj: _, ...older } = record;
  store.saveContainer(older);
  t.same(store.loadContainer('c1'), older, 'absent: a record of an older version');
  for (const bad of [{ engine: 0, tool: 1001 }, { engine: -1001, tool: 0 }, { engine: 0, tool: 0.5 }, { engine: 0 }, { engine: '0', tool: '0' }, null, 7]) {
    store.saveContainer({ ...record, oomScoreAdj: bad as unknown as NonNullable<ContainerRecord['oomScoreAdj']> });
    t.throws(() => store.loadContainer('c1'), AgentcgroupError, JSON.stringify(bad));
  }
});

t.test('loadContainer keeps the sizes and session a resize recomputes from, and refuses unsound ones', async (t) => {
  const store = new StateStore(join(t.testdir(), 'run'), join(t.testdir(), 'calls'));
  const sizes: NonNullable<ContainerRecord['sizes']> = {
    session: { memoryHigh: { kind: 'percent', percent: 90 } },
    agent: { memoryHigh: { kind: 'max' }, memoryMax: { kind: 'bytes', bytes: 1 << 30 } },
    tool: { memoryHigh: { kind: 'percent', percent: 70 }, memoryMax: { kind: 'percent', percent: 100 } },
  };
  for (const good of [{ sizes, sessionMax: 1 << 30 }, { sizes, sessionMax: 'max' as const }, {}]) {
    store.saveContainer({ ...record, ...good });
    t.same(store.loadContainer('c1'), { ...record, ...good }, JSON.stringify(good));
  }
  const tool = (memoryHigh: unknown) => ({ sizes: { ...sizes, tool: { ...sizes.tool, memoryHigh } } });
  const bads = [
    { sessionMax: -1 },
    { sessionMax: 1.5 },
    { sessionMax: '1G' },
    { sizes: null },
    { sizes: { ...sizes, agent: 7 } },
    tool({ kind: 'percent', percent: 0 }),
    tool({ kind: 'percent', percent: 101 }),
    tool({ kind: 'percent', percent: '70' }),
    tool({ kind: 'bytes', bytes: 100 }),
    tool({ kind: 'bytes', bytes: 4097 }),
    tool({ kind: 'bytes', bytes: 2 ** 60 }),
    tool({ kind: 'infinite' }),
    tool(undefined),
  ];
  for (const bad of bads) {
    store.saveContainer({ ...record, ...(bad as Partial<ContainerRecord>) });
    t.throws(() => store.loadContainer('c1'), AgentcgroupError, JSON.stringify(bad));
  }
});
