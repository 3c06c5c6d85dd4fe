// `npm run package` (deploy/package/): the Debian package's contents and scripts, the image archive's
// structure (digests that verify), and the image kept in step with deploy/Dockerfile. Installing the
// .deb and loading the image run in the guest (the package scenario).
import t from 'tap';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IMAGE_ENTRYPOINT, IMAGE_FILES, IMAGE_PACKAGES } from '../../deploy/package/build.js';
import { DEB_BIN, DEB_EXEC_CLIENT, DEB_HOOK_FRONT, POSTINST, POSTRM, PRERM, control, debFiles, debHooksJson, debPolicy, debUnit, debVersion } from '../../deploy/package/deb.js';
import { writeOciArchive } from '../../deploy/package/oci.js';
import { loadPolicy } from '../../src/config/policy.js';

const work = mkdtempSync(join(tmpdir(), 'acg-package-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const input = {
  version: '0.1.0',
  commit: '0123456789ab',
  hooksJson: readFileSync('hooks/agentcgroup.json', 'utf8'),
  policyYaml: readFileSync('config/policy.yaml', 'utf8'),
  unit: readFileSync('config/systemd/agentcgroup.service', 'utf8'),
};

t.test('the Debian version: upstream, then the commit, never a Debian revision', async (t) => {
  t.equal(debVersion('0.1.0', '0123456789ab'), '0.1.0+g0123456789ab');
  t.equal(debVersion('0.1.0', '0123456789ab-dirty'), '0.1.0+g0123456789ab.dirty', "no '-': it would start a revision");
  t.equal(debVersion('0.1.0', 'unknown'), '0.1.0');
  const newer = spawnSync('dpkg', ['--compare-versions', '0.1.0+g0123456789ab', 'gt', '0.1.0']);
  t.equal(newer.status, 0, 'dpkg sorts it after the plain release');
});

t.test("the files adapted to Debian's paths, the shipped policy still valid", async (t) => {
  const hook = JSON.parse(debHooksJson(input.hooksJson)) as { hook: { path: string; env: string[]; args: string[] }; when: unknown };
  t.same(hook.hook, { path: DEB_HOOK_FRONT, args: ['agentcgroup', 'hook'], timeout: 30, env: [`AGENTCGROUP_BINARY=${DEB_BIN}`] });
  t.same(hook.when, JSON.parse(input.hooksJson).when, 'the annotation gate kept');
  const policy = join(work, 'policy.yaml');
  writeFileSync(policy, debPolicy(input.policyYaml));
  t.equal(loadPolicy(policy).paths.execClient, DEB_EXEC_CLIENT, 'the policy parses and names the package\'s client');
  t.throws(() => debPolicy('paths:\n  run_dir: /run/x\n'), /no paths\.exec_client line/);
  t.match(debUnit(input.unit), /^ExecStart=\/usr\/bin\/agentcgroup daemon$/m);
  t.notMatch(debUnit(input.unit), /\/usr\/local\//, 'nothing under /usr/local');
  t.throws(() => debUnit('[Service]\n'), /no ExecStart line/);
  const paths = debFiles(input, 'dist').map((f) => f.path);
  t.notOk(paths.some((p) => p.startsWith('/usr/local/')), 'a Debian package installs nothing under /usr/local', { paths });
  t.ok(paths.includes('/DEBIAN/conffiles'));
  const ctl = control(input, 1234);
  for (const field of ['Package: agentcgroup', 'Version: 0.1.0+g0123456789ab', 'Architecture: amd64', 'Installed-Size: 1234', 'Recommends: libbpf1']) t.match(ctl, new RegExp(`^${field.replace(/[+.]/g, '\\$&')}$`, 'm'), field);
  t.ok(ctl.endsWith('\n') && !/\n\n/.test(ctl), 'one paragraph, ending in a newline');
});

t.test('maintainer scripts: valid sh; under DPKG_ROOT they leave systemd alone; purge removes the state', async (t) => {
  for (const [name, text] of [['postinst', POSTINST], ['prerm', PRERM], ['postrm', POSTRM]] as const) {
    t.equal(spawnSync('sh', ['-n', '-c', text]).status, 0, `${name} parses`);
  }
  const root = join(work, 'droot');
  mkdirSync(join(root, 'var/lib/agentcgroup/calls'), { recursive: true });
  mkdirSync(join(root, 'etc/agentcgroup'), { recursive: true });
  // systemctl on PATH records any call: none may come under DPKG_ROOT.
  const bin = join(work, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'systemctl'), `#!/bin/sh\necho "$@" >> ${join(work, 'systemctl.calls')}\n`, { mode: 0o755 });
  const env = { PATH: `${bin}:/usr/bin:/bin`, DPKG_ROOT: root };
  for (const [text, arg] of [[POSTINST, 'configure'], [PRERM, 'remove'], [POSTRM, 'purge']] as const) {
    const r = spawnSync('sh', ['-c', text, 'script', arg], { env, encoding: 'utf8' });
    t.equal(r.status, 0, `${arg}: exit 0`, { stderr: r.stderr });
  }
  t.notOk(existsSync(join(work, 'systemctl.calls')), 'no systemctl call for a root that is not the running system');
  t.notOk(existsSync(join(root, 'var/lib/agentcgroup')), 'purge: call logs gone');
  t.notOk(existsSync(join(root, 'etc/agentcgroup')), 'and the emptied policy directory');
});

t.test('the image archive: an OCI layout whose digests verify', async (t) => {
  const layerDir = join(work, 'layer');
  mkdirSync(join(layerDir, 'opt'), { recursive: true });
  writeFileSync(join(layerDir, 'opt/hello'), 'hello\n');
  const layer = join(work, 'layer.tar');
  t.equal(spawnSync('tar', ['-C', layerDir, '-cf', layer, 'opt']).status, 0);
  const archive = join(work, 'image.oci.tar');
  const digest = writeOciArchive({ layers: [layer], entrypoint: ['/opt/x'], env: ['PATH=/bin'], labels: { a: 'b' }, ref: 'agentcgroup:9.9.9', created: '2026-12-01T00:00:00Z' }, archive);
  const out = join(work, 'unpacked');
  mkdirSync(out);
  t.equal(spawnSync('tar', ['-C', out, '-xf', archive]).status, 0);
  const blob = (d: string) => readFileSync(join(out, 'blobs', ...d.split(':')));
  const verify = (d: string) => `sha256:${createHash('sha256').update(blob(d)).digest('hex')}` === d;
  t.same(JSON.parse(readFileSync(join(out, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
  const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'));
  t.equal(index.manifests[0].digest, digest);
  t.equal(index.manifests[0].annotations['org.opencontainers.image.ref.name'], 'agentcgroup:9.9.9');
  t.equal(index.manifests[0].annotations['io.containerd.image.name'], 'docker.io/library/agentcgroup:9.9.9');
  t.ok(verify(digest), 'the manifest blob verifies');
  const manifest = JSON.parse(blob(digest).toString());
  t.ok(verify(manifest.config.digest) && verify(manifest.layers[0].digest), 'the config and layer blobs verify');
  t.equal(manifest.layers[0].size, blob(manifest.layers[0].digest).length, 'sizes as stored');
  const config = JSON.parse(blob(manifest.config.digest).toString());
  t.equal(config.rootfs.diff_ids[0], `sha256:${createHash('sha256').update(readFileSync(layer)).digest('hex')}`, "diff_id: the uncompressed layer's digest");
  t.same(config.config, { Entrypoint: ['/opt/x'], Env: ['PATH=/bin'], Labels: { a: 'b' } });
  t.match(config, { architecture: 'amd64', os: 'linux', created: '2026-12-01T00:00:00Z' });
});

t.test('the image keeps to deploy/Dockerfile: its packages, its COPY lines, its entrypoint', async (t) => {
  const docker = readFileSync('deploy/Dockerfile', 'utf8');
  t.match(docker, /^FROM debian:12-slim$/m, 'Debian 12, as the image is built from (mmdebstrap bookworm)');
  const installs = (/apt-get install -y --no-install-recommends ([^&]+)&&/.exec(docker)?.[1] ?? '').trim().split(/\s+/);
  for (const p of installs) t.ok(IMAGE_PACKAGES.includes(p), `${p}: installed by the Dockerfile, in the image`);
  const copied = [...docker.matchAll(/^COPY (.+) (\S+)$/gm)].flatMap((m) => m[1]!.split(/\s+/));
  t.same([...copied].sort(), [...IMAGE_FILES].sort(), 'the same files under /opt/agentcgroup');
  t.same(JSON.parse(/^ENTRYPOINT (.+)$/m.exec(docker)?.[1] ?? 'null'), IMAGE_ENTRYPOINT);
});
