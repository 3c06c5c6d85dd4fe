// deploy/kubernetes: the manifests parse, hold what the README says, grant no RBAC, and mount every
// host path install.sh --root /host and the daemon use. (No cluster here: structure only.)
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
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
  t.match(script, /flags\+=\(--containerd\)/, 'containerd nodes get the shim');
  // Everything install.sh writes under --root /host must be the host's own directory.
  for (const [inPod, onHost] of <[string, string][]>[
    ['/host/usr/local/bin', '/usr/local/bin'],
    ['/host/usr/share/containers/oci/hooks.d', '/usr/share/containers/oci/hooks.d'],
    ['/host/etc/agentcgroup', '/etc/agentcgroup'],
    ['/host/etc/containerd', '/etc/containerd'],
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
