/* The operator's policy file, read at every invocation: tiers, the rules that
 * select them, trusted containers, delegates. JSON with comments. Every error
 * names FILE:LINE:COL of the key or value at fault. */
#ifndef RW_POLICY_H
#define RW_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "shim/error.h"
#include "policy/blocklist.h"
#include "netfilter/egress.h"

struct rw_kv_list {
	char **keys, **values;
	size_t n;
};

struct rw_tier {
	char *name;
	uint64_t memory;        /* bytes */
	uint64_t cpu_micro;     /* CPUs x 1e6 */
	uint64_t tmpfs;         /* bytes, each of /tmp, /run, /var/tmp */
	int64_t pids;
	char **caps;            /* capabilities the tier may keep */
	size_t ncaps;
	char *delegate;         /* NULL: the policy's */
	char **egress;          /* the egress rules it gets, by name */
	size_t negress;
	bool egress_set;        /* false: every rule of the policy's egress.rules */
};

/* An egress rule of the policy: dropped (rules) or accepted (allow), on the
 * host side of the container's link. */
struct rw_egress_def {
	char *name;
	bool allow;
	char **cidrs;           /* none: any destination */
	size_t ncidrs;
	struct rw_egress_ports *ports;  /* none: any port */
	size_t nports;
	unsigned protocols;     /* RW_EGRESS_TCP | RW_EGRESS_UDP; 0: both */
};

struct rw_trusted {
	char *name;
	struct rw_kv_list annotations, labels;
	char *cgroup_parent, *image, *digest;
	char *delegate;         /* NULL: runc */
};

/* runwarden-sentry's section (bpf/README.md): sampling, the score, where
 * records are found, where events, metrics and status go, and per-tier
 * actions on a flag. Every key optional: unset keys keep the defaults. */
enum rw_sentry_action { RW_SENTRY_NONE = 0, RW_SENTRY_FREEZE, RW_SENTRY_KILL };

struct rw_sentry_conf {
	unsigned interval_ms;            /* 100..60000, default 1000 */
	unsigned window;                 /* 2..600, default 8 */
	double flag_score, clear_score;  /* 0 < clear < flag <= 1; defaults 0.75, 0.25 */
	double cpu_high, throttled_high; /* (0, 1]; defaults 0.8, 0.5 */
	double syscalls_max, switches_max, execs_max; /* per CPU-second, >= 0; defaults 100000, 3000, 2 */
	double pool_bonus, exec_bonus;   /* [0, 1]; defaults 0.3, 0.3 */
	char **pool_rules;  size_t npool_rules;  /* egress rules (drops) whose counters are pool attempts; default {"mining"} */
	char **roots;       size_t nroots;       /* absolute paths or globs where runwarden's records
						  * are; default RW_STATE_DIR and Docker's and containerd's runc roots */
	char *events;       /* JSON lines; "-" = stdout; else an absolute path. Default "/var/log/runwarden/sentry.log" */
	char *metrics;      /* "" = off; else "IPv4:PORT" or "[IPv6]:PORT", numeric. Default "127.0.0.1:9477" */
	char *textfile;     /* "" = off (the default); else an absolute path */
	char *status;       /* absolute path, the table `runwarden top` reads. Default "/run/runwarden-sentry.json" */
	char **action_tiers; enum rw_sentry_action *actions; size_t nactions; /* tier -> action on a flag */
};

struct rw_policy {
	const char *path;       /* the file read, or "<embedded default>" */
	bool from_file;
	char *delegate;         /* NULL: embedded default (runsc, crun, runc) */
	char *default_tier;
	char *audit_log;
	char *test_refuse;
	bool require_seccomp;
	struct rw_tier *tiers;
	size_t ntiers;
	struct rw_kv_list cgroup_parents;   /* parent -> tier name */
	struct rw_trusted *trusted;
	size_t ntrusted;
	char **allow_host_paths;
	size_t nallow;
	struct rw_blocklist blocklist;
	struct rw_egress_def *egress;   /* rules (drops) and allows, in the file's order */
	size_t negress;
	struct rw_sentry_conf sentry;   /* always filled: defaults when the file has no "sentry" */
};

/* $RUNWARDEN_POLICY, else the path fixed at configure time. */
const char *rw_policy_path(void);
/* The embedded default, commented: what `policy show --default` prints. */
extern const char rw_default_policy_text[];
/* Loads path; a missing file gives the embedded default. The first error
 * fails the load (callers that create containers fail closed on it). */
int rw_policy_load(const char *path, struct rw_policy *pol, rw_error_t *err);
/* Validates path and prints every error as FILE:LINE:COL: message to out.
 * Returns the number of errors (0: valid). */
int rw_policy_check(const char *path, FILE *out);
void rw_policy_release(struct rw_policy *pol);

/* The policy's audit_log, else $RUNWARDEN_AUDIT_LOG, else the configured default. */
const char *rw_policy_audit_log(const struct rw_policy *pol);
const struct rw_tier *rw_policy_tier(const struct rw_policy *pol, const char *name);
/* Size and CPU figures as the policy takes them ("512m", "1g", 0.5). */
int rw_parse_size(const char *s, uint64_t *out);
int rw_parse_cpus(const char *s, uint64_t *micro);
bool rw_cap_known(const char *name);
/* The egress rules of tier t: the allows, then the tier's drops. Pointers
 * into pol; *out malloc'd (free it). */
int rw_policy_egress(const struct rw_policy *pol, const struct rw_tier *t, const struct rw_egress_def ***out, size_t *n);
/* sentry.actions[tier]: RW_SENTRY_NONE when the tier is not listed. */
enum rw_sentry_action rw_sentry_action_for(const struct rw_policy *pol, const char *tier);
/* A metrics address: "" (off), numeric "IPv4:PORT" or "[IPv6]:PORT", port 1..65535. */
bool rw_sentry_listen_addr_ok(const char *s);

#endif
