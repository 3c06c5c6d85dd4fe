/**
 * The CRI messages the test client sends and reads, as @grpc/proto-loader presents them (field names as
 * in api.proto, int64 as number, enums by name, bytes as Buffer): only the fields the scenarios use. A
 * field left out of a request is its protobuf default, as it is for kubelet.
 */

export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';
export type ContainerState = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';
export type PodSandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';

export interface VersionResponse {
  version: string;
  runtime_name: string;
  runtime_version: string;
  runtime_api_version: string;
}

export interface NamespaceOption {
  network?: NamespaceMode;
  pid?: NamespaceMode;
  ipc?: NamespaceMode;
}

export interface LinuxContainerResources {
  cpu_period?: number;
  cpu_quota?: number;
  cpu_shares?: number;
  memory_limit_in_bytes?: number;
  memory_swap_limit_in_bytes?: number;
  oom_score_adj?: number;
  unified?: Record<string, string>;
}

export interface PodSandboxConfig {
  metadata: { name: string; uid: string; namespace: string; attempt?: number };
  hostname?: string;
  log_directory?: string;
  dns_config?: { servers?: string[]; searches?: string[]; options?: string[] };
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  linux?: {
    cgroup_parent?: string;
    security_context?: { namespace_options?: NamespaceOption };
    resources?: LinuxContainerResources;
  };
}

export interface Mount {
  container_path: string;
  host_path: string;
  readonly?: boolean;
}

export interface ContainerConfig {
  metadata: { name: string; attempt?: number };
  image: { image: string };
  command?: string[];
  args?: string[];
  working_dir?: string;
  /** KeyValue's value is `bytes` since cri-api 0.36 (a string before: the same bytes on the wire). */
  envs?: { key: string; value: Buffer }[];
  mounts?: Mount[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  log_path?: string;
  linux?: {
    resources?: LinuxContainerResources;
    security_context?: { namespace_options?: NamespaceOption };
  };
}

export interface ContainerStatus {
  id: string;
  state: ContainerState;
  exit_code: number;
  reason: string;
  annotations: Record<string, string>;
  mounts: Mount[];
  resources: { linux: LinuxContainerResources | null } | null;
}

export interface ContainerStatusResponse {
  status: ContainerStatus | null;
  /** With verbose: containerd's `info`, a JSON text (pid, runtimeSpec, ...). */
  info: Record<string, string>;
}

export interface Container {
  id: string;
  pod_sandbox_id: string;
  state: ContainerState;
  metadata: { name: string; attempt: number } | null;
}

export interface PodSandbox {
  id: string;
  state: PodSandboxState;
  runtime_handler: string;
}

export interface ExecSyncResponse {
  stdout: Buffer;
  stderr: Buffer;
  exit_code: number;
}

export interface Image {
  id: string;
  repo_tags: string[];
  pinned: boolean;
}
