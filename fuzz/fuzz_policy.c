/* libFuzzer target for policy/policy.c: the input is the policy file, on a
 * memfd read through /proc/self/fd/N (the same open/fstat/read path as a real
 * file). On success the fields must be NUL-free C strings (or NULL), on
 * failure an error must be set and nothing kept. abort() on any violation. */
#define _GNU_SOURCE
#include "config.h"
#include "policy/policy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_policy: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rw_policy pol;
	rw_error_t err = NULL;
	char path[64];
	size_t off = 0;
	int fd = memfd_create("fuzz-policy", MFD_CLOEXEC);

	if (fd < 0)
		fail("memfd_create");
	while (off < size) {
		ssize_t w = write(fd, data + off, size - off);
		if (w <= 0)
			fail("write memfd");
		off += (size_t)w;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

	if (rw_policy_load(path, &pol, &err) < 0) {
		if (err == NULL || err->msg == NULL)
			fail("failure without an error");
		if (pol.delegate != NULL || pol.test_refuse != NULL)
			fail("failure that keeps strings");
		rw_error_free(&err);
	} else {
		if (err != NULL)
			fail("success with an error");
		if (!pol.from_file || pol.path != path)
			fail("from_file or path wrong");
		/* touch every byte: ASan checks the strings are terminated */
		if (pol.delegate)
			(void)strlen(pol.delegate);
		if (pol.test_refuse)
			(void)strlen(pol.test_refuse);
		rw_policy_release(&pol);
		if (pol.delegate != NULL || pol.test_refuse != NULL)
			fail("release left pointers");
	}
	close(fd);
	return 0;
}
