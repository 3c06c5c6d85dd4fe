// deploy/kubernetes: the manifests parse, hold what the README says, grant no RBAC, and mount every
// host path install.sh --root /host and the daemon use; deploy/kubernetes-nri is that base for NRI
// nodes. (No cluster here: structure only.)
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cliCommand } from './runtime/cli-bundle.js';
import { parseAllDocuments } from 'yaml';

const DIR = 'deploy/kubernetes';
const NRI_DIR = 'deploy/kubernetes-nri';

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

/** Every document of one YAML file. */
function parseFile(path: string): Doc[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).map((d) => {
    if (d.errors.length > 0) throw new Error(`${path}: ${d.errors[0]?.message}`);
    return d.toJS() as Doc;
  });
}

const yamlFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.yaml'));
/** `*.example.yaml`: applied by hand where their kind exists (a CRD's), never by the kustomization. */
const isExample = (f: string) => f.endsWith('.example.yaml');
const docs: Doc[] = yamlFiles(DIR).filter((f) => !isExample(f)).flatMap((f) => parseFile(join(DIR, f)));
const examples: Doc[] = yamlFiles(DIR).filter(isExample).flatMap((f) => parseFile(join(DIR, f)));
const byKind = (kind: string) => docs.filter((d) => d.kind === kind);
type PodSpec = { initContainers: Container[]; containers: Container[]; volumes: Volume[] };
const podOf = (ds: Doc) => (ds as Doc & { spec: { template: { spec: PodSpec } } }).spec.template.spec;
const envOf = (c: Container | undefined) => Object.fromEntries((c?.env ?? []).map((e) => [e.name, e.value]));

t.test('the kinds, and kustomization lists every manifest', async (t) => {
  t.same(docs.map((d) => d.kind).sort(), ['DaemonSet', 'Kustomization', 'Namespace', 'RuntimeClass', 'Service', 'ServiceAccount']);
  const listed = (byKind('Kustomization')[0]?.resources as string[]).sort();
  t.same(listed, readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml' && !isExample(f)).sort(), 'every manifest but the examples');
  t.same(readdirSync(DIR).filter(isExample), ['servicemonitor.example.yaml'], 'the examples: a ServiceMonitor, whose CRD may not be there');
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
    ['/host/usr/local/lib/agentcgroup', '/usr/local/lib/agentcgroup'],
    ['/host/usr/share', '/usr/share'],
    ['/host/etc/containers/oci/hooks.d', '/etc/containers/oci/hooks.d'],
    ['/host/etc/agentcgroup', '/etc/agentcgroup'],
    ['/host/run/agentcgroup', '/run/agentcgroup'],
    ['/host/var/lib/agentcgroup', '/var/lib/agentcgroup'],
  ]) {
    t.equal(hostPathAt(install, inPod), onHost, `install: ${inPod} is the host's ${onHost}`);
  }
  // hooks.d: /usr/share as it is (never made: on a read-only /usr that would keep the pod from
  // starting), so install.sh sees whether it can write there; the admin directory made when missing.
  const volumeAt = (c: Container, mountPath: string) => volumes.get(c.volumeMounts.find((x) => x.mountPath === mountPath)?.name ?? '');
  t.equal(volumeAt(install, '/host/usr/share')?.hostPath?.type, 'Directory', '/usr/share mounted as it is, never made');
  t.equal(volumeAt(install, '/host/etc/containers/oci/hooks.d')?.hostPath?.type, 'DirectoryOrCreate');
  t.notOk(install.volumeMounts.find((m) => m.mountPath === '/host/usr/share')?.readOnly, 'writable where the host lets it be');
  t.notOk(
    pod.volumes.some((v) => v.hostPath?.type === 'DirectoryOrCreate' && v.hostPath.path.startsWith('/usr/') && !v.hostPath.path.startsWith('/usr/local/')),
    'nothing made under /usr but /usr/local (writable on image-based hosts too)',
  );
  // DirectoryOrCreate makes them 0755: root's state is 0700 before the daemon or any hook runs.
  t.match(script, /chmod 0700 \/host\/run\/agentcgroup \/host\/var\/lib\/agentcgroup/, 'run and call log dirs made 0700');
  const unit = install.volumeMounts.find((m) => m.mountPath === '/host/etc/systemd/system');
  t.ok(unit && volumes.get(unit.name)?.emptyDir, 'the systemd unit goes to a throwaway volume: the daemon is the pod');
  t.equal(install.securityContext?.privileged, true);
  t.notOk(install.volumeMounts.some((m) => m.mountPath.startsWith('/host/etc/containerd')), 'no containerd directory mounted (nor made on CRI-O nodes): the host reads its own');

  t.same(daemon.command.slice(0, 5), ['nsenter', '--target', '1', '--cgroup', '--'], "the host's cgroup namespace");
  t.same(daemon.command.slice(5), ['/opt/agentcgroup/agentcgroup', 'daemon', '--metrics-listen', '0.0.0.0:19464']);
  for (const [inPod, onHost] of <[string, string][]>[
    ['/sys/fs/cgroup', '/sys/fs/cgroup'],
    ['/run/agentcgroup', '/run/agentcgroup'],
    ['/var/lib/agentcgroup', '/var/lib/agentcgroup'],
    ['/etc/agentcgroup', '/etc/agentcgroup'],
  ]) {
    t.equal(hostPathAt(daemon, inPod), onHost, `daemon: ${inPod} is the host's`);
  }
  t.equal(daemon.volumeMounts.find((m) => m.mountPath === '/etc/agentcgroup')?.readOnly, true, 'the policy read-only');
  // The exec client: the daemon looks at it where the policy says and hands that path to the runtime,
  // which mounts it from the host: the same path on both sides.
  t.equal(hostPathAt(daemon, '/usr/local/lib/agentcgroup'), '/usr/local/lib/agentcgroup', "daemon: the exec client's directory is the host's");
  t.equal(daemon.volumeMounts.find((m) => m.mountPath === '/usr/local/lib/agentcgroup')?.readOnly, true, 'and only looked at');
  t.match(readFileSync('config/policy.yaml', 'utf8'), /^ {2}exec_client: \/usr\/local\/lib\/agentcgroup\/agentcgroup-exec$/m, 'the client the policy names by default');
  t.match(readFileSync('install.sh', 'utf8'), /^exec_client="\$root\/usr\/local\/lib\/agentcgroup\/agentcgroup-exec"$/m, 'where install.sh --root /host puts it');
  t.equal(daemon.securityContext?.privileged, true);

  // NRI: the daemon sees the runtime's socket directory (a socket made later too: the directory is
  // mounted, not the socket); the init container looks at it to decide on the runtime shim.
  t.match(readFileSync('config/policy.yaml', 'utf8'), /^ {2}socket: \/var\/run\/nri\/nri\.sock$/m, 'the socket the policy names by default');
  t.equal(hostPathAt(daemon, '/var/run/nri'), '/var/run/nri', "daemon: /var/run/nri is the host's");
  const nriVolume = volumes.get(daemon.volumeMounts.find((m) => m.mountPath === '/var/run/nri')?.name ?? '');
  t.equal(nriVolume?.hostPath?.type, 'DirectoryOrCreate', 'there before the runtime makes it: the daemon watches it');
  t.equal(hostPathAt(install, '/host/var/run/nri'), '/var/run/nri', "install: /host/var/run/nri is the host's");
  t.equal(install.volumeMounts.find((m) => m.mountPath === '/host/var/run/nri')?.readOnly, true, 'install only looks');
  t.match(script, /nri=\/host\/var\/run\/nri\/nri\.sock/, 'the socket the init container looks for');
  t.same(envOf(install), { RESTART_CONTAINERD: 'true', RUNTIME_SHIM: 'auto' }, 'the shim only where the node has no NRI; a restart where it is registered');
  // Hooks the daemon hands an NRI runtime (nri.carve hooks) run on the host: the binary install.sh put there.
  t.same(envOf(daemon), { AGENTCGROUP_HOOK_BINARY: '/usr/local/bin/agentcgroup' });
  t.match(readFileSync('install.sh', 'utf8'), /^bin="\$root\/usr\/local\/bin\/agentcgroup"$/m, 'where install.sh --root /host puts the binary');
  const used = new Set([...install.volumeMounts, ...daemon.volumeMounts].map((m) => m.name));
  t.same([...volumes.keys()].filter((v) => !used.has(v)), [], 'no volume unused');
});

t.test('the paths agree with the code: policy default, run dir, exec socket, hooks.d', async (t) => {
  const policy = readFileSync('config/policy.yaml', 'utf8');
  t.match(policy, /^ {2}run_dir: \/run\/agentcgroup$/m);
  t.match(policy, /^ {2}call_log_dir: \/var\/lib\/agentcgroup\/calls$/m);
  t.match(readFileSync('install.sh', 'utf8'), /^usr_hooks_dir="\$root\/usr\/share\/containers\/oci\/hooks\.d"$/m);
  t.match(readFileSync('install.sh', 'utf8'), /^etc_hooks_dir="\$root\/etc\/containers\/oci\/hooks\.d"$/m);
  t.match(readFileSync('deploy/Dockerfile', 'utf8'), /COPY dist\/agentcgroup install\.sh \/opt\/agentcgroup\//);
});

/** A node for the init container's runtime step: files under its root, whether its runtime listens on NRI, env over the manifest's. */
interface InitNode {
  files?: Record<string, string>;
  nri?: boolean;
  env?: Record<string, string>;
}

/**
 * The init container's step after install.sh (the runtime shim or NRI), run with nsenter standing in
 * (logged, then the CLI on `root` in place of the host's /), systemctl logging, and a directory of our
 * own in place of the host's /var/run/nri: a real socket in it when the node's runtime has NRI.
 */
async function initStep(t: Test, node: InitNode) {
  const dir = t.testdir({ root: {}, bin: {} });
  const root = join(dir, 'root');
  for (const [path, text] of Object.entries(node.files ?? {})) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  // A unix socket's address holds 108 bytes; tap's test directories are longer.
  const nriDir = mkdtempSync(join(tmpdir(), 'ac-nri-'));
  const server = createServer();
  t.teardown(() => {
    if (server.listening) server.close();
    rmSync(nriDir, { recursive: true, force: true });
  });
  if (node.nri) await new Promise<void>((resolve) => server.listen(join(nriDir, 'nri.sock'), resolve));
  const [cmd, args] = cliCommand([]);
  // nsenter OPTIONS -- /usr/local/bin/agentcgroup install-config containerd register / ...: ROOT becomes the test's root.
  writeFileSync(join(dir, 'bin/nsenter'), `#!/bin/bash\necho "$@" >> ${join(dir, 'nsenter.log')}\nwhile [ "$1" != -- ]; do shift; done\na=("\${@:3}")\na[3]=${root}\nexec ${[cmd, ...args].join(' ')} "\${a[@]}"\n`, { mode: 0o755 });
  writeFileSync(join(dir, 'bin/systemctl'), `#!/bin/sh\necho "$@" >> ${join(dir, 'systemctl.log')}\n`, { mode: 0o755 });
  const install = podOf(byKind('DaemonSet')[0] as Doc).initContainers[0];
  const script = install?.command[2] ?? '';
  const step = script
    .slice(script.indexOf('\n', script.indexOf('/opt/agentcgroup/install.sh')) + 1)
    .replaceAll('/host/var/run/nri', nriDir)
    .replaceAll('/dev/termination-log', join(dir, 'termination-log'));
  if (step.includes('/host/')) throw new Error(`the step reaches the host: ${step}`);
  const r = spawnSync('bash', ['-ec', step], { encoding: 'utf8', env: { ...process.env, ...envOf(install), ...node.env, PATH: `${join(dir, 'bin')}:/usr/bin:/bin` } });
  const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : '');
  return { ...r, root, nsenter: read('nsenter.log'), restarts: read('systemctl.log'), termination: read('termination-log') };
}

const K3S = { '/var/lib/rancher/k3s/agent/etc/containerd/config.toml': 'version = 3\n' };
const K3S_TEMPLATE = 'var/lib/rancher/k3s/agent/etc/containerd/config-v3.toml.tmpl';
const REGISTER = '--target 1 --mount --uts --ipc --net --pid -- /usr/local/bin/agentcgroup install-config containerd register / --restart\n';
const NRI_LINE = "agentcgroup: the daemon serves this node as its runtime's NRI plugin (/var/run/nri/nri.sock): no runtime shim, no config.toml edit, no containerd restart\n";

t.test('the init container: a k3s node gets its template and k3s-agent restarted; a node it cannot handle, one line and no crash loop', async (t) => {
  const k3s = await initStep(t, { files: K3S });
  t.equal(k3s.status, 0, k3s.stderr);
  t.equal(k3s.nsenter, REGISTER, 'no NRI socket (RUNTIME_SHIM auto): the runtime shim registered on the host');
  t.match(k3s.stdout, /^containerd node: k3s agent, containerd config version 3/);
  t.ok(existsSync(join(k3s.root, K3S_TEMPLATE)));
  t.equal(k3s.restarts, 'restart k3s-agent\n');
  t.equal(k3s.termination, '');

  const none = await initStep(t, { files: { '/etc/containerd/config.toml': 'disabled_plugins = ["cri"]\n' } });
  t.equal(none.status, 0, 'the pod goes on: hooks.d and the daemon still serve');
  t.equal(none.stdout, "agentcgroup: no containerd runtime registered on this node: /etc/containerd/config.toml disables containerd's CRI plugin (disabled_plugins): kubelet runs no pods through this containerd\n");
  t.equal(none.termination, none.stdout, "and in the pod's status");
  t.equal(none.restarts, '');
});

t.test('the init container: where the runtime has NRI, no runtime shim, no config edit, no restart (RUNTIME_SHIM auto, never, always)', async (t) => {
  const nri = await initStep(t, { files: K3S, nri: true });
  t.equal(nri.status, 0, nri.stderr);
  t.equal(nri.stdout, NRI_LINE, 'one line says so');
  t.equal(nri.nsenter, '', 'nothing run on the host');
  t.notOk(existsSync(join(nri.root, K3S_TEMPLATE)), 'no containerd config written');
  t.equal(nri.restarts, '');
  t.equal(nri.termination, '');

  const never = await initStep(t, { files: K3S, env: { RUNTIME_SHIM: 'never' } });
  t.equal(never.status, 0, never.stderr);
  t.equal(never.stdout, 'agentcgroup: RUNTIME_SHIM=never: no runtime shim; the daemon registers as the runtime\'s NRI plugin once /var/run/nri/nri.sock appears\n', 'no socket yet: the daemon waits for it');
  t.equal(never.nsenter, '');
  t.equal(never.restarts, '');
  const neverNri = await initStep(t, { files: K3S, nri: true, env: { RUNTIME_SHIM: 'never' } });
  t.equal(neverNri.stdout, NRI_LINE);
  t.equal(neverNri.nsenter, '');

  const always = await initStep(t, { files: K3S, nri: true, env: { RUNTIME_SHIM: 'always' } });
  t.equal(always.status, 0, always.stderr);
  t.equal(always.nsenter, REGISTER, 'the shim as well, NRI or not');
  t.ok(existsSync(join(always.root, K3S_TEMPLATE)));
  t.equal(always.restarts, 'restart k3s-agent\n');

  const keep = await initStep(t, { files: K3S, env: { RESTART_CONTAINERD: 'false' } });
  t.equal(keep.nsenter, REGISTER.replace(' --restart', ''), 'RESTART_CONTAINERD false: registered, the restart left to the operator');
  t.equal(keep.restarts, '');

  const typo = await initStep(t, { files: K3S, nri: true, env: { RUNTIME_SHIM: 'yes' } });
  t.equal(typo.status, 1, 'a value the manifest should not hold fails the pod, saying why');
  t.equal(typo.termination, 'agentcgroup: RUNTIME_SHIM is "yes": auto, always or never\n');
  t.equal(typo.nsenter, '');
});

/**
 * Strategic merge as kustomize applies it, for what our patches use: maps merged key by key, lists of
 * named entries (containers, env) merged by name; any other list in a patch is refused, not guessed at.
 */
function strategicMerge(base: unknown, patch: unknown, at = ''): unknown {
  const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const named = (v: unknown): v is { name: string } => isMap(v) && typeof v.name === 'string';
  if (Array.isArray(patch)) {
    if (!Array.isArray(base) || !patch.every(named) || !base.every(named)) throw new Error(`${at}: not a list merged by name`);
    const merged = base.map((b) => {
      const p = patch.find((x) => x.name === b.name);
      return p ? strategicMerge(b, p, `${at}[${b.name}]`) : b;
    });
    return [...merged, ...patch.filter((p) => !base.some((b) => b.name === p.name))];
  }
  if (!isMap(patch) || !isMap(base)) return patch;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) out[k] = k in base ? strategicMerge(base[k], v, `${at}.${k}`) : v;
  return out;
}

/** deploy/kubernetes-nri as kustomize builds it: the base's resources, each patch applied to the one resource it names. */
function buildNriVariant(): Doc[] {
  const k = parseFile(join(NRI_DIR, 'kustomization.yaml'))[0] as Doc & { resources: string[]; patches: { path: string }[] };
  let out = k.resources.flatMap((dir) => {
    const base = parseFile(join(NRI_DIR, dir, 'kustomization.yaml'))[0] as Doc & { resources: string[] };
    return base.resources.flatMap((f) => parseFile(join(NRI_DIR, dir, f)));
  });
  for (const { path } of k.patches) {
    for (const patch of parseFile(join(NRI_DIR, path))) {
      const same = (d: Doc) => d.kind === patch.kind && d.metadata.name === patch.metadata.name;
      if (out.filter(same).length !== 1) throw new Error(`${path}: ${patch.kind} ${patch.metadata.name} is not one resource of the base`);
      out = patch.$patch === 'delete' ? out.filter((d) => !same(d)) : out.map((d) => (same(d) ? (strategicMerge(d, patch) as Doc) : d));
    }
  }
  return out;
}

t.test('deploy/kubernetes-nri: the base less its RuntimeClass, the init container never registering the shim', async (t) => {
  const k = parseFile(join(NRI_DIR, 'kustomization.yaml'))[0] as Doc & { resources: string[]; patches: { path: string }[] };
  t.equal(k.kind, 'Kustomization');
  t.same(k.resources, ['../kubernetes'], 'the base, whole: kustomize loads no single file from outside this directory');
  t.ok(statSync(join(NRI_DIR, '../kubernetes/kustomization.yaml')).isFile());
  t.same(k.patches.map((p) => p.path).sort(), yamlFiles(NRI_DIR).filter((f) => f !== 'kustomization.yaml').sort(), 'every other file is a patch, and every patch is there');

  const built = buildNriVariant();
  t.same(built.map((d) => d.kind).sort(), ['DaemonSet', 'Namespace', 'Service', 'ServiceAccount'], 'no RuntimeClass: pods opt in by annotation alone (the metrics Service as in the base)');
  const ds = built.find((d) => d.kind === 'DaemonSet') as Doc;
  const base = byKind('DaemonSet')[0] as Doc;
  t.same(envOf(podOf(ds).initContainers[0]), { ...envOf(podOf(base).initContainers[0]), RUNTIME_SHIM: 'never' }, 'RUNTIME_SHIM never, the rest as in the base');
  // Apart from that one value, the DaemonSet is the base's: the same mounts, the daemon on /var/run/nri.
  const back = structuredClone(ds);
  for (const e of podOf(back).initContainers[0]?.env ?? []) if (e.name === 'RUNTIME_SHIM') e.value = 'auto';
  t.same(back, base, 'nothing else changed');
  for (const d of built.filter((d) => d.kind !== 'DaemonSet')) t.same(d, docs.find((b) => b.kind === d.kind), `${d.kind} as in the base`);
});

const kubectl = (process.env.PATH ?? '').split(':').some((d) => d !== '' && existsSync(join(d, 'kubectl')));
t.test('deploy/kubernetes-nri built by the real kustomize (kubectl kustomize), where kubectl is installed', { skip: kubectl ? false : 'no kubectl on PATH' }, async (t) => {
  const r = spawnSync('kubectl', ['kustomize', NRI_DIR], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  // kustomize puts a patched list entry first: the env compared by name.
  const byName = (docs: Doc[]) => {
    const out = structuredClone(docs).sort((a, b) => a.kind.localeCompare(b.kind));
    for (const d of out.filter((d) => d.kind === 'DaemonSet')) for (const c of podOf(d).initContainers) c.env?.sort((a, b) => a.name.localeCompare(b.name));
    return out;
  };
  t.same(byName(parseAllDocuments(r.stdout).map((d) => d.toJS() as Doc)), byName(buildNriVariant()), "the test's own build is kustomize's");
});

t.test('metrics: the daemon on its pod IP, a headless Service, and a ServiceMonitor example that finds it', async (t) => {
  const pod = podOf(byKind('DaemonSet')[0]!) as PodSpec & { hostNetwork?: boolean };
  t.notOk(pod.hostNetwork, "no hostNetwork: 0.0.0.0 is the pod's own addresses, not the node's");
  const daemon = pod.containers.find((c) => c.name === 'daemon') as Container & { ports?: { name: string; containerPort: number; hostPort?: number }[] };
  const listen = daemon.command[daemon.command.indexOf('--metrics-listen') + 1];
  t.same(daemon.ports, [{ name: 'metrics', containerPort: 19464, protocol: 'TCP' }], 'the port, and no hostPort');
  t.equal(listen, `0.0.0.0:${daemon.ports?.[0]?.containerPort}`);
  const svc = byKind('Service')[0] as Doc & { metadata: { labels: Record<string, string> }; spec: { clusterIP: string; selector: object; ports: { name: string; targetPort: string }[] } };
  t.equal(svc.spec.clusterIP, 'None', 'headless: one target per node');
  const ds = byKind('DaemonSet')[0] as Doc & { spec: { template: { metadata: { labels: object } } } };
  t.same(svc.spec.selector, ds.spec.template.metadata.labels, "the Service selects the daemon's pods");
  t.equal(svc.spec.ports[0]?.targetPort, 'metrics');
  const sm = examples.find((d) => d.kind === 'ServiceMonitor') as Doc & { spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string }[] } };
  t.equal(sm.apiVersion, 'monitoring.coreos.com/v1');
  t.equal(sm.metadata.namespace, 'agentcgroup');
  t.ok(Object.entries(sm.spec.selector.matchLabels).every(([k, v]) => svc.metadata.labels[k] === v), 'it selects the Service');
  t.same(sm.spec.endpoints.map((e) => [e.port, e.path]), [['metrics', '/metrics']]);
});
