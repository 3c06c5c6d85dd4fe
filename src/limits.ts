/** A memory limit as cgroupfs writes it: bytes, or 'max' for none. */
export type Bytes = number | 'max';

/** Concrete limits for one cgroup, resolved from policy sizes against the session. */
export interface Limits {
  memoryHigh: Bytes;
  memoryMax: Bytes;
  cpuWeight: number;
  pidsMax?: number | 'max';
  oomGroup?: boolean;
}
