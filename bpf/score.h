/* The sentry's decision, apart from where its numbers come from (so the unit
 * tests drive it with made-up samples). See bpf/README.md "The decision". */
#ifndef RW_SCORE_H
#define RW_SCORE_H

#include <stdbool.h>
#include <stdint.h>

#define RW_SCORE_MAX_WINDOW 600

struct rw_score_conf {
	unsigned window;
	double cpu_high, throttled_high;
	double syscalls_max, switches_max, execs_max;
	double pool_bonus, exec_bonus;
	double flag_score, clear_score;
};

/* One interval of one container: deltas since the previous sample. */
struct rw_sample {
	double dt_s;                  /* wall time */
	double cpu_s;                 /* on-CPU time */
	double limit;                 /* cores: quota / period, or the node's CPUs */
	uint64_t periods, throttled;  /* CFS periods, and those throttled */
	uint64_t syscalls, switches;  /* voluntary switches */
	uint64_t execs;
	bool pool;                    /* a pool rule's counter rose */
	bool bad_exec;                /* a blocklisted name was exec'd */
};

/* What the sample said, for events, metrics and the table. */
struct rw_signals {
	double cpu, limit, throttled;          /* cores, cores, fraction of periods */
	double syscalls_per_cpu_s, switches_per_cpu_s, execs_per_cpu_s;
	bool busy, quiet, hot;
};

struct rw_score {
	unsigned char hot[RW_SCORE_MAX_WINDOW];
	unsigned n, head, nhot;
	uint64_t samples;
	uint64_t pool_at, exec_at;    /* sample number + 1 of the last pool attempt / bad exec; 0 none */
	double value;
	bool flagged;
};

void rw_score_init(struct rw_score *s);
/* Adds a sample. Returns 1 when it flags the container, -1 when it clears
 * it, 0 otherwise; sig gets the sample's signals. */
int rw_score_add(const struct rw_score_conf *c, struct rw_score *s, const struct rw_sample *in,
		 struct rw_signals *sig);

#endif
