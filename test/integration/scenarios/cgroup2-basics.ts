// Real cgroup2 on the guest kernel: create a child, enable memory/cpu/pids two levels deep, set limits,
// and see an over-limit process OOM-killed and counted in memory.events.
import { spawnSync } from 'node:child_process';
import { Cgroupfs } from '../../../src/cgroup/cgroupfs.js';
import { parseCount, parseFlatKeyed, parseLimit } from '../../../src/cgroup/stats.js';
import { scenario } from '../harness.js';

const NEEDED = ['memory', 'cpu', 'pids'];

scenario((c) => {
  const fs = new Cgroupfs('/sys/fs/cgroup');
  const base = 'agentcg-it-basics';
  const child = `${base}/hog`;
  try {
    fs.enableControllers('', NEEDED);
    c.ok(NEEDED.every((n) => fs.subtreeControl('').includes(n)), 'root enables memory, cpu, pids for children');
    fs.create(base);
    fs.enableControllers(base, NEEDED);
    fs.create(child);
    c.equal(fs.controllers(child).filter((n) => NEEDED.includes(n)).join(' '), 'cpu memory pids', 'controllers reach the second level');

    fs.write(child, 'memory.max', String(32 << 20));
    c.equal(parseLimit(fs.read(child, 'memory.max')), 32 << 20, 'memory.max reads back 32 MiB');
    fs.write(child, 'pids.max', '16');
    fs.write(child, 'cpu.weight', '50');
    c.equal(fs.read(child, 'cpu.weight').trim(), '50', 'cpu.weight set');

    // dd fills a 64 MiB buffer from /dev/zero: twice the limit, so the OOM killer must end it.
    const dd = spawnSync('/bin/sh', ['-c', `echo $$ > ${fs.path(child, 'cgroup.procs')} && exec dd if=/dev/zero of=/dev/null bs=64M count=1`], {
      encoding: 'utf8',
    });
    c.equal(dd.signal, 'SIGKILL', 'the over-limit process is killed');
    const events = parseFlatKeyed(fs.read(child, 'memory.events'));
    c.ok((events.oom_kill ?? 0) >= 1, 'memory.events counts the OOM kill', events);
    c.ok(parseCount(fs.read(child, 'memory.peak')) >= 30 << 20, 'memory.peak saw the allocation near the limit');

    // Under the limit the same program runs to completion.
    fs.write(child, 'memory.max', 'max');
    const ok = spawnSync('/bin/sh', ['-c', `echo $$ > ${fs.path(child, 'cgroup.procs')} && exec dd if=/dev/zero of=/dev/null bs=16M count=1`]);
    c.equal(ok.status, 0, 'within the limit the process exits 0');
  } finally {
    if (fs.exists(child)) fs.remove(child);
    if (fs.exists(base)) fs.remove(base);
  }
  c.ok(!fs.exists(base), 'test cgroups removed');
});
