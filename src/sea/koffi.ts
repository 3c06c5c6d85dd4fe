/**
 * What `import koffi from 'koffi'` means in the SEA bundle (src/sea/build.mjs): koffi itself, or the
 * real reason its native module did not load.
 */
import type Koffi from 'koffi';
import { koffiNativeFailure } from './koffi-native.js';

function load(): typeof Koffi {
  try {
    // build.mjs resolves this one require to koffi's own index.cjs.
    return require('koffi') as typeof Koffi;
  } catch (err) {
    throw koffiNativeFailure() ?? err;
  }
}

export default load();
