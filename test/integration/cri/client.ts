/**
 * A CRI client for tests: the calls kubelet makes to a container runtime, over gRPC on the runtime's
 * unix socket, with the messages of the CRI's own api.proto (runtime.v1, loaded at run time by
 * @grpc/proto-loader: nothing generated to keep in step). Debian has no crictl; this is what stands in.
 */
import { resolve } from 'node:path';
import { Client, Metadata, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { loadSync, type ServiceDefinition } from '@grpc/proto-loader';
import type {
  Container, ContainerConfig, ContainerStatusResponse, ExecSyncResponse, Image, LinuxContainerResources, PodSandbox, PodSandboxConfig, VersionResponse,
} from './types.js';

/** The proto, from the checkout (scenarios and tests run from its root, as bundle.ts's CLI path assumes). */
export const CRI_PROTO = resolve('test/integration/cri/api.proto');

const SERVICES = ['RuntimeService', 'ImageService'] as const;
type Service = (typeof SERVICES)[number];

/** Generous: the guest's CPU is emulated, and RunPodSandbox starts a shim, runc and our hooks. */
const DEFAULT_TIMEOUT_MS = 180_000;
/** What a call that waits on the runtime (stop, exec) gets beyond its own timeout. */
const MARGIN_MS = 60_000;

export interface CriClientOptions {
  proto?: string;
  timeoutMs?: number;
}

export class CriClient {
  private readonly client: Client;
  private readonly services: Record<Service, ServiceDefinition>;
  private readonly timeoutMs: number;

  constructor(socket: string, options: CriClientOptions = {}) {
    // Field names as in the proto (the CRI's own spelling), int64 as number (the sizes here fit in 2^53),
    // enums by name, absent fields as their defaults so a reply reads the same whatever the runtime omits.
    const pkg = loadSync(options.proto ?? CRI_PROTO, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true });
    const service = (name: Service): ServiceDefinition => {
      const def = pkg[`runtime.v1.${name}`];
      if (def === undefined || 'format' in def) throw new Error(`${options.proto ?? CRI_PROTO} has no service runtime.v1.${name}`);
      return def as ServiceDefinition;
    };
    this.services = { RuntimeService: service('RuntimeService'), ImageService: service('ImageService') };
    this.client = new Client(`unix://${socket}`, credentials.createInsecure());
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** One unary call; rejects with the method, the gRPC status and the runtime's message. */
  private call<Res>(service: Service, method: string, request: object, timeoutMs = this.timeoutMs): Promise<Res> {
    const def = this.services[service][method];
    if (def === undefined) return Promise.reject(new Error(`CRI ${service} has no method ${method}`));
    return new Promise((done, fail) => {
      this.client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, request, new Metadata(), { deadline: Date.now() + timeoutMs }, (err: ServiceError | null, res?: object) => {
        if (err) fail(new Error(`CRI ${method}: ${status[err.code] ?? err.code} ${err.details}`));
        else done(res as Res);
      });
    });
  }

  version(): Promise<VersionResponse> {
    return this.call('RuntimeService', 'Version', { version: 'v1' });
  }

  async runPodSandbox(config: PodSandboxConfig, runtimeHandler: string): Promise<string> {
    const r = await this.call<{ pod_sandbox_id: string }>('RuntimeService', 'RunPodSandbox', { config, runtime_handler: runtimeHandler });
    return r.pod_sandbox_id;
  }

  async stopPodSandbox(podSandboxId: string): Promise<void> {
    await this.call('RuntimeService', 'StopPodSandbox', { pod_sandbox_id: podSandboxId });
  }

  async removePodSandbox(podSandboxId: string): Promise<void> {
    await this.call('RuntimeService', 'RemovePodSandbox', { pod_sandbox_id: podSandboxId });
  }

  async listPodSandbox(filter: { id?: string } = {}): Promise<PodSandbox[]> {
    return (await this.call<{ items: PodSandbox[] }>('RuntimeService', 'ListPodSandbox', { filter })).items;
  }

  /** `sandboxConfig` is the config the pod was run with, as kubelet passes it again. */
  async createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string> {
    const r = await this.call<{ container_id: string }>('RuntimeService', 'CreateContainer', { pod_sandbox_id: podSandboxId, config, sandbox_config: sandboxConfig });
    return r.container_id;
  }

  async startContainer(containerId: string): Promise<void> {
    await this.call('RuntimeService', 'StartContainer', { container_id: containerId });
  }

  /** SIGTERM (or the image's stop signal), then SIGKILL after `timeoutS` seconds. */
  async stopContainer(containerId: string, timeoutS: number): Promise<void> {
    await this.call('RuntimeService', 'StopContainer', { container_id: containerId, timeout: timeoutS }, timeoutS * 1000 + MARGIN_MS);
  }

  async removeContainer(containerId: string): Promise<void> {
    await this.call('RuntimeService', 'RemoveContainer', { container_id: containerId });
  }

  async listContainers(filter: { id?: string; pod_sandbox_id?: string } = {}): Promise<Container[]> {
    return (await this.call<{ containers: Container[] }>('RuntimeService', 'ListContainers', { filter })).containers;
  }

  containerStatus(containerId: string, verbose = false): Promise<ContainerStatusResponse> {
    return this.call('RuntimeService', 'ContainerStatus', { container_id: containerId, verbose });
  }

  async updateContainerResources(containerId: string, linux: LinuxContainerResources): Promise<void> {
    await this.call('RuntimeService', 'UpdateContainerResources', { container_id: containerId, linux });
  }

  /** Runs `cmd` in the container and waits for it, as a liveness probe or `kubectl exec` without a tty does. */
  execSync(containerId: string, cmd: string[], timeoutS = 60): Promise<ExecSyncResponse> {
    return this.call('RuntimeService', 'ExecSync', { container_id: containerId, cmd, timeout: timeoutS }, timeoutS * 1000 + MARGIN_MS);
  }

  /** The image as CRI knows it, or null when it does not. */
  async imageStatus(ref: string): Promise<Image | null> {
    return (await this.call<{ image: Image | null }>('ImageService', 'ImageStatus', { image: { image: ref } })).image;
  }

  close(): void {
    this.client.close();
  }
}

/** Environment variables as CreateContainer takes them. */
export function envs(vars: Readonly<Record<string, string>>): { key: string; value: Buffer }[] {
  return Object.entries(vars).map(([key, value]) => ({ key, value: Buffer.from(value) }));
}
