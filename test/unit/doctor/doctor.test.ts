import t from 'tap';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../../fixtures/cli.js';
import type { DoctorReport } from '../../../src/doctor/evaluate.js';
import { hybridHost, legacyHost, unifiedHost } from '../../fixtures/hosts.js';
import { FakeRuntime, socketDir, within } from '../../fixtures/nriruntime.js';

function doctor(dir: string, extra: string[] = [], uid = 0) {
  return runCli(['doctor', '--proc-root', join(dir, 'proc'), '--sys-root', join(dir, 'sys'), ...extra], { uid });
}

async function doctorJson(dir: string, uid = 0) {
  const r = await doctor(dir, ['--json'], uid);
  return { ...r, report: JSON.parse(r.out) as DoctorReport };
}

const probe = (r: DoctorReport, id: string) => r.probes.find((p) => p.id === id);

t.test('unified host with memory, cpu, pids is ready and exits 0', async (t) => {
  const { code, report } = await doctorJson(t.testdir(unifiedHost()));
  t.equal(code, 0);
  t.equal(report.verdict.ready, true);
  t.match(probe(report, 'cgroup2')?.found, /^unified hierarchy, cgroup2 at \/sys\/fs\/cgroup$/);
  t.match(probe(report, 'memory.peak')?.how, /system\.slice\/memory\.peak$/, 'feature seen in a real child cgroup');
  t.equal(probe(report, 'swap')?.ok, false, 'no swap is a warning');
  t.equal(probe(report, 'swap')?.need, 'recommended');
});

t.test('swap devices by kind, and zswap: off, on without a device behind it, on with one', async (t) => {
  const host = unifiedHost();
  const proc = host.proc as Record<string, unknown>;
  proc.swaps = 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/zram0                              partition\t1048572\t\t262144\t\t100\n/swapfile                               file\t\t2097148\t\t0\t\t-2\n';
  const zswap = (enabled: string) => ({ module: { zswap: { parameters: { enabled, compressor: 'zstd\n', max_pool_percent: '20\n' } } } });
  Object.assign(host.sys as Record<string, unknown>, zswap('N\n'));
  let { report } = await doctorJson(t.testdir(host));
  t.equal(probe(report, 'swap')?.ok, true);
  t.equal(probe(report, 'swap')?.found, '/dev/zram0 (zram, 1.0 GiB, 0.3 GiB used), /swapfile (file, 2.0 GiB, 0.0 GiB used)');
  t.match(probe(report, 'zswap'), { ok: false, need: 'info' });
  t.match(probe(report, 'zswap')?.found, /^off \(echo Y > .*\/module\/zswap\/parameters\/enabled/);
  Object.assign(host.sys as Record<string, unknown>, zswap('Y\n'));
  ({ report } = await doctorJson(t.testdir(host)));
  t.match(probe(report, 'zswap'), { ok: true, found: 'on, zstd, pool up to 20% of RAM' });
  proc.swaps = 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/zram0 partition 1048572 0 100\n';
  ({ report } = await doctorJson(t.testdir(host)));
  t.match(probe(report, 'zswap'), { ok: false, found: 'on, zstd, pool up to 20% of RAM; no swap device behind it, so it holds nothing' }, 'zram is not a device zswap writes back to');
  ({ report } = await doctorJson(t.testdir(unifiedHost())));
  t.match(probe(report, 'zswap'), { ok: false, found: 'not in this kernel' });
  t.match(probe(report, 'swap')?.found, /a frozen tool call keeps its anonymous memory; see README, compressed swap/);
  t.equal(report.verdict.ready, true, 'neither decides readiness');
});

t.test('reclaim rung: what memory.reclaim can push out of a frozen call, by kernel, swap device and swap accounting', async (t) => {
  const SWAPS = 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n';
  const zram = '/dev/zram0 partition 1048572 0 100\n';
  const file = (priority: number) => `/swapfile file 2097148 0 ${priority}\n`;
  const zswap = (enabled: string) => ({ module: { zswap: { parameters: { enabled, compressor: 'zstd\n', max_pool_percent: '20\n' } } } });
  const slice = (host: ReturnType<typeof unifiedHost>) =>
    ((host.sys as Record<string, unknown>).fs as Record<string, Record<string, Record<string, string>>>).cgroup!['system.slice']!;
  const reclaim = async (host: ReturnType<typeof unifiedHost>) => probe((await doctorJson(t.testdir(host))).report, 'reclaim');

  const none = await doctorJson(t.testdir(unifiedHost()));
  t.match(probe(none.report, 'reclaim'), {
    need: 'info',
    ok: false,
    found: "page cache only: frozen calls' anonymous memory stays; kill remains the last resort (no swap; see README, compressed swap)",
    how: /memory\.reclaim seen at .*\/system\.slice\/memory\.reclaim/,
  });
  t.equal(none.report.verdict.ready, true, 'info: it does not decide readiness');
  t.match((await doctor(t.testdir(unifiedHost()))).out, /\nreclaim rung \(frozen calls give memory back\) +- +page cache only: /, 'a row of the table');

  const old = unifiedHost();
  delete ((old.sys as Record<string, unknown>).fs as Record<string, Record<string, unknown>>).cgroup!['system.slice'];
  (old.proc as Record<string, unknown>).sys = { kernel: { osrelease: '5.15.0-generic\n' } };
  (old.proc as Record<string, unknown>).swaps = SWAPS + zram;
  t.match(await reclaim(old), {
    ok: false,
    found: 'unavailable: no memory.reclaim (Linux 5.19; kernel 5.15.0-generic): frozen calls keep their memory, and kill is the only way to make room',
    how: /^kernel 5\.15\.0-generic against Linux 5\.19/,
  }, 'no child cgroup: by the kernel version, whatever the swap');
  const lacking = unifiedHost();
  delete slice(lacking)['memory.reclaim'];
  t.match((await reclaim(lacking))?.found, /^unavailable: no memory\.reclaim \(Linux 5\.19; kernel 6\.1\.0-56-amd64\)/, 'a memory child without the file outweighs the version');

  const onZram = unifiedHost();
  (onZram.proc as Record<string, unknown>).swaps = SWAPS + zram + file(-2);
  Object.assign(onZram.sys as Record<string, unknown>, zswap('Y\n'));
  t.match(await reclaim(onZram), { ok: true, found: "frozen calls' memory goes to /dev/zram0 compressed in RAM (1.0 GiB)" }, 'zram first: the highest priority');

  const onZswap = unifiedHost();
  (onZswap.proc as Record<string, unknown>).swaps = SWAPS + zram.replace(' 100', ' -3') + file(-2);
  Object.assign(onZswap.sys as Record<string, unknown>, zswap('Y\n'));
  t.match(await reclaim(onZswap), { ok: true, found: "frozen calls' memory goes to /swapfile through zswap (zstd, pool up to 20% of RAM)" });

  const onDisk = unifiedHost();
  (onDisk.proc as Record<string, unknown>).swaps = SWAPS + file(-2);
  Object.assign(onDisk.sys as Record<string, unknown>, zswap('N\n'));
  t.match(await reclaim(onDisk), {
    ok: true,
    found: "frozen calls' memory goes to /swapfile on disk: it works, but a thawed call waits on the disk for each page it touches again (zram or zswap keep them in RAM; see README, compressed swap)",
  });

  const noAccounting = unifiedHost();
  (noAccounting.proc as Record<string, unknown>).swaps = SWAPS + zram;
  delete slice(noAccounting)['memory.swap.max'];
  t.match((await reclaim(noAccounting))?.found, /^frozen calls' memory goes to \/dev\/zram0 compressed in RAM \(1\.0 GiB\); no memory\.swap\.max in .*\/system\.slice \(no swap accounting\): tool\.swap_max and agent\.swap_max cannot be applied, so the framework may be swapped out too$/);
  (noAccounting.proc as Record<string, unknown>).cmdline = 'root=/dev/vda1 swapaccount=0 quiet\n';
  t.match((await reclaim(noAccounting))?.found, /\(no swap accounting: swapaccount=0 on the kernel command line\): tool\.swap_max/);
  delete ((noAccounting.sys as Record<string, unknown>).fs as Record<string, Record<string, unknown>>).cgroup!['system.slice'];
  t.match((await reclaim(noAccounting))?.found, /; swapaccount=0 on the kernel command line: where the kernel honours it there is no memory\.swap\.max, and tool\.swap_max and agent\.swap_max cannot be applied$/, 'no child to look in: the boot option alone');
  (noAccounting.proc as Record<string, unknown>).swaps = SWAPS;
  t.match((await reclaim(noAccounting))?.found, /^page cache only: [^;]*; kill remains the last resort \(no swap; see README, compressed swap\)$/, 'without swap there is nothing to account');
  t.notMatch((await reclaim(onZswap))?.found, /swap_max/, 'memory.swap.max seen: nothing to say');
});

t.test('hybrid host says in one line that memory is bound to cgroup v1 and exits non-zero', async (t) => {
  const { code, out } = await doctor(t.testdir(hybridHost()));
  t.equal(code, 1);
  const verdict = out.split('\n').filter((l) => l.startsWith('verdict:'));
  t.equal(verdict.length, 1);
  t.match(verdict[0], /^verdict: not ready: memory controller is bound to cgroup v1 \(hierarchy 4\).*hybrid/);
});

t.test('legacy v1-only host fails on the mount probe first', async (t) => {
  const { code, report } = await doctorJson(t.testdir(legacyHost()));
  t.equal(code, 1);
  t.equal(probe(report, 'cgroup2')?.ok, false);
  t.match(report.verdict.summary, /cgroup v1 only/);
});

t.test('without a child cgroup, features are inferred from the kernel version', async (t) => {
  const host = unifiedHost();
  const cg = ((host.sys as Record<string, unknown>).fs as Record<string, Record<string, unknown>>).cgroup!;
  delete cg['system.slice'];
  const proc = host.proc as Record<string, unknown>;
  proc.sys = { kernel: { osrelease: '5.15.0-generic\n' } };
  const { code, report } = await doctorJson(t.testdir(host));
  t.equal(probe(report, 'cgroup.kill')?.ok, true, '5.15 has cgroup.kill (5.14)');
  t.equal(probe(report, 'memory.peak')?.ok, false, '5.15 lacks memory.peak (5.19)');
  t.match(probe(report, 'memory.peak')?.how, /kernel 5\.15\.0-generic against Linux 5\.19/);
  t.equal(code, 1);
});

t.test('PSI disabled at boot, missing controller and non-root are each named', async (t) => {
  const host = unifiedHost();
  ((host.proc as Record<string, unknown>).pressure as Record<string, unknown>) = {};
  const cg = ((host.sys as Record<string, unknown>).fs as Record<string, Record<string, unknown>>).cgroup!;
  cg['cgroup.controllers'] = 'cpu memory\n';
  const { code, report } = await doctorJson(t.testdir(host), 1000);
  t.equal(code, 1);
  t.equal(probe(report, 'psi')?.ok, false);
  t.match(probe(report, 'controller.pids')?.found, /not offered by the cgroup2 root/);
  t.match(probe(report, 'root')?.found, /uid 1000/);
  t.match(report.verdict.summary, /\(\+2 more\)$/);
});

t.test('unreadable /proc gives a clear verdict, not a crash', async (t) => {
  const { code, report } = await doctorJson(t.testdir({ proc: {}, sys: {} }));
  t.equal(code, 1);
  t.match(report.verdict.summary, /^not ready: cannot read mountinfo \(ENOENT\)/);
});

t.test('eBPF probes: BTF from /sys, tracefs from mountinfo, the tracker only tried on the real host', async (t) => {
  const host = unifiedHost();
  const { report } = await doctorJson(t.testdir(host));
  t.match(probe(report, 'btf'), { ok: false, need: 'recommended', found: /CONFIG_DEBUG_INFO_BTF/ });
  t.match(probe(report, 'tracefs'), { ok: false, need: 'info' });
  t.match(probe(report, 'tracker'), { ok: false, found: 'not checked' });
  t.equal(report.verdict.ready, true, 'eBPF is recommended, not required: hooks work without the daemon');

  const withBtf = unifiedHost();
  ((withBtf.sys as Record<string, unknown>).kernel as unknown) = { btf: { vmlinux: 'BTF' } };
  const self = (withBtf.proc as Record<string, Record<string, string>>).self!;
  self.mountinfo += '40 30 0:12 / /sys/kernel/tracing rw - tracefs tracefs rw\n';
  const r2 = (await doctorJson(t.testdir(withBtf))).report;
  t.equal(probe(r2, 'btf')?.ok, true);
  t.match(probe(r2, 'tracefs')?.found, 'mounted at /sys/kernel/tracing');
});

t.test('in-kernel memory paths are probed and reported, never required', async (t) => {
  const { report } = await doctorJson(t.testdir(unifiedHost()));
  t.match(probe(report, 'sched_ext'), { ok: false, need: 'info' });
  t.match(probe(report, 'memcg_bpf_ops'), { ok: false, need: 'info', found: /unmerged patch series\): the userspace ladder runs/ });
  const host = unifiedHost();
  ((host.sys as Record<string, unknown>).kernel as unknown) = { btf: { vmlinux: 'x\0memcg_bpf_ops\0y' }, sched_ext: { state: 'disabled' } };
  const r = (await doctorJson(t.testdir(host))).report;
  t.equal(probe(r, 'memcg_bpf_ops')?.ok, true);
  t.equal(probe(r, 'sched_ext')?.ok, true);
});

t.test('sched_ext: which scheduler runs, what the policy asks; a fixture root is never loaded into', async (t) => {
  const at = async (sched: Record<string, unknown>, policy?: string) => {
    const host = unifiedHost();
    ((host.sys as Record<string, unknown>).kernel as unknown) = { btf: { vmlinux: 'BTF' }, sched_ext: sched };
    const dir = t.testdir({ ...host, ...(policy === undefined ? {} : { 'policy.yaml': policy }) });
    const r = await doctor(dir, ['--json', ...(policy === undefined ? [] : ['--policy', join(dir, 'policy.yaml')])]);
    return probe(JSON.parse(r.out) as DoctorReport, 'sched_ext');
  };
  t.match(await at({ state: 'enabled\n', root: { ops: 'agentcgroup\n' } }, 'sched_ext:\n  enable: true\n'), {
    ok: true,
    found: "agentcgroup's scheduler runs (the daemon's); policy sched_ext.enable true",
  });
  t.match(await at({ state: 'enabled', root: { ops: 'scx_lavd\u001b[2J' } }), {
    ok: true,
    found: /^another scheduler runs \(scx_lavd\\u001b\[2J\): the daemon would not take over/,
  });
  const idle = await at({ state: 'disabled' });
  t.match(idle?.found, /^present, no BPF scheduler runs \(disabled\)/);
  t.notMatch(idle?.how, /loaded the scheduler object/, 'not loaded against a fixture root');
  t.match(await at({}, 'sched_ext:\n  enable: false\n'), { found: /policy sched_ext\.enable false$/ });
});

t.test('favordynmods: read from the cgroup2 super options, off with the remount that keeps the other options', async (t) => {
  const { code, report, out } = await doctorJson(t.testdir(unifiedHost()));
  t.equal(code, 0, 'recommended: the verdict stays ready');
  t.match(probe(report, 'favordynmods'), {
    ok: false,
    need: 'recommended',
    found: 'off (remount with: mount -o remount,nsdelegate,memory_recursiveprot,favordynmods /sys/fs/cgroup)',
    how: /super options of the cgroup2 line in .*\/self\/mountinfo/,
  });
  t.ok((JSON.parse(out) as DoctorReport).probes.some((p) => p.id === 'favordynmods'), 'the probe is in doctor --json');

  const on = unifiedHost();
  const self = (on.proc as Record<string, Record<string, string>>).self!;
  // As 6.1 prints it: the per-mount options never carry it, the super options do.
  self.mountinfo = '25 1 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,favordynmods,memory_recursiveprot\n';
  const r = (await doctorJson(t.testdir(on))).report;
  t.match(probe(r, 'favordynmods'), { ok: true, found: 'on' });
  const table = await doctor(t.testdir(on));
  t.match(table.out, /\ncgroup2 favordynmods +ok +on\n/, 'a row of the table');

  const perMountOnly = unifiedHost();
  (perMountOnly.proc as Record<string, Record<string, string>>).self!.mountinfo = '25 1 0:23 / /sys/fs/cgroup rw,favordynmods shared:4 - cgroup2 cgroup2 rw\n';
  t.match(probe((await doctorJson(t.testdir(perMountOnly))).report, 'favordynmods'), { ok: false, found: 'off (remount with: mount -o remount,favordynmods /sys/fs/cgroup)' }, 'no other flag to keep');

  const old = unifiedHost();
  (old.proc as Record<string, unknown>).sys = { kernel: { osrelease: '5.15.0-generic\n' } };
  t.match(probe((await doctorJson(t.testdir(old))).report, 'favordynmods'), { ok: false, found: 'off (needs Linux 6.0, kernel is 5.15.0-generic)' });

  const hybrid = (await doctorJson(t.testdir(hybridHost()))).report;
  t.match(probe(hybrid, 'favordynmods')?.found, 'mount -o remount,favordynmods /sys/fs/cgroup/unified)', 'the cgroup2 mount doctor uses');
  t.match(probe((await doctorJson(t.testdir(legacyHost()))).report, 'favordynmods'), { ok: false, found: 'no cgroup2 mount' });
});

t.test("NRI: whether the runtime's socket is there and whether the daemon would register, by the policy; read only", async (t) => {
  const dir = t.testdir(unifiedHost());
  const sock = socketDir();
  t.teardown(sock.cleanup);
  const withPolicy = async (nri: string) => {
    const policy = join(dir, 'policy.yaml');
    writeFileSync(policy, `nri:\n  socket: ${sock.path}\n${nri}`);
    const r = await doctor(dir, ['--json', '--policy', policy]);
    return { code: r.code, p: probe(JSON.parse(r.out) as DoctorReport, 'nri') };
  };
  const absent = await withPolicy('  enable: auto\n');
  t.equal(absent.code, 0, 'info only: the verdict does not depend on it');
  t.match(absent.p, { need: 'info', ok: false, found: `no socket at ${sock.path}; not yet (nri.enable auto): the daemon registers once the runtime makes it` });
  t.match((await withPolicy('  enable: true\n')).p?.found, /; the daemon waits for it \(nri\.enable true\) and registers once the runtime listens there$/);
  writeFileSync(sock.path, 'not a socket');
  t.match((await withPolicy('  enable: auto\n')).p?.found, /is not a socket; not yet/);
  rmSync(sock.path);
  const rt = await FakeRuntime.listen(sock.path);
  t.teardown(() => rt.close());
  const present = await withPolicy('  enable: auto\n');
  t.match(present.p, { ok: true, found: `socket at ${sock.path}; the daemon registers there as an NRI plugin` });
  const off = await withPolicy('  enable: false\n');
  t.match(off.p, { ok: false, found: `socket at ${sock.path}; off (nri.enable false): the runtime shim or hooks.d serve containers` });
  const connected = await within(rt.next(50).then(() => true, () => false), 'no connection', 1000);
  t.equal(connected, false, 'doctor never connected to the socket');
  const broken = join(dir, 'broken.yaml');
  writeFileSync(broken, 'nri:\n  enable: maybe\n');
  const r = await doctor(dir, ['--json', '--policy', broken]);
  t.match(probe(JSON.parse(r.out) as DoctorReport, 'nri'), { ok: false, found: /^not judged: .*nri\.enable: must be auto, true or false/ });
});
