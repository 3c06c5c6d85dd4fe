// containerd's config.toml edit as a pure text function, on the real `containerd config default` of
// 1.6 (version 2) and 2.1 (version 3), and on k3s/RKE2 templates; then read back by the containerd
// binaries at hand, the way they will read it.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { AgentcgroupError } from '../../../src/errors.js';
import { addContainerdRuntime, removeContainerdRuntime, TEMPLATE_BASE } from '../../../src/runtime/containerdconfig.js';
import { INSTALLED_SHIM } from '../../../src/runtime/installconfig.js';

const F = '/etc/containerd/config.toml';
// `containerd config default` of Debian's containerd 1.6.20 (bookworm) and 2.1.9 (sid), unedited.
const V2 = readFileSync('test/fixtures/containerd/default-1.6.20.toml', 'utf8');
const V3 = readFileSync('test/fixtures/containerd/default-2.1.9.toml', 'utf8');
const PLUGIN = { 2: 'io.containerd.grpc.v1.cri', 3: 'io.containerd.cri.v1.runtime' } as const;

/** Our runtime's table as TOML reads the edited text, at the place of `version`. */
function ours(text: string, version: 2 | 3): Record<string, unknown> {
  const doc = parse(text) as { plugins: Record<string, { containerd: { runtimes: Record<string, Record<string, unknown>> } }> };
  return doc.plugins[PLUGIN[version]]?.containerd.runtimes.agentcgroup ?? {};
}

const refused = (text: string, message: RegExp, file = F) => ({ text, message, file });

t.test('the real defaults of both versions: the block where that version keeps runtimes, the rest byte for byte', async (t) => {
  for (const [version, original] of [[2, V2], [3, V3]] as const) {
    const added = addContainerdRuntime(original, F);
    t.ok(added.startsWith(`${original}\n# BEGIN agentcgroup`), `version ${version}: appended after a blank line`);
    t.same(ours(added, version), {
      runtime_type: 'io.containerd.runc.v2',
      pod_annotations: ['io.agentcgroup.*'],
      container_annotations: ['io.agentcgroup.*'],
      options: { BinaryName: INSTALLED_SHIM, SystemdCgroup: false },
    }, `version ${version}: under plugins."${PLUGIN[version]}"`);
    t.equal(addContainerdRuntime(added, F), added, 'adding twice: same text');
    t.equal(removeContainerdRuntime(added, F), original, 'removed: the original bytes');
    t.equal(removeContainerdRuntime(original, F), original, 'nothing of ours: unchanged');
    const systemd = original.replace(/SystemdCgroup = false/, 'SystemdCgroup = true');
    t.equal((ours(addContainerdRuntime(systemd, F), version).options as Record<string, unknown>).SystemdCgroup, true, 'the cgroup driver of the default runtime');
  }
});

t.test('TOML as people write it: quoting, dotted keys, comments, no final newline', async (t) => {
  const v2 = `version = 2
[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "crun"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun]
  runtime_type = "io.containerd.runc.v2"
  options.BinaryName = "/usr/bin/crun"
  options.SystemdCgroup = true
`;
  t.match(addContainerdRuntime(v2, F), /SystemdCgroup = true\n# END/, 'the default runtime named by default_runtime_name, options as dotted keys');
  const quoted = v2.replace(/"io\.containerd\.grpc\.v1\.cri"/g, "'io.containerd.grpc.v1.cri'").replace('[plugins', '[ plugins');
  t.match(addContainerdRuntime(quoted, F), /SystemdCgroup = true\n# END/, 'single quotes and spaces in table headers');
  t.match(addContainerdRuntime(v2.replace('options.SystemdCgroup = true', '# options.SystemdCgroup = true'), F), /SystemdCgroup = false\n# END/, 'a commented-out setting is not set');
  const huge = V3.replace('deletion_threshold = 0', 'deletion_threshold = 9223372036854775807');
  t.ok(addContainerdRuntime(huge, F).startsWith(huge), 'a 64-bit integer past 2^53 is TOML too');
  const noNewline = v2.trimEnd();
  t.equal(removeContainerdRuntime(addContainerdRuntime(noNewline, F), F), `${noNewline}\n`, 'a file without a final newline gets one');
  // containerd 2.x adds configured runtimes to its built-in ones (checked with 2.1's config dump), so a
  // version 3 file need not spell out runc.
  const minimal = "version = 3\n[plugins.'io.containerd.cri.v1.images'.pinned_images]\n  sandbox = 'registry.k8s.io/pause:3.10'\n";
  t.same((ours(addContainerdRuntime(minimal, F), 3).options as Record<string, unknown>).BinaryName, INSTALLED_SHIM, 'version 3 without a runtimes table');
});

t.test('refusals: one line naming the file, nothing changed', async (t) => {
  const v2Runtimes = '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes';
  for (const { text, message, file } of [
    refused(V2.replace(/^version = 2\n/m, ''), /^\/etc\/containerd\/config\.toml: config version 1 \(no version line\): only versions 2 \(containerd 1\.6, 1\.7\) and 3 \(containerd 2\.x\) are supported/),
    refused(V3.replace('version = 3', 'version = 4'), /config version 4: only versions 2/),
    refused(V3.replace('version = 3', 'version = "3"'), /config version 3: only versions 2/),
    refused(`${V3}[x]\n[x]\n`, /: not TOML: .*redefine.* \(line \d+\); left unchanged$/),
    refused(V2.replace('default_runtime_name = "runc"', 'default_runtime_name = "kata"'), /does not define the default runtime \[plugins\."io\.containerd\.grpc\.v1\.cri"\.containerd\.runtimes\.kata\]/),
    refused('version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "x"\n', /does not define the default runtime .*Start from `containerd config default`/),
    refused(`${V2}${v2Runtimes}.agentcgroup]\n`, /already defines a runtime "agentcgroup" that install\.sh did not write/),
    refused("version = 3\n[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes]\nagentcgroup.runtime_type = 'x'\n", /already defines a runtime "agentcgroup"/),
    refused('version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n  runtimes = { runc = { runtime_type = "io.containerd.runc.v2" } }\n', /cannot take the runtime as a table \[plugins\."io\.containerd\.grpc\.v1\.cri"\.containerd\.runtimes\.agentcgroup\]: .*\(line \d+\); left unchanged$/),
    refused(`${V2}# BEGIN agentcgroup: added by install.sh --containerd, removed by install.sh --uninstall\n[x]\n`, /without its end line/),
    refused('version = 5\n', /config version 5: only versions 2 and 3/, '/var/lib/rancher/k3s/agent/etc/containerd/config-v3.toml.tmpl'),
  ]) {
    t.throws(() => addContainerdRuntime(text, file), { constructor: AgentcgroupError, code: 'bad-engine-config', message }, message.source);
    try {
      addContainerdRuntime(text, file);
    } catch (err) {
      t.notMatch((err as Error).message, /\n/, 'one line');
    }
  }
});

// Debian's package ships this config.toml, the same in bookworm (1.6.20) and sid (2.1.9): version 2, no runtime table.
const DEBIAN = readFileSync('test/fixtures/containerd/debian-shipped.toml', 'utf8');

t.test("a version 2 config without the default runtime: refused unless the node's containerd is 2.x", async (t) => {
  t.throws(() => addContainerdRuntime(DEBIAN, F), { message: /does not define the default runtime .*drop the built-in ones of containerd 1\.x/ }, 'containerd unknown');
  t.throws(() => addContainerdRuntime(DEBIAN, F, { containerdMajor: 1 }), { message: /does not define the default runtime/ }, 'containerd 1.x');
  const added = addContainerdRuntime(DEBIAN, F, { containerdMajor: 2 });
  t.same((ours(added, 2).options as Record<string, unknown>).BinaryName, INSTALLED_SHIM, 'containerd 2.x: added (2.1 keeps runc beside it, tested below and in nodes/)');
  t.equal(removeContainerdRuntime(added, F), DEBIAN, 'removed: the original bytes');
});

t.test('a file made whole: all of it inside the block, marked, and gone again on removal', async (t) => {
  const dropin = '/etc/containerd/conf.d/agentcgroup.toml';
  for (const version of [2, 3] as const) {
    const made = addContainerdRuntime(undefined, dropin, { make: { version, systemdCgroup: true } });
    t.match(made, /^# BEGIN agentcgroup: file made by install\.sh --containerd, removed with it by install\.sh --uninstall\nversion = \d\n/);
    t.equal(parse(made).version, version, `version ${version}`);
    t.equal((ours(made, version).options as Record<string, unknown>).SystemdCgroup, true, 'the cgroup driver it was given');
    t.equal(addContainerdRuntime(made, dropin, { make: { version, systemdCgroup: true } }), made, 'made again: same text');
    t.equal(addContainerdRuntime(made, dropin), made, 'named by hand (nothing known of the node): kept');
    t.equal(removeContainerdRuntime(made, dropin), undefined, 'removed: the file goes');
    const appendedTo = `${made}[x]\n  y = 1\n`;
    t.equal(removeContainerdRuntime(appendedTo, dropin), '[x]\n  y = 1\n', 'what someone added to it later stays, and so does the file');
  }
  t.throws(() => addContainerdRuntime(undefined, F), { message: /^\/etc\/containerd\/config\.toml: not there \(containerd runs on its defaults\); write them first: containerd config default > / }, 'not made without knowing how');
  t.throws(() => addContainerdRuntime('', F, { make: { version: 3, systemdCgroup: false } }), { message: /config version 1 \(no version line\)/ }, 'an empty file that is there is the operator\'s: not made over');
  t.equal(removeContainerdRuntime(addContainerdRuntime(`${V3}`, F), F), V3, 'a file of the operator\'s keeps all its bytes');
});

t.test('k3s and RKE2 templates: the block appended unparsed, version from the template or its name', async (t) => {
  const dir = '/var/lib/rancher/k3s/agent/etc/containerd';
  const made = addContainerdRuntime(undefined, `${dir}/config-v3.toml.tmpl`);
  t.ok(made.startsWith(`# BEGIN agentcgroup: file made by install.sh`), 'a new template: all of it ours, marked as made');
  t.match(made, /^# BEGIN agentcgroup: .*\n\{\{ template "base" \. \}\}\n\n#/, 'their base, then ours');
  t.match(made, /^\[plugins\."io\.containerd\.cri\.v1\.runtime"\.containerd\.runtimes\.agentcgroup\]$/m, 'config-v3: version 3');
  t.match(made, /^ {2}SystemdCgroup = \{\{ \.SystemdCgroup \}\}$/m, 'the driver k3s chose for the node');
  t.equal(removeContainerdRuntime(made, `${dir}/config-v3.toml.tmpl`), undefined, 'removed: nothing of the operator left, so the file goes');

  t.equal(addContainerdRuntime(made, `${dir}/config-v3.toml.tmpl`), made, 'made again: same text');
  t.equal(removeContainerdRuntime(addContainerdRuntime(`${TEMPLATE_BASE}\n`, `${dir}/config-v3.toml.tmpl`), `${dir}/config-v3.toml.tmpl`), `${TEMPLATE_BASE}\n`, "the operator's template holding only the base stays");
  const own = `${TEMPLATE_BASE}\n\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]\n  runtime_type = "io.containerd.runc.v2"\n`;
  const added = addContainerdRuntime(own, `${dir}/config.toml.tmpl`);
  t.ok(added.startsWith(`${own}\n# BEGIN`), "the operator's template kept above the block");
  t.match(added, /^\[plugins\."io\.containerd\.grpc\.v1\.cri"\.containerd\.runtimes\.agentcgroup\]$/m, 'config.toml.tmpl: version 2');
  t.equal(addContainerdRuntime(added, `${dir}/config.toml.tmpl`), added, 'adding twice: same text');
  t.equal(removeContainerdRuntime(added, `${dir}/config.toml.tmpl`), own, 'removed: the original bytes, and the file stays');
  t.match(addContainerdRuntime(`version = 3\n${own}`, `${dir}/config.toml.tmpl`), /\.cri\.v1\.runtime"\.containerd\.runtimes\.agentcgroup\]/, "the template's own version line wins over its name");
  t.throws(() => addContainerdRuntime(`${own}[plugins."io.containerd.grpc.v1.cri".containerd.runtimes."agentcgroup"]\n`, `${dir}/config.toml.tmpl`), { message: /already defines a runtime "agentcgroup"/ });
});

/** containerd binaries to check with: the one on PATH (CI installs Debian's), and $AGENTCGROUP_TEST_CONTAINERD (another version). */
function containerds(): { bin: string; major: number }[] {
  return ['containerd', process.env.AGENTCGROUP_TEST_CONTAINERD].flatMap((bin) => {
    if (bin === undefined || bin === '') return [];
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    const major = /\s(\d+)\.\d+\.\d+/.exec(r.stdout ?? '')?.[1];
    return r.status === 0 && major !== undefined ? [{ bin, major: Number(major) }] : [];
  });
}

const found = containerds();
t.test('containerd reads the edit: our runtime beside runc in its merged config', { skip: found.length === 0 && 'no containerd here' }, async (t) => {
  const dir = t.testdir();
  for (const { bin, major } of found) {
    // 1.x reads version 2 only (1.6 ignores a version 3 file's plugin settings); 2.x reads both.
    for (const [version, original] of major >= 2 ? ([[2, V2], [3, V3]] as const) : ([[2, V2]] as const)) {
      const file = join(dir, `v${version}.toml`);
      writeFileSync(file, addContainerdRuntime(original, file));
      const r = spawnSync(bin, ['--config', file, 'config', 'dump'], { encoding: 'utf8' });
      t.equal(r.status, 0, `${bin} ${major}.x, version ${version}: ${r.status === 0 ? 'config dump works' : r.stderr.slice(-300)}`);
      const dumped = ours(r.stdout, major >= 2 ? 3 : 2);
      t.equal((dumped.options as Record<string, unknown> | undefined)?.BinaryName, INSTALLED_SHIM, `containerd ${major}.x reads our runtime from a version ${version} file`);
      t.match(r.stdout, /\.containerd\.runtimes\.runc\]/, 'and keeps runc');
    }
  }
});
