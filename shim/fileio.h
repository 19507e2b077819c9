#ifndef RW_FILEIO_H
#define RW_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "shim/error.h"

/* Reads a whole regular file of at most max bytes. */
int rw_read_file(const char *path, size_t max, char **out, size_t *len, rw_error_t *err);
/* The same for name beneath dirfd (AT_FDCWD for none); extra_flags such as
 * O_NOFOLLOW. path names the file in messages. */
int rw_read_file_at(int dirfd, const char *name, const char *path, int extra_flags, size_t max,
		    char **out, size_t *len, rw_error_t *err);
/* Reads fd to EOF, at most max bytes. */
int rw_read_fd(int fd, const char *name, size_t max, char **out, size_t *len, rw_error_t *err);
/* Replaces path atomically: a temporary file in the same directory, written,
 * given mode (and owner, when uid != -1), fsync'd when durable, renamed over
 * path. Readers see the old file or the new one, never a truncated one. */
int rw_write_file_atomic(const char *path, const char *data, size_t len, mode_t mode,
			 uid_t uid, gid_t gid, bool durable, rw_error_t *err);

#endif
