/**
 * koffi's native module in the single executable. koffi's loader finds its binary with
 * require('@koromix/koffi-linux-x64'); the SEA bundle points that at a one-line stub calling
 * loadKoffiNative (src/sea/build.mjs), so koffi's own JS runs unchanged around our load.
 */
import { dlopenBytes, seaAsset } from './assets.js';

let failure: Error | undefined;

/** The object process.dlopen made: koffi patches it in place, so it must not be a module namespace. */
export function loadKoffiNative(): unknown {
  try {
    return dlopenBytes('koffi.node', seaAsset('koffi.node'));
  } catch (err) {
    // koffi catches this and throws only "Cannot find the native Koffi module": keep the reason.
    failure = err as Error;
    throw err;
  }
}

export function koffiNativeFailure(): Error | undefined {
  return failure;
}
