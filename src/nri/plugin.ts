/**
 * NriPlugin: the daemon's side of NRI (the part pkg/stub/stub.go plays for Go plugins). It connects
 * to the runtime's socket, registers, answers the runtime through the handler, and when the
 * connection ends (a runtime restart, a Shutdown, anything the peer did wrong) connects again after a
 * backoff, so the handler sees Configure and Synchronize again each time. It never throws into the
 * event loop; what goes wrong is one log line and, at worst, a new connection.
 */
import { Backoff, type BackoffOptions, DEFAULT_BACKOFF } from './backoff.js';
import { DEFAULT_EVENTS, eventMask, eventNames } from './events.js';
import { type ContainerUpdate, type Event, Runtime } from './gen/api_pb.js';
import type { NriHandler, RuntimeInfo, UpdateInit } from './handler.js';
import { callUnary, router } from './rpc.js';
import { pluginRoutes } from './service.js';
import { Session, type SessionLimits } from './session.js';
import { type Timers, realTimers } from './timers.js';
import type { Dial, Trunk } from './trunk.js';
import { dialUnix } from './unixtrunk.js';
import { Code, DEFAULT_REGISTRATION_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_SOCKET_PATH, TtrpcError } from './wire.js';

export interface NriLog {
  info(line: string): void;
  warn(line: string): void;
}

export type PluginState = 'stopped' | 'connecting' | 'registering' | 'synchronizing' | 'ready' | 'waiting';

export interface NriLimits extends SessionLimits {
  /** Handler calls still running, late ones included, beyond which a request is refused. */
  maxRunning: number;
  /** Bound on one Synchronize split over several requests, in bytes. */
  maxSyncBytes: number;
}

export const DEFAULT_LIMITS: NriLimits = {
  // A few of our largest answers (4 MiB each) may wait for a slow reader; more means it reads nothing.
  maxUnread: 16 << 20,
  // The runtime calls a plugin one request at a time per event; 32 leaves room and bounds a flood.
  maxInFlight: 32,
  maxPending: 16,
  maxRunning: 64,
  maxSyncBytes: 64 << 20,
};

export interface NriPluginOptions {
  /** Registered name, e.g. "agentcgroup": non-empty, at most 64 characters, no "-" start. */
  name: string;
  /** Registered index, two digits: plugins are called in ascending index order. */
  index: string;
  socketPath?: string;
  events?: readonly Event[];
  /** How long registering may take, RegisterPlugin's answer and the runtime's Configure (default 5 s, NRI's). */
  registrationTimeoutMs?: number;
  /** Our bound on a handler call in ms (default 500), shortened by the runtime's own timeouts. */
  deadlineMs?: number;
  /** Answer a failed or late handler as "no change" instead of an error, which fails the runtime's operation. */
  failOpen?: boolean;
  backoff?: BackoffOptions;
  limits?: Partial<NriLimits>;
  dial?: Dial;
  timers?: Timers;
  log?: NriLog;
  /** Told of every change of state, with a one-line detail. */
  onState?: (state: PluginState, detail: string) => void;
}

const NAME = /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,63}$/;
const INDEX = /^[0-9]{2}$/;
const DEFAULT_DEADLINE_MS = 500;

/** A runtime's words in our log: bounded and on one line. */
const shown = (s: string) => JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}...` : s);

export class NriPlugin {
  private current: PluginState = 'stopped';
  private session: Session | undefined;
  private cancelRetry: (() => void) | undefined;
  private cancelWatchdog: (() => void) | undefined;
  private readonly backoff: Backoff;
  private readonly limits: NriLimits;
  private readonly mask: number;
  private readonly timers: Timers;
  private readonly log: NriLog;
  private readonly dial: Dial;
  private readonly socketPath: string;
  private readonly deadlineMs: number;
  private lastFailure: string | undefined;
  /** Bumped at every start and stop, so a dial that completes after either is dropped. */
  private generation = 0;

  constructor(
    private readonly handler: NriHandler,
    private readonly options: NriPluginOptions,
  ) {
    if (!NAME.test(options.name)) throw new RangeError(`NRI plugin name ${shown(options.name)} is not [A-Za-z0-9_.-], 1 to 64 characters`);
    if (!INDEX.test(options.index)) throw new RangeError(`NRI plugin index ${shown(options.index)} is not two digits`);
    this.mask = eventMask(options.events ?? DEFAULT_EVENTS);
    if (this.mask === 0) throw new RangeError('an NRI plugin needs at least one event');
    this.deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
    if (!(this.deadlineMs > 0)) throw new RangeError(`deadline ${this.deadlineMs} ms is not positive`);
    this.backoff = new Backoff(options.backoff ?? DEFAULT_BACKOFF);
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.timers = options.timers ?? realTimers;
    this.log = options.log ?? { info: () => {}, warn: () => {} };
    this.dial = options.dial ?? dialUnix;
    this.socketPath = options.socketPath ?? DEFAULT_SOCKET_PATH;
  }

  get state(): PluginState {
    return this.current;
  }

  /** Begins connecting (and keeps at it until stop()); a no-op when already started. */
  start(): void {
    if (this.current !== 'stopped') return;
    this.generation++;
    this.backoff.reset();
    this.connect();
  }

  /** Closes the connection and stops reconnecting. */
  stop(): void {
    if (this.current === 'stopped') return;
    this.generation++;
    this.cancelRetry?.();
    this.cancelRetry = undefined;
    this.setState('stopped', 'stopped');
    this.session?.close('the plugin stopped');
    this.session = undefined;
  }

  /**
   * Asks the runtime to update containers outside any event (never from inside a handler: the
   * runtime holds its lock while it waits for our answer). Resolves with the updates that failed.
   */
  async updateContainers(update: UpdateInit[], timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<ContainerUpdate[]> {
    const session = this.session;
    if (!session || this.current !== 'ready') throw new TtrpcError(Code.UNAVAILABLE, `not connected to the runtime (${this.current})`);
    const res = await callUnary(session.client, Runtime.method.updateContainers, { update }, timeoutMs);
    return res.failed;
  }

  private setState(state: PluginState, detail: string): void {
    this.current = state;
    this.options.onState?.(state, detail);
  }

  private connect(): void {
    const generation = this.generation;
    this.setState('connecting', this.socketPath);
    let session: Session | undefined;
    // A trunk reports nothing before dial() resolves (a socket's 'connect' comes first and the
    // resolution runs before its next event), but a dial seam may: what comes early is kept, bounded.
    const early: Buffer[] = [];
    let earlyBytes = 0;
    let endedEarly: string | undefined;
    const events = {
      data: (chunk: Buffer) => {
        if (session) return session.data(chunk);
        earlyBytes += chunk.length;
        if (earlyBytes > this.limits.maxUnread) endedEarly ??= `${earlyBytes} bytes before the connection was set up`;
        else early.push(chunk);
      },
      closed: (reason: string) => (session ? session.close(reason) : (endedEarly ??= reason)),
    };
    Promise.resolve()
      .then(() => this.dial(this.socketPath, events))
      .then(
        (trunk) => {
          if (generation !== this.generation) return trunk.close();
          session = this.open(trunk);
          for (const chunk of early.splice(0)) session.data(chunk);
          if (endedEarly !== undefined) session.close(endedEarly);
        },
        (err: unknown) => {
          if (generation === this.generation) this.retry(err instanceof Error ? err.message : String(err));
        },
      );
  }

  private open(trunk: Trunk): Session {
    const generation = this.generation;
    const routes = pluginRoutes({
      handler: this.handler,
      eventMask: this.mask,
      deadlineMs: this.deadlineMs,
      failOpen: this.options.failOpen ?? false,
      maxRunning: this.limits.maxRunning,
      maxSyncBytes: this.limits.maxSyncBytes,
      timers: this.timers,
      warn: (line) => this.log.warn(line),
      onConfigured: (rt) => this.configured(rt, generation),
      onSynchronized: () => this.synchronized(generation),
    });
    const session = new Session(trunk, router(routes), this.limits, this.timers, (line) => this.log.warn(line), (reason) => this.ended(reason, generation, session));
    this.session = session;
    this.setState('registering', `${this.options.index}-${this.options.name}`);
    // The runtime answers RegisterPlugin, then calls Configure: a runtime that does neither in time
    // would hold us registering for good.
    const ms = this.options.registrationTimeoutMs ?? DEFAULT_REGISTRATION_TIMEOUT_MS;
    this.cancelWatchdog = this.timers.after(ms, () => session.close(`not configured within ${ms} ms of connecting`));
    callUnary(session.client, Runtime.method.registerPlugin, { pluginName: this.options.name, pluginIdx: this.options.index }, ms).catch(
      (err: unknown) => session.close(`registration refused: ${err instanceof Error ? err.message : String(err)}`),
    );
    return session;
  }

  private configured(rt: RuntimeInfo, generation: number): void {
    if (generation !== this.generation) return;
    this.cancelWatchdog?.();
    this.cancelWatchdog = undefined;
    this.setState('synchronizing', `${shown(rt.name)} ${shown(rt.version)}`);
    this.log.info(`NRI: registered with ${shown(rt.name)} ${shown(rt.version)} for ${eventNames(this.mask).join(', ')}`);
  }

  private synchronized(generation: number): void {
    if (generation !== this.generation) return;
    this.backoff.reset();
    this.lastFailure = undefined;
    this.setState('ready', 'synchronized');
  }

  private ended(reason: string, generation: number, session: Session): void {
    this.cancelWatchdog?.();
    this.cancelWatchdog = undefined;
    if (this.session === session) this.session = undefined;
    if (generation !== this.generation) return;
    this.retry(`connection ended: ${reason}`);
  }

  private retry(why: string): void {
    const ms = this.backoff.next();
    // A node without NRI fails the same way every maxMs for good: said once, until it changes.
    if (why !== this.lastFailure) this.log.warn(`NRI: ${why}; connecting again in ${ms} ms`);
    this.lastFailure = why;
    this.setState('waiting', why);
    const generation = this.generation;
    this.cancelRetry = this.timers.after(ms, () => {
      this.cancelRetry = undefined;
      if (generation === this.generation) this.connect();
    });
  }
}
