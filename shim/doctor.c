/* runwarden doctor: the seed's verify-hardening.sh as one command. Every
 * check gives one line, [OK], [WARN], [FAIL] or [SKIP], and every WARN and
 * FAIL says how to fix it. Docker facts come from the docker CLI (a child,
 * with a timeout, honouring DOCKER_HOST), from daemon.json and from dockerd's
 * /proc entries: runwarden is a static binary and links no Docker client. */
#include "config.h"

#include "shim/doctor.h"
#include "shim/delegate.h"
#include "shim/fileio.h"
#include "shim/json.h"
#include "shim/proc.h"
#include "shim/strv.h"
#include "policy/policy.h"
#include "cgroups/cgroup.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum status { ST_OK, ST_WARN, ST_FAIL, ST_SKIP };
static const char *const status_name[] = { "OK", "WARN", "FAIL", "SKIP" };

struct result {
	enum status st;
	char *check, *message, *fix;
};

struct doctor {
	struct result *r;
	size_t n, cap;
	bool oom;

	/* options */
	bool json;
	const char *daemon_json;        /* NULL: dockerd's --config-file, else /etc/docker/daemon.json */
	long dockerd_pid;               /* 0: found by name */
	const char *docker;             /* the docker CLI ("docker": searched in PATH) */
	int timeout_ms;

	char self[PATH_MAX];            /* runwarden's own path ("" unknown) */
	char self_real[PATH_MAX];

	/* the policy, when it loads */
	bool pol_ok;
	struct rw_policy pol;

	/* dockerd */
	pid_t dpid;                     /* 0: not found */
	char **dargv;                   /* its command line */
	size_t dargc;
	bool docker_up;                 /* and reached the daemon */
	struct json *info;              /* docker info */
};

/* ---- results ---- */

static struct result *add(struct doctor *d, enum status st, const char *check, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static struct result *add(struct doctor *d, enum status st, const char *check, const char *fmt, ...)
{
	struct result *r;
	va_list ap;

	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 32;
		struct result *nr = realloc(d->r, cap * sizeof(*nr));
		if (nr == NULL) {
			d->oom = true;
			return NULL;
		}
		d->r = nr;
		d->cap = cap;
	}
	r = &d->r[d->n];
	memset(r, 0, sizeof(*r));
	r->st = st;
	r->check = strdup(check);
	va_start(ap, fmt);
	if (vasprintf(&r->message, fmt, ap) < 0)
		r->message = NULL;
	va_end(ap);
	if (r->check == NULL || r->message == NULL) {
		free(r->check);
		free(r->message);
		d->oom = true;
		return NULL;
	}
	d->n++;
	return r;
}

static void fix(struct result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fix(struct result *r, const char *fmt, ...)
{
	va_list ap;

	if (r == NULL)
		return;
	free(r->fix);
	va_start(ap, fmt);
	if (vasprintf(&r->fix, fmt, ap) < 0)
		r->fix = NULL;
	va_end(ap);
}

/* Text on one line, into buf: runs of newlines become "; ", trailing
 * whitespace goes. */
static void one_line(const char *s, char *buf, size_t size)
{
	size_t w = 0;
	bool sep = false;

	if (size == 0)
		return;
	for (; s && *s && w + 1 < size; s++) {
		if (*s == '\n' || *s == '\r') {
			sep = w > 0;
			continue;
		}
		if (sep) {
			if (w + 3 >= size)
				break;
			buf[w++] = ';';
			buf[w++] = ' ';
			sep = false;
		}
		buf[w++] = *s;
	}
	while (w > 0 && (buf[w - 1] == ' ' || buf[w - 1] == '\t'))
		w--;
	buf[w] = '\0';
}

/* ---- running a child, with a timeout ---- */

struct child {
	char *out, *err;
	size_t out_len, err_len;
	int status;             /* waitpid's */
	bool timed_out;
	int spawn_errno;        /* posix_spawn's failure (ENOENT: not installed) */
};

static void child_release(struct child *c)
{
	free(c->out);
	free(c->err);
	memset(c, 0, sizeof(*c));
}

static bool child_ok(const struct child *c)
{
	return c->spawn_errno == 0 && !c->timed_out && WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Appends what fd has to *buf (at most max bytes kept). 0 at EOF, 1 more to come, -1 error. */
static int drain(int fd, char **buf, size_t *len, size_t *cap, size_t max)
{
	char tmp[65536];
	ssize_t n = read(fd, tmp, sizeof(tmp));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : -1;
	if (n == 0)
		return 0;
	if (*len + (size_t)n > max)
		n = (ssize_t)(max > *len ? max - *len : 0);
	if (n > 0) {
		if (*len + (size_t)n + 1 > *cap) {
			size_t nc = (*len + (size_t)n + 1) * 2;
			char *nb = realloc(*buf, nc);
			if (nb == NULL)
				return -1;
			*buf = nb;
			*cap = nc;
		}
		memcpy(*buf + *len, tmp, (size_t)n);
		*len += (size_t)n;
		(*buf)[*len] = '\0';
	}
	return 1;
}

/* Runs argv (argv[0] searched in PATH when it has no '/'), stdin /dev/null,
 * stdout and stderr captured (64 MiB each at most), killed after timeout_ms. */
static void run_child(char *const argv[], int timeout_ms, struct child *c)
{
	posix_spawn_file_actions_t fa;
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 };
	size_t ocap = 0, ecap = 0;
	long long deadline = now_ms() + timeout_ms;
	bool oopen = true, eopen = true;
	pid_t pid;
	int r;

	memset(c, 0, sizeof(*c));
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		c->spawn_errno = errno;
		if (po[0] >= 0)
			close(po[0]), close(po[1]);
		return;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	r = strchr(argv[0], '/') ? posix_spawn(&pid, argv[0], &fa, NULL, argv, environ)
				 : posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(po[1]);
	close(pe[1]);
	if (r != 0) {
		c->spawn_errno = r;
		close(po[0]);
		close(pe[0]);
		return;
	}
	while (oopen || eopen) {
		struct pollfd p[2] = { { oopen ? po[0] : -1, POLLIN, 0 }, { eopen ? pe[0] : -1, POLLIN, 0 } };
		long long left = deadline - now_ms();
		if (left <= 0) {
			c->timed_out = true;
			kill(pid, SIGKILL);
			break;
		}
		r = poll(p, 2, (int)left);
		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0)
			continue;
		if (oopen && p[0].revents && drain(po[0], &c->out, &c->out_len, &ocap, 64u << 20) <= 0)
			oopen = false;
		if (eopen && p[1].revents && drain(pe[0], &c->err, &c->err_len, &ecap, 64u << 20) <= 0)
			eopen = false;
	}
	close(po[0]);
	close(pe[0]);
	/* Both pipes closed: the child has exited, or is about to; a child that
	 * closed them and lives on gets the rest of the timeout. */
	for (;;) {
		r = waitpid(pid, &c->status, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			break;
		if (r == 0 && now_ms() >= deadline && !c->timed_out) {
			c->timed_out = true;
			kill(pid, SIGKILL);
		}
		if (r == 0)
			usleep(10000);
	}
	if (c->out == NULL)
		c->out = strdup("");
	if (c->err == NULL)
		c->err = strdup("");
	if (c->out == NULL || c->err == NULL)
		c->spawn_errno = ENOMEM;
}

/* Why a child failed, in words (static or c->err). */
static const char *child_why(struct child *c, char *buf, size_t size)
{
	if (c->spawn_errno)
		snprintf(buf, size, "%s", strerror(c->spawn_errno));
	else if (c->timed_out)
		snprintf(buf, size, "no answer within the timeout");
	else if (c->err && c->err[0])
		one_line(c->err, buf, size);
	else if (WIFSIGNALED(c->status))
		snprintf(buf, size, "killed by signal %d", WTERMSIG(c->status));
	else
		snprintf(buf, size, "exit status %d", WEXITSTATUS(c->status));
	return buf;
}

/* ---- small helpers ---- */

static void self_path(struct doctor *d)
{
	ssize_t len = readlink("/proc/self/exe", d->self, sizeof(d->self) - 1);

	d->self[len > 0 ? len : 0] = '\0';
	if (d->self[0] == '\0' || realpath(d->self, d->self_real) == NULL)
		snprintf(d->self_real, sizeof(d->self_real), "%s", d->self);
}

/* A program installed beside runwarden; 0 and path, or -1 with errno. */
static int sibling(const struct doctor *d, const char *name, char *out, size_t size)
{
	const char *slash = strrchr(d->self, '/');

	if (slash == NULL || (size_t)snprintf(out, size, "%.*s/%s", (int)(slash - d->self), d->self, name) >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return access(out, X_OK);
}

/* A runtime path that is runwarden: this very binary, or one named runwarden. */
static bool is_runwarden(const struct doctor *d, const char *path)
{
	char real[PATH_MAX];
	const char *base;

	if (path == NULL || *path == '\0')
		return false;
	if (realpath(path, real) != NULL && d->self_real[0] && strcmp(real, d->self_real) == 0)
		return true;
	base = strrchr(path, '/');
	return strcmp(base ? base + 1 : path, "runwarden") == 0;
}

static const char *jstr(const struct json *j)
{
	return j && j->type == JSON_STRING && memchr(j->u.str.s, '\0', j->u.str.len) == NULL ? j->u.str.s : NULL;
}

/* true/false member: 1, 0, or -1 when absent or not a boolean. */
static int jbool(const struct json *obj, const char *key)
{
	const struct json *v = obj ? json_get(obj, key) : NULL;

	if (v == NULL || (v->type != JSON_TRUE && v->type != JSON_FALSE))
		return -1;
	return v->type == JSON_TRUE;
}

/* ---- policy and delegates ---- */

static void check_policy(struct doctor *d)
{
	const char *path = rw_policy_path();
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int n;
	struct result *r;
	cleanup_error rw_error_t err = NULL;

	if (access(path, F_OK) < 0 && errno == ENOENT) {
		add(d, ST_OK, "policy", "%s does not exist: the embedded default applies (runwarden policy show --default)", path);
		d->pol_ok = rw_policy_load(path, &d->pol, &err) == 0;
		return;
	}
	f = open_memstream(&text, &len);
	if (f == NULL) {
		d->oom = true;
		return;
	}
	n = rw_policy_check(path, f);
	fclose(f);
	if (n > 0) {
		char msgs[4096];
		one_line(text, msgs, sizeof(msgs));
		r = add(d, ST_FAIL, "policy", "%d error%s: %s", n, n == 1 ? "" : "s", msgs);
		fix(r, "correct %s (runwarden policy check %s lists each error); until then every create fails closed", path, path);
		free(text);
		return;
	}
	free(text);
	if (rw_policy_load(path, &d->pol, &err) < 0) {
		r = add(d, ST_FAIL, "policy", "%s", err ? err->msg : path);
		fix(r, "correct %s (runwarden policy check %s)", path, path);
		return;
	}
	d->pol_ok = true;
	add(d, ST_OK, "policy", "%s is valid (%zu tier%s, default tier %s)", path, d->pol.ntiers, d->pol.ntiers == 1 ? "" : "s",
	    d->pol.default_tier ? d->pol.default_tier : "?");
}

/* The first line of `path --version`. */
static char *delegate_version(struct doctor *d, const char *path)
{
	char *argv[] = { (char *)path, (char *)"--version", NULL };
	struct child c;
	char *v = NULL, *nl;

	run_child(argv, d->timeout_ms, &c);
	if (child_ok(&c) && c.out) {
		nl = strchr(c.out, '\n');
		if (nl)
			*nl = '\0';
		v = strdup(c.out);
	}
	child_release(&c);
	return v ? v : strdup("version unknown: --version failed");
}

struct wanted { char *spec; char *who; };

static void want_delegate(struct wanted **w, size_t *n, const char *spec, const char *who, bool *oom)
{
	size_t i;
	struct wanted *nw;
	char *s;

	for (i = 0; i < *n; i++)
		if (((*w)[i].spec == NULL) == (spec == NULL) && (spec == NULL || strcmp((*w)[i].spec, spec) == 0)) {
			if (asprintf(&s, "%s, %s", (*w)[i].who, who) < 0) {
				*oom = true;
				return;
			}
			free((*w)[i].who);
			(*w)[i].who = s;
			return;
		}
	nw = realloc(*w, (*n + 1) * sizeof(**w));
	if (nw == NULL) {
		*oom = true;
		return;
	}
	*w = nw;
	nw[*n].spec = spec ? strdup(spec) : NULL;
	nw[*n].who = strdup(who);
	if ((spec && nw[*n].spec == NULL) || nw[*n].who == NULL) {
		free(nw[*n].spec);
		free(nw[*n].who);
		*oom = true;
		return;
	}
	(*n)++;
}

static void check_delegates(struct doctor *d)
{
	struct wanted *w = NULL;
	size_t n = 0, i;
	const char *ppath = rw_policy_path();

	if (!d->pol_ok) {
		add(d, ST_SKIP, "delegate", "the policy does not load, so which delegates it names is unknown");
		return;
	}
	want_delegate(&w, &n, d->pol.delegate, "\"delegate\"", &d->oom);
	for (i = 0; i < d->pol.ntiers; i++)
		if (d->pol.tiers[i].delegate) {
			char who[256];
			snprintf(who, sizeof(who), "tier %s", d->pol.tiers[i].name);
			want_delegate(&w, &n, d->pol.tiers[i].delegate, who, &d->oom);
		}
	for (i = 0; i < d->pol.ntrusted; i++) {
		char who[256];
		snprintf(who, sizeof(who), "trusted rule %s", d->pol.trusted[i].name ? d->pol.trusted[i].name : "?");
		want_delegate(&w, &n, d->pol.trusted[i].delegate ? d->pol.trusted[i].delegate : "runc", who, &d->oom);
	}
	for (i = 0; i < n; i++) {
		struct rw_delegate del;
		cleanup_error rw_error_t err = NULL;
		const char *dflt = w[i].spec ? "" : " (the embedded default)";
		struct result *r;

		if (rw_delegate_resolve(w[i].spec, &del, &err) < 0) {
			r = add(d, ST_FAIL, "delegate", "%s for %s%s: %s", w[i].spec ? w[i].spec : "none", w[i].who, dflt,
				err ? err->msg : "not found");
			if (w[i].spec == NULL)
				fix(r, "install gVisor's runsc (or crun, or runc)");
			else
				fix(r, "install %s, or name an installed runtime in %s; containers that need it fail to start until then",
				    w[i].spec, ppath);
		} else {
			char *v = delegate_version(d, del.path);
			if (w[i].spec == NULL && strcmp(del.name, "runsc") != 0) {
				r = add(d, ST_WARN, "delegate", "%s for %s%s: %s, %s: gVisor's runsc is not installed, so tenant containers share the host kernel",
					del.name, w[i].who, dflt, del.path, v ? v : "");
				fix(r, "install gVisor (runsc), or name the delegate you mean in %s", ppath);
			} else
				add(d, ST_OK, "delegate", "%s for %s%s: %s, %s", del.name, w[i].who, dflt, del.path, v ? v : "");
			free(v);
		}
		free(w[i].spec);
		free(w[i].who);
	}
	free(w);
}

/* ---- kernel: nftables, BPF, the sentry, cgroups ---- */

/* CONFIG_X from the running kernel's config, when it is readable: 1 y/m, 0 not set, -1 unknown. */
static int kernel_config(const char *name)
{
	char path[PATH_MAX], line[512], release[256];
	FILE *f = NULL;
	size_t nlen = strlen(name);
	int found = -1;	/* -1 until a line is read */
	bool gz = false;

	if (access("/proc/config.gz", R_OK) == 0) {
		f = popen("exec zcat /proc/config.gz 2>/dev/null", "r");
		gz = true;
	} else {
		FILE *rel = fopen("/proc/sys/kernel/osrelease", "r");
		if (rel == NULL || fgets(release, sizeof(release), rel) == NULL) {
			if (rel)
				fclose(rel);
			return -1;
		}
		fclose(rel);
		release[strcspn(release, "\n")] = '\0';
		snprintf(path, sizeof(path), "/boot/config-%s", release);
		f = fopen(path, "r");
	}
	if (f == NULL)
		return -1;
	/* no line at all: zcat missing or the file empty, so unknown */
	while (fgets(line, sizeof(line), f)) {
		if (found < 0)
			found = 0;
		if (strncmp(line, name, nlen) == 0 && line[nlen] == '=') {
			found = line[nlen + 1] == 'y' || line[nlen + 1] == 'm';
			break;
		}
	}
	if (gz)
		pclose(f);
	else
		fclose(f);
	return found;
}

static void check_nftables(struct doctor *d)
{
	char path[PATH_MAX];
	char why[1024];
	struct child c;
	struct result *r;
	int netdev;

	if (sibling(d, "runwarden-egress", path, sizeof(path)) < 0) {
		r = add(d, ST_FAIL, "nftables", "%s: %s: the egress rules (metadata, SMTP, mining pools, IRC, Tor) cannot be installed",
			path, strerror(errno));
		fix(r, "install runwarden-egress beside runwarden (make install puts both in the same directory)");
		return;
	}
	netdev = kernel_config("CONFIG_NF_TABLES_NETDEV");
	if (netdev == 0) {
		r = add(d, ST_FAIL, "nftables", "the kernel has no nftables netdev family (CONFIG_NF_TABLES_NETDEV is not set)");
		fix(r, "boot a kernel with CONFIG_NF_TABLES and CONFIG_NF_TABLES_NETDEV (every distribution kernel has them)");
		return;
	}
	{
		char *argv[] = { path, (char *)"egress", (char *)"show", (char *)"--json", NULL };
		run_child(argv, d->timeout_ms, &c);
	}
	if (!child_ok(&c)) {
		child_why(&c, why, sizeof(why));
		if (geteuid() != 0) {
			r = add(d, ST_WARN, "nftables", "cannot list nftables tables as uid %u: %s", (unsigned)geteuid(), why);
			fix(r, "run runwarden doctor as root");
		} else {
			r = add(d, ST_FAIL, "nftables", "listing the egress tables over netlink failed: %s", why);
			fix(r, "load nf_tables (modprobe nf_tables) or boot a kernel with CONFIG_NF_TABLES and CONFIG_NF_TABLES_NETDEV");
		}
	} else {
		cleanup_json struct json *j = NULL;
		cleanup_error rw_error_t err = NULL;
		size_t tables = 0;
		if (json_parse(c.out, c.out_len, 0, "egress show", &j, &err) == 0 && j->type == JSON_ARRAY)
			tables = j->u.arr.n;
		add(d, ST_OK, "nftables", "nf_tables answers over netlink%s; %zu runwarden egress table%s",
		    netdev == 1 ? " and the kernel has the netdev family" : "", tables, tables == 1 ? "" : "s");
	}
	child_release(&c);
}

static void check_bpf(struct doctor *d)
{
	struct result *r;

	if (access("/sys/kernel/btf/vmlinux", R_OK) == 0) {
		add(d, ST_OK, "bpf", "the kernel has BTF (/sys/kernel/btf/vmlinux): runwarden-sentry's CO-RE programs can load");
		return;
	}
	r = add(d, ST_WARN, "bpf", "/sys/kernel/btf/vmlinux: %s: runwarden-sentry cannot load its programs, so miners are not flagged",
		strerror(errno));
	fix(r, "boot a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian 11+, Ubuntu 20.10+ and RHEL 8.2+ kernels are)");
}

static void check_sentry(struct doctor *d)
{
	char path[PATH_MAX];
	const char *status = d->pol_ok && d->pol.sentry.status ? d->pol.sentry.status : "/run/runwarden-sentry.json";
	unsigned interval = d->pol_ok && d->pol.sentry.interval_ms ? d->pol.sentry.interval_ms : 1000;
	static const char start[] =
		"start it: cp contrib/runwarden-sentry.service /etc/systemd/system/ && systemctl daemon-reload && "
		"systemctl enable --now runwarden-sentry (or run runwarden-sentry under your supervisor)";
	cleanup_free char *buf = NULL;
	cleanup_json struct json *st = NULL;
	cleanup_error rw_error_t err = NULL;
	struct stat sb;
	struct result *r;
	size_t len;
	long long pid = 0, age;
	const struct json *cs;

	if (sibling(d, "runwarden-sentry", path, sizeof(path)) < 0) {
		r = add(d, ST_WARN, "sentry", "%s: %s: nothing watches containers for mining", path, strerror(errno));
		fix(r, "install runwarden-sentry beside runwarden (make install), then %s", start + strlen("start it: "));
		return;
	}
	if (stat(status, &sb) < 0) {
		r = add(d, ST_WARN, "sentry", "runwarden-sentry is not running (no status file %s): nothing watches containers for mining",
			status);
		fix(r, "%s", start);
		return;
	}
	age = (long long)(time(NULL) - sb.st_mtime);
	if (age > 3 * (long long)(interval / 1000 + 1)) {
		r = add(d, ST_WARN, "sentry", "runwarden-sentry is not running: its status file %s was last written %llds ago", status,
			age);
		fix(r, "%s", start);
		return;
	}
	if (rw_read_file(status, 1 << 26, &buf, &len, &err) < 0 || json_parse(buf, len, 0, status, &st, &err) < 0 ||
	    !json_int(json_get(st, "pid"), &pid) || pid <= 0) {
		r = add(d, ST_WARN, "sentry", "%s: %s", status, err ? err->msg : "no \"pid\"");
		fix(r, "%s", start);
		return;
	}
	if (kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
		r = add(d, ST_WARN, "sentry", "runwarden-sentry is not running: the pid %lld of %s is gone", pid, status);
		fix(r, "%s", start);
		return;
	}
	cs = json_get(st, "containers");
	add(d, ST_OK, "sentry", "runwarden-sentry is running (pid %lld), watching %zu container%s", pid,
	    cs && cs->type == JSON_ARRAY ? cs->u.arr.n : 0, cs && cs->type == JSON_ARRAY && cs->u.arr.n == 1 ? "" : "s");
}

/* /proc/cgroups' enabled column for a controller: 1, 0, -1 unknown. */
static int controller_enabled(const char *text, const char *name)
{
	const char *p = text;
	size_t n = strlen(name);

	while (p && *p) {
		if (strncmp(p, name, n) == 0 && (p[n] == '\t' || p[n] == ' ')) {
			const char *eol = strchr(p, '\n');
			const char *last = eol ? eol : p + strlen(p);
			while (last > p && isspace((unsigned char)last[-1]))
				last--;
			return last > p && last[-1] == '1';
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

static void check_cgroups(struct doctor *d)
{
	struct rw_cg_host h;
	cleanup_error rw_error_t err = NULL;
	cleanup_free char *procs = NULL;
	const char *mode, *missing = NULL;
	char comm[64] = "";
	size_t len;
	struct result *r;
	static const char *const ctls[] = { "cpu", "memory", "pids", NULL };
	const char *dver = NULL, *driver = NULL;
	size_t i;
	FILE *f;

	memset(&h, 0, sizeof(h));
	if (rw_cg_host_detect(&h, &err) < 0) {
		r = add(d, ST_FAIL, "cgroups", "%s", err ? err->msg : "no cgroups");
		fix(r, "mount cgroup2 on /sys/fs/cgroup (systemd does at boot)");
		return;
	}
	mode = !h.cpu_v1 ? "v2 (unified)" : h.unified_mount[0] ? "hybrid (v1 controllers, cgroup2 beside them)" : "v1";
	if (rw_read_file("/proc/cgroups", 1 << 20, &procs, &len, &err) == 0)
		for (i = 0; ctls[i]; i++)
			if (controller_enabled(procs, ctls[i]) == 0)
				missing = ctls[i];
	if (d->info) {
		dver = jstr(json_get(d->info, "CgroupVersion"));
		driver = jstr(json_get(d->info, "CgroupDriver"));
		if (missing == NULL && jbool(d->info, "MemoryLimit") == 0)
			missing = "memory";
		if (missing == NULL && jbool(d->info, "CpuCfsQuota") == 0)
			missing = "cpu";
		if (missing == NULL && jbool(d->info, "PidsLimit") == 0)
			missing = "pids";
	}
	if (missing) {
		r = add(d, ST_FAIL, "cgroups", "cgroups %s, but the %s controller is disabled: the tiers' %s limits are not enforced", mode,
			missing, missing);
		fix(r, "enable it on the kernel command line (cgroup_enable=%s, and no cgroup_disable=%s) and reboot", missing, missing);
		return;
	}
	if ((f = fopen("/proc/1/comm", "r")) != NULL) {
		if (fgets(comm, sizeof(comm), f) == NULL)
			comm[0] = '\0';
		comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	if (!h.cpu_v1 && driver && strcmp(driver, "cgroupfs") == 0 && strcmp(comm, "systemd") == 0) {
		r = add(d, ST_WARN, "cgroups", "cgroups %s; dockerd's driver is cgroupfs on a systemd host: two managers of one tree", mode);
		fix(r, "add \"exec-opts\": [\"native.cgroupdriver=systemd\"] to daemon.json and restart dockerd");
		return;
	}
	if (driver)
		add(d, ST_OK, "cgroups", "cgroups %s; cpu, memory and pids enabled; dockerd: cgroup version %s, driver %s", mode,
		    dver ? dver : "?", driver);
	else
		add(d, ST_OK, "cgroups", "cgroups %s; cpu, memory and pids enabled", mode);
}

/* ---- Docker ---- */

static void docker_argv(const struct doctor *d, char **argv, const char *a1, const char *a2, const char *a3)
{
	argv[0] = (char *)d->docker;
	argv[1] = (char *)a1;
	argv[2] = (char *)a2;
	argv[3] = (char *)a3;
	argv[4] = NULL;
}

/* unix:///var/run/docker.sock and /run/docker.sock are the same socket. */
static void norm_host(const char *h, char *out, size_t size)
{
	if (strncmp(h, "unix://", 7) == 0)
		h += 7;
	if (strncmp(h, "/var/run/", 9) == 0)
		h += 4;
	snprintf(out, size, "%s", h);
}

/* The data-root of a dockerd with command line v: its flag, its
 * daemon.json's "data-root", or Docker's default. */
static void data_root_of(char **v, size_t n, char *out, size_t size)
{
	const char *f = rw_argv_flag(v, n, "--data-root", NULL, 0);
	const char *conf = rw_argv_flag(v, n, "--config-file", NULL, 0);
	cleanup_free char *buf = NULL;
	cleanup_json struct json *j = NULL;
	cleanup_error rw_error_t err = NULL;
	size_t len;

	if (f == NULL)
		f = rw_argv_flag(v, n, "--graph", "-g", 0);
	if (f == NULL && rw_read_file(conf ? conf : "/etc/docker/daemon.json", 1 << 22, &buf, &len, &err) == 0 &&
	    json_parse(buf, len, 0, "daemon.json", &j, &err) == 0 && j->type == JSON_OBJECT)
		f = jstr(json_get(j, "data-root"));
	if (f == NULL)
		f = "/var/lib/docker";
	if (realpath(f, out) == NULL)
		snprintf(out, size, "%s", f);
}

/* dockerd's pid: --dockerd-pid; else the dockerd whose data-root is the one
 * docker info reports (the daemon the CLI reached); else the one that
 * listens where DOCKER_HOST points (the default socket without it). */
static void find_dockerd(struct doctor *d)
{
	const char *env = getenv("DOCKER_HOST");
	const char *root = d->info ? jstr(json_get(d->info, "DockerRootDir")) : NULL;
	char want[PATH_MAX], want_root[PATH_MAX] = "";
	cleanup_free pid_t *pids = NULL;
	size_t npids = 0, i;
	pid_t by_socket = 0;

	if (d->dockerd_pid > 0) {
		d->dpid = (pid_t)d->dockerd_pid;
		if (rw_proc_argv(d->dpid, &d->dargv, &d->dargc) < 0)
			d->dpid = 0;
		return;
	}
	if (root && realpath(root, want_root) == NULL)
		snprintf(want_root, sizeof(want_root), "%s", root);
	norm_host(env && *env ? env : "unix:///var/run/docker.sock", want, sizeof(want));
	if (rw_proc_find("dockerd", &pids, &npids) < 0)
		return;
	for (i = 0; i < npids && d->dpid == 0; i++) {
		char got_root[PATH_MAX];
		char **v = NULL;
		size_t n = 0, k;
		const char *h;
		pid_t pid = pids[i];

		if (rw_proc_argv(pid, &v, &n) < 0)
			continue;
		if (want_root[0]) {
			data_root_of(v, n, got_root, sizeof(got_root));
			if (strcmp(got_root, want_root) == 0) {
				d->dpid = pid;
				d->dargv = v;
				d->dargc = n;
				break;
			}
		}
		if (rw_argv_flag(v, n, "--host", "-H", 0) == NULL && strcmp(want, "/run/docker.sock") == 0)
			by_socket = pid;
		for (k = 0; (h = rw_argv_flag(v, n, "--host", "-H", k)) != NULL; k++) {
			char got[PATH_MAX];
			norm_host(h, got, sizeof(got));
			if (strcmp(got, want) == 0 || (strncmp(h, "fd://", 5) == 0 && strcmp(want, "/run/docker.sock") == 0))
				by_socket = pid;
		}
		rw_strv_free(&v, &n);
	}
	if (d->dpid == 0 && by_socket && !want_root[0]) {
		d->dpid = by_socket;
		if (rw_proc_argv(d->dpid, &d->dargv, &d->dargc) < 0)
			d->dpid = 0;
	}
}

/* docker info: d->info, or why not (a WARN's message and fix). */
static enum status docker_info(struct doctor *d, char *why, size_t size, const char **fixp)
{
	char *argv[5];
	char tmp[1024];
	struct child c;
	cleanup_error rw_error_t err = NULL;
	const struct json *se;

	docker_argv(d, argv, "info", "--format", "{{json .}}");
	run_child(argv, d->timeout_ms, &c);
	if (c.spawn_errno == ENOENT) {
		child_release(&c);
		snprintf(why, size, "no docker CLI (%s): the checks of the running daemon are skipped", d->docker);
		*fixp = "install the docker CLI, or give its path with --docker; ignore this if runwarden runs under containerd or podman only";
		return ST_WARN;
	}
	if (!child_ok(&c) || json_parse(c.out, c.out_len, 0, "docker info", &d->info, &err) < 0 ||
	    d->info->type != JSON_OBJECT) {
		if (child_ok(&c))
			snprintf(tmp, sizeof(tmp), "%s", err ? err->msg : "not a JSON object");
		else
			child_why(&c, tmp, sizeof(tmp));
		child_release(&c);
		json_free(d->info);
		d->info = NULL;
		snprintf(why, size, "docker info failed: %s", tmp);
		*fixp = "start dockerd (systemctl start docker), or point DOCKER_HOST at it";
		return ST_WARN;
	}
	child_release(&c);
	se = json_get(d->info, "ServerErrors");
	if (se && se->type == JSON_ARRAY && se->u.arr.n > 0) {
		const char *m = jstr(se->u.arr.v[0]);
		one_line(m ? m : "server error", tmp, sizeof(tmp));
		json_free(d->info);
		d->info = NULL;
		snprintf(why, size, "cannot reach dockerd: %s", tmp);
		*fixp = "start dockerd (systemctl start docker), or point DOCKER_HOST at it";
		return ST_WARN;
	}
	d->docker_up = true;
	return ST_OK;
}

static void check_docker(struct doctor *d)
{
	char why[1200];
	const char *fx = NULL;
	const char *host = getenv("DOCKER_HOST");
	struct result *r;

	if (docker_info(d, why, sizeof(why), &fx) != ST_OK) {
		find_dockerd(d);
		r = add(d, ST_WARN, "docker", "%s", why);
		fix(r, "%s", fx);
		return;
	}
	find_dockerd(d);
	{
		const char *v = jstr(json_get(d->info, "ServerVersion"));
		if (!host || !*host)
			host = "unix:///var/run/docker.sock";
		if (d->dpid)
			add(d, ST_OK, "docker", "dockerd %s (pid %d) at %s", v ? v : "?", (int)d->dpid, host);
		else
			add(d, ST_OK, "docker", "dockerd %s at %s (its process is not visible here)", v ? v : "?", host);
	}
}

/* The runtimes of docker info: name -> path. */
static const char *runtime_path(const struct doctor *d, const char *name)
{
	const struct json *rt = d->info ? json_getv(d->info, "Runtimes", name, NULL) : NULL;
	const char *p = rt ? jstr(json_get(rt, "path")) : NULL;

	if (p == NULL && rt)
		p = jstr(json_get(rt, "Path"));
	return p;
}

static void check_dockerd_runtime(struct doctor *d)
{
	const char *def, *path;
	struct result *r;

	if (!d->docker_up) {
		add(d, ST_SKIP, "dockerd.default-runtime", "dockerd is not reachable");
		return;
	}
	def = jstr(json_get(d->info, "DefaultRuntime"));
	path = def ? runtime_path(d, def) : NULL;
	if (def && is_runwarden(d, path)) {
		char real[PATH_MAX];
		if (realpath(path, real) && d->self_real[0] && strcmp(real, d->self_real) != 0) {
			r = add(d, ST_WARN, "dockerd.default-runtime", "the default runtime %s is %s, not this runwarden (%s)", def, path,
				d->self);
			fix(r, "point daemon.json's runtimes.%s.path at the runwarden you mean, or run that one's doctor", def);
		} else
			add(d, ST_OK, "dockerd.default-runtime", "the running dockerd's default runtime is %s (%s)", def, path);
		return;
	}
	r = add(d, ST_FAIL, "dockerd.default-runtime", "the running dockerd's default runtime is %s (%s), not runwarden: containers start without it",
		def ? def : "unknown", path ? path : "?");
	fix(r, "runwarden install --docker (or set \"default-runtime\" to a runtime whose path is %s in daemon.json), then restart dockerd",
	    d->self[0] ? d->self : "runwarden");
}

static bool dockerd_installed(void)
{
	static const char *const dirs[] = { "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin", NULL };
	char p[64];
	size_t i;

	for (i = 0; dirs[i]; i++) {
		snprintf(p, sizeof(p), "%s/dockerd", dirs[i]);
		if (access(p, X_OK) == 0)
			return true;
	}
	return false;
}

static void check_daemon_json(struct doctor *d)
{
	const char *path = d->daemon_json;
	cleanup_free char *buf = NULL;
	cleanup_json struct json *j = NULL;
	cleanup_error rw_error_t err = NULL;
	const struct json *rts, *def;
	const char *defname = NULL, *defpath = NULL;
	struct result *r;
	size_t len;
	int v, fl;
	const char *restart = d->dpid || d->docker_up ? ", then restart dockerd" : "";

	if (path == NULL && d->dargv)
		path = rw_argv_flag(d->dargv, d->dargc, "--config-file", NULL, 0);
	if (path == NULL)
		path = "/etc/docker/daemon.json";
	if (rw_read_file(path, 1 << 22, &buf, &len, &err) < 0) {
		if (!d->docker_up && !d->dpid && err && err->errno_ == ENOENT && !dockerd_installed()) {
			add(d, ST_SKIP, "daemon.json", "%s does not exist, and neither dockerd nor a running Docker is here", path);
			return;
		}
		r = add(d, ST_FAIL, "daemon.json.default-runtime", "%s", err ? err->msg : path);
		fix(r, "runwarden install --docker writes it (runtimes.runwarden and \"default-runtime\": \"runwarden\")%s", restart);
		if (err && err->errno_ == ENOENT) {
			/* dockerd's defaults apply */
			r = add(d, ST_WARN, "daemon.json.live-restore", "not set (dockerd's default: off): restarting dockerd stops every container");
			fix(r, "set \"live-restore\": true in %s%s", path, restart);
			r = add(d, ST_WARN, "daemon.json.userland-proxy", "not set (dockerd's default: on): docker-proxy runs as root for each published port");
			fix(r, "set \"userland-proxy\": false in %s%s", path, restart);
			r = add(d, ST_WARN, "daemon.json.no-new-privileges", "not set: containers that bypass runwarden may gain privileges through setuid binaries");
			fix(r, "set \"no-new-privileges\": true in %s%s", path, restart);
		}
		return;
	}
	if (json_parse(buf, len, 0, path, &j, &err) < 0 || j->type != JSON_OBJECT) {
		r = add(d, ST_FAIL, "daemon.json.default-runtime", "%s", err ? err->msg : "daemon.json is not a JSON object");
		fix(r, "correct %s (dockerd refuses to start with it)", path);
		return;
	}
	rts = json_get(j, "runtimes");
	def = json_get(j, "default-runtime");
	defname = jstr(def);
	if (defname && rts && rts->type == JSON_OBJECT) {
		const struct json *e = json_get(rts, defname);
		defpath = e ? jstr(json_get(e, "path")) : NULL;
	}
	if (defname && is_runwarden(d, defpath))
		add(d, ST_OK, "daemon.json.default-runtime", "%s: \"default-runtime\": \"%s\" (%s)", path, defname, defpath);
	else {
		if (defname == NULL)
			r = add(d, ST_FAIL, "daemon.json.default-runtime", "%s sets no \"default-runtime\": dockerd uses runc", path);
		else if (defpath == NULL)
			r = add(d, ST_FAIL, "daemon.json.default-runtime", "%s: \"default-runtime\": \"%s\" is not one of its \"runtimes\"%s",
				path, defname, strcmp(defname, "runc") == 0 ? " (dockerd's own runc)" : "");
		else
			r = add(d, ST_FAIL, "daemon.json.default-runtime", "%s: \"default-runtime\": \"%s\" is %s, not runwarden", path,
				defname, defpath);
		fix(r, "runwarden install --docker (or add \"runtimes\": {\"runwarden\": {\"path\": \"%s\"}} and \"default-runtime\": \"runwarden\" to %s)%s",
		    d->self[0] ? d->self : "/usr/local/bin/runwarden", path, restart);
	}

	/* The seed's settings; a dockerd flag wins over the file. */
	v = jbool(j, "live-restore");
	if (d->dargv && (fl = rw_argv_flag_bool(d->dargv, d->dargc, "--live-restore")) >= 0)
		v = fl;
	if (v == 1)
		add(d, ST_OK, "daemon.json.live-restore", "live-restore is on: containers outlive a dockerd restart");
	else {
		r = add(d, ST_WARN, "daemon.json.live-restore", "live-restore is %s: restarting or upgrading dockerd stops every container",
			v == 0 ? "off" : "not set (off)");
		fix(r, "set \"live-restore\": true in %s%s", path, restart);
	}
	v = jbool(j, "userland-proxy");
	if (d->dargv && (fl = rw_argv_flag_bool(d->dargv, d->dargc, "--userland-proxy")) >= 0)
		v = fl;
	if (v == 0)
		add(d, ST_OK, "daemon.json.userland-proxy", "userland-proxy is off: published ports go through the kernel's NAT");
	else {
		r = add(d, ST_WARN, "daemon.json.userland-proxy",
			"userland-proxy is %s: a docker-proxy process runs as root on the host for each published port",
			v == 1 ? "on" : "not set (on)");
		fix(r, "set \"userland-proxy\": false in %s%s", path, restart);
	}
	v = jbool(j, "no-new-privileges");
	if (d->dargv && (fl = rw_argv_flag_bool(d->dargv, d->dargc, "--no-new-privileges")) >= 0)
		v = fl;
	if (v == 1)
		add(d, ST_OK, "daemon.json.no-new-privileges", "no-new-privileges is on for every container");
	else {
		r = add(d, ST_WARN, "daemon.json.no-new-privileges",
			"no-new-privileges is %s: runwarden sets it for its tenant containers, but not for containers that bypass it",
			v == 0 ? "off" : "not set");
		fix(r, "set \"no-new-privileges\": true in %s%s", path, restart);
	}
}

/* Runtimes dockerd offers besides runwarden: `docker run --runtime X` picks one. */
static void check_runtime_bypass(struct doctor *d)
{
	const struct json *rts = d->info ? json_get(d->info, "Runtimes") : NULL;
	char builtin[1024] = "", extra[1024] = "";
	struct result *r;
	size_t i;

	if (!d->docker_up || rts == NULL || rts->type != JSON_OBJECT) {
		add(d, ST_SKIP, "bypass.runtime", "dockerd is not reachable");
		return;
	}
	for (i = 0; i < rts->u.obj.n; i++) {
		const char *name = rts->u.obj.m[i].key;
		const char *p = jstr(json_get(rts->u.obj.m[i].val, "path"));
		bool is_builtin = strcmp(name, "runc") == 0 || strncmp(name, "io.containerd.", 14) == 0;
		char *dst;
		size_t used;

		if (p == NULL)
			p = jstr(json_get(rts->u.obj.m[i].val, "Path"));
		if (is_runwarden(d, p))
			continue;
		dst = is_builtin ? builtin : extra;
		used = strlen(dst);
		snprintf(dst + used, sizeof(builtin) - used, "%s%s", used ? ", " : "", name);
	}
	if (extra[0]) {
		r = add(d, ST_WARN, "bypass.runtime", "runtimes other than runwarden are configured (%s)%s%s: `docker run --runtime NAME` skips runwarden",
			extra, builtin[0] ? ", and dockerd's built-in " : "", builtin);
		fix(r, "remove %s from daemon.json's \"runtimes\" (reach them through the policy's delegates instead); dockerd's "
		       "built-in runc cannot be removed: give tenants no access to the Docker API",
		    extra);
	} else if (builtin[0]) {
		r = add(d, ST_WARN, "bypass.runtime", "dockerd's built-in runtimes stay available (%s): `docker run --runtime runc` skips runwarden for anyone who can reach the Docker API",
			builtin);
		fix(r, "dockerd cannot remove its runc: give tenants no access to the Docker socket or API (only the platform's own "
		       "API), and keep `runwarden doctor` or its containers check running to see containers that bypassed runwarden");
	} else
		add(d, ST_OK, "bypass.runtime", "dockerd offers no runtime but runwarden");
}

/* BuildKit's RUN steps: runc, unless dockerd's environment names another. */
static void check_buildkit(struct doctor *d)
{
	char p[64];
	cleanup_free char *buf = NULL;
	cleanup_error rw_error_t err = NULL;
	const char *val = NULL;
	struct result *r;
	size_t len = 0, i = 0;
	int fd;
	static const char key[] = "DOCKER_BUILDKIT_RUNC_COMMAND=";

	if (d->dpid == 0) {
		if (!d->docker_up) {
			add(d, ST_SKIP, "bypass.buildkit", "no dockerd found");
			return;
		}
		r = add(d, ST_WARN, "bypass.buildkit", "dockerd's process is not visible here: cannot tell which runtime BuildKit's RUN steps use");
		fix(r, "run runwarden doctor as root on the node, in the host's pid namespace, or give --dockerd-pid PID");
		return;
	}
	snprintf(p, sizeof(p), "/proc/%d/environ", (int)d->dpid);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || rw_read_fd(fd, p, 1 << 22, &buf, &len, &err) < 0) {
		if (fd >= 0)
			close(fd);
		r = add(d, ST_WARN, "bypass.buildkit", "%s: %s", p, err ? err->msg : strerror(errno));
		fix(r, "run runwarden doctor as root");
		return;
	}
	close(fd);
	while (i < len) {
		size_t l = strnlen(buf + i, len - i);
		if (l >= sizeof(key) - 1 && memcmp(buf + i, key, sizeof(key) - 1) == 0 && i + l < len)
			val = buf + i + sizeof(key) - 1;
		i += l + 1;
	}
	if (val && is_runwarden(d, val)) {
		add(d, ST_OK, "bypass.buildkit", "dockerd's environment sets DOCKER_BUILDKIT_RUNC_COMMAND=%s: BuildKit's RUN steps go through runwarden", val);
		return;
	}
	if (val && *val)
		r = add(d, ST_WARN, "bypass.buildkit", "dockerd's environment sets DOCKER_BUILDKIT_RUNC_COMMAND=%s, not runwarden: BuildKit's RUN steps (docker build) skip runwarden", val);
	else
		r = add(d, ST_WARN, "bypass.buildkit", "dockerd's environment has no DOCKER_BUILDKIT_RUNC_COMMAND: BuildKit's RUN steps (docker build) run on runc, without runwarden");
	fix(r, "systemctl edit docker: [Service] Environment=DOCKER_BUILDKIT_RUNC_COMMAND=%s, then systemctl restart docker (or build no tenant Dockerfiles on this node)",
	    d->self[0] ? d->self : "/usr/local/bin/runwarden");
}

/* Running containers on a runtime that is not runwarden. */
static void check_containers(struct doctor *d)
{
	char *argv[5];
	char **iargv = NULL;
	size_t in = 0, total = 0, bad = 0;
	char why[1024];
	char *list = NULL;
	size_t list_len = 0;
	struct child c;
	struct result *r;
	char *line, *save = NULL;
	FILE *f;

	if (!d->docker_up) {
		add(d, ST_SKIP, "containers", "dockerd is not reachable");
		return;
	}
	docker_argv(d, argv, "ps", "-q", "--no-trunc");
	run_child(argv, d->timeout_ms, &c);
	if (!child_ok(&c)) {
		r = add(d, ST_WARN, "containers", "docker ps failed: %s", child_why(&c, why, sizeof(why)));
		fix(r, "check dockerd (docker ps)");
		child_release(&c);
		return;
	}
	if (rw_strv_push(&iargv, &in, strdup(d->docker)) < 0 || rw_strv_push(&iargv, &in, strdup("inspect")) < 0 ||
	    rw_strv_push(&iargv, &in, strdup("--format")) < 0 ||
	    rw_strv_push(&iargv, &in, strdup("{{.Name}}\t{{.HostConfig.Runtime}}")) < 0) {
		d->oom = true;
		child_release(&c);
		rw_strv_free(&iargv, &in);
		return;
	}
	for (line = strtok_r(c.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (*line && rw_strv_push(&iargv, &in, strdup(line)) < 0) {
			d->oom = true;
			break;
		}
	child_release(&c);
	if (in == 4) {
		rw_strv_free(&iargv, &in);
		add(d, ST_OK, "containers", "no container is running");
		return;
	}
	run_child(iargv, d->timeout_ms, &c);
	rw_strv_free(&iargv, &in);
	if (!child_ok(&c) && c.out_len == 0) {
		r = add(d, ST_WARN, "containers", "docker inspect failed: %s", child_why(&c, why, sizeof(why)));
		fix(r, "check dockerd (docker inspect)");
		child_release(&c);
		return;
	}
	f = open_memstream(&list, &list_len);
	if (f == NULL) {
		d->oom = true;
		child_release(&c);
		return;
	}
	save = NULL;
	for (line = strtok_r(c.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(line, '\t');
		const char *name = line[0] == '/' ? line + 1 : line, *rt;
		if (tab == NULL)
			continue;
		*tab = '\0';
		rt = tab + 1;
		total++;
		if (is_runwarden(d, runtime_path(d, rt)))
			continue;
		/* docker info lists the runtimes it knows; a container keeps the name it was created with */
		fprintf(f, "%s%s (%s)", bad ? ", " : "", name, *rt ? rt : "runc");
		bad++;
	}
	fclose(f);
	child_release(&c);
	if (bad == 0)
		add(d, ST_OK, "containers", "all %zu running container%s started through runwarden", total, total == 1 ? "" : "s");
	else {
		r = add(d, ST_FAIL, "containers", "%zu of %zu running container%s did not start through runwarden: %s", bad, total,
			total == 1 ? "" : "s", list ? list : "");
		fix(r, "recreate them (docker rm -f, then run again without --runtime) so they start on runwarden; node services "
		       "that need the host's runc keep it through a \"trusted\" rule of the policy");
	}
	free(list);
}

/* ---- output ---- */

static void print_text(const struct doctor *d)
{
	size_t i, counts[4] = { 0 };

	for (i = 0; i < d->n; i++) {
		const struct result *r = &d->r[i];
		char tag[8];
		snprintf(tag, sizeof(tag), "[%s]", status_name[r->st]);
		printf("%-6s %s: %s\n", tag, r->check, r->message);
		if (r->fix && r->st != ST_OK)
			printf("       fix: %s\n", r->fix);
		counts[r->st]++;
	}
	printf("\n%zu OK, %zu WARN, %zu FAIL, %zu SKIP\n", counts[ST_OK], counts[ST_WARN], counts[ST_FAIL], counts[ST_SKIP]);
}

static int print_json(const struct doctor *d, rw_error_t *err)
{
	struct json_buf b = { 0 };
	size_t i;

	fputs("[", stdout);
	for (i = 0; i < d->n; i++) {
		const struct result *r = &d->r[i];
		struct json *o = json_new(JSON_OBJECT);
		if (o == NULL ||
		    json_set(o, "check", json_new_string(r->check), err) < 0 ||
		    json_set(o, "status", json_new_string(status_name[r->st]), err) < 0 ||
		    json_set(o, "message", json_new_string(r->message), err) < 0 ||
		    json_set(o, "fix", r->fix && r->st != ST_OK ? json_new_string(r->fix) : json_new(JSON_NULL), err) < 0 ||
		    json_emit(o, &b, err) < 0) {
			json_free(o);
			free(b.p);
			return rw_error(err, ENOMEM, "doctor --json");
		}
		json_free(o);
		printf("%s\n%s", i ? "," : "", b.p);
		free(b.p);
		b.p = NULL;
		b.len = b.cap = 0;
	}
	fputs("\n]\n", stdout);
	return 0;
}

static const char usage[] =
	"usage: runwarden doctor [--json] [--daemon-json PATH] [--dockerd-pid PID] [--docker PATH] [--timeout SECONDS]";

int rw_doctor_main(int argc, char **argv, rw_error_t *err)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "daemon-json", required_argument, NULL, 'd' },
		{ "dockerd-pid", required_argument, NULL, 'p' },
		{ "docker", required_argument, NULL, 'D' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct doctor d;
	size_t i;
	int c, fails = 0, ret = 0;
	char *end;
	long v;

	memset(&d, 0, sizeof(d));
	d.docker = "docker";
	d.timeout_ms = 10000;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			d.json = true;
			break;
		case 'd':
			d.daemon_json = optarg;
			break;
		case 'p':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v <= 0 || v > INT_MAX)
				return rw_error(err, 0, "doctor: --dockerd-pid: not a pid: \"%s\"", optarg);
			d.dockerd_pid = v;
			break;
		case 'D':
			if (*optarg == '\0')
				return rw_error(err, 0, "doctor: --docker: empty path");
			d.docker = optarg;
			break;
		case 't':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v <= 0 || v > 3600)
				return rw_error(err, 0, "doctor: --timeout: seconds, 1 to 3600: \"%s\"", optarg);
			d.timeout_ms = (int)v * 1000;
			break;
		case 'h':
			printf("%s\n", usage);
			return 0;
		default:
			return rw_error(err, 0, "doctor: unknown or incomplete option \"%s\"\n%s",
					optind > 0 && optind <= argc ? argv[optind - 1] : "?", usage);
		}
	}
	if (optind < argc)
		return rw_error(err, 0, "doctor: unexpected \"%s\"\n%s", argv[optind], usage);

	self_path(&d);
	add(&d, ST_OK, "runwarden", "runwarden %s (commit %s) at %s", PACKAGE_VERSION, RW_COMMIT, d.self[0] ? d.self : "?");
	check_policy(&d);
	check_delegates(&d);
	check_docker(&d);
	check_dockerd_runtime(&d);
	check_daemon_json(&d);
	check_cgroups(&d);
	check_nftables(&d);
	check_bpf(&d);
	check_sentry(&d);
	check_runtime_bypass(&d);
	check_buildkit(&d);
	check_containers(&d);

	if (d.oom)
		ret = rw_error(err, ENOMEM, "doctor");
	else {
		for (i = 0; i < d.n; i++)
			fails += d.r[i].st == ST_FAIL;
		if (d.json)
			ret = print_json(&d, err) < 0 ? -1 : 0;
		else
			print_text(&d);
		if (ret == 0)
			ret = fails ? 1 : 0;
	}
	fflush(stdout);
	for (i = 0; i < d.n; i++) {
		free(d.r[i].check);
		free(d.r[i].message);
		free(d.r[i].fix);
	}
	free(d.r);
	if (d.pol_ok)
		rw_policy_release(&d.pol);
	rw_strv_free(&d.dargv, &d.dargc);
	json_free(d.info);
	return ret;
}
