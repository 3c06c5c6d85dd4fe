/**
 * The daemon's link to the container runtime's NRI: whether there is one (policy nri.enable and the
 * socket, config/nri.ts), loading the NRI code only then (src/nri/ and protobuf: no daemon that does
 * not use them pays for them), the plugin's state for `status`, and an orderly stop. With nri.enable
 * auto and no socket yet, the nearest directory that exists on the socket's path is watched (inotify,
 * no timer) and the plugin starts once the runtime makes the socket: the daemon starts before the
 * runtime at boot.
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { nriStartup } from '../config/nri.js';
import type { Policy } from '../config/types.js';
import { describeError } from '../errors.js';
import type { HookSpec } from '../hook/register.js';
import type { HostEnv } from '../host/env.js';
import type { NriStatus } from '../metrics/snapshot.js';
import type { Event, NriPlugin, PluginState } from '../nri/index.js';
import type { NriAgent } from './nriagent.js';
import type { StateStore } from '../state/records.js';
import type { Log } from './calls.js';
import type { Closable, KernelEvents } from './kernelevents.js';

/** Registered as `10-agentcgroup`: early among plugins, so later ones see the mount we add. */
export const PLUGIN_NAME = 'agentcgroup';
export const PLUGIN_INDEX = '10';

/** What is loaded when the link starts: the NRI code, by import(), in production. */
export interface NriModules {
  NriPlugin: typeof NriPlugin;
  NriAgent: typeof NriAgent;
  /** The events the agent handles (nriagent.ts AGENT_EVENTS). */
  events: readonly Event[];
}

export async function loadNri(): Promise<NriModules> {
  const [nri, agent] = await Promise.all([import('../nri/index.js'), import('./nriagent.js')]);
  return { NriPlugin: nri.NriPlugin, NriAgent: agent.NriAgent, events: agent.AGENT_EVENTS };
}

export interface NriLinkDeps {
  policy: Policy;
  store: StateStore;
  host: HostEnv;
  hook(): HookSpec;
  log: Log;
  events: Pick<KernelEvents, 'watch'>;
  sync(): Promise<void>;
  resized(id: string): void;
  /** The NRI code (default: loadNri, by import()). */
  load?: () => Promise<NriModules>;
}

/** Pure: the plugin's state as `status` shows it. */
export function linkStatus(state: PluginState, detail: string): NriStatus {
  if (state === 'ready') return { state: 'connected', detail };
  if (state === 'stopped') return { state: 'off', detail };
  return { state: 'waiting', detail: `${state}: ${detail}` };
}

/** Pure: the nearest path on the way to `target` that exists (`exists` says), `/` at worst. */
export function nearestExisting(target: string, exists: (p: string) => boolean): string {
  let p = dirname(target);
  while (p !== dirname(p) && !exists(p)) p = dirname(p);
  return p;
}

export class NriLink {
  private status: NriStatus = { state: 'off', detail: 'not started' };
  private plugin: NriPlugin | undefined;
  private agent: NriAgent | undefined;
  private watch: { path: string; handle: Closable } | undefined;
  private stopped = false;

  constructor(private readonly d: NriLinkDeps) {}

  /** What `status` shows. */
  snapshot(): NriStatus {
    return this.status;
  }

  async start(): Promise<void> {
    const { enable, socket } = this.d.policy.nri;
    const startup = nriStartup(enable, existsSync(socket));
    if (startup === 'off') {
      this.status = { state: 'off', detail: 'nri.enable false' };
      return;
    }
    if (startup === 'watch') {
      this.status = { state: 'off', detail: `no runtime socket at ${socket}; registers once one appears` };
      this.watchFor(socket);
      return;
    }
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watch?.handle.close();
    this.watch = undefined;
    this.plugin?.stop();
    await this.agent?.settled();
  }

  private async connect(): Promise<void> {
    const { policy, log } = this.d;
    let mods: NriModules;
    try {
      mods = await (this.d.load ?? loadNri)();
    } catch (err) {
      this.status = { state: 'off', detail: `cannot load the NRI code: ${describeError(err)}` };
      log.warn(`NRI: ${this.status.detail}`);
      return;
    }
    if (this.stopped) return;
    const agent = new mods.NriAgent({ policy, store: this.d.store, host: this.d.host, hook: () => this.d.hook(), log, sync: () => this.d.sync(), resized: (id) => this.d.resized(id) });
    const plugin = new mods.NriPlugin(agent, {
      name: PLUGIN_NAME,
      index: PLUGIN_INDEX,
      socketPath: policy.nri.socket,
      events: mods.events,
      // A container we cannot carve runs unconstrained, as with the hooks; strict hosts refuse it.
      failOpen: !policy.strict,
      log,
      onState: (state, detail) => (this.status = linkStatus(state, detail)),
    });
    this.agent = agent;
    this.plugin = plugin;
    plugin.start();
  }

  /**
   * Watches the nearest existing directory on the socket's path; each change there is looked at:
   * the socket itself starts the plugin, a deeper directory moves the watch down to it.
   */
  private watchFor(socket: string): void {
    const path = nearestExisting(socket, existsSync);
    if (this.watch?.path === path) return;
    this.watch?.handle.close();
    this.watch = undefined;
    try {
      this.watch = { path, handle: this.d.events.watch(path, () => this.looked(socket)) };
    } catch (err) {
      this.d.log.warn(`NRI: cannot watch ${path} for ${socket} to appear (restart the daemon once the runtime runs): ${describeError(err)}`);
    }
    // It may have appeared between the look and the watch.
    this.looked(socket);
  }

  private looked(socket: string): void {
    if (this.stopped || !this.watch) return;
    if (!existsSync(socket)) {
      this.watchFor(socket);
      return;
    }
    this.watch.handle.close();
    this.watch = undefined;
    this.d.log.info(`NRI: ${socket} appeared: registering`);
    void this.connect();
  }
}
