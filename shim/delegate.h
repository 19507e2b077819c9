/* The real runtime a container runs on, and runwarden's record of it. */
#ifndef RW_DELEGATE_H
#define RW_DELEGATE_H

#include <limits.h>
#include "shim/args.h"
#include "shim/error.h"
#include "shim/json.h"

struct rw_delegate {
	char name[64];          /* "runc", "crun", "runsc", or the basename of a path */
	char path[PATH_MAX];
};

/* spec: NULL for the embedded default (runsc if installed, else crun, else
 * runc), a name looked up in the system directories, or an absolute path. */
int rw_delegate_resolve(const char *spec, struct rw_delegate *d, rw_error_t *err);

/* The record lives beside the delegate's own state: <root>/.runwarden-<id>.json
 * (runc and runsc skip plain files when listing, crun skips dot names), or
 * under RW_STATE_DIR when the caller gave no --root. */
int rw_record_path(const struct rw_cmdline *cl, char **out, rw_error_t *err);
/* extra: members added to the record (taken, may be NULL): the tier's limits. */
int rw_record_write(const struct rw_cmdline *cl, const struct rw_delegate *d,
		    const char *bundle, struct json *extra, rw_error_t *err);
/* The record's JSON (NULL when there is none or it is damaged). */
struct json *rw_record_load(const struct rw_cmdline *cl);
/* The delegate a loaded record names: 1 and *d filled; 0 when rec is NULL or
 * names no usable delegate (a damaged record must not stop kill or delete:
 * the caller probes instead). */
int rw_record_delegate(const struct json *rec, struct rw_delegate *d);
int rw_record_remove(const struct rw_cmdline *cl, rw_error_t *err);
/* Without a record: which delegate's state holds the container. 1 found, 0 not. */
int rw_delegate_probe(const struct rw_cmdline *cl, struct rw_delegate *d, rw_error_t *err);

#endif
