/**
 * This agentcgroup's version: package.json's, kept here as a constant so that the single executable
 * and the bundle carry it without reading a file (a unit test holds the two equal). The build knows
 * no commit: nothing here names one.
 */
export const VERSION = '0.1.0';
