/* A container's cgroups as the host lays them out: where the cpu and freezer
 * controllers are (v1 hierarchies, or cgroup2), the cgroup of a pid, its id
 * (what BPF programs see), its CPU limit and throttling, freeze and kill. The
 * parsers take text so the fuzz targets can drive them. */
#ifndef RW_CGROUP_H
#define RW_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "shim/error.h"

struct rw_cg_host {
	bool cpu_v1;                   /* the cpu controller is a v1 hierarchy */
	char cpu_mount[PATH_MAX];      /* its mount point, or cgroup2's */
	char freezer_mount[PATH_MAX];  /* the v1 freezer's, "" when freezing is cgroup2's */
	char unified_mount[PATH_MAX];  /* cgroup2's, "" when not mounted */
};

/* From /proc/self/mountinfo. A host with neither a v1 cpu hierarchy nor
 * cgroup2 is an error. */
int rw_cg_host_detect(struct rw_cg_host *h, rw_error_t *err);
/* The parser behind it: 0 when a cpu hierarchy or cgroup2 was found, -1 not. */
int rw_cg_parse_mountinfo(const char *text, size_t len, struct rw_cg_host *h);

/* From /proc/PID/cgroup's text: the path of the v1 hierarchy whose controller
 * list holds `controller`, or with controller NULL the cgroup2 ("0::") path.
 * 1 found (out filled), 0 not, -1 too long or malformed. */
int rw_cg_parse_proc_cgroup(const char *text, size_t len, const char *controller, char *out, size_t size);

/* The cpu cgroup directory and freezer directory of pid. */
int rw_cg_of_pid(const struct rw_cg_host *h, pid_t pid, char *cpu_dir, size_t cpu_size,
		 char *freezer_dir, size_t freezer_size, rw_error_t *err);

/* The cgroup's id: its kernfs node id, from name_to_handle_at. */
int rw_cg_id(const char *dir, uint64_t *id, rw_error_t *err);

struct rw_cg_cpu {
	uint64_t nr_periods, nr_throttled;
	uint64_t throttled_ns;
	int64_t quota_us;              /* < 0: none */
	uint64_t period_us;
};

/* cpu.stat, v1 (throttled_time, ns) or v2 (throttled_usec) keys. 0, or -1
 * when no nr_periods line was found. */
int rw_cg_parse_cpu_stat(const char *text, size_t len, struct rw_cg_cpu *c);
/* cpu.max ("max 100000", "20000 100000"). 0 or -1. */
int rw_cg_parse_cpu_max(const char *text, size_t len, struct rw_cg_cpu *c);
/* Reads cpu.stat through dirfd (the cpu cgroup's directory), and with
 * limits the quota and period too (else c's are left as they are). -1 with
 * errno ENOENT once the cgroup is gone. */
int rw_cg_read_cpu(int dirfd, bool v1, bool limits, struct rw_cg_cpu *c);

/* Freezes (or thaws) the cgroup: v1 freezer.state, or cgroup2 cgroup.freeze. */
int rw_cg_freeze(const char *freezer_dir, bool v1, bool freeze, rw_error_t *err);
/* SIGKILLs every process of the cgroup: frozen first so none can fork away,
 * then killed, then thawed so the kills are delivered. cgroup2's cgroup.kill
 * where the kernel has it. */
int rw_cg_kill(const char *cpu_dir, const char *freezer_dir, bool freezer_v1, rw_error_t *err);

#endif
