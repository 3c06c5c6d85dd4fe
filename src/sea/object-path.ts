/**
 * Stands in for src/bpf/object-path.ts in the SEA bundle only (src/sea/build.mjs swaps it in) until
 * that module asks seaAssetPath itself: the executable's own tracker wins over a file beside it, and
 * AGENTCGROUP_BPF_OBJECT still wins over both.
 */
import { BPF_OBJECT_ENV, trackerObjectPath as besideScript } from '../bpf/object-path.js';
import { seaAssetPath } from './assets.js';

export { BPF_OBJECT_ENV };

export function trackerObjectPath(env: NodeJS.ProcessEnv = process.env, script: string | undefined = process.argv[1]): string {
  return (env[BPF_OBJECT_ENV] ? undefined : seaAssetPath('tracker.bpf.o')) ?? besideScript(env, script);
}
