// SPDX-License-Identifier: GPL-2.0
/* agentsched: a sched_ext scheduler that knows an agent's framework from its tool calls and a tool
 * call's priority, by the task's cgroup v2. Written against, and tried only on, Debian sid's 7.2: some
 * kfuncs it uses (scx_bpf_task_set_slice/dsq_vtime, scx_bpf_now) are recent, so 6.12 cannot load it.
 *
 * - The daemon fills `classes` (cgroup id -> CLASS_* of agentsched.h); a task's class is that of its
 *   cgroup or of the nearest ancestor in the map (so a tool call cannot change class by making
 *   sub-cgroups), else CLASS_OTHER. A per-task cache keyed by (cgroup id, `generation`) keeps this
 *   off the hot path; the daemon bumps `generation` after changing `classes` or `supervisors`.
 * - The daemon puts its own tgid in `supervisors`: its threads are CLASS_SUPERVISOR, queued and
 *   guarded like agent tasks. A tool call's exec waits for the daemon to place it, and the ladder
 *   must act within the burst it answers; as a host task it would share the guard's third of a CPU
 *   with every busy tool call. Keyed by tgid, not cgroup: the daemon's cgroup (a service's, or the
 *   root) may hold other host tasks.
 * - Agent-leaf tasks: FIFO AGENT_DSQ with short slices, consumed first by every CPU; a waking agent
 *   task preempts a non-agent task on its CPU. Starvation guard: a CPU that ran agent tasks for
 *   AGENT_RUN_NS while others waited gives the shared queue GUARD_NS of running time next (whoever in
 *   it runs, for as many turns as that takes, not preempted for agents): under saturating agents the
 *   others still get GUARD_NS in every AGENT_RUN_NS + GUARD_NS (a third of each CPU).
 * - Everything else (tool calls and the rest of the host): one vtime-ordered SHARED_DSQ, charged
 *   runtime / (task weight x class factor): high-priority tool calls get 3x a normal task's share,
 *   low-priority ones a quarter; tool calls of normal priority and host tasks are alike. A task's
 *   slice shrinks with its weight and one turn is charged at most one full slice, as the fair class
 *   does: a low-weight task (nice 19, a kernel thread like khugepaged) runs less each turn, not seldom.
 *   Charged in full (a nice-19 turn of 20 ms costs 100x that) it would wait for seconds behind a few
 *   busy loops, and the kernel's watchdog (below) would throw the scheduler out.
 * - Idle CPUs are used at once (select_cpu puts a task found an idle CPU straight on it).
 * - The kernel's watchdog (timeout_ms) reverts everything to the fair class if a task waits too long,
 *   and closing the struct_ops link (the loader's process exiting, SIGKILL too) unloads us.
 *
 * The kernel types it uses are in kernel.h (CO-RE, no vmlinux.h: any machine builds it, sched_ext or
 * not; bpf/build.sh makes dist/agentsched.bpf.o); kfuncs are declared here. libbpf 1.1 (Debian 12)
 * loads it: no ".struct_ops.link" or "struct_ops.s" sections, so the loader sets BPF_F_LINK on the
 * map and BPF_F_SLEEPABLE on agentsched_init itself (src/bpf/sched.ts). */
#include "kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "agentsched.h"

char LICENSE[] SEC("license") = "GPL";

#define MAX_CPUS 1024
/* Ancestor levels looked at for a class: a class set deeper than this above the task is not seen. */
#define MAX_DEPTH 16
/* Agent running time on a CPU after which the shared queue gets GUARD_NS (if anyone waits in it). */
#define AGENT_RUN_NS (40ULL * 1000 * 1000)
#define AGENT_SLICE_NS (5ULL * 1000 * 1000)
#define SHARED_SLICE_NS SCX_SLICE_DFL
/* The shortest slice a low-weight task gets: below it, context switches cost more than the turn. */
#define MIN_SLICE_NS (1ULL * 1000 * 1000)
#define GUARD_NS SCX_SLICE_DFL

/* sched_ext kfuncs (as in 7.2's BTF; the kernel supplies hidden arguments of the *_impl variants). */
extern s32 scx_bpf_create_dsq(u64 dsq_id, s32 node) __ksym;
extern s32 scx_bpf_select_cpu_dfl(struct task_struct *p, s32 prev_cpu, u64 wake_flags, bool *is_idle) __ksym;
extern void scx_bpf_dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice, u64 enq_flags) __ksym;
/* The 6.13-style 5-argument form, still registered in 7.2. Its successor __scx_bpf_dsq_insert_vtime(p,
 * &args) cannot be used with clang 14: it emits no BTF for an extern whose name is reserved (__x). */
extern void scx_bpf_dsq_insert_vtime(struct task_struct *p, u64 dsq_id, u64 slice, u64 vtime, u64 enq_flags) __ksym;
extern bool scx_bpf_dsq_move_to_local(u64 dsq_id) __ksym;
extern void scx_bpf_kick_cpu(s32 cpu, u64 flags) __ksym;
extern s32 scx_bpf_task_cpu(const struct task_struct *p) __ksym;
extern bool scx_bpf_task_set_dsq_vtime(struct task_struct *p, u64 vtime) __ksym;
extern bool scx_bpf_task_set_slice(struct task_struct *p, u64 slice) __ksym;
extern u64 scx_bpf_now(void) __ksym;

#define BPF_STRUCT_OPS(name, args...) SEC("struct_ops/" #name) BPF_PROG(name, ##args)

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, u64);
	__type(value, u32);
} classes SEC(".maps");

/* tgid -> 1: the daemon's own process (see CLASS_SUPERVISOR). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, u32);
	__type(value, u32);
} supervisors SEC(".maps");

/* Bumped by the daemon after it changes `classes` or `supervisors`: cached task classes older than it are redone. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u32);
} generation SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NR_STATS);
	__type(key, u32);
	__type(value, u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct agentsched_exit);
} exit_info SEC(".maps");

/*
 * ops.exit also puts its record here: the ring's fd turns readable, so the daemon hears of an ejection
 * (watchdog, sysrq S, an error) when it happens. The link's fd does not tell: it polls nothing when
 * the kernel disables the scheduler (7.2, tried with sysrq S).
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} exit_ring SEC(".maps");

struct task_ctx {
	u64 cgid; /* the cgroup the class was found for; 0: none yet */
	u32 gen;
	u32 cls;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctxs SEC(".maps");

struct cpu_ctx {
	u64 started;    /* when the running task started its turn (scx_bpf_now) */
	u64 guard_left; /* running time the shared queue still has in this guard turn; 0: no guard turn */
	u64 agent_ns;   /* agent running time since the last guard turn (or the agents last left the CPU) */
	u32 cls;        /* the running task's class */
	u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_CPUS);
	__type(key, u32);
	__type(value, struct cpu_ctx);
} cpus SEC(".maps");

/* The vtime of the most advanced task that ran: sleepers are not let behind it by more than a slice. */
static u64 vtime_now;

static __always_inline void stat_inc(u32 idx)
{
	u64 *n = bpf_map_lookup_elem(&stats, &idx);

	if (n)
		(*n)++;
}

static __always_inline void stat_add(u32 idx, u64 n)
{
	u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += n;
}

static __always_inline struct cpu_ctx *cpu_ctx(s32 cpu)
{
	u32 key = cpu;

	return bpf_map_lookup_elem(&cpus, &key);
}

/* Classes queued on AGENT_DSQ, ahead of the shared queue (within the starvation guard). */
static __always_inline bool ahead(u32 cls)
{
	return cls == CLASS_AGENT || cls == CLASS_SUPERVISOR;
}

/* Share factor, in percent of a normal task's, by class. */
static __always_inline u64 class_factor(u32 cls)
{
	switch (cls) {
	case CLASS_TOOL_HIGH:
		return 300;
	case CLASS_TOOL_LOW:
		return 25;
	default:
		return 100;
	}
}

/* A shared-queue task's weight: its own (100 at nice 0) times its class's factor. */
static __always_inline u64 task_weight(struct task_struct *p, u32 cls)
{
	u64 w = (u64)p->scx.weight * class_factor(cls) / 100;

	return w ? w : 1;
}

/* Its slice: SHARED_SLICE_NS at weight 100 and above, shorter below it, at least MIN_SLICE_NS. */
static __always_inline u64 shared_slice(u64 weight)
{
	u64 s = SHARED_SLICE_NS * weight / 100;

	if (s < MIN_SLICE_NS)
		return MIN_SLICE_NS;
	return s > SHARED_SLICE_NS ? SHARED_SLICE_NS : s;
}

/* The class of cgroup `cgrp` (at depth `level`) or of its nearest ancestor in `classes`. */
static __noinline u32 lookup_class(struct cgroup *cgrp, u64 own)
{
	u64 anc_off = bpf_core_field_offset(struct cgroup, ancestors);
	int level = BPF_CORE_READ(cgrp, level);
	u32 *cls;

	cls = bpf_map_lookup_elem(&classes, &own);
	if (cls)
		return *cls;
	for (int i = 1; i < MAX_DEPTH; i++) {
		struct cgroup *anc = NULL;
		int lvl = level - i;
		u64 id;

		if (lvl < 0)
			break;
		if (bpf_probe_read_kernel(&anc, sizeof(anc), (void *)cgrp + anc_off + (u64)lvl * sizeof(anc)) || !anc)
			break;
		id = BPF_CORE_READ(anc, kn, id);
		cls = bpf_map_lookup_elem(&classes, &id);
		if (cls)
			return *cls;
	}
	return CLASS_OTHER;
}

/* A task's class, from its cache when neither its cgroup nor `classes`/`supervisors` changed since. */
static __always_inline u32 task_class(struct task_struct *p)
{
	struct cgroup *cgrp = BPF_CORE_READ(p, cgroups, dfl_cgrp);
	struct task_ctx *tc;
	u32 zero = 0, gen = 0, cls;
	u32 *g;
	u64 cgid;

	if (!cgrp)
		return CLASS_OTHER;
	cgid = BPF_CORE_READ(cgrp, kn, id);
	/* Read before the map: a class changed after this read is seen at the next call at the latest. */
	g = bpf_map_lookup_elem(&generation, &zero);
	if (g)
		gen = *g;
	tc = bpf_task_storage_get(&task_ctxs, p, 0, 0);
	if (tc && tc->cgid == cgid && tc->gen == gen)
		return tc->cls;

	stat_inc(STAT_CLASSIFY);
	u32 tgid = BPF_CORE_READ(p, tgid);
	if (bpf_map_lookup_elem(&supervisors, &tgid))
		cls = CLASS_SUPERVISOR;
	else
		cls = lookup_class(cgrp, cgid);
	if (cls >= NR_CLASSES)
		cls = CLASS_OTHER;
	if (cls != CLASS_OTHER)
		stat_inc(STAT_CLASSED);
	if (tc) {
		tc->cgid = cgid;
		tc->gen = gen;
		tc->cls = cls;
	}
	return cls;
}

/* The class last found for a task (running/stopping: no lookup on the context-switch path). */
static __always_inline u32 cached_class(struct task_struct *p)
{
	struct task_ctx *tc = bpf_task_storage_get(&task_ctxs, p, 0, 0);

	return tc ? tc->cls : CLASS_OTHER;
}

s32 BPF_STRUCT_OPS(agentsched_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool is_idle = false;
	s32 cpu;

	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (is_idle) {
		u32 cls = task_class(p);

		stat_inc(STAT_DIRECT);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, ahead(cls) ? AGENT_SLICE_NS : shared_slice(task_weight(p, cls)), 0);
	}
	return cpu;
}

void BPF_STRUCT_OPS(agentsched_enqueue, struct task_struct *p, u64 enq_flags)
{
	u32 cls = task_class(p);

	if (ahead(cls)) {
		stat_inc(STAT_ENQ_AGENT);
		scx_bpf_dsq_insert(p, AGENT_DSQ, AGENT_SLICE_NS, enq_flags);
		if (enq_flags & SCX_ENQ_WAKEUP) {
			s32 cpu = scx_bpf_task_cpu(p);
			struct cpu_ctx *c = cpu_ctx(cpu);

			if (c && !ahead(c->cls) && !c->guard_left) {
				stat_inc(STAT_KICK);
				scx_bpf_kick_cpu(cpu, SCX_KICK_PREEMPT);
			}
		}
		return;
	}

	u64 vtime = p->scx.dsq_vtime;

	/* A task that slept keeps at most one slice of credit. */
	if ((s64)(vtime - (vtime_now - SHARED_SLICE_NS)) < 0)
		vtime = vtime_now - SHARED_SLICE_NS;
	stat_inc(STAT_ENQ_SHARED);
	scx_bpf_dsq_insert_vtime(p, SHARED_DSQ, shared_slice(task_weight(p, cls)), vtime, enq_flags);
}

/*
 * Charges the running task's time since it started (or was last charged) on this CPU: to its class's
 * counter, to the guard's accounts and, outside the agent class, to its vtime.
 */
static __always_inline void charge(struct cpu_ctx *c, struct task_struct *p, u32 cls)
{
	u64 now = scx_bpf_now();
	u64 used = now > c->started ? now - c->started : 0;
	u64 vt;

	c->started = now;
	stat_add(STAT_RUN_NS + (cls < NR_CLASSES ? cls : CLASS_OTHER), used);
	if (ahead(cls)) {
		c->agent_ns += used;
		return;
	}
	if (c->guard_left)
		c->guard_left = used < c->guard_left ? c->guard_left - used : 0;
	/* At most one full slice a charge: with the slice shrunk by weight, a turn costs every task alike. */
	vt = used * 100 / task_weight(p, cls);
	if (vt > SHARED_SLICE_NS)
		vt = SHARED_SLICE_NS;
	scx_bpf_task_set_dsq_vtime(p, p->scx.dsq_vtime + vt);
}

/*
 * ops.dispatch runs before `prev` (the task whose slice ran out) is queued again: an agent task that
 * is still runnable is not on AGENT_DSQ yet, and taking SHARED_DSQ then would hand the CPU away from
 * it. So a runnable agent `prev` is kept (its slice refilled) when no other agent task waits. Its
 * time is charged here first, so that the guard sees an agent that is kept on and on.
 */
void BPF_STRUCT_OPS(agentsched_dispatch, s32 cpu, struct task_struct *prev)
{
	struct cpu_ctx *c = cpu_ctx(cpu);
	bool keep_prev = false;

	if (prev) {
		u32 cls = cached_class(prev);

		if (c)
			charge(c, prev, cls);
		keep_prev = (prev->scx.flags & SCX_TASK_QUEUED) && ahead(cls);
	}
	if (c && !c->guard_left && c->agent_ns >= AGENT_RUN_NS) {
		if (scx_bpf_dsq_move_to_local(SHARED_DSQ)) {
			stat_inc(STAT_GUARD);
			stat_inc(STAT_DISP_SHARED);
			c->guard_left = GUARD_NS;
			c->agent_ns = 0;
			return;
		}
		/* Nobody else waits: agents go on, and the next dispatch looks at the shared queue first. */
	} else if (c && c->guard_left) {
		if (scx_bpf_dsq_move_to_local(SHARED_DSQ)) {
			stat_inc(STAT_DISP_SHARED);
			return;
		}
		c->guard_left = 0; /* nobody else waits any more */
	}
	if (scx_bpf_dsq_move_to_local(AGENT_DSQ)) {
		stat_inc(STAT_DISP_AGENT);
		return;
	}
	if (keep_prev) {
		stat_inc(STAT_KEEP_AGENT);
		scx_bpf_task_set_slice(prev, AGENT_SLICE_NS);
		return;
	}
	/* No agent waits here: what they ran so far took nobody's turn. */
	if (c)
		c->agent_ns = 0;
	if (scx_bpf_dsq_move_to_local(SHARED_DSQ))
		stat_inc(STAT_DISP_SHARED);
}

void BPF_STRUCT_OPS(agentsched_running, struct task_struct *p)
{
	struct cpu_ctx *c = cpu_ctx(bpf_get_smp_processor_id());
	u32 cls = cached_class(p);

	if (c) {
		c->started = scx_bpf_now();
		c->cls = cls;
	}
	if (!ahead(cls) && (s64)(p->scx.dsq_vtime - vtime_now) > 0)
		vtime_now = p->scx.dsq_vtime;
}

void BPF_STRUCT_OPS(agentsched_stopping, struct task_struct *p, bool runnable)
{
	struct cpu_ctx *c = cpu_ctx(bpf_get_smp_processor_id());

	if (c)
		charge(c, p, cached_class(p));
}

void BPF_STRUCT_OPS(agentsched_enable, struct task_struct *p)
{
	scx_bpf_task_set_dsq_vtime(p, vtime_now);
}

s32 BPF_STRUCT_OPS(agentsched_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	/* No memory for the cache is no reason to fail a fork: task_class() then looks up every time. */
	bpf_task_storage_get(&task_ctxs, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	return 0;
}

/* Sleepable (scx_bpf_create_dsq is): the loader sets BPF_F_SLEEPABLE, libbpf 1.1 knows no "struct_ops.s". */
s32 BPF_STRUCT_OPS(agentsched_init)
{
	s32 err;

	err = scx_bpf_create_dsq(AGENT_DSQ, -1);
	if (err)
		return err;
	return scx_bpf_create_dsq(SHARED_DSQ, -1);
}

void BPF_STRUCT_OPS(agentsched_exit, struct scx_exit_info *ei)
{
	u32 zero = 0;
	struct agentsched_exit *e = bpf_map_lookup_elem(&exit_info, &zero);

	if (!e)
		return;
	e->kind = ei->kind;
	e->exit_code = ei->exit_code;
	bpf_probe_read_kernel_str(e->reason, sizeof(e->reason), ei->reason);
	bpf_probe_read_kernel_str(e->msg, sizeof(e->msg), ei->msg);
	bpf_ringbuf_output(&exit_ring, e, sizeof(*e), 0);
}

SEC(".struct_ops")
struct sched_ext_ops agentsched = {
	.select_cpu = (void *)agentsched_select_cpu,
	.enqueue = (void *)agentsched_enqueue,
	.dispatch = (void *)agentsched_dispatch,
	.running = (void *)agentsched_running,
	.stopping = (void *)agentsched_stopping,
	.enable = (void *)agentsched_enable,
	.init_task = (void *)agentsched_init_task,
	.init = (void *)agentsched_init,
	.exit = (void *)agentsched_exit,
	.timeout_ms = 5000,
	.name = "agentcgroup",
};
