/* egress-tool: drives netfilter/egress.c for tests/egress.bats and
 * bench/egress-bench. Not installed.
 *
 *   egress-tool install [-n NETNS] [--no-defaults] [--rule SPEC]... DEV ID
 *   egress-tool remove  [-n NETNS] ID
 *   egress-tool list    [-n NETNS] [--json] [ID]
 *   egress-tool peers   -n CONTAINER_NETNS
 *   egress-tool install-many [-n NETNS] DEV_PREFIX ID_PREFIX FROM TO
 *       installs ID_PREFIX<i> on DEV_PREFIX<i> for FROM <= i < TO; prints the median,
 *       p90 and max install time in microseconds
 *   egress-tool remove-many  [-n NETNS] ID_PREFIX FROM TO
 *   egress-tool remove-batch [-n NETNS] ID... (one transaction)
 *   egress-tool udp-echo PORT          (until killed; run it with ip netns exec)
 *   egress-tool udp-rtt ADDR PORT COUNT
 *       COUNT UDP round trips, one at a time: median and p99 in ns, and
 *       round trips per second
 *
 * NETNS is a path (/run/netns/NAME). SPEC is "NAME VERDICT FAMILIES PROTOS
 * CIDRS PORTS", fields separated by spaces, "-" for none: for example
 * "gcp-dns accept 4 udp 169.254.169.254 53". FAMILIES: 4, 6 or 46; PROTOS:
 * tcp, udp, tcp+udp or - (any); CIDRS and PORTS comma separated, ports as N
 * or LO-HI. --rule rules come before the defaults. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netfilter/egress.h"

#define MAX_RULES 64
#define MAX_ITEMS 64

struct spec {
	char *buf;
	const char *cidrs[MAX_ITEMS];
	struct rw_egress_ports ports[MAX_ITEMS];
};

static int parse_spec(const char *text, struct spec *sp, struct rw_egress_rule *r, rw_error_t *err)
{
	char *f[6], *save = NULL, *tok;
	int nf = 0;

	sp->buf = strdup(text);
	if (sp->buf == NULL)
		return rw_error(err, ENOMEM, "rule");
	for (tok = strtok_r(sp->buf, " ", &save); tok && nf < 6; tok = strtok_r(NULL, " ", &save))
		f[nf++] = tok;
	if (nf != 6 || tok)
		return rw_error(err, 0, "rule '%s': want NAME VERDICT FAMILIES PROTOS CIDRS PORTS", text);
	memset(r, 0, sizeof(*r));
	r->name = f[0];
	if (strcmp(f[1], "drop") == 0)
		r->verdict = RW_EGRESS_DROP;
	else if (strcmp(f[1], "accept") == 0)
		r->verdict = RW_EGRESS_ACCEPT;
	else
		return rw_error(err, 0, "rule '%s': verdict is drop or accept", text);
	if (strchr(f[2], '4'))
		r->families |= RW_EGRESS_IPV4;
	if (strchr(f[2], '6'))
		r->families |= RW_EGRESS_IPV6;
	if (strstr(f[3], "tcp"))
		r->protocols |= RW_EGRESS_TCP;
	if (strstr(f[3], "udp"))
		r->protocols |= RW_EGRESS_UDP;
	if (strcmp(f[4], "-") != 0)
		for (tok = strtok_r(f[4], ",", &save); tok && r->n_cidrs < MAX_ITEMS; tok = strtok_r(NULL, ",", &save))
			sp->cidrs[r->n_cidrs++] = tok;
	r->cidrs = sp->cidrs;
	if (strcmp(f[5], "-") != 0)
		for (tok = strtok_r(f[5], ",", &save); tok && r->n_ports < MAX_ITEMS; tok = strtok_r(NULL, ",", &save)) {
			char *dash = strchr(tok, '-');
			sp->ports[r->n_ports].lo = (uint16_t)strtoul(tok, NULL, 10);
			sp->ports[r->n_ports].hi = dash ? (uint16_t)strtoul(dash + 1, NULL, 10) : sp->ports[r->n_ports].lo;
			r->n_ports++;
		}
	r->ports = sp->ports;
	return 0;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

struct list_state {
	int json, n;
};

static int print_table(const struct rw_egress_table *t, void *arg)
{
	struct list_state *ls = arg;

	if (ls->json) {
		printf("%s{\"id\":", ls->n ? "," : "");
		json_str(t->id);
		printf(",\"table\":");
		json_str(t->table);
		printf(",\"device\":");
		json_str(t->device);
		printf(",\"rules\":[");
		for (size_t i = 0; i < t->n_counters; i++) {
			printf("%s{\"name\":", i ? "," : "");
			json_str(t->counters[i].rule);
			printf(",\"packets\":%llu,\"bytes\":%llu}", (unsigned long long)t->counters[i].packets,
			       (unsigned long long)t->counters[i].bytes);
		}
		printf("]}");
	} else {
		printf("%s device=%s table=%s\n", t->id, t->device, t->table);
		for (size_t i = 0; i < t->n_counters; i++)
			printf("  %-12s packets=%llu bytes=%llu\n", t->counters[i].rule,
			       (unsigned long long)t->counters[i].packets, (unsigned long long)t->counters[i].bytes);
	}
	ls->n++;
	return 0;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

static long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static int fail(rw_error_t *err)
{
	fprintf(stderr, "egress-tool: %s\n", *err ? (*err)->msg : "failed");
	rw_error_free(err);
	return 1;
}

static int udp_echo(const char *port)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)atoi(port))};
	int fd = socket(AF_INET6, SOCK_DGRAM, 0), zero = 0;
	char buf[2048];

	if (fd < 0 || setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("egress-tool: udp-echo");
		return 1;
	}
	for (;;) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n >= 0)
			sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
	}
}

static int udp_rtt(const char *addr, const char *port, long count)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
	struct timeval tv = {1, 0};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	long long *t = calloc((size_t)count, sizeof(*t)), total = 0;
	char buf[64] = "rtt";
	long lost = 0;

	if (t == NULL || fd < 0 || inet_pton(AF_INET, addr, &a.sin_addr) != 1 ||
	    connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		perror("egress-tool: udp-rtt");
		return 1;
	}
	for (long i = 0; i < count; i++) {
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (send(fd, buf, sizeof(buf), 0) < 0 || recv(fd, buf, sizeof(buf), 0) < 0) {
			lost++;
			t[i] = 1000000000LL;
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		t[i] = (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
		total += t[i];
	}
	qsort(t, (size_t)count, sizeof(*t), cmp_ll);
	printf("n=%ld lost=%ld median_ns=%lld p99_ns=%lld rtt_per_s=%.0f\n", count, lost, t[count / 2],
	       t[count * 99 / 100], total ? (double)(count - lost) * 1e9 / (double)total : 0.0);
	free(t);
	close(fd);
	return lost ? 1 : 0;
}

int main(int argc, char **argv)
{
	cleanup_error rw_error_t err = NULL;
	struct rw_egress_rule rules[MAX_RULES];
	struct spec specs[MAX_RULES];
	size_t n_rules = 0, n_specs = 0;
	int netns_fd = -1, defaults = 1, json = 0, ret = 0;
	const char *cmd;
	char **args;
	int nargs;

	if (argc < 2) {
		fprintf(stderr, "usage: egress-tool install|remove|list|peers|install-many|remove-many ...\n");
		return 2;
	}
	cmd = argv[1];
	args = malloc(sizeof(*args) * (size_t)argc);
	if (args == NULL)
		return 1;
	nargs = 0;
	for (int i = 2; i < argc; i++) {
		if ((strcmp(argv[i], "-n") == 0 || strcmp(argv[i], "--netns") == 0) && i + 1 < argc) {
			netns_fd = open(argv[++i], O_RDONLY | O_CLOEXEC);
			if (netns_fd < 0) {
				fprintf(stderr, "egress-tool: open %s: %s\n", argv[i], strerror(errno));
				return 1;
			}
		} else if (strcmp(argv[i], "--no-defaults") == 0) {
			defaults = 0;
		} else if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (strcmp(argv[i], "--rule") == 0 && i + 1 < argc && n_specs < MAX_RULES) {
			if (parse_spec(argv[++i], &specs[n_specs], &rules[n_rules], &err) < 0)
				return fail(&err);
			n_specs++;
			n_rules++;
		} else {
			args[nargs++] = argv[i];
		}
	}
	if (defaults) {
		size_t nd;
		const struct rw_egress_rule *d = rw_egress_default_rules(&nd);
		for (size_t i = 0; i < nd && n_rules < MAX_RULES; i++)
			rules[n_rules++] = d[i];
	}

	if (strcmp(cmd, "udp-echo") == 0 && nargs == 1) {
		ret = udp_echo(args[0]);
	} else if (strcmp(cmd, "udp-rtt") == 0 && nargs == 3) {
		ret = udp_rtt(args[0], args[1], strtol(args[2], NULL, 10));
	} else if (strcmp(cmd, "install") == 0 && nargs == 2) {
		if (rw_egress_install(netns_fd, args[0], args[1], rules, n_rules, &err) < 0)
			ret = fail(&err);
	} else if (strcmp(cmd, "remove-batch") == 0) {
		long long t0 = now_us();
		if (rw_egress_remove_many(netns_fd, (const char *const *)args, (size_t)nargs, &err) < 0)
			ret = fail(&err);
		else
			printf("n=%d total_us=%lld\n", nargs, now_us() - t0);
	} else if (strcmp(cmd, "remove") == 0 && nargs == 1) {
		if (rw_egress_remove(netns_fd, args[0], &err) < 0)
			ret = fail(&err);
	} else if (strcmp(cmd, "list") == 0 && nargs <= 1) {
		struct list_state ls = {json, 0};
		if (json)
			printf("[");
		if (rw_egress_list(netns_fd, nargs ? args[0] : NULL, print_table, &ls, &err) < 0)
			ret = fail(&err);
		if (json)
			printf("]\n");
	} else if (strcmp(cmd, "peers") == 0 && nargs == 0) {
		struct rw_egress_peer peers[16];
		int n = rw_egress_find_peers(netns_fd, peers, 16, &err);
		if (n < 0)
			ret = fail(&err);
		for (int i = 0; i < n && i < 16; i++) {
			struct stat st;
			char ns[64] = "?";
			if (fstat(peers[i].netns_fd, &st) == 0)
				snprintf(ns, sizeof(ns), "net:[%llu]", (unsigned long long)st.st_ino);
			printf("%s %s %d %s\n", peers[i].container_ifname, peers[i].ifname, peers[i].ifindex, ns);
			close(peers[i].netns_fd);
		}
	} else if ((strcmp(cmd, "install-many") == 0 && nargs == 4) ||
		   (strcmp(cmd, "remove-many") == 0 && nargs == 3)) {
		int install = cmd[0] == 'i';
		const char *dev_fmt = install ? args[0] : NULL, *id_fmt = args[install ? 1 : 0];
		long from = strtol(args[install ? 2 : 1], NULL, 10), to = strtol(args[install ? 3 : 2], NULL, 10);
		long long *t = calloc(to > from ? (size_t)(to - from) : 1, sizeof(*t));
		size_t nt = 0;

		if (t == NULL)
			return 1;
		for (long i = from; i < to; i++) {
			char dev[64], id[64];
			long long t0;
			snprintf(id, sizeof(id), "%s%ld", id_fmt, i);
			t0 = now_us();
			if (install) {
				snprintf(dev, sizeof(dev), "%s%ld", dev_fmt, i);
				if (rw_egress_install(netns_fd, dev, id, rules, n_rules, &err) < 0) {
					ret = fail(&err);
					break;
				}
			} else if (rw_egress_remove(netns_fd, id, &err) < 0) {
				ret = fail(&err);
				break;
			}
			t[nt++] = now_us() - t0;
		}
		if (nt) {
			qsort(t, nt, sizeof(*t), cmp_ll);
			printf("n=%zu median_us=%lld p90_us=%lld max_us=%lld\n", nt, t[nt / 2], t[nt * 9 / 10], t[nt - 1]);
		}
		free(t);
	} else {
		fprintf(stderr, "egress-tool: bad arguments for %s\n", cmd);
		ret = 2;
	}
	for (size_t i = 0; i < n_specs; i++)
		free(specs[i].buf);
	free(args);
	if (netns_fd >= 0)
		close(netns_fd);
	return ret;
}
