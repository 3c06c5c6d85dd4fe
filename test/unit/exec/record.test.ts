import t from 'tap';
import { callNotice, cutOffRecord, finishedRecord, parseLadderRecord } from '../../../src/exec/record.js';
import type { RunningCall } from '../../../src/state/records.js';

const M = 1 << 20;
const call: RunningCall = {
  callId: 'pytest-1',
  name: 'pytest',
  argv: ['pytest', '-x'],
  cgroup: '/c/tools/pytest-1',
  start: '2026-01-01T00:00:00.000Z',
  limits: { high: 600 * M, max: 900 * M },
  owner: 'exec',
};
const quiet = { high: 0, max: 0, oom: 0, oom_kill: 0 };
const end = (exit: number | null, signal: string | null) => ({ exit, signal, end: new Date('2026-01-01T00:00:02.500Z') });

t.test('an OOM kill is the outcome and the notice, whatever the exit status says', async (t) => {
  const rec = finishedRecord(call, 'c', { peak: 912 * M, events: { ...quiet, max: 3, oom: 1, oom_kill: 1 }, pressure: { someUs: 0, fullUs: 0 } }, end(null, 'SIGKILL'));
  t.equal(rec.outcome, 'oom-killed');
  t.equal(rec.durationMs, 2500);
  t.equal(callNotice(rec), 'agentcgroup: tool call "pytest" killed: memory.max 900M reached (peak 912M)');
});

t.test('a call whose memory.max a resize changed: the record and the notice give the one it ended with', async (t) => {
  const rec = finishedRecord(call, 'c', { peak: 450 * M, max: 450 * M, events: { ...quiet, max: 3, oom: 1, oom_kill: 1 }, pressure: { someUs: 0, fullUs: 0 } }, end(null, 'SIGKILL'));
  t.equal(callNotice(rec), 'agentcgroup: tool call "pytest" killed: memory.max 450M reached (peak 450M)');
  t.same(rec.memory, { peak: 450 * M, high: 600 * M, max: 450 * M }, 'memory.high as it began');
});

t.test('a throttled call that finished says how often and how long it stalled', async (t) => {
  const rec = finishedRecord(call, 'c', { peak: 650 * M, events: { ...quiet, high: 12 }, pressure: { someUs: 2_000_000, fullUs: 1_500_000 } }, end(0, null));
  t.equal(rec.outcome, 'ok');
  t.equal(callNotice(rec), 'agentcgroup: tool call "pytest" was throttled at memory.high 600M (12 times, peak 650M, stalled 1.5 s)');
});

t.test('plain outcomes need no notice', async (t) => {
  const stats = { peak: 10 * M, events: quiet, pressure: { someUs: 0, fullUs: 0 } };
  t.equal(finishedRecord(call, null, stats, end(0, null)).outcome, 'ok');
  t.equal(finishedRecord(call, null, stats, end(2, null)).outcome, 'failed');
  t.equal(finishedRecord(call, null, stats, end(null, null)).outcome, 'ended', 'no exit status seen is not a failure');
  const killed = finishedRecord(call, null, stats, end(null, 'SIGTERM'));
  t.equal(killed.outcome, 'killed');
  t.equal(killed.reason, 'ended by SIGTERM');
  t.equal(callNotice(killed), undefined);
});

t.test('a call cut off by teardown keeps its limits and has no stats', async (t) => {
  const rec = cutOffRecord('c', call, new Date('2026-01-01T00:00:10.000Z'));
  t.match(rec, { outcome: 'cut-off', exit: null, durationMs: 10_000, memory: { peak: null, high: 600 * M, max: 900 * M } });
});

t.test('a call the ladder froze: its record keeps how long and what it gave back, and the caller is told', async (t) => {
  const stats = { peak: 300 * M, events: quiet, pressure: { someUs: 0, fullUs: 0 } };
  const rec = finishedRecord(call, 'c', stats, end(0, null), undefined, { frozenMs: 12_340, reclaimedBytes: 192 * M });
  t.same(rec.ladder, { frozenMs: 12_340, reclaimedBytes: 192 * M });
  t.equal(callNotice(rec), 'agentcgroup: tool call "pytest" was frozen 12.3 s while memory was short, 192M of it swapped out meanwhile');
  const throttled = finishedRecord(call, 'c', { ...stats, events: { ...quiet, high: 2 } }, end(0, null), undefined, { frozenMs: 1000, reclaimedBytes: 0 });
  t.equal(callNotice(throttled), 'agentcgroup: tool call "pytest" was throttled at memory.high 600M (2 times, peak 300M), and was frozen 1.0 s while memory was short');
  t.equal(finishedRecord(call, 'c', stats, end(0, null), undefined, { frozenMs: 0, reclaimedBytes: 0 }).ladder, undefined, 'nothing done: no entry');
});

t.test("parseLadderRecord: the daemon's file as exec reads it, anything but two counts is none", async (t) => {
  t.same(parseLadderRecord('{"frozenMs":5,"reclaimedBytes":4096}\n'), { frozenMs: 5, reclaimedBytes: 4096 });
  for (const bad of ['', 'null', '[]', '{"frozenMs":-1,"reclaimedBytes":0}', '{"frozenMs":1.5,"reclaimedBytes":0}', '{"frozenMs":"5","reclaimedBytes":0}', '{"frozenMs":5}']) {
    t.equal(parseLadderRecord(bad), undefined, bad);
  }
});
