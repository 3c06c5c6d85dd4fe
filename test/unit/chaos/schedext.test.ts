import t from 'tap';
import { type SchedExtRun, type SchedKill, describeSchedExt, kernelEjections, runsOurs, schedExtProblems } from '../../chaos/schedext.js';

const ours = { state: 'enabled', ops: 'agentcgroup' };
const off = { state: 'disabled', ops: '' };
const good: SchedKill = { before: ours, fellBackMs: 14, after: ours };
const run = (over: Partial<SchedExtRun> = {}): SchedExtRun => ({ atStart: ours, kills: [good, { ...good, fellBackMs: 40 }], beforeStop: { state: 'running', detail: 'agentcgroup: ...' }, ...over });

t.test('ours runs only when enabled under our name', async (t) => {
  t.ok(runsOurs(ours));
  t.notOk(runsOurs(off));
  t.notOk(runsOurs({ state: 'enabled', ops: 'rusty' }), "another BPF scheduler is not ours");
  t.notOk(runsOurs({ state: 'enabling', ops: 'agentcgroup' }));
  t.notOk(runsOurs(undefined), 'a kernel without sched_ext');
});

t.test('a run where the scheduler came and went with the daemon has no problem', async (t) => {
  t.same(schedExtProblems(run(), 30_000), []);
  t.equal(describeSchedExt(run()), '2 daemon kill(s), the kernel fell back after 2 (14, 40 ms; max 40 ms), ours again after 2 restart(s); at the end: running');
  t.same(schedExtProblems(run({ kills: [] }), 30_000), [], 'no kill: nothing to fall back from');
  t.equal(describeSchedExt(run({ kills: [] })), '0 daemon kill(s), the kernel fell back after 0, ours again after 0 restart(s); at the end: running');
});

t.test('each way it can go wrong is named, with the kill it belongs to', async (t) => {
  const problems = schedExtProblems(
    run({
      atStart: { state: 'disabled', ops: '' },
      kills: [good, { before: off, fellBackMs: null, after: { state: 'enabled', ops: 'rusty' }, daemonSaid: { state: 'ejected', detail: 'the kernel stopped it: a task stalled' } }],
      beforeStop: { state: 'ejected', detail: 'the kernel stopped it: a task stalled' },
    }),
    30_000,
  );
  t.same(problems, [
    "the first daemon did not make its scheduler the system's (state disabled)",
    'daemon kill 2: the scheduler was not running when the daemon was SIGKILLed (state disabled; the daemon: ejected (the kernel stopped it: a task stalled))',
    'daemon kill 2: the kernel had not fallen back 30000 ms after the SIGKILL',
    "daemon kill 2: the restarted daemon's scheduler is not the system's (state enabled, ops rusty)",
    'the scheduler no longer ran at the end of the run: ejected (the kernel stopped it: a task stalled)',
  ]);
  t.same(schedExtProblems(run({ atStart: undefined, beforeStop: undefined }), 1000), [
    "the first daemon did not make its scheduler the system's (no /sys/kernel/sched_ext)",
    'status --json said nothing of the scheduler before the final stop',
  ]);
  t.match(describeSchedExt(run({ kills: [{ ...good, fellBackMs: null, after: off }], beforeStop: { state: 'ejected', detail: 'sysrq S' } })), /fell back after 0, ours again after 0 restart\(s\); at the end: ejected \(sysrq S\)$/);
});

// As the 7.2 guest's dmesg printed them in a chaos run on one vCPU.
const LOG = [
  '[   16.442863] sched_ext: BPF scheduler "agentcgroup" enabled',
  '[   23.712694] sched_ext: BPF scheduler "agentcgroup" disabled (unregistered from user space)',
  '[   44.689299] Sched_ext: agentcgroup (enabled+all), task: runnable_at=-168ms',
  '[  113.305059] sched_ext: BPF scheduler "agentcgroup" enabled',
  '[  121.101680] sched_ext: BPF scheduler "agentcgroup" disabled (runnable task stall)',
  '[  121.104049] sched_ext: agentcgroup: khugepaged[35] failed to run for 6.392s',
  '[  153.013346] sched_ext: BPF scheduler "agentcgroup" disabled (unregistered from user space)',
];

t.test("the kernel's own reasons for dropping the scheduler, not the daemon letting go", async (t) => {
  t.same(kernelEjections(LOG), ['runnable task stall (khugepaged[35] failed to run for 6.392s)']);
  t.same(kernelEjections(LOG.filter((l) => !l.includes('stall') && !l.includes('khugepaged'))), [], 'unregistered from user space: the daemon stopped or died');
  t.same(kernelEjections(['[ 9.1] sched_ext: BPF scheduler "agentcgroup" disabled (disabled by sysrq-S)']), ['disabled by sysrq-S'], 'the last line: nothing after it');
  t.same(kernelEjections(['[ 9.1] sched_ext: BPF scheduler "rusty" disabled (runnable task stall)', '[ 9.2] sched_ext: rusty: x[1] failed to run for 9s']), [], "another scheduler's");
  t.same(schedExtProblems(run({ kernelLog: LOG }), 30_000), ['the kernel threw the scheduler out: runnable task stall (khugepaged[35] failed to run for 6.392s)']);
});
