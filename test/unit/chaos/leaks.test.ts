import t from 'tap';
import { LEAK_CHECKS, type Observation, callEvidence, callIdOfMarker, countByKind, findLeaks, tallyMessages } from '../../chaos/leaks.js';

const clean: Observation = {
  cgroupsBefore: ['init.scope'],
  cgroupsNow: ['init.scope'],
  frozen: [],
  bpfBefore: { prog: [{ id: 3, name: 'sd_devices' }], link: [], map: [] },
  bpfNow: { prog: [{ id: 3, name: 'sd_devices' }], link: [], map: [] },
  pinnedBefore: [],
  pinnedNow: [],
  runDir: ['containers/', 'calls/', 'sock/', 'daemon-absent-warned'],
  callsBegun: [{ container: 'c1', call: 'sh-1' }],
  records: [{ container: 'c1', id: 'sh-1' }],
  processes: [],
};

t.test('a clean run has no leaks', async (t) => {
  t.same(findLeaks(clean), []);
  t.equal(countByKind([]), 'none');
});

t.test('each kind of leftover is found and named', async (t) => {
  const leaks = findLeaks({
    ...clean,
    cgroupsNow: ['init.scope', 'b/c1', 'b/c1/tools'],
    frozen: ['b/c1/tools/sh-2'],
    bpfNow: { prog: [{ id: 3, name: 'sd_devices' }, { id: 9, name: 'agentcg_fork' }], link: [{ id: 4, name: 'prog 9' }], map: [{ id: 5, name: 'watched' }] },
    pinnedNow: ['agentcg/watched'],
    runDir: [...clean.runDir, 'containers/c1.json', 'sock/c1/'],
    callsBegun: [...clean.callsBegun, { container: 'c1', call: 'sh-2' }, { container: 'c2', call: 'sh-3' }],
    records: [...clean.records, { container: 'c2', id: 'sh-3' }, { container: 'c2', id: 'sh-3' }],
    processes: ['77: node agentcgroup.cjs hook'],
  });
  t.same(
    leaks.map((l) => `${l.kind}: ${l.what}`),
    [
      'cgroup: b/c1',
      'cgroup: b/c1/tools',
      'frozen: b/c1/tools/sh-2',
      'bpf: prog 9 agentcg_fork',
      'bpf: link 4 prog 9',
      'bpf: map 5 watched',
      'pinned: agentcg/watched',
      'run-state: containers/c1.json',
      'run-state: sock/c1/',
      'call-record-missing: c1/sh-2',
      'call-record-duplicate: c2/sh-3 (2 records)',
      'process: 77: node agentcgroup.cjs hook',
    ],
  );
  t.equal(countByKind(leaks), 'cgroup 2, frozen 1, bpf 3, pinned 1, run-state 2, call-record-missing 1, call-record-duplicate 1, process 1');
});

t.test('a sched_ext scheduler still running once the daemon stopped', async (t) => {
  const off = { state: 'disabled', ops: '' };
  const ours = { state: 'enabled', ops: 'agentcgroup' };
  t.same(findLeaks({ ...clean, schedExtBefore: off, schedExtNow: off }), [], 'disabled before and after: none');
  t.same(findLeaks({ ...clean, schedExtBefore: off }), [], 'a kernel without sched_ext (no schedExtNow): nothing to look at');
  t.same(findLeaks({ ...clean, schedExtBefore: off, schedExtNow: ours }), [{ kind: 'sched-ext', what: '/sys/kernel/sched_ext/state enabled, ops agentcgroup' }]);
  t.same(findLeaks({ ...clean, schedExtBefore: ours, schedExtNow: ours }).map((l) => l.kind), ['sched-ext'], 'ours is a leak even if a previous run left it');
  t.same(findLeaks({ ...clean, schedExtBefore: off, schedExtNow: { state: 'disabling', ops: '' } }), [{ kind: 'sched-ext', what: '/sys/kernel/sched_ext/state disabling' }], 'still on its way out');
  const rusty = { state: 'enabled', ops: 'rusty' };
  t.same(findLeaks({ ...clean, schedExtBefore: rusty, schedExtNow: rusty }), [], "an admin's scheduler that ran before the run is none of ours");
  t.same(findLeaks({ ...clean, schedExtBefore: off, schedExtNow: rusty }).map((l) => l.kind), ['sched-ext'], 'one that appeared during the run is');
  t.equal(countByKind(findLeaks({ ...clean, schedExtNow: ours })), 'sched-ext 1');
});

t.test('the leak checks cover every kind, each once', async (t) => {
  const kinds = LEAK_CHECKS.flatMap(([k]) => k);
  t.equal(new Set(kinds).size, kinds.length);
  t.same([...kinds].sort(), ['bpf', 'call-record-duplicate', 'call-record-missing', 'cgroup', 'frozen', 'pinned', 'process', 'run-state', 'sched-ext']);
});

t.test('a record of a call never seen to begin is no leak (it began while nobody watched)', async (t) => {
  t.same(findLeaks({ ...clean, records: [...clean.records, { container: 'c1', id: 'sh-9' }] }), []);
});

t.test('call ids come from markers only', async (t) => {
  t.equal(callIdOfMarker('sh-mwyx1-a1b2c3.json'), 'sh-mwyx1-a1b2c3');
  t.equal(callIdOfMarker('py.test-x1-000000.json'), 'py.test-x1-000000');
  t.equal(callIdOfMarker('sh-1.ending'), undefined, 'a claimed marker is the same call again');
  t.equal(callIdOfMarker('sh-1.reason'), undefined);
  t.equal(callIdOfMarker('../x.json'), undefined);
  // sys/atomicfile.ts writes `.<name>.<16 hex digits>.tmp` and renames it: a writer killed before the
  // rename began no call. One in about 1850 such names is all decimal digits, which the pattern for
  // the old `<name>.<pid>.tmp` took for a call named `.sh-...` that never got a record.
  t.equal(callIdOfMarker('.sh-mx6e1t1b-551d58.json.1234567890123456.tmp'), undefined, 'a temporary whose random part is all digits');
  t.equal(callIdOfMarker('.sh-mx6e1t1b-551d58.json.9f1c2e3d4b5a6978.tmp'), undefined, 'any temporary');
  t.equal(callIdOfMarker('.sh-mx6e1t1b-551d58.reason.1234567890123456.tmp'), undefined);
  t.equal(callIdOfMarker('py.test-x1-000000.json.4242.tmp'), undefined, "the old helper's temporary neither");
});

t.test('a call-record leak names its call, for the driver to explain', async (t) => {
  const leaks = findLeaks({ ...clean, callsBegun: [...clean.callsBegun, { container: 'c1', call: 'sh-2' }], records: [...clean.records, { container: 'c1', id: 'sh-1' }] });
  t.same(
    leaks.map((l) => [l.kind, l.what, l.call]),
    [
      ['call-record-duplicate', 'c1/sh-1 (2 records)', { container: 'c1', call: 'sh-1' }],
      ['call-record-missing', 'c1/sh-2', { container: 'c1', call: 'sh-2' }],
    ],
  );
});

t.test("a call's evidence: the lines naming it, then its container's in the other logs, then its own log; bounded", async (t) => {
  const logs = [
    { name: 'daemon-0.log', text: 'agentcgroup: daemon ready\nagentcgroup: warning: container chaos-7-14: process 9 exited while it was moved to chaos-7/chaos-7-14/tools/sh-x-1\nagentcgroup: container chaos-7-140 ended: calls still running logged as cut off\n' },
    { name: 'daemon-1.log', text: 'agentcgroup: container chaos-7-14 ended: calls still running logged as cut off, its state removed\n' },
    { name: 'chaos-7-12.log', text: '10:00:01.000 $ crun delete chaos-7-12\nagentcgroup: warning: cannot remove cgroup /sys/fs/cgroup/chaos-7/chaos-7-14/tools: the cgroup is busy\n' },
    { name: 'chaos-7-14.log', text: '10:00:00.000 $ crun run -d --bundle b chaos-7-14\n\n10:00:02.000 $ crun delete chaos-7-14\n' },
    { name: 'hook-kills.log', text: 'poststop chaos-7-1\npoststop chaos-7-14\n' },
  ];
  t.same(callEvidence('chaos-7-14', 'sh-x-1', logs), [
    'daemon-0.log: agentcgroup: warning: container chaos-7-14: process 9 exited while it was moved to chaos-7/chaos-7-14/tools/sh-x-1',
    'daemon-1.log: agentcgroup: container chaos-7-14 ended: calls still running logged as cut off, its state removed',
    'chaos-7-12.log: agentcgroup: warning: cannot remove cgroup /sys/fs/cgroup/chaos-7/chaos-7-14/tools: the cgroup is busy',
    'hook-kills.log: poststop chaos-7-14',
    'chaos-7-14.log: 10:00:00.000 $ crun run -d --bundle b chaos-7-14',
    'chaos-7-14.log: 10:00:02.000 $ crun delete chaos-7-14',
  ]);
  t.equal(callEvidence('chaos-7-14', 'sh-x-1', logs, 2).length, 2, 'at most the limit');
  const long = [{ name: 'daemon-0.log', text: `${'x'.repeat(400)} sh-x-1\n`.repeat(40) }];
  const lines = callEvidence('chaos-7-14', 'sh-x-1', long);
  t.equal(lines.length, 1, 'the same line twice in one log is said once');
  t.ok(lines[0]!.length < 330, 'a long line is cut');
  t.same(callEvidence('c', 'sh-9', []), [], 'no logs, nothing to say');
});

t.test('messages are folded by shape, most frequent first', async (t) => {
  t.same(
    tallyMessages([
      'error executing hook `/bin/sh` (exit code: 137)',
      'time="2026-11-27T11:31:57Z" level=error msg="cannot delete container chaos-3-3 that is not stopped: running"',
      'error executing hook `/usr/bin/sh` (exit code: 1)',
      '',
      'agentcgroup: tool call sh-mwyx1q-a1b2c3 ended',
    ]),
    [
      ['error executing hook `PATH` (exit code: N)', 2],
      ['level=error msg="cannot delete container chaos-N-N that is not stopped: running"', 1],
      ['agentcgroup: tool call CALL ended', 1],
    ],
  );
});
