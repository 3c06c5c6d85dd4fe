// Podman with the shipped hooks.d JSON (hooks/agentcgroup.json), gated by io.agentcgroup.enable.
// Only the hook's path is changed: it points at a wrapper running this checkout's build with a scratch
// policy, since the guest's /usr/local/bin and /etc are the host's, read-only. Then the native hook
// front (dist/agentcgroup-hook) in its place, with and without a daemon.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { scenario } from '../harness.js';
import { CLI, exited, readOr, run, scratch, startDaemon } from '../bundle.js';

scenario(async (c) => {
  const s = scratch();
  const hooksDir = join(s.dir, 'hooks.d');
  mkdirSync(hooksDir);
  const wrapper = join(s.dir, 'agentcgroup');
  writeFileSync(wrapper, `#!/bin/sh\nAGENTCGROUP_POLICY=${s.policy} exec ${process.execPath} ${CLI} "$@"\n`);
  chmodSync(wrapper, 0o755);
  const shipped = JSON.parse(readFileSync('hooks/agentcgroup.json', 'utf8'));
  shipped.hook.path = wrapper;
  writeFileSync(join(hooksDir, 'agentcgroup.json'), JSON.stringify(shipped));

  const rootfs = join(s.dir, 'rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', join(rootfs, 'bin/busybox'));
  for (const t of ['sh', 'cat', 'sleep']) symlinkSync('busybox', join(rootfs, 'bin', t));
  const podmanWith = (hooks: string) => (...args: string[]) =>
    run('podman', [
      '--root', join(s.dir, 'storage'), '--runroot', join(s.dir, 'runroot'), '--storage-driver', 'vfs',
      '--network-config-dir', join(s.dir, 'net'), '--cgroup-manager', 'cgroupfs', '--events-backend', 'file',
      '--hooks-dir', hooks, ...args,
    ]);
  const podman = podmanWith(hooksDir);
  const runArgs = ['--network', 'none', '--memory', '256m', '--rootfs', rootfs];
  const recordOf = (id: string) => readOr(join(s.runDir, 'containers', `${id}.json`));

  const started = podman('run', '-d', '--annotation', 'io.agentcgroup.enable=true', ...runArgs, '/bin/sleep', '300');
  c.equal(started.status, 0, 'podman run -d with the annotation starts');
  const id = started.stdout.trim();
  const rec = recordOf(id);
  if (!c.ok(rec !== '', 'the shipped hook carved the container', started.stderr)) return;
  const C = (JSON.parse(rec) as { cgroup: string }).cgroup;
  c.match(readOr(join('/sys/fs/cgroup', C, 'agent/cgroup.procs')), /^\d+\n$/, 'the init process sits in the agent leaf');
  const inside = podman('exec', id, '/bin/cat', '/proc/self/cgroup');
  c.equal(inside.status, 0, 'podman exec works');
  c.match(inside.stdout, /\/agent\n$/, 'podman exec lands in the agent leaf');
  const call = run(process.execPath, [CLI, 'exec', '--container', id, '--name', 'probe', '--policy', s.policy, '--', 'cat', '/proc/self/cgroup']);
  c.equal(call.status, 0, 'agentcgroup exec into the podman container works');
  c.match(call.stdout, new RegExp(`^0::/${C}/tools/probe-[a-z0-9]+-[0-9a-f]{6}\\n$`), 'the call ran in its own tools/ cgroup');
  c.equal(podman('rm', '-f', '-t', '0', id).status, 0, 'podman rm -f');
  c.ok(!existsSync(join('/sys/fs/cgroup', C)), 'container cgroup gone');
  c.equal(recordOf(id), '', 'poststop removed the record');
  c.match(readOr(join(s.callDir, `${id}.jsonl`)), /"name":"probe".*"outcome":"ok"/, 'the call log stays after the container is gone');

  const plain = podman('run', '-d', ...runArgs, '/bin/sleep', '300');
  c.equal(plain.status, 0, 'a container without the annotation starts');
  const plainId = plain.stdout.trim();
  c.equal(recordOf(plainId), '', 'and is not carved: the hook is gated');
  podman('rm', '-f', '-t', '0', plainId);

  const once = podman('run', '--rm', '--annotation', 'io.agentcgroup.enable=true', ...runArgs, '/bin/cat', '/proc/self/cgroup');
  c.equal(once.status, 0, 'podman run --rm with the annotation');
  c.equal(once.stdout, '0::/agent\n', 'the command ran in the agent leaf (inside its cgroup namespace)');
  const records = join(s.runDir, 'containers');
  c.equal((existsSync(records) ? readdirSync(records) : []).join(','), '', 'no record left after --rm');

  // The shipped JSON as installed with the native hook front (its path), told this scenario's binary
  // and daemon: without a daemon it runs the wrapper; with one, the daemon answers it (the binary it
  // would fall back on then does not exist, so a container that starts carved proves it).
  const frontDir = (name: string, binary: string) => {
    const d = join(s.dir, name);
    mkdirSync(d);
    const json = JSON.parse(readFileSync('hooks/agentcgroup.json', 'utf8'));
    json.hook.path = resolve('dist/agentcgroup-hook');
    json.hook.env = [`AGENTCGROUP_BINARY=${binary}`, `AGENTCGROUP_ADMIN_SOCKET=${join(s.runDir, 'admin.sock')}`, `AGENTCGROUP_POLICY=${s.policy}`];
    writeFileSync(join(d, 'agentcgroup.json'), JSON.stringify(json));
    return podmanWith(d);
  };
  const cgroupOnce = ['run', '--rm', '--annotation', 'io.agentcgroup.enable=true', ...runArgs, '/bin/cat', '/proc/self/cgroup'];
  const fallback = frontDir('hooks-front.d', wrapper)(...cgroupOnce);
  c.equal(fallback.status, 0, 'front, no daemon: podman run --rm', fallback.stderr);
  c.equal(fallback.stdout, '0::/agent\n', 'front, no daemon: carved by the binary it ran');
  const daemon = await startDaemon(s);
  const answered = frontDir('hooks-front-daemon.d', '/nonexistent/agentcgroup')(...cgroupOnce);
  c.equal(answered.status, 0, 'front, daemon: podman run --rm', answered.stderr);
  c.equal(answered.stdout, '0::/agent\n', 'front, daemon: carved by the daemon');
  daemon.child.kill('SIGTERM');
  c.equal(await exited(daemon.child), 0, 'the daemon stops');
  c.equal((existsSync(records) ? readdirSync(records) : []).join(','), '', 'no record left after either');
});
