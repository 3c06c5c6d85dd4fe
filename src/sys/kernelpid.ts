/**
 * This process's pid as BPF programs see it: task->tgid, a pid of the initial pid namespace.
 * process.pid is that only in the initial namespace, which the kernel gives a fixed inode
 * (PROC_PID_INIT_INO); a daemon in a pid namespace of its own (a pod without hostPID) has another
 * pid there, which we cannot learn from inside, and naming ours would name some other host process.
 */
import { readlinkSync } from 'node:fs';
import { AgentcgroupError } from '../errors.js';

export const INIT_PID_NS = 'pid:[4026531836]';

/** This process's pid in the initial pid namespace; throws one line when it runs in another. */
export function kernelPid(proc = '/proc', pid: number = process.pid): number {
  let ns: string;
  try {
    ns = readlinkSync(`${proc}/self/ns/pid`);
  } catch (err) {
    throw new AgentcgroupError('pid-ns', `cannot read our pid namespace (${proc}/self/ns/pid): ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (ns !== INIT_PID_NS) throw new AgentcgroupError('pid-ns', `this process runs in a pid namespace of its own (${ns}), not the host's: its pid there is unknown (run it with the host's pid namespace, hostPID in Kubernetes)`);
  return pid;
}
