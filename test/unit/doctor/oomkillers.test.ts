// doctor's user-space OOM killers: found by comm in a fake /proc, oomctl dump read as systemd prints
// it, one line each with what to set so they and our ladder do not fight.
import t from 'tap';
import { join } from 'node:path';
import { runCli } from '../../fixtures/cli.js';
import type { DoctorReport, Probe } from '../../../src/doctor/evaluate.js';
import { oomKillerProbes, parseOomctlDump } from '../../../src/doctor/oomkillers.js';
import type { HostFacts, OomKillerFacts } from '../../../src/host/facts.js';
import { unifiedHost } from '../../fixtures/hosts.js';

// The shape of systemd's oomd_dump (src/oom/oomd-manager.c, oomd-util.c): a tab before Path:, two before its details.
const HEADER = (duration: string) => `Dry Run: no
Swap Used Limit: 90.00%
Default Memory Pressure Limit: 60.00%
Default Memory Pressure Duration: ${duration}
System Context:
\tMemory: Used: 7.1G, Total: 15.5G
\tSwap: Used: 0B, Total: 8.0G
`;

const DUMP = `${HEADER('30s')}Swap Monitored CGroups:
\tPath: /
\t\tSwap Usage: (see System Context)
Memory Pressure Monitored CGroups:
\tPath: /user.slice/user-1000.slice/user@1000.service
\t\tMemory Pressure Limit: 50.00%
\t\tPressure: Avg10: 0.00 Avg60: 0.00 Avg300: 0.00 Total: 2s
\t\tCurrent Memory Usage: 2.1G
\tPath: /machine.slice
\t\tPressure: Avg10: 0.00 Avg60: 0.00 Avg300: 0.00 Total: 0
`;

const EMPTY = `${HEADER('20s')}Swap Monitored CGroups:
Memory Pressure Monitored CGroups:
`;

t.test('oomctl dump: the limits, the swap-watched and pressure-watched cgroups with their own limits', async (t) => {
  t.same(parseOomctlDump(DUMP), {
    swapUsedLimit: '90.00%',
    defaultPressureLimit: '60.00%',
    defaultPressureDuration: '30s',
    swap: ['/'],
    pressure: [{ path: '/user.slice/user-1000.slice/user@1000.service', limit: '50.00%' }, { path: '/machine.slice' }],
  });
  t.same(parseOomctlDump(EMPTY)?.pressure, []);
  t.equal(parseOomctlDump('Failed to connect to bus: No such file or directory\n'), undefined);
});

function facts(oomKillers: OomKillerFacts): HostFacts {
  return { roots: { proc: '/proc', sys: '/sys' }, oomKillers } as HostFacts;
}

const oomd = (oomctl?: OomKillerFacts['oomctl']): OomKillerFacts => ({ running: [{ name: 'systemd-oomd', pid: 612, args: [] }], ...(oomctl ? { oomctl } : {}) });

t.test('systemd-oomd: what it watches, each a kill of a whole cgroup, and what to set', async (t) => {
  const [p] = oomKillerProbes(facts(oomd({ ok: true, text: DUMP })));
  t.match(p, { id: 'oomkiller.systemd-oomd', need: 'recommended', ok: false });
  t.match(p!.found, /^running \(pid 612\), kills whole cgroups on memory pressure on \/user\.slice\/user-1000\.slice\/user@1000\.service \(50\.00% for 30s\), memory pressure on \/machine\.slice \(60\.00% for 30s\), swap on \/ \(90\.00% of swap used\); /);
  t.match(p!.found, /ManagedOOMMemoryPressure=auto/);
  t.match(p!.found, /ManagedOOMPreference=omit/);
  t.notMatch(p!.found, /\n/, 'one line');
});

t.test('systemd-oomd watching nothing is fine; when it cannot tell, it says so and where to look', async (t) => {
  t.match(oomKillerProbes(facts(oomd({ ok: true, text: EMPTY })))[0], { ok: true, found: /watches no cgroup/ });
  t.match(oomKillerProbes(facts(oomd({ ok: false, error: 'ENOENT' })))[0], { ok: false, found: /cannot tell which cgroups it watches \(oomctl dump: ENOENT\); look at `systemctl show -p ManagedOOMMemoryPressure/ });
  t.match(oomKillerProbes(facts(oomd({ ok: true, text: 'something else' })))[0], { ok: false, found: /cannot read oomctl dump's output/ });
  t.match(oomKillerProbes(facts(oomd()))[0], { ok: false, found: /not checked \(oomctl is asked only on the real host\)/ });
});

t.test('earlyoom: its thresholds and name rules read from its arguments', async (t) => {
  const run = (args: string[]) => oomKillerProbes(facts({ running: [{ name: 'earlyoom', pid: 88, args }] }))[0] as Probe;
  const plain = run([]);
  t.match(plain, { id: 'oomkiller.earlyoom', ok: true, found: /under 10% and free swap under 10%; our tool calls rank \+500 above their agent, so it picks them first; it acts on host memory/ });
  const tuned = run(['-m', '5,2', '-s15', '--avoid', '(^|/)(claude|node)$', '--prefer=^(pytest)$']);
  t.match(tuned.found, /under 5% and free swap under 15%/);
  t.match(tuned.found, /its --prefer \^\(pytest\)\$, --avoid \(\^\|\/\)\(claude\|node\)\$ rank matching names before oom_score/);
  const high = run(['-m', '25']);
  t.match(high, { ok: false, found: /-m 25 is above its default 10: lower it/ });
});

t.test('oomd: named with its config and what to leave out', async (t) => {
  const [p] = oomKillerProbes(facts({ running: [{ name: 'oomd', pid: 77, args: ['--config', '/etc/oomd/oomd.json'] }] }));
  t.match(p, { id: 'oomkiller.oomd', ok: false, found: /running \(pid 77, --config \/etc\/oomd\/oomd\.json\).*in \/etc\/oomd\/oomd\.json, leave the agent containers' cgroups out/ });
});

t.test('none running is one ok line; an unlistable /proc is one honest line', async (t) => {
  t.same(
    oomKillerProbes(facts({ running: [] })).map((p) => [p.id, p.ok, p.need]),
    [['oomkillers', true, 'info']],
  );
  t.match(oomKillerProbes(facts({ running: { error: 'EACCES' } })), [{ ok: false, found: 'cannot tell: /proc not listable (EACCES)' }]);
});

t.test('doctor finds them by comm in a fake /proc, one line each, and asks no oomctl there', async (t) => {
  const host = unifiedHost();
  const proc = host.proc as Record<string, unknown>;
  proc['1'] = { comm: 'systemd\n', cmdline: '/sbin/init\0' };
  proc['612'] = { comm: 'systemd-oomd\n', cmdline: '/usr/lib/systemd/systemd-oomd\0' };
  proc['900'] = { comm: 'earlyoom\n', cmdline: '/usr/bin/earlyoom\0-r\x003600\0-m\x004\0' };
  const dir = t.testdir(host);
  const r = await runCli(['doctor', '--json', '--proc-root', join(dir, 'proc'), '--sys-root', join(dir, 'sys')]);
  const report = JSON.parse(r.out) as DoctorReport;
  t.same(
    report.probes.filter((p) => p.id.startsWith('oomkiller')).map((p) => p.id),
    ['oomkiller.systemd-oomd', 'oomkiller.earlyoom'],
  );
  t.match(report.probes.find((p) => p.id === 'oomkiller.systemd-oomd')?.found, /not checked/);
  t.match(report.probes.find((p) => p.id === 'oomkiller.earlyoom')?.found, /pid 900, -r 3600 -m 4\).*under 4%/);
  t.equal(report.verdict.ready, true, 'a warning, not a failure');
  const table = await runCli(['doctor', '--proc-root', join(dir, 'proc'), '--sys-root', join(dir, 'sys')]);
  t.match(table.out, /^systemd-oomd\s+warn\s+running \(pid 612\)/m);
  t.match(table.out, /^earlyoom\s+ok\s+running \(pid 900/m);
});
