// The Debian package (`npm run package`, deploy/package/): built from this checkout's binary (no
// compression, to spare the emulated CPU), installed with the guest's own dpkg into a throwaway root
// (maintainer scripts outside a chroot, told the root by DPKG_ROOT, so systemd is left alone). Its
// files are where Debian puts them and run: --version names the commit, doctor reads the package's
// policy on this real kernel, the hooks.d JSON names the hook front the package installed, and that
// front falls back to the package's binary. Removing keeps an edited policy (a conffile); purging
// leaves nothing of the package's. And the image writer `npm run package` builds the DaemonSet's image
// with (deploy/package/oci.ts, no engine): an archive it writes from a busybox layer is loaded by the
// guest's podman and runs.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { buildDeb } from '../../../deploy/package/build.js';
import { writeOciArchive } from '../../../deploy/package/oci.js';
import { DEB_BIN, DEB_EXEC_CLIENT, DEB_HOOKS_JSON, DEB_HOOK_FRONT, DEB_POLICY, DEB_RUNTIME_FRONT, DEB_UNIT } from '../../../deploy/package/deb.js';
import { scenario } from '../harness.js';

function tree(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? [`${relative(dir, p)}/`, ...tree(p).map((q) => `${n}/${q}`)] : [n];
  });
}

scenario(async (c) => {
  const work = mkdtempSync('/tmp/agentcg-package-');
  const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
  const commit = spawnSync(process.execPath, ['src/sea/commit.mjs'], { encoding: 'utf8' }).stdout;
  const deb = buildDeb({ out: work, compress: 'none', created: '2026-12-01T00:00:00Z' }, version, commit, join(work, 'stage'));
  c.ok(existsSync(deb), 'the .deb is built', deb);

  const root = join(work, 'root');
  for (const d of ['var/lib/dpkg/info', 'var/lib/dpkg/updates', 'var/lib/dpkg/triggers']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'var/lib/dpkg/status'), '');
  // libc6 and the rest are the guest's own, not in this empty root's database.
  const dpkg = (...args: string[]) => spawnSync('dpkg', [`--root=${root}`, '--force-script-chrootless', '--force-depends', '--force-not-root', ...args], { encoding: 'utf8', timeout: 600_000 });
  const installed = dpkg('-i', deb);
  c.equal(installed.status, 0, 'dpkg -i into a throwaway root', installed.stderr.slice(-2000));
  for (const f of [DEB_BIN, DEB_HOOK_FRONT, DEB_RUNTIME_FRONT, DEB_EXEC_CLIENT]) c.ok((statSync(join(root, f), { throwIfNoEntry: false })?.mode ?? 0) & 0o100 ? true : false, `${f} installed, executable`);
  const status = dpkg('-s', 'agentcgroup').stdout;
  c.match(status, /^Status: install ok installed$/m, 'dpkg knows it installed', status);
  c.match(status, new RegExp(`^Conffiles:\\n ${DEB_POLICY} [0-9a-f]{32}$`, 'm'), 'the policy is a conffile', status);

  const bin = join(root, DEB_BIN);
  const v = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 120_000 });
  c.equal(v.stdout, `${version} (commit ${commit})\n`, '--version: package.json\'s version and the commit', v.stderr);
  const policy = join(root, DEB_POLICY);
  c.match(readFileSync(policy, 'utf8'), new RegExp(`^ {2}exec_client: ${DEB_EXEC_CLIENT}$`, 'm'), "the policy names the package's exec client");
  const doctor = spawnSync(bin, ['doctor', '--json', '--policy', policy], { encoding: 'utf8', timeout: 180_000 });
  c.equal(doctor.status, 0, "doctor passes on this kernel with the package's policy", doctor.stdout.slice(-2000) + doctor.stderr);
  c.match(readFileSync(join(root, DEB_UNIT), 'utf8'), new RegExp(`^ExecStart=${DEB_BIN} daemon$`, 'm'), 'the unit runs the package\'s binary');

  const hooksJson = JSON.parse(readFileSync(join(root, DEB_HOOKS_JSON), 'utf8')) as { hook: { path: string; args: string[]; env: string[] } };
  c.equal(hooksJson.hook.path, DEB_HOOK_FRONT, 'hooks.d runs the hook front the package installed');
  // The front as hooks.d runs it, with no daemon: it falls back to the package's binary, which reads
  // the state of a container that does not opt in and ends with 0 (the root stands for /: its paths
  // are the package's, prefixed).
  const env = Object.fromEntries(hooksJson.hook.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  const bundle = join(work, 'bundle');
  mkdirSync(bundle);
  writeFileSync(join(bundle, 'config.json'), JSON.stringify({ ociVersion: '1.0.2', annotations: { 'io.agentcgroup.enable': 'false' } }));
  const state = JSON.stringify({ ociVersion: '1.0.2', id: 'pkg1', status: 'creating', pid: process.pid, bundle, annotations: {} });
  const hook = spawnSync(join(root, hooksJson.hook.path), [...hooksJson.hook.args.slice(1), 'createRuntime', '--policy', policy], {
    argv0: hooksJson.hook.args[0],
    input: state,
    encoding: 'utf8',
    timeout: 120_000,
    env: { AGENTCGROUP_BINARY: join(root, env.AGENTCGROUP_BINARY ?? ''), AGENTCGROUP_ADMIN_SOCKET: '' },
  });
  c.equal(hook.status, 0, 'the front, with no daemon, runs the package\'s binary as the hook', hook.stderr);

  writeFileSync(policy, `${readFileSync(policy, 'utf8')}\n# edited by the operator\n`);
  const removed = dpkg('-r', 'agentcgroup');
  c.equal(removed.status, 0, 'dpkg -r', removed.stderr.slice(-1000));
  c.ok(!existsSync(bin) && existsSync(policy), 'remove: the binary goes, the edited policy (a conffile) stays');
  const purged = dpkg('--purge', 'agentcgroup');
  c.equal(purged.status, 0, 'dpkg --purge', purged.stderr.slice(-1000));
  const left = tree(root).filter((p) => !p.startsWith('var/'));
  c.equal(left.join(' '), '', 'purge: nothing of the package left outside dpkg\'s database', left);
  c.ok(!existsSync(join(root, 'var/lib/agentcgroup')), 'nor its state directory');

  const layer = join(work, 'layer');
  mkdirSync(join(layer, 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', join(layer, 'bin/busybox'));
  symlinkSync('busybox', join(layer, 'bin/sh'));
  const tar = join(work, 'layer.tar');
  c.equal(spawnSync('tar', ['-C', layer, '-cf', tar, 'bin']).status, 0, 'a busybox layer');
  const archive = join(work, 'image.oci.tar');
  writeOciArchive({ layers: [tar], entrypoint: ['/bin/busybox', 'echo'], env: ['PATH=/bin'], labels: {}, ref: 'agentcgroup-oci-test:1', created: '2026-12-01T00:00:00Z' }, archive);
  const podman = (...args: string[]) =>
    spawnSync('podman', ['--root', join(work, 'storage'), '--runroot', join(work, 'runroot'), '--storage-driver', 'vfs', '--network-config-dir', join(work, 'net'), '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', ...args], { encoding: 'utf8', timeout: 300_000 });
  const loaded = podman('load', '-i', archive);
  c.equal(loaded.status, 0, 'podman load reads the OCI archive', loaded.stderr);
  c.match(loaded.stdout, /Loaded image.*agentcgroup-oci-test:1/, 'named by its ref', loaded.stdout);
  const ran = podman('run', '--rm', '--network', 'none', 'agentcgroup-oci-test:1', 'from the archive');
  c.equal(ran.stdout, 'from the archive\n', 'and it runs with its entrypoint', ran.stderr);
});
