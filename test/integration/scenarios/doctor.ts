// The built CLI's doctor on the guest's real cgroup2 tree: ready, exit 0.
import { spawnSync } from 'node:child_process';
import type { DoctorReport } from '../../../src/doctor/evaluate.js';
import { scenario } from '../harness.js';

scenario((c) => {
  const r = spawnSync(process.execPath, ['dist/agentcgroup.cjs', 'doctor', '--json'], { encoding: 'utf8' });
  c.equal(r.status, 0, 'doctor exits 0 in the guest');
  let report: DoctorReport | undefined;
  try {
    report = JSON.parse(r.stdout) as DoctorReport;
  } catch {
    c.ok(false, 'doctor --json prints JSON', r.stdout + r.stderr);
    return;
  }
  c.ok(report.verdict.ready, 'verdict is ready', report.verdict.summary);
  const failedRequired = report.probes.filter((p) => p.need === 'required' && !p.ok).map((p) => p.id);
  c.equal(failedRequired.join(','), '', 'no required probe fails');
  c.match(report.probes.find((p) => p.id === 'cgroup2')?.found ?? '', /^unified hierarchy/, 'guest cgroup layout is unified');
  c.ok(report.probes.find((p) => p.id === 'btf')?.ok === true, 'the guest kernel has BTF');
  c.match(report.probes.find((p) => p.id === 'favordynmods')?.found ?? '', /^(on|off \(remount with: mount -o remount,(\w+,)*favordynmods \/sys\/fs\/cgroup\))$/, 'favordynmods read from the real cgroup2 mount');
  c.match(report.probes.find((p) => p.id === 'tracker')?.found ?? '', /^yes \(\d+ ms/, 'the eBPF tracker loads on the 6.1 kernel');
  const table = spawnSync(process.execPath, ['dist/agentcgroup.cjs', 'doctor'], { encoding: 'utf8' });
  c.match(table.stdout, /\nverdict: ready: /, 'the table ends with a ready verdict');
});
