/* The sentry's parts that need no kernel: the decision (bpf/score.c) fed
 * made-up samples, the cgroup file parsers, the metrics port's request
 * parser. The programs and the daemon are tested in tests/sentry.bats. */
#include "config.h"

#include <string.h>

#include "bpf/http.h"
#include "bpf/score.h"
#include "cgroups/cgroup.h"
#include "tests/unit/tap.h"

static const struct rw_score_conf conf = {
	.window = 8, .cpu_high = 0.8, .throttled_high = 0.5, .syscalls_max = 100000, .switches_max = 3000, .execs_max = 2,
	.pool_bonus = 0.3, .exec_bonus = 0.3, .flag_score = 0.75, .clear_score = 0.25,
};

/* A second of `cpu` cores on a limit, with rates per CPU-second. */
static struct rw_sample sec(double cpu, double limit, double sys, double sw)
{
	struct rw_sample s = { .dt_s = 1, .cpu_s = cpu, .limit = limit };
	s.syscalls = (uint64_t)(sys * cpu);
	s.switches = (uint64_t)(sw * cpu);
	return s;
}

/* Feeds n copies; returns the sample number (1-based) that flagged (+) or
 * cleared (-), 0 for neither. */
static int feed(struct rw_score *st, struct rw_sample in, int n)
{
	struct rw_signals sig;
	int i, r;

	for (i = 1; i <= n; i++) {
		r = rw_score_add(&conf, st, &in, &sig);
		if (r)
			return r * i;
	}
	return 0;
}

int main(void)
{
	struct rw_score st;
	struct rw_signals sig;
	struct rw_sample in;
	struct rw_cg_host h;
	struct rw_cg_cpu cpu;
	char out[256];
	int head, i, r;

	/* A pegged loop: flagged at the 6th sample of 8, not before. */
	rw_score_init(&st);
	ok(feed(&st, sec(1.0, 1.0, 10, 0), 20) == 6, "a pegged quiet loop is flagged at the 6th sample");
	ok(st.flagged && st.value >= 0.75, "and stays flagged (%.2f)", st.value);
	ok(feed(&st, sec(0.0, 1.0, 0, 0), 20) == -6, "stopping clears it after 6 cool samples");
	/* Near the limit counts, below cpu_high does not. */
	rw_score_init(&st);
	ok(feed(&st, sec(0.85, 1.0, 10, 0), 20) == 6, "85%% of the limit is busy");
	rw_score_init(&st);
	ok(feed(&st, sec(0.7, 1.0, 10, 0), 60) == 0, "70%% of the limit is not");
	/* Without a quota the limit is the node: one core of two is not busy. */
	rw_score_init(&st);
	ok(feed(&st, sec(1.0, 2.0, 10, 0), 60) == 0, "one core of a two-core node without a quota");
	/* Busy but noisy: a web server, a build. */
	rw_score_init(&st);
	ok(feed(&st, sec(1.0, 1.0, 150000, 10), 60) == 0, "150,000 syscalls per CPU-second is no miner");
	rw_score_init(&st);
	ok(feed(&st, sec(1.0, 1.0, 66000, 0), 20) == 6, "sha256sum of /dev/zero (66,000 syscalls, no switches) is");
	rw_score_init(&st);
	ok(feed(&st, sec(1.0, 1.0, 100, 11000), 60) == 0, "11,000 voluntary switches per CPU-second is no miner");
	rw_score_init(&st);
	ok(feed(&st, sec(1.0, 1.0, 1500, 1700), 20) == 6, "runsc's sandbox spinning under load (1,500 syscalls, 1,700 switches) is");
	/* A build: busy, few switches, but it execs. */
	rw_score_init(&st);
	in = sec(1.0, 1.0, 16000, 50);
	in.execs = 8;
	ok(feed(&st, in, 60) == 0, "8 execs per CPU-second (a build) is no miner");
	rw_score_add(&conf, &st, &in, &sig);
	ok(sig.busy && !sig.quiet && sig.execs_per_cpu_s == 8, "busy, not quiet, 8 execs per CPU-second");
	rw_score_init(&st);
	in.execs = 1;
	ok(feed(&st, in, 20) == 6, "one exec a second (a wrapper's sleep) still is");
	/* A throttled miner at a low quota: busy by throttling. */
	rw_score_init(&st);
	in = sec(0.2, 0.2, 10, 0);
	in.periods = 10;
	in.throttled = 10;
	ok(feed(&st, in, 20) == 6, "throttled at a 0.2 CPU quota is flagged");
	rw_score_add(&conf, &st, &in, &sig);
	ok(sig.throttled == 1.0 && sig.busy && sig.quiet && sig.hot, "its signals: throttled 1, busy, quiet, hot");
	in = sec(0.05, 1.0, 10, 0);
	in.periods = 10;
	in.throttled = 6;
	rw_score_init(&st);
	ok(feed(&st, in, 20) == 6, "60%% of periods throttled is busy whatever the CPU figure");
	/* Bursts: 3 busy seconds in 20 never reach 6 of 8. */
	rw_score_init(&st);
	for (i = r = 0; i < 200 && r == 0; i++)
		r = rw_score_add(&conf, &st, (i % 20) < 3 ? &(struct rw_sample){ .dt_s = 1, .cpu_s = 1, .limit = 1 }
							  : &(struct rw_sample){ .dt_s = 1, .cpu_s = 0.01, .limit = 1 },
				 &sig);
	ok(r == 0, "3 s bursts every 20 s are never flagged (peak %.2f)", st.value);
	/* 5 hot of 8 is under the flag; a pool attempt tips it. */
	rw_score_init(&st);
	ok(feed(&st, sec(1, 1, 0, 0), 5) == 0 && st.value < 0.75, "5 hot samples alone: %.3f", st.value);
	in = sec(1, 1, 0, 0);
	in.pool = true;
	ok(rw_score_add(&conf, &st, &in, &sig) == 1, "a pool attempt adds the bonus and flags");
	rw_score_init(&st);
	feed(&st, sec(1, 1, 0, 0), 4);
	in = sec(0.1, 1, 0, 0);
	in.bad_exec = true;
	ok(rw_score_add(&conf, &st, &in, &sig) == 1 && st.value > 0.79 && st.value < 0.81,
	   "exec of a blocklisted name adds exec_bonus: 4 hot of 8 + 0.3 = %.2f flags", st.value);
	/* A bonus lasts the window, then goes. */
	for (i = 0; i < 7; i++)
		rw_score_add(&conf, &st, &(struct rw_sample){ .dt_s = 1, .cpu_s = 0, .limit = 1 }, &sig);
	ok(st.value > 0.29, "the bonus lasts the window (%.2f after 7 more cold samples)", st.value);
	rw_score_add(&conf, &st, &(struct rw_sample){ .dt_s = 1, .cpu_s = 0, .limit = 1 }, &sig);
	ok(st.value < 0.01 && !st.flagged, "and ends with it (%.2f)", st.value);
	/* Zero CPU: no rates, never hot; zero dt is harmless. */
	rw_score_init(&st);
	in = (struct rw_sample){ 0 };
	rw_score_add(&conf, &st, &in, &sig);
	ok(!sig.hot && sig.cpu == 0 && sig.syscalls_per_cpu_s == 0, "an empty sample is cold");

	/* mountinfo: this machine's hybrid layout, and a cgroup2 host. */
	{
		static const char hybrid[] =
			"30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n"
			"31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:8 - cgroup2 cgroup2 rw\n"
			"35 30 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:14 - cgroup cgroup rw,cpu,cpuacct\n"
			"36 30 0:32 / /sys/fs/cgroup/freezer rw,nosuid shared:15 - cgroup cgroup rw,freezer\n"
			"37 30 0:33 / /sys/fs/cgroup/cpuacct rw shared:16 - cgroup cgroup rw,cpuacct\n";
		static const char v2[] = "29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
		ok(rw_cg_parse_mountinfo(hybrid, sizeof(hybrid) - 1, &h) == 0 && h.cpu_v1 &&
		   strcmp(h.cpu_mount, "/sys/fs/cgroup/cpu,cpuacct") == 0 &&
		   strcmp(h.freezer_mount, "/sys/fs/cgroup/freezer") == 0 &&
		   strcmp(h.unified_mount, "/sys/fs/cgroup/unified") == 0,
		   "hybrid: cpu %s, freezer %s, unified %s", h.cpu_mount, h.freezer_mount, h.unified_mount);
		ok(rw_cg_parse_mountinfo(v2, sizeof(v2) - 1, &h) == 0 && !h.cpu_v1 &&
		   strcmp(h.cpu_mount, "/sys/fs/cgroup") == 0 && h.freezer_mount[0] == 0,
		   "cgroup2: cpu at %s", h.cpu_mount);
		ok(rw_cg_parse_mountinfo("garbage\n- x", 11, &h) < 0, "no cgroup mounts: an error");
		ok(rw_cg_parse_mountinfo("1 2 3 4 /x y - cgroup cgroup rw,cpuset\n", 38, &h) < 0,
		   "cpuset alone is not cpu (whole words)");
	}
	/* /proc/PID/cgroup */
	{
		static const char pc[] = "12:hugetlb:/c1\n4:cpu,cpuacct:/rw/c1\n6:freezer:/rw/c1\n1:name=systemd:/\n0::/\n";
		ok(rw_cg_parse_proc_cgroup(pc, sizeof(pc) - 1, "cpu", out, sizeof(out)) == 1 && strcmp(out, "/rw/c1") == 0,
		   "cpu path %s", out);
		ok(rw_cg_parse_proc_cgroup(pc, sizeof(pc) - 1, "cpuacct", out, sizeof(out)) == 1, "cpuacct in a joint list");
		ok(rw_cg_parse_proc_cgroup(pc, sizeof(pc) - 1, NULL, out, sizeof(out)) == 1 && strcmp(out, "/") == 0,
		   "cgroup2 path /");
		ok(rw_cg_parse_proc_cgroup(pc, sizeof(pc) - 1, "memory", out, sizeof(out)) == 0, "no memory line: 0");
		ok(rw_cg_parse_proc_cgroup("4:cpu:/a/../b\n", 14, "cpu", out, sizeof(out)) == -1, "a path with .. refused");
		ok(rw_cg_parse_proc_cgroup("4:cpu:/aaaaaaaa\n", 16, "cpu", out, 4) == -1, "a path longer than the buffer refused");
	}
	/* cpu.stat and cpu.max */
	{
		static const char v1[] = "nr_periods 120\nnr_throttled 30\nthrottled_time 4500000000\nnr_bursts 0\nburst_time 0\n";
		static const char v2s[] = "usage_usec 10\nuser_usec 5\nsystem_usec 5\nnr_periods 7\nnr_throttled 3\nthrottled_usec 2500\n";
		memset(&cpu, 0, sizeof(cpu));
		ok(rw_cg_parse_cpu_stat(v1, sizeof(v1) - 1, &cpu) == 0 && cpu.nr_periods == 120 && cpu.nr_throttled == 30 &&
		   cpu.throttled_ns == 4500000000ull, "v1 cpu.stat");
		memset(&cpu, 0, sizeof(cpu));
		ok(rw_cg_parse_cpu_stat(v2s, sizeof(v2s) - 1, &cpu) == 0 && cpu.nr_periods == 7 && cpu.throttled_ns == 2500000,
		   "v2 cpu.stat (usec to ns)");
		ok(rw_cg_parse_cpu_stat("nr_throttled 3\n", 15, &cpu) < 0, "no nr_periods: -1");
		ok(rw_cg_parse_cpu_stat("nr_periods 99999999999999999999999\n", 35, &cpu) < 0, "an overflowing count is skipped");
		ok(rw_cg_parse_cpu_max("max 100000\n", 11, &cpu) == 0 && cpu.quota_us == -1 && cpu.period_us == 100000,
		   "cpu.max max");
		ok(rw_cg_parse_cpu_max("20000 100000\n", 13, &cpu) == 0 && cpu.quota_us == 20000, "cpu.max 20000 100000");
		ok(rw_cg_parse_cpu_max("20000 0\n", 8, &cpu) < 0 && rw_cg_parse_cpu_max("x 1\n", 4, &cpu) < 0 &&
		   rw_cg_parse_cpu_max("", 0, &cpu) < 0, "a zero period, a word, nothing: -1");
	}
	/* The metrics port's requests. */
	ok(rw_http_parse_request("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 35, out, sizeof(out), &head) == 1 &&
	   strcmp(out, "/metrics") == 0 && head == 0, "GET /metrics");
	ok(rw_http_parse_request("HEAD /metrics?x=1 HTTP/1.0\n\n", 28, out, sizeof(out), &head) == 1 &&
	   strcmp(out, "/metrics") == 0 && head == 1, "HEAD with a query, bare newlines");
	ok(rw_http_parse_request("GET /metrics HTTP/1.1\r\nHost:", 28, out, sizeof(out), &head) == 0, "incomplete: 0");
	ok(rw_http_parse_request("POST /metrics HTTP/1.1\r\n\r\n", 26, out, sizeof(out), &head) == -1, "POST: -1");
	ok(rw_http_parse_request("GET metrics HTTP/1.1\r\n\r\n", 24, out, sizeof(out), &head) == -1, "a relative path: -1");
	ok(rw_http_parse_request("GET /metrics SPDY\r\n\r\n", 21, out, sizeof(out), &head) == -1, "not HTTP/1: -1");
	ok(rw_http_parse_request("GET /a\0b HTTP/1.1\r\n\r\n", 21, out, sizeof(out), &head) == -1, "a NUL: -1");
	ok(rw_http_parse_request("GET /aaaaaaaa HTTP/1.1\r\n\r\n", 26, out, 4, &head) == -1, "a path too long: -1");
	return tap_done();
}
