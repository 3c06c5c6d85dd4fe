/**
 * The native hook front (src/hook/native/agentcgroup-hook.c): a small static program a runtime runs in
 * place of `agentcgroup hook`, with the same argv and stdin. It holds no policy: it hands the request
 * to the daemon's admin op `hook` (src/daemon/hookop.ts) and relays the answer, or execs the binary
 * as it was called. Here: where it is, how our hook command names it, and its bytes (and the runtime
 * shim's front's, src/runtime/native/) for install.sh.
 */
import { accessSync, constants, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AgentcgroupError } from '../errors.js';
import { inSea, seaAsset } from '../sea/assets.js';

/** Its file name: installed beside the binary (install.sh: /usr/local/bin/agentcgroup-hook), built as dist/agentcgroup-hook. */
export const HOOK_FRONT_NAME = 'agentcgroup-hook';
/**
 * The runtime shim's front (src/runtime/native/agentcgroup-runtime.c): installed as the
 * agentcgroup-runtime the engines run, beside the binary; built as dist/agentcgroup-runtime.
 */
export const RUNTIME_FRONT_NAME = 'agentcgroup-runtime';
export type FrontName = typeof HOOK_FRONT_NAME | typeof RUNTIME_FRONT_NAME;

/** The binary the front execs when the daemon does not answer (its default: /usr/local/bin/agentcgroup). */
export const FRONT_BINARY_ENV = 'AGENTCGROUP_BINARY';
/** The admin socket the front asks (its default: /run/agentcgroup/admin.sock; empty: never ask). */
export const FRONT_SOCKET_ENV = 'AGENTCGROUP_ADMIN_SOCKET';

/** The front installed beside `binary` (an executable regular file), or undefined. */
export function installedFront(binary: string): string | undefined {
  const front = join(dirname(binary), HOOK_FRONT_NAME);
  try {
    accessSync(front, constants.X_OK);
    return statSync(front).isFile() ? front : undefined;
  } catch {
    return undefined;
  }
}

/** A front's bytes: carried inside the single executable, else dist/NAME beside the bundle. */
export function frontBytes(name: FrontName, script: string | undefined = process.argv[1]): Uint8Array {
  if (inSea()) return seaAsset(name);
  if (script === undefined) throw new AgentcgroupError('hook-front', `cannot locate ${name}: no script path`);
  const path = join(dirname(realpathSync(script)), name);
  try {
    return readFileSync(path);
  } catch (err) {
    throw new AgentcgroupError('hook-front', `${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)} (build it with bash src/hook/native/build.sh)`, { cause: err });
  }
}
