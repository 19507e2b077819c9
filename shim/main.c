/* runwarden: an OCI runtime with runc's command line. It decides, rewrites
 * the document the verb carries, records, then execv's the real runtime with
 * argv unchanged but for argv[0]: no fork, same fds, same environment, and
 * nothing on stdout/stderr on success (they are the container's streams). */
#include "config.h"
#include "policy/policy.h"
#include "shim/args.h"
#include "shim/delegate.h"
#include "shim/info.h"
#include "shim/log.h"
#include "shim/rewrite.h"
#include "shim/stdio.h"

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
static int container_delegate(const struct rw_cmdline *cl, struct rw_delegate *d, rw_error_t *err)
{
	int r = rw_record_read(cl, d, err);

	if (r == 0)
		r = rw_delegate_probe(cl, d, err);
	if (r == 0)
		r = configured_delegate(d, err);
	return r < 0 ? -1 : 0;
}

static int verb_create(const struct rw_cmdline *cl, rw_error_t *err)
{
	struct rw_policy pol;
	struct rw_delegate d;
	struct rw_ctx ctx = { .cl = cl, .policy = &pol, .delegate = &d };
	char bundle[PATH_MAX], config[PATH_MAX + 16];
	struct rw_pending pending = { 0 };
	struct stat st;
	bool keep_record;

	/* Fail closed: no container starts under a policy runwarden cannot read. */
	if (rw_policy_load(rw_policy_path(), &pol, err) < 0)
		return -1;
	if (pol.test_refuse) {
		rw_error(err, 0, "refused: %s (test_refuse in %s)", pol.test_refuse, pol.path);
		goto out;
	}
	if (rw_delegate_resolve(pol.delegate, &d, err) < 0)
		goto out;
	if (realpath(cl->bundle ? cl->bundle : ".", bundle) == NULL) {
		rw_error(err, errno, "bundle %s", cl->bundle ? cl->bundle : ".");
		goto out;
	}
	if (stat(bundle, &st) < 0 || !S_ISDIR(st.st_mode)) {
		rw_error(err, 0, "bundle %s: not a directory", bundle);
		goto out;
	}
	ctx.bundle = bundle;
	snprintf(config, sizeof(config), "%s/config.json", bundle);

	/* An id whose state a delegate still holds is that delegate's container:
	 * rewriting the record now would send its later verbs elsewhere. (A record
	 * without state is stale, from a create that never got its delete.) */
	{
		struct rw_delegate owner;
		int found = rw_delegate_probe(cl, &owner, err);
		if (found < 0)
			goto out;
		if (found) {
			rw_error(err, 0, "container \"%s\" already exists (delegate %s)", cl->id, owner.name);
			goto out;
		}
	}

	/* Everything that can refuse comes before anything is written: the
	 * document is rewritten in memory, then the record, then config.json. */
	if (rw_rewrite_prepare(&ctx, DOC_SPEC, config, &pending, err) < 0)
		goto out;
	/* A foreground `run` deletes its container when it exits, after runwarden
	 * is gone: no record to leave behind (later verbs find it by probing). */
	keep_record = cl->verb == VERB_CREATE || cl->detach || cl->keep;
	if (keep_record ? rw_record_write(cl, &d, bundle, err) < 0 : rw_record_remove(cl, err) < 0)
		goto out;
	if (rw_rewrite_commit(&pending, err) < 0) {
		cleanup_error rw_error_t ignored = NULL;
		if (keep_record)
			rw_record_remove(cl, &ignored);
		goto out;
	}
	rw_pending_release(&pending);
	rw_policy_release(&pol);
	rw_shield_dev_null();
	return exec_delegate(cl, &d, err);
out:
	rw_pending_release(&pending);
	rw_policy_release(&pol);
	return -1;
}

static int verb_exec(const struct rw_cmdline *cl, rw_error_t *err)
{
	struct rw_delegate d;
	struct rw_ctx ctx = { .cl = cl, .delegate = &d };

	if (container_delegate(cl, &d, err) < 0)
		return -1;
	if (cl->process && rw_rewrite_file(&ctx, DOC_PROCESS, cl->process, err) < 0)
		return -1;
	rw_shield_dev_null();
	return exec_delegate(cl, &d, err);
}

static int verb_update(const struct rw_cmdline *cl, rw_error_t *err)
{
	struct rw_delegate d;
	struct rw_ctx ctx = { .cl = cl, .delegate = &d };

	if (container_delegate(cl, &d, err) < 0)
		return -1;
	if (cl->resources) {
		int r = strcmp(cl->resources, "-") == 0 ? rw_rewrite_stdin(&ctx, DOC_RESOURCES, err)
							 : rw_rewrite_file(&ctx, DOC_RESOURCES, cl->resources, err);
		if (r < 0)
			return -1;
	}
	return exec_delegate(cl, &d, err);
}

static int verb_delete(const struct rw_cmdline *cl, rw_error_t *err)
{
	struct rw_delegate d;

	if (container_delegate(cl, &d, err) < 0)
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

	if (cl->id ? container_delegate(cl, &d, err) < 0 : configured_delegate(&d, err) < 0)
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
