/* libFuzzer target for the text runwarden-sentry reads from outside:
 * /proc/self/mountinfo, /proc/PID/cgroup, cpu.stat, cpu.max
 * (cgroups/cgroup.c) and the metrics port's requests (bpf/http.c). The first
 * byte picks the parser, the rest is its input (own allocation, no NUL
 * terminator, so ASan sees any read past it). Contract: results are
 * NUL-terminated inside their buffers, paths absolute, a request's path starts
 * with '/' and holds no NUL; abort() otherwise. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/http.h"
#include "cgroups/cgroup.h"

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_sentry: %s\n", what);
	abort();
}

static void check_str(const char *s, size_t size, const char *what)
{
	if (memchr(s, 0, size) == NULL)
		fail(what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in, out[64];
	struct rw_cg_host h;
	struct rw_cg_cpu c;
	int r, head = -1;

	if (size < 1)
		return 0;
	in = malloc(size - 1 ? size - 1 : 1);
	if (in == NULL)
		return 0;
	memcpy(in, data + 1, size - 1);
	switch (data[0] % 5) {
	case 0:
		if (rw_cg_parse_mountinfo(in, size - 1, &h) == 0) {
			check_str(h.cpu_mount, sizeof(h.cpu_mount), "cpu_mount unterminated");
			check_str(h.freezer_mount, sizeof(h.freezer_mount), "freezer_mount unterminated");
			check_str(h.unified_mount, sizeof(h.unified_mount), "unified_mount unterminated");
			if (h.cpu_mount[0] == 0)
				fail("success without a cpu mount");
		}
		break;
	case 1:
		memset(out, 'x', sizeof(out));
		r = rw_cg_parse_proc_cgroup(in, size - 1, (data[0] & 8) ? NULL : "cpu", out, sizeof(out));
		if (r == 1) {
			check_str(out, sizeof(out), "cgroup path unterminated");
			if (out[0] != '/' || strstr(out, ".."))
				fail("cgroup path not absolute or with ..");
		} else if (r != 0 && r != -1)
			fail("proc cgroup result");
		break;
	case 2:
		memset(&c, 0, sizeof(c));
		rw_cg_parse_cpu_stat(in, size - 1, &c);
		break;
	case 3:
		memset(&c, 0, sizeof(c));
		if (rw_cg_parse_cpu_max(in, size - 1, &c) == 0 && (c.period_us == 0 || c.quota_us < -1))
			fail("cpu.max accepted a zero period or a negative quota");
		break;
	default:
		memset(out, 'x', sizeof(out));
		r = rw_http_parse_request(in, size - 1, out, sizeof(out), &head);
		if (r == 1) {
			check_str(out, sizeof(out), "request path unterminated");
			if (out[0] != '/' || (head != 0 && head != 1))
				fail("request path or method");
		} else if (r != 0 && r != -1)
			fail("request result");
		break;
	}
	free(in);
	return 0;
}
