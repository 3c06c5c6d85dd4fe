/**
 * This agentcgroup's version: package.json's, kept here as a constant so that the single executable
 * and the bundle carry it without reading a file (a unit test holds the two equal); and the git commit
 * it was built from, which the build defines (src/sea/commit.mjs: esbuild's --define of
 * AGENTCGROUP_COMMIT). Run from the sources (tap, tsx) nothing defines it: "unknown".
 */
export const VERSION = '0.1.0';

declare const AGENTCGROUP_COMMIT: string | undefined;
// typeof on a name nothing defines is "undefined", never a ReferenceError.
export const COMMIT: string = typeof AGENTCGROUP_COMMIT === 'string' ? AGENTCGROUP_COMMIT : 'unknown';

/** What `agentcgroup --version` prints. */
export const VERSION_LINE = `${VERSION} (commit ${COMMIT})`;
