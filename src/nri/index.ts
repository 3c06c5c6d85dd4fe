/**
 * What the daemon uses of src/nri/: the plugin, the handler it implements, and the message types the
 * handler sees. Only the daemon imports this (lazily, as it imports itself): hooks and the runtime
 * shim must not pay for protobuf at start-up (test/unit/nri/loading.test.ts checks).
 */
export { NriPlugin, DEFAULT_LIMITS, type NriLimits, type NriLog, type NriPluginOptions, type PluginState } from './plugin.js';
export type { AdjustmentInit, Awaitable, CreateDecision, NriHandler, RuntimeInfo, StateEvent, UpdateInit } from './handler.js';
export { DEFAULT_EVENTS, eventNames } from './events.js';
export { ContainerState, Event, type Container, type ContainerUpdate, type LinuxResources, type PodSandbox } from './gen/api_pb.js';
export { Code, DEFAULT_SOCKET_PATH, TtrpcError } from './wire.js';
