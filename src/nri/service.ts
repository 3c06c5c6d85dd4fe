/**
 * The Plugin service one connection serves (api.proto `service Plugin`): each method decodes what
 * the runtime sent, asks the handler within the deadline, and encodes the answer. The handler's
 * failures and lateness are answered here, as an error or (`failOpen`) as "no change"; the runtime
 * sees a status, the daemon sees one log line, nothing throws.
 */
import { type Raced, deadlineMs, race } from './deadline.js';
import { hasEvent } from './events.js';
import { Event, Plugin } from './gen/api_pb.js';
import type { Awaitable, NriHandler, RuntimeInfo } from './handler.js';
import { type Route, route } from './rpc.js';
import { SyncCollector } from './synccollect.js';
import type { Timers } from './timers.js';
import { Code, DEFAULT_REGISTRATION_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS, TtrpcError } from './wire.js';

export interface ServiceOptions {
  handler: NriHandler;
  /** The subscription, as sent in ConfigureResponse. */
  eventMask: number;
  /** Our own bound on a handler call, before the runtime's timeouts shorten it. */
  deadlineMs: number;
  /** Answer a failed or late handler as "no change" instead of an error. */
  failOpen: boolean;
  /** Handler calls still running (late ones included) beyond which a request is refused at once. */
  maxRunning: number;
  /** Bound on the requests of one split Synchronize, in bytes. */
  maxSyncBytes: number;
  timers: Timers;
  warn: (line: string) => void;
  /** Progress of the connection, for the plugin's state. */
  onConfigured: (runtime: RuntimeInfo) => void;
  onSynchronized: () => void;
}

type Call<T> = Promise<T | TtrpcError>;

const describe = (err: unknown) => (err instanceof Error ? err.message : String(err));

export function pluginRoutes(o: ServiceOptions): Route[] {
  let requestTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS;
  let running = 0;
  const sync = new SyncCollector(o.maxSyncBytes);

  /**
   * The handler's decision, or what to answer instead. `neutral` is the method's "no change" answer
   * for failOpen. A handler that finishes late still counts as running until it does, so handlers that
   * hang cannot pile up without bound.
   */
  const decide = async <T, A>(what: string, timeoutNano: bigint, work: () => Awaitable<T>, answer: (v: T) => A, neutral: A): Call<A> => {
    if (running >= o.maxRunning) return new TtrpcError(Code.RESOURCE_EXHAUSTED, `${running} handler calls still running`);
    const ms = deadlineMs(o.deadlineMs, requestTimeoutMs, timeoutNano);
    running++;
    const counted = async () => {
      try {
        return await work();
      } finally {
        running--;
      }
    };
    const r: Raced<T> = await race(counted, ms, o.timers);
    if (r.kind === 'done') return answer(r.value);
    const why = r.kind === 'late' ? `no decision in ${ms} ms` : `failed: ${describe(r.error)}`;
    o.warn(`NRI ${what}: handler ${why}${o.failOpen ? '; answered with no change' : ''}`);
    if (o.failOpen) return neutral;
    return new TtrpcError(r.kind === 'late' ? Code.DEADLINE_EXCEEDED : Code.UNKNOWN, `agentcgroup ${what}: ${why}`);
  };

  const missing = (what: string) => new TtrpcError(Code.INVALID_ARGUMENT, `${what} without its pod or container`);

  return [
    route(Plugin.method.configure, async (req) => {
      requestTimeoutMs = Number(req.requestTimeout) > 0 ? Number(req.requestTimeout) : DEFAULT_REQUEST_TIMEOUT_MS;
      const runtime: RuntimeInfo = {
        name: req.runtimeName,
        version: req.runtimeVersion,
        config: req.config,
        requestTimeoutMs,
        registrationTimeoutMs: Number(req.registrationTimeout) > 0 ? Number(req.registrationTimeout) : DEFAULT_REGISTRATION_TIMEOUT_MS,
      };
      sync.take();
      o.onConfigured(runtime);
      // A notification: its failure is logged, and the subscription is answered all the same (without
      // our event mask the runtime would subscribe us to everything).
      try {
        o.handler.configure?.(runtime);
      } catch (err) {
        o.warn(`NRI Configure: handler failed: ${describe(err)}`);
      }
      return { events: o.eventMask };
    }),

    route(Plugin.method.synchronize, async (req, call) => {
      if (!sync.add(req.pods, req.containers, call.payload.length)) {
        return new TtrpcError(Code.RESOURCE_EXHAUSTED, `Synchronize larger than ${o.maxSyncBytes} bytes`);
      }
      // Go's stub answers each part `more: true` and the last one with the updates.
      if (req.more) return { more: true };
      const { pods, containers } = sync.take();
      const r = await decide('Synchronize', call.timeoutNano, () => o.handler.synchronize(pods, containers), (update) => ({ update }), { update: [] });
      if (!(r instanceof TtrpcError)) o.onSynchronized();
      return r;
    }),

    route(Plugin.method.shutdown, async () => {
      try {
        o.handler.shutdown();
      } catch (err) {
        o.warn(`NRI Shutdown: handler failed: ${describe(err)}`);
      }
      return {};
    }),

    route(Plugin.method.createContainer, async (req, call) => {
      const { pod, container } = req;
      if (!pod || !container) return missing('CreateContainer');
      return decide('CreateContainer', call.timeoutNano, () => o.handler.createContainer(pod, container), (d) => d, {});
    }),

    route(Plugin.method.updateContainer, async (req, call) => {
      const { pod, container } = req;
      if (!pod || !container) return missing('UpdateContainer');
      return decide('UpdateContainer', call.timeoutNano, () => o.handler.updateContainer(pod, container, req.linuxResources), (update) => ({ update }), { update: [] });
    }),

    route(Plugin.method.stopContainer, async (req, call) => {
      const { pod, container } = req;
      if (!pod || !container) return missing('StopContainer');
      return decide('StopContainer', call.timeoutNano, () => o.handler.stopContainer(pod, container), (update) => ({ update }), { update: [] });
    }),

    route(Plugin.method.stateChange, async (req, call) => {
      // Only what we subscribed to reaches the handler; anything else is acknowledged and dropped.
      if (!hasEvent(o.eventMask, req.event)) return {};
      const { pod } = req;
      if (!pod) return missing('StateChange');
      const name = Event[req.event] ?? String(req.event);
      return decide(`StateChange ${name}`, call.timeoutNano, () => o.handler.stateChange({ event: req.event, pod, container: req.container }), () => ({}), {});
    }),
  ];
}
