// The CRI test client against a stand-in runtime: a grpc-js server of the same api.proto on a unix
// socket, which decodes what arrives on its own terms (int64 as strings, enums by name) and answers
// as containerd would. What the real containerd 2.1 makes of the calls is for the guest (cri.ts).
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { loadSync, type ServiceDefinition } from '@grpc/proto-loader';
import { CRI_PROTO, CriClient, envs } from '../../integration/cri/client.js';
import type { ContainerConfig, PodSandboxConfig } from '../../integration/cri/types.js';

type Received = { method: string; request: Record<string, unknown> };

const MiB = 1 << 20;

/** Canned replies, by method; a method not here answers with its empty message. */
const REPLIES: Record<string, object> = {
  Version: { version: '0.1.0', runtime_name: 'containerd', runtime_version: 'v2.1.9', runtime_api_version: 'v1' },
  RunPodSandbox: { pod_sandbox_id: 'p'.repeat(64) },
  CreateContainer: { container_id: 'c'.repeat(64) },
  ExecSync: { stdout: Buffer.from('0::/tools/cat-x-abcdef\n'), stderr: Buffer.alloc(0), exit_code: 0 },
  ContainerStatus: {
    status: { id: 'c'.repeat(64), state: 'CONTAINER_RUNNING', resources: { linux: { memory_limit_in_bytes: String(512 * MiB) } } },
    info: { info: '{"pid":42}' },
  },
  ListContainers: { containers: [{ id: 'c'.repeat(64), pod_sandbox_id: 'p'.repeat(64), state: 'CONTAINER_EXITED' }] },
  ListPodSandbox: { items: [] },
  ImageStatus: { image: { id: 'sha256:abc', repo_tags: ['localhost/agentcgroup-it/busybox:1'], pinned: false } },
};

async function standIn(t: Test): Promise<{ client: CriClient; received: Received[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'agentcg-cri-'));
  const socket = join(dir, 'cri.sock');
  const pkg = loadSync(CRI_PROTO, { keepCase: true, longs: String, enums: String, defaults: false });
  const received: Received[] = [];
  const server = new Server();
  for (const name of ['RuntimeService', 'ImageService']) {
    const service = pkg[`runtime.v1.${name}`] as ServiceDefinition;
    const impl: UntypedServiceImplementation = {};
    for (const method of Object.keys(service)) {
      impl[method] = (call: ServerUnaryCall<Record<string, unknown>, object>, reply: sendUnaryData<object>) => {
        received.push({ method, request: call.request });
        if (method === 'RemoveContainer') reply({ code: status.NOT_FOUND, details: 'container "x" not found' });
        else reply(null, REPLIES[method] ?? {});
      };
    }
    server.addService(service, impl);
  }
  await new Promise<void>((done, fail) => server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (err) => (err ? fail(err) : done())));
  const client = new CriClient(socket);
  t.teardown(() => {
    client.close();
    server.forceShutdown();
    rmSync(dir, { recursive: true, force: true });
  });
  return { client, received };
}

const pod: PodSandboxConfig = {
  metadata: { name: 'agent', uid: 'u-1', namespace: 'it' },
  log_directory: '/tmp/pods/agent',
  dns_config: { servers: ['127.0.0.1'] },
  annotations: { 'io.agentcgroup.enable': 'true' },
  linux: { cgroup_parent: '/agentcgroup-it/pod-u-1', security_context: { namespace_options: { network: 'NODE', pid: 'CONTAINER' } } },
};

const container: ContainerConfig = {
  metadata: { name: 'agent' },
  image: { image: 'localhost/agentcgroup-it/busybox:1' },
  command: ['/bin/sleep'],
  args: ['3600'],
  envs: envs({ PATH: '/bin' }),
  mounts: [{ container_path: '/share', host_path: '/tmp/share', readonly: true }],
  annotations: { 'io.kubernetes.container.name': 'agent' },
  log_path: 'agent_0.log',
  linux: { resources: { memory_limit_in_bytes: 256 * MiB } },
};

t.test('requests arrive as kubelet sends them', async (t) => {
  const { client, received } = await standIn(t);
  const version = await client.version();
  t.same(version, REPLIES.Version, 'Version: the reply as sent');
  t.equal(await client.runPodSandbox(pod, 'agentcgroup'), 'p'.repeat(64), 'RunPodSandbox: the pod id');
  t.equal(await client.createContainer('p'.repeat(64), container, pod), 'c'.repeat(64), 'CreateContainer: the container id');
  await client.startContainer('c'.repeat(64));
  await client.updateContainerResources('c'.repeat(64), { memory_limit_in_bytes: 512 * MiB });
  await client.stopContainer('c'.repeat(64), 5);
  await client.stopPodSandbox('p'.repeat(64));
  await client.removePodSandbox('p'.repeat(64));
  const by = (m: string) => received.find((r) => r.method === m)?.request ?? {};

  t.same(by('Version'), { version: 'v1' });
  t.match(by('RunPodSandbox'), {
    runtime_handler: 'agentcgroup',
    config: {
      metadata: { name: 'agent', uid: 'u-1', namespace: 'it' },
      annotations: { 'io.agentcgroup.enable': 'true' },
      dns_config: { servers: ['127.0.0.1'] },
      linux: { cgroup_parent: '/agentcgroup-it/pod-u-1', security_context: { namespace_options: { network: 'NODE', pid: 'CONTAINER' } } },
    },
  }, 'RunPodSandbox: handler, annotations, cgroup parent, host network');
  const created = by('CreateContainer') as { pod_sandbox_id: string; config: Record<string, unknown>; sandbox_config: Record<string, unknown> };
  t.equal(created.pod_sandbox_id, 'p'.repeat(64));
  t.match(created.config, {
    image: { image: 'localhost/agentcgroup-it/busybox:1' },
    command: ['/bin/sleep'],
    args: ['3600'],
    mounts: [{ container_path: '/share', host_path: '/tmp/share', readonly: true }],
    linux: { resources: { memory_limit_in_bytes: String(256 * MiB) } },
  }, 'CreateContainer: image, command, mount, memory limit as an int64');
  t.same((created.config.envs as { key: string; value: Buffer }[]).map((e) => [e.key, e.value.toString()]), [['PATH', '/bin']], 'envs: bytes values');
  t.match(created.sandbox_config, { metadata: { uid: 'u-1' } }, 'the pod config goes along');
  t.same(by('StartContainer'), { container_id: 'c'.repeat(64) });
  t.same(by('UpdateContainerResources'), { container_id: 'c'.repeat(64), linux: { memory_limit_in_bytes: String(512 * MiB) } });
  t.same(by('StopContainer'), { container_id: 'c'.repeat(64), timeout: '5' });
  t.same(by('StopPodSandbox'), { pod_sandbox_id: 'p'.repeat(64) });
  t.same(by('RemovePodSandbox'), { pod_sandbox_id: 'p'.repeat(64) });
});

t.test('replies read back: bytes, int64, enums, maps; absent fields as defaults', async (t) => {
  const { client, received } = await standIn(t);
  const exec = await client.execSync('c'.repeat(64), ['cat', '/proc/self/cgroup'], 30);
  t.equal(exec.stdout.toString(), '0::/tools/cat-x-abcdef\n', 'ExecSync stdout as bytes');
  t.equal(exec.exit_code, 0);
  t.match(received.at(-1)?.request, { cmd: ['cat', '/proc/self/cgroup'], timeout: '30' }, 'ExecSync: command and timeout');
  const st = await client.containerStatus('c'.repeat(64), true);
  t.equal(st.status?.state, 'CONTAINER_RUNNING', 'state by name');
  t.equal(st.status?.resources?.linux?.memory_limit_in_bytes, 512 * MiB, 'int64 as a number');
  t.equal(st.status?.exit_code, 0, 'an absent field is its default');
  t.same(st.info, { info: '{"pid":42}' }, 'verbose info');
  t.match(received.at(-1)?.request, { verbose: true });
  t.same((await client.listContainers({ pod_sandbox_id: 'p'.repeat(64) })).map((k) => k.state), ['CONTAINER_EXITED']);
  t.match(received.at(-1)?.request, { filter: { pod_sandbox_id: 'p'.repeat(64) } }, 'ListContainers: the filter');
  t.same(await client.listPodSandbox({ id: 'p' }), []);
  t.match(await client.imageStatus('localhost/agentcgroup-it/busybox:1'), { repo_tags: ['localhost/agentcgroup-it/busybox:1'] }, 'ImageStatus: the image');
  t.match(received.at(-1), { method: 'ImageStatus', request: { image: { image: 'localhost/agentcgroup-it/busybox:1' } } });
});

t.test('a runtime error names the call, the status and the message', async (t) => {
  const { client } = await standIn(t);
  await t.rejects(client.removeContainer('x'), { message: 'CRI RemoveContainer: NOT_FOUND container "x" not found' });
});

t.test('nothing listening: the call fails within its deadline', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'agentcg-cri-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const client = new CriClient(join(dir, 'none.sock'), { timeoutMs: 2000 });
  t.teardown(() => client.close());
  await t.rejects(client.version(), { message: /^CRI Version: (UNAVAILABLE|DEADLINE_EXCEEDED)/ });
});
