/* runwarden-sentry: flags containers whose CPU use looks like mining.
 * bpf/README.md is the reference: signals, decision, policy keys, output. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <linux/types.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>

#include "bpf/sentry.h"
#include "sentry.skel.h"
#include "bpf/score.h"
#include "bpf/http.h"
#include "cgroups/cgroup.h"
#include "netfilter/egress.h"
#include "policy/policy.h"
#include "shim/error.h"
#include "shim/fileio.h"
#include "shim/json.h"
#include "shim/log.h"

extern char **environ;

struct ctr {
	char *root, *id, *record;         /* the record's directory, id, path */
	char tier[64], delegate[64];
	char *delegate_path, *image;
	bool found;                       /* watched: cgroup known, map entry in */
	bool seen;                        /* its record was there at the last scan */
	unsigned tries;                   /* failed attempts to find its cgroup */
	uint64_t retry_at;                /* sample number of the next attempt */
	char *error;                      /* why it is not watched (shown once) */
	pid_t pid;
	uint64_t cgid;
	char cpu_dir[PATH_MAX], freezer_dir[PATH_MAX];
	int cpu_fd;
	char netns[PATH_MAX];             /* where its egress table is ("" unknown) */
	/* the previous sample's totals */
	bool have_last;
	uint64_t last_cpu_ns, last_sys, last_vol, last_execs, last_periods, last_throttled;
	uint64_t cpu_ns, syscalls, switches;  /* totals since found */
	struct rw_cg_cpu cpu;              /* quota and period: read every 10 samples */
	uint64_t pool_packets;
	bool pool_known, pool_rose, bad_exec;
	char exec_name[sizeof(((struct rw_exec_event *)0)->filename) + 1]; /* the last blocklisted name exec'd */
	struct rw_score score;
	struct rw_signals sig;
	double peak;
	bool acted;                       /* frozen or killed by us: no more scoring */
	uint64_t flags;
};

struct sentry {
	struct rw_policy pol;
	struct rw_sentry_conf conf;       /* the policy's, with the flags applied */
	struct rw_score_conf sc;
	struct rw_cg_host host;
	struct sentry_bpf *skel;
	struct ring_buffer *rb;
	struct ctr **c;
	size_t n, cap;
	char **roots;
	size_t nroots;
	FILE *events;
	int http_fd;
	uint64_t samples;
	uint64_t flags_total;
	int ncpus_possible;
	double ncpus_online;
	bool once, json;
	uint64_t last_ns;
	struct rw_cpu_slot *slots;
};

static volatile sig_atomic_t stop;

static void vwarn(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static void vwarn(const char *fmt, va_list ap)
{
	fputs("runwarden-sentry: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

static void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	exit(code);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void iso_time(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100,
		 tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100, (int)(ts.tv_nsec / 1000000) % 1000);
}

/* A JSON string, quoted; "" for NULL. Never fails (an unquotable string is
 * replaced by ""). */
static char *q(const char *s)
{
	char *r = rw_json_quote(s ? s : "");

	return r ? r : strdup("\"\"");
}

/* ---- containers ---------------------------------------------------------- */

static void ctr_free(struct sentry *s, struct ctr *c)
{
	if (c->found && s->skel)
		bpf_map__delete_elem(s->skel->maps.watched, &c->cgid, sizeof(c->cgid), 0);
	if (c->cpu_fd >= 0)
		close(c->cpu_fd);
	free(c->root);
	free(c->id);
	free(c->record);
	free(c->delegate_path);
	free(c->image);
	free(c->error);
	free(c);
}

static struct ctr *ctr_by_cgid(struct sentry *s, uint64_t cgid)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->c[i]->found && s->c[i]->cgid == cgid)
			return s->c[i];
	return NULL;
}

static const char *str_of(const struct json *j)
{
	return j && j->type == JSON_STRING ? j->u.str.s : NULL;
}

/* Runs `<delegate> --root ROOT state ID` and returns the pid it reports
 * (0: not running). */
static pid_t delegate_pid(const struct ctr *c, char **why)
{
	int pipefd[2], devnull;
	posix_spawn_file_actions_t fa;
	pid_t child, pid = 0;
	char *argv[] = { c->delegate_path, "--root", c->root, "state", c->id, NULL };
	cleanup_free char *out = NULL;
	cleanup_error rw_error_t err = NULL;
	cleanup_json struct json *j = NULL;
	size_t len = 0;
	int status, r;
	long long v;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -1;
	/* stdin: a closed pipe end, never the host's /dev/null (runsc chowns its stdio) */
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	if (devnull >= 0)
		posix_spawn_file_actions_adddup2(&fa, devnull, 2);
	posix_spawn_file_actions_addclose(&fa, 0);
	r = posix_spawn(&child, c->delegate_path, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (devnull >= 0)
		close(devnull);
	if (r != 0) {
		close(pipefd[0]);
		if (asprintf(why, "cannot run %s: %s", c->delegate_path, strerror(r)) < 0)
			*why = NULL;
		return -1;
	}
	r = rw_read_fd(pipefd[0], "state", 1 << 20, &out, &len, &err);
	close(pipefd[0]);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (asprintf(why, "%s state %s failed", c->delegate, c->id) < 0)
			*why = NULL;
		return -1;
	}
	if (json_parse(out, len, 0, "state", &j, &err) < 0 || !json_int(json_get(j, "pid"), &v) || v < 0 ||
	    v > INT_MAX) {
		if (asprintf(why, "%s state %s: no pid", c->delegate, c->id) < 0)
			*why = NULL;
		return -1;
	}
	if (json_is_string(json_get(j, "status"), "stopped"))
		return 0;
	pid = (pid_t)v;
	return pid;
}

/* Reads the record; finds the pid, its cgroup and the cgroup's id; puts the
 * id into the map. 0 watched, -1 not (yet): c->error says why. */
static int ctr_find(struct sentry *s, struct ctr *c)
{
	cleanup_free char *buf = NULL, *why = NULL;
	cleanup_error rw_error_t err = NULL;
	cleanup_json struct json *rec = NULL;
	const struct json *l;
	struct rw_cg_stats zero = { 0 };
	size_t len;
	pid_t pid;
	size_t i;

	if (rw_read_file(c->record, 1 << 20, &buf, &len, &err) < 0 ||
	    json_parse(buf, len, 0, c->record, &rec, &err) < 0 || rec->type != JSON_OBJECT) {
		why = strdup(err && err->msg ? err->msg : "damaged record");
		goto fail;
	}
	l = json_get(rec, "limits");
	free(c->delegate_path);
	c->delegate_path = str_of(json_get(rec, "path")) ? strdup(str_of(json_get(rec, "path"))) : NULL;
	snprintf(c->delegate, sizeof(c->delegate), "%s", str_of(json_get(rec, "delegate")) ?: "");
	snprintf(c->tier, sizeof(c->tier), "%s", str_of(json_get(l, "tier")) ?: "");
	if (json_get(l, "tenant") && json_get(l, "tenant")->type == JSON_FALSE)
		snprintf(c->tier, sizeof(c->tier), "trusted");
	free(c->image);
	c->image = str_of(json_get(l, "image")) ? strdup(str_of(json_get(l, "image"))) : NULL;
	if (c->delegate_path == NULL || c->delegate_path[0] != '/') {
		why = strdup("the record names no delegate");
		goto fail;
	}
	pid = delegate_pid(c, &why);
	if (pid <= 0) {
		if (pid == 0 && why == NULL)
			why = strdup("not running");
		goto fail;
	}
	if (rw_cg_of_pid(&s->host, pid, c->cpu_dir, sizeof(c->cpu_dir), c->freezer_dir, sizeof(c->freezer_dir),
			 &err) < 0 ||
	    rw_cg_id(c->cpu_dir, &c->cgid, &err) < 0) {
		why = strdup(err->msg);
		goto fail;
	}
	if (strcmp(c->cpu_dir, s->host.cpu_mount) == 0) {
		why = strdup("in the root cgroup: its CPU cannot be told from the host's");
		goto fail;
	}
	for (i = 0; i < s->n; i++)
		if (s->c[i] != c && s->c[i]->found && s->c[i]->cgid == c->cgid) {
			if (asprintf(&why, "shares its cgroup %s with %s", c->cpu_dir, s->c[i]->id) < 0)
				why = NULL;
			goto fail;
		}
	c->cpu_fd = open(c->cpu_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c->cpu_fd < 0) {
		if (asprintf(&why, "open %s: %s", c->cpu_dir, strerror(errno)) < 0)
			why = NULL;
		goto fail;
	}
	if (bpf_map__update_elem(s->skel->maps.watched, &c->cgid, sizeof(c->cgid), &zero, sizeof(zero), BPF_ANY) < 0) {
		if (asprintf(&why, "watch cgroup %s: %s (more than %d containers?)", c->cpu_dir, strerror(errno),
			     RW_SENTRY_MAX_CGROUPS) < 0)
			why = NULL;
		close(c->cpu_fd);
		c->cpu_fd = -1;
		goto fail;
	}
	c->pid = pid;
	c->found = true;
	free(c->error);
	c->error = NULL;
	return 0;
fail:
	/* Retried later, less often each time: a container being created has
	 * its record before its state. */
	c->tries++;
	c->retry_at = s->samples + (c->tries < 5 ? 1u << (c->tries - 1) : 30);
	/* Said once, on the third failure: the first ones are a create in progress. */
	if (c->tries == 3 && why && !s->once)
		warn("%s: not watched: %s", c->id, why);
	free(c->error);
	c->error = why;
	why = NULL;
	return -1;
}

static bool is_record(const char *name, size_t *idlen)
{
	size_t n = strlen(name);

	if (n <= 16 || strncmp(name, ".runwarden-", 11) != 0 || strcmp(name + n - 5, ".json") != 0)
		return false;
	*idlen = n - 16;
	return true;
}

static void scan_dir(struct sentry *s, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t idlen, i;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		struct ctr *c = NULL;
		if (!is_record(e->d_name, &idlen))
			continue;
		for (i = 0; i < s->n; i++)
			if (strcmp(s->c[i]->root, dir) == 0 && strlen(s->c[i]->id) == idlen &&
			    memcmp(s->c[i]->id, e->d_name + 11, idlen) == 0) {
				c = s->c[i];
				break;
			}
		if (c == NULL) {
			if (s->n == s->cap) {
				size_t cap = s->cap ? s->cap * 2 : 64;
				struct ctr **nc = realloc(s->c, cap * sizeof(*nc));
				if (nc == NULL)
					break;
				s->c = nc;
				s->cap = cap;
			}
			c = calloc(1, sizeof(*c));
			if (c == NULL)
				break;
			c->cpu_fd = -1;
			c->root = strdup(dir);
			c->id = strndup(e->d_name + 11, idlen);
			if (asprintf(&c->record, "%s/%s", dir, e->d_name) < 0)
				c->record = NULL;
			rw_score_init(&c->score);
			if (!c->root || !c->id || !c->record) {
				ctr_free(s, c);
				break;
			}
			s->c[s->n++] = c;
		}
		c->seen = true;
	}
	closedir(d);
}

static void emit(struct sentry *s, const char *event, struct ctr *c, const char *extra);

static void discover(struct sentry *s)
{
	size_t i, k;

	for (i = 0; i < s->n; i++)
		s->c[i]->seen = false;
	for (i = 0; i < s->nroots; i++) {
		glob_t g;
		if (glob(s->roots[i], GLOB_ONLYDIR | GLOB_NOSORT, NULL, &g) != 0)
			continue;
		for (k = 0; k < g.gl_pathc; k++)
			scan_dir(s, g.gl_pathv[k]);
		globfree(&g);
	}
	/* Gone: the record went (delete). The map entry goes with it. */
	for (i = 0; i < s->n;) {
		struct ctr *c = s->c[i];
		if (!c->seen) {
			if (c->score.flagged && !s->once)
				emit(s, "gone", c, NULL);
			ctr_free(s, c);
			s->c[i] = s->c[--s->n];
			continue;
		}
		if (!c->found && s->samples >= c->retry_at)
			ctr_find(s, c);
		i++;
	}
}

/* ---- signals --------------------------------------------------------------- */

static int on_exec(void *ctx, void *data, size_t size)
{
	struct sentry *s = ctx;
	const struct rw_exec_event *e = data;
	struct ctr *c;
	char name[sizeof(e->filename) + 1];
	const char *base;
	size_t i, k;

	if (size < sizeof(*e) || (c = ctr_by_cgid(s, e->cgid)) == NULL)
		return 0;
	memcpy(name, e->filename, sizeof(e->filename));
	name[sizeof(e->filename)] = 0;
	base = strrchr(name, '/');
	base = base ? base + 1 : name;
	for (i = 0; i < s->pol.blocklist.ncats; i++) {
		const struct rw_bl_category *cat = &s->pol.blocklist.cats[i];
		if (!rw_bl_category_active(cat, c->tier))
			continue;
		for (k = 0; k < cat->nrules; k++) {
			const struct rw_bl_rule *r = &cat->rules[k];
			if (r->kind != BL_NAME || !rw_bl_name_match(base, r->pattern) ||
			    rw_bl_allowed(&s->pol.blocklist, cat, r, c->image, name))
				continue;
			c->bad_exec = true;
			snprintf(c->exec_name, sizeof(c->exec_name), "%s", base);
			return 0;
		}
	}
	return 0;
}

struct pool_walk {
	struct sentry *s;
	const char *netns;
};

static int on_table(const struct rw_egress_table *t, void *arg)
{
	struct pool_walk *w = arg;
	size_t i, k, r;

	for (i = 0; i < w->s->n; i++) {
		struct ctr *c = w->s->c[i];
		uint64_t packets = 0;
		if (!c->found || strcmp(c->id, t->id) != 0 || strcmp(c->netns, w->netns) != 0)
			continue;
		for (k = 0; k < t->n_counters; k++)
			for (r = 0; r < w->s->conf.npool_rules; r++)
				if (strcmp(t->counters[k].rule, w->s->conf.pool_rules[r]) == 0)
					packets += t->counters[k].packets;
		if (c->pool_known && packets > c->pool_packets)
			c->pool_rose = true;
		c->pool_packets = packets;
		c->pool_known = true;
	}
	return 0;
}

/* The egress tables' pool counters, one netlink dump per namespace. */
static void read_pools(struct sentry *s)
{
	size_t i, k;

	if (s->conf.npool_rules == 0)
		return;
	for (i = 0; i < s->n; i++) {
		struct ctr *c = s->c[i];
		if (c->found && c->netns[0] == 0) {
			cleanup_free char *path = NULL, *buf = NULL;
			cleanup_error rw_error_t err = NULL;
			cleanup_json struct json *j = NULL;
			size_t len;
			const char *ns;
			/* <root>/.runwarden-<id>.egress, beside the record (shim/egress-main.c) */
			if (asprintf(&path, "%.*s.egress", (int)(strlen(c->record) - 5), c->record) < 0 ||
			    access(path, F_OK) < 0 ||
			    rw_read_file(path, 65536, &buf, &len, &err) < 0 || json_parse(buf, len, 0, path, &j, &err) < 0)
				continue;
			ns = str_of(json_get(j, "netns"));
			if (ns && (strcmp(ns, "self") == 0 || strncmp(ns, "/run/netns/", 11) == 0))
				snprintf(c->netns, sizeof(c->netns), "%s", ns);
		}
	}
	for (i = 0; i < s->n; i++) {
		const char *ns = s->c[i]->netns;
		bool done = false;
		cleanup_close int fd = -1;
		cleanup_error rw_error_t err = NULL;
		struct pool_walk w = { s, ns };
		if (!s->c[i]->found || ns[0] == 0)
			continue;
		for (k = 0; k < i; k++)
			if (s->c[k]->found && strcmp(s->c[k]->netns, ns) == 0)
				done = true;
		if (done)
			continue;
		fd = open(strcmp(ns, "self") == 0 ? "/proc/self/ns/net" : ns, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		rw_egress_list(fd, NULL, on_table, &w, &err);
	}
}

static unsigned pool_every(const struct sentry *s)
{
	unsigned n = s->conf.interval_ms >= 5000 ? 1 : 5000 / s->conf.interval_ms;

	if (n > s->sc.window / 2)
		n = s->sc.window / 2;
	return n ? n : 1;
}

static void act(struct sentry *s, struct ctr *c)
{
	enum rw_sentry_action a = rw_sentry_action_for(&s->pol, c->tier);
	cleanup_error rw_error_t err = NULL;
	cleanup_free char *extra = NULL, *res = NULL;
	const char *name = a == RW_SENTRY_FREEZE ? "freeze" : "kill";
	int r;

	if (a == RW_SENTRY_NONE || s->once)
		return;
	if (a == RW_SENTRY_FREEZE)
		r = rw_cg_freeze(c->freezer_dir, s->host.freezer_mount[0] != 0, true, &err);
	else
		r = rw_cg_kill(c->cpu_dir, c->freezer_dir, s->host.freezer_mount[0] != 0, &err);
	c->acted = r == 0;
	res = q(r == 0 ? "ok" : err && err->msg ? err->msg : "failed");
	if (asprintf(&extra, "\"action\":\"%s\",\"result\":%s", name, res) < 0)
		return;
	emit(s, "action", c, extra);
}

static void emit(struct sentry *s, const char *event, struct ctr *c, const char *extra)
{
	char t[40];
	cleanup_free char *id = q(c->id), *tier = q(c->tier), *image = q(c->image), *dl = q(c->delegate),
			  *ex = q(c->exec_name);

	if (s->events == NULL)
		return;
	iso_time(t, sizeof(t));
	fprintf(s->events, "{\"time\":\"%s\",\"event\":\"%s\",\"id\":%s,\"tier\":%s,\"image\":%s,\"delegate\":%s", t,
		event, id, tier, image, dl);
	if (extra)
		fprintf(s->events, ",%s}\n", extra);
	else
		fprintf(s->events,
			",\"score\":%.2f,\"signals\":{\"cpu\":%.3f,\"limit\":%.3f,\"throttled\":%.3f,"
			"\"syscalls_per_cpu_s\":%.1f,\"switches_per_cpu_s\":%.1f,\"execs_per_cpu_s\":%.2f,"
			"\"hot\":%u,\"window\":%u,"
			"\"pool_packets\":%llu,\"exec\":%s}}\n",
			c->score.value, c->sig.cpu, c->sig.limit, c->sig.throttled, c->sig.syscalls_per_cpu_s,
			c->sig.switches_per_cpu_s, c->sig.execs_per_cpu_s, c->score.nhot, s->sc.window, (unsigned long long)c->pool_packets, ex);
	fflush(s->events);
}

static void sample(struct sentry *s)
{
	uint64_t now = now_ns();
	double dt = s->last_ns ? (double)(now - s->last_ns) / 1e9 : 0;
	bool slots = bpf_map__lookup_elem(s->skel->maps.oncpu, &(__u32){ 0 }, sizeof(__u32), s->slots,
					  sizeof(*s->slots) * (size_t)s->ncpus_possible, 0) == 0;
	size_t i;
	int k;

	s->last_ns = now;
	ring_buffer__consume(s->rb);
	/* The pool counters about every 5 s, and at least twice a window so a
	 * bonus (it lasts a window) does not lapse between two reads. */
	if (!s->once && s->samples % pool_every(s) == 0)
		read_pools(s);
	for (i = 0; i < s->n; i++) {
		struct ctr *c = s->c[i];
		struct rw_cg_stats st;
		struct rw_cg_cpu cpu = c->cpu;
		struct rw_sample in = { 0 };
		uint64_t oncpu;
		int ch;

		if (!c->found)
			continue;
		if (rw_cg_read_cpu(c->cpu_fd, s->host.cpu_v1, !c->have_last || s->samples % 10 == 0, &cpu) < 0) {
			/* the cgroup is gone before the record: forget it until then */
			if (errno == ENOENT || errno == ENODEV) {
				bpf_map__delete_elem(s->skel->maps.watched, &c->cgid, sizeof(c->cgid), 0);
				close(c->cpu_fd);
				c->cpu_fd = -1;
				c->found = false;
				c->retry_at = UINT64_MAX;
			}
			continue;
		}
		if (bpf_map__lookup_elem(s->skel->maps.watched, &c->cgid, sizeof(c->cgid), &st, sizeof(st), 0) < 0)
			continue;
		oncpu = st.oncpu_ns;
		for (k = 0; slots && k < s->ncpus_possible; k++)
			if (s->slots[k].cgid == c->cgid && s->slots[k].since_ns && s->slots[k].since_ns < now)
				oncpu += now - s->slots[k].since_ns;
		/* the running slice was counted at the last sample; never go back */
		if (oncpu < c->last_cpu_ns)
			oncpu = c->last_cpu_ns;
		c->cpu_ns = oncpu;
		c->syscalls = st.syscalls;
		c->switches = st.vol_switches;
		if (!c->have_last) {
			c->have_last = true;
			goto keep;
		}
		in.dt_s = dt;
		in.cpu_s = (double)(oncpu - c->last_cpu_ns) / 1e9;
		in.limit = cpu.quota_us > 0 ? (double)cpu.quota_us / (double)cpu.period_us : s->ncpus_online;
		in.periods = cpu.nr_periods - c->last_periods;
		in.throttled = cpu.nr_throttled - c->last_throttled;
		in.syscalls = st.syscalls - c->last_sys;
		in.switches = st.vol_switches - c->last_vol;
		in.execs = st.execs - c->last_execs;
		in.pool = c->pool_rose;
		in.bad_exec = c->bad_exec;
		c->pool_rose = c->bad_exec = false;
		if (c->acted)
			goto keep;
		ch = rw_score_add(&s->sc, &c->score, &in, &c->sig);
		if (c->score.value > c->peak)
			c->peak = c->score.value;
		if (ch > 0) {
			c->flags++;
			s->flags_total++;
			if (!s->once) {
				emit(s, "flag", c, NULL);
				act(s, c);
			}
		} else if (ch < 0 && !s->once) {
			emit(s, "clear", c, NULL);
		}
keep:
		c->cpu = cpu;
		c->last_cpu_ns = oncpu;
		c->last_sys = st.syscalls;
		c->last_vol = st.vol_switches;
		c->last_execs = st.execs;
		c->last_periods = cpu.nr_periods;
		c->last_throttled = cpu.nr_throttled;
	}
	s->samples++;
}

/* ---- output ------------------------------------------------------------------ */

struct buf {
	char *p;
	size_t len, cap;
};

static void bprintf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap ? b->cap : 4096);
		while (cap <= b->len + (size_t)n)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (np == NULL)
			return;
		b->p = np;
		b->cap = cap;
	}
}

/* A label value: Prometheus escapes backslash, quote and newline. */
static void label(struct buf *b, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '\\' || *s == '"')
			bprintf(b, "\\%c", *s);
		else if (*s == '\n')
			bprintf(b, "\\n");
		else
			bprintf(b, "%c", *s);
	}
}

static void metrics(struct sentry *s, struct buf *b)
{
	static const struct {
		const char *name, *type, *help;
	} m[] = {
		{ "runwarden_sentry_cpu_seconds_total", "counter", "On-CPU time of the container's tasks since the sentry found it." },
		{ "runwarden_sentry_cpu_cores", "gauge", "CPU used in the last interval, in cores." },
		{ "runwarden_sentry_cpu_limit_cores", "gauge", "The container's CPU limit (quota/period, or the node's CPUs)." },
		{ "runwarden_sentry_throttled_ratio", "gauge", "Fraction of the last interval's CFS periods that were throttled." },
		{ "runwarden_sentry_syscalls_total", "counter", "System calls since the sentry found it." },
		{ "runwarden_sentry_voluntary_switches_total", "counter", "Voluntary context switches since the sentry found it." },
		{ "runwarden_sentry_score", "gauge", "Miner-likeness over the window, 0 to 1." },
		{ "runwarden_sentry_flagged", "gauge", "1 while the container is flagged." },
	};
	size_t i, k;

	bprintf(b, "# HELP runwarden_sentry_containers Containers watched.\n# TYPE runwarden_sentry_containers gauge\n");
	for (i = k = 0; i < s->n; i++)
		k += s->c[i]->found;
	bprintf(b, "runwarden_sentry_containers %zu\n", k);
	bprintf(b, "# HELP runwarden_sentry_flags_total Flags raised since the sentry started.\n"
		   "# TYPE runwarden_sentry_flags_total counter\nrunwarden_sentry_flags_total %llu\n",
		(unsigned long long)s->flags_total);
	for (k = 0; k < sizeof(m) / sizeof(m[0]); k++) {
		bprintf(b, "# HELP %s %s\n# TYPE %s %s\n", m[k].name, m[k].help, m[k].name, m[k].type);
		for (i = 0; i < s->n; i++) {
			struct ctr *c = s->c[i];
			if (!c->found)
				continue;
			bprintf(b, "%s{id=\"", m[k].name);
			label(b, c->id);
			bprintf(b, "\",tier=\"");
			label(b, c->tier);
			bprintf(b, "\"} ");
			switch (k) {
			case 0: bprintf(b, "%.6f\n", (double)c->cpu_ns / 1e9); break;
			case 1: bprintf(b, "%.4f\n", c->sig.cpu); break;
			case 2: bprintf(b, "%.4f\n", c->sig.limit); break;
			case 3: bprintf(b, "%.4f\n", c->sig.throttled); break;
			case 4: bprintf(b, "%llu\n", (unsigned long long)c->syscalls); break;
			case 5: bprintf(b, "%llu\n", (unsigned long long)c->switches); break;
			case 6: bprintf(b, "%.4f\n", c->score.value); break;
			default: bprintf(b, "%d\n", c->score.flagged ? 1 : 0); break;
			}
		}
	}
}

static void status_json(struct sentry *s, struct buf *b)
{
	char t[40];
	size_t i;
	bool first = true;

	iso_time(t, sizeof(t));
	bprintf(b, "{\"time\":\"%s\",\"pid\":%d,\"interval_ms\":%u,\"window\":%u,\"samples\":%llu,\"containers\":[", t,
		(int)getpid(), s->conf.interval_ms, s->sc.window, (unsigned long long)s->samples);
	for (i = 0; i < s->n; i++) {
		struct ctr *c = s->c[i];
		cleanup_free char *id = q(c->id), *tier = q(c->tier), *image = q(c->image), *dl = q(c->delegate),
				  *error = c->error ? q(c->error) : NULL;
		bprintf(b, "%s{\"id\":%s,\"tier\":%s,\"delegate\":%s,\"image\":%s,\"watched\":%s,", first ? "" : ",", id,
			tier, dl, image, c->found ? "true" : "false");
		first = false;
		if (error)
			bprintf(b, "\"error\":%s,", error);
		bprintf(b,
			"\"cpu\":%.3f,\"limit\":%.3f,\"throttled\":%.3f,\"syscalls_per_cpu_s\":%.1f,"
			"\"switches_per_cpu_s\":%.1f,\"execs_per_cpu_s\":%.2f,\"score\":%.2f,\"peak\":%.2f,\"flagged\":%s,\"flags\":%llu,"
			"\"action\":%s,\"cgroup\":%s%s%s}",
			c->sig.cpu, c->sig.limit, c->sig.throttled, c->sig.syscalls_per_cpu_s, c->sig.switches_per_cpu_s,
			c->sig.execs_per_cpu_s, c->score.value, c->peak, c->score.flagged ? "true" : "false", (unsigned long long)c->flags,
			c->acted ? "true" : "false", c->found ? "\"" : "null", c->found ? c->cpu_dir : "",
			c->found ? "\"" : "");
	}
	bprintf(b, "]}\n");
}

static void write_outputs(struct sentry *s)
{
	struct buf b = { 0 };
	cleanup_error rw_error_t err = NULL;

	if (s->conf.status && s->conf.status[0]) {
		status_json(s, &b);
		if (b.p && rw_write_file_atomic(s->conf.status, b.p, b.len, 0644, (uid_t)-1, (gid_t)-1, false, &err) < 0 &&
		    s->samples == 1)
			warn("%s", err->msg);
		b.len = 0;
	}
	if (s->conf.textfile && s->conf.textfile[0]) {
		metrics(s, &b);
		rw_error_free(&err);
		if (b.p && rw_write_file_atomic(s->conf.textfile, b.p, b.len, 0644, (uid_t)-1, (gid_t)-1, false, &err) < 0 &&
		    s->samples == 1)
			warn("%s", err->msg);
	}
	free(b.p);
}

/* The table of --once and `runwarden top`, from a status document. */
static int print_table(const struct json *st, bool as_json)
{
	const struct json *cs = json_get(st, "containers");
	size_t i;

	if (cs == NULL || cs->type != JSON_ARRAY) {
		fprintf(stderr, "runwarden-sentry: the status has no containers\n");
		return 1;
	}
	if (as_json) {
		struct json_buf jb = { 0 };
		cleanup_error rw_error_t err = NULL;
		if (json_emit(cs, &jb, &err) < 0)
			return 1;
		fwrite(jb.p, 1, jb.len, stdout);
		putchar('\n');
		free(jb.p);
		return 0;
	}
	printf("%-13s %-8s %-8s %6s %6s %9s %10s %10s %5s %-7s %s\n", "ID", "TIER", "DELEGATE", "CPU", "LIMIT",
	       "THROTTLED", "SYSCALLS/S", "SWITCHES/S", "SCORE", "FLAGGED", "IMAGE");
	for (i = 0; i < cs->u.arr.n; i++) {
		const struct json *c = cs->u.arr.v[i];
		const char *id = str_of(json_get(c, "id")) ?: "";
		double v[6] = { 0 };
		const char *keys[6] = { "cpu", "limit", "throttled", "syscalls_per_cpu_s", "switches_per_cpu_s", "score" };
		int k;
		for (k = 0; k < 6; k++) {
			const struct json *x = json_get(c, keys[k]);
			if (x && x->type == JSON_NUMBER)
				v[k] = strtod(x->u.str.s, NULL);
		}
		printf("%-13.12s %-8s %-8s %6.2f %6.2f %8.0f%% %10.0f %10.0f %5.2f %-7s %s%s%s\n", id,
		       str_of(json_get(c, "tier")) ?: "", str_of(json_get(c, "delegate")) ?: "", v[0], v[1], v[2] * 100,
		       v[3] * v[0], v[4] * v[0], v[5],
		       json_get(c, "flagged") && json_get(c, "flagged")->type == JSON_TRUE ? "yes" : "no",
		       str_of(json_get(c, "image")) ?: "", json_get(c, "error") ? "  (not watched: " : "",
		       json_get(c, "error") ? "see --json)" : "");
	}
	return 0;
}

/* ---- metrics server ------------------------------------------------------------ */

static int http_listen(const char *addr)
{
	char host[128];
	const char *colon = strrchr(addr, ':');
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	long port;
	int fd, one = 1;

	if (colon == NULL || (size_t)(colon - addr) >= sizeof(host))
		return -1;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = 0;
	port = strtol(colon + 1, NULL, 10);  /* checked by rw_sentry_listen_addr_ok */
	if (host[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		size_t hl = strlen(host);
		if (hl < 2 || host[hl - 1] != ']')
			return -1;
		host[hl - 1] = 0;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			return -1;
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -1;
		sl = sizeof(*s4);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 16) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* One request per connection, answered at once. A client gets 200 ms to
 * send its request head: the loop must not wait on it longer. */
static void http_serve(struct sentry *s)
{
	int fd;

	while ((fd = accept4(s->http_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		char req[4096], path[256];
		size_t len = 0;
		int head = 0, r = 0;
		uint64_t deadline = now_ns() + 200000000ull;
		struct buf b = { 0 };
		const char *status = "200 OK";

		while (len < sizeof(req)) {
			struct pollfd p = { fd, POLLIN, 0 };
			uint64_t t = now_ns();
			ssize_t n;
			if (t >= deadline || poll(&p, 1, (int)((deadline - t) / 1000000) + 1) <= 0)
				break;
			n = read(fd, req + len, sizeof(req) - len);
			if (n <= 0)
				break;
			len += (size_t)n;
			if ((r = rw_http_parse_request(req, len, path, sizeof(path), &head)) != 0)
				break;
		}
		if (r == 1 && (strcmp(path, "/metrics") == 0 || strcmp(path, "/") == 0)) {
			metrics(s, &b);
		} else {
			status = r == 1 ? "404 Not Found" : "400 Bad Request";
			bprintf(&b, "%s\n", status);
		}
		{
			char hdr[256];
			int hn = snprintf(hdr, sizeof(hdr),
					  "HTTP/1.0 %s\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
					  "Content-Length: %zu\r\nConnection: close\r\n\r\n",
					  status, b.len);
			struct timeval tv = { 0, 200000 };
			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
			if (write(fd, hdr, (size_t)hn) == hn && !head && b.p) {
				size_t off = 0;
				while (off < b.len) {
					ssize_t n = write(fd, b.p + off, b.len - off);
					if (n <= 0)
						break;
					off += (size_t)n;
				}
			}
		}
		free(b.p);
		close(fd);
	}
}

/* ---- set-up ----------------------------------------------------------------------- */

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || (level == LIBBPF_INFO && getenv("RW_SENTRY_DEBUG") == NULL))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* What the daemon keeps once its programs are attached: reading the egress
 * counters in other namespaces (setns: SYS_ADMIN; nftables: NET_ADMIN),
 * signalling and freezing containers (KILL), and reading and running the
 * delegates' state in root-only directories (DAC_READ_SEARCH, DAC_OVERRIDE).
 * The bounding set goes too, so the delegates it runs get no more. */
static void drop_caps(void)
{
	static const cap_value_t keep[] = { CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_KILL, CAP_DAC_READ_SEARCH,
					    CAP_DAC_OVERRIDE };
	cap_t caps;
	cap_value_t v;
	int last = (int)cap_max_bits() - 1;

	if (geteuid() != 0)
		return;
	for (v = 0; v <= last; v++) {
		size_t i;
		bool k = false;
		for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
			k |= keep[i] == v;
		if (!k)
			prctl(PR_CAPBSET_DROP, v, 0, 0, 0);
	}
	caps = cap_init();
	if (caps == NULL)
		return;
	cap_set_flag(caps, CAP_EFFECTIVE, sizeof(keep) / sizeof(keep[0]), keep, CAP_SET);
	cap_set_flag(caps, CAP_PERMITTED, sizeof(keep) / sizeof(keep[0]), keep, CAP_SET);
	if (cap_set_proc(caps) < 0)
		warn("dropping capabilities: %s", strerror(errno));
	cap_free(caps);
}

static void usage(FILE *f)
{
	fputs("usage: runwarden-sentry [--policy FILE] [--root DIR]... [--interval MS] [--window N]\n"
	      "                        [--events FILE|-] [--metrics ADDR:PORT|off] [--textfile FILE]\n"
	      "                        [--status FILE] [--once | --top] [--json]\n"
	      "Flags containers whose CPU use looks like mining (bpf/README.md).\n",
	      f);
}

static void open_events(struct sentry *s)
{
	const char *p = s->conf.events;
	char dir[PATH_MAX], *slash;

	if (s->once || p == NULL || p[0] == 0)
		return;
	if (strcmp(p, "-") == 0) {
		s->events = stdout;
		setvbuf(stdout, NULL, _IOLBF, 0);
		return;
	}
	snprintf(dir, sizeof(dir), "%s", p);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = 0;
		mkdir(dir, 0750);
	}
	s->events = fopen(p, "ae");
	if (s->events == NULL)
		die(1, "events %s: %s", p, strerror(errno));
}

/* `runwarden top`: the daemon's status when it is fresh. 1 printed, 0 not. */
static int top_from_status(struct sentry *s, bool as_json)
{
	cleanup_free char *buf = NULL;
	cleanup_error rw_error_t err = NULL;
	cleanup_json struct json *st = NULL;
	struct stat sb;
	size_t len;
	long long pid;

	if (s->conf.status == NULL || stat(s->conf.status, &sb) < 0 ||
	    time(NULL) - sb.st_mtime > 3 * (time_t)(s->conf.interval_ms / 1000 + 1) ||
	    rw_read_file(s->conf.status, 1 << 26, &buf, &len, &err) < 0 ||
	    json_parse(buf, len, 0, s->conf.status, &st, &err) < 0 || !json_int(json_get(st, "pid"), &pid) ||
	    pid <= 0 || kill((pid_t)pid, 0) < 0)
		return 0;
	print_table(st, as_json);
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' }, { "root", required_argument, NULL, 'r' },
		{ "interval", required_argument, NULL, 'i' }, { "window", required_argument, NULL, 'w' },
		{ "events", required_argument, NULL, 'e' }, { "metrics", required_argument, NULL, 'm' },
		{ "textfile", required_argument, NULL, 't' }, { "status", required_argument, NULL, 's' },
		{ "once", no_argument, NULL, 'o' }, { "top", no_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' }, { NULL, 0, NULL, 0 }
	};
	static struct sentry s = { .http_fd = -1 };
	const char *policy = rw_policy_path(), *events = NULL, *metrics_addr = NULL, *textfile = NULL,
		   *status = NULL;
	char **roots = NULL;
	size_t nroots = 0;
	long interval = 0, window = 0;
	bool top = false;
	cleanup_error rw_error_t err = NULL;
	int opt, efd, tfd, sfd, r;
	sigset_t mask;
	struct itimerspec its;
	struct epoll_event ev;
	uint64_t remaining;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;
		switch (opt) {
		case 'p': policy = optarg; break;
		case 'r':
			roots = realloc(roots, (nroots + 1) * sizeof(*roots));
			if (roots == NULL)
				die(1, "out of memory");
			roots[nroots++] = optarg;
			break;
		case 'i':
			interval = strtol(optarg, &end, 10);
			if (*end || interval < 100 || interval > 60000)
				die(1, "--interval: milliseconds from 100 to 60000: \"%s\"", optarg);
			break;
		case 'w':
			window = strtol(optarg, &end, 10);
			if (*end || window < 2 || window > RW_SCORE_MAX_WINDOW)
				die(1, "--window: samples from 2 to %d: \"%s\"", RW_SCORE_MAX_WINDOW, optarg);
			break;
		case 'e': events = optarg; break;
		case 'm': metrics_addr = optarg; break;
		case 't': textfile = optarg; break;
		case 's': status = optarg; break;
		case 'o': s.once = true; break;
		case 'T': top = s.once = true; break;
		case 'j': s.json = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("runwarden-sentry %s (%s)\n", PACKAGE_VERSION, RW_COMMIT); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}
	/* A broken policy stops the sentry: it would otherwise watch with
	 * settings the operator did not write. */
	if (rw_policy_load(policy, &s.pol, &err) < 0)
		die(1, "%s", err->msg);
	s.conf = s.pol.sentry;
	if (interval)
		s.conf.interval_ms = (unsigned)interval;
	if (window)
		s.conf.window = (unsigned)window;
	if (events)
		s.conf.events = (char *)events;
	if (textfile)
		s.conf.textfile = (char *)textfile;
	if (status)
		s.conf.status = (char *)status;
	if (metrics_addr) {
		s.conf.metrics = strcmp(metrics_addr, "off") == 0 ? (char *)"" : (char *)metrics_addr;
		if (!rw_sentry_listen_addr_ok(s.conf.metrics))
			die(1, "--metrics: a numeric IPv4:PORT or [IPv6]:PORT (port 1 to 65535), or off: \"%s\"",
			    metrics_addr);
	}
	s.roots = nroots ? roots : s.conf.roots;
	s.nroots = nroots ? nroots : s.conf.nroots;
	s.sc = (struct rw_score_conf){ .window = s.conf.window,
				       .cpu_high = s.conf.cpu_high,
				       .throttled_high = s.conf.throttled_high,
				       .syscalls_max = s.conf.syscalls_max,
				       .switches_max = s.conf.switches_max,
				       .execs_max = s.conf.execs_max,
				       .pool_bonus = s.conf.pool_bonus,
				       .exec_bonus = s.conf.exec_bonus,
				       .flag_score = s.conf.flag_score,
				       .clear_score = s.conf.clear_score };
	if (top && top_from_status(&s, s.json))
		return 0;

	if (rw_cg_host_detect(&s.host, &err) < 0)
		die(1, "%s", err->msg);
	s.ncpus_online = (double)sysconf(_SC_NPROCESSORS_ONLN);
	s.ncpus_possible = libbpf_num_possible_cpus();
	if (s.ncpus_possible <= 0)
		die(2, "cannot count the possible CPUs");
	s.slots = calloc((size_t)s.ncpus_possible, sizeof(*s.slots));
	if (s.slots == NULL)
		die(1, "out of memory");

	libbpf_set_print(libbpf_print);
	s.skel = sentry_bpf__open();
	if (s.skel == NULL)
		die(2, "cannot open the BPF object: %s", strerror(errno));
	s.skel->rodata->use_v1_cpu = s.host.cpu_v1;
	if ((r = sentry_bpf__load(s.skel)) != 0)
		die(2, "cannot load the BPF programs (kernel with BTF, CAP_BPF and CAP_PERFMON needed): %s",
		    strerror(-r));
	if ((r = sentry_bpf__attach(s.skel)) != 0)
		die(2, "cannot attach the BPF programs: %s", strerror(-r));
	s.rb = ring_buffer__new(bpf_map__fd(s.skel->maps.execs), on_exec, &s, NULL);
	if (s.rb == NULL)
		die(2, "cannot open the exec ring buffer: %s", strerror(errno));
	/* libbpf's load read the kernel's BTF (megabytes): give it back. */
	malloc_trim(0);

	if (!s.once && s.conf.metrics && s.conf.metrics[0]) {
		s.http_fd = http_listen(s.conf.metrics);
		if (s.http_fd < 0)
			die(1, "metrics %s: %s", s.conf.metrics, strerror(errno));
	}
	open_events(&s);
	drop_caps();

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGPIPE);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sigdelset(&mask, SIGPIPE);
	if ((sfd = signalfd(-1, &mask, SFD_CLOEXEC)) < 0 || (efd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC)) < 0)
		die(1, "event loop: %s", strerror(errno));
	its.it_interval.tv_sec = s.conf.interval_ms / 1000;
	its.it_interval.tv_nsec = (long)(s.conf.interval_ms % 1000) * 1000000;
	its.it_value = its.it_interval;
	timerfd_settime(tfd, 0, &its, NULL);
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u32 = 0 };
	epoll_ctl(efd, EPOLL_CTL_ADD, tfd, &ev);
	ev.data.u32 = 1;
	epoll_ctl(efd, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.u32 = 2;
	epoll_ctl(efd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(s.rb), &ev);
	if (s.http_fd >= 0) {
		ev.data.u32 = 3;
		epoll_ctl(efd, EPOLL_CTL_ADD, s.http_fd, &ev);
	}

	if (!s.once)
		fprintf(stderr, "runwarden-sentry %s: cgroup %s at %s, %zu root pattern(s), interval %u ms, window %u%s%s\n",
			PACKAGE_VERSION, s.host.cpu_v1 ? "v1 cpu" : "v2", s.host.cpu_mount, s.nroots,
			s.conf.interval_ms, s.conf.window, s.http_fd >= 0 ? ", metrics on " : "",
			s.http_fd >= 0 ? s.conf.metrics : "");
	discover(&s);
	sample(&s);
	/* --once: a baseline and `window` samples */
	remaining = s.sc.window;
	while (!stop) {
		struct epoll_event evs[8];
		int n = epoll_wait(efd, evs, 8, -1), i;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die(1, "epoll_wait: %s", strerror(errno));
		}
		for (i = 0; i < n; i++) {
			switch (evs[i].data.u32) {
			case 0: {
				uint64_t ticks;
				if (read(tfd, &ticks, sizeof(ticks)) < 0)
					break;
				discover(&s);
				sample(&s);
				if (s.once) {
					if (--remaining == 0)
						stop = 1;
				} else
					write_outputs(&s);
				break;
			}
			case 1: {
				struct signalfd_siginfo si;
				if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
					stop = 1;
				break;
			}
			case 2:
				ring_buffer__consume(s.rb);
				break;
			case 3:
				http_serve(&s);
				break;
			}
		}
	}
	if (s.once) {
		struct buf b = { 0 };
		cleanup_json struct json *st = NULL;
		status_json(&s, &b);
		if (b.p == NULL || json_parse(b.p, b.len, 0, "status", &st, &err) < 0)
			die(1, "status: %s", err ? err->msg : "out of memory");
		r = print_table(st, s.json);
		free(b.p);
	} else
		r = 0;
	/* The programs and maps go with the process; the map entries with them. */
	while (s.n)
		ctr_free(&s, s.c[--s.n]);
	free(s.c);
	ring_buffer__free(s.rb);
	sentry_bpf__destroy(s.skel);
	free(s.slots);
	free(roots);
	if (s.events && s.events != stdout)
		fclose(s.events);
	if (s.http_fd >= 0)
		close(s.http_fd);
	rw_policy_release(&s.pol);
	return r;
}
