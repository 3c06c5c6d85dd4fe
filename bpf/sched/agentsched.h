/* SPDX-License-Identifier: GPL-2.0 */
/* What the agent scheduler (agentsched.bpf.c) shares with its loader (src/bpf/sched.ts): the classes
 * the daemon gives cgroups, the DSQ ids, the stats slots and the exit record. Plain C, no vmlinux.h. */
#ifndef AGENTSCHED_H
#define AGENTSCHED_H

/* Classes, the values of the `classes` map (key: cgroup id, the kernfs id of a cgroup v2 directory,
 * i.e. its inode number). A cgroup not in the map, nor below one that is, is CLASS_OTHER. */
#define CLASS_OTHER 0     /* the rest of the host: scheduled like a normal task */
#define CLASS_AGENT 1     /* an agent leaf (the framework): its own DSQ, consumed first */
#define CLASS_TOOL_HIGH 2 /* a tool call of a high-priority container */
#define CLASS_TOOL 3      /* a tool call */
#define CLASS_TOOL_LOW 4  /* a tool call of a low-priority container */
/* The daemon itself, by its tgid in `supervisors`, not by cgroup: it places and saves tool calls, so it
 * must not wait behind them. Queued with the agent tasks, under the same starvation guard. */
#define CLASS_SUPERVISOR 5
#define NR_CLASSES 6

/* User DSQs (ids without SCX_DSQ_FLAG_BUILTIN). */
#define AGENT_DSQ 1  /* FIFO: agent-leaf tasks and the supervisor's */
#define SHARED_DSQ 2 /* vtime-ordered: everyone else, weighted by class */

/* Slots of the per-CPU `stats` array: counts since load, summed over CPUs by the loader. */
#define STAT_ENQ_AGENT 0    /* agent (and supervisor) tasks queued on AGENT_DSQ */
#define STAT_ENQ_SHARED 1   /* other tasks queued on SHARED_DSQ */
#define STAT_DIRECT 2       /* tasks put straight on an idle CPU by select_cpu */
#define STAT_DISP_AGENT 3   /* dispatches from AGENT_DSQ */
#define STAT_DISP_SHARED 4  /* dispatches from SHARED_DSQ */
#define STAT_GUARD 5        /* guard turns: SHARED_DSQ served first after AGENT_BURST agent turns in a row */
#define STAT_KICK 6         /* CPUs kicked to preempt a non-agent task for a waking agent task */
#define STAT_CLASSIFY 7     /* class looked up in the map (task cache miss) */
#define STAT_CLASSED 8      /* classifications that found a class other than CLASS_OTHER */
#define STAT_KEEP_AGENT 9   /* a runnable agent task kept on its CPU at the end of its slice */
#define STAT_RUN_NS 10      /* 10..15: nanoseconds run by tasks of each class (STAT_RUN_NS + CLASS_*) */
#define NR_STATS (STAT_RUN_NS + NR_CLASSES)

/* The `exit_info` record, written by ops.exit: why the kernel (or we) stopped the scheduler. */
#define EXIT_REASON_LEN 128
#define EXIT_MSG_LEN 256
struct agentsched_exit {
	int kind;           /* enum scx_exit_kind; 0: the scheduler has not exited */
	int pad;
	long long exit_code;
	char reason[EXIT_REASON_LEN];
	char msg[EXIT_MSG_LEN];
};

#endif
