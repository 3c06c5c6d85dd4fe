// A real dockerd (the guest's engines: on the sid guest Docker 28 with its own containerd 2.x) with the
// runtime shim registered as `install.sh --docker` registers it, and a container started the way users
// start agents: `docker run --init --memory 512m --ulimit memlock=-1`. Carved; tool calls placed by
// the daemon; a runaway call OOM-killed alone; `docker exec` in the agent leaf; `docker update
// --memory` followed; `docker stop` and `docker rm` leave nothing of ours.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Checker, scenario } from '../harness.js';
import { CLI, type Scratch, binaryRuns, eventually, exited, must, onlyCreates, readOr, run, runtimeFront, scratch, startDaemon } from '../bundle.js';
import { AGENT_PY, type CallLine, type Running, begunFromOutside, callRecords, expectCalls, expectFramework, processes } from '../shapes.js';

const MiB = 1 << 20;
const cg = (rel: string, file = '') => join('/sys/fs/cgroup', rel, file);
// The agent leaf gets a share of the session, so a resize shows in its memory.max.
const POLICY = 'agent:\n  memory_max: 95%\n';

interface Docker {
  cli(...args: string[]): SpawnSyncReturns<string>;
  stop(): Promise<void>;
  log: string;
}

/** dockerd on its own socket and directories, no networking of its own, the shim as runtime agentcgroup. */
async function startDockerd(c: Checker, s: Scratch): Promise<Docker | undefined> {
  const daemonJson = join(s.dir, 'daemon.json');
  const added = run(process.execPath, [CLI, 'install-config', 'docker', 'add', daemonJson]);
  c.equal(added.status, 0, 'install-config docker add writes daemon.json', added.stderr);
  const config = JSON.parse(readOr(daemonJson, '{}')) as { runtimes?: Record<string, { path: string; runtimeArgs?: string[] }> };
  const entry = config.runtimes?.agentcgroup;
  c.ok(entry?.path === '/usr/local/bin/agentcgroup-runtime' && entry.runtimeArgs === undefined, 'daemon.json names the installed runtime front as runtime agentcgroup', config);
  // The guest's /usr/local/bin is the host's, read-only: the entry points at this checkout's build
  // instead, the front with the binary beside it, as installed.
  writeFileSync(daemonJson, JSON.stringify({ ...config, runtimes: { agentcgroup: { ...entry, path: runtimeFront(s) } } }));

  const sock = join(s.dir, 'docker.sock');
  const log = join(s.dir, 'dockerd.log');
  const fd = openSync(log, 'a');
  const dockerd = spawn('dockerd', [
    '--config-file', daemonJson, '--data-root', join(s.dir, 'docker'), '--exec-root', join(s.dir, 'exec'),
    '--pidfile', join(s.dir, 'dockerd.pid'), '-H', `unix://${sock}`, '--iptables=false', '--ip6tables=false',
    '--bridge=none', '--storage-driver=vfs', '--exec-opt', 'native.cgroupdriver=cgroupfs',
  ], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const env = { ...process.env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(s.dir, 'docker-cli') };
  const docker = (...args: string[]) => spawnSync('docker', args, { encoding: 'utf8', env, timeout: 180_000 });
  const up = await eventually(() => docker('version', '--format', '{{.Server.Version}}').status === 0, 180_000);
  if (!c.ok(up, 'dockerd answers', readOr(log).slice(-2000))) {
    dockerd.kill('SIGKILL');
    return undefined;
  }
  c.match(docker('version', '--format', '{{.Server.Version}}').stdout, /^\d+\./, 'docker version', docker('version').stdout);
  return {
    cli: docker,
    log,
    async stop() {
      dockerd.kill('SIGTERM');
      c.equal(await exited(dockerd), 0, 'dockerd stops cleanly');
    },
  };
}

/** An image of a few directories and links: the container's programs are the host's /usr, bound read-only. */
function importImage(s: Scratch, d: Docker): string {
  const root = join(s.dir, 'image');
  for (const dir of ['usr', 'tmp', 'out', 'proc', 'sys', 'dev', 'etc', 'run', process.cwd().slice(1)]) mkdirSync(join(root, dir), { recursive: true });
  for (const l of ['bin', 'lib', 'lib64', 'sbin']) symlinkSync(`usr/${l}`, join(root, l));
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  const tar = join(s.dir, 'image.tar');
  must(run('tar', ['-C', root, '-cf', tar, '.']), 'tar the image');
  must(d.cli('import', tar, 'agentbox:it'), 'docker import');
  return 'agentbox:it';
}

function cgroupOf(pid: string): string {
  return readOr(`/proc/${pid}/cgroup`).trim().replace(/^0::\//, '');
}

scenario(async (c) => {
  const s = scratch(POLICY);
  const daemon = await startDaemon(s);
  const d = await startDockerd(c, s);
  if (!d) {
    daemon.child.kill('SIGTERM');
    return;
  }
  try {
    const image = importImage(s, d);
    const out = join(s.dir, 'out');
    mkdirSync(out);
    const started = d.cli(
      'run', '-d', '--runtime', 'agentcgroup', '--annotation', 'io.agentcgroup.enable=true', '--memory', '512m', '--init',
      '--ulimit', 'memlock=-1', '--network', 'none', '-v', '/usr:/usr:ro', '-v', `${process.cwd()}:${process.cwd()}:ro`,
      '-v', `${out}:/out`, '--tmpfs', '/tmp', image, 'python3', AGENT_PY, 'subprocess', '/out',
    );
    if (!c.equal(started.status, 0, 'docker run --runtime agentcgroup --init --memory 512m --ulimit memlock=-1 starts', started.stderr)) return;
    const id = started.stdout.trim();
    const recordText = readOr(join(s.runDir, 'containers', `${id}.json`));
    if (!c.ok(recordText !== '', 'the container was carved (its record exists)', readOr(d.log).slice(-2000))) return;
    const C = (JSON.parse(recordText) as { cgroup: string }).cgroup;
    const initPid = d.cli('inspect', '--format', '{{.State.Pid}}', id).stdout.trim();
    c.equal(cgroupOf(initPid), `${C}/agent`, 'docker-init (PID 1) sits in the agent leaf');
    c.equal(readOr(cg(C, 'memory.max')).trim(), String(512 * MiB), "C's memory.max is docker's --memory");
    c.equal(readOr(cg(C, 'agent/memory.max')).trim(), String(Math.floor((512 * MiB * 0.95) / 4096) * 4096), 'the agent leaf has 95% of it');

    const ready = await eventually(() => existsSync(join(out, 'ready')), 120_000);
    c.ok(ready, 'the framework is up under docker-init', readOr(d.log).slice(-1500));
    const r: Running = { id, C, out, log: d.log };
    await expectCalls(c, r, { calls: 4, inAgent: [/docker-init|tini/, /agent\.py subprocess/] });
    await expectFramework(c, s, r, 'python3');

    const ulimit = d.cli('exec', id, 'sh', '-c', 'ulimit -l');
    c.equal(ulimit.stdout.trim(), 'unlimited', 'memlock=-1 (2^64-1 in config.json) reached runc whole', ulimit.stderr);
    // `docker exec` is how harnesses that drive a sandbox from outside run their tool calls: the runtime
    // puts it in the agent leaf, and the daemon takes it as a call begun from outside the container.
    const inside = d.cli('exec', id, 'cat', '/proc/self/cgroup');
    c.equal(inside.status, 0, 'docker exec works', inside.stderr);
    c.match(inside.stdout, /^0::\/tools\/cat-[a-z0-9]+-[0-9a-f]{6}\n$/, 'docker exec runs as a tool call of its own (inside its cgroup namespace)');
    const fromOutside = begunFromOutside('cat');
    const execRecords = await callRecords(s, id, fromOutside);
    c.ok(fromOutside(execRecords), "its call record names a starter outside the container (the engine's shim)", execRecords.map((k) => ({ name: k.name, argv: k.argv, startedBy: k.startedBy })));

    // A runaway call: 700 MiB in a call whose memory.max is 85% of 512 MiB.
    // (memory.oom.group: the kernel ends the whole call, its shell included.)
    writeFileSync(join(out, 'run-1'), `python3 -c "x = b'x' * (700 << 20)"`);
    const oomKilled = (recs: CallLine[]) => recs.some((k) => (k as CallLine & { outcome?: string }).outcome === 'oom-killed');
    const records = await callRecords(s, id, oomKilled);
    c.ok(oomKilled(records), 'its call record says oom-killed', records.map((k) => `${k.name} ${(k as { outcome?: string }).outcome}`));
    const alive = await expectCalls(c, r, { calls: 4, inAgent: [/agent\.py subprocess/] });
    c.ok(alive.some((p) => p.argv.join(' ').includes('agent.py')), 'the framework and its other calls live on');
    c.equal(Number(/oom_kill (\d+)/.exec(readOr(cg(C, 'agent/memory.events')))?.[1] ?? -1), 0, 'nothing OOM-killed in the agent leaf');

    // docker update --memory: the engine rewrites C's memory.max; the daemon recomputes our limits.
    c.equal(d.cli('update', '--memory', '1g', '--memory-swap', '2g', id).status, 0, 'docker update --memory 1g');
    c.equal(readOr(cg(C, 'memory.max')).trim(), String(1024 * MiB), "C's memory.max is now 1g");
    const agentMax = String(Math.floor((1024 * MiB * 0.95) / 4096) * 4096);
    const followed = await eventually(() => readOr(cg(C, 'agent/memory.max')).trim() === agentMax, 60_000);
    c.ok(followed, 'the agent leaf follows: 95% of the new size', { agent: readOr(cg(C, 'agent/memory.max')), daemon: readOr(daemon.log).slice(-1500) });
    const page = (share: number) => String(Math.floor((1024 * MiB * share) / 4096) * 4096);
    c.equal(readOr(cg(C, 'memory.high')).trim(), page(0.9), "C's memory.high (session.memory_high 90%) follows");
    const running = processes(r).filter((p) => p.argv[0] === 'sleep' && p.argv[1] === '600').map((p) => readOr(cg(join(C, p.where), 'memory.max')).trim());
    c.ok(running.length === 4 && running.every((m) => m === page(0.85)), 'the running calls\' memory.max follows (85%)', running);
    c.match(readOr(daemon.log), new RegExp(`container ${id.slice(0, 12)}\\S*: memory\\.max 512M -> 1G`), 'the daemon says so in one line', readOr(daemon.log).slice(-1500));
    // Docker gives the container a cgroup namespace rooted at C, with C's tree mounted at /sys/fs/cgroup.
    writeFileSync(join(out, 'run-2'), 'cat /sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)/memory.max > /out/call-max; sleep 600');
    const seen = await eventually(() => readOr(join(out, 'call-max')) !== '', 120_000);
    c.equal(seen ? readOr(join(out, 'call-max')).trim() : '', String(Math.floor((1024 * MiB * 0.85) / 4096) * 4096), 'a call begun after the update gets 85% of the new size');

    c.equal(d.cli('stop', '-t', '5', id).status, 0, 'docker stop');
    const gone = await eventually(() => !existsSync(cg(C)), 60_000);
    c.ok(gone, 'the container cgroup is gone after docker stop');
    c.equal(readOr(join(s.runDir, 'containers', `${id}.json`)), '', 'no record left');
    c.ok(!existsSync(join(s.runDir, 'sock', id)), 'no socket directory left');
    c.equal(d.cli('rm', id).status, 0, 'docker rm');
    c.ok(onlyCreates(binaryRuns(s)), "dockerd's start, exec, update, kill and delete went from the runtime front to runc without the binary", binaryRuns(s));
    const plain = d.cli('run', '--rm', '--network', 'none', '-v', '/usr:/usr:ro', image, 'cat', '/proc/self/cgroup');
    c.equal(plain.status, 0, 'a container of the default runtime still runs', plain.stderr);
  } finally {
    await d.stop();
    daemon.child.kill('SIGTERM');
    c.equal(await exited(daemon.child), 0, 'the daemon stops cleanly');
  }
  c.ok(!/cannot start a call|unavailable/.test(readFileSync(daemon.log, 'utf8')), 'the daemon started every call', readFileSync(daemon.log, 'utf8').slice(-3000));
});
