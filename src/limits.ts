/** A memory limit as cgroupfs writes it: bytes, or 'max' for none. */
export type Bytes = number | 'max';

/** Concrete limits for one cgroup, resolved from policy sizes against the session. */
export interface Limits {
  memoryHigh: Bytes;
  memoryMax: Bytes;
  cpuWeight: number;
  pidsMax?: number | 'max';
  oomGroup?: boolean;
  /** memory.swap.max; absent where the kernel keeps no swap accounting (the file is not there to write). */
  swapMax?: number | 'max';
}
