import t from 'tap';
import { LEAK_CHECKS, type Observation, callIdOfMarker, countByKind, findLeaks, tallyMessages } from '../../chaos/leaks.js';

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

t.test('call ids come from markers and their temporaries only', async (t) => {
  t.equal(callIdOfMarker('sh-mwyx1-a1b2c3.json'), 'sh-mwyx1-a1b2c3');
  t.equal(callIdOfMarker('py.test-x1-000000.json.4242.tmp'), 'py.test-x1-000000');
  t.equal(callIdOfMarker('sh-1.ending'), undefined, 'a claimed marker is the same call again');
  t.equal(callIdOfMarker('sh-1.reason'), undefined);
  t.equal(callIdOfMarker('../x.json'), undefined);
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
