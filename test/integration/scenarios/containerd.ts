// A real containerd (the guest's engines: 2.x on the sid guest) with the config `install.sh
// --containerd` writes: containerd itself reads our runtime table back (`config dump`), and a container
// run through its runc shim with our shim as the runtime binary (BinaryName, as the CRI runtime table
// sets it) is carved; a task exec lands in the agent leaf, a tool call in tools/, and removing the task
// and container leaves nothing of ours.
import { copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Checker, scenario } from '../harness.js';
import { CLI, type Scratch, binaryRuns, eventually, onlyCreates, readOr, run, runtimeFront, scratch } from '../bundle.js';
import { type Containerd, addRuntime, dumpConfig, launchContainerd } from '../containerd.js';

const MiB = 1 << 20;
const cg = (rel: string, file = '') => join('/sys/fs/cgroup', rel, file);

async function startContainerd(c: Checker, s: Scratch): Promise<Containerd | undefined> {
  const dir = join(s.dir, 'containerd');
  mkdirSync(dir);
  const config = join(dir, 'config.toml');
  const sock = join(dir, 'containerd.sock');
  writeFileSync(config, `version = 3\nroot = "${dir}/root"\nstate = "${dir}/state"\n\n[grpc]\n  address = "${sock}"\n`);
  addRuntime(c, config);
  const dump = dumpConfig(c, config);
  c.match(dump, /\[plugins\.'io\.containerd\.cri\.v1\.runtime'\.containerd\.runtimes\.agentcgroup\.options\][^[]*BinaryName = '\/usr\/local\/bin\/agentcgroup-runtime'/,
    "containerd sees runtime agentcgroup with the shim as BinaryName", dump.slice(0, 4000));
  const version = run('containerd', ['--version']).stdout.trim();
  c.match(version, /containerd/, 'containerd --version', version);
  return launchContainerd(c, config, sock);
}

scenario(async (c) => {
  const s = scratch();
  const d = await startContainerd(c, s);
  if (!d) return;
  try {
    const shim = runtimeFront(s);
    const rootfs = join(s.dir, 'rootfs');
    mkdirSync(join(rootfs, 'bin'), { recursive: true });
    for (const dir of ['proc', 'sys', 'dev', 'tmp']) mkdirSync(join(rootfs, dir));
    copyFileSync('/bin/busybox', join(rootfs, 'bin/busybox'));
    for (const t of ['sh', 'cat', 'sleep']) symlinkSync('busybox', join(rootfs, 'bin', t));
    const id = 'ctr-agent';
    const started = d.ctr(
      'run', '-d', '--rootfs', '--null-io', '--runtime', 'io.containerd.runc.v2', '--runc-binary', shim,
      '--annotation', 'io.agentcgroup.enable=true', '--memory-limit', String(256 * MiB), rootfs, id, '/bin/sleep', '300',
    );
    if (!c.equal(started.status, 0, 'ctr run with the shim as the runc binary starts', started.stderr + readOr(d.log).slice(-1500))) return;
    const record = readOr(join(s.runDir, 'containers', `${id}.json`));
    if (!c.ok(record !== '', 'the container was carved (its record exists)', readOr(d.log).slice(-2000))) return;
    const C = (JSON.parse(record) as { cgroup: string }).cgroup;
    c.match(readOr(cg(C, 'agent/cgroup.procs')), /^\d+\n$/, 'the init process sits in the agent leaf');
    c.equal(readOr(cg(C, 'memory.max')).trim(), String(256 * MiB), "C's memory.max is the container's limit");

    const inside = d.ctr('task', 'exec', '--exec-id', 'probe', id, '/bin/cat', '/proc/self/cgroup');
    c.equal(inside.status, 0, 'ctr task exec works', inside.stderr);
    c.match(inside.stdout, /\/agent\n$/, 'ctr task exec lands in the agent leaf');
    const call = run(process.execPath, [CLI, 'exec', '--container', id, '--name', 'probe', '--policy', s.policy, '--', 'cat', '/proc/self/cgroup']);
    c.equal(call.status, 0, 'agentcgroup exec into the containerd container works', call.stderr);
    c.match(call.stdout, /\/tools\/probe-[a-z0-9]+-[0-9a-f]{6}\n$/, 'the call ran in its own tools/ cgroup');

    c.equal(d.ctr('task', 'kill', '-s', 'KILL', id).status, 0, 'ctr task kill');
    await eventually(() => !/RUNNING/.test(d.ctr('task', 'ls').stdout), 60_000);
    c.equal(d.ctr('task', 'rm', id).status, 0, 'ctr task rm');
    c.equal(d.ctr('container', 'rm', id).status, 0, 'ctr container rm');
    c.ok(!existsSync(cg(C)), 'the container cgroup is gone');
    c.equal(readOr(join(s.runDir, 'containers', `${id}.json`)), '', 'no record left');
    c.ok(!existsSync(join(s.runDir, 'sock', id)), 'no socket directory left');
    c.ok(onlyCreates(binaryRuns(s)), "containerd's start, exec, kill and delete went from the runtime front to runc without the binary", binaryRuns(s));
  } finally {
    await d.stop();
  }
});
