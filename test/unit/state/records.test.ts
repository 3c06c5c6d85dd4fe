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
