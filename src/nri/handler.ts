/**
 * What the daemon implements to be an NRI plugin: decisions only. The plugin decodes the runtime's
 * messages, hands the handler typed ones, encodes what it returns and answers in time; the handler
 * never sees bytes, a socket or a deadline. Each method may return at once or a promise; a throw or
 * rejection is answered to the runtime as an error (or, with `failOpen`, as "no change") and costs
 * neither the connection nor the daemon.
 *
 * Do not call NriPlugin.updateContainers from inside a handler: the runtime holds its plugin lock while
 * it waits for our answer, and UpdateContainers waits for that lock.
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { Container, ContainerAdjustmentSchema, ContainerUpdateSchema, Event, LinuxResources, PodSandbox } from './gen/api_pb.js';

export type Awaitable<T> = T | Promise<T>;

/** A ContainerAdjustment as a plain object: mounts, annotations, env, OCI hooks, linux resources... */
export type AdjustmentInit = MessageInitShape<typeof ContainerAdjustmentSchema>;
/** A ContainerUpdate (another container's new resources) as a plain object. */
export type UpdateInit = MessageInitShape<typeof ContainerUpdateSchema>;

/** What the runtime said of itself in Configure. */
export interface RuntimeInfo {
  name: string;
  version: string;
  /** The plugin's own configuration from the runtime's NRI config, if any (empty for us, usually). */
  config: string;
  /** What the runtime waits for an answer and for registration, in ms. */
  requestTimeoutMs: number;
  registrationTimeoutMs: number;
}

export interface CreateDecision {
  adjust?: AdjustmentInit;
  update?: UpdateInit[];
}

/** A pod or container event the runtime only reports (StateChange). */
export interface StateEvent {
  event: Event;
  pod: PodSandbox;
  /** Absent for pod events. */
  container: Container | undefined;
}

export interface NriHandler {
  /** The runtime we are registered with; called once per connection, before synchronize. */
  configure?(runtime: RuntimeInfo): void;
  /** Every pod and container the runtime has, once per connection (after a restart too). */
  synchronize(pods: PodSandbox[], containers: Container[]): Awaitable<UpdateInit[]>;
  /** The container is about to be created: how to adjust it, and other containers to update. */
  createContainer(pod: PodSandbox, container: Container): Awaitable<CreateDecision>;
  /** The container's resources are about to change to `resources`: updates to ask for instead or besides. */
  updateContainer(pod: PodSandbox, container: Container, resources: LinuxResources | undefined): Awaitable<UpdateInit[]>;
  /** The container is being stopped: updates to other containers, if any. */
  stopContainer(pod: PodSandbox, container: Container): Awaitable<UpdateInit[]>;
  /** Any other subscribed event (RunPodSandbox, PostCreateContainer, StartContainer, ...). */
  stateChange(event: StateEvent): Awaitable<void>;
  /** The runtime is shutting down; the plugin will connect again when it is back. */
  shutdown(): void;
}
