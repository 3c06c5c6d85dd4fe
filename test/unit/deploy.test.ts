// deploy/kubernetes: the manifests parse, hold what the README says, grant no RBAC, and mount every
// host path install.sh --root /host and the daemon use. (No cluster here: structure only.)
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cliCommand } from './runtime/cli-bundle.js';
import { parseAllDocuments } from 'yaml';

const DIR = 'deploy/kubernetes';

interface Mount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
}
interface Container {
  name: string;
  image: string;
  command: string[];
  securityContext?: { privileged?: boolean };
  env?: { name: string; value: string }[];
  volumeMounts: Mount[];
}
interface Volume {
  name: string;
  hostPath?: { path: string; type?: string };
  emptyDir?: object;
}
type Doc = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown };

const docs: Doc[] = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) =>
    parseAllDocuments(readFileSync(join(DIR, f), 'utf8')).map((d) => {
      if (d.errors.length > 0) throw new Error(`${f}: ${d.errors[0]?.message}`);
      return d.toJS() as Doc;
    }),
  );
const byKind = (kind: string) => docs.filter((d) => d.kind === kind);

t.test('the kinds, and kustomization lists every manifest', async (t) => {
  t.same(docs.map((d) => d.kind).sort(), ['DaemonSet', 'Kustomization', 'Namespace', 'RuntimeClass', 'ServiceAccount']);
  const listed = (byKind('Kustomization')[0]?.resources as string[]).sort();
  t.same(listed, readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort());
  for (const d of docs.filter((d) => !['Namespace', 'RuntimeClass', 'Kustomization'].includes(d.kind))) t.equal(d.metadata.namespace, 'agentcgroup', `${d.kind} in the namespace`);
});

t.test('RBAC: none at all, and no API token in the pods', async (t) => {
  t.same(docs.filter((d) => /Role|Binding/.test(d.kind)), [], 'no Role, ClusterRole or binding');
  const sa = byKind('ServiceAccount')[0] as Doc & { automountServiceAccountToken?: boolean };
  t.equal(sa.automountServiceAccountToken, false);
  const pod = (byKind('DaemonSet')[0] as Doc & { spec: { template: { spec: { serviceAccountName: string; automountServiceAccountToken: boolean } } } }).spec.template.spec;
  t.equal(pod.serviceAccountName, sa.metadata.name);
  t.equal(pod.automountServiceAccountToken, false);
});

t.test('RuntimeClass: the handler install.sh --containerd registers', async (t) => {
  const rc = byKind('RuntimeClass')[0] as Doc & { handler: string };
  t.equal(rc.apiVersion, 'node.k8s.io/v1');
  t.equal(rc.metadata.name, 'agentcgroup');
  t.equal(rc.handler, 'agentcgroup');
  t.match(readFileSync('src/runtime/installconfig.ts', 'utf8'), /export const RUNTIME_NAME = 'agentcgroup';/, 'the name in the containerd block');
});

t.test('DaemonSet: install into the host paths, then the daemon in the host namespaces', async (t) => {
  const ds = byKind('DaemonSet')[0] as Doc & { spec: { selector: { matchLabels: object }; template: { metadata: { labels: object }; spec: Record<string, unknown> } } };
  t.same(ds.spec.selector.matchLabels, ds.spec.template.metadata.labels, 'the selector matches the pods');
  const pod = ds.spec.template.spec as { hostPID: boolean; initContainers: Container[]; containers: Container[]; volumes: Volume[]; tolerations: object[] };
  t.equal(pod.hostPID, true);
  t.same(pod.tolerations, [{ operator: 'Exists' }], 'every node, tainted or not');
  const volumes = new Map(pod.volumes.map((v) => [v.name, v]));
  const hostPathAt = (c: Container, mountPath: string) => {
    const m = c.volumeMounts.find((x) => x.mountPath === mountPath);
    return m ? volumes.get(m.name)?.hostPath?.path : undefined;
  };
  const [install] = pod.initContainers;
  const [daemon] = pod.containers;
  if (!install || !daemon) return t.fail('an init container and a container');
  t.equal(install.image, daemon.image, 'one image');
  const script = install.command.join(' ');
  t.match(script, /\/opt\/agentcgroup\/install\.sh --root \/host --binary \/opt\/agentcgroup\/agentcgroup/);
  t.match(script, /nsenter --target 1 --mount --uts --ipc --net --pid -- \/usr\/local\/bin\/agentcgroup install-config containerd register \/ "\$\{restart\[@\]\}"/, "containerd's side on the host itself, by the node shape");
  // Everything install.sh writes under --root /host must be the host's own directory.
  for (const [inPod, onHost] of <[string, string][]>[
    ['/host/usr/local/bin', '/usr/local/bin'],
    ['/host/usr/share/containers/oci/hooks.d', '/usr/share/containers/oci/hooks.d'],
    ['/host/etc/agentcgroup', '/etc/agentcgroup'],
    ['/host/run/agentcgroup', '/run/agentcgroup'],
    ['/host/var/lib/agentcgroup', '/var/lib/agentcgroup'],
  ]) {
    t.equal(hostPathAt(install, inPod), onHost, `install: ${inPod} is the host's ${onHost}`);
  }
  // DirectoryOrCreate makes them 0755: root's state is 0700 before the daemon or any hook runs.
  t.match(script, /chmod 0700 \/host\/run\/agentcgroup \/host\/var\/lib\/agentcgroup/, 'run and call log dirs made 0700');
  const unit = install.volumeMounts.find((m) => m.mountPath === '/host/etc/systemd/system');
  t.ok(unit && volumes.get(unit.name)?.emptyDir, 'the systemd unit goes to a throwaway volume: the daemon is the pod');
  t.equal(install.securityContext?.privileged, true);
  t.notOk(install.volumeMounts.some((m) => m.mountPath.startsWith('/host/etc/containerd')), 'no containerd directory mounted (nor made on CRI-O nodes): the host reads its own');

  t.same(daemon.command.slice(0, 5), ['nsenter', '--target', '1', '--cgroup', '--'], "the host's cgroup namespace");
  t.same(daemon.command.slice(5), ['/opt/agentcgroup/agentcgroup', 'daemon']);
  for (const [inPod, onHost] of <[string, string][]>[
    ['/sys/fs/cgroup', '/sys/fs/cgroup'],
    ['/run/agentcgroup', '/run/agentcgroup'],
    ['/var/lib/agentcgroup', '/var/lib/agentcgroup'],
    ['/etc/agentcgroup', '/etc/agentcgroup'],
  ]) {
    t.equal(hostPathAt(daemon, inPod), onHost, `daemon: ${inPod} is the host's`);
  }
  t.equal(daemon.volumeMounts.find((m) => m.mountPath === '/etc/agentcgroup')?.readOnly, true, 'the policy read-only');
  t.equal(daemon.securityContext?.privileged, true);
  const used = new Set([...install.volumeMounts, ...daemon.volumeMounts].map((m) => m.name));
  t.same([...volumes.keys()].filter((v) => !used.has(v)), [], 'no volume unused');
});

t.test('the paths agree with the code: policy default, run dir, exec socket, hooks.d', async (t) => {
  const policy = readFileSync('config/policy.yaml', 'utf8');
  t.match(policy, /^ {2}run_dir: \/run\/agentcgroup$/m);
  t.match(policy, /^ {2}call_log_dir: \/var\/lib\/agentcgroup\/calls$/m);
  t.match(readFileSync('install.sh', 'utf8'), /hooks_dir="\$root\/usr\/share\/containers\/oci\/hooks\.d"/);
  t.match(readFileSync('deploy/Dockerfile', 'utf8'), /COPY dist\/agentcgroup install\.sh \/opt\/agentcgroup\//);
});

/** The init container's containerd step, run with nsenter standing in (the CLI on `root` in place of the host's /) and systemctl logging. */
function containerdStep(t: Test, files: Record<string, string>) {
  const dir = t.testdir({ root: {}, bin: {} });
  const root = join(dir, 'root');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  const [cmd, args] = cliCommand([]);
  // nsenter OPTIONS -- /usr/local/bin/agentcgroup install-config containerd register / ...: ROOT becomes the test's root.
  writeFileSync(join(dir, 'bin/nsenter'), `#!/bin/bash\nwhile [ "$1" != -- ]; do shift; done\na=("\${@:3}")\na[3]=${root}\nexec ${[cmd, ...args].join(' ')} "\${a[@]}"\n`, { mode: 0o755 });
  writeFileSync(join(dir, 'bin/systemctl'), `#!/bin/sh\necho "$@" >> ${join(dir, 'systemctl.log')}\n`, { mode: 0o755 });
  const install = (byKind('DaemonSet')[0] as Doc & { spec: { template: { spec: { initContainers: Container[] } } } }).spec.template.spec.initContainers[0];
  const script = install?.command[2] ?? '';
  const step = script.slice(script.indexOf('restart=()'), script.lastIndexOf('fi') + 2).replaceAll('/dev/termination-log', join(dir, 'termination-log'));
  const r = spawnSync('bash', ['-ec', step], { encoding: 'utf8', env: { ...process.env, RESTART_CONTAINERD: 'true', PATH: `${join(dir, 'bin')}:/usr/bin:/bin` } });
  const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : '');
  return { ...r, root, restarts: read('systemctl.log'), termination: read('termination-log') };
}

t.test('the init container: a k3s node gets its template and k3s-agent restarted; a node it cannot handle, one line and no crash loop', async (t) => {
  const k3s = containerdStep(t, { '/var/lib/rancher/k3s/agent/etc/containerd/config.toml': 'version = 3\n' });
  t.equal(k3s.status, 0, k3s.stderr);
  t.match(k3s.stdout, /^containerd node: k3s agent, containerd config version 3/);
  t.ok(existsSync(join(k3s.root, 'var/lib/rancher/k3s/agent/etc/containerd/config-v3.toml.tmpl')));
  t.equal(k3s.restarts, 'restart k3s-agent\n');
  t.equal(k3s.termination, '');

  const none = containerdStep(t, { '/etc/containerd/config.toml': 'disabled_plugins = ["cri"]\n' });
  t.equal(none.status, 0, 'the pod goes on: hooks.d and the daemon still serve');
  t.equal(none.stdout, "agentcgroup: no containerd runtime registered on this node: /etc/containerd/config.toml disables containerd's CRI plugin (disabled_plugins): kubelet runs no pods through this containerd\n");
  t.equal(none.termination, none.stdout, "and in the pod's status");
  t.equal(none.restarts, '');
});
