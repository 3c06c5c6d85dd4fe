/* SPDX-License-Identifier: GPL-2.0 */
/* The kernel types and constants agentsched.bpf.c uses, and nothing else: it builds on any machine
 * (Debian 12's 6.1 BTF has no sched_ext types, so a vmlinux.h dumped there cannot build it).
 *
 * - Structs: only the fields read, each struct preserve_access_index, so that libbpf relocates every
 *   field offset against the running kernel's BTF at load (CO-RE): the layouts here need not match
 *   any kernel's, only the names and the kinds of the fields.
 * - struct sched_ext_ops is the exception: it is not read but filled (the .struct_ops section), and
 *   libbpf matches each member by name against the kernel's struct and copies data members only
 *   when their sizes are equal. So: only the members set, with the kernel's sizes (timeout_ms u32,
 *   name char[SCX_OPS_NAME_LEN]), as in 6.12's and 7.2's struct.
 * - Constants: kernel ABI, compiled in as they are (nothing relocates them). Each value is the same
 *   in Debian sid's 7.2 BTF (bpftool btf dump file .../vmlinux format c) and in 6.12, the first
 *   kernel with sched_ext: its source for the SCX_* ones (include/linux/sched/ext.h and
 *   kernel/sched/ext.c), Debian 12's UAPI linux/bpf.h (6.1) for the BPF ones.
 */
#ifndef AGENTSCHED_KERNEL_H
#define AGENTSCHED_KERNEL_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef int __s32;
typedef long long __s64;
/* For bpf_helper_defs.h's prototypes. */
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s32 s32;
typedef __s64 s64;
typedef _Bool bool;
enum { false = 0, true = 1 };

/* linux/bpf.h (UAPI) */
enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_TASK_STORAGE = 29,
	BPF_MAP_TYPE_RINGBUF = 27,
};
#define BPF_F_NO_PREALLOC (1U << 0)
#define BPF_LOCAL_STORAGE_GET_F_CREATE (1ULL << 0)

/* include/linux/sched/ext.h */
#define SCX_OPS_NAME_LEN 128
#define SCX_SLICE_DFL (20ULL * 1000 * 1000) /* 20 ms */
#define SCX_DSQ_FLAG_BUILTIN (1ULL << 63)
#define SCX_DSQ_LOCAL (SCX_DSQ_FLAG_BUILTIN | 2)
#define SCX_TASK_QUEUED (1U << 0) /* sched_ext_entity.flags: on the ext runqueue */
/* kernel/sched/ext.c */
#define SCX_ENQ_WAKEUP (1ULL << 0)
#define SCX_KICK_PREEMPT (1ULL << 1)

struct kernfs_node {
	u64 id;
} __attribute__((preserve_access_index));

struct cgroup {
	int level;
	struct kernfs_node *kn;
	/* ancestors[level] is the cgroup itself, ancestors[0] the root. */
	struct cgroup *ancestors[];
} __attribute__((preserve_access_index));

struct css_set {
	struct cgroup *dfl_cgrp;
} __attribute__((preserve_access_index));

struct sched_ext_entity {
	u32 flags;
	u32 weight;
	u64 dsq_vtime;
} __attribute__((preserve_access_index));

struct task_struct {
	struct sched_ext_entity scx;
	struct css_set *cgroups;
	int tgid;
} __attribute__((preserve_access_index));

struct scx_init_task_args {
	bool fork;
} __attribute__((preserve_access_index));

/* An enum, not an int: CO-RE takes a field as the same only if its kind is. */
enum scx_exit_kind {
	SCX_EXIT_NONE = 0,
};

struct scx_exit_info {
	enum scx_exit_kind kind;
	s64 exit_code;
	const char *reason;
	char *msg;
} __attribute__((preserve_access_index));

struct sched_ext_ops {
	s32 (*select_cpu)(struct task_struct *p, s32 prev_cpu, u64 wake_flags);
	void (*enqueue)(struct task_struct *p, u64 enq_flags);
	void (*dispatch)(s32 cpu, struct task_struct *prev);
	void (*running)(struct task_struct *p);
	void (*stopping)(struct task_struct *p, bool runnable);
	s32 (*init_task)(struct task_struct *p, struct scx_init_task_args *args);
	void (*enable)(struct task_struct *p);
	s32 (*init)(void);
	void (*exit)(struct scx_exit_info *info);
	u32 timeout_ms;
	char name[SCX_OPS_NAME_LEN];
} __attribute__((preserve_access_index));

#endif
