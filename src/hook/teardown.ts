import { SYNC_TIMEOUT_MS } from '../cgroup/lifecycle.js';
import type { HostEnv } from '../host/env.js';
import { type SweepOutcome, type TeardownOutcome, finalizeContainer, finalizeContainerAsync, sweepStale, sweepStaleAsync } from '../lifecycle/finalize.js';
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
  return joined(own, sweepStale(store, host));
}

/**
 * teardownContainer as the daemon runs it for the hook front: the same steps in the same order, each
 * straggler waited for on inotify (the daemon's thread runs on) within the hook's own bound.
 */
export async function teardownContainerAsync(state: OciState, store: StateStore, host: HostEnv): Promise<TeardownOutcome> {
  const own = await finalizeContainerAsync(state.id, store, host, 'deleted', SYNC_TIMEOUT_MS);
  return joined(own, await sweepStaleAsync(store, host, SYNC_TIMEOUT_MS));
}

function joined(own: TeardownOutcome, others: SweepOutcome): TeardownOutcome {
  return { warnings: [...own.warnings, ...others.warnings] };
}
