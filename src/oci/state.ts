/** The OCI state a runtime writes to a hook's stdin (runtime-spec runtime.md, "State"). */
import { validateContainerId } from './ids.js';
import type { OciState } from './types.js';
import { absolutePath, at, fail, optionalInteger, parseJson, record, string, stringMap, type Where } from './validate.js';

// A real state is a few hundred bytes plus annotations; anything near this is not from a runtime.
const MAX_STATE_BYTES = 1024 * 1024;

// The spec lets runtimes add statuses, so no fixed list; the shape keeps them safe as keys and in logs.
function parseStatus(v: unknown, where: Where): string {
  const s = string(v, where);
  if (!/^[a-z]{1,32}$/.test(s)) fail(where, 'must be 1 to 32 lowercase letters', s);
  return s;
}

/**
 * Validates the state text. Unknown fields are ignored (runtimes add their own). `pid` is optional
 * with 0 allowed: runc omits it once the container is gone, crun writes 0. A `bad-id` error from the
 * id check passes through unchanged.
 */
export function parseState(text: string): OciState {
  const root: Where = { code: 'bad-state', path: 'state' };
  const obj = record(parseJson(text, 'OCI state on stdin', root.code, MAX_STATE_BYTES, 'no OCI state on stdin'), root);

  const state: OciState = {
    ociVersion: string(obj.ociVersion, at(root, 'ociVersion')),
    id: validateContainerId(obj.id, 'state.id'),
    status: parseStatus(obj.status, at(root, 'status')),
    bundle: absolutePath(obj.bundle, at(root, 'bundle')),
    annotations: stringMap(obj.annotations, at(root, 'annotations')),
  };
  const pid = optionalInteger(obj.pid, at(root, 'pid'), 0);
  if (pid !== undefined) state.pid = pid;
  return state;
}
