#include "config.h"
#include "shim/rewrite.h"
#include "shim/fileio.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The tier: config.json at create, the process at exec, resources at update. */
static int stage_enforce(const struct rw_ctx *ctx, struct json *doc, enum rw_doc kind, bool *changed, rw_error_t *err)
{
	size_t before = ctx->changes->n;
	int r;

	if (kind == DOC_SPEC)
		r = rw_enforce_spec(ctx->policy, ctx->decision, ctx->cl->id, ctx->bundle, doc, ctx->changes,
				    ctx->limits, err);
	else if (kind == DOC_PROCESS)
		r = rw_enforce_process(ctx->limits, doc, ctx->changes, err);
	else
		r = rw_enforce_resources(ctx->limits, doc, ctx->changes, err);
	if (ctx->changes->n > before || kind == DOC_SPEC)
		*changed = true;
	return r;
}

static int stage_enforce_spec(const struct rw_ctx *ctx, struct json *doc, bool *changed, rw_error_t *err)
{
	return stage_enforce(ctx, doc, DOC_SPEC, changed, err);
}

static int stage_enforce_process(const struct rw_ctx *ctx, struct json *doc, bool *changed, rw_error_t *err)
{
	return stage_enforce(ctx, doc, DOC_PROCESS, changed, err);
}

static int stage_enforce_resources(const struct rw_ctx *ctx, struct json *doc, bool *changed, rw_error_t *err)
{
	return stage_enforce(ctx, doc, DOC_RESOURCES, changed, err);
}

/* Records what runwarden decided. */
static int stage_annotate(const struct rw_ctx *ctx, struct json *spec, bool *changed, rw_error_t *err)
{
	struct json *ann = json_get_object(spec, "annotations", err);

	if (ann == NULL)
		return rw_error_prefix(err, "config.json");
	if (json_set(ann, "org.runwarden.delegate", json_new_string(ctx->delegate->name), err) < 0 ||
	    json_set(ann, "org.runwarden.version", json_new_string(PACKAGE_VERSION), err) < 0)
		return -1;
	*changed = true;
	return 0;
}

static const struct rw_stage stages[] = {
	{ "enforce", DOC_SPEC, stage_enforce_spec },
	{ "annotate", DOC_SPEC, stage_annotate },
	{ "enforce", DOC_PROCESS, stage_enforce_process },
	{ "enforce", DOC_RESOURCES, stage_enforce_resources },
};

static const char *doc_name(enum rw_doc doc)
{
	return doc == DOC_SPEC ? "config.json" : doc == DOC_PROCESS ? "process" : "resources";
}

int rw_run_stages(const struct rw_ctx *ctx, enum rw_doc doc, struct json *tree, bool *changed,
		  rw_error_t *err)
{
	size_t i;

	if (tree->type != JSON_OBJECT)
		return rw_error(err, 0, "%s: the top level must be a JSON object", doc_name(doc));
	for (i = 0; i < sizeof(stages) / sizeof(stages[0]); i++)
		if (stages[i].doc == doc && stages[i].fn(ctx, tree, changed, err) < 0)
			return -1;
	return 0;
}

int rw_doc_load(const char *path, struct json **tree, rw_error_t *err)
{
	cleanup_free char *buf = NULL;
	size_t len;

	*tree = NULL;
	if (rw_read_file(path, RW_MAX_DOCUMENT, &buf, &len, err) < 0)
		return -1;
	return json_parse(buf, len, 0, path, tree, err);
}

int rw_doc_prepare(const struct rw_ctx *ctx, enum rw_doc doc, const char *path, struct json *tree,
		   struct rw_pending *p, rw_error_t *err)
{
	struct json_buf out = { 0 };
	bool changed = false;

	p->path = path;
	p->text = NULL;
	p->len = 0;
	if (rw_run_stages(ctx, doc, tree, &changed, err) < 0)
		return -1;
	if (!changed)
		return 0;
	if (json_emit(tree, &out, err) < 0) {
		free(out.p);
		return -1;
	}
	p->text = out.p;
	p->len = out.len;
	return 0;
}

int rw_rewrite_prepare(const struct rw_ctx *ctx, enum rw_doc doc, const char *path,
		       struct rw_pending *p, rw_error_t *err)
{
	cleanup_json struct json *tree = NULL;

	p->path = path;
	p->text = NULL;
	p->len = 0;
	if (rw_doc_load(path, &tree, err) < 0)
		return -1;
	return rw_doc_prepare(ctx, doc, path, tree, p, err);
}

int rw_rewrite_commit(struct rw_pending *p, rw_error_t *err)
{
	struct stat st;

	if (p->text == NULL)
		return 0;
	if (stat(p->path, &st) < 0)
		return rw_error(err, errno, "stat %s", p->path);
	return rw_write_file_atomic(p->path, p->text, p->len, st.st_mode & 07777, st.st_uid, st.st_gid, true, err);
}

void rw_pending_release(struct rw_pending *p)
{
	free(p->text);
	p->text = NULL;
}

int rw_rewrite_file(const struct rw_ctx *ctx, enum rw_doc doc, const char *path, rw_error_t *err)
{
	struct rw_pending p;
	int r = rw_rewrite_prepare(ctx, doc, path, &p, err);

	if (r == 0)
		r = rw_rewrite_commit(&p, err);
	rw_pending_release(&p);
	return r;
}

int rw_rewrite_stdin(const struct rw_ctx *ctx, enum rw_doc doc, rw_error_t *err)
{
	cleanup_free char *buf = NULL;
	cleanup_json struct json *tree = NULL;
	cleanup_close int fd = -1;
	struct json_buf out = { 0 };
	bool changed = false;
	size_t len, off = 0;

	if (rw_read_fd(0, "stdin", RW_MAX_DOCUMENT, &buf, &len, err) < 0 ||
	    json_parse(buf, len, 0, "stdin", &tree, err) < 0 ||
	    rw_run_stages(ctx, doc, tree, &changed, err) < 0)
		return -1;
	/* stdin is consumed: hand the delegate the (possibly rewritten) document on a
	 * memfd at fd 0, so argv stays exactly what the caller sent ("-"). */
	fd = memfd_create("runwarden-stdin", MFD_CLOEXEC);
	if (fd < 0)
		return rw_error(err, errno, "memfd_create");
	if (changed) {
		if (json_emit(tree, &out, err) < 0) {
			free(out.p);
			return -1;
		}
	}
	{
		const char *p = changed ? out.p : buf;
		size_t n = changed ? out.len : len;
		while (off < n) {
			ssize_t w = write(fd, p + off, n - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				free(out.p);
				return rw_error(err, errno, "write memfd");
			}
			off += (size_t)w;
		}
	}
	free(out.p);
	if (lseek(fd, 0, SEEK_SET) < 0 || dup2(fd, 0) < 0)
		return rw_error(err, errno, "stdin for the delegate");
	return 0;
}
