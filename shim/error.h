/* One error idiom for all of runwarden (after crun's libcrun_error_t):
 * a failing function fills *err and returns a negative value; callers add
 * context with rw_error_prefix() and return; only main() prints and exits. */
#ifndef RW_ERROR_H
#define RW_ERROR_H

#include <stdlib.h>
#include <unistd.h>

struct rw_error_s {
	int errno_;   /* 0 when the failure is not a system call's */
	char *msg;
};
typedef struct rw_error_s *rw_error_t;

/* Fills *err (when err and *err is empty) and returns -1. errno_ == 0: no strerror. */
int rw_error(rw_error_t *err, int errno_, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prepends "context: " to the message already in *err; returns -1. */
int rw_error_prefix(rw_error_t *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void rw_error_free(rw_error_t *err);

static inline void rw_freep(void *p) { free(*(void **)p); }
static inline void rw_closep(int *fd) { if (*fd >= 0) close(*fd); }
#define cleanup_free __attribute__((cleanup(rw_freep)))
#define cleanup_close __attribute__((cleanup(rw_closep)))
#define cleanup_error __attribute__((cleanup(rw_error_free)))

#endif
