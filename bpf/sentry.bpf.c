// SPDX-License-Identifier: GPL-2.0
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "sentry.h"

char LICENSE[] SEC("license") = "GPL";

/* Set before load: 1 where the cpu controller is a v1 hierarchy (hybrid and
 * legacy hosts, and runsc's sandboxes there), 0 on a cgroup2 host. */
const volatile int use_v1_cpu = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RW_SENTRY_MAX_CGROUPS);
	__type(key, __u64);
	__type(value, struct rw_cg_stats);
} watched SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rw_cpu_slot);
} oncpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} execs SEC(".maps");

/* The task's cgroup id. Plain loads through BTF pointers (the verifier
 * makes them faulting loads) rather than a bpf_probe_read_kernel per hop:
 * this runs on every context switch and system call of the node. */
static __always_inline __u64 task_cgid(struct task_struct *t)
{
	struct css_set *cs = t->cgroups;

	if (use_v1_cpu)
		return cs->subsys[bpf_core_enum_value(enum cgroup_subsys_id, cpu_cgrp_id)]->cgroup->kn->id;
	return cs->dfl_cgrp->kn->id;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(rw_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	__u32 zero = 0;
	struct rw_cpu_slot *slot = bpf_map_lookup_elem(&oncpu, &zero);
	__u64 now = bpf_ktime_get_ns(), prev_cg;
	struct rw_cg_stats *s;

	if (!slot)
		return 0;
	prev_cg = task_cgid(prev);
	s = bpf_map_lookup_elem(&watched, &prev_cg);
	if (s) {
		if (slot->cgid == prev_cg && slot->since_ns && now > slot->since_ns)
			__sync_fetch_and_add(&s->oncpu_ns, now - slot->since_ns);
		if (!preempt && (prev_state & 0xff))
			__sync_fetch_and_add(&s->vol_switches, 1);
		else
			__sync_fetch_and_add(&s->invol_switches, 1);
	}
	slot->cgid = next->pid ? task_cgid(next) : 0;
	slot->since_ns = now;
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(rw_sys_enter, struct pt_regs *regs, long id)
{
	__u64 cg = task_cgid(bpf_get_current_task_btf());
	struct rw_cg_stats *s = bpf_map_lookup_elem(&watched, &cg);

	if (s)
		__sync_fetch_and_add(&s->syscalls, 1);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(rw_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u64 cg = task_cgid(p);
	struct rw_cg_stats *s = bpf_map_lookup_elem(&watched, &cg);
	struct rw_exec_event *e;

	if (!s)
		return 0;
	__sync_fetch_and_add(&s->execs, 1);
	e = bpf_ringbuf_reserve(&execs, sizeof(*e), 0);
	if (!e)
		return 0;
	e->cgid = cg;
	e->pid = BPF_CORE_READ(p, tgid);
	e->pad = 0;
	bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), p->comm);
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), BPF_CORE_READ(bprm, filename));
	bpf_ringbuf_submit(e, 0);
	return 0;
}
