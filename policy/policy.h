/* The operator's policy file, read at every invocation. For now it carries
 * the delegate and a test-only refusal switch; tiers, blocklist and egress
 * sections come with later issues. Comments are allowed. */
#ifndef RW_POLICY_H
#define RW_POLICY_H

#include <stdbool.h>
#include "shim/error.h"

struct rw_policy {
	const char *path;       /* the file read (or that would have been) */
	bool from_file;         /* false: the file does not exist, embedded default */
	char *delegate;         /* "runc", "crun", "runsc" or an absolute path; NULL: embedded default */
	char *test_refuse;      /* test-only: refuse every create/run with this message */
};

/* $RUNWARDEN_POLICY, else the path fixed at configure time. */
const char *rw_policy_path(void);
/* A missing file is not an error (embedded default); an unreadable or broken
 * one is, and callers that create containers fail closed on it. */
int rw_policy_load(const char *path, struct rw_policy *pol, rw_error_t *err);
void rw_policy_release(struct rw_policy *pol);

#endif
