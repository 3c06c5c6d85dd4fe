/**
 * The replay agents' init. Real containers run their program under an init wrapper: `docker run --init`
 * puts tini, static, at /sbin/docker-init and makes the process `/sbin/docker-init -- CMD...`; podman
 * --init does the same with catatonit. The framework is then the init's child, not PID 1, and the
 * daemon must still tell it from its tool calls. Pure: what goes into the bundle, what the process is.
 */

export type Init = 'tini' | 'catatonit' | 'sh' | 'none';
export const INITS: readonly Init[] = ['tini', 'catatonit', 'sh', 'none'];

/** tini as `docker run --init` installs it: the static build, at docker's path in the container. */
export const DOCKER_INIT = { source: '/usr/bin/tini-static', path: '/sbin/docker-init' } as const;
/** catatonit as `podman run --init` mounts it (static). */
export const PODMAN_INIT = { source: '/usr/bin/catatonit', path: '/run/podman-init' } as const;

/** The host binary an init needs, if any: the bench checks it is there before it starts. */
export const initSource = (init: Init): string | undefined => (init === 'tini' ? DOCKER_INIT.source : init === 'catatonit' ? PODMAN_INIT.source : undefined);

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
  if (init === 'sh') {
    // A command after it keeps the shell waiting as the framework's parent: busybox sh execs a lone
    // command in place, as an entrypoint script ending in `exec "$@"` would (that is --init none).
    const script = `${cmd.join(' ')}; exit $?`;
    return { files: [], args: ['/bin/sh', '-c', script], label: `sh: an entrypoint script, process \`/bin/sh -c '${script}'\`; the framework is the shell's child` };
  }
  if (init === 'catatonit') {
    return {
      files: [{ ...PODMAN_INIT }],
      args: [PODMAN_INIT.path, '--', ...cmd],
      label: `${version || 'catatonit'} as \`podman run --init\` runs it: ${PODMAN_INIT.source} at ${PODMAN_INIT.path}, process \`${PODMAN_INIT.path} -- ${cmd.join(' ')}\`; the framework is its child`,
    };
  }
  return {
    files: [{ ...DOCKER_INIT }],
    args: [DOCKER_INIT.path, '--', ...cmd],
    label: `${version || 'tini'} as \`docker run --init\` runs it: ${DOCKER_INIT.source} copied to ${DOCKER_INIT.path}, process \`${DOCKER_INIT.path} -- ${cmd.join(' ')}\`; the framework is its child`,
  };
}
