#include "config.h"
#include "shim/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int rw_read_fd(int fd, const char *name, size_t max, char **out, size_t *len, rw_error_t *err)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap + 1);

	if (buf == NULL)
		return rw_error(err, ENOMEM, "reading %s", name);
	for (;;) {
		ssize_t r;
		if (n == cap) {
			char *nb;
			if (cap >= max + 1) {
				free(buf);
				return rw_error(err, 0, "%s: larger than %zu bytes, refused", name, max);
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			nb = realloc(buf, cap + 1);
			if (nb == NULL) {
				free(buf);
				return rw_error(err, ENOMEM, "reading %s", name);
			}
			buf = nb;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(buf);
			return rw_error(err, e, "reading %s", name);
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > max) {
		free(buf);
		return rw_error(err, 0, "%s: larger than %zu bytes, refused", name, max);
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int rw_read_file(const char *path, size_t max, char **out, size_t *len, rw_error_t *err)
{
	return rw_read_file_at(AT_FDCWD, path, path, 0, max, out, len, err);
}

int rw_read_file_at(int dirfd, const char *name, const char *path, int extra_flags, size_t max,
		    char **out, size_t *len, rw_error_t *err)
{
	/* O_NONBLOCK: a FIFO planted as config.json must not hang the runtime;
	 * it is refused below as not a regular file. */
	cleanup_close int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | extra_flags);
	struct stat st;

	if (fd < 0)
		return rw_error(err, errno, "open %s", path);
	if (fstat(fd, &st) < 0)
		return rw_error(err, errno, "stat %s", path);
	if (!S_ISREG(st.st_mode))
		return rw_error(err, 0, "%s: not a regular file", path);
	if ((unsigned long long)st.st_size > max)
		return rw_error(err, 0, "%s: %lld bytes, larger than the %zu allowed; refused", path,
				(long long)st.st_size, max);
	return rw_read_fd(fd, path, max, out, len, err);
}

int rw_write_file_atomic(const char *path, const char *data, size_t len, mode_t mode,
			 uid_t uid, gid_t gid, bool durable, rw_error_t *err)
{
	cleanup_free char *tmp = NULL;
	cleanup_close int fd = -1;
	size_t off = 0;

	if (asprintf(&tmp, "%s.runwarden-XXXXXX", path) < 0)
		return rw_error(err, ENOMEM, "writing %s", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return rw_error(err, errno, "create a temporary file beside %s", path);
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail;
		off += (size_t)w;
	}
	if (fchmod(fd, mode) < 0)
		goto fail;
	if (uid != (uid_t)-1 && fchown(fd, uid, gid) < 0)
		goto fail;
	/* No fsync of the directory: bundles and runtime state live under /run
	 * and do not outlive the node's containers; the file's fsync is what keeps
	 * a crash from leaving a renamed but empty config.json. */
	if (durable && fsync(fd) < 0)
		goto fail;
	if (rename(tmp, path) < 0)
		goto fail;
	return 0;
fail: {
		int e = errno;
		unlink(tmp);
		return rw_error(err, e, "write %s", path);
	}
}
