/**
 * This program as the shim sees it: how it was called (as `agentcgroup runtime ...` or through the
 * `agentcgroup-runtime` link containerd's BinaryName points at), and how a runtime must call it back
 * as a hook. Kept free of heavy imports: it runs before every runtime verb.
 */
import { realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { SHIM_LINK_NAME } from '../hook/register.js';
import { inSea } from '../sea/assets.js';

export { SHIM_LINK_NAME };

export interface ProcessView {
  /** process.argv: [node or the binary, the script or the binary again, ...arguments]. */
  argv: readonly string[];
  /** process.argv0: argv[0] as the caller passed it (the link's name, for the single binary). */
  argv0: string;
  sea: boolean;
}

export function processView(): ProcessView {
  return { argv: process.argv, argv0: process.argv0, sea: inSea() };
}

/**
 * The runtime's command line when this process is the shim, else undefined. The single binary is
 * named by argv[0]; under node, the link to the script is argv[1].
 */
export function shimArgv(view: ProcessView): string[] | undefined {
  const args = view.argv.slice(2);
  const name = view.sea ? view.argv0 : (view.argv[1] ?? '');
  if (basename(name) === SHIM_LINK_NAME) return args;
  return args[0] === 'runtime' ? args.slice(1) : undefined;
}

/**
 * The hook command: our own executable, resolved through links (never as the shim's link name, which
 * would run the shim), then [argv0 marker, script for node, 'hook'].
 */
export function selfHookCommand(view: ProcessView, argv0: string): { path: string; args: string[] } {
  if (view.sea) return { path: realpathSync(view.argv[0] ?? process.execPath), args: [argv0, 'hook'] };
  return { path: process.execPath, args: [argv0, realpathSync(view.argv[1] ?? ''), 'hook'] };
}

/** The file that is this program (the binary, or the bundle under node), for loop detection. */
export function selfFile(view: ProcessView): string {
  return realpathSync((view.sea ? view.argv[0] : view.argv[1]) ?? process.execPath);
}
