#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cgroups/cgroup.h"
#include "shim/fileio.h"

/* One line of text[0..len) at *pos: [*line, *line + *n). 0 at the end. */
static int next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *n)
{
	const char *nl;

	if (*pos >= len)
		return 0;
	*line = text + *pos;
	nl = memchr(*line, '\n', len - *pos);
	*n = nl ? (size_t)(nl - *line) : len - *pos;
	*pos += *n + 1;
	return 1;
}

/* The idx-th space-separated field of line (0-based). */
static int field(const char *line, size_t n, unsigned idx, const char **f, size_t *fn)
{
	size_t i = 0, start;
	unsigned k = 0;

	for (;;) {
		while (i < n && line[i] == ' ')
			i++;
		if (i >= n)
			return 0;
		start = i;
		while (i < n && line[i] != ' ')
			i++;
		if (k++ == idx) {
			*f = line + start;
			*fn = i - start;
			return 1;
		}
	}
}

/* A comma-separated list holds word. */
static bool list_has(const char *list, size_t n, const char *word)
{
	size_t wl = strlen(word), i = 0;

	while (i <= n) {
		size_t j = i;
		while (j < n && list[j] != ',')
			j++;
		if (j - i == wl && memcmp(list + i, word, wl) == 0)
			return true;
		i = j + 1;
	}
	return false;
}

/* A path field: absolute, no NUL, fits. */
static int copy_field(char *out, size_t size, const char *s, size_t n)
{
	if (n >= size || n == 0 || s[0] != '/' || memchr(s, 0, n))
		return -1;
	memcpy(out, s, n);
	out[n] = 0;
	return 0;
}

int rw_cg_parse_mountinfo(const char *text, size_t len, struct rw_cg_host *h)
{
	size_t pos = 0, n;
	const char *line;

	memset(h, 0, sizeof(*h));
	/* 36 35 98:0 / /sys/fs/cgroup/cpu rw,relatime shared:7 - cgroup cgroup rw,cpu */
	while (next_line(text, len, &pos, &line, &n)) {
		const char *sep = NULL, *mnt, *fs, *opts;
		size_t mn, fsn, on, i;

		for (i = 0; i + 3 <= n; i++)
			if (memcmp(line + i, " - ", 3) == 0) {
				sep = line + i + 3;
				break;
			}
		if (sep == NULL || !field(line, n, 4, &mnt, &mn))
			continue;
		if (!field(sep, (size_t)(line + n - sep), 0, &fs, &fsn))
			continue;
		if (fsn == 7 && memcmp(fs, "cgroup2", 7) == 0) {
			if (h->unified_mount[0] == 0)
				copy_field(h->unified_mount, sizeof(h->unified_mount), mnt, mn);
			continue;
		}
		if (fsn != 6 || memcmp(fs, "cgroup", 6) != 0 ||
		    !field(sep, (size_t)(line + n - sep), 2, &opts, &on))
			continue;
		if (list_has(opts, on, "cpu") && !h->cpu_v1 &&
		    copy_field(h->cpu_mount, sizeof(h->cpu_mount), mnt, mn) == 0)
			h->cpu_v1 = true;
		if (list_has(opts, on, "freezer") && h->freezer_mount[0] == 0)
			copy_field(h->freezer_mount, sizeof(h->freezer_mount), mnt, mn);
	}
	if (!h->cpu_v1) {
		if (h->unified_mount[0] == 0)
			return -1;
		memcpy(h->cpu_mount, h->unified_mount, sizeof(h->cpu_mount));
	}
	return 0;
}

int rw_cg_host_detect(struct rw_cg_host *h, rw_error_t *err)
{
	cleanup_free char *text = NULL;
	size_t len;

	if (rw_read_file("/proc/self/mountinfo", 1 << 22, &text, &len, err) < 0)
		return -1;
	if (rw_cg_parse_mountinfo(text, len, h) < 0)
		return rw_error(err, 0, "no cgroup hierarchy with the cpu controller, and no cgroup2, is mounted");
	return 0;
}

int rw_cg_parse_proc_cgroup(const char *text, size_t len, const char *controller, char *out, size_t size)
{
	size_t pos = 0, n;
	const char *line;

	/* hierarchy-id:controller-list:path; cgroup2 is "0::path" */
	while (next_line(text, len, &pos, &line, &n)) {
		const char *c1 = memchr(line, ':', n), *c2;
		if (c1 == NULL)
			continue;
		c2 = memchr(c1 + 1, ':', (size_t)(line + n - c1 - 1));
		if (c2 == NULL)
			continue;
		if (controller == NULL ? (c1 - line == 1 && line[0] == '0' && c2 == c1 + 1)
				       : list_has(c1 + 1, (size_t)(c2 - c1 - 1), controller)) {
			size_t pn = (size_t)(line + n - c2 - 1);
			if (pn == 0 || c2[1] != '/' || copy_field(out, size, c2 + 1, pn) < 0)
				return -1;
			/* " (deleted)" is appended once the cgroup is gone */
			return strstr(out, "..") ? -1 : 1;
		}
	}
	return 0;
}

int rw_cg_of_pid(const struct rw_cg_host *h, pid_t pid, char *cpu_dir, size_t cpu_size,
		 char *freezer_dir, size_t freezer_size, rw_error_t *err)
{
	cleanup_free char *text = NULL;
	char proc[64], path[PATH_MAX];
	size_t len;
	int r;

	snprintf(proc, sizeof(proc), "/proc/%d/cgroup", (int)pid);
	if (rw_read_file(proc, 1 << 16, &text, &len, err) < 0)
		return -1;
	r = rw_cg_parse_proc_cgroup(text, len, h->cpu_v1 ? "cpu" : NULL, path, sizeof(path));
	if (r <= 0)
		return rw_error(err, 0, "%s: no %s cgroup", proc, h->cpu_v1 ? "cpu" : "cgroup2");
	if ((size_t)snprintf(cpu_dir, cpu_size, "%s%s", h->cpu_mount, strcmp(path, "/") ? path : "") >= cpu_size)
		return rw_error(err, ENAMETOOLONG, "%s", path);
	freezer_dir[0] = 0;
	if (h->freezer_mount[0]) {
		if (rw_cg_parse_proc_cgroup(text, len, "freezer", path, sizeof(path)) == 1)
			snprintf(freezer_dir, freezer_size, "%s%s", h->freezer_mount, strcmp(path, "/") ? path : "");
	} else if (h->unified_mount[0] &&
		   rw_cg_parse_proc_cgroup(text, len, NULL, path, sizeof(path)) == 1) {
		snprintf(freezer_dir, freezer_size, "%s%s", h->unified_mount, strcmp(path, "/") ? path : "");
	}
	return 0;
}

int rw_cg_id(const char *dir, uint64_t *id, rw_error_t *err)
{
	struct {
		struct file_handle fh;
		unsigned char buf[64];
	} h;
	int mount_id;

	h.fh.handle_bytes = sizeof(h.buf);
	if (name_to_handle_at(AT_FDCWD, dir, &h.fh, &mount_id, 0) < 0)
		return rw_error(err, errno, "cgroup id of %s", dir);
	if (h.fh.handle_bytes < sizeof(*id))
		return rw_error(err, 0, "cgroup id of %s: a %u-byte handle", dir, h.fh.handle_bytes);
	memcpy(id, h.fh.f_handle, sizeof(*id));
	return 0;
}

static bool parse_u64(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;

	if (n == 0 || n > 20)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (x > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return false;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	*v = x;
	return true;
}

int rw_cg_parse_cpu_stat(const char *text, size_t len, struct rw_cg_cpu *c)
{
	size_t pos = 0, n, kn, vn;
	const char *line, *k, *v;
	bool periods = false;
	uint64_t x;

	while (next_line(text, len, &pos, &line, &n)) {
		if (!field(line, n, 0, &k, &kn) || !field(line, n, 1, &v, &vn) || !parse_u64(v, vn, &x))
			continue;
#define KEY(s) (kn == sizeof(s) - 1 && memcmp(k, s, kn) == 0)
		if (KEY("nr_periods")) {
			c->nr_periods = x;
			periods = true;
		} else if (KEY("nr_throttled"))
			c->nr_throttled = x;
		else if (KEY("throttled_time"))
			c->throttled_ns = x;
		else if (KEY("throttled_usec"))
			c->throttled_ns = x > UINT64_MAX / 1000 ? UINT64_MAX : x * 1000;
#undef KEY
	}
	return periods ? 0 : -1;
}

int rw_cg_parse_cpu_max(const char *text, size_t len, struct rw_cg_cpu *c)
{
	const char *q, *p;
	size_t qn, pn, n = len;
	uint64_t x;

	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
		n--;
	if (!field(text, n, 0, &q, &qn) || !field(text, n, 1, &p, &pn) || !parse_u64(p, pn, &c->period_us) ||
	    c->period_us == 0)
		return -1;
	if (qn == 3 && memcmp(q, "max", 3) == 0)
		c->quota_us = -1;
	else if (parse_u64(q, qn, &x) && x <= INT64_MAX)
		c->quota_us = (int64_t)x;
	else
		return -1;
	return 0;
}

/* A small cgroup file through dirfd, NUL-terminated. -1 with errno. */
static ssize_t read_small(int dirfd, const char *name, char *buf, size_t size)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return n;
}

int rw_cg_read_cpu(int dirfd, bool v1, bool limits, struct rw_cg_cpu *c)
{
	char buf[1024];
	ssize_t n;
	uint64_t x;

	c->nr_periods = c->nr_throttled = c->throttled_ns = 0;
	if ((n = read_small(dirfd, "cpu.stat", buf, sizeof(buf))) < 0)
		return -1;
	rw_cg_parse_cpu_stat(buf, (size_t)n, c);
	if (!limits)
		return 0;
	c->quota_us = -1;
	c->period_us = 100000;
	if (!v1) {
		/* The root cgroup has no cpu.max: no quota. */
		if ((n = read_small(dirfd, "cpu.max", buf, sizeof(buf))) >= 0)
			rw_cg_parse_cpu_max(buf, (size_t)n, c);
		return 0;
	}
	if ((n = read_small(dirfd, "cpu.cfs_period_us", buf, sizeof(buf))) >= 0 &&
	    parse_u64(buf, strcspn(buf, "\n"), &x) && x > 0)
		c->period_us = x;
	if ((n = read_small(dirfd, "cpu.cfs_quota_us", buf, sizeof(buf))) >= 0 && buf[0] != '-' &&
	    parse_u64(buf, strcspn(buf, "\n"), &x) && x <= INT64_MAX)
		c->quota_us = (int64_t)x;
	return 0;
}

static int write_at(const char *dir, const char *name, const char *val, rw_error_t *err)
{
	char path[PATH_MAX];
	cleanup_close int fd = -1;
	size_t n = strlen(val);

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return rw_error(err, ENAMETOOLONG, "%s", dir);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return rw_error(err, errno, "open %s", path);
	if (write(fd, val, n) != (ssize_t)n)
		return rw_error(err, errno, "write %s", path);
	return 0;
}

int rw_cg_freeze(const char *freezer_dir, bool v1, bool freeze, rw_error_t *err)
{
	char path[PATH_MAX], buf[64];
	int tries;

	if (freezer_dir == NULL || freezer_dir[0] == 0)
		return rw_error(err, 0, "no freezer cgroup");
	if (!v1)
		return write_at(freezer_dir, "cgroup.freeze", freeze ? "1" : "0", err);
	if (write_at(freezer_dir, "freezer.state", freeze ? "FROZEN" : "THAWED", err) < 0)
		return -1;
	if (!freeze)
		return 0;
	/* v1 reports FREEZING until every task has stopped: wait a little. */
	snprintf(path, sizeof(path), "%s/freezer.state", freezer_dir);
	for (tries = 0; tries < 200; tries++) {
		cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = 0;
			if (strncmp(buf, "FROZEN", 6) == 0)
				return 0;
		}
		nanosleep(&(struct timespec){ 0, 5 * 1000 * 1000 }, NULL);
	}
	return rw_error(err, EBUSY, "%s stays FREEZING", path);
}

int rw_cg_kill(const char *cpu_dir, const char *freezer_dir, bool freezer_v1, rw_error_t *err)
{
	char path[PATH_MAX];
	cleanup_free char *procs = NULL;
	size_t len;
	int rounds, r = 0;

	if (!freezer_v1 && freezer_dir && freezer_dir[0]) {
		snprintf(path, sizeof(path), "%s/cgroup.kill", freezer_dir);
		if (access(path, W_OK) == 0)
			return write_at(freezer_dir, "cgroup.kill", "1", err);
	}
	/* Freeze, kill every pid listed, thaw: repeated while pids remain (a
	 * frozen task cannot fork, so one round normally suffices). */
	for (rounds = 0; rounds < 10; rounds++) {
		bool any = false;
		char *p;
		bool frozen = freezer_dir && freezer_dir[0] && rw_cg_freeze(freezer_dir, freezer_v1, true, NULL) == 0;

		snprintf(path, sizeof(path), "%s/cgroup.procs", cpu_dir);
		free(procs);
		procs = NULL;
		if (rw_read_file(path, 1 << 22, &procs, &len, err) < 0)
			return -1;
		for (p = procs; p < procs + len;) {
			char *end;
			long pid = strtol(p, &end, 10);
			if (end == p)
				break;
			/* a container's processes: never the host's init */
			if (pid > 1) {
				if (kill((pid_t)pid, SIGKILL) < 0 && errno != ESRCH)
					r = rw_error(err, errno, "kill %ld", pid);
				any = true;
			}
			p = end;
		}
		if (frozen)
			rw_cg_freeze(freezer_dir, freezer_v1, false, NULL);
		if (!any || r < 0)
			break;
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	}
	return r;
}
