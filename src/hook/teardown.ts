import type { HostEnv } from '../host/env.js';
import { type TeardownOutcome, finalizeContainer, sweepStale } from '../lifecycle/finalize.js';
import type { OciState } from '../oci/types.js';
import type { StateStore } from '../state/records.js';

/**
 * poststop: runc and crun have already removed C and everything below it, so this finalizes our own
 * state. Idempotent, and safe when createRuntime never ran or failed: it only removes what a record
 * says we made. It also finalizes any other container whose cgroup is gone (its poststop was killed,
 * or never ran): nothing of a dead container waits for a daemon to notice.
 */
export function teardownContainer(state: OciState, store: StateStore, host: HostEnv): TeardownOutcome {
  const own = finalizeContainer(state.id, store, host, 'deleted');
  const others = sweepStale(store, host);
  return { warnings: [...own.warnings, ...others.warnings] };
}
