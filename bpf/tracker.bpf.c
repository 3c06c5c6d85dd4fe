// SPDX-License-Identifier: GPL-2.0
/* Reports process fork, exec and exit for tasks in watched cgroups (and anywhere below them). CO-RE:
 * built once against any BTF, relocated by libbpf against the running kernel's. tp_btf programs need
 * no tracefs, which hosts often do not mount. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "tracker.h"

/* Ancestor levels checked: a watched cgroup deeper than this is only matched for its own tasks. */
#define MAX_DEPTH 16

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u32);
} watched SEC(".maps");

/* Agent leaves whose tool calls are held at exec: a call must be in its own cgroup before it
 * allocates its first page (a charge never follows a moved process). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u32);
} agents SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, RING_BYTES);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/* The nearest watched cgroup containing current, or 0. Ancestors are looked up by level from the root
 * down, so a container cannot escape by nesting sub-cgroups: its watched cgroup stays at its level. */
static __always_inline __u64 watched_cgroup(__u64 own)
{
	__u64 match = 0;

	if (bpf_map_lookup_elem(&watched, &own))
		return own;
	for (int level = 0; level <= MAX_DEPTH; level++) {
		__u64 id = bpf_get_current_ancestor_cgroup_id(level);

		if (id == 0) /* past the task's own depth */
			break;
		if (bpf_map_lookup_elem(&watched, &id))
			match = id;
	}
	return match;
}

/* A filled-in event about task, or NULL when current is not watched or the ring buffer is full. */
static __always_inline struct event *start_event(__u32 type, struct task_struct *task)
{
	__u64 cgroup_id = bpf_get_current_cgroup_id();
	__u64 watch_id = watched_cgroup(cgroup_id);
	struct event *e;

	if (!watch_id)
		return NULL;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__u32 zero = 0;
		__u64 *count = bpf_map_lookup_elem(&drops, &zero);

		/* atomic: a tracing program can be preempted by another on the same CPU */
		if (count)
			__sync_fetch_and_add(count, 1);
		return NULL;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->cgroup_id = cgroup_id;
	e->watch_id = watch_id;
	e->type = type;
	e->pid = BPF_CORE_READ(task, pid);
	e->tgid = BPF_CORE_READ(task, tgid);
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->exit_code = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->filename[0] = '\0';
	e->flags = 0;
	return e;
}

/* current is the parent; the child starts in its cgroup. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(agentcg_fork, struct task_struct *parent, struct task_struct *child)
{
	struct event *e;

	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid)) /* a new thread, not a process */
		return 0;
	e = start_event(EVENT_FORK, child);
	if (e)
		bpf_ringbuf_submit(e, 0);
	return 0;
}

#define SIGSTOP 19

/* A job-control shell puts each job in a process group of its own on its terminal and would report
 * a stopped job as "Stopped": such processes are never held. Pointers are compared, not read. */
static __always_inline bool in_terminal_job(struct task_struct *task)
{
	struct signal_struct *sig = BPF_CORE_READ(task, signal);

	if (!BPF_CORE_READ(sig, tty))
		return false;
	return BPF_CORE_READ(sig, pids[PIDTYPE_PGID]) != BPF_CORE_READ(task, real_parent, signal, pids[PIDTYPE_PGID]);
}

/* Runs after the new program is mapped, before its first instruction: a SIGSTOP sent here stops the
 * process on its way back to user space. Held only once its event is in the ring buffer, so the
 * daemon always learns of what it must continue; a full ring buffer holds nothing. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(agentcg_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	struct event *e = start_event(EVENT_EXEC, task);
	__u64 cgroup_id; /* map keys must live on the stack, not in the ring buffer (6.1's verifier) */

	if (!e)
		return 0;
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), BPF_CORE_READ(bprm, filename));
	cgroup_id = e->cgroup_id;
	if (e->pid == e->tgid && bpf_map_lookup_elem(&agents, &cgroup_id) && !in_terminal_job(task) &&
	    bpf_send_signal(SIGSTOP) == 0)
		e->flags = FLAG_HELD;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* Newer kernels pass a second argument (group_dead); only the first is read, so 6.1 accepts this too.
 * The leader's exit stands for the process's: exactly one event per process, early only if the
 * leader left with pthread_exit() while other threads ran on. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(agentcg_exit, struct task_struct *task)
{
	struct event *e;

	if (BPF_CORE_READ(task, pid) != BPF_CORE_READ(task, tgid)) /* a thread ends, not the process */
		return 0;
	e = start_event(EVENT_EXIT, task);
	if (!e)
		return 0;
	e->exit_code = BPF_CORE_READ(task, exit_code);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
