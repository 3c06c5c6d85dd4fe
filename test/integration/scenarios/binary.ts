// The single executable (`npm run build:binary`) on its own: copied alone into an empty directory and
// run with no node on PATH and no node_modules near it, it prints its version, passes doctor with the
// eBPF tracker loaded, serves as a crun container's hooks, runs a tool call through exec and runs the
// daemon, which answers the native hook front it carries; it writes out the in-container exec client
// it carries; nothing it unpacked is left behind.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DoctorReport } from '../../../src/doctor/evaluate.js';
import { scenario } from '../harness.js';
import { CLI, eventually, exited, makeBundle, readOr, runDetached, scratch } from '../bundle.js';

const BUILT = resolve('dist/agentcgroup');
// /usr/bin/node is on the guest's usual PATH: only a PATH with nothing on it proves the binary needs no node.
const NO_NODE = { PATH: '/nonexistent' };
const MiB = 1 << 20;

/** Private directories the binary unpacks into (src/sea/assets.ts), wherever they may go. */
function unpacked(): string[] {
  return ['/run', '/dev/shm', '/tmp'].flatMap((d) => readdirSync(d).filter((n) => n.startsWith('agentcgroup-sea-')).map((n) => join(d, n)));
}

function exe(pid: number | undefined): string {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return '';
  }
}

scenario(async (c) => {
  const built = existsSync(BUILT);
  if (!c.ok(built, 'dist/agentcgroup is built', built ? undefined : `${BUILT} is missing: run \`npm run build:binary\` on the host before the guest tests`)) return;
  const dir = mkdtempSync('/tmp/agentcg-bin-');
  const bin = join(dir, 'agentcgroup');
  copyFileSync(BUILT, bin);
  chmodSync(bin, 0o755);
  const leftBefore = unpacked();
  const run = (args: string[], input = '') => spawnSync(bin, args, { cwd: dir, env: NO_NODE, encoding: 'utf8', input, timeout: 120_000 });

  const version = run(['--version']);
  c.equal(version.status, 0, 'binary: --version exits 0');
  const bundled = spawnSync(process.execPath, [CLI, '--version'], { encoding: 'utf8' });
  c.equal(version.stdout, bundled.stdout, 'binary: same version as dist/agentcgroup.cjs');

  const doctor = run(['doctor', '--json']);
  c.equal(doctor.status, 0, 'binary: doctor exits 0');
  let report: DoctorReport | undefined;
  try {
    report = JSON.parse(doctor.stdout) as DoctorReport;
  } catch {
    c.ok(false, 'binary: doctor --json prints JSON', doctor.stdout + doctor.stderr);
  }
  if (report) {
    c.ok(report.verdict.ready, 'binary: doctor says ready', report.verdict.summary);
    c.match(report.probes.find((p) => p.id === 'tracker')?.found ?? '', /^yes \(\d+ ms/, 'binary: the embedded koffi and tracker load');
  }

  const hook = run(['hook'], 'not an OCI state');
  c.equal(hook.status, 0, 'binary: hook with a bad state exits 0');
  c.match(hook.stderr, /^agentcgroup: hook: [^\n]+\n$/, 'binary: and says why in one line');
  c.equal(hook.stdout, '', 'binary: and prints nothing on stdout');

  // install.sh's helper: the exec client comes out of the binary, byte for byte dist's, and runs.
  const client = join(dir, 'lib/agentcgroup-exec');
  c.equal(run(['install-exec-client', client]).status, 0, 'binary: install-exec-client exits 0');
  c.ok(existsSync(client) && readFileSync(client).equals(readFileSync('dist/agentcgroup-exec')), 'binary: the exec client it carries is dist/agentcgroup-exec');
  c.equal(existsSync(client) ? statSync(client).mode & 0o7777 : 0, 0o755, 'binary: written 0755');
  c.equal(spawnSync(client, ['--help'], { env: NO_NODE }).status, 0, 'binary: and it runs with nothing on PATH');

  // A real container whose hooks are the binary, under the same empty PATH.
  const s = scratch();
  const id = 'it-binary';
  const bundle = makeBundle(s, id, { args: ['/bin/sh', '-c', 'sleep 300'], memoryLimit: 256 * MiB });
  const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  const hookSpec = { path: bin, args: ['agentcgroup', 'hook', '--policy', s.policy], env: ['PATH=/nonexistent'] };
  config.hooks = { createRuntime: [hookSpec], poststop: [hookSpec] };
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(config, null, 1));
  const started = runDetached('crun', bundle, id, join(s.dir, 'run.log'));
  c.equal(started.status, 0, 'binary: a crun container starts with the binary as its hooks');
  c.equal(started.log, '', 'binary: the hooks print nothing on success');
  const recordFile = join(s.runDir, 'containers', `${id}.json`);
  c.ok(existsSync(recordFile), 'binary: createRuntime carved the container');

  const call = run(['exec', '--container', id, '--name', 'probe', '--policy', s.policy, '--', '/bin/cat', '/proc/self/cgroup']);
  c.equal(call.status, 0, 'binary: exec runs a tool call');
  c.match(call.stdout, /\/tools\/[^/\n]+\n$/, 'binary: the call ran in its own tools/ cgroup', call.stderr);
  c.match(readOr(join(s.callDir, `${id}.jsonl`)), /"outcome":"ok"/, 'binary: the call is logged');

  const log = join(s.dir, 'daemon.log');
  const fd = openSync(log, 'a');
  const daemon = spawn(bin, ['daemon', '--policy', s.policy], { cwd: dir, env: NO_NODE, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const ready = await eventually(() => readOr(log).includes('daemon ready'), 60_000);
  c.ok(ready, 'binary: the daemon starts with its tracker', readOr(log));
  c.equal(exe(daemon.pid), bin, 'binary: the daemon process is the binary itself');

  // The native hook front it carries, written out beside it as install.sh does. As a container's hooks
  // with a binary that does not exist to fall back on, the container starts carved only if the daemon
  // answered the front; with this binary, once the daemon is gone, the front runs the binary instead.
  const front = join(dir, 'agentcgroup-hook');
  const written = run(['hook-front', front]);
  c.equal(written.status, 0, 'binary: hook-front writes out the native hook front', written.stderr);
  const frontContainer = (name: string, fallback: string) => {
    const b = makeBundle(s, name, { args: ['/bin/sh', '-c', 'sleep 300'], memoryLimit: 256 * MiB });
    const conf = JSON.parse(readFileSync(join(b, 'config.json'), 'utf8'));
    const spec = { path: front, args: ['agentcgroup', 'hook', '--policy', s.policy], env: ['PATH=/nonexistent', `AGENTCGROUP_BINARY=${fallback}`, `AGENTCGROUP_ADMIN_SOCKET=${join(s.runDir, 'admin.sock')}`] };
    conf.hooks = { createRuntime: [spec], poststop: [spec] };
    writeFileSync(join(b, 'config.json'), JSON.stringify(conf, null, 1));
    return { ...runDetached('crun', b, name, join(s.dir, `${name}.log`)), record: join(s.runDir, 'containers', `${name}.json`) };
  };
  const byDaemon = frontContainer('it-binary-front', '/nonexistent/agentcgroup');
  c.equal(byDaemon.status, 0, 'binary: a container whose hooks are the front starts, answered by the daemon', byDaemon.log);
  c.equal(byDaemon.log, '', 'binary: the front prints nothing on success');
  c.ok(existsSync(byDaemon.record), 'binary: the daemon carved it for the front');
  spawnSync('crun', ['delete', '-f', 'it-binary-front'], { timeout: 120_000 });
  c.ok(!existsSync(byDaemon.record), "binary: the front's poststop, answered by the daemon, removed the record");

  daemon.kill('SIGTERM');
  c.equal(await exited(daemon), 0, 'binary: the daemon stops on SIGTERM with exit 0');
  c.match(readOr(log), /daemon stopped\n$/, 'binary: and says so', readOr(log));

  const byBinary = frontContainer('it-binary-front2', bin);
  c.equal(byBinary.status, 0, 'binary: with no daemon, the front runs the binary and the container starts', byBinary.log);
  c.ok(existsSync(byBinary.record), 'binary: carved by the binary the front exec\'d');
  c.match(byBinary.log, /^(agentcgroup: warning: the agentcgroup daemon is not running[^\n]*\n)?$/, 'binary: nothing but the notice that no daemon runs', byBinary.log);
  spawnSync('crun', ['delete', '-f', 'it-binary-front2'], { timeout: 120_000 });
  c.ok(!existsSync(byBinary.record), 'binary: and its poststop removed the record');

  spawnSync('crun', ['delete', '-f', id], { timeout: 120_000 });
  c.ok(!existsSync(recordFile), 'binary: poststop removed the record');
  c.equal(unpacked().filter((d) => !leftBefore.includes(d)).join(','), '', 'binary: nothing unpacked is left behind');
});
