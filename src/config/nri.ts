/**
 * Whether the daemon is an NRI plugin, from policy nri.enable and whether the runtime's socket is
 * there: the one rule the daemon follows and `doctor` reports. Pure.
 */
import type { NriEnable } from './types.js';

/**
 * start: connect now (and again whenever the runtime restarts); watch: not now, but as soon as the
 * socket appears (auto, before the runtime started: the systemd unit orders the daemon first); off.
 */
export type NriStartup = 'start' | 'watch' | 'off';

export function nriStartup(enable: NriEnable, socketPresent: boolean): NriStartup {
  if (enable === false) return 'off';
  if (enable === true || socketPresent) return 'start';
  return 'watch';
}

/** One line for doctor and the daemon's log: what nri.enable makes of what is there. */
export function describeNriStartup(enable: NriEnable, socket: string, socketPresent: boolean): string {
  switch (nriStartup(enable, socketPresent)) {
    case 'off':
      return 'off (nri.enable false): the runtime shim or hooks.d serve containers';
    case 'watch':
      return `not yet (nri.enable auto, no socket at ${socket}): the daemon registers once the runtime makes it`;
    case 'start':
      return socketPresent
        ? `the daemon registers as an NRI plugin at ${socket}`
        : `the daemon waits for ${socket} (nri.enable true) and registers once the runtime listens there`;
  }
}
