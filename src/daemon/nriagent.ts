/**
 * The daemon as an NRI plugin: the handler NriPlugin (src/nri/) calls with the runtime's events. The
 * decisions are nridecide.ts's; this file does what they say, through the same code the hooks run
 * (carve/container.ts, lifecycle/finalize.ts, exec/socketmount.ts), so a container is carved and
 * finalized the same whichever path saw it, and every step is idempotent against the others.
 *
 * When a container is carved, by path:
 * - `daemon` (containerd, CRI-O): at StartContainer. Both runtimes send it after their create (runc or
 *   crun has made C and parked the init before its first instruction) and before their start, and
 *   wait for our answer: the carve is done before the container runs a thing, with no hook process.
 *   Not at PostCreateContainer: containerd sends that at the end of CRI CreateContainer, before the
 *   task (and so C and the init) exists at all; it makes the task at StartContainer.
 * - `hooks` (any other runtime, CRI-O under strict, or nri.carve: hooks): our createRuntime and
 *   poststop hooks are added to the container at CreateContainer, and carve it inside the runtime's
 *   create as with the shim (CRI-O only logs a plugin's StartContainer error: a strict refusal must
 *   come from a hook to stop the container there).
 * - a container that already runs when the daemon registers (Synchronize): carved with C frozen around
 *   the move, as poststart does, after the Synchronize is answered.
 *
 * Loaded only by the daemon, and only when NRI is on: it imports src/nri/ (and protobuf) at load.
 */
import { existsSync } from 'node:fs';
import { type CarveStage, carveContainer } from '../carve/container.js';
import { refusalLine } from '../config/annotations.js';
import type { Policy } from '../config/types.js';
import { AgentcgroupError, describeError } from '../errors.js';
import { execClientSource } from '../exec/clientfile.js';
import { execMounts, makeExecSocketDir } from '../exec/socketmount.js';
import type { HookSpec } from '../hook/register.js';
import type { HostEnv } from '../host/env.js';
import { finalizeContainerAsync } from '../lifecycle/finalize.js';
import { type Container, ContainerState, type CreateDecision, Event, type NriHandler, type PodSandbox, type RuntimeInfo, type StateEvent, type UpdateInit } from '../nri/index.js';
import { execSocketDir } from '../state/paths.js';
import type { StateStore } from '../state/records.js';
import type { Log } from './calls.js';
import { type CarveMode, type Seen, adjustment, carveMode, decideOptIn, seen } from './nridecide.js';

/** What the daemon tells the runtime it wants to hear of: creation (to adjust), start (to carve), resizes done, ends. */
export const AGENT_EVENTS: readonly Event[] = [Event.CREATE_CONTAINER, Event.START_CONTAINER, Event.POST_UPDATE_CONTAINER, Event.STOP_CONTAINER, Event.REMOVE_CONTAINER];

export interface NriAgentDeps {
  /** The host policy. */
  policy: Policy;
  store: StateStore;
  host: HostEnv;
  /** Our hook command, for the hooks path (runtime/prepare.ts hookSpec, as the shim registers it); asked for only there. */
  hook(): HookSpec;
  log: Log;
  /** The daemon's registry syncs with the run dir now: a record came or went. */
  sync(): Promise<void>;
  /** A followed container's C may have a new memory.max: the resizer looks now, not at its next event. */
  resized(id: string): void;
  /** Runs work after the runtime has its answer (default: the next turn of the event loop). */
  later?: (fn: () => void) => void;
}

export class NriAgent implements NriHandler {
  private runtime: RuntimeInfo | undefined;
  private mode: CarveMode;
  /** Work begun after an answer (catch-up carves, finalizations): awaited by settled(). */
  private readonly pending = new Set<Promise<void>>();
  private readonly later: (fn: () => void) => void;

  constructor(private readonly d: NriAgentDeps) {
    this.later = d.later ?? setImmediate;
    this.mode = carveMode(d.policy.nri.carve, undefined, d.policy.strict);
  }

  /** The carve path in force: known once the runtime has said who it is. */
  get carving(): CarveMode {
    return this.mode;
  }

  configure(runtime: RuntimeInfo): void {
    this.runtime = runtime;
    this.mode = carveMode(this.d.policy.nri.carve, runtime.name, this.d.policy.strict);
    this.d.log.info(`NRI: containers that opt in are carved ${this.mode === 'daemon' ? 'by the daemon at StartContainer' : 'by our OCI hooks, added at CreateContainer'} (nri.carve ${this.d.policy.nri.carve})`);
  }

  /**
   * Containers the runtime already runs: one that opted in and has no carve is carved, frozen around
   * the move, once the answer is sent (the runtime holds its lock meanwhile, and nothing here needs
   * it). Ones carved already are the registry's.
   */
  synchronize(pods: PodSandbox[], containers: Container[]): UpdateInit[] {
    const podOf = new Map(pods.map((p) => [p.id, p]));
    const todo: { s: Seen; policy: Policy }[] = [];
    for (const c of containers) {
      if (c.state !== ContainerState.CONTAINER_RUNNING) continue;
      const pod = podOf.get(c.podSandboxId);
      const opt = pod && decideOptIn(this.d.policy, pod, c);
      if (opt?.kind !== 'in') continue;
      try {
        const s = seen(c);
        if (!this.carved(s.id)) todo.push({ s, policy: opt.policy });
      } catch (err) {
        this.d.log.warn(`NRI Synchronize: a container not carved: ${describeError(err)}`);
      }
    }
    if (todo.length > 0) this.afterAnswer(() => this.catchUp(todo));
    return [];
  }

  /**
   * The container is about to be made: an opted-in one gets its exec socket mount (and, on the hooks
   * path, our hooks). Its socket directory is made now: a bind mount needs its source when the runtime
   * mounts. A container whose annotations are errors fails here: no change with strict off (it runs
   * unconstrained), the runtime's error with strict on.
   */
  createContainer(pod: PodSandbox, container: Container): CreateDecision {
    const opt = decideOptIn(this.d.policy, pod, container);
    if (opt.kind === 'out') return {};
    const { id } = seen(container);
    if (opt.kind === 'bad') throw new AgentcgroupError('bad-annotation', `container ${id}: ${opt.why}`);
    for (const r of opt.refused) this.d.log.warn(`container ${id}: ${refusalLine(r)}`);
    const runDir = this.d.policy.paths.runDir;
    const client = execClientSource(this.d.policy.paths.execClient);
    if (client.warning !== undefined) this.d.log.warn(`container ${id}: ${client.warning}`);
    makeExecSocketDir(runDir, id, client.path !== undefined);
    return { adjust: adjustment(container, execMounts(runDir, id, client.path), this.mode === 'hooks' ? this.d.hook() : undefined) };
  }

  /** Nothing before the runtime applies a resize: PostUpdateContainer has the resizer look at once. */
  updateContainer(): UpdateInit[] {
    return [];
  }

  /** Finalized as poststop would, after the answer (lifecycle/finalize.ts: idempotent with it and the registry's sweep). */
  stopContainer(_pod: PodSandbox, container: Container): UpdateInit[] {
    this.finalize(container, 'stopped');
    return [];
  }

  stateChange(ev: StateEvent): void {
    const c = ev.container;
    if (!c) return;
    switch (ev.event) {
      case Event.START_CONTAINER:
        if (this.mode === 'daemon') this.carveAtStart(ev.pod, c);
        return;
      case Event.POST_UPDATE_CONTAINER:
        // resizer.ts follows C's memory.max on inotify anyway; this only saves it the wait.
        this.d.resized(seen(c).id);
        return;
      case Event.REMOVE_CONTAINER:
        this.finalize(c, 'deleted');
        return;
      default:
        return;
    }
  }

  shutdown(): void {
    this.d.log.info(`NRI: ${this.runtime?.name ?? 'the runtime'} is shutting down`);
  }

  /** Every piece of work begun after an answer has ended: for an orderly stop, and for tests. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /**
   * The runtime has made C and parked the init; it waits for this answer before it starts the
   * container. A failure throws: the plugin answers no change (the container starts unconstrained)
   * or, with strict, an error (the runtime does not start it).
   */
  private carveAtStart(pod: PodSandbox, c: Container): void {
    const opt = decideOptIn(this.d.policy, pod, c);
    if (opt.kind === 'out') return;
    const s = seen(c);
    if (opt.kind === 'bad') throw new AgentcgroupError('bad-annotation', `container ${s.id}: ${opt.why}`);
    this.carve(s, opt.policy, 'nri-start');
  }

  private carve(s: Seen, policy: Policy, stage: CarveStage): void {
    const outcome = carveContainer({ id: s.id, pid: s.pid, ...(s.cgroupsPath === undefined ? {} : { cgroupsPath: s.cgroupsPath }) }, policy, this.d.store, this.d.host, stage);
    if (outcome === 'carved') this.d.log.info(`container ${s.id}: carved (${stage === 'nri-start' ? 'NRI StartContainer, before its first instruction' : 'NRI Synchronize, running, frozen around the move'})`);
    // Followed now, not when inotify reports the record: the exec socket serves before the init runs.
    void this.d.sync();
  }

  /** One at a time: each freeze is waited for (carve/apply.ts), briefly, on the daemon's thread. */
  private catchUp(todo: { s: Seen; policy: Policy }[]): void {
    for (const { s, policy } of todo) {
      try {
        // Looked at before the carve: the registry makes the directory once it follows the container.
        const mounted = existsSync(execSocketDir(this.d.policy.paths.runDir, s.id));
        this.carve(s, policy, 'nri-sync');
        if (!mounted) {
          this.d.log.info(`container ${s.id}: created before the daemon was its runtime's NRI plugin, so it has no exec socket mount; the tracker still gives its tool calls their cgroups`);
        }
      } catch (err) {
        this.d.log.warn(`container ${s.id}: not carved: ${describeError(err)}`);
      }
    }
  }

  private carved(id: string): boolean {
    try {
      return this.d.store.loadContainer(id)?.state === 'carved';
    } catch {
      // An unreadable record is not ours to overwrite: its container's end sees to it.
      return true;
    }
  }

  /** Anything of ours for this container (a record, a socket directory) is finalized once the runtime has its answer. */
  private finalize(c: Container, runtime: 'stopped' | 'deleted'): void {
    const { id } = seen(c);
    const runDir = this.d.policy.paths.runDir;
    if (!existsSync(this.d.store.containerFile(id)) && !existsSync(execSocketDir(runDir, id))) return;
    this.afterAnswer(async () => {
      const out = await finalizeContainerAsync(id, this.d.store, this.d.host, runtime);
      for (const w of out.warnings) this.d.log.warn(`container ${id}: ${w}`);
      this.d.log.info(`container ${id}: ${runtime === 'deleted' ? 'removed' : 'stopped'} (NRI): calls still running logged as cut off, its state removed`);
      await this.d.sync();
    });
  }

  private afterAnswer(work: () => void | Promise<void>): void {
    const done = new Promise<void>((resolve) => this.later(resolve))
      .then(work)
      .catch((err: unknown) => this.d.log.warn(`NRI: ${describeError(err)}`));
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
  }
}
