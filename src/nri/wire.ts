/**
 * The numbers of NRI's wire, each from the Go source that defines it (NRI 0.8.0 and ttrpc 1.2.7 as
 * Debian ships them: golang-github-containerd-nri-dev, golang-github-containerd-ttrpc-dev). Nothing
 * here is ours to choose: a runtime speaks exactly these.
 */

/** ttrpc channel.go: length uint32 BE, stream id uint32 BE, type byte, flags byte. */
export const TTRPC_HEADER = 10;
/** ttrpc channel.go `messageLengthMax`: a longer message is refused (and its bytes discarded). */
export const TTRPC_MAX = 4 << 20;

/** ttrpc channel.go `messageType`. */
export const MessageType = { Request: 1, Response: 2, Data: 3 } as const;

/** NRI pkg/net/multiplex/mux.go: conn id uint32 BE, payload length uint32 BE. */
export const MUX_HEADER = 8;
/** mux.go `maxPayloadSize`: one ttrpc message, header included; a longer write is split. */
export const MUX_MAX_PAYLOAD = TTRPC_HEADER + TTRPC_MAX;

/**
 * multiplex/ttrpc.go: conn 1 carries the plugin's ttrpc server (the runtime calls the Plugin service
 * there: Configure, Synchronize, CreateContainer...), conn 2 the runtime's (the plugin calls
 * RegisterPlugin and UpdateContainers there). Conn 0 is reserved. The stub (pkg/stub/stub.go)
 * listens on PluginServiceConn and dials RuntimeServiceConn; the runtime (pkg/adaptation/plugin.go)
 * the other way round.
 */
export const PLUGIN_SERVICE_CONN = 1;
export const RUNTIME_SERVICE_CONN = 2;

/** gRPC status codes, as ttrpc carries them in a Response's status. */
export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

/** What a ttrpc call failed with: the peer's status, or ours for a call that timed out or was cut off. */
export class TtrpcError extends Error {
  readonly code: number;

  constructor(code: number, message: string) {
    super(message);
    this.name = 'TtrpcError';
    this.code = code;
  }
}

/** NRI api/timeouts.go: what the runtime waits for a plugin, unless its Configure says otherwise. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 2000;
export const DEFAULT_REGISTRATION_TIMEOUT_MS = 5000;

/** NRI api.DefaultSocketPath. */
export const DEFAULT_SOCKET_PATH = '/var/run/nri/nri.sock';
