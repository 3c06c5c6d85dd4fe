import t from 'tap';
import { AgentcgroupError } from '../../../src/errors.js';
import { parseSnapshot } from '../../../src/metrics/snapshot.js';
import { ToolStats } from '../../../src/metrics/toolstats.js';
import { sampleSnapshot } from '../../fixtures/snapshot.js';

const asJson = (x: unknown) => JSON.parse(JSON.stringify(x)) as Record<string, unknown>;

t.test('a daemon reply (with v and ok) reads back as the snapshot it was made from', async (t) => {
  t.same(parseSnapshot({ v: 1, ok: true, ...asJson(sampleSnapshot()) }), sampleSnapshot());
});

t.test('a reply of another shape is one line naming the first field that differs', async (t) => {
  const cases: [string, (r: any) => void, RegExp][] = [
    ['no containers', (r) => delete r.containers, /\(reply\.containers is not a list\)/],
    ['a call without memory', (r) => delete r.containers[0].calls[1].memory, /\(containers\[0\]\.calls\[1\]\.memory is not an object\)/],
    ['an unknown state', (r) => (r.containers[0].calls[0].state = 'sleeping'), /calls\[0\]\.state is not one of running, throttled, frozen/],
    ['a string for bytes', (r) => (r.containers[0].memory.current = '5'), /containers\[0\]\.memory\.current is not a number/],
    ['an event count that is not a number', (r) => (r.containers[0].agent.events.high = null), /containers\[0\]\.agent\.events\.high is not a number/],
    ['a missing counter', (r) => delete r.containers[0].counters.stallsResolved, /counters\.stallsResolved is not a number/],
    ['frozen as a number', (r) => (r.containers[0].memory.frozen = 1), /memory\.frozen is not true or false/],
  ];
  for (const [what, spoil, want] of cases) {
    const reply = asJson(sampleSnapshot());
    spoil(reply);
    const err = (() => {
      try {
        parseSnapshot(reply);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    t.ok(err instanceof AgentcgroupError && (err as AgentcgroupError).code === 'bad-reply', what);
    t.match((err as Error).message, want, what);
    t.match((err as Error).message, /^the daemon's snapshot is not what this agentcgroup reads \(.*\): is it another version\?$/, `${what}: one line`);
  }
  t.throws(() => parseSnapshot('text'), /reply is not an object/);
});

t.test('tracker counts: absent from an older daemon reads as not counted; present, every count is checked', async (t) => {
  const reply = asJson(sampleSnapshot());
  t.same(parseSnapshot(reply).trackerCounts, { events: 5317, batches: 23, eventsDropped: 75, rescans: 2 });
  delete reply.trackerCounts;
  t.equal(parseSnapshot(reply).trackerCounts, null, 'absent');
  reply.trackerCounts = null;
  t.equal(parseSnapshot(reply).trackerCounts, null, 'null: a daemon without a tracker');
  reply.trackerCounts = { events: 1, batches: 1, rescans: 0 };
  t.throws(() => parseSnapshot(reply), /\(reply\.trackerCounts\.eventsDropped is not a number\)/);
  reply.trackerCounts = 7;
  t.throws(() => parseSnapshot(reply), /\(reply\.trackerCounts is not an object\)/);
});

t.test('the NRI link: absent from an older daemon reads as none; present, its state and detail are checked', async (t) => {
  const reply = asJson(sampleSnapshot());
  delete reply.nri;
  t.equal(parseSnapshot(reply).nri, null, 'absent');
  reply.nri = { state: 'connected', detail: '"containerd" "v2.1.9"' };
  t.same(parseSnapshot(reply).nri, { state: 'connected', detail: '"containerd" "v2.1.9"' });
  reply.nri = { state: 'ready', detail: '' };
  t.throws(() => parseSnapshot(reply), /\(reply\.nri\.state is not one of connected, waiting, off\)/);
  reply.nri = { state: 'off' };
  t.throws(() => parseSnapshot(reply), /\(reply\.nri\.detail is not a string\)/);
});

t.test('the scheduler: absent from an older daemon reads as none; present, state, detail, classes and run seconds are checked', async (t) => {
  const reply = asJson(sampleSnapshot());
  delete reply.scheduler;
  t.equal(parseSnapshot(reply).scheduler, null, 'absent');
  const runSeconds = { agent: 1.5, toolHigh: 0, tool: 0.25, toolLow: 0, other: 3, supervisor: 0.5 };
  reply.scheduler = { state: 'running', detail: 'agentcgroup', classes: 4, runSeconds };
  t.same(parseSnapshot(reply).scheduler, { state: 'running', detail: 'agentcgroup', classes: 4, runSeconds });
  const { supervisor: _, ...older } = runSeconds;
  reply.scheduler = { state: 'running', detail: 'agentcgroup', classes: 4, runSeconds: older };
  t.same(parseSnapshot(reply).scheduler?.runSeconds, { ...older, supervisor: 0 }, "an older daemon's reply, without the supervisor class: 0 for it");
  reply.scheduler = { state: 'running', detail: '', classes: 0, runSeconds: { ...runSeconds, supervisor: 'x' } };
  t.throws(() => parseSnapshot(reply), /\(reply\.scheduler\.runSeconds\.supervisor is not a number\)/, 'present, it must be a number');
  reply.scheduler = { state: 'unavailable', detail: 'no sched_ext', classes: 0, runSeconds: null };
  t.same(parseSnapshot(reply).scheduler?.runSeconds, null);
  reply.scheduler = { state: 'gone', detail: '', classes: 0, runSeconds: null };
  t.throws(() => parseSnapshot(reply), /\(reply\.scheduler\.state is not one of running, off, unavailable, ejected\)/);
  reply.scheduler = { state: 'running', detail: '', classes: 0, runSeconds: { agent: 1 } };
  t.throws(() => parseSnapshot(reply), /\(reply\.scheduler\.runSeconds\.toolHigh is not a number\)/);
});

t.test('tools and uncarved read back; absent from an older daemon, wrong ones named', async (t) => {
  const snap = sampleSnapshot();
  const stats = new ToolStats();
  stats.note('agent-1', { name: 'pytest', outcome: 'ok', durationMs: 1200, memory: { peak: 5, high: 'max', max: 'max' } });
  snap.containers[0]!.tools = stats.container('agent-1');
  snap.uncarved = [{ id: 'u1', at: '2025-01-01T10:00:00.000Z', stage: 'shim', reason: 'x' }];
  t.same(parseSnapshot(asJson(snap)), snap);
  const short = asJson(snap) as any;
  short.containers[0].tools[0].duration.counts.pop();
  t.throws(() => parseSnapshot(short), /containers\[0\]\.tools\[0\]\.duration\.counts has 8 buckets, not 9/);
  const older = asJson(sampleSnapshot());
  t.notOk('uncarved' in parseSnapshot(older) || 'tools' in parseSnapshot(older).containers[0]!, 'nothing made up for an older daemon');
});
