/* runwarden: an OCI runtime with runc's command line. It decides, rewrites
 * the document the verb carries, records, then execv's the real runtime with
 * argv unchanged but for argv[0]: no fork, same fds, same environment, and
 * nothing on stdout/stderr on success (they are the container's streams). */
#include "config.h"
#include "policy/enforce.h"
#include "policy/policy.h"
#include "shim/args.h"
#include "shim/doctor.h"
#include "shim/install.h"
#include "shim/fileio.h"
#include "shim/delegate.h"
#include "shim/info.h"
#include "shim/log.h"
#include "shim/rewrite.h"
#include "shim/stdio.h"
#include "shim/strv.h"
#include "netfilter/egress.h"

#include <dirent.h>
#include <fcntl.h>
#include <glob.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int exec_delegate(const struct rw_cmdline *cl, const struct rw_delegate *d, rw_error_t *err)
{
	cl->argv[0] = (char *)d->path;
	execv(d->path, cl->argv);
	return rw_error(err, errno, "exec delegate %s", d->path);
}

/* The delegate named by the policy; with no usable policy the embedded
 * default, so that stopping and removing containers always works. */
static int configured_delegate(struct rw_delegate *d, rw_error_t *err)
{
	struct rw_policy pol;
	cleanup_error rw_error_t perr = NULL;
	int r;

	if (rw_policy_load(rw_policy_path(), &pol, &perr) < 0)
		return rw_delegate_resolve(NULL, d, err);
	r = rw_delegate_resolve(pol.delegate, d, err);
	rw_policy_release(&pol);
	return r;
}

/* The delegate that created the container: the record made at create, else
 * whose state holds the id, else the configured one. */
static int container_delegate(const struct rw_cmdline *cl, const struct json *rec, struct rw_delegate *d,
			      rw_error_t *err)
{
	int r = rw_record_delegate(rec, d);

	if (r == 0)
		r = rw_delegate_probe(cl, d, err);
	if (r == 0)
		r = configured_delegate(d, err);
	return r < 0 ? -1 : 0;
}

/* Everything create decides, shared with `explain`: the policy, the tier, the
 * delegate, and the rewritten config.json, in memory. */
struct plan {
	struct rw_policy pol;
	struct rw_decision dec;
	struct rw_delegate d;
	struct rw_limits lim;
	struct rw_changes ch;
	struct rw_pending pending;
	char bundle[PATH_MAX], config[PATH_MAX + 16], rootfs[PATH_MAX];
	bool pol_loaded;
	bool bl_checked;                /* the blocklist ran (tenant containers) */
	struct json *egress;            /* the rules for the record; NULL: none */
	struct rw_bl_stats bl_stats;
};

static void plan_release(struct plan *p)
{
	rw_pending_release(&p->pending);
	rw_changes_release(&p->ch);
	rw_limits_release(&p->lim);
	rw_decision_release(&p->dec);
	json_free(p->egress);
	p->egress = NULL;
	if (p->pol_loaded)
		rw_policy_release(&p->pol);
}


static const char *str_of(const struct json *j)
{
	return j && j->type == JSON_STRING && !memchr(j->u.str.s, '\0', j->u.str.len) ? j->u.str.s : NULL;
}

/* One audit line per blocklist refusal (best effort: the refusal stands
 * whether or not the line can be written). */
static void audit_blocklist(const char *log, const char *verb, const char *id, const char *tier,
			    const char *image, const struct rw_bl_match *m)
{
	char src[PATH_MAX + 32];
	cleanup_free char *qtier = rw_json_quote(tier ? tier : ""), *qimage = rw_json_quote(image ? image : ""),
			  *qcat = rw_json_quote(m->cat->name), *qrule = rw_json_quote(m->rule->pattern),
			  *qsrc = NULL, *qfield = rw_json_quote(m->field), *qvalue = rw_json_quote(m->value ? m->value : "");

	snprintf(src, sizeof(src), "%s:%u", m->rule->src, m->rule->line);
	qsrc = rw_json_quote(src);
	if (qtier && qimage && qcat && qrule && qsrc && qfield && qvalue)
		rw_audit(NULL, log, "blocklist", id, "\"verb\":\"%s\",\"tier\":%s,\"image\":%s,\"category\":%s,\"rule\":%s,\"source\":%s,\"field\":%s,\"value\":%s",
			 verb, qtier, qimage, qcat, qrule, qsrc, qfield, qvalue);
}

static void audit_scan_limit(const char *log, const char *verb, const char *id, const char *rootfs,
			     const struct rw_bl_stats *st)
{
	cleanup_free char *qroot = rw_json_quote(rootfs ? rootfs : "");

	if (qroot)
		rw_audit(NULL, log, "blocklist-limit", id, "\"verb\":\"%s\",\"limit\":\"%s\",\"rootfs\":%s,\"files\":%llu,\"hashed\":%llu,\"bytes\":%llu,\"ms\":%.1f",
			 verb, st->limit, qroot, (unsigned long long)st->files, (unsigned long long)st->hashed,
			 (unsigned long long)st->bytes, st->ms);
}

/* Runs the blocklist on subject s; on a match refuses (and audits unless
 * log is NULL). */
static int blocklist_gate(const struct rw_blocklist *bl, const struct rw_bl_subject *s, const char *log,
			  const char *verb, const char *id, struct rw_bl_stats *st, rw_error_t *err)
{
	struct rw_bl_match m;
	int r = rw_blocklist_check(bl, s, &m, st, err);

	if (log && st->limit)
		audit_scan_limit(log, verb, id, s->rootfs, st);
	if (r <= 0)
		return r;
	if (log)
		audit_blocklist(log, verb, id, s->tier, s->image, &m);
	rw_bl_refuse(&m, err);
	rw_bl_match_release(&m);
	return -1;
}


/* ---- egress: the rules of a tier on the host side of the container's link ---- */

/* The rules as the record keeps them (what the hook installs). */
static struct json *egress_json(const struct rw_egress_def *const *defs, size_t n, rw_error_t *err)
{
	struct json *arr = json_new(JSON_ARRAY);
	size_t i, k;

	for (i = 0; arr && i < n; i++) {
		const struct rw_egress_def *d = defs[i];
		struct json *o = json_new(JSON_OBJECT), *cidrs = json_new(JSON_ARRAY), *ports = json_new(JSON_ARRAY);
		char buf[32];
		int r = 0;

		for (k = 0; cidrs && r == 0 && k < d->ncidrs; k++)
			r = json_push(cidrs, json_new_string(d->cidrs[k]), err);
		for (k = 0; ports && r == 0 && k < d->nports; k++) {
			snprintf(buf, sizeof(buf), "%u-%u", d->ports[k].lo, d->ports[k].hi);
			r = json_push(ports, json_new_string(buf), err);
		}
		if (o == NULL || cidrs == NULL || ports == NULL || r < 0 ||
		    json_set(o, "name", json_new_string(d->name), err) < 0 ||
		    json_set(o, "allow", json_new(d->allow ? JSON_TRUE : JSON_FALSE), err) < 0 ||
		    json_set(o, "cidrs", cidrs, err) < 0 ||
		    json_set(o, "ports", ports, err) < 0 ||
		    json_set(o, "tcp", json_new(d->protocols != RW_EGRESS_UDP ? JSON_TRUE : JSON_FALSE), err) < 0 ||
		    json_set(o, "udp", json_new(d->protocols != RW_EGRESS_TCP ? JSON_TRUE : JSON_FALSE), err) < 0 ||
		    json_push(arr, o, err) < 0) {
			if (cidrs && (o == NULL || json_get(o, "cidrs") != cidrs))
				json_free(cidrs);
			if (ports && (o == NULL || json_get(o, "ports") != ports))
				json_free(ports);
			json_free(arr);
			return NULL;
		}
	}
	return arr;
}


/* A program installed beside runwarden: runwarden-egress talks netlink
 * (libmnl has no static archive on Debian, and the hot path stays a static
 * binary), runwarden-sentry BPF. */
static int sibling_program(const char *name, char *out, size_t size, rw_error_t *err)
{
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (len <= 0)
		return rw_error(err, errno, "%s: runwarden's own path", name);
	self[len] = '\0';
	slash = strrchr(self, '/');
	if (slash == NULL || (size_t)snprintf(out, size, "%.*s/%s", (int)(slash - self), self, name) >= size)
		return rw_error(err, ENAMETOOLONG, "%s: runwarden's own path", name);
	if (access(out, X_OK) < 0)
		return rw_error(err, errno, "%s (installed beside runwarden)", out);
	return 0;
}

static int egress_program(char *out, size_t size, rw_error_t *err)
{
	return sibling_program("runwarden-egress", out, size, err);
}

/* top: the sentry's table (runwarden-sentry --top, with the rest of argv). */
static int exec_top(const struct rw_cmdline *cl, rw_error_t *err)
{
	char path[PATH_MAX];
	cleanup_free char **argv = NULL;
	int i, n = 0;

	if (sibling_program("runwarden-sentry", path, sizeof(path), err) < 0)
		return -1;
	argv = calloc((size_t)cl->argc + 2, sizeof(*argv));
	if (argv == NULL)
		return rw_error(err, ENOMEM, "top");
	argv[n++] = path;
	argv[n++] = (char *)"--top";
	/* everything after the verb, flags included, is the sentry's */
	for (i = 1; i < cl->argc && strcmp(cl->argv[i], "top") != 0; i++)
		;
	for (i++; i < cl->argc; i++)
		argv[n++] = cl->argv[i];
	execv(path, argv);
	return rw_error(err, errno, "exec %s", path);
}

static int exec_egress_program(const struct rw_cmdline *cl, rw_error_t *err)
{
	char path[PATH_MAX];

	if (egress_program(path, sizeof(path), err) < 0)
		return -1;
	cl->argv[0] = path;
	execv(path, cl->argv);
	return rw_error(err, errno, "exec %s", path);
}

/* create: the rules go into the record; two hooks go into config.json: after
 * the engine's own prestart hooks (Docker's libnetwork-setkey wires the
 * veth) one installs them, a poststop one removes them at delete. */
static int egress_plan(const struct rw_cmdline *cl, const char *id, struct plan *p, struct json *spec, rw_error_t *err)
{
	cleanup_free const struct rw_egress_def **defs = NULL;
	size_t n, k;
	char self[PATH_MAX];
	struct json *hooks;
	struct json_buf rules_buf = { 0 };
	cleanup_free char *rules_text = NULL;
	static const char *const kinds[] = { "prestart", "poststop" };

	if (rw_policy_egress(&p->pol, p->dec.tier, &defs, &n) < 0)
		return rw_error(err, ENOMEM, "egress rules");
	if (n == 0)
		return 0;
	p->egress = egress_json(defs, n, err);
	if (p->egress == NULL)
		return -1;
	/* Fail closed: rules that cannot be installed must not go unnoticed. */
	if (egress_program(self, sizeof(self), err) < 0)
		return -1;
	if (json_emit(p->egress, &rules_buf, err) < 0 || json_buf_add_nl(&rules_buf) < 0) {
		free(rules_buf.p);
		return rw_error(err, ENOMEM, "egress rules");
	}
	rules_buf.p[rules_buf.len - 1] = '\0';
	rules_text = rules_buf.p;
	hooks = json_get_object(spec, "hooks", err);
	if (hooks == NULL)
		return rw_error_prefix(err, "config.json");
	for (k = 0; k < 2; k++) {
		struct json *list = json_get(hooks, kinds[k]), *h = json_new(JSON_OBJECT), *args = json_new(JSON_ARRAY);

		if (list == NULL || list->type == JSON_NULL) {
			if (json_set(hooks, kinds[k], json_new(JSON_ARRAY), err) < 0) {
				json_free(h);
				json_free(args);
				return -1;
			}
			list = json_get(hooks, kinds[k]);
		}
		if (list->type != JSON_ARRAY) {
			json_free(h);
			json_free(args);
			return rw_error(err, 0, "config.json: hooks.%s is not an array", kinds[k]);
		}
		/* The hook's refusal goes to the caller's --log too: crun keeps
		 * no hook's stderr. The rules travel in the arguments: a
		 * foreground run has no record. */
		if (h == NULL || args == NULL || json_push(args, json_new_string("runwarden-egress"), err) < 0 ||
		    (cl->root && (json_push(args, json_new_string("--root"), err) < 0 ||
				  json_push(args, json_new_string(cl->root), err) < 0)) ||
		    (cl->log && (json_push(args, json_new_string("--log"), err) < 0 ||
				 json_push(args, json_new_string(cl->log), err) < 0 ||
				 json_push(args, json_new_string("--log-format"), err) < 0 ||
				 json_push(args, json_new_string(cl->log_format ? cl->log_format : "text"), err) < 0)) ||
		    json_push(args, json_new_string("egress-hook"), err) < 0 ||
		    (k == 1 && json_push(args, json_new_string("--remove"), err) < 0) ||
		    (k == 0 && (json_push(args, json_new_string("--rules"), err) < 0 ||
				json_push(args, json_new_string(rules_text), err) < 0)) ||
		    json_push(args, json_new_string(id), err) < 0 ||
		    json_set(h, "path", json_new_string(self), err) < 0) {
			json_free(h);
			json_free(args);
			return -1;
		}
		if (json_set(h, "args", args, err) < 0) {
			json_free(h);
			return -1;
		}
		if (json_push(list, h, err) < 0)
			return -1;
	}
	rw_strv_pushf(&p->ch.lines, &p->ch.n, "hooks: runwarden egress-hook added (prestart, poststop; %zu rules)", n);
	return 0;
}

/* create/run: the image, the command, the environment and the rootfs. */
static int blocklist_create(const struct rw_cmdline *cl, const char *id, struct plan *p, const struct json *spec,
			    rw_error_t *err)
{
	const char *root = str_of(json_getv(spec, "root", "path", NULL));
	struct rw_bl_subject s = { .tier = p->dec.tier->name, .image = p->dec.image, .image_digest = p->dec.image_digest,
				   .process = json_get(spec, "process"), .field = "process", .scan_dirs = true };
	bool dry = cl->verb == VERB_EXPLAIN;

	s.cwd = str_of(json_get(s.process, "cwd"));
	if (root && *root) {
		int n = root[0] == '/' ? snprintf(p->rootfs, sizeof(p->rootfs), "%s", root)
				       : snprintf(p->rootfs, sizeof(p->rootfs), "%s/%s", p->bundle, root);
		if (n < 0 || (size_t)n >= sizeof(p->rootfs))
			return rw_error(err, ENAMETOOLONG, "root.path %s", root);
		/* No rootfs, nothing to run from it: the delegate refuses the bundle. */
		if (access(p->rootfs, F_OK) == 0 || errno != ENOENT)
			s.rootfs = p->rootfs;
		else
			p->rootfs[0] = '\0';
	}
	p->bl_checked = true;
	return blocklist_gate(&p->pol.blocklist, &s, dry ? NULL : rw_policy_audit_log(&p->pol),
			      cl->verb == VERB_RUN ? "run" : "create", id, &p->bl_stats, err);
}

static int plan_create(const struct rw_cmdline *cl, const char *id, struct plan *p, rw_error_t *err)
{
	cleanup_json struct json *spec = NULL;
	struct rw_ctx ctx = { .cl = cl, .policy = &p->pol, .delegate = &p->d, .decision = &p->dec,
			      .limits = &p->lim, .changes = &p->ch };
	struct rw_cmdline cl_id = *cl;
	struct stat st;

	memset(p, 0, sizeof(*p));
	/* Fail closed: no container starts under a policy runwarden cannot read. */
	if (rw_policy_load(rw_policy_path(), &p->pol, err) < 0)
		return -1;
	p->pol_loaded = true;
	if (p->pol.test_refuse)
		return rw_error(err, 0, "refused: %s (test_refuse in %s)", p->pol.test_refuse, p->pol.path);
	if (realpath(cl->bundle ? cl->bundle : ".", p->bundle) == NULL)
		return rw_error(err, errno, "bundle %s", cl->bundle ? cl->bundle : ".");
	if (stat(p->bundle, &st) < 0 || !S_ISDIR(st.st_mode))
		return rw_error(err, 0, "bundle %s: not a directory", p->bundle);
	snprintf(p->config, sizeof(p->config), "%s/config.json", p->bundle);
	ctx.bundle = p->bundle;
	cl_id.id = id;
	ctx.cl = &cl_id;
	if (rw_doc_load(p->config, &spec, err) < 0)
		return -1;
	if (spec->type != JSON_OBJECT)
		return rw_error(err, 0, "config.json: the top level must be a JSON object");
	if (rw_decide(&p->pol, spec, id, &p->dec, err) < 0 ||
	    rw_delegate_resolve(p->dec.delegate, &p->d, err) < 0)
		return -1;
	if (!p->dec.trusted && blocklist_create(cl, id, p, spec, err) < 0)
		return -1;
	if (!p->dec.trusted && egress_plan(cl, id, p, spec, err) < 0)
		return -1;
	return rw_doc_prepare(&ctx, DOC_SPEC, p->config, spec, &p->pending, err);
}

static int verb_create(const struct rw_cmdline *cl, rw_error_t *err)
{
	struct plan p;
	struct rw_delegate owner;
	struct json *limits = NULL;
	bool keep_record;
	int found;

	/* Everything that can refuse comes before anything is written: the
	 * document is rewritten in memory, then the record, then config.json. */
	if (plan_create(cl, cl->id, &p, err) < 0)
		goto fail;
	/* An id whose state a delegate still holds is that delegate's container:
	 * rewriting the record now would send its later verbs elsewhere. (A record
	 * without state is stale, from a create that never got its delete.) */
	found = rw_delegate_probe(cl, &owner, err);
	if (found < 0)
		goto fail;
	if (found) {
		rw_error(err, 0, "container \"%s\" already exists (delegate %s)", cl->id, owner.name);
		goto fail;
	}
	if (p.dec.trusted &&
	    rw_audit(&p.pol, rw_policy_audit_log(&p.pol), "trusted", cl->id, "\"rule\":\"%s\",\"delegate\":\"%s\",\"image\":\"%s\"",
		     p.dec.trusted->name, p.d.name, p.dec.image ? p.dec.image : "") < 0) {
		rw_error(err, errno, "trusted container refused: cannot write the audit log %s", rw_policy_audit_log(&p.pol));
		goto fail;
	}
	/* A foreground `run` deletes its container when it exits, after runwarden
	 * is gone: no record to leave behind (later verbs find it by probing). */
	keep_record = cl->verb == VERB_CREATE || cl->detach || cl->keep;
	if (keep_record) {
		if (rw_limits_to_json(&p.lim, &limits, err) < 0)
			goto fail;
		json_set(limits, "audit_log", json_new_string(rw_policy_audit_log(&p.pol)), err);
		/* exec checks its program in this rootfs, and names the image */
		if (p.rootfs[0])
			json_set(limits, "rootfs", json_new_string(p.rootfs), err);
		if (p.dec.image)
			json_set(limits, "image", json_new_string(p.dec.image), err);
		if (p.egress) {
			json_set(limits, "egress", p.egress, err);
			p.egress = NULL;
		}
		if (rw_record_write(cl, &p.d, p.bundle, limits, err) < 0)
			goto fail;
	} else if (rw_record_remove(cl, err) < 0)
		goto fail;
	if (rw_rewrite_commit(&p.pending, err) < 0) {
		cleanup_error rw_error_t ignored = NULL;
		if (keep_record)
			rw_record_remove(cl, &ignored);
		goto fail;
	}
	{
		struct rw_delegate d = p.d;
		plan_release(&p);
		rw_shield_dev_null();
		return exec_delegate(cl, &d, err);
	}
fail:
	plan_release(&p);
	return -1;
}

/* The limits a container was created with (its record), or, without a
 * record, the strictest: the default tier's, capabilities none. */
static int container_limits(const struct rw_cmdline *cl, const struct json *rec, struct rw_limits *lim,
			    char **audit_log, rw_error_t *err)
{
	const struct json *l = json_get(rec, "limits");
	struct rw_policy pol;

	*audit_log = NULL;
	if (l && rw_limits_from_json(l, lim) == 0) {
		const struct json *a = json_get(l, "audit_log");
		if (a && a->type == JSON_STRING)
			*audit_log = strdup(a->u.str.s);
		return 0;
	}
	rw_limits_release(lim);
	if (rw_policy_load(rw_policy_path(), &pol, err) < 0)
		return rw_error_prefix(err, "container %s has no record of its limits", cl->id);
	rw_limits_for_tier(rw_policy_tier(&pol, pol.default_tier), lim);
	*audit_log = strdup(rw_policy_audit_log(&pol));
	rw_policy_release(&pol);
	return 0;
}

/* exec into a tenant container: its process (or `exec ID CMD...`'s words)
 * and the program it runs, in the container's rootfs. The policy must be
 * readable: fail closed. */
static int blocklist_exec(const struct rw_cmdline *cl, const struct json *rec, const struct rw_limits *lim,
			  const char *audit, rw_error_t *err)
{
	const struct json *l = json_get(rec, "limits");
	struct rw_policy pol;
	struct rw_bl_stats st;
	cleanup_json struct json *proc = NULL;
	struct rw_bl_subject s = { .tier = lim->tier, .field = "exec process", .image = str_of(json_get(l, "image")),
				   .rootfs = str_of(json_get(l, "rootfs")) };
	int r;

	if (rw_policy_load(rw_policy_path(), &pol, err) < 0)
		return rw_error_prefix(err, "exec refused");
	if (cl->process) {
		if (rw_doc_load(cl->process, &proc, err) < 0) {
			rw_policy_release(&pol);
			return -1;
		}
		s.process = proc;
		s.cwd = str_of(json_get(proc, "cwd"));
	} else if (cl->rest_index + 1 < cl->argc) {
		s.argv = cl->argv + cl->rest_index + 1;
		s.argc = (size_t)(cl->argc - cl->rest_index - 1);
	}
	r = blocklist_gate(&pol.blocklist, &s, audit, "exec", cl->id, &st, err);
	rw_policy_release(&pol);
	return r;
}

static int verb_exec(const struct rw_cmdline *cl, rw_error_t *err)
{
	struct rw_delegate d;
	struct rw_limits lim = { 0 };
	struct rw_changes ch = { 0 };
	cleanup_free char *audit = NULL;
	struct rw_ctx ctx = { .cl = cl, .delegate = &d, .limits = &lim, .changes = &ch };
	/* read once: it names the delegate and the limits */
	cleanup_json struct json *rec = rw_record_load(cl);
	int r = -1;

	if (container_delegate(cl, rec, &d, err) < 0 || container_limits(cl, rec, &lim, &audit, err) < 0)
		goto out;
	/* `exec ID cmd...` with a command line: runc builds the process from
	 * config.json (already the tier's) and the flags; those that would add
	 * privilege are refused for tenants. */
	if (cl->process == NULL && lim.tenant && cl->exec_privileged) {
		rw_error(err, 0, "refused: exec with added capabilities or privileges (tier %s)", lim.tier);
		goto out;
	}
	if (lim.tenant && blocklist_exec(cl, rec, &lim, audit, err) < 0)
		goto out;
	if (cl->process && rw_rewrite_file(&ctx, DOC_PROCESS, cl->process, err) < 0)
		goto out;
	r = 0;
out:
	rw_limits_release(&lim);
	rw_changes_release(&ch);
	if (r < 0)
		return -1;
	rw_shield_dev_null();
	return exec_delegate(cl, &d, err);
}

/* runc update's flags cannot be rewritten (argv goes on unchanged): values
 * within the container's tier pass, a value above it is refused. */
static int update_flags_within(const struct rw_cmdline *cl, const struct rw_limits *lim, rw_error_t *err)
{
	uint64_t v;
	long long n;
	char *end;

	if (cl->upd_memory && (rw_parse_size(cl->upd_memory, &v) < 0 || (int64_t)v > lim->memory))
		return rw_error(err, 0, "refused: update --memory %s is above tier %s's %lld bytes", cl->upd_memory, lim->tier, (long long)lim->memory);
	if (cl->upd_swap && (rw_parse_size(cl->upd_swap, &v) < 0 || (int64_t)v > lim->memory))
		return rw_error(err, 0, "refused: update --memory-swap %s is above tier %s's %lld bytes (no swap)", cl->upd_swap, lim->tier, (long long)lim->memory);
	if (cl->upd_pids && ((n = strtoll(cl->upd_pids, &end, 10)) <= 0 || *end || n > lim->pids))
		return rw_error(err, 0, "refused: update --pids-limit %s is above tier %s's %lld", cl->upd_pids, lim->tier, (long long)lim->pids);
	if (cl->upd_quota || cl->upd_period) {
		long long q = cl->upd_quota ? strtoll(cl->upd_quota, NULL, 10) : lim->cpu_quota;
		long long p = cl->upd_period ? strtoll(cl->upd_period, NULL, 10) : (long long)lim->cpu_period;
		if (q <= 0 || p <= 0 || (double)q / (double)p > (double)lim->cpu_quota / (double)lim->cpu_period + 1e-9)
			return rw_error(err, 0, "refused: update --cpu-quota/--cpu-period above tier %s's %lld/%llu", lim->tier,
					(long long)lim->cpu_quota, (unsigned long long)lim->cpu_period);
	}
	return 0;
}

static int verb_update(const struct rw_cmdline *cl, rw_error_t *err)
{
	struct rw_delegate d;
	struct rw_limits lim = { 0 };
	struct rw_changes ch = { 0 };
	cleanup_free char *audit = NULL;
	struct rw_ctx ctx = { .cl = cl, .delegate = &d, .limits = &lim, .changes = &ch };
	/* read once: it names the delegate and the limits */
	cleanup_json struct json *rec = rw_record_load(cl);
	size_t i;
	int r = -1;

	if (container_delegate(cl, rec, &d, err) < 0 || container_limits(cl, rec, &lim, &audit, err) < 0)
		goto out;
	if (lim.tenant && cl->update_flags && update_flags_within(cl, &lim, err) < 0)
		goto out;
	if (cl->resources && (strcmp(cl->resources, "-") == 0 ? rw_rewrite_stdin(&ctx, DOC_RESOURCES, err)
							      : rw_rewrite_file(&ctx, DOC_RESOURCES, cl->resources, err)) < 0)
		goto out;
	for (i = 0; i < ch.n; i++) {
		cleanup_free char *q = rw_json_quote(ch.lines[i]);
		rw_audit(NULL, audit, "clamp", cl->id, "\"tier\":\"%s\",\"change\":%s", lim.tier, q ? q : "\"\"");
	}
	r = 0;
out:
	rw_limits_release(&lim);
	rw_changes_release(&ch);
	return r < 0 ? -1 : exec_delegate(cl, &d, err);
}

static int verb_policy(const struct rw_cmdline *cl, rw_error_t *err)
{
	const char *sub = cl->rest_index < cl->argc ? cl->argv[cl->rest_index] : NULL;
	const char *arg = sub && cl->rest_index + 1 < cl->argc ? cl->argv[cl->rest_index + 1] : NULL;

	if (sub && strcmp(sub, "check") == 0) {
		const char *path = arg ? arg : rw_policy_path();
		int n = rw_policy_check(path, stdout);
		if (n == 0)
			printf("%s: valid\n", path);
		fflush(stdout);
		exit(n == 0 ? 0 : 1);
	}
	if (sub && strcmp(sub, "show") == 0) {
		cleanup_free char *buf = NULL;
		size_t len;
		if ((arg && strcmp(arg, "--default") == 0) || access(rw_policy_path(), F_OK) < 0) {
			fputs(rw_default_policy_text, stdout);
			exit(0);
		}
		if (rw_read_file(rw_policy_path(), 4u << 20, &buf, &len, err) < 0)
			return -1;
		fwrite(buf, 1, len, stdout);
		exit(0);
	}
	return rw_error(err, 0, "usage: runwarden policy check [FILE] | runwarden policy show [--default]");
}

static int verb_explain(const struct rw_cmdline *cl, rw_error_t *err)
{
	struct plan p;
	char idbuf[PATH_MAX];
	const char *id = cl->id;
	size_t i;
	int r;

	if (id == NULL) {
		/* containerd names the bundle directory after the container */
		char b[PATH_MAX];
		const char *base;
		if (realpath(cl->bundle ? cl->bundle : ".", b) == NULL)
			return rw_error(err, errno, "bundle %s", cl->bundle ? cl->bundle : ".");
		base = strrchr(b, '/') ? strrchr(b, '/') + 1 : b;
		snprintf(idbuf, sizeof(idbuf), "%s", rw_valid_id(base) ? base : "explain");
		id = idbuf;
	}
	r = plan_create(cl, id, &p, err);
	printf("bundle: %s\n", p.bundle[0] ? p.bundle : (cl->bundle ? cl->bundle : "."));
	printf("policy: %s\n", p.pol_loaded ? p.pol.path : rw_policy_path());
	if (p.dec.trusted)
		printf("trusted: rule \"%s\" (unchanged)\n", p.dec.trusted->name);
	else if (p.dec.tier)
		printf("tier: %s (from %s)\n", p.dec.tier->name, p.dec.source);
	if (p.d.path[0])
		printf("delegate: %s (%s)\n", p.d.name, p.d.path);
	if (p.bl_checked && r == 0)
		printf("blocklist: %llu files, %llu hashed, %llu cached, %.2f ms%s%s\n",
		       (unsigned long long)p.bl_stats.files, (unsigned long long)p.bl_stats.hashed,
		       (unsigned long long)p.bl_stats.cached, p.bl_stats.ms, p.bl_stats.limit ? ", stopped at " : "",
		       p.bl_stats.limit ? p.bl_stats.limit : "");
	for (i = 0; i < p.ch.n; i++)
		printf("change: %s\n", p.ch.lines[i]);
	if (r < 0) {
		const char *m = err && *err ? (*err)->msg : "?";
		printf("refused: %s\n", strncmp(m, "refused: ", 9) == 0 ? m + 9 : m);
	}
	fflush(stdout);
	plan_release(&p);
	exit(r < 0 ? 1 : 0);
}

static int verb_delete(const struct rw_cmdline *cl, rw_error_t *err)
{
	struct rw_delegate d;
	cleanup_json struct json *rec = rw_record_load(cl);

	if (container_delegate(cl, rec, &d, err) < 0)
		return -1;
	/* The delegate is exec'd, so the record must go first. Should the delete
	 * fail (a running container without --force), a retry finds the delegate
	 * by probing its state. */
	if (rw_record_remove(cl, err) < 0)
		return -1;
	return exec_delegate(cl, &d, err);
}

static int verb_other(const struct rw_cmdline *cl, rw_error_t *err)
{
	struct rw_delegate d;
	cleanup_json struct json *rec = cl->id ? rw_record_load(cl) : NULL;

	if (cl->id ? container_delegate(cl, rec, &d, err) < 0 : configured_delegate(&d, err) < 0)
		return -1;
	return exec_delegate(cl, &d, err);
}

int main(int argc, char **argv)
{
	struct rw_cmdline cl;
	cleanup_error rw_error_t err = NULL;
	struct rw_delegate d;
	int r;

	r = rw_parse_cmdline(argc, argv, &cl, &err);
	if (r == 0 && cl.verb == VERB_NONE && cl.version) {
		cleanup_error rw_error_t derr = NULL;
		r = configured_delegate(&d, &derr);
		return rw_print_version(r < 0 ? NULL : &d, derr ? derr->msg : "");
	}
	if (r == 0) {
		switch (cl.verb) {
		case VERB_CREATE:
		case VERB_RUN:
			r = cl.help ? verb_other(&cl, &err) : verb_create(&cl, &err);
			break;
		case VERB_EXEC:
			r = verb_exec(&cl, &err);
			break;
		case VERB_UPDATE:
			r = verb_update(&cl, &err);
			break;
		case VERB_DELETE:
			r = verb_delete(&cl, &err);
			break;
		case VERB_POLICY:
			r = verb_policy(&cl, &err);
			break;
		case VERB_EXPLAIN:
			r = verb_explain(&cl, &err);
			break;
		case VERB_EGRESS_HOOK:
		case VERB_EGRESS:
		case VERB_GC:
			r = exec_egress_program(&cl, &err);
			break;
		case VERB_TOP:
			r = exec_top(&cl, &err);
			break;
		case VERB_DOCTOR:
		case VERB_INSTALL:
		case VERB_UNINSTALL: {
			/* everything after the verb is the verb's own (getopt) */
			int i = 1;
			while (i < cl.argc && strcmp(cl.argv[i], cl.verb == VERB_DOCTOR ? "doctor" :
						     cl.verb == VERB_INSTALL ? "install" : "uninstall") != 0)
				i++;
			r = cl.verb == VERB_DOCTOR ? rw_doctor_main(cl.argc - i, cl.argv + i, &err)
						   : rw_install_main(cl.argc - i, cl.argv + i, cl.verb == VERB_UNINSTALL, &err);
			if (r >= 0)
				return r;
			break;
		}
		case VERB_FEATURES:
			r = configured_delegate(&d, &err);
			if (r == 0)
				r = rw_print_features(&d, &err);
			if (r == 0)
				return 0;
			break;
		default:
			r = verb_other(&cl, &err);
			break;
		}
	}
	/* Only failures get here: exec replaced us otherwise. */
	rw_report_error(cl.log, cl.log_format, err ? err->msg : "unknown error");
	return 1;
}
