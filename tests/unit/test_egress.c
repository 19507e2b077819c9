/* netfilter/egress.c without the kernel: names, rule checks, the defaults. */
#include "config.h"

#include <string.h>

#include "netfilter/egress.h"
#include "tests/unit/tap.h"

static int check(const struct rw_egress_rule *r, size_t n, const char *want)
{
	rw_error_t err = NULL;
	int ret = rw_egress_check_rules(r, n, &err);
	int match = want == NULL ? ret == 0 : ret < 0 && err && strstr(err->msg, want) != NULL;
	if (!match && err)
		printf("# got: %s\n", err->msg);
	rw_error_free(&err);
	return match;
}

int main(void)
{
	char buf[300];
	rw_error_t err = NULL;
	size_t n;
	const struct rw_egress_rule *d = rw_egress_default_rules(&n);
	static const char *const v4[] = {"198.51.100.0/24"};
	static const char *const bad_cidr[] = {"198.51.100.0/33"};
	static const char *const bad_v6[] = {"fd00::zz/64"};
	static const struct rw_egress_ports p53[] = {{53, 53}};
	static const struct rw_egress_ports backwards[] = {{100, 50}};
	char long_id[300];

	ok(rw_egress_table_name("abc123", buf, sizeof(buf), &err) == 0 && strcmp(buf, "rw_abc123") == 0,
	   "table name is rw_ + id");
	ok(rw_egress_table_name("../x", buf, sizeof(buf), &err) < 0 && strstr(err->msg, "invalid container id"),
	   "an id with / is refused");
	rw_error_free(&err);
	ok(rw_egress_table_name("..", buf, sizeof(buf), &err) < 0, "'..' is refused");
	rw_error_free(&err);
	memset(long_id, 'a', 253);
	long_id[253] = '\0';
	ok(rw_egress_table_name(long_id, buf, sizeof(buf), &err) < 0, "a 253-character id is refused");
	rw_error_free(&err);
	long_id[252] = '\0';
	ok(rw_egress_table_name(long_id, buf, sizeof(buf), &err) == 0 && strlen(buf) == 255,
	   "a 252-character id makes a 255-character table name");

	ok(n == 5 && check(d, n, NULL), "the 5 defaults are valid");
	ok(strcmp(d[0].name, "metadata") == 0 && d[0].n_cidrs == 2 && d[0].n_ports == 0, "metadata: 2 CIDRs, any port");
	{
		struct rw_egress_rule r[2] = {
			{"dns", RW_EGRESS_ACCEPT, RW_EGRESS_IPV4, RW_EGRESS_UDP, v4, 1, p53, 1},
			{"dns", RW_EGRESS_DROP, RW_EGRESS_IPV4, 0, NULL, 0, NULL, 0},
		};
		ok(check(r, 1, NULL), "an allow rule with a CIDR and a port is valid");
		ok(check(r, 2, "name used twice"), "a name used twice is refused");
		r[1].name = "bad name";
		ok(check(r, 2, "invalid name"), "a name with a space is refused");
		r[1].name = "x";
		r[1].families = 0;
		ok(check(r, 2, "families"), "no family is refused");
		r[1].families = RW_EGRESS_IPV4;
		r[1].cidrs = bad_cidr;
		r[1].n_cidrs = 1;
		ok(check(r, 2, "invalid CIDR '198.51.100.0/33'"), "a /33 is refused");
		r[1].cidrs = bad_v6;
		ok(check(r, 2, "invalid CIDR"), "a bad IPv6 address is refused");
		r[1].n_cidrs = 0;
		r[1].ports = backwards;
		r[1].n_ports = 1;
		ok(check(r, 2, "invalid port range 100-50"), "a backwards port range is refused");
	}
	ok(rw_egress_install(-1, "lo", "bad/id", d, n, &err) < 0 && strstr(err->msg, "invalid container id"),
	   "install refuses a bad id before any netlink");
	rw_error_free(&err);
	return tap_done();
}
