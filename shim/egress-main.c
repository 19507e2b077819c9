/* runwarden-egress: the part of runwarden that speaks netlink. It runs as
 * the OCI hooks runwarden adds at create (prestart: install the container's
 * egress table on the host side of its link; poststop: remove it), and for
 * `runwarden egress show` and `runwarden gc`, which exec it. A program of its
 * own because Debian ships libmnl without a static archive while runwarden,
 * on every container verb, is a static binary. */
#include "config.h"
#include "netfilter/egress.h"
#include "shim/args.h"
#include "shim/delegate.h"
#include "shim/error.h"
#include "shim/fileio.h"
#include "shim/json.h"
#include "shim/log.h"
#include "shim/strv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *str_of(const struct json *j)
{
	return j && j->type == JSON_STRING && !memchr(j->u.str.s, '\0', j->u.str.len) ? j->u.str.s : NULL;
}

/* The record's rules, back into the library's form; strings stay in j. */
struct egress_rules {
	struct rw_egress_rule *v;
	size_t n;
	const char **cidrs;
	struct rw_egress_ports *ports;
};

static void egress_rules_release(struct egress_rules *e)
{
	free(e->v);
	free(e->cidrs);
	free(e->ports);
	memset(e, 0, sizeof(*e));
}

static int egress_rules_from(const struct json *j, struct egress_rules *e, rw_error_t *err)
{
	size_t i, k, nc = 0, np = 0, ic = 0, ip = 0;

	memset(e, 0, sizeof(*e));
	if (j == NULL || j->type != JSON_ARRAY || j->u.arr.n == 0)
		return 0;
	for (i = 0; i < j->u.arr.n; i++) {
		const struct json *c = json_get(j->u.arr.v[i], "cidrs"), *p = json_get(j->u.arr.v[i], "ports");
		nc += c && c->type == JSON_ARRAY ? c->u.arr.n : 0;
		np += p && p->type == JSON_ARRAY ? p->u.arr.n : 0;
	}
	e->v = calloc(j->u.arr.n, sizeof(*e->v));
	e->cidrs = calloc(nc + 1, sizeof(*e->cidrs));
	e->ports = calloc(np + 1, sizeof(*e->ports));
	if (!e->v || !e->cidrs || !e->ports) {
		egress_rules_release(e);
		return rw_error(err, ENOMEM, "egress rules");
	}
	for (i = 0; i < j->u.arr.n; i++) {
		const struct json *o = j->u.arr.v[i], *c = json_get(o, "cidrs"), *p = json_get(o, "ports");
		struct rw_egress_rule *r = &e->v[e->n];
		const char *name = str_of(json_get(o, "name"));
		bool tcp = !json_get(o, "tcp") || json_get(o, "tcp")->type == JSON_TRUE;
		bool udp = !json_get(o, "udp") || json_get(o, "udp")->type == JSON_TRUE;

		if (name == NULL)
			continue;
		r->name = name;
		r->verdict = json_get(o, "allow") && json_get(o, "allow")->type == JSON_TRUE ? RW_EGRESS_ACCEPT : RW_EGRESS_DROP;
		r->families = RW_EGRESS_IPV4 | RW_EGRESS_IPV6;
		r->protocols = tcp && udp ? 0 : tcp ? RW_EGRESS_TCP : RW_EGRESS_UDP;
		r->cidrs = e->cidrs + ic;
		for (k = 0; c && c->type == JSON_ARRAY && k < c->u.arr.n; k++)
			if (str_of(c->u.arr.v[k]))
				e->cidrs[ic++] = str_of(c->u.arr.v[k]), r->n_cidrs++;
		r->ports = e->ports + ip;
		for (k = 0; p && p->type == JSON_ARRAY && k < p->u.arr.n; k++) {
			unsigned lo, hi;
			if (str_of(p->u.arr.v[k]) && sscanf(str_of(p->u.arr.v[k]), "%u-%u", &lo, &hi) == 2 &&
			    lo >= 1 && hi <= 65535 && lo <= hi) {
				e->ports[ip].lo = (uint16_t)lo;
				e->ports[ip++].hi = (uint16_t)hi;
				r->n_ports++;
			}
		}
		e->n++;
	}
	return 0;
}

static int read_fd_all(int fd, size_t max, char **out, size_t *len)
{
	size_t cap = 4096;
	char *b = malloc(cap);
	ssize_t r;

	*len = 0;
	if (b == NULL)
		return -1;
	for (;;) {
		if (*len + 1 >= cap) {
			char *nb;
			if (cap >= max) {
				free(b);
				errno = EFBIG;
				return -1;
			}
			nb = realloc(b, cap * 2);
			if (nb == NULL) {
				free(b);
				return -1;
			}
			b = nb;
			cap *= 2;
		}
		r = read(fd, b + *len, cap - 1 - *len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(b);
			return -1;
		}
		if (r == 0)
			break;
		*len += (size_t)r;
	}
	b[*len] = '\0';
	*out = b;
	return 0;
}

static bool same_ns(int fd, const char *path)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The name of netns fd: "self", "/run/netns/NAME", or "" when it has none. */
static void netns_name(int fd, char *out, size_t size)
{
	DIR *d;
	struct dirent *e;

	snprintf(out, size, "%s", "");
	if (fd < 0 || same_ns(fd, "/proc/self/ns/net")) {
		snprintf(out, size, "self");
		return;
	}
	if ((d = opendir("/run/netns")) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char p[PATH_MAX];
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/run/netns/%s", e->d_name);
		if (same_ns(fd, p)) {
			snprintf(out, size, "%s", p);
			break;
		}
	}
	closedir(d);
}

static int egress_file(const struct rw_cmdline *cl, char **out, rw_error_t *err)
{
	cleanup_free char *rec = NULL;
	size_t n;

	if (rw_record_path(cl, &rec, err) < 0)
		return -1;
	n = strlen(rec);
	if (n > 5 && strcmp(rec + n - 5, ".json") == 0)
		rec[n - 5] = '\0';
	if (asprintf(out, "%s.egress", rec) < 0)
		return rw_error(err, ENOMEM, "egress record");
	return 0;
}

/* The poststop hook (and gc): the table goes where the prestart hook put it. */
static int egress_remove(const struct rw_cmdline *cl, rw_error_t *err)
{
	cleanup_free char *path = NULL, *buf = NULL;
	cleanup_json struct json *j = NULL;
	cleanup_close int fd = -1;
	const char *ns;
	size_t len;

	if (egress_file(cl, &path, err) < 0)
		return -1;
	if (rw_read_file(path, 65536, &buf, &len, err) < 0) {
		if (errno == ENOENT) {
			rw_error_free(err);
			return 0;   /* nothing was installed */
		}
		return -1;
	}
	if (json_parse(buf, len, 0, path, &j, err) < 0)
		return -1;
	ns = str_of(json_get(j, "netns"));
	if (ns && strcmp(ns, "self") != 0 && *ns) {
		fd = open(ns, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return rw_error(err, errno, "egress: network namespace %s", ns);
	}
	if (ns && *ns == '\0')
		return rw_error(err, 0, "egress: the table of %s is in a network namespace without a name; `runwarden gc` cannot reach it either", cl->id);
	if (rw_egress_remove(fd, cl->id, err) < 0)
		return -1;
	unlink(path);
	return 0;
}

static int verb_egress_hook(const struct rw_cmdline *cl, rw_error_t *err)
{
	cleanup_free char *state = NULL, *path = NULL, *text = NULL;
	cleanup_json struct json *st = NULL;
	cleanup_json struct json *rec = NULL;
	cleanup_close int nsfd = -1;
	struct egress_rules rules;
	struct rw_egress_peer peers[RW_EGRESS_MAX_DEVS];
	char nsname[PATH_MAX], proc[64], device[RW_EGRESS_MAX_DEVS * IF_NAMESIZE];
	long long pid = 0;
	size_t len, i;
	int n, r;

	/* The state on stdin is read whole in every case: a runtime that writes
	 * it to a hook already gone dies of SIGPIPE (crun 1.8 does, in delete). */
	if (read_fd_all(0, 1u << 20, &state, &len) < 0)
		return rw_error(err, errno, "egress-hook: reading the container's state on stdin");
	if (cl->egress_remove) {
		if (egress_remove(cl, err) < 0)
			return -1;
		exit(0);
	}
	if (json_parse(state, len, 0, "state", &st, err) < 0)
		return -1;
	if (!json_int(json_get(st, "pid"), &pid) || pid <= 0)
		return rw_error(err, 0, "egress-hook: the state has no pid");
	/* The rules fixed at create, in the hook's arguments (a foreground run
	 * has no record); the record's for hooks written before they were. */
	if (cl->egress_rules) {
		if (json_parse(cl->egress_rules, strlen(cl->egress_rules), 0, "--rules", &rec, err) < 0)
			return -1;
		if (egress_rules_from(rec, &rules, err) < 0)
			return -1;
	} else {
		rec = rw_record_load(cl);
		if (egress_rules_from(json_getv(rec, "limits", "egress", NULL), &rules, err) < 0)
			return -1;
	}
	if (rules.n == 0)
		return rw_error(err, 0, "egress-hook: no rules for container %s (its record is gone?)", cl->id);
	snprintf(proc, sizeof(proc), "/proc/%lld/ns/net", pid);
	nsfd = open(proc, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0) {
		egress_rules_release(&rules);
		return rw_error(err, errno, "egress-hook: %s", proc);
	}
	/* The host's own namespace: tenant tiers never get it. */
	if (same_ns(nsfd, "/proc/self/ns/net")) {
		egress_rules_release(&rules);
		exit(0);
	}
	n = rw_egress_find_peers(nsfd, peers, sizeof(peers) / sizeof(peers[0]), err);
	if (n <= 0) {
		egress_rules_release(&rules);
		if (n < 0)
			return -1;
		exit(0);   /* no veth: network none */
	}
	/* Every veth whose host end is where the first one's is (a container on
	 * several networks has one per network): one chain hooked on each. */
	{
		char devs[RW_EGRESS_MAX_DEVS * IF_NAMESIZE] = "";
		size_t used = 0;
		struct stat first, other;

		fstat(peers[0].netns_fd, &first);
		for (i = 0; i < (size_t)n && i < sizeof(peers) / sizeof(peers[0]); i++)
			if (fstat(peers[i].netns_fd, &other) == 0 && other.st_ino == first.st_ino && other.st_dev == first.st_dev &&
			    used + strlen(peers[i].ifname) + 2 < sizeof(devs))
				used += (size_t)snprintf(devs + used, sizeof(devs) - used, "%s%s", used ? "," : "", peers[i].ifname);
		r = rw_egress_install(peers[0].netns_fd, devs, cl->id, rules.v, rules.n, err);
		snprintf(device, sizeof(device), "%s", devs);
	}
	netns_name(peers[0].netns_fd, nsname, sizeof(nsname));
	for (i = 0; i < (size_t)n && i < sizeof(peers) / sizeof(peers[0]); i++)
		close(peers[i].netns_fd);
	egress_rules_release(&rules);
	if (r < 0)
		return -1;
	{
		cleanup_free char *qns = rw_json_quote(nsname), *qdev = rw_json_quote(device);
		if (egress_file(cl, &path, err) < 0 || !qns || !qdev ||
		    asprintf(&text, "{\"netns\":%s,\"device\":%s}\n", qns, qdev) < 0 ||
		    rw_write_file_atomic(path, text, strlen(text), 0600, (uid_t)-1, (gid_t)-1, false, err) < 0)
			return rw_error_prefix(err, "egress");
	}
	exit(0);
}

/* The namespaces runwarden's tables may be in: its own and those in /run/netns. */
struct ns_walk {
	bool json;
	bool first;
	const char *only;
	const struct rw_cmdline *cl;
	const char *ns;
	int fd;
	unsigned removed;
	char **gone;            /* gc: ids whose containers are gone, in this namespace */
	size_t ngone;
};

static int show_cb(const struct rw_egress_table *t, void *arg)
{
	struct ns_walk *w = arg;
	size_t i;

	if (w->json) {
		cleanup_free char *qid = rw_json_quote(t->id), *qns = rw_json_quote(w->ns), *qdev = rw_json_quote(t->device);
		printf("%s{\"id\":%s,\"netns\":%s,\"device\":%s,\"counters\":[", w->first ? "" : ",", qid ? qid : "\"\"",
		       qns ? qns : "\"\"", qdev ? qdev : "\"\"");
		for (i = 0; i < t->n_counters; i++) {
			cleanup_free char *qr = rw_json_quote(t->counters[i].rule);
			printf("%s{\"rule\":%s,\"packets\":%llu,\"bytes\":%llu}", i ? "," : "", qr ? qr : "\"\"",
			       (unsigned long long)t->counters[i].packets, (unsigned long long)t->counters[i].bytes);
		}
		printf("]}");
	} else
		for (i = 0; i < t->n_counters; i++)
			printf("%s %s %s %s %llu %llu\n", t->id, w->ns, t->device[0] ? t->device : "-", t->counters[i].rule,
			       (unsigned long long)t->counters[i].packets, (unsigned long long)t->counters[i].bytes);
	w->first = false;
	return 0;
}

static bool container_exists(const char *root, const char *id)
{
	char p[PATH_MAX];
	glob_t g;
	bool found;

	snprintf(p, sizeof(p), "%s/.runwarden-%s.json", root, id);
	if (access(p, F_OK) == 0)
		return true;
	snprintf(p, sizeof(p), "%s/%s/state.json", root, id);
	if (access(p, F_OK) == 0)
		return true;
	snprintf(p, sizeof(p), "%s/%s/status", root, id);
	if (access(p, F_OK) == 0)
		return true;
	snprintf(p, sizeof(p), "%s/*_sandbox:%s.state", root, id);
	found = glob(p, GLOB_NOSORT, NULL, &g) == 0 && g.gl_pathc > 0;
	globfree(&g);
	return found;
}

/* gc: the tables of containers that are gone, collected per namespace and
 * removed in one transaction (a deleting transaction waits for an RCU grace
 * period, once). */
static int gc_cb(const struct rw_egress_table *t, void *arg)
{
	static const char *const roots[] = { RW_STATE_DIR, "/run/runc", "/run/crun", "/run/runsc", "/var/run/runsc",
					     "/run/docker/runtime-runc/moby", NULL };
	struct ns_walk *w = arg;
	size_t i;

	if (w->cl->root && container_exists(w->cl->root, t->id))
		return 0;
	for (i = 0; roots[i]; i++)
		if (container_exists(roots[i], t->id))
			return 0;
	return rw_strv_push(&w->gone, &w->ngone, strdup(t->id));
}

static void gc_flush(struct ns_walk *w)
{
	cleanup_error rw_error_t e = NULL;
	size_t i;

	if (w->ngone == 0)
		return;
	if (rw_egress_remove_many(w->fd, (const char *const *)w->gone, w->ngone, &e) < 0)
		fprintf(stderr, "runwarden: gc: %s: %s\n", w->ns, e ? e->msg : "?");
	else
		for (i = 0; i < w->ngone; i++) {
			printf("removed rw_%s (%s)\n", w->gone[i], w->ns);
			w->removed++;
		}
	rw_strv_free(&w->gone, &w->ngone);
}

static int walk_netns(struct ns_walk *w, rw_egress_list_cb cb, rw_error_t *err)
{
	DIR *d;
	struct dirent *e;

	w->ns = "self";
	w->fd = -1;
	if (rw_egress_list(-1, w->only, cb, w, err) < 0)
		return -1;
	gc_flush(w);
	if ((d = opendir("/run/netns")) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char p[PATH_MAX];
		cleanup_error rw_error_t le = NULL;
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/run/netns/%s", e->d_name);
		w->fd = open(p, O_RDONLY | O_CLOEXEC);
		if (w->fd < 0)
			continue;
		w->ns = p;
		if (rw_egress_list(w->fd, w->only, cb, w, &le) < 0 && le)
			fprintf(stderr, "runwarden: %s: %s\n", p, le->msg);
		gc_flush(w);
		close(w->fd);
		w->fd = -1;
	}
	closedir(d);
	return 0;
}

static int verb_egress(const struct rw_cmdline *cl, rw_error_t *err)
{
	struct ns_walk w = { .first = true, .cl = cl };
	const char *sub = cl->rest_index < cl->argc ? cl->argv[cl->rest_index] : NULL;
	int i;

	if (sub == NULL || strcmp(sub, "show") != 0)
		return rw_error(err, 0, "usage: runwarden egress show [ID] [--json]");
	for (i = cl->rest_index + 1; i < cl->argc; i++) {
		if (strcmp(cl->argv[i], "--json") == 0)
			w.json = true;
		else if (w.only == NULL && rw_valid_id(cl->argv[i]))
			w.only = cl->argv[i];
		else
			return rw_error(err, 0, "egress show: unexpected \"%s\"", cl->argv[i]);
	}
	if (w.json)
		printf("[");
	if (walk_netns(&w, show_cb, err) < 0)
		return -1;
	if (w.json)
		printf("]\n");
	fflush(stdout);
	exit(0);
}

static int verb_gc(const struct rw_cmdline *cl, rw_error_t *err)
{
	struct ns_walk w = { .cl = cl };

	if (walk_netns(&w, gc_cb, err) < 0)
		return -1;
	fflush(stdout);
	exit(0);
}


int main(int argc, char **argv)
{
	struct rw_cmdline cl;
	cleanup_error rw_error_t err = NULL;
	int r = rw_parse_cmdline(argc, argv, &cl, &err);

	if (r == 0) {
		switch (cl.verb) {
		case VERB_EGRESS_HOOK:
			r = verb_egress_hook(&cl, &err);
			break;
		case VERB_EGRESS:
			r = verb_egress(&cl, &err);
			break;
		case VERB_GC:
			r = verb_gc(&cl, &err);
			break;
		default:
			r = rw_error(&err, 0, "runwarden-egress: egress-hook, egress show or gc");
			break;
		}
	}
	rw_report_error(cl.log, cl.log_format, err ? err->msg : "unknown error");
	return 1;
}
