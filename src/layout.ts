/** Our two children of a container cgroup C: the framework's leaf and the parent of every tool call's cgroup. */
export const AGENT_LEAF = 'agent';
export const TOOLS_PARENT = 'tools';
/** The controllers a carve needs at the cgroup2 root and enables in C and C/tools. */
export const CONTROLLERS = ['memory', 'cpu', 'pids'] as const;
