/**
 * The parts of the OCI runtime spec (v1.x) that agentcgroup reads. Values of these types have been
 * validated at the edge (see state.ts, config.ts): code past the edge may trust them.
 */

/** The state a runtime writes to a hook's stdin. */
export interface OciState {
  ociVersion: string;
  /** Validated: safe to use as a file name (see ids.ts). */
  id: string;
  /** creating | created | running | stopped: runtimes differ per stage (createRuntime: crun `created`, runc `creating`). */
  status: string;
  /** The container's init; absent or 0 at poststop. */
  pid?: number;
  /** Absolute path of the bundle directory. */
  bundle: string;
  annotations: Record<string, string>;
}

export interface OciHook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export type HookStage = 'prestart' | 'createRuntime' | 'createContainer' | 'startContainer' | 'poststart' | 'poststop';

export type OciHooks = Partial<Record<HookStage, OciHook[]>>;

/** The bundle's config.json, reduced to the fields we use. */
export interface OciConfig {
  ociVersion: string;
  annotations: Record<string, string>;
  hooks: OciHooks;
  /** A mount gives the container cgroupfs without `ro` (see cgroupfsWritable in config.ts). */
  cgroupfsWritable: boolean;
  linux?: {
    /** Relative to the runtime's cgroup parent, absolute, or systemd's slice:prefix:name form. */
    cgroupsPath?: string;
  };
}
