import type { ListenAddress } from './listen.js';

/** The policy agentcgroup applies to a container: host YAML merged over defaults, then annotations. */

/** A memory size as written in policy: bytes, a percentage of the session, or unlimited. */
export type Size = { kind: 'bytes'; bytes: number } | { kind: 'percent'; percent: number } | { kind: 'max' };

export type Priority = 'low' | 'normal' | 'high';

/**
 * The policy's memory sizes as written (a percentage stays a percentage): what a carve record keeps so
 * that the limits can follow the session when the engine resizes the container.
 */
export interface MemorySizes {
  session: { memoryHigh: Size };
  agent: { memoryHigh: Size; memoryMax: Size };
  tool: { memoryHigh: Size; memoryMax: Size };
}

export interface Policy {
  /** Host-only. A hook that cannot carve exits non-zero (the container does not start) instead of failing open. */
  strict: boolean;
  /** The container's rank against other containers when the daemon freezes or kills tool calls. */
  priority: Priority;
  /** The container's own cgroup C. Its memory.max and cpu.weight are the engine's and never changed by us. */
  session: {
    memoryHigh: Size;
  };
  /** The `agent` leaf: the framework's processes. */
  agent: {
    memoryHigh: Size;
    memoryMax: Size;
    cpuWeight: number;
    /**
     * memory.swap.max of the agent leaf: 0 by default, the framework never waits on swap-in (its
     * latency is the agent's). Written only where the kernel has the file (swap accounting on).
     */
    swapMax: number | 'max';
  };
  /** The template for each tool call's `tools/<call-id>` cgroup. */
  tool: {
    memoryHigh: Size;
    memoryMax: Size;
    cpuWeight: number;
    /** memory.swap.max of each tool call: what the reclaim rung (and the kernel's own reclaim) may swap out. */
    swapMax: number | 'max';
    pidsMax: number | 'max';
    /** memory.oom.group: an OOM kills the whole tool call, never half of it. */
    oomGroup: boolean;
    /**
     * Host-only. How far a tool call's oom_score_adj sits above the container's own (the engine's
     * value, which the framework keeps), so the OOM killer takes a tool call before its framework.
     */
    oomScoreAdjAbove: number;
  };
  /** Containers this agent needs running: they are not frozen before it (their priority is lifted to its own). */
  dependsOn: string[];
  /** Host-only. The graduated response of the daemon (see src/policy/ladder.ts). */
  ladder: {
    /** Share of an interval fully stalled on memory (PSI full) that counts as no progress, 0..1. */
    stallRatio: number;
    /** memory.high rises by this share of the call's memory.max per step, 0..1. */
    raiseStep: number;
    /** Budget use (0..1) at which low-priority tool calls are frozen, below which they thaw, and at which one is killed. */
    freezeAt: number;
    thawBelow: number;
    killAt: number;
    /**
     * Between freeze and kill: the frozen calls' memory is pushed out (memory.reclaim, to swap or
     * compressed swap), lowest priority first, while the budget stays at freeze_at; while that can
     * still make room, kill waits.
     */
    reclaim: boolean;
    /** Bytes asked of one frozen call per reclaim: a bounded step, so the next look sees what it gave. */
    reclaimStepBytes: number;
    /** A call stalled without progress or frozen this long is ended. */
    deadlineMs: number;
    /**
     * How often the daemon looks again while any tool call exists (running or frozen): a budget can
     * fill with anonymous memory before any stall warns of it. With none, only kernel events wake it.
     */
    recheckMs: number;
  };
  /** How the daemon tells a tool call from the framework (see src/policy/lineage.ts). */
  tracker: {
    /**
     * Programs the framework starts that are part of it, not tool calls: a pattern with a `/` matches
     * the exec'd path, one without the process name or the script an interpreter runs; `*` is a
     * wildcard. A lineage program (started by init or a launcher) that matches is the framework.
     */
    framework: string[];
    /** Programs that only start others (init wrappers, shells, language launchers); same patterns. */
    launchers: string[];
    /** Host-only. Stop a tool call at exec until the daemon has put it in its cgroup. */
    hold: boolean;
  };
  /**
   * Host-only. What a container's io.agentcgroup.* annotations may change: annotations are written by
   * whoever starts the container, a tenant the host does not trust with its neighbours.
   */
  annotations: {
    /** Policy keys (or patterns over them, `tool.*`) a container may set; host-only keys never. */
    allow: string[];
    /** The highest priority a container may give itself, when `priority` is allowed. */
    maxPriority: Priority;
  };
  /**
   * Host-only. Bounds on what one container can make root keep for it: a container is hostile, and
   * what it controls (connections, calls, command lines) would otherwise grow daemon and host state
   * without limit.
   */
  limits: {
    /** Open connections on one container's exec socket; one more is refused. */
    execConnections: number;
    /** cgroup.max.descendants of the container's tools/ cgroup: tool calls at once. */
    toolCalls: number | 'max';
    /** Bytes of a call's argv kept in its marker and its record (JSON as written); the rest is cut. */
    argvBytes: number;
    /** A call log reaching this size is renamed to <log>.1 (replacing the previous one) and begun anew. */
    callLogBytes: number;
  };
  /** Host-only. */
  paths: {
    /** Per-container run state (removed at poststop). */
    runDir: string;
    /** Per-container call logs (JSON lines), kept after the container is gone. */
    callLogDir: string;
    /** The in-container exec client on the host, bind-mounted into containers when there; null: off. */
    execClient: string | null;
  };
  /** Host-only. Prometheus text over HTTP on a loopback address, besides the admin socket; null: none. */
  metrics: {
    listen: ListenAddress | null;
  };
  /** Host-only. The runtime shim (`agentcgroup runtime`) for engines without a hooks dir. */
  shim: {
    /** Register our hooks for every container it creates, not only those annotated io.agentcgroup.enable=true. */
    always: boolean;
  };
  /**
   * Host-only. The daemon as a plugin of the container runtime's Node Resource Interface (containerd
   * 1.7+, CRI-O 1.26+): containers are carved without a hook process and without the runtime shim.
   */
  nri: {
    /** auto: when the runtime's socket is there (or once it appears); true: always, waiting for it; false: never. */
    enable: NriEnable;
    /** The runtime's NRI socket. */
    socket: string;
    /**
     * How an opted-in container is carved: `daemon` by the daemon itself when the runtime has created
     * it and not yet started it (NRI StartContainer); `hooks` by our createRuntime and poststop hooks,
     * which the daemon adds to the container at CreateContainer; `auto`: `daemon` for the runtimes whose
     * order is known (containerd; CRI-O unless strict, as it starts a container whatever the plugin
     * answers at StartContainer), `hooks` for any other.
     */
    carve: NriCarve;
  };
  /**
   * Host-only. agentcgroup's sched_ext scheduler (bpf/sched/agentsched.bpf.c; a kernel with sched_ext
   * and the kfuncs it uses, which 7.2 has and 6.12 lacks): the framework's
   * threads run ahead of tool calls, and tool calls share the CPU by their container's priority.
   */
  schedExt: {
    /** Load it at daemon start (the system's scheduler until the daemon exits); false: cpu.weight only. */
    enable: boolean;
  };
}

export type NriEnable = 'auto' | boolean;
export type NriCarve = 'auto' | 'daemon' | 'hooks';
