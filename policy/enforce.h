/* From policy to spec: which tier (or trusted rule) a container gets, from
 * inputs the operator controls only, and what that does to config.json, to an
 * exec's process and to an update's resources. */
#ifndef RW_ENFORCE_H
#define RW_ENFORCE_H

#include <stdbool.h>
#include <stdint.h>
#include "policy/policy.h"
#include "shim/json.h"

/* What a tenant container was created with; recorded, so that exec and
 * update apply the container's own limits whatever the policy says later. */
struct rw_limits {
	bool tenant;            /* false: trusted, nothing enforced */
	char tier[64];
	int64_t memory;
	int64_t cpu_quota;
	uint64_t cpu_period;
	int64_t pids;
	char **caps;
	size_t ncaps;
};

struct rw_decision {
	const struct rw_tier *tier;         /* NULL when trusted */
	const struct rw_trusted *trusted;
	char source[160];                   /* annotation, label, cgroup-parent, default, trusted:NAME */
	const char *delegate;               /* the delegate spec for rw_delegate_resolve (NULL: default) */
	char *data_root;                    /* Docker's, when the container is Docker's */
	char *image;                        /* image reference, when known */
	char *image_digest;                 /* Docker's image id, or the OCI digest annotation */
};

struct rw_changes {
	char **lines;
	size_t n;
};

/* Picks the tier or trusted rule for spec (config.json) of container id. */
int rw_decide(const struct rw_policy *pol, const struct json *spec, const char *id,
	      struct rw_decision *dec, rw_error_t *err);
void rw_decision_release(struct rw_decision *dec);

/* Applies a tenant tier to config.json: refusals first (nothing changed on
 * one), then limits, read-only root, tmpfs, capabilities, no-new-privileges,
 * and the decision in annotations. Fills lim with what was applied. */
int rw_enforce_spec(const struct rw_policy *pol, const struct rw_decision *dec, const char *id,
		    const char *bundle, struct json *spec, struct rw_changes *ch, struct rw_limits *lim,
		    rw_error_t *err);
/* An exec's process: capabilities reduced to the container's, noNewPrivileges. */
int rw_enforce_process(const struct rw_limits *lim, struct json *proc, struct rw_changes *ch, rw_error_t *err);
/* An update's resources, clamped to the container's limits (swap = memory). */
int rw_enforce_resources(const struct rw_limits *lim, struct json *res, struct rw_changes *ch, rw_error_t *err);

void rw_changes_release(struct rw_changes *ch);
void rw_limits_release(struct rw_limits *lim);
/* Limits to and from the record's JSON. */
int rw_limits_to_json(const struct rw_limits *lim, struct json **out, rw_error_t *err);
int rw_limits_from_json(const struct json *j, struct rw_limits *lim);
/* The strictest limits, for a container without a record. */
void rw_limits_for_tier(const struct rw_tier *t, struct rw_limits *lim);

/* Appends one JSON line to the policy's audit log. */
int rw_audit(const struct rw_policy *pol, const char *path, const char *event, const char *id,
	     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
