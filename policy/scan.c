/* The root filesystem part of the blocklist. STUB: the scanner lands here (helper). */
#include "config.h"
#include "policy/blocklist.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <nettle/sha2.h>

int rw_bl_scan_rootfs(const struct rw_blocklist *bl, const struct rw_bl_subject *s, char *const *programs,
		      size_t nprograms, const char *path_env, struct rw_bl_match *m, struct rw_bl_stats *st,
		      rw_error_t *err)
{
	(void)bl; (void)s; (void)programs; (void)nprograms; (void)path_env; (void)m; (void)st; (void)err;
	return 0;
}

int rw_sha256_fd(int fd, uint64_t max, unsigned char out[32])
{
	struct sha256_ctx c;
	unsigned char buf[65536];
	uint64_t total = 0;
	ssize_t n;

	sha256_init(&c);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		total += (uint64_t)n;
		if (total > max)
			return -1;
		sha256_update(&c, (size_t)n, buf);
	}
	sha256_digest(&c, SHA256_DIGEST_SIZE, out);
	return 0;
}
