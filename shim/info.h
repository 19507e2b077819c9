/* `--version` and `features`: the only paths that run the delegate as a
 * child (to read its answer) instead of exec'ing it. */
#ifndef RW_INFO_H
#define RW_INFO_H

#include "shim/args.h"
#include "shim/delegate.h"

/* The OCI runtime-spec version runwarden's rewrite understands. */
#define RW_OCI_SPEC "1.0.2"

int rw_print_version(const struct rw_delegate *d, const char *why_none);
int rw_print_features(const struct rw_delegate *d, rw_error_t *err);

#endif
