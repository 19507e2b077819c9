/* Shared by bpf/sentry.bpf.c (kernel side) and bpf/sentry.c (user side). */
#ifndef RW_SENTRY_H
#define RW_SENTRY_H

#define RW_SENTRY_MAX_CGROUPS 4096
#define RW_SENTRY_COMM 16

/* Per watched cgroup, summed by the programs; user space takes deltas. */
struct rw_cg_stats {
	__u64 oncpu_ns;         /* time its tasks ran, up to their last switch-out */
	__u64 vol_switches;     /* switch-outs while blocking (sleep, I/O, futex) */
	__u64 invol_switches;   /* preemptions and yields */
	__u64 syscalls;
	__u64 execs;
};

/* Per CPU: who is on it since when (user space adds the running slice). */
struct rw_cpu_slot {
	__u64 cgid;
	__u64 since_ns;
};

struct rw_exec_event {
	__u64 cgid;
	__u32 pid;
	__u32 pad;
	char comm[RW_SENTRY_COMM];
	char filename[128];
};

#endif
