import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { scratch } from '../../integration/bundle.js';
import { agentBundle } from '../../../bench/replay/bundle.js';
import { DOCKER_INIT, agentProcess, initSource } from '../../../bench/replay/init.js';

const CMD = ['/bin/agent', '/ctl/plan-1.txt', '/out/agent-1.txt'];

/** Whether a 64-bit little-endian ELF asks for a program interpreter (is dynamically linked). */
function interpreter(elf: Buffer): boolean {
  if (elf.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file');
  const off = Number(elf.readBigUInt64LE(0x20));
  const size = elf.readUInt16LE(0x36);
  return [...Array(elf.readUInt16LE(0x38)).keys()].some((i) => elf.readUInt32LE(off + i * size) === 3);
}

t.test('tini runs the framework the way `docker run --init` does', async (t) => {
  const p = agentProcess('tini', CMD, 'tini version 0.19.0');
  t.same(p.args, ['/sbin/docker-init', '--', ...CMD]);
  t.same(p.files, [{ source: '/usr/bin/tini-static', path: '/sbin/docker-init' }]);
  t.match(p.label, /^tini version 0\.19\.0 as `docker run --init` runs it: \/usr\/bin\/tini-static copied to \/sbin\/docker-init, process `\/sbin\/docker-init -- \/bin\/agent \/ctl\/plan-1\.txt \/out\/agent-1\.txt`/);
  t.match(agentProcess('tini', CMD).label, /^tini as /, 'without a version');
});

t.test('catatonit as `podman run --init` runs it; an entrypoint script that keeps the shell as parent', async (t) => {
  const c = agentProcess('catatonit', CMD, 'tini version 0.1.7_catatonit');
  t.same(c.args, ['/run/podman-init', '--', ...CMD]);
  t.same(c.files, [{ source: '/usr/bin/catatonit', path: '/run/podman-init' }]);
  t.match(c.label, /^tini version 0\.1\.7_catatonit as `podman run --init` runs it/);
  const sh = agentProcess('sh', CMD);
  t.same(sh.args, ['/bin/sh', '-c', `${CMD.join(' ')}; exit $?`], 'not a lone command: busybox sh would exec that in place');
  t.same(sh.files, []);
  t.equal(initSource('tini'), '/usr/bin/tini-static');
  t.equal(initSource('catatonit'), '/usr/bin/catatonit');
  t.equal(initSource('sh'), undefined);
  t.equal(initSource('none'), undefined);
});

t.test('without an init the framework is the container process itself', async (t) => {
  const p = agentProcess('none', CMD);
  t.same(p.args, CMD);
  t.same(p.files, []);
  t.match(p.label, /^none: the framework is the container's process \(PID 1\)/);
});

const tools = ['crun', 'busybox'].every((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0) && existsSync('/bin/busybox') && existsSync(DOCKER_INIT.source);

t.test('an agent bundle: the static tini at /sbin/docker-init, the process `docker-init -- /bin/agent ...`, a pid namespace', { skip: tools ? false : 'needs crun, /bin/busybox and tini-static' }, async (t) => {
  const s = scratch();
  t.teardown(() => rmSync(s.dir, { recursive: true, force: true }));
  const agentBin = '/bin/busybox'; // any executable: only copied
  const make = (id: string, init: 'tini' | 'catatonit' | 'none', extra = {}) =>
    agentBundle(s, { id, agent: 1, init, agentBin, ctl: '/tmp/ctl', out: '/tmp/out', cgroupsPath: '/replay-d2-1/x', memoryLimit: 64 << 20, ...extra });
  const bundle = make('rp-tini', 'tini');
  const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  t.same(config.process.args, ['/sbin/docker-init', '--', ...CMD]);
  t.ok(config.linux.namespaces.some((n: { type: string }) => n.type === 'pid'), 'tini is PID 1 of the container');
  t.same(config.hooks, {}, 'no hooks: the bench adds them for (d)');
  t.equal(config.linux.cgroupsPath, '/replay-d2-1/x');
  t.equal(config.linux.resources.memory.limit, 64 << 20);
  t.ok(config.mounts.some((m: { destination: string; source: string; options: string[] }) => m.destination === '/ctl' && m.source === '/tmp/ctl' && m.options.includes('ro')));
  t.ok(config.mounts.some((m: { destination: string; source: string }) => m.destination === '/out' && m.source === '/tmp/out'));
  const init = join(bundle, 'rootfs/sbin/docker-init');
  t.ok(readFileSync(init).equals(readFileSync(DOCKER_INIT.source)), 'the static tini, byte for byte');
  t.equal(statSync(init).mode & 0o777, 0o755);
  t.equal(interpreter(readFileSync(init)), false, 'static (no PT_INTERP): the busybox rootfs has no libc');
  t.ok(readFileSync(join(bundle, 'rootfs/bin/agent')).equals(readFileSync(agentBin)));
  t.equal(readlinkSync(join(bundle, 'rootfs/bin/tool')), 'agent');
  const bare = make('rp-none', 'none');
  t.same(JSON.parse(readFileSync(join(bare, 'config.json'), 'utf8')).process.args, CMD);
  t.notOk(existsSync(join(bare, 'rootfs/sbin')), 'no init copied');
  t.ok(lstatSync(join(bare, 'rootfs/bin/agent')).isFile());
  if (existsSync('/usr/bin/catatonit')) {
    const pod = make('rp-catatonit', 'catatonit', { unified: { 'memory.oom.group': '1' }, annotations: { 'io.agentcgroup.priority': 'high' } });
    const c = JSON.parse(readFileSync(join(pod, 'config.json'), 'utf8'));
    t.same(c.process.args, ['/run/podman-init', '--', ...CMD]);
    t.equal(interpreter(readFileSync(join(pod, 'rootfs/run/podman-init'))), false, 'catatonit, static');
    t.same(c.linux.resources.unified, { 'memory.oom.group': '1' }, "kubelet's oom.group through the unified map");
    t.same(c.annotations, { 'io.agentcgroup.priority': 'high' });
  }
});
