/* The one record the tracker sends through its ring buffer; src/bpf/tracker.ts decodes the same
 * layout (bpf/build.sh writes the compiled offsets to build/bpf/layout.json and a unit test compares).
 * Every field sits at its natural alignment with no implicit padding, so the layout is the same for
 * the BPF target and the host. The includer provides __u64 and friends (vmlinux.h or linux/types.h). */
#ifndef AGENTCGROUP_TRACKER_H
#define AGENTCGROUP_TRACKER_H

#define EVENT_FORK 1
#define EVENT_EXEC 2
#define EVENT_EXIT 3

/* flags: the tracker stopped the process (SIGSTOP) before its first instruction; the daemon places
 * it and continues it. */
#define FLAG_HELD 1

/* The ring buffer's data size (a power of two, a multiple of the page size). Each record takes
 * sizeof(struct event) plus the ring's 8-byte header, and the kernel keeps the producer less than
 * RING_BYTES ahead, so at most (RING_BYTES - 1) / 200 events wait at once: a drain that handles that
 * many has handled everything that was waiting when it began. */
#define RING_BYTES (1 << 20)

#define COMM_LEN 16
#define FILENAME_LEN 128

struct event {
	__u64 ts_ns;                  /* bpf_ktime_get_ns(): monotonic clock since boot, in ns */
	__u64 cgroup_id;              /* the task's own cgroup v2 id (its directory's inode number) */
	__u64 watch_id;               /* the watched cgroup (the task's own or its nearest watched ancestor) */
	__u32 type;                   /* EVENT_FORK, EVENT_EXEC or EVENT_EXIT */
	__u32 pid;                    /* thread id; for fork, the new child's */
	__u32 tgid;                   /* process id; for fork, the new child's */
	__u32 ppid;                   /* tgid of the task's real_parent */
	__s32 exit_code;              /* exit: task->exit_code (status << 8, or the killing signal), else 0 */
	char comm[COMM_LEN];          /* task comm, NUL-terminated; for fork the parent's, which the child inherits */
	char filename[FILENAME_LEN];  /* exec: bprm->filename as given to execve, NUL-terminated; else "" */
	__u32 flags;                  /* FLAG_HELD; also pads the struct to a multiple of 8 */
};

#endif
