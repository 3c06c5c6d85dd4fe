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

/** What nri.enable makes of the socket being there or not, for doctor (after it says where the socket is). */
export function describeNriStartup(enable: NriEnable, socketPresent: boolean): string {
  switch (nriStartup(enable, socketPresent)) {
    case 'off':
      return 'off (nri.enable false): the runtime shim or hooks.d serve containers';
    case 'watch':
      return 'not yet (nri.enable auto): the daemon registers once the runtime makes it';
    case 'start':
      return socketPresent ? 'the daemon registers there as an NRI plugin' : 'the daemon waits for it (nri.enable true) and registers once the runtime listens there';
  }
}
