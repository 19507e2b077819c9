/* The rewrite pipeline: a document (config.json, exec's process.json, update's
 * resources) is parsed into a lossless tree, each stage for that kind of
 * document may change it, and it is written back only if one did. */
#ifndef RW_REWRITE_H
#define RW_REWRITE_H

#include <stdbool.h>
#include "policy/enforce.h"
#include "policy/policy.h"
#include "shim/args.h"
#include "shim/delegate.h"
#include "shim/json.h"

/* Largest document accepted. Real config.json files are tens of KiB; this
 * bounds memory and time for a hostile or broken bundle. */
#define RW_MAX_DOCUMENT (8u << 20)

enum rw_doc { DOC_SPEC, DOC_PROCESS, DOC_RESOURCES };

struct rw_ctx {
	const struct rw_cmdline *cl;
	const struct rw_policy *policy;       /* create */
	const struct rw_delegate *delegate;
	const char *bundle;
	const struct rw_decision *decision;   /* create */
	struct rw_limits *limits;             /* filled at create; read at exec, update */
	struct rw_changes *changes;           /* what the stages changed */
};

struct rw_stage {
	const char *name;
	enum rw_doc doc;
	int (*fn)(const struct rw_ctx *ctx, struct json *doc, bool *changed, rw_error_t *err);
};

int rw_run_stages(const struct rw_ctx *ctx, enum rw_doc doc, struct json *tree, bool *changed,
		  rw_error_t *err);
/* A document rewritten in memory, not yet written back. */
struct rw_pending {
	const char *path;
	char *text;             /* NULL: no stage changed it, nothing to write */
	size_t len;
};
/* Reads and parses a document. */
int rw_doc_load(const char *path, struct json **tree, rw_error_t *err);
/* Runs the stages on a loaded tree and emits it; nothing is written. */
int rw_doc_prepare(const struct rw_ctx *ctx, enum rw_doc doc, const char *path, struct json *tree,
		   struct rw_pending *p, rw_error_t *err);
/* load + prepare. */
int rw_rewrite_prepare(const struct rw_ctx *ctx, enum rw_doc doc, const char *path,
		       struct rw_pending *p, rw_error_t *err);
/* Writes a prepared document back atomically (mode and owner kept), fsync'd. */
int rw_rewrite_commit(struct rw_pending *p, rw_error_t *err);
void rw_pending_release(struct rw_pending *p);
/* prepare + commit. */
int rw_rewrite_file(const struct rw_ctx *ctx, enum rw_doc doc, const char *path, rw_error_t *err);
/* Reads all of stdin, rewrites it, and leaves the result readable on fd 0
 * (a memfd) for the delegate. */
int rw_rewrite_stdin(const struct rw_ctx *ctx, enum rw_doc doc, rw_error_t *err);

#endif
