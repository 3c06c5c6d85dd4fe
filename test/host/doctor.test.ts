// The built binary's doctor against this machine's own /proc and /sys (read-only). Whatever the host,
// the exit code must agree with the verdict, and a memory controller bound to cgroup v1 (as on this
// project's hybrid machines) must be named in the one verdict line.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseProcCgroups } from '../../src/cgroup/mountinfo.js';
import type { DoctorReport } from '../../src/doctor/evaluate.js';

const run = (args: string[]) => spawnSync(process.execPath, ['dist/agentcgroup.cjs', 'doctor', ...args], { encoding: 'utf8' });

t.test('doctor --json on this host: exit code follows the verdict', async (t) => {
  const r = run(['--json']);
  t.equal(r.stderr, '', 'nothing on stderr');
  const report = JSON.parse(r.stdout) as DoctorReport;
  t.equal(r.status, report.verdict.ready ? 0 : 1);
  t.ok(report.probes.every((p) => p.how.length > 0 && p.found.length > 0), 'every probe says what it found and how');
});

t.test('doctor on this host names a v1-bound memory controller in one line', async (t) => {
  const memory = parseProcCgroups(readFileSync('/proc/cgroups', 'utf8')).find((b) => b.name === 'memory');
  const r = run([]);
  const verdicts = r.stdout.split('\n').filter((l) => l.startsWith('verdict: '));
  t.equal(verdicts.length, 1, 'exactly one verdict line');
  if (memory && memory.hierarchy !== 0) {
    t.match(verdicts[0], /not ready: memory controller is bound to cgroup v1/);
    t.not(r.status, 0);
  } else {
    t.notMatch(verdicts[0], /bound to cgroup v1/, 'memory is not v1-bound here, so it is not blamed');
  }
});
