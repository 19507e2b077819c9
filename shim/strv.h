/* Vectors of malloc'd strings (char **v and its count n), as the policy's
 * capability lists, its errors and a rewrite's list of changes are kept. The
 * vector stays NULL-terminated. */
#ifndef RW_STRV_H
#define RW_STRV_H

#include <stdarg.h>
#include <stddef.h>

/* Appends s, taking it; on failure frees s and returns -1. */
int rw_strv_push(char ***v, size_t *n, char *s);
/* Appends a formatted string. */
int rw_strv_pushf(char ***v, size_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int rw_strv_vpushf(char ***v, size_t *n, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
/* A copy of src[0..n) into *v (emptied first). */
int rw_strv_copy(char ***v, size_t *n, char *const *src, size_t src_n);
void rw_strv_free(char ***v, size_t *n);

#endif
