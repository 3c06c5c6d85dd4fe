// A hostile container: its root user (Docker's default capabilities, no CAP_SYS_ADMIN), in its own
// cgroup namespace with cgroupfs mounted read-only (the default) or read-write, tries to raise its
// limits, leave its subtree, hide in a sibling cgroup, talk the daemon into another container's
// cgroup or limits, and reach the admin socket; and every file we create is root-only.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { type Checker, scenario } from '../harness.js';
import { type Scratch, eventually, exited, makeBundle, readOr, run, runDetached, scratch, startDaemon } from '../bundle.js';

const MiB = 1 << 20;
const LIMIT = 128 * MiB;
const cg = (rel: string, file = '') => join('/sys/fs/cgroup', rel, file);

/** Docker's default set: what "root in a container" usually holds. */
const CAPS = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE'];

interface Mount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

function container(s: Scratch, id: string, cgroupfs: 'ro' | 'rw', extraBinds: { source: string; destination: string }[] = []): void {
  const sockDir = join(s.runDir, 'sock', id);
  mkdirSync(sockDir, { recursive: true, mode: 0o700 });
  const bundle = makeBundle(s, id, {
    args: ['/bin/sleep', '600'],
    hostRoot: true,
    memoryLimit: LIMIT,
    binds: [{ source: sockDir, destination: '/run/agentcgroup' }, ...extraBinds],
  });
  const file = join(bundle, 'config.json');
  const config = JSON.parse(readFileSync(file, 'utf8')) as {
    linux: { namespaces: { type: string }[] };
    mounts: Mount[];
    process: { capabilities: Record<string, string[]> };
  };
  // A cgroup namespace of its own, as engines give (crun 1.28's spec already has one, 1.8's does not).
  if (!config.linux.namespaces.some((n) => n.type === 'cgroup')) config.linux.namespaces.push({ type: 'cgroup' });
  for (const m of config.mounts) if (m.destination === '/sys/fs/cgroup') m.options = [...(m.options ?? []).filter((o) => o !== 'ro' && o !== 'rw'), cgroupfs];
  for (const set of ['bounding', 'effective', 'permitted']) config.process.capabilities[set] = CAPS;
  writeFileSync(file, JSON.stringify(config, null, 1));
  const started = runDetached('crun', bundle, id, join(s.dir, `${id}.log`));
  if (started.status !== 0) throw new Error(`${id} did not start: ${started.log}`);
}

/** Runs inside the container as root (crun exec: the agent leaf). Prints one JSON object. */
const PROBE = `
const fs = require('fs');
const { spawnSync } = require('child_process');
const root = '/sys/fs/cgroup';
const attempt = (f) => { try { f(); return 'ok'; } catch (e) { return e.code || String(e); } };
const self = () => fs.readFileSync('/proc/self/cgroup', 'utf8').trim();
const out = { cgroup: self() };
out.nsRootMemoryMax = attempt(() => fs.writeFileSync(root + '/memory.max', 'max'));
out.nsRootMemoryHigh = attempt(() => fs.writeFileSync(root + '/memory.high', 'max'));
out.agentMemoryMax = attempt(() => fs.writeFileSync(root + '/agent/memory.max', String(64 << 20)));
out.parentVisible = fs.existsSync(root + '/../cgroup.procs');
out.intoNsRoot = attempt(() => fs.writeFileSync(root + '/cgroup.procs', '0'));
const mnt = spawnSync('mount', ['-t', 'cgroup2', 'none', '/tmp'], { encoding: 'utf8' });
out.mountCgroup2 = mnt.status === 0 ? 'ok' : mnt.stderr.trim().slice(-80);
const uns = spawnSync('unshare', ['--cgroup', 'true'], { encoding: 'utf8' });
out.unshareCgroupns = uns.status === 0 ? 'ok' : uns.stderr.trim().slice(-80);
out.mkdirSibling = attempt(() => fs.mkdirSync(root + '/escape'));
out.intoSibling = attempt(() => fs.writeFileSync(root + '/escape/cgroup.procs', '0'));
out.after = self();
// 200M in a sibling of the agent leaf, in a container limited to 128M. (Not from a tool call's cgroup:
// its memory.oom.group would take this probe down with the hog.)
if (out.after === '0::/escape') {
  const hog = spawnSync('dd', ['if=/dev/zero', 'of=/dev/null', 'bs=200M', 'count=1'], { encoding: 'utf8' });
  out.hogInSibling = hog.signal || hog.status;
}
console.log(JSON.stringify(out));
`;

/**
 * The exec socket from inside: a begin that names another container, its cgroup and limits; the
 * call's own memory.max read and then written from inside the call; an end for a call that is not
 * this connection's; and the other container's socket, bind-mounted in by mistake.
 */
const SOCKET_PROBE = `
const fs = require('fs');
const net = require('net');
function session(path) {
  const s = net.createConnection(path);
  let buf = '';
  const waiting = [];
  s.on('data', (d) => { buf += d; let i; while ((i = buf.indexOf('\\n')) >= 0) { const line = buf.slice(0, i); buf = buf.slice(i + 1); waiting.shift()?.(line); } });
  s.on('error', (e) => { while (waiting.length) waiting.shift()('error ' + e.code); });
  s.on('close', () => { while (waiting.length) waiting.shift()('closed'); });
  return { ask: (msg) => new Promise((r) => { waiting.push(r); s.write(JSON.stringify(msg) + '\\n'); }), end: () => s.end() };
}
(async () => {
  const out = {};
  const own = session('/run/agentcgroup/exec.sock');
  const begun = JSON.parse(await own.ask({ v: 1, op: 'begin', name: 'probe', argv: ['probe'], container: 'it-victim', cgroup: '/it-victim', memory_max: 'max', limits: { max: 'max' } }));
  out.begin = begun;
  out.cgroup = fs.readFileSync('/proc/self/cgroup', 'utf8').trim();
  const mine = '/sys/fs/cgroup' + out.cgroup.slice(3) + '/memory.max';
  out.callMemoryMax = fs.readFileSync(mine, 'utf8').trim();
  try { fs.writeFileSync(mine, 'max'); out.raiseOwn = 'ok'; } catch (e) { out.raiseOwn = e.code; }
  out.callMemoryMaxAfter = fs.readFileSync(mine, 'utf8').trim();
  out.forgedEnd = await own.ask({ v: 1, op: 'end', call: 'victim-call-1', exit: 0, signal: null });
  out.end = await own.ask({ v: 1, op: 'end', call: begun.call, exit: 0, signal: null });
  own.end();
  const other = session('/run/victim/exec.sock');
  out.victimSocket = await other.ask({ v: 1, op: 'begin', name: 'probe', argv: ['probe'] });
  other.end();
  console.log(JSON.stringify(out));
})();
`;

function probe(id: string, script: string): Record<string, unknown> {
  const r = run('crun', ['exec', id, process.execPath, '-e', script]);
  try {
    return JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    return { failed: r.status, stdout: r.stdout, stderr: r.stderr };
  }
}

const refused = /^(EROFS|EPERM|EACCES|EBUSY|ENOENT)$/;

function cgroupfsChecks(c: Checker, id: string, mode: 'ro' | 'rw'): void {
  const p = probe(id, PROBE);
  const v = (k: string) => String(p[k]);
  // crun exec starts the probe in the agent leaf; the daemon sees it exec there and makes it a tool call.
  c.match(v('cgroup'), /^0::\/(agent|tools\/[a-z0-9_.-]+)$/, `${mode}: the container's own cgroup is its namespace root`, p);
  c.match(v('nsRootMemoryMax'), refused, `${mode}: cannot raise memory.max of its cgroup (the engine's limit)`);
  c.match(v('nsRootMemoryHigh'), refused, `${mode}: cannot raise memory.high of its cgroup`);
  c.equal(readOr(cg(id, 'memory.max')).trim(), String(LIMIT), `${mode}: memory.max of the container is still the engine's`);
  c.equal(p.parentVisible, false, `${mode}: nothing above its cgroup is visible`);
  c.match(v('intoNsRoot'), refused, `${mode}: cannot move into its cgroup's root (no internal processes)`);
  c.ok(v('mountCgroup2') !== 'ok' && v('unshareCgroupns') !== 'ok', `${mode}: cannot mount cgroupfs afresh or make a new cgroup namespace`, { mount: v('mountCgroup2'), unshare: v('unshareCgroupns') });
  if (mode === 'ro') {
    c.equal(v('agentMemoryMax'), 'EROFS', 'ro: cannot write the limits of its own sub-cgroups');
    c.equal(v('mkdirSibling'), 'EROFS', 'ro: cannot create a sibling cgroup');
  } else {
    // The truth with a writable cgroupfs: below the namespace root the container is the delegate. It
    // can set its own sub-cgroups' limits and make siblings; none of that lifts the limit of C.
    c.equal(v('agentMemoryMax'), 'ok', 'rw (as the kernel delegates it): it can write limits of its own sub-cgroups');
    c.equal(v('mkdirSibling'), 'ok', 'rw: it can create a sibling cgroup of agent/ and tools/');
    c.equal(v('after'), '0::/escape', 'rw: and move itself there, out of its tool call');
    c.equal(v('hogInSibling'), 'SIGKILL', 'rw: but 200M in the sibling is OOM-killed by the container’s 128M: C’s limit still holds');
    c.ok(Number(/oom_kill (\d+)/.exec(readOr(cg(id, 'memory.events')))?.[1] ?? 0) > 0, 'rw: the OOM kill is charged to the container', readOr(cg(id, 'memory.events')));
  }
}

function callLog(s: Scratch, id: string): { name: string; cgroup: string }[] {
  return readOr(join(s.callDir, `${id}.jsonl`))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { name: string; cgroup: string });
}

function socketChecks(c: Checker, s: Scratch, id: string): void {
  const tool = (JSON.parse(readOr(join(s.runDir, 'containers', `${id}.json`))) as { tool: { memoryMax: number } }).tool;
  const p = probe(id, SOCKET_PROBE);
  const begin = p.begin as { ok?: boolean; call?: string } | undefined;
  c.ok(begin?.ok === true, 'the exec socket serves its own container', p);
  c.equal(String(p.cgroup), `0::/tools/${begin?.call}`, 'the call is in this container’s tools/, whatever the request named');
  c.equal(p.callMemoryMax, String(tool.memoryMax), 'with the limits recorded at carve time, not the requested ones');
  c.equal(readdirSync(cg('it-victim', 'tools')).filter((n) => !n.includes('.')).length, 0, 'nothing was created in the other container');
  c.match(String(p.forgedEnd), /"ok":false.*no such call on this connection/, 'ending a call of another connection is refused');
  c.match(String(p.victimSocket), /"ok":false.*not in container it-victim/, 'another container’s socket, even mounted in, refuses this container’s processes');
  // The truth with a writable cgroupfs: the call's own memory.max is the container's to change (it is
  // below its namespace root); the container's memory.max above it still bounds it (checked above).
  c.equal(p.raiseOwn, 'ok', 'rw (as the kernel delegates it): a call can raise its own memory.max from inside');
  const logged = callLog(s, id).filter((k) => k.name === 'probe');
  c.ok(logged.length === 1 && logged[0]!.cgroup === `/${id}/tools/${begin?.call}`, 'the call is logged once, under this container', logged);
  c.equal(callLog(s, 'it-victim').length, 0, 'and nothing under the other');
}

async function adminChecks(c: Checker, s: Scratch): Promise<void> {
  const sock = join(s.runDir, 'admin.sock');
  const ask = `const s=require('net').createConnection(${JSON.stringify(sock)});s.on('error',e=>console.log(e.code));s.on('data',d=>{console.log(String(d).trim());s.end()});s.on('connect',()=>s.write('{"op":"snapshot"}\\n'))`;
  const asNobody = () => run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', ask]).stdout.trim();
  c.equal(asNobody(), 'EACCES', 'the admin socket (0600) cannot even be opened by a non-root user');
  // With the run dir and the socket opened up by mistake, SO_PEERCRED still turns the user away.
  for (const d of [s.dir, s.runDir]) chmodSync(d, 0o711);
  chmodSync(sock, 0o666);
  c.match(asNobody(), /"ok":false.*uid 65534 refused/, 'with its mode opened up, the daemon still refuses a non-root peer');
  chmodSync(sock, 0o600);
  for (const d of [s.dir, s.runDir]) chmodSync(d, 0o700);
}

/** Every directory we made is 0700 and every file 0600; exec sockets are 0666 inside a 0700 directory. */
function modeChecks(c: Checker, s: Scratch): void {
  const bad: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const st = statSync(path);
      const mode = st.mode & 0o777;
      const want = st.isDirectory() ? 0o700 : st.isSocket() && name === 'exec.sock' ? 0o666 : 0o600;
      if (mode !== want) bad.push(`${relative(s.dir, path)} ${mode.toString(8)}`);
      if (st.isDirectory()) walk(path);
    }
  };
  for (const d of [s.runDir, s.callDir]) walk(d);
  c.equal(bad.join(', '), '', 'run dir and call logs: directories 0700, files and the admin socket 0600', bad);
  c.equal((statSync(s.runDir).mode & 0o777).toString(8), '700', 'the run dir itself is 0700');
  c.equal((statSync(s.callDir).mode & 0o777).toString(8), '700', 'the call log dir itself is 0700');
}

scenario(async (c) => {
  const s = scratch();
  // The run dir is ours to create (scratch() made it for its marker): made again by us, its mode is ours.
  rmSync(s.runDir, { recursive: true, force: true });
  const daemon = await startDaemon(s);
  container(s, 'it-victim', 'ro');
  container(s, 'it-hostile-ro', 'ro');
  container(s, 'it-hostile-rw', 'rw', [{ source: join(s.runDir, 'sock', 'it-victim'), destination: '/run/victim' }]);
  const sockets = ['it-victim', 'it-hostile-rw'].map((id) => join(s.runDir, 'sock', id, 'exec.sock'));
  c.ok(await eventually(() => sockets.every((p) => existsSync(p)), 30_000), 'the daemon serves the containers’ exec sockets');

  cgroupfsChecks(c, 'it-hostile-ro', 'ro');
  cgroupfsChecks(c, 'it-hostile-rw', 'rw');
  socketChecks(c, s, 'it-hostile-rw');
  await adminChecks(c, s);
  modeChecks(c, s);

  for (const id of ['it-hostile-ro', 'it-hostile-rw', 'it-victim']) run('crun', ['delete', '-f', id]);
  c.ok(!existsSync(cg('it-hostile-rw')), 'the container with a sibling cgroup of its own making is removed with it');
  daemon.child.kill('SIGTERM');
  await exited(daemon.child);
  c.equal(readdirSync(join(s.runDir, 'sock')).join(','), '', 'no socket directory is left');
});
