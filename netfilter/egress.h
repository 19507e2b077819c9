/* Per-container egress rules: one nftables netdev table per container,
 * hooked at ingress of the host-side end of the container's link, written
 * in one netlink transaction through libmnl and libnftnl. See
 * netfilter/README.md for the layout and why. */
#ifndef RW_EGRESS_H
#define RW_EGRESS_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "shim/error.h"

#define RW_EGRESS_TABLE_PREFIX "rw_"
/* The kernel's limit (NFT_NAME_MAXLEN 256) less the prefix and the NUL. */
#define RW_EGRESS_ID_MAX 252

enum {
	RW_EGRESS_IPV4 = 1 << 0,
	RW_EGRESS_IPV6 = 1 << 1,
};

/* 0 = every protocol (a rule with ports and no protocol means TCP and UDP). */
enum {
	RW_EGRESS_TCP = 1 << 0,
	RW_EGRESS_UDP = 1 << 1,
};

enum rw_egress_verdict {
	RW_EGRESS_DROP = 0,
	RW_EGRESS_ACCEPT, /* an operator's allow, placed before the drops it punches through */
};

struct rw_egress_ports {
	uint16_t lo, hi; /* inclusive; lo == hi for one port */
};

struct rw_egress_rule {
	const char *name;          /* "metadata", "smtp"...: the counter's name, [A-Za-z0-9_-]{1,32}, unique */
	enum rw_egress_verdict verdict;
	unsigned families;         /* RW_EGRESS_IPV4 | RW_EGRESS_IPV6 */
	unsigned protocols;        /* RW_EGRESS_TCP | RW_EGRESS_UDP, 0: any */
	/* "169.254.169.254", "198.51.100.0/24", "fd00:ec2::254/128". None: any
	 * destination. Some: each family in `families` matches only its own
	 * CIDRs, and a family with none gets no rule at all. */
	const char *const *cidrs;
	size_t n_cidrs;
	const struct rw_egress_ports *ports; /* none: any port */
	size_t n_ports;
};

/* The defaults: metadata, smtp, mining, irc, tor (all drops). */
const struct rw_egress_rule *rw_egress_default_rules(size_t *n);

/* Checks a rule set without touching the kernel (names, CIDRs, ports). */
int rw_egress_check_rules(const struct rw_egress_rule *rules, size_t n, rw_error_t *err);

/* The table of container `id`: "rw_<id>". Fails for ids that are not runc ids
 * or are too long. */
int rw_egress_table_name(const char *id, char *buf, size_t size, rw_error_t *err);

/* At most this many devices for one container (one veth per network). */
#define RW_EGRESS_MAX_DEVS 16

/* Installs (or replaces: the old table goes in the same transaction) the
 * egress table of container `id` on device `ifname` (or several, separated
 * by commas: one chain hooked on each, for a container on several networks) of network namespace
 * `netns_fd` (-1: the caller's). One netlink batch; every ACK is read. */
int rw_egress_install(int netns_fd, const char *ifname, const char *id,
		      const struct rw_egress_rule *rules, size_t n, rw_error_t *err);

/* Deletes the table of container `id`; a missing table is success. */
int rw_egress_remove(int netns_fd, const char *id, rw_error_t *err);

/* Deletes the tables of `n` containers in one transaction (missing ones are
 * skipped). For gc: a transaction that deletes waits for an RCU grace period
 * (~12 ms on 6.18), once per transaction, not per table. */
int rw_egress_remove_many(int netns_fd, const char *const *ids, size_t n, rw_error_t *err);

struct rw_egress_counter {
	const char *rule;
	uint64_t packets, bytes;
};

struct rw_egress_table {
	const char *id;     /* container id (the table name less the prefix) */
	const char *table;
	const char *device; /* "" when the chain is gone or has no device */
	const struct rw_egress_counter *counters;
	size_t n_counters;
};

/* Calls cb for every rw_* netdev table in netns_fd (only `id`'s when id is
 * not NULL). The strings live until cb returns. A cb < 0 stops the walk and
 * is returned. */
typedef int (*rw_egress_list_cb)(const struct rw_egress_table *t, void *arg);
int rw_egress_list(int netns_fd, const char *id, rw_egress_list_cb cb, void *arg, rw_error_t *err);

struct rw_egress_peer {
	int netns_fd;             /* owned by the caller after the call: close it */
	int ifindex;              /* in netns_fd */
	char ifname[IF_NAMESIZE]; /* in netns_fd */
	char container_ifname[IF_NAMESIZE];
};

/* The host-side ends of the veths of the network namespace container_netns_fd.
 * The peer's namespace is searched among the caller's own and those bound
 * in /run/netns. Fills up to `max` peers and returns how many there are (0
 * for a namespace without veths: network none); lo and non-veth links are
 * skipped. */
int rw_egress_find_peers(int container_netns_fd, struct rw_egress_peer *out, size_t max,
			 rw_error_t *err);

#endif
