/**
 * The replay agents' init. Real containers run their program under an init wrapper: `docker run --init`
 * puts tini, static, at /sbin/docker-init and makes the process `/sbin/docker-init -- CMD...`; podman
 * --init does the same with catatonit. The framework is then the init's child, not PID 1, and the
 * daemon must still tell it from its tool calls. Pure: what goes into the bundle, what the process is.
 */

export type Init = 'tini' | 'none';
export const INITS: readonly Init[] = ['tini', 'none'];

/** tini as `docker run --init` installs it: the static build, at docker's path in the container. */
export const DOCKER_INIT = { source: '/usr/bin/tini-static', path: '/sbin/docker-init' } as const;

export interface InitShape {
  /** Static binaries to copy from the host into the rootfs (path: inside the rootfs, absolute). */
  files: { source: string; path: string }[];
  /** The container's process.args. */
  args: string[];
  /** What the report says about it. */
  label: string;
}

/** The container process that runs `cmd` under `init`; `version` (e.g. `tini version 0.19.0`) for the label. */
export function agentProcess(init: Init, cmd: readonly string[], version = ''): InitShape {
  if (init === 'none') return { files: [], args: [...cmd], label: "none: the framework is the container's process (PID 1)" };
  return {
    files: [{ ...DOCKER_INIT }],
    args: [DOCKER_INIT.path, '--', ...cmd],
    label: `${version || 'tini'} as \`docker run --init\` runs it: ${DOCKER_INIT.source} copied to ${DOCKER_INIT.path}, process \`${DOCKER_INIT.path} -- ${cmd.join(' ')}\`; the framework is its child`,
  };
}
