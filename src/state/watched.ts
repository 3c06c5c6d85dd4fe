import type { Cgroupfs } from '../cgroup/cgroupfs.js';
import type { ContainerRecord } from './records.js';

/** What the daemon knows of a carved container while it is watched. */
export interface Watched {
  record: ContainerRecord;
  fs: Cgroupfs;
  cgroupId: bigint;
  agentCgroupId: bigint;
}
