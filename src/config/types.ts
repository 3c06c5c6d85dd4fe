import type { ListenAddress } from './listen.js';

/** The policy agentcgroup applies to a container: host YAML merged over defaults, then annotations. */

/** A memory size as written in policy: bytes, a percentage of the session, or unlimited. */
export type Size = { kind: 'bytes'; bytes: number } | { kind: 'percent'; percent: number } | { kind: 'max' };

export type Priority = 'low' | 'normal' | 'high';

export interface Policy {
  /** Host-only. A hook that cannot carve exits non-zero (the container does not start) instead of failing open. */
  strict: boolean;
  priority: Priority;
  /** The container's own cgroup C. Its memory.max is the engine's and is never raised by us. */
  session: {
    memoryHigh: Size;
  };
  /** The `agent` leaf: the framework's processes. */
  agent: {
    memoryHigh: Size;
    memoryMax: Size;
    cpuWeight: number;
    /** Host-only. Written to /proc/<pid>/oom_score_adj of the framework's processes. */
    oomScoreAdj: number;
  };
  /** The template for each tool call's `tools/<call-id>` cgroup. */
  tool: {
    memoryHigh: Size;
    memoryMax: Size;
    cpuWeight: number;
    pidsMax: number | 'max';
    /** memory.oom.group: an OOM kills the whole tool call, never half of it. */
    oomGroup: boolean;
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
  /** Host-only. */
  paths: {
    /** Per-container run state (removed at poststop). */
    runDir: string;
    /** Per-container call logs (JSON lines), kept after the container is gone. */
    callLogDir: string;
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
}
