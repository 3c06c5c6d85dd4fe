import { describeError } from '../errors.js';
import type { CallRecord, StateStore } from './records.js';

/**
 * Gives a call its one record and removes its marker. Several parties may settle the same call (exec
 * or the daemon when it ends, poststop or a sweep when its container went first, a restarted daemon
 * for a call whose cgroup it lost): only the one that claims the marker appends. A call with no
 * container (exec on a bare cgroup) has no marker and no rival, so it is always ours.
 *
 * The marker is cleared whatever happened, so a failed write cannot leave the call looking alive. The
 * failure is not thrown but handed to `report` as one line (the caller knows its channel: the
 * daemon's log, exec's stderr, a finalizer's warnings), so a finalizer goes on with the other calls.
 *
 * `logKey` names the call log: the container id, or the key exec made for a bare cgroup. Returns
 * whether this caller claimed the call.
 */
export function settleCall(store: StateStore, rec: CallRecord, logKey: string, report: (line: string) => void): boolean {
  const ours = rec.container === null || store.claimRunning(rec.container, rec.id);
  try {
    if (ours) store.appendCall(logKey, rec);
  } catch (err) {
    report(`call ${rec.id}: cannot write the call log ${store.callLog(logKey)}: ${describeError(err)}`);
  }
  if (rec.container !== null) store.clearRunning(rec.container, rec.id);
  return ours;
}
