/* runwarden install --docker / uninstall --docker.
 *
 * daemon.json is edited as text: it is parsed (to validate it and to find
 * the byte offsets of the members) and then only two spots change, the value
 * of "default-runtime" and the member "runtimes"."NAME"; every other byte of
 * the file stays as it was. Each change is one splice, made so that its
 * inverse (uninstall) gives back the exact bytes:
 *   - a member added to an object with members goes before the first one,
 *     followed by "," and the whitespace that preceded that first member;
 *     removing [key of the member, key of the next member) undoes it;
 *   - a member added to an empty object goes right after its "{";
 *     removing [key, end of value) undoes it;
 *   - a value replaced is remembered as its source text and put back.
 * A root object without members (or a missing or blank file) is replaced by
 * a pretty document; its original text is remembered.
 *
 * Beside daemon.json (after symlinks are resolved):
 *   daemon.json.runwarden-backup  the file as it was before the first
 *                                 install (same mode and owner), kept after
 *                                 uninstall for the operator;
 *   daemon.json.runwarden-state   what install changed (below), written
 *                                 before daemon.json is replaced, removed
 *                                 by uninstall.
 * The state is a JSON object: "name" (the runtime's name), "path",
 * "file_created", "runtimes_created", "default_runtime" (the source text of
 * the previous value; absent: there was none), "runtime_entry" (the
 * previous runtimes.NAME value's source text; absent: none), "root_text"
 * (the whole file when its root object had no members).
 * Installs and uninstalls of the same directory are serialised by flock(2)
 * on the directory. */
#include "config.h"

#include "shim/install.h"
#include "shim/fileio.h"
#include "shim/json.h"
#include "shim/proc.h"
#include "shim/strv.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <poll.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define DAEMON_JSON_DEFAULT "/etc/docker/daemon.json"
#define DAEMON_JSON_MAX (4u << 20)

struct install_opts {
	bool uninstall, docker, no_reload;
	const char *daemon_json, *path, *name;
	char **args;
	size_t nargs;
	pid_t pid;
};

/* A growable byte string. */
struct sbuf {
	char *p;
	size_t len, cap;
};

static void sbuf_free(struct sbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static int sbuf_addn(struct sbuf *b, const char *s, size_t n, rw_error_t *err)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *np;
		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (np == NULL)
			return rw_error(err, ENOMEM, "out of memory");
		b->p = np;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int sbuf_add(struct sbuf *b, const char *s, rw_error_t *err)
{
	return sbuf_addn(b, s, strlen(s), err);
}

/* s as a JSON string literal. */
static int sbuf_add_jstr(struct sbuf *b, const char *s, size_t n, rw_error_t *err)
{
	size_t i;

	if (sbuf_add(b, "\"", err) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			esc[2] = '\0';
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof esc, "\\u%04x", c);
		} else {
			esc[0] = (char)c;
			esc[1] = '\0';
		}
		if (sbuf_add(b, esc, err) < 0)
			return -1;
	}
	return sbuf_add(b, "\"", err);
}

/* The offset just past the value that starts at off in validated JSON. */
static size_t value_end(const char *s, size_t len, size_t off)
{
	size_t i = off, depth = 0;

	if (i >= len)
		return len;
	if (s[i] == '"') {
		for (i++; i < len; i++) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				return i + 1;
		}
		return len;
	}
	if (s[i] == '{' || s[i] == '[') {
		for (; i < len; i++) {
			char c = s[i];
			if (c == '"') {
				i = value_end(s, len, i) - 1;
			} else if (c == '{' || c == '[') {
				depth++;
			} else if (c == '}' || c == ']') {
				if (--depth == 0)
					return i + 1;
			}
		}
		return len;
	}
	while (i < len && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' &&
	       s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
		i++;
	return i;
}

/* Index of the last member named key (the one dockerd's decoder keeps), or -1. */
static ssize_t member_index(const struct json *obj, const char *key)
{
	size_t i;

	for (i = obj->u.obj.n; i-- > 0;)
		if (obj->u.obj.m[i].klen == strlen(key) && memcmp(obj->u.obj.m[i].key, key, obj->u.obj.m[i].klen) == 0)
			return (ssize_t)i;
	return -1;
}

/* text[start..end) replaced by rep. */
static int text_splice(struct sbuf *text, size_t start, size_t end, const char *rep, size_t replen, rw_error_t *err)
{
	struct sbuf nb = { 0 };

	if (sbuf_addn(&nb, text->p, start, err) < 0 || sbuf_addn(&nb, rep, replen, err) < 0 ||
	    sbuf_addn(&nb, text->p + end, text->len - end, err) < 0) {
		sbuf_free(&nb);
		return -1;
	}
	sbuf_free(text);
	*text = nb;
	return 0;
}

/* Adds the member "key": value (value: JSON text) to obj (see the top). */
static int insert_member(struct sbuf *text, const struct json *obj, const char *key, const char *value,
			 rw_error_t *err)
{
	struct sbuf m = { 0 };
	size_t pos;
	int r;

	if (sbuf_add_jstr(&m, key, strlen(key), err) < 0 || sbuf_add(&m, ": ", err) < 0 ||
	    sbuf_add(&m, value, err) < 0)
		goto fail;
	if (obj->u.obj.n > 0) {
		pos = obj->u.obj.m[0].koff;
		if (sbuf_add(&m, ",", err) < 0 ||
		    sbuf_addn(&m, text->p + obj->off + 1, pos - obj->off - 1, err) < 0)
			goto fail;
	} else {
		pos = obj->off + 1;
	}
	r = text_splice(text, pos, pos, m.p, m.len, err);
	sbuf_free(&m);
	return r;
fail:
	sbuf_free(&m);
	return -1;
}

/* Removes member i of obj (see the top). */
static int remove_member(struct sbuf *text, const struct json *obj, size_t i, rw_error_t *err)
{
	const struct json_member *m = obj->u.obj.m;
	size_t n = obj->u.obj.n;

	if (i + 1 < n)
		return text_splice(text, m[i].koff, m[i + 1].koff, "", 0, err);
	if (i > 0)
		return text_splice(text, value_end(text->p, text->len, m[i - 1].val->off),
			      value_end(text->p, text->len, m[i].val->off), "", 0, err);
	return text_splice(text, m[i].koff, value_end(text->p, text->len, m[i].val->off), "", 0, err);
}

/* Replaces the value of member i of obj by value (JSON text). */
static int replace_value(struct sbuf *text, const struct json *obj, size_t i, const char *value, rw_error_t *err)
{
	size_t off = obj->u.obj.m[i].val->off;

	return text_splice(text, off, value_end(text->p, text->len, off), value, strlen(value), err);
}

/* The source text of member i's value, malloc'd. */
static char *value_text(const struct sbuf *text, const struct json *obj, size_t i)
{
	size_t off = obj->u.obj.m[i].val->off;

	return strndup(text->p + off, value_end(text->p, text->len, off) - off);
}

/* key's value becomes value: replaced where obj has it (its old text kept in
 * *old for uninstall), else a new member. */
static int set_member(struct sbuf *text, const struct json *obj, const char *key, const char *value, char **old,
		      rw_error_t *err)
{
	ssize_t i = member_index(obj, key);

	if (i < 0)
		return insert_member(text, obj, key, value, err);
	if ((*old = value_text(text, obj, (size_t)i)) == NULL)
		return rw_error(err, ENOMEM, "install");
	return replace_value(text, obj, (size_t)i, value, err);
}

static bool blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

/* Parses text as daemon.json: a JSON object. */
static int parse_daemon_json(const struct sbuf *text, const char *name, struct json **out, rw_error_t *err)
{
	size_t line, col;

	if (json_parse(text->p, text->len, 0, name, out, err) < 0)
		return -1;
	if ((*out)->type != JSON_OBJECT) {
		json_line_col(text->p, text->len, (*out)->off, &line, &col);
		json_free(*out);
		*out = NULL;
		return rw_error(err, 0, "%s:%zu:%zu: not a JSON object: dockerd's daemon.json is one", name, line, col);
	}
	return 0;
}

static int not_object(const struct sbuf *text, const char *name, const struct json *v, const char *what,
		      rw_error_t *err)
{
	size_t line, col;

	json_line_col(text->p, text->len, v->off, &line, &col);
	return rw_error(err, 0, "%s:%zu:%zu: %s is not a JSON object; refusing to edit it", name, line, col, what);
}

/* The previous state (install's record), when there is one. */
struct state {
	bool present;
	char *name, *path;
	bool file_created, runtimes_created;
	char *default_runtime;      /* source text, NULL: absent */
	char *runtime_entry;        /* source text, NULL: absent */
	char *root_text;            /* NULL: none */
};

static void state_free(struct state *s)
{
	free(s->name);
	free(s->path);
	free(s->default_runtime);
	free(s->runtime_entry);
	free(s->root_text);
	memset(s, 0, sizeof *s);
}

static char *jstrdup(const struct json *j)
{
	return j && j->type == JSON_STRING ? strndup(j->u.str.s, j->u.str.len) : NULL;
}

static int read_state(const char *path, struct state *st, rw_error_t *err)
{
	cleanup_free char *buf = NULL;
	cleanup_json struct json *j = NULL;
	size_t len;

	memset(st, 0, sizeof *st);
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	if (rw_read_file(path, DAEMON_JSON_MAX, &buf, &len, err) < 0 ||
	    json_parse(buf, len, 0, path, &j, err) < 0)
		return -1;
	if (j->type != JSON_OBJECT || !json_get(j, "name") || json_get(j, "name")->type != JSON_STRING)
		return rw_error(err, 0, "%s: not runwarden's install state (remove it to start over)", path);
	st->present = true;
	st->name = jstrdup(json_get(j, "name"));
	st->path = jstrdup(json_get(j, "path"));
	st->file_created = json_get(j, "file_created") && json_get(j, "file_created")->type == JSON_TRUE;
	st->runtimes_created = json_get(j, "runtimes_created") && json_get(j, "runtimes_created")->type == JSON_TRUE;
	st->default_runtime = jstrdup(json_get(j, "default_runtime"));
	st->runtime_entry = jstrdup(json_get(j, "runtime_entry"));
	st->root_text = jstrdup(json_get(j, "root_text"));
	return 0;
}

static int state_text(const struct state *st, struct sbuf *out, rw_error_t *err)
{
	if (sbuf_add(out, "{\n  \"name\": ", err) < 0 || sbuf_add_jstr(out, st->name, strlen(st->name), err) < 0 ||
	    sbuf_add(out, ",\n  \"path\": ", err) < 0 || sbuf_add_jstr(out, st->path, strlen(st->path), err) < 0 ||
	    sbuf_add(out, ",\n  \"file_created\": ", err) < 0 || sbuf_add(out, st->file_created ? "true" : "false", err) < 0 ||
	    sbuf_add(out, ",\n  \"runtimes_created\": ", err) < 0 ||
	    sbuf_add(out, st->runtimes_created ? "true" : "false", err) < 0)
		return -1;
	if (st->default_runtime && (sbuf_add(out, ",\n  \"default_runtime\": ", err) < 0 ||
				    sbuf_add_jstr(out, st->default_runtime, strlen(st->default_runtime), err) < 0))
		return -1;
	if (st->runtime_entry && (sbuf_add(out, ",\n  \"runtime_entry\": ", err) < 0 ||
				  sbuf_add_jstr(out, st->runtime_entry, strlen(st->runtime_entry), err) < 0))
		return -1;
	if (st->root_text && (sbuf_add(out, ",\n  \"root_text\": ", err) < 0 ||
			      sbuf_add_jstr(out, st->root_text, strlen(st->root_text), err) < 0))
		return -1;
	return sbuf_add(out, "\n}\n", err);
}

static void usage(bool uninstall)
{
	if (uninstall)
		printf("usage: runwarden uninstall --docker [--daemon-json FILE] [--runtime-name NAME]\n"
		       "                           [--no-reload] [--pid PID]\n");
	else
		printf("usage: runwarden install --docker [--daemon-json FILE] [--path PATH] [--runtime-name NAME]\n"
		       "                         [--runtime-arg ARG]... [--no-reload] [--pid PID]\n");
	printf("  --docker            edit dockerd's daemon.json (the only engine install edits;\n"
	       "                      containerd, Kubernetes and podman: see contrib/)\n"
	       "  --daemon-json FILE  daemon.json to edit (%s; created when missing)\n", DAEMON_JSON_DEFAULT);
	if (!uninstall)
		printf("  --path PATH         runwarden's absolute path (this program's)\n"
		       "  --runtime-arg ARG   a runtimeArgs entry (repeatable), e.g. --network=none for runsc\n");
	printf("  --runtime-name NAME the runtime's name in daemon.json (runwarden)\n"
	       "  --no-reload         do not signal dockerd\n"
	       "  --pid PID           dockerd's pid (found through /proc by its --config-file)\n");
}

static bool valid_name(const char *s)
{
	size_t i;

	if (*s == '\0' || strcmp(s, "runc") == 0 || strncmp(s, "io.containerd.", 14) == 0)
		return false;
	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return false;
	return true;
}

static int parse_opts(int argc, char **argv, struct install_opts *o, bool *help, rw_error_t *err)
{
	static const struct option longopts[] = {
		{ "docker", no_argument, NULL, 'd' },
		{ "daemon-json", required_argument, NULL, 'j' },
		{ "path", required_argument, NULL, 'p' },
		{ "runtime-name", required_argument, NULL, 'n' },
		{ "runtime-arg", required_argument, NULL, 'a' },
		{ "no-reload", no_argument, NULL, 'R' },
		{ "pid", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *verb = o->uninstall ? "uninstall" : "install";
	int c;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': o->docker = true; break;
		case 'j': o->daemon_json = optarg; break;
		case 'p':
			if (o->uninstall)
				return rw_error(err, 0, "%s: --path is install's", verb);
			o->path = optarg;
			break;
		case 'n': o->name = optarg; break;
		case 'a': {
			char **na;
			if (o->uninstall)
				return rw_error(err, 0, "%s: --runtime-arg is install's", verb);
			na = realloc(o->args, (o->nargs + 1) * sizeof(*na));
			if (na == NULL)
				return rw_error(err, ENOMEM, "%s", verb);
			o->args = na;
			o->args[o->nargs++] = optarg;
			break;
		}
		case 'R': o->no_reload = true; break;
		case 'P': {
			char *end;
			long v;
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || v <= 0 || v > INT_MAX)
				return rw_error(err, 0, "%s: --pid %s: not a process id", verb, optarg);
			o->pid = (pid_t)v;
			break;
		}
		case 'h': *help = true; break;
		case ':':
			return rw_error(err, 0, "%s: %s needs a value", verb, argv[optind - 1]);
		default:
			return rw_error(err, 0, "%s: unknown option %s (see runwarden %s --help)", verb,
					argv[optind - 1], verb);
		}
	}
	if (optind < argc)
		return rw_error(err, 0, "%s: unexpected argument %s", verb, argv[optind]);
	if (*help)
		return 0;
	if (!o->docker)
		return rw_error(err, 0, "%s: name the engine: --docker (for containerd, Kubernetes and podman "
				"see the snippets in contrib/)", verb);
	if (o->name && !valid_name(o->name))
		return rw_error(err, 0, "%s: --runtime-name %s: not a usable runtime name ([A-Za-z0-9._-], "
				"not runc or io.containerd.*)", verb, o->name);
	return 0;
}

/* The runtime's absolute path: --path, checked, or /proc/self/exe. */
static int runtime_path(const char *given, char **out, rw_error_t *err)
{
	struct stat st;

	if (given == NULL) {
		char buf[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
		if (n < 0)
			return rw_error(err, errno, "install: readlink /proc/self/exe (give --path)");
		buf[n] = '\0';
		given = buf;
		*out = strdup(buf);
	} else {
		if (given[0] != '/')
			return rw_error(err, 0, "install: --path %s: not an absolute path (dockerd runs the runtime "
					"from its own working directory and PATH)", given);
		*out = strdup(given);
	}
	if (*out == NULL)
		return rw_error(err, ENOMEM, "install");
	if (stat(*out, &st) < 0)
		return rw_error(err, errno, "install: --path %s", *out);
	if (!S_ISREG(st.st_mode))
		return rw_error(err, 0, "install: --path %s: not a regular file", *out);
	if (access(*out, X_OK) < 0 || (st.st_mode & 0111) == 0)
		return rw_error(err, 0, "install: --path %s: not executable", *out);
	return 0;
}

/* The runtimes.NAME value install writes. */
static int runtime_entry(const char *path, char **args, size_t nargs, struct sbuf *out, rw_error_t *err)
{
	size_t i;

	if (sbuf_add(out, "{\"path\": ", err) < 0 || sbuf_add_jstr(out, path, strlen(path), err) < 0)
		return -1;
	if (nargs) {
		if (sbuf_add(out, ", \"runtimeArgs\": [", err) < 0)
			return -1;
		for (i = 0; i < nargs; i++)
			if ((i && sbuf_add(out, ", ", err) < 0) || sbuf_add_jstr(out, args[i], strlen(args[i]), err) < 0)
				return -1;
		if (sbuf_add(out, "]", err) < 0)
			return -1;
	}
	return sbuf_add(out, "}", err);
}

/* Whether dockerd pid reads file (its last --config-file, or the default). */
static bool dockerd_reads(pid_t pid, const char *file)
{
	char p[64];
	char **argv = NULL;
	size_t argc = 0, k;
	cleanup_free char *cfg = NULL;
	const char *want = DAEMON_JSON_DEFAULT, *v;
	char rbuf[PATH_MAX], *r;
	bool ret = false;

	if (rw_proc_argv(pid, &argv, &argc) < 0 || argc == 0)
		goto out;
	for (k = 0; (v = rw_argv_flag(argv, argc, "--config-file", NULL, k)) != NULL; k++)
		want = v;
	if (want[0] != '/') {
		/* relative to dockerd's working directory */
		char cwd[PATH_MAX];
		ssize_t n;
		snprintf(p, sizeof p, "/proc/%d/cwd", (int)pid);
		n = readlink(p, cwd, sizeof cwd - 1);
		if (n < 0)
			goto out;
		cwd[n] = '\0';
		if (asprintf(&cfg, "%s/%s", cwd, want) < 0)
			goto out;
		want = cfg;
	}
	r = realpath(want, rbuf);
	ret = strcmp(r ? r : want, file) == 0;
out:
	rw_strv_free(&argv, &argc);
	return ret;
}

#define MAX_DOCKERDS 16

/* The dockerds to signal: the one --pid gives (checked), or the ones reading
 * file. */
static int find_dockerds(const struct install_opts *o, const char *file, pid_t *pids, size_t *n,
			 rw_error_t *err)
{
	cleanup_free pid_t *all = NULL;
	size_t nall = 0, i;

	*n = 0;
	if (o->no_reload)
		return 0;
	if (o->pid) {
		char comm[64] = "";
		if (rw_proc_comm(o->pid, comm, sizeof comm) < 0)
			return rw_error(err, 0, "--pid %d: no such process (%s is left as it was)", (int)o->pid, file);
		if (strcmp(comm, "dockerd") != 0)
			return rw_error(err, 0, "--pid %d is %s, not dockerd (%s is left as it was)", (int)o->pid, comm,
					file);
		pids[(*n)++] = o->pid;
		return 0;
	}
	if (rw_proc_find("dockerd", &all, &nall) < 0)
		return rw_error(err, errno, "opendir /proc");
	for (i = 0; i < nall && *n < MAX_DOCKERDS; i++)
		if (dockerd_reads(all[i], file))
			pids[(*n)++] = all[i];
	return 0;
}

/* SIGHUP to each of pids. */
static int signal_dockerds(const struct install_opts *o, const char *file, const pid_t *pids, size_t n,
			   rw_error_t *err)
{
	size_t i;

	if (o->no_reload) {
		printf("dockerd not signalled (--no-reload): it takes the change at its next reload "
		       "(SIGHUP) or start\n");
		return 0;
	}
	if (n == 0)
		printf("no running dockerd reads %s: it takes the change when it starts\n", file);
	for (i = 0; i < n; i++) {
		if (kill(pids[i], SIGHUP) < 0)
			return rw_error(err, errno, "SIGHUP to dockerd (pid %d)", (int)pids[i]);
		printf("asked dockerd (pid %d) to reload its configuration (SIGHUP)\n", (int)pids[i]);
	}
	return 0;
}

/* Waits (up to timeout_ms) until the file named base in the directory that
 * inotify fd watches has been opened and closed without writing: dockerd
 * has read it. */
static bool wait_read(int ifd, const char *base, int timeout_ms)
{
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
		struct pollfd pfd = { .fd = ifd, .events = POLLIN };
		long left;
		ssize_t len;
		char *p;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = timeout_ms - ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0)
			return false;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		len = read(ifd, buf, sizeof buf);
		if (len <= 0)
			continue;
		for (p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			if ((ev->mask & IN_CLOSE_NOWRITE) && ev->len && strcmp(ev->name, base) == 0)
				return true;
			p += sizeof(*ev) + ev->len;
		}
	}
}

/* The path to edit: symlinks resolved, the directory made when missing. */
static int resolve_file(const char *given, char **out, rw_error_t *err)
{
	char buf[PATH_MAX];
	cleanup_free char *dir = NULL;
	char *slash;

	if (realpath(given, buf) != NULL) {
		*out = strdup(buf);
		return *out ? 0 : rw_error(err, ENOMEM, "%s", given);
	}
	if (errno != ENOENT)
		return rw_error(err, errno, "%s", given);
	/* a missing file (or a dangling symlink: refused, its target is unclear) */
	{
		struct stat st;
		if (lstat(given, &st) == 0)
			return rw_error(err, 0, "%s: a symlink to a missing file; refusing to guess", given);
	}
	dir = strdup(given);
	if (dir == NULL)
		return rw_error(err, ENOMEM, "%s", given);
	slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return rw_error(err, errno, "mkdir %s", dir);
	if (realpath(dir, buf) == NULL)
		return rw_error(err, errno, "%s", dir);
	slash = strrchr(given, '/');
	if (asprintf(out, "%s/%s", strcmp(buf, "/") == 0 ? "" : buf, slash ? slash + 1 : given) < 0)
		return rw_error(err, ENOMEM, "%s", given);
	return 0;
}

/* flock on the file's directory, held until the fd closes. */
static int lock_dir(const char *file, int *fd, rw_error_t *err)
{
	cleanup_free char *dir = strdup(file);
	char *slash;

	if (dir == NULL)
		return rw_error(err, ENOMEM, "%s", file);
	slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	*fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0)
		return rw_error(err, errno, "open %s", dir);
	while (flock(*fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return rw_error(err, errno, "flock %s", dir);
	return 0;
}

struct target {
	char *file, *backup, *state;
	bool exists;
	struct stat st;
	struct sbuf text;
};

static void target_free(struct target *t)
{
	free(t->file);
	free(t->backup);
	free(t->state);
	sbuf_free(&t->text);
}

static int load_target(const char *given, struct target *t, rw_error_t *err)
{
	cleanup_free char *buf = NULL;
	size_t len = 0;

	memset(t, 0, sizeof *t);
	if (resolve_file(given, &t->file, err) < 0)
		return -1;
	if (asprintf(&t->backup, "%s.runwarden-backup", t->file) < 0 ||
	    asprintf(&t->state, "%s.runwarden-state", t->file) < 0)
		return rw_error(err, ENOMEM, "%s", given);
	if (stat(t->file, &t->st) == 0) {
		t->exists = true;
		if (rw_read_file(t->file, DAEMON_JSON_MAX, &buf, &len, err) < 0)
			return -1;
		if (sbuf_addn(&t->text, buf, len, err) < 0)
			return -1;
	} else if (errno != ENOENT) {
		return rw_error(err, errno, "stat %s", t->file);
	} else if (sbuf_add(&t->text, "", err) < 0) {
		return -1;
	}
	return 0;
}

static int write_target(const struct target *t, const struct sbuf *text, rw_error_t *err)
{
	return rw_write_file_atomic(t->file, text->p, text->len, t->exists ? t->st.st_mode & 07777 : 0644,
				    t->exists ? t->st.st_uid : (uid_t)-1, t->exists ? t->st.st_gid : (gid_t)-1,
				    true, err);
}

/* The string value of root[key] when it is one. */
static bool member_is_string(const struct json *obj, const char *key, const char *s)
{
	return json_is_string(json_get(obj, key), s);
}

/* The start of install and uninstall: daemon.json loaded, its directory
 * locked, loaded again under the lock, the state read, the dockerds found,
 * *name the runtime's (--runtime-name, else the recorded one, else "runwarden"),
 * refused when the state records another. On failure the caller frees t
 * and st as after success. */
static int lock_and_load(const struct install_opts *o, struct target *t, int *lockfd, struct state *st,
			 pid_t *pids, size_t *npids, const char **name, rw_error_t *err)
{
	if (load_target(o->daemon_json, t, err) < 0 || lock_dir(t->file, lockfd, err) < 0)
		return -1;
	/* read again under the lock */
	target_free(t);
	if (load_target(o->daemon_json, t, err) < 0 || read_state(t->state, st, err) < 0 ||
	    find_dockerds(o, t->file, pids, npids, err) < 0)
		return -1;
	*name = o->name ? o->name : st->present ? st->name : "runwarden";
	if (st->present && strcmp(st->name, *name) != 0) {
		if (o->uninstall)
			return rw_error(err, 0, "%s records runtime \"%s\", not \"%s\"", t->state, st->name, *name);
		return rw_error(err, 0, "%s is installed as runtime \"%s\" (%s); uninstall it first", t->file,
				st->name, t->state);
	}
	return 0;
}

static int do_install(const struct install_opts *o, rw_error_t *err)
{
	struct target t;
	struct state st = { 0 }, newst = { 0 };
	struct sbuf text = { 0 }, entry = { 0 }, stext = { 0 }, dr = { 0 };
	struct json *root = NULL, *rts;
	cleanup_free char *path = NULL;
	cleanup_close int lockfd = -1;
	const char *name;
	bool fresh, wrote_state = false;
	pid_t pids[MAX_DOCKERDS];
	size_t npids = 0;
	int ret = -1;

	if (runtime_path(o->path, &path, err) < 0)
		return -1;
	if (lock_and_load(o, &t, &lockfd, &st, pids, &npids, &name, err) < 0)
		goto out;
	if (runtime_entry(path, o->args, o->nargs, &entry, err) < 0 || sbuf_add_jstr(&dr, name, strlen(name), err) < 0 ||
	    sbuf_addn(&text, t.text.p, t.text.len, err) < 0)
		goto out;

	newst.name = strdup(name);
	newst.path = strdup(path);
	if (newst.name == NULL || newst.path == NULL) {
		rw_error(err, ENOMEM, "install");
		goto out;
	}
	if (blank(text.p, text.len)) {
		newst.file_created = !t.exists;
		if (t.exists && (newst.root_text = strdup(text.p)) == NULL) {
			rw_error(err, ENOMEM, "install");
			goto out;
		}
	} else if (parse_daemon_json(&text, t.file, &root, err) < 0) {
		goto out;
	} else if (root->u.obj.n == 0) {
		if ((newst.root_text = strdup(text.p)) == NULL) {
			rw_error(err, ENOMEM, "install");
			goto out;
		}
	}
	if (root == NULL || root->u.obj.n == 0) {
		/* nothing to keep: a pretty document */
		text.len = 0;
		if (sbuf_add(&text, "{\n  \"runtimes\": {\n    ", err) < 0 || sbuf_add_jstr(&text, name, strlen(name), err) < 0 ||
		    sbuf_add(&text, ": ", err) < 0 || sbuf_add(&text, entry.p, err) < 0 ||
		    sbuf_add(&text, "\n  },\n  \"default-runtime\": ", err) < 0 || sbuf_add(&text, dr.p, err) < 0 ||
		    sbuf_add(&text, "\n}\n", err) < 0)
			goto out;
		newst.runtimes_created = true;
	} else {
		/* runtimes.NAME */
		rts = json_get(root, "runtimes");
		if (rts && rts->type != JSON_OBJECT) {
			not_object(&text, t.file, rts, "\"runtimes\"", err);
			goto out;
		}
		if (rts == NULL) {
			struct sbuf m = { 0 };
			int r = sbuf_add(&m, "{", err) < 0 || sbuf_add_jstr(&m, name, strlen(name), err) < 0 ||
				sbuf_add(&m, ": ", err) < 0 || sbuf_add(&m, entry.p, err) < 0 || sbuf_add(&m, "}", err) < 0
				? -1 : insert_member(&text, root, "runtimes", m.p, err);
			sbuf_free(&m);
			if (r < 0)
				goto out;
			newst.runtimes_created = true;
		} else if (set_member(&text, rts, name, entry.p, &newst.runtime_entry, err) < 0) {
			goto out;
		}
		json_free(root);
		root = NULL;
		/* default-runtime */
		if (parse_daemon_json(&text, t.file, &root, err) < 0) {
			rw_error_prefix(err, "install: the edited text does not parse (a bug; nothing written)");
			goto out;
		}
		if (set_member(&text, root, "default-runtime", dr.p, &newst.default_runtime, err) < 0)
			goto out;
	}
	json_free(root);
	root = NULL;

	/* validate what will be written */
	if (parse_daemon_json(&text, t.file, &root, err) < 0) {
		rw_error_prefix(err, "install: the edited text does not parse (a bug; nothing written)");
		goto out;
	}
	rts = json_get(root, "runtimes");
	if (!member_is_string(root, "default-runtime", name) || rts == NULL || rts->type != JSON_OBJECT ||
	    json_get(rts, name) == NULL || !member_is_string(json_get(rts, name), "path", path)) {
		rw_error(err, 0, "install: the edited %s does not say what it should (a bug; nothing written)", t.file);
		goto out;
	}

	/* A state whose spots are both gone (edited away by hand) is stale. */
	if (st.present && t.exists && !blank(t.text.p, t.text.len)) {
		cleanup_json struct json *old = NULL;
		struct json *ort;
		if (json_parse(t.text.p, t.text.len, 0, t.file, &old, err) == 0 && old->type == JSON_OBJECT) {
			ort = json_get(old, "runtimes");
			if (!member_is_string(old, "default-runtime", name) &&
			    !(ort && ort->type == JSON_OBJECT && json_get(ort, name)))
				st.present = false;
		}
	}
	fresh = !st.present;
	if (text.len == t.text.len && memcmp(text.p, t.text.p, text.len) == 0) {
		printf("%s: runtime \"%s\" (%s) is already installed and the default; nothing to change\n",
		       t.file, name, path);
	} else {
		if (fresh) {
			if (t.exists && rw_write_file_atomic(t.backup, t.text.p, t.text.len, t.st.st_mode & 07777,
							     t.st.st_uid, t.st.st_gid, true, err) < 0)
				goto out;
			if (state_text(&newst, &stext, err) < 0 ||
			    rw_write_file_atomic(t.state, stext.p, stext.len, 0600, (uid_t)-1, (gid_t)-1, true, err) < 0)
				goto out;
			wrote_state = true;
		}
		if (write_target(&t, &text, err) < 0) {
			if (wrote_state)
				unlink(t.state);
			goto out;
		}
		if (fresh) {
			printf("%s: runtime \"%s\" -> %s, default-runtime \"%s\" (was %s)\n", t.file, name, path, name,
			       newst.default_runtime ? newst.default_runtime : "unset: runc");
			if (t.exists)
				printf("backup of the previous file: %s\n", t.backup);
		} else {
			printf("%s: runtime \"%s\" -> %s, default-runtime \"%s\" (updated; uninstall restores %s)\n",
			       t.file, name, path, name, st.default_runtime ? st.default_runtime : "no default-runtime");
		}
	}
	if (signal_dockerds(o, t.file, pids, npids, err) < 0)
		goto out;
	ret = 0;
out:
	json_free(root);
	sbuf_free(&text);
	sbuf_free(&entry);
	sbuf_free(&stext);
	sbuf_free(&dr);
	state_free(&st);
	state_free(&newst);
	target_free(&t);
	return ret;
}

/* Writes daemon.json with final (NULL: an empty object) plus
 * "default-runtime": "runc" and "runtimes": {} where asked, signals the
 * dockerds and waits (10 s at most) until they have read it. */
static int bridge_reload(const struct install_opts *o, const struct target *t, const struct sbuf *final,
			 bool add_default, bool add_runtimes, const pid_t *pids, size_t npids, rw_error_t *err)
{
	struct sbuf text = { 0 };
	struct json *root = NULL;
	cleanup_free char *dir = strdup(t->file);
	cleanup_close int ifd = -1;
	const char *base;
	char *slash;
	size_t reads = 0;
	int ret = -1;

	if (dir == NULL)
		return rw_error(err, ENOMEM, "uninstall");
	slash = strrchr(dir, '/');
	base = t->file + (slash - dir) + 1;
	if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (sbuf_add(&text, final ? final->p : "{}\n", err) < 0 || parse_daemon_json(&text, t->file, &root, err) < 0)
		goto out;
	if (add_runtimes) {
		if (insert_member(&text, root, "runtimes", "{}", err) < 0)
			goto out;
		json_free(root);
		root = NULL;
		if (parse_daemon_json(&text, t->file, &root, err) < 0)
			goto out;
	}
	if (add_default && insert_member(&text, root, "default-runtime", "\"runc\"", err) < 0)
		goto out;
	ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ifd < 0 || inotify_add_watch(ifd, dir, IN_CLOSE_NOWRITE) < 0) {
		rw_error(err, errno, "inotify on %s", dir);
		goto out;
	}
	if (write_target(t, &text, err) < 0 || signal_dockerds(o, t->file, pids, npids, err) < 0)
		goto out;
	while (reads < npids && wait_read(ifd, base, 10000))
		reads++;
	if (reads < npids)
		printf("note: dockerd did not read %s within 10 s; if it still names runwarden as its default "
		       "runtime, restart it\n", t->file);
	else
		printf("dockerd reloaded with%s%s; %s now gets its final text\n",
		       add_default ? " default-runtime runc" : "", add_runtimes ? " and no extra runtimes" : "",
		       t->file);
	ret = 0;
out:
	json_free(root);
	sbuf_free(&text);
	return ret;
}

static int do_uninstall(const struct install_opts *o, rw_error_t *err)
{
	struct target t;
	struct state st = { 0 };
	struct sbuf text = { 0 };
	struct json *root = NULL, *rts;
	cleanup_close int lockfd = -1;
	const char *name;
	bool kept_default = false, remove_file = false;
	pid_t pids[MAX_DOCKERDS];
	size_t npids = 0;
	ssize_t i;
	int ret = -1;

	if (lock_and_load(o, &t, &lockfd, &st, pids, &npids, &name, err) < 0)
		goto out;
	if (!t.exists || blank(t.text.p, t.text.len)) {
		printf("%s: %s; nothing to uninstall\n", t.file, t.exists ? "empty" : "no such file");
		if (st.present)
			unlink(t.state);
		ret = 0;
		goto out;
	}
	if (sbuf_addn(&text, t.text.p, t.text.len, err) < 0 || parse_daemon_json(&text, t.file, &root, err) < 0)
		goto out;

	/* default-runtime: back to what it was, when it is still ours */
	if ((i = member_index(root, "default-runtime")) >= 0) {
		if (json_is_string(root->u.obj.m[i].val, name)) {
			if (st.present && st.default_runtime) {
				if (replace_value(&text, root, (size_t)i, st.default_runtime, err) < 0)
					goto out;
			} else if (remove_member(&text, root, (size_t)i, err) < 0) {
				goto out;
			}
		} else {
			kept_default = true;
		}
		json_free(root);
		root = NULL;
		if (parse_daemon_json(&text, t.file, &root, err) < 0)
			goto out;
	}
	/* runtimes.NAME */
	rts = json_get(root, "runtimes");
	if (rts && rts->type == JSON_OBJECT && (i = member_index(rts, name)) >= 0) {
		if (st.present && st.runtime_entry) {
			if (replace_value(&text, rts, (size_t)i, st.runtime_entry, err) < 0)
				goto out;
		} else if (remove_member(&text, rts, (size_t)i, err) < 0) {
			goto out;
		}
		json_free(root);
		root = NULL;
		if (parse_daemon_json(&text, t.file, &root, err) < 0)
			goto out;
		rts = json_get(root, "runtimes");
		/* an empty "runtimes" that install made goes too */
		if (st.present && st.runtimes_created && rts && rts->type == JSON_OBJECT && rts->u.obj.n == 0 &&
		    (i = member_index(root, "runtimes")) >= 0) {
			if (remove_member(&text, root, (size_t)i, err) < 0)
				goto out;
			json_free(root);
			root = NULL;
			if (parse_daemon_json(&text, t.file, &root, err) < 0)
				goto out;
		}
	}
	if (root->u.obj.n == 0 && st.present) {
		if (st.file_created)
			remove_file = true;
		else if (st.root_text) {
			text.len = 0;
			if (sbuf_add(&text, st.root_text, err) < 0)
				goto out;
		}
	}
	json_free(root);
	root = NULL;
	if (!blank(text.p, text.len) && parse_daemon_json(&text, t.file, &root, err) < 0) {
		rw_error_prefix(err, "uninstall: the edited text does not parse (a bug; nothing written)");
		goto out;
	}
	if (remove_file || !(text.len == t.text.len && memcmp(text.p, t.text.p, text.len) == 0)) {
		bool lacks_default = root == NULL || member_index(root, "default-runtime") < 0;
		bool lacks_runtimes = root == NULL || member_index(root, "runtimes") < 0;
		bool bridged = false;

		/* dockerd's reload keeps its default runtime and its runtimes when
		 * daemon.json names none: it reads, first, the final text with
		 * "default-runtime": "runc" and "runtimes": {} where the final
		 * text has neither; then the final text replaces it. */
		if (npids > 0 && !kept_default && (lacks_default || lacks_runtimes)) {
			if (bridge_reload(o, &t, root && root->u.obj.n ? &text : NULL, lacks_default, lacks_runtimes,
					  pids, npids, err) < 0)
				goto out;
			bridged = true;
		}
		if (remove_file) {
			if (unlink(t.file) < 0) {
				rw_error(err, errno, "unlink %s", t.file);
				goto out;
			}
			printf("%s: removed (install had created it)\n", t.file);
		} else {
			if (write_target(&t, &text, err) < 0)
				goto out;
			printf("%s: runtime \"%s\" removed, default-runtime %s%s\n", t.file, name,
			       kept_default ? "left as it is (not \"" :
			       st.present && st.default_runtime ? "back to " : "unset (runc)",
			       kept_default ? "\")" : st.present && st.default_runtime ? st.default_runtime : "");
		}
		if (!bridged && (lacks_default || lacks_runtimes))
			printf("note: a running dockerd keeps its default runtime and runtimes when a reload finds "
			       "none in daemon.json; restart it (or reload it through uninstall, without --no-reload)\n");
		if (!bridged && signal_dockerds(o, t.file, pids, npids, err) < 0)
			goto out;
	} else {
		printf("%s: runtime \"%s\" is not installed; nothing to change\n", t.file, name);
	}
	if (st.present && unlink(t.state) < 0 && errno != ENOENT) {
		rw_error(err, errno, "unlink %s", t.state);
		goto out;
	}
	ret = 0;
out:
	json_free(root);
	sbuf_free(&text);
	state_free(&st);
	target_free(&t);
	return ret;
}

int rw_install_main(int argc, char **argv, bool uninstall, rw_error_t *err)
{
	struct install_opts o = { .uninstall = uninstall, .daemon_json = DAEMON_JSON_DEFAULT };
	bool help = false;
	int r;

	r = parse_opts(argc, argv, &o, &help, err);
	if (r == 0 && help) {
		usage(uninstall);
		free(o.args);
		return 0;
	}
	if (r == 0)
		r = uninstall ? do_uninstall(&o, err) : do_install(&o, err);
	free(o.args);
	if (r == 0)
		fflush(stdout);
	return r < 0 ? -1 : 0;
}
