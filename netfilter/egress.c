#include "config.h"
#include "netfilter/egress.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/time.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#define CHAIN_NAME "egress"
/* Ahead of everything else at ingress (tc, other netdev chains). */
#define CHAIN_PRIORITY (-500)
/* nft's datatype numbers, so that `nft list` prints the sets readably. */
#define NFT_TYPE_IPADDR 7
#define NFT_TYPE_IP6ADDR 8
#define NFT_TYPE_INET_PROTOCOL 12
#define NFT_TYPE_INET_SERVICE 13
#define L4_SET "l4_tcp_udp"
/* nft stores a rule's comment as udata type 0 (NFTNL_UDATA_RULE_COMMENT). */
#define UDATA_RULE_COMMENT 0

static const struct rw_egress_ports mining_ports[] = {
	{3333, 3336}, {3357, 3357}, {4444, 4444}, {5555, 5556}, {5588, 5588}, {5730, 5730},
	{6099, 6099}, {6666, 6666}, {7777, 7778}, {8333, 8333}, {8888, 8888}, {8899, 8899},
	{9332, 9332}, {9999, 9999}, {14433, 14433}, {14444, 14444},
	/* not 45560 and 45700: inside Linux's ephemeral range, where replies to
	 * clients go (contrib/policy.json) */
};
static const struct rw_egress_ports smtp_ports[] = {{25, 25}};
static const struct rw_egress_ports irc_ports[] = {{6660, 6669}, {6697, 6697}};
static const struct rw_egress_ports tor_ports[] = {
	{9001, 9001}, {9030, 9030}, {9050, 9051}, {9150, 9150},
};
static const char *const metadata_cidrs[] = {"169.254.169.254/32", "fd00:ec2::254/128"};

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define BOTH_FAMILIES (RW_EGRESS_IPV4 | RW_EGRESS_IPV6)
#define BOTH_PROTOCOLS (RW_EGRESS_TCP | RW_EGRESS_UDP)

static const struct rw_egress_rule default_rules[] = {
	{"metadata", RW_EGRESS_DROP, BOTH_FAMILIES, 0, metadata_cidrs, N(metadata_cidrs), NULL, 0},
	{"smtp", RW_EGRESS_DROP, BOTH_FAMILIES, BOTH_PROTOCOLS, NULL, 0, smtp_ports, N(smtp_ports)},
	{"mining", RW_EGRESS_DROP, BOTH_FAMILIES, BOTH_PROTOCOLS, NULL, 0, mining_ports, N(mining_ports)},
	{"irc", RW_EGRESS_DROP, BOTH_FAMILIES, BOTH_PROTOCOLS, NULL, 0, irc_ports, N(irc_ports)},
	{"tor", RW_EGRESS_DROP, BOTH_FAMILIES, BOTH_PROTOCOLS, NULL, 0, tor_ports, N(tor_ports)},
};

const struct rw_egress_rule *rw_egress_default_rules(size_t *n)
{
	*n = N(default_rules);
	return default_rules;
}

/* ---- names and values ---- */

int rw_egress_table_name(const char *id, char *buf, size_t size, rw_error_t *err)
{
	size_t len = id ? strlen(id) : 0;

	if (len == 0 || len > RW_EGRESS_ID_MAX || strcmp(id, ".") == 0 || strcmp(id, "..") == 0 ||
	    strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+.-") != len)
		return rw_error(err, 0, "egress: invalid container id '%s'", id ? id : "");
	if ((size_t)snprintf(buf, size, RW_EGRESS_TABLE_PREFIX "%s", id) >= size)
		return rw_error(err, 0, "egress: table name of '%s' too long", id);
	return 0;
}

/* An interval of big-endian keys of `len` bytes (2: port, 4: IPv4, 16: IPv6). */
struct interval {
	uint8_t lo[16], hi[16];
};

static int parse_cidr(const char *s, int *family, struct interval *iv)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long plen;
	int bits;

	if (alen == 0 || alen >= sizeof(addr))
		return -1;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	memset(iv, 0, sizeof(*iv));
	if (inet_pton(AF_INET, addr, iv->lo) == 1) {
		*family = RW_EGRESS_IPV4;
		bits = 32;
	} else if (inet_pton(AF_INET6, addr, iv->lo) == 1) {
		*family = RW_EGRESS_IPV6;
		bits = 128;
	} else {
		return -1;
	}
	plen = bits;
	if (slash) {
		char *end;
		errno = 0;
		plen = strtoul(slash + 1, &end, 10);
		if (errno || end == slash + 1 || *end || plen > (unsigned long)bits)
			return -1;
	}
	memcpy(iv->hi, iv->lo, sizeof(iv->lo));
	for (int b = (int)plen; b < bits; b++) {
		iv->lo[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
		iv->hi[b / 8] |= (uint8_t)(0x80u >> (b % 8));
	}
	return 0;
}

static bool valid_rule_name(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	return len >= 1 && len <= 32 &&
	       strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == len;
}

int rw_egress_check_rules(const struct rw_egress_rule *rules, size_t n, rw_error_t *err)
{
	for (size_t i = 0; i < n; i++) {
		const struct rw_egress_rule *r = &rules[i];
		struct interval iv;
		int fam;

		if (!valid_rule_name(r->name))
			return rw_error(err, 0, "egress rule %zu: invalid name '%s' (1 to 32 of A-Z a-z 0-9 _ -)",
					i, r->name ? r->name : "");
		for (size_t j = 0; j < i; j++)
			if (strcmp(rules[j].name, r->name) == 0)
				return rw_error(err, 0, "egress rule '%s': name used twice", r->name);
		if (r->verdict != RW_EGRESS_DROP && r->verdict != RW_EGRESS_ACCEPT)
			return rw_error(err, 0, "egress rule '%s': unknown verdict %d", r->name, r->verdict);
		if (r->families == 0 || (r->families & ~(unsigned)BOTH_FAMILIES))
			return rw_error(err, 0, "egress rule '%s': families must be IPv4, IPv6 or both", r->name);
		if (r->protocols & ~(unsigned)BOTH_PROTOCOLS)
			return rw_error(err, 0, "egress rule '%s': protocols must be TCP, UDP or both", r->name);
		for (size_t j = 0; j < r->n_cidrs; j++)
			if (r->cidrs[j] == NULL || parse_cidr(r->cidrs[j], &fam, &iv) < 0)
				return rw_error(err, 0, "egress rule '%s': invalid CIDR '%s'", r->name,
						r->cidrs[j] ? r->cidrs[j] : "");
		for (size_t j = 0; j < r->n_ports; j++)
			if (r->ports[j].lo > r->ports[j].hi || r->ports[j].lo == 0)
				return rw_error(err, 0, "egress rule '%s': invalid port range %u-%u", r->name,
						r->ports[j].lo, r->ports[j].hi);
	}
	return 0;
}

/* ---- network namespaces ---- */

/* Runs fn in netns_fd (-1: where we are) and comes back. runwarden is single
 * threaded; setns moves only the calling thread anyway. */
static int in_netns(int netns_fd, int (*fn)(void *arg, rw_error_t *err), void *arg, rw_error_t *err)
{
	cleanup_close int saved = -1;
	int ret, e;

	if (netns_fd < 0)
		return fn(arg, err);
	saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (saved < 0)
		return rw_error(err, errno, "open /proc/thread-self/ns/net");
	if (setns(netns_fd, CLONE_NEWNET) < 0)
		return rw_error(err, errno, "setns into the target network namespace");
	ret = fn(arg, err);
	if (setns(saved, CLONE_NEWNET) < 0) {
		/* Staying in a container's netns would misdirect everything after. */
		e = errno;
		fprintf(stderr, "runwarden: egress: cannot return to the original network namespace: %s\n",
			strerror(e));
		abort();
	}
	return ret;
}

struct open_args {
	size_t n;
	int bus[2];
	struct mnl_socket *nl[2];
};

static int open_here(void *arg, rw_error_t *err)
{
	struct open_args *a = arg;
	struct timeval timeout = {10, 0};
	int one = 1;

	for (size_t i = 0; i < a->n; i++) {
		a->nl[i] = mnl_socket_open2(a->bus[i], SOCK_CLOEXEC);
		if (a->nl[i] == NULL || mnl_socket_bind(a->nl[i], 0, MNL_SOCKET_AUTOPID) < 0) {
			int e = errno;
			for (size_t j = 0; j <= i; j++)
				if (a->nl[j]) {
					mnl_socket_close(a->nl[j]);
					a->nl[j] = NULL;
				}
			return rw_error(err, e, "netlink socket");
		}
		/* Extended ACKs carry the kernel's reason; capped ACKs keep them small. */
		mnl_socket_setsockopt(a->nl[i], NETLINK_EXT_ACK, &one, sizeof(one));
		mnl_socket_setsockopt(a->nl[i], NETLINK_CAP_ACK, &one, sizeof(one));
		/* The kernel answers before sendmsg returns; a reply that never
		 * comes is a bug to report, not to wait for forever. */
		setsockopt(mnl_socket_get_fd(a->nl[i]), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	}
	return 0;
}

/* A netlink socket lives in the netns it was opened in. */
static struct mnl_socket *nl_open(int netns_fd, int bus, rw_error_t *err)
{
	struct open_args a = {1, {bus, 0}, {NULL, NULL}};

	if (in_netns(netns_fd, open_here, &a, err) < 0)
		return NULL;
	return a.nl[0];
}

/* rtnetlink and nfnetlink sockets in netns_fd, with one trip there and back. */
static int nl_open2(int netns_fd, struct mnl_socket **rt, struct mnl_socket **nf, rw_error_t *err)
{
	struct open_args a = {2, {NETLINK_ROUTE, NETLINK_NETFILTER}, {NULL, NULL}};

	if (in_netns(netns_fd, open_here, &a, err) < 0)
		return -1;
	*rt = a.nl[0];
	*nf = a.nl[1];
	return 0;
}

static void nl_closep(struct mnl_socket **nl)
{
	if (*nl)
		mnl_socket_close(*nl);
}
#define cleanup_nl __attribute__((cleanup(nl_closep)))

/* ---- extended ACKs ---- */

/* "kernel text" (and the bad attribute's path in the request when given). */
static void ext_ack_text(const struct nlmsghdr *nlh, const char *req, size_t req_len, char *buf,
			 size_t size)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;
	const char *msg = NULL;
	uint32_t offs = UINT32_MAX;
	size_t off;
	int n = 0;

	buf[0] = '\0';
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	off = sizeof(*e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += MNL_ALIGN(e->msg.nlmsg_len - sizeof(struct nlmsghdr));
	if (off > mnl_nlmsg_get_payload_len(nlh))
		return;
	mnl_attr_for_each(attr, nlh, off) {
		if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
			msg = mnl_attr_get_str(attr);
		else if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_OFFS && mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
			offs = mnl_attr_get_u32(attr);
	}
	if (msg)
		n = snprintf(buf, size, "%s", msg);
	/* Walk the request's attributes down to the one at `offs`: type path. */
	if (req && offs != UINT32_MAX && offs < req_len && n >= 0 && (size_t)n < size) {
		size_t pos = sizeof(struct nlmsghdr) + sizeof(struct nfgenmsg);
		char path[64] = "";
		size_t plen = 0;
		size_t end = req_len;

		while (pos + sizeof(struct nlattr) <= end) {
			const struct nlattr *a = (const void *)(req + pos);
			size_t alen = a->nla_len;
			if (alen < sizeof(*a) || pos + alen > end)
				break;
			if (offs >= pos && offs < pos + alen) {
				int w = snprintf(path + plen, sizeof(path) - plen, "%s%u", plen ? "." : "",
						 a->nla_type & NLA_TYPE_MASK);
				if (w > 0 && (size_t)w < sizeof(path) - plen)
					plen += (size_t)w;
				if (offs == pos || !(a->nla_type & NLA_F_NESTED))
					break;
				end = pos + alen;
				pos += sizeof(*a);
				continue;
			}
			pos += MNL_ALIGN(alen);
		}
		if (plen)
			snprintf(buf + n, size - (size_t)n, "%sattribute %s", n ? "; " : "", path);
	}
}

/* ---- the batch ---- */

struct batch {
	char *buf;
	size_t size;
	struct mnl_nlmsg_batch *b;
	uint32_t seq0, seq;
	char **what;   /* what[seq - seq0]: the object a message is about */
	size_t n_what, cap_what;
	uint32_t set_id;
	uint32_t l4_set_id; /* the table's {tcp, udp} set, 0 until added */
	bool full;
	long failed;        /* index of the first message the kernel refused, or -1 */
};

static void batch_free(struct batch *bt)
{
	if (bt->b)
		mnl_nlmsg_batch_stop(bt->b);
	free(bt->buf);
	for (size_t i = 0; i < bt->n_what; i++)
		free(bt->what[i]);
	free(bt->what);
}

static int batch_init(struct batch *bt, size_t size, rw_error_t *err)
{
	memset(bt, 0, sizeof(*bt));
	bt->size = size;
	bt->buf = malloc(size);
	if (bt->buf == NULL)
		return rw_error(err, ENOMEM, "batch buffer");
	/* mnl's batch stops once a message crosses the limit, so leave one
	 * message's worth of slack behind it. */
	bt->b = mnl_nlmsg_batch_start(bt->buf, size - MNL_SOCKET_BUFFER_SIZE);
	bt->seq0 = bt->seq = (uint32_t)time(NULL) << 8;
	bt->failed = -1;
	return 0;
}

/* Returns where the next message goes, recording what it is about. */
static char *batch_next(struct batch *bt, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *batch_next(struct batch *bt, const char *fmt, ...)
{
	va_list ap;
	char *w = NULL;

	if (bt->n_what == bt->cap_what) {
		size_t cap = bt->cap_what ? bt->cap_what * 2 : 32;
		char **nw = realloc(bt->what, cap * sizeof(*nw));
		if (nw == NULL)
			return NULL;
		bt->what = nw;
		bt->cap_what = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&w, fmt, ap) < 0)
		w = NULL;
	va_end(ap);
	if (w == NULL)
		return NULL;
	bt->what[bt->n_what++] = w;
	bt->seq++;
	return mnl_nlmsg_batch_current(bt->b);
}

static void batch_done(struct batch *bt)
{
	if (!mnl_nlmsg_batch_next(bt->b))
		bt->full = true;
}

struct talk_state {
	const struct batch *bt;
	size_t acks;
	int error;
	char errtext[512];
};

static void note_error(struct talk_state *ts, const struct nlmsghdr *nlh, int error)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	const struct batch *bt = ts->bt;
	uint32_t i = e->msg.nlmsg_seq - bt->seq0 - 1;
	const char *what = i < bt->n_what ? bt->what[i] : "batch";
	const char *req = NULL;
	size_t req_len = 0;
	char ext[320];

	if (ts->error)
		return; /* the first error explains; the rest follow from it */
	/* Find the failed request in the batch to name its bad attribute. */
	for (const char *p = mnl_nlmsg_batch_head(bt->b);
	     p < (const char *)mnl_nlmsg_batch_head(bt->b) + mnl_nlmsg_batch_size(bt->b);) {
		const struct nlmsghdr *m = (const void *)p;
		if (m->nlmsg_seq == e->msg.nlmsg_seq) {
			req = p;
			req_len = m->nlmsg_len;
			break;
		}
		p += MNL_ALIGN(m->nlmsg_len);
	}
	ext_ack_text(nlh, req, req_len, ext, sizeof(ext));
	ts->error = error;
	((struct batch *)bt)->failed = i < bt->n_what ? (long)i : -1;
	snprintf(ts->errtext, sizeof(ts->errtext), "%s%s%s%s", what, ext[0] ? " (kernel: " : "", ext,
		 ext[0] ? ")" : "");
}

/* Sends the batch in one sendmsg and reads until every message that asked
 * for an ACK has one, or, after an error, until the socket has nothing more
 * (the kernel reports errors for the whole batch at once, then stops). */
static int batch_talk(struct mnl_socket *nl, struct batch *bt, size_t expected, const char *op,
		      rw_error_t *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct talk_state ts = {bt, 0, 0, ""};
	uint32_t portid = mnl_socket_get_portid(nl);

	if (bt->full)
		return rw_error(err, E2BIG, "%s: batch larger than its buffer", op);
	/* Every ACK is queued before sendmsg returns; each takes about 1 KiB
	 * of receive buffer (skb truesize), so a big batch would overflow the
	 * default and lose some (ENOBUFS). */
	if (expected > 64) {
		int want = expected > 1000000 ? 1 << 30 : (int)expected * 1024;
		if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) < 0)
			setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
	}
	if (mnl_socket_sendto(nl, mnl_nlmsg_batch_head(bt->b), mnl_nlmsg_batch_size(bt->b)) < 0)
		return rw_error(err, errno, "%s: send the batch", op);
	while (ts.acks < expected) {
		int flags = ts.error ? MSG_DONTWAIT : 0;
		ssize_t len = recv(mnl_socket_get_fd(nl), buf, sizeof(buf), flags);
		const struct nlmsghdr *nlh;
		int left;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (ts.error && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			return rw_error(err, errno, "%s: read the ACKs", op);
		}
		left = (int)len;
		for (nlh = (const void *)buf; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			const struct nlmsgerr *e;
			if (nlh->nlmsg_pid != portid || nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
				continue;
			e = mnl_nlmsg_get_payload(nlh);
			ts.acks++;
			if (e->error)
				note_error(&ts, nlh, -e->error);
		}
	}
	if (ts.error)
		return rw_error(err, ts.error, "%s: %s", op, ts.errtext);
	return 0;
}

/* ---- building the objects ---- */

static void put_table(struct batch *bt, uint16_t type, uint16_t flags, const char *table, const char *verb)
{
	struct nftnl_table *t = nftnl_table_alloc();
	char *p = batch_next(bt, "%s table netdev %s", verb, table);
	struct nlmsghdr *nlh;

	if (t == NULL || p == NULL) {
		bt->full = true;
		nftnl_table_free(t);
		return;
	}
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_NETDEV);
	nlh = nftnl_nlmsg_build_hdr(p, type, NFPROTO_NETDEV, flags | NLM_F_ACK, bt->seq);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	batch_done(bt);
}

static void put_chain(struct batch *bt, const char *table, const char *ifname)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	char *p = batch_next(bt, "add chain %s %s (device %s)", table, CHAIN_NAME, ifname);
	struct nlmsghdr *nlh;

	if (c == NULL || p == NULL) {
		bt->full = true;
		nftnl_chain_free(c);
		return;
	}
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, CHAIN_NAME);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_NETDEV);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_NETDEV_INGRESS);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, CHAIN_PRIORITY);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	if (strchr(ifname, ',') == NULL)
		nftnl_chain_set_str(c, NFTNL_CHAIN_DEV, ifname);
	else {
		/* One chain hooked on several devices (Linux 5.5): a container
		 * on more than one network has a veth for each. */
		char copy[RW_EGRESS_MAX_DEVS * IF_NAMESIZE], *save = NULL, *tok;
		const char *devs[RW_EGRESS_MAX_DEVS + 1] = { NULL };
		size_t k = 0;

		snprintf(copy, sizeof(copy), "%s", ifname);
		for (tok = strtok_r(copy, ",", &save); tok && k < RW_EGRESS_MAX_DEVS; tok = strtok_r(NULL, ",", &save))
			devs[k++] = tok;
		nftnl_chain_set_array(c, NFTNL_CHAIN_DEVICES, devs);
	}
	nlh = nftnl_nlmsg_build_hdr(p, NFT_MSG_NEWCHAIN, NFPROTO_NETDEV, NLM_F_CREATE | NLM_F_ACK, bt->seq);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	batch_done(bt);
}

static int cmp_interval(const void *a, const void *b, size_t len)
{
	return memcmp(((const struct interval *)a)->lo, ((const struct interval *)b)->lo, len);
}
static int cmp2(const void *a, const void *b) { return cmp_interval(a, b, 2); }
static int cmp4(const void *a, const void *b) { return cmp_interval(a, b, 4); }
static int cmp16(const void *a, const void *b) { return cmp_interval(a, b, 16); }

/* key + 1; false when key was all ones (the interval runs to the end). */
static bool increment(uint8_t *key, size_t len)
{
	for (size_t i = len; i-- > 0;)
		if (++key[i] != 0)
			return true;
	return false;
}

/* Sorts and merges overlapping or adjacent intervals (the kernel's interval
 * sets refuse overlaps); returns the new count. */
static size_t merge_intervals(struct interval *iv, size_t n, size_t len)
{
	size_t out = 0;

	qsort(iv, n, sizeof(*iv), len == 2 ? cmp2 : len == 4 ? cmp4 : cmp16);
	for (size_t i = 0; i < n; i++) {
		if (out > 0) {
			uint8_t next[16];
			bool fits;
			memcpy(next, iv[out - 1].hi, len);
			fits = increment(next, len);
			if (!fits || memcmp(iv[i].lo, next, len) <= 0) {
				if (fits && memcmp(iv[i].hi, iv[out - 1].hi, len) > 0)
					memcpy(iv[out - 1].hi, iv[i].hi, len);
				continue;
			}
		}
		iv[out++] = iv[i];
	}
	return out;
}

/* A named interval set and its elements: two messages. */
static uint32_t put_set(struct batch *bt, const char *table, const char *name, uint32_t key_type,
			size_t len, struct interval *iv, size_t n)
{
	struct nftnl_set *s = nftnl_set_alloc();
	uint32_t id = ++bt->set_id;
	struct nlmsghdr *nlh;
	char *p;

	if (s == NULL) {
		bt->full = true;
		return 0;
	}
	n = merge_intervals(iv, n, len);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_NETDEV);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_INTERVAL);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, key_type);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, (uint32_t)len);
	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	p = batch_next(bt, "add set %s %s", table, name);
	if (p == NULL) {
		bt->full = true;
		nftnl_set_free(s);
		return 0;
	}
	nlh = nftnl_nlmsg_build_hdr(p, NFT_MSG_NEWSET, NFPROTO_NETDEV, NLM_F_CREATE | NLM_F_ACK, bt->seq);
	nftnl_set_nlmsg_build_payload(nlh, s);
	batch_done(bt);

	/* An interval [lo, hi] is an element at lo and an end element at hi + 1
	 * (none when hi is the last key). */
	for (size_t i = 0; i < n; i++) {
		struct nftnl_set_elem *e = nftnl_set_elem_alloc();
		uint8_t end[16];
		if (e == NULL) {
			bt->full = true;
			break;
		}
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, iv[i].lo, (uint32_t)len);
		nftnl_set_elem_add(s, e);
		memcpy(end, iv[i].hi, len);
		if (increment(end, len)) {
			e = nftnl_set_elem_alloc();
			if (e == NULL) {
				bt->full = true;
				break;
			}
			nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, end, (uint32_t)len);
			nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
			nftnl_set_elem_add(s, e);
		}
	}
	p = batch_next(bt, "add elements to set %s %s", table, name);
	if (p == NULL) {
		bt->full = true;
		nftnl_set_free(s);
		return 0;
	}
	nlh = nftnl_nlmsg_build_hdr(p, NFT_MSG_NEWSETELEM, NFPROTO_NETDEV, NLM_F_CREATE | NLM_F_ACK, bt->seq);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	batch_done(bt);
	nftnl_set_free(s);
	return id;
}

/* { tcp, udp }: one set per table for the rules that match both. */
static void put_l4_set(struct batch *bt, const char *table)
{
	static const uint8_t protos[] = {IPPROTO_TCP, IPPROTO_UDP};
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *nlh;
	char *p;

	if (s == NULL) {
		bt->full = true;
		return;
	}
	bt->l4_set_id = ++bt->set_id;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, L4_SET);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_NETDEV);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, 0);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, NFT_TYPE_INET_PROTOCOL);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, 1);
	nftnl_set_set_u32(s, NFTNL_SET_ID, bt->l4_set_id);
	p = batch_next(bt, "add set %s %s", table, L4_SET);
	if (p == NULL) {
		bt->full = true;
		nftnl_set_free(s);
		return;
	}
	nlh = nftnl_nlmsg_build_hdr(p, NFT_MSG_NEWSET, NFPROTO_NETDEV, NLM_F_CREATE | NLM_F_ACK, bt->seq);
	nftnl_set_nlmsg_build_payload(nlh, s);
	batch_done(bt);
	for (size_t i = 0; i < N(protos); i++) {
		struct nftnl_set_elem *e = nftnl_set_elem_alloc();
		if (e == NULL) {
			bt->full = true;
			break;
		}
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, &protos[i], 1);
		nftnl_set_elem_add(s, e);
	}
	p = batch_next(bt, "add elements to set %s %s", table, L4_SET);
	if (p == NULL) {
		bt->full = true;
		nftnl_set_free(s);
		return;
	}
	nlh = nftnl_nlmsg_build_hdr(p, NFT_MSG_NEWSETELEM, NFPROTO_NETDEV, NLM_F_CREATE | NLM_F_ACK, bt->seq);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	batch_done(bt);
	nftnl_set_free(s);
}

static void add_meta_cmp(struct nftnl_rule *r, uint32_t key, const void *val, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
	e = nftnl_expr_alloc("cmp");
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, val, len);
	nftnl_rule_add_expr(r, e);
}

static void add_payload_lookup(struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len,
			       const char *set, uint32_t set_id)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
	e = nftnl_expr_alloc("lookup");
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
	nftnl_rule_add_expr(r, e);
}

struct rule_sets {
	const char *addr_set;  /* NULL: any destination */
	uint32_t addr_set_id;
	const char *port_set;  /* NULL: any port */
	uint32_t port_set_id;
};

#define L4_TCP_UDP 0xff /* put_rule: l4proto in { tcp, udp } */

/* One kernel rule: [family], [daddr in set], [l4proto], [dport in set] ->
 * counter, verdict; the policy rule's name as its comment. family 0: both
 * (no daddr then: the transport header and l4proto are set for IPv4 and
 * IPv6 alike at netdev ingress, and for neither on other packets). */
static void put_rule(struct batch *bt, const char *table, const struct rw_egress_rule *rr, int family,
		     uint8_t l4proto, const struct rule_sets *sets)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(64);
	uint16_t ethertype = htons(family == RW_EGRESS_IPV4 ? ETH_P_IP : ETH_P_IPV6);
	const char *fam_name = family == RW_EGRESS_IPV4 ? "ip" : family == RW_EGRESS_IPV6 ? "ip6" : "ip+ip6";
	struct nftnl_expr *e;
	struct nlmsghdr *nlh;
	char *p;

	if (r == NULL || ud == NULL) {
		bt->full = true;
		goto out;
	}
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, CHAIN_NAME);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_NETDEV);
	if (family)
		add_meta_cmp(r, NFT_META_PROTOCOL, &ethertype, sizeof(ethertype));
	if (sets->addr_set)
		add_payload_lookup(r, NFT_PAYLOAD_NETWORK_HEADER, family == RW_EGRESS_IPV4 ? 16 : 24,
				   family == RW_EGRESS_IPV4 ? 4 : 16, sets->addr_set, sets->addr_set_id);
	if (l4proto == L4_TCP_UDP) {
		e = nftnl_expr_alloc("meta");
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_L4PROTO);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
		nftnl_rule_add_expr(r, e);
		e = nftnl_expr_alloc("lookup");
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, L4_SET);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, bt->l4_set_id);
		nftnl_rule_add_expr(r, e);
	} else if (l4proto) {
		add_meta_cmp(r, NFT_META_L4PROTO, &l4proto, 1);
	}
	if (sets->port_set)
		add_payload_lookup(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, sets->port_set, sets->port_set_id);
	/* A counter in the rule, not a named counter object: one message less
	 * per rule (each message costs the kernel a walk of the netns' table
	 * list); list sums the counters of a policy rule's kernel rules. */
	nftnl_rule_add_expr(r, nftnl_expr_alloc("counter"));
	e = nftnl_expr_alloc("immediate");
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, rr->verdict == RW_EGRESS_ACCEPT ? NF_ACCEPT : NF_DROP);
	nftnl_rule_add_expr(r, e);
	nftnl_udata_put_strz(ud, UDATA_RULE_COMMENT, rr->name);
	nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));

	p = batch_next(bt, "add rule %s %s (%s, %s%s)", table, CHAIN_NAME, rr->name, fam_name,
		       l4proto == IPPROTO_TCP ? ", tcp" : l4proto == IPPROTO_UDP ? ", udp" :
		       l4proto == L4_TCP_UDP ? ", tcp+udp" : "");
	if (p == NULL) {
		bt->full = true;
		goto out;
	}
	nlh = nftnl_nlmsg_build_hdr(p, NFT_MSG_NEWRULE, NFPROTO_NETDEV,
				    NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, bt->seq);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	batch_done(bt);
out:
	nftnl_rule_free(r);
	if (ud)
		nftnl_udata_buf_free(ud);
}

static void put_rules_for(struct batch *bt, const char *table, const struct rw_egress_rule *rr, int family,
			  unsigned protos, const struct rule_sets *sets)
{
	if (protos == BOTH_PROTOCOLS) {
		if (bt->l4_set_id == 0)
			put_l4_set(bt, table);
		put_rule(bt, table, rr, family, L4_TCP_UDP, sets);
	} else if (protos == RW_EGRESS_TCP) {
		put_rule(bt, table, rr, family, IPPROTO_TCP, sets);
	} else if (protos == RW_EGRESS_UDP) {
		put_rule(bt, table, rr, family, IPPROTO_UDP, sets);
	} else {
		put_rule(bt, table, rr, family, 0, sets);
	}
}

/* Kernel rules for one policy rule: one per family with CIDRs, or one for
 * both families when there are none. */
static void put_egress_rule(struct batch *bt, const char *table, size_t idx, const struct rw_egress_rule *rr,
			    struct interval *scratch)
{
	static const int families[] = {RW_EGRESS_IPV4, RW_EGRESS_IPV6};
	unsigned protos = rr->protocols;
	struct rule_sets sets = {0};
	char port_set[32];

	if (rr->n_ports) {
		for (size_t j = 0; j < rr->n_ports; j++) {
			uint16_t lo = htons(rr->ports[j].lo), hi = htons(rr->ports[j].hi);
			memcpy(scratch[j].lo, &lo, 2);
			memcpy(scratch[j].hi, &hi, 2);
		}
		snprintf(port_set, sizeof(port_set), "r%zu_ports", idx);
		sets.port_set = port_set;
		sets.port_set_id = put_set(bt, table, port_set, NFT_TYPE_INET_SERVICE, 2, scratch, rr->n_ports);
		if (protos == 0)
			protos = BOTH_PROTOCOLS;
	}
	if (rr->n_cidrs == 0) {
		put_rules_for(bt, table, rr, rr->families == BOTH_FAMILIES ? 0 : (int)rr->families, protos, &sets);
		return;
	}
	for (size_t f = 0; f < N(families); f++) {
		int fam = families[f];
		char addr_set[32];
		size_t n = 0;

		if (!(rr->families & (unsigned)fam))
			continue;
		for (size_t j = 0; j < rr->n_cidrs; j++) {
			int cf;
			if (parse_cidr(rr->cidrs[j], &cf, &scratch[n]) == 0 && cf == fam)
				n++;
		}
		if (n == 0)
			continue; /* CIDRs, none of this family: no rule for it */
		snprintf(addr_set, sizeof(addr_set), "r%zu_%s", idx, fam == RW_EGRESS_IPV4 ? "v4" : "v6");
		sets.addr_set = addr_set;
		sets.addr_set_id = put_set(bt, table, addr_set,
					   fam == RW_EGRESS_IPV4 ? NFT_TYPE_IPADDR : NFT_TYPE_IP6ADDR,
					   fam == RW_EGRESS_IPV4 ? 4 : 16, scratch, n);
		put_rules_for(bt, table, rr, fam, protos, &sets);
	}
}

/* ---- install, remove ---- */

static int dump(struct mnl_socket *nl, struct nlmsghdr *req, int (*each)(const struct nlmsghdr *, void *),
		void *arg, const char *what, rw_error_t *err);

static int each_ifindex(const struct nlmsghdr *nlh, void *arg)
{
	if (nlh->nlmsg_type == RTM_NEWLINK)
		*(int *)arg = ((const struct ifinfomsg *)mnl_nlmsg_get_payload(nlh))->ifi_index;
	return 0;
}

/* The kernel's answer for a name, with its reason (a name too long for a
 * device fails rtnetlink's policy, with an extended ACK). */
static int device_index(struct mnl_socket *rt, const char *ifname, rw_error_t *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;
	char what[64];
	int ifindex = 0;

	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = (uint32_t)time(NULL);
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	if (strlen(ifname) > 256)
		return rw_error(err, ENAMETOOLONG, "device name");
	mnl_attr_put_str(nlh, IFLA_IFNAME, ifname);
	snprintf(what, sizeof(what), "device '%.32s'", ifname);
	if (dump(rt, nlh, each_ifindex, &ifindex, what, err) < 0)
		return -1;
	if (ifindex <= 0)
		return rw_error(err, ENODEV, "%s", what);
	return ifindex;
}

/* One transaction. A first install adds the table with NLM_F_EXCL, so that a
 * table left by an earlier start fails it (EEXIST) with nothing changed;
 * `replace` then adds, deletes and adds again, all in one batch: the first
 * add makes the delete safe, the delete takes whatever the earlier start
 * left. Not always replacing because a transaction that deletes costs about
 * 12 ms on 6.18 (the commit waits for RCU), and one that only adds 0.2 ms. */
static int install_batch(struct mnl_socket *nl, const char *table, const char *ifname,
			 const struct rw_egress_rule *rules, size_t n, struct interval *scratch, size_t size,
			 bool replace, rw_error_t *err)
{
	struct batch bt;
	int ret;

	if (batch_init(&bt, size, err) < 0)
		return -1;
	nftnl_batch_begin(mnl_nlmsg_batch_current(bt.b), bt.seq0);
	mnl_nlmsg_batch_next(bt.b);
	if (replace) {
		put_table(&bt, NFT_MSG_NEWTABLE, NLM_F_CREATE, table, "add");
		put_table(&bt, NFT_MSG_DELTABLE, 0, table, "delete old");
		put_table(&bt, NFT_MSG_NEWTABLE, NLM_F_CREATE, table, "add");
	} else {
		put_table(&bt, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL, table, "add");
	}
	put_chain(&bt, table, ifname);
	for (size_t i = 0; i < n; i++)
		put_egress_rule(&bt, table, i, &rules[i], scratch);
	nftnl_batch_end(mnl_nlmsg_batch_current(bt.b), bt.seq + 1);
	mnl_nlmsg_batch_next(bt.b);

	ret = batch_talk(nl, &bt, bt.n_what, replace ? "replace" : "install", err);
	if (ret == 0 && bt.full)
		ret = rw_error(err, E2BIG, "install: batch larger than its buffer");
	batch_free(&bt);
	return ret;
}

int rw_egress_install(int netns_fd, const char *ifname, const char *id, const struct rw_egress_rule *rules,
		      size_t n, rw_error_t *err)
{
	cleanup_nl struct mnl_socket *nl = NULL;
	cleanup_nl struct mnl_socket *rt = NULL;
	cleanup_free struct interval *scratch = NULL;
	char table[RW_EGRESS_ID_MAX + sizeof(RW_EGRESS_TABLE_PREFIX)];
	size_t size = 64 * 1024, most = 1;
	int ret;

	if (rw_egress_table_name(id, table, sizeof(table), err) < 0)
		return -1;
	if (ifname == NULL || *ifname == '\0')
		return rw_error(err, 0, "egress: container %s: no device", id);
	if (rw_egress_check_rules(rules, n, err) < 0)
		return rw_error_prefix(err, "egress: container %s", id);
	for (size_t i = 0; i < n; i++) {
		size += 256 + 64 * (rules[i].n_cidrs + rules[i].n_ports);
		most = rules[i].n_cidrs > most ? rules[i].n_cidrs : most;
		most = rules[i].n_ports > most ? rules[i].n_ports : most;
	}
	scratch = calloc(most, sizeof(*scratch));
	if (scratch == NULL)
		return rw_error(err, ENOMEM, "egress: container %s", id);
	if (nl_open2(netns_fd, &rt, &nl, err) < 0)
		return rw_error_prefix(err, "egress: container %s", id);
	/* Since Linux 6.16 a netdev chain may name a device that does not exist
	 * (it binds when one of that name appears): ask rtnetlink first, so that
	 * a typo or a vanished veth is an error and not a silent no-op. */
	{
		char copy[RW_EGRESS_MAX_DEVS * IF_NAMESIZE], *save = NULL, *tok;
		size_t k = 0;

		if (strlen(ifname) >= sizeof(copy))
			return rw_error(err, E2BIG, "egress: container %s: too many devices", id);
		snprintf(copy, sizeof(copy), "%s", ifname);
		for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			if (++k > RW_EGRESS_MAX_DEVS || device_index(rt, tok, err) < 0)
				return k > RW_EGRESS_MAX_DEVS ? rw_error(err, E2BIG, "egress: container %s: more than %d devices", id, RW_EGRESS_MAX_DEVS)
							       : rw_error_prefix(err, "egress: container %s", id);
		if (k == 0)
			return rw_error(err, 0, "egress: container %s: no device", id);
	}
	ret = install_batch(nl, table, ifname, rules, n, scratch, size, false, err);
	if (ret < 0 && (*err)->errno_ == EEXIST) {
		rw_error_free(err);
		ret = install_batch(nl, table, ifname, rules, n, scratch, size, true, err);
	}
	if (ret < 0)
		return rw_error_prefix(err, "egress: container %s on %s", id, ifname);
	return 0;
}

int rw_egress_remove(int netns_fd, const char *id, rw_error_t *err)
{
	cleanup_nl struct mnl_socket *nl = NULL;
	char table[RW_EGRESS_ID_MAX + sizeof(RW_EGRESS_TABLE_PREFIX)];
	struct batch bt;
	int ret;

	if (rw_egress_table_name(id, table, sizeof(table), err) < 0)
		return -1;
	nl = nl_open(netns_fd, NETLINK_NETFILTER, err);
	if (nl == NULL)
		return rw_error_prefix(err, "egress: container %s", id);
	if (batch_init(&bt, 2 * MNL_SOCKET_BUFFER_SIZE, err) < 0)
		return -1;
	nftnl_batch_begin(mnl_nlmsg_batch_current(bt.b), bt.seq0);
	mnl_nlmsg_batch_next(bt.b);
	put_table(&bt, NFT_MSG_DELTABLE, 0, table, "delete");
	nftnl_batch_end(mnl_nlmsg_batch_current(bt.b), bt.seq + 1);
	mnl_nlmsg_batch_next(bt.b);
	ret = batch_talk(nl, &bt, bt.n_what, "remove", err);
	batch_free(&bt);
	if (ret < 0 && (*err)->errno_ == ENOENT) {
		rw_error_free(err);
		return 0;
	}
	return ret < 0 ? rw_error_prefix(err, "egress: container %s", id) : 0;
}

int rw_egress_remove_many(int netns_fd, const char *const *ids, size_t n, rw_error_t *err)
{
	cleanup_nl struct mnl_socket *nl = NULL;
	cleanup_free bool *gone = NULL;
	char table[RW_EGRESS_ID_MAX + sizeof(RW_EGRESS_TABLE_PREFIX)];
	size_t left = n;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (rw_egress_table_name(ids[i], table, sizeof(table), err) < 0)
			return -1;
	gone = calloc(n, sizeof(*gone));
	if (gone == NULL)
		return rw_error(err, ENOMEM, "egress: remove");
	nl = nl_open(netns_fd, NETLINK_NETFILTER, err);
	if (nl == NULL)
		return rw_error_prefix(err, "egress: remove");
	/* A table already gone fails the whole batch (ENOENT) with nothing
	 * changed: drop it and send the rest again. */
	while (left > 0) {
		struct batch bt;
		size_t *idx = calloc(left, sizeof(*idx)), k = 0;
		int ret;

		if (idx == NULL)
			return rw_error(err, ENOMEM, "egress: remove");
		if (batch_init(&bt, 2 * MNL_SOCKET_BUFFER_SIZE + left * 128, err) < 0) {
			free(idx);
			return rw_error_prefix(err, "egress: remove");
		}
		nftnl_batch_begin(mnl_nlmsg_batch_current(bt.b), bt.seq0);
		mnl_nlmsg_batch_next(bt.b);
		for (size_t i = 0; i < n; i++) {
			if (gone[i])
				continue;
			rw_egress_table_name(ids[i], table, sizeof(table), NULL);
			put_table(&bt, NFT_MSG_DELTABLE, 0, table, "delete");
			idx[k++] = i;
		}
		nftnl_batch_end(mnl_nlmsg_batch_current(bt.b), bt.seq + 1);
		mnl_nlmsg_batch_next(bt.b);
		ret = batch_talk(nl, &bt, bt.n_what, "remove", err);
		if (ret < 0 && (*err)->errno_ == ENOENT && bt.failed >= 0 && (size_t)bt.failed < k) {
			rw_error_free(err);
			gone[idx[bt.failed]] = true;
			left--;
		} else {
			left = 0;
		}
		batch_free(&bt);
		free(idx);
		if (ret < 0 && *err)
			return rw_error_prefix(err, "egress");
	}
	return 0;
}

/* ---- dumps: list ---- */

struct dump_ctx {
	int (*each)(const struct nlmsghdr *nlh, void *arg);
	void *arg;
};

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *d = data;
	return d->each(nlh, d->arg) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

/* One dump request; every reply through each(); errors with their ext ACK.
 * A dump the kernel marks interrupted (NLM_F_DUMP_INTR: the links or the
 * ruleset changed while it ran, as when containers start in parallel) is
 * read to its end, thrown away and asked for again, so that each() only
 * ever sees one consistent dump. */
struct dump_chunk {
	char *p;
	size_t len;
};

static void free_chunks(struct dump_chunk *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(c[i].p);
	free(c);
}

#define DUMP_TRIES 20

static int dump(struct mnl_socket *nl, struct nlmsghdr *req, int (*each)(const struct nlmsghdr *, void *),
		void *arg, const char *what, rw_error_t *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE * 4];
	struct dump_ctx d = {each, arg};
	uint32_t portid = mnl_socket_get_portid(nl), seq = req->nlmsg_seq;
	int tries;

	for (tries = 0; tries < DUMP_TRIES; tries++) {
		struct dump_chunk *chunks = NULL;
		size_t n = 0, i;
		bool done = false, intr = false;
		int ret = MNL_CB_OK;

		req->nlmsg_seq = seq;
		if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0)
			return rw_error(err, errno, "%s: send", what);
		while (!done) {
			ssize_t len = mnl_socket_recvfrom(nl, buf, sizeof(buf));
			const struct nlmsghdr *nlh = (const void *)buf;
			int left;
			struct dump_chunk *grown;

			if (len < 0) {
				if (errno == EINTR)
					continue;
				free_chunks(chunks, n);
				return rw_error(err, errno, "%s: read", what);
			}
			for (left = (int)len; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
				if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
					intr = true;
				/* Errors come back as NLMSG_ERROR; decode the ext ACK
				 * ourselves. Error 0 is the ACK that ends a request
				 * that is no dump. */
				if (nlh->nlmsg_type == NLMSG_ERROR &&
				    nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(struct nlmsgerr))) {
					const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
					char ext[320];
					if (e->error == 0) {
						done = true;
						continue;
					}
					free_chunks(chunks, n);
					ext_ack_text(nlh, NULL, 0, ext, sizeof(ext));
					errno = -e->error;
					return rw_error(err, -e->error, "%s%s%s%s", what, ext[0] ? " (kernel: " : "",
							ext, ext[0] ? ")" : "");
				}
				/* NLMSG_DONE ends a dump; a request that is no dump and
				 * asks for no ACK ends with its one reply. */
				if (nlh->nlmsg_type == NLMSG_DONE ||
				    (!(nlh->nlmsg_flags & NLM_F_MULTI) && !(req->nlmsg_flags & NLM_F_ACK)))
					done = true;
			}
			if (len == 0)
				done = true;
			grown = realloc(chunks, (n + 1) * sizeof(*chunks));
			if (grown == NULL || (grown[n].p = malloc((size_t)len)) == NULL) {
				free_chunks(grown ? grown : chunks, n);
				return rw_error(err, ENOMEM, "%s", what);
			}
			chunks = grown;
			memcpy(chunks[n].p, buf, (size_t)len);
			chunks[n++].len = (size_t)len;
		}
		if (intr) {
			free_chunks(chunks, n);
			continue;
		}
		for (i = 0; i < n && ret == MNL_CB_OK; i++)
			ret = mnl_cb_run(chunks[i].p, chunks[i].len, seq, portid, dump_cb, &d);
		free_chunks(chunks, n);
		if (ret < 0)
			return rw_error(err, errno, "%s", what);
		return 0;
	}
	return rw_error(err, EINTR, "%s: interrupted %d times in a row (links or rules changing too fast)", what, DUMP_TRIES);
}

struct table_list {
	char **names;
	size_t n, cap;
	const char *only; /* a table name, or NULL */
};

static int each_table(const struct nlmsghdr *nlh, void *arg)
{
	struct table_list *tl = arg;
	struct nftnl_table *t = nftnl_table_alloc();
	const char *name;

	if (t == NULL)
		return -1;
	if (nftnl_table_nlmsg_parse(nlh, t) < 0) {
		nftnl_table_free(t);
		return -1;
	}
	name = nftnl_table_get_str(t, NFTNL_TABLE_NAME);
	if (name && strncmp(name, RW_EGRESS_TABLE_PREFIX, strlen(RW_EGRESS_TABLE_PREFIX)) == 0 &&
	    (tl->only == NULL || strcmp(name, tl->only) == 0)) {
		if (tl->n == tl->cap) {
			size_t cap = tl->cap ? tl->cap * 2 : 16;
			char **nn = realloc(tl->names, cap * sizeof(*nn));
			if (nn == NULL) {
				nftnl_table_free(t);
				return -1;
			}
			tl->names = nn;
			tl->cap = cap;
		}
		tl->names[tl->n] = strdup(name);
		if (tl->names[tl->n] == NULL) {
			nftnl_table_free(t);
			return -1;
		}
		tl->n++;
	}
	nftnl_table_free(t);
	return 0;
}

struct table_detail {
	char device[RW_EGRESS_MAX_DEVS * IF_NAMESIZE];
	struct rw_egress_counter *counters;
	char **names;
	size_t n, cap;
};

static int each_chain(const struct nlmsghdr *nlh, void *arg)
{
	struct table_detail *td = arg;
	struct nftnl_chain *c = nftnl_chain_alloc();

	if (c == NULL)
		return -1;
	if (nftnl_chain_nlmsg_parse(nlh, c) == 0 && strcmp(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME), CHAIN_NAME) == 0) {
		if (nftnl_chain_is_set(c, NFTNL_CHAIN_DEV))
			snprintf(td->device, sizeof(td->device), "%s", nftnl_chain_get_str(c, NFTNL_CHAIN_DEV));
		else if (nftnl_chain_is_set(c, NFTNL_CHAIN_DEVICES)) {
			const char *const *devs = nftnl_chain_get_array(c, NFTNL_CHAIN_DEVICES);
			size_t k, used = 0;
			td->device[0] = '\0';
			for (k = 0; devs && devs[k] && used < sizeof(td->device); k++)
				used += (size_t)snprintf(td->device + used, sizeof(td->device) - used, "%s%s", k ? "," : "", devs[k]);
		}
	}
	nftnl_chain_free(c);
	return 0;
}

struct rule_counts {
	const char *comment;
	uint64_t packets, bytes;
	bool seen;
};

static int udata_comment(const struct nftnl_udata *attr, void *data)
{
	if (nftnl_udata_type(attr) == UDATA_RULE_COMMENT && nftnl_udata_len(attr) > 0) {
		const char *v = nftnl_udata_get(attr);
		if (v[nftnl_udata_len(attr) - 1] == '\0')
			*(const char **)data = v;
	}
	return 0;
}

static int expr_counter(struct nftnl_expr *e, void *data)
{
	struct rule_counts *rc = data;

	if (strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "counter") == 0) {
		rc->packets += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
		rc->bytes += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
		rc->seen = true;
	}
	return 0;
}

/* Sums the counters of the kernel rules of each policy rule (by comment),
 * in the order the rules come. */
static int each_rule(const struct nlmsghdr *nlh, void *arg)
{
	struct table_detail *td = arg;
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct rule_counts rc = {NULL, 0, 0, false};
	const void *ud;
	uint32_t ud_len = 0;
	size_t i;
	int ret = 0;

	if (r == NULL)
		return -1;
	if (nftnl_rule_nlmsg_parse(nlh, r) < 0)
		goto out;
	ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &ud_len);
	if (ud)
		nftnl_udata_parse(ud, ud_len, udata_comment, &rc.comment);
	nftnl_expr_foreach(r, expr_counter, &rc);
	if (rc.comment == NULL || !rc.seen)
		goto out;
	for (i = 0; i < td->n; i++)
		if (strcmp(td->names[i], rc.comment) == 0)
			break;
	if (i == td->n) {
		if (td->n == td->cap) {
			size_t cap = td->cap ? td->cap * 2 : 8;
			struct rw_egress_counter *nc = realloc(td->counters, cap * sizeof(*nc));
			char **nn;
			if (nc == NULL) {
				ret = -1;
				goto out;
			}
			td->counters = nc;
			nn = realloc(td->names, cap * sizeof(*nn));
			if (nn == NULL) {
				ret = -1;
				goto out;
			}
			td->names = nn;
			td->cap = cap;
		}
		td->names[i] = strdup(rc.comment);
		if (td->names[i] == NULL) {
			ret = -1;
			goto out;
		}
		td->counters[i] = (struct rw_egress_counter){td->names[i], 0, 0};
		td->n++;
	}
	td->counters[i].packets += rc.packets;
	td->counters[i].bytes += rc.bytes;
out:
	nftnl_rule_free(r);
	return ret;
}

static void table_detail_free(struct table_detail *td)
{
	for (size_t i = 0; i < td->n; i++)
		free(td->names[i]);
	free(td->names);
	free(td->counters);
}

static int dump_table_part(struct mnl_socket *nl, uint16_t type, const char *table,
			   int (*each)(const struct nlmsghdr *, void *), void *arg, rw_error_t *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, type, NFPROTO_NETDEV, NLM_F_DUMP, (uint32_t)time(NULL));

	if (type == NFT_MSG_GETCHAIN) {
		struct nftnl_chain *c = nftnl_chain_alloc();
		if (c == NULL)
			return rw_error(err, ENOMEM, "list");
		nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
		nftnl_chain_nlmsg_build_payload(nlh, c);
		nftnl_chain_free(c);
	} else {
		struct nftnl_rule *r = nftnl_rule_alloc();
		if (r == NULL)
			return rw_error(err, ENOMEM, "list");
		nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
		nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, CHAIN_NAME);
		nftnl_rule_nlmsg_build_payload(nlh, r);
		nftnl_rule_free(r);
	}
	return dump(nl, nlh, each, arg, type == NFT_MSG_GETCHAIN ? "list chains" : "list rules", err);
}

int rw_egress_list(int netns_fd, const char *id, rw_egress_list_cb cb, void *arg, rw_error_t *err)
{
	cleanup_nl struct mnl_socket *nl = NULL;
	char only[RW_EGRESS_ID_MAX + sizeof(RW_EGRESS_TABLE_PREFIX)];
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct table_list tl = {NULL, 0, 0, NULL};
	struct nlmsghdr *nlh;
	int ret = 0;

	if (id) {
		if (rw_egress_table_name(id, only, sizeof(only), err) < 0)
			return -1;
		tl.only = only;
	}
	nl = nl_open(netns_fd, NETLINK_NETFILTER, err);
	if (nl == NULL)
		return rw_error_prefix(err, "egress: list");
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_NETDEV, NLM_F_DUMP, (uint32_t)time(NULL));
	ret = dump(nl, nlh, each_table, &tl, "list tables", err);
	for (size_t i = 0; ret == 0 && i < tl.n; i++) {
		struct table_detail td = {.device = ""};
		/* A table can go between the dumps (a concurrent delete): skip it. */
		ret = dump_table_part(nl, NFT_MSG_GETCHAIN, tl.names[i], each_chain, &td, err);
		if (ret == 0)
			ret = dump_table_part(nl, NFT_MSG_GETRULE, tl.names[i], each_rule, &td, err);
		if (ret < 0 && (*err)->errno_ == ENOENT) {
			rw_error_free(err);
			ret = 0;
		} else if (ret == 0) {
			struct rw_egress_table t = {
				tl.names[i] + strlen(RW_EGRESS_TABLE_PREFIX), tl.names[i], td.device,
				td.counters, td.n,
			};
			ret = cb(&t, arg);
			if (ret < 0 && err && *err == NULL)
				rw_error(err, 0, "egress: list: stopped at table %s", tl.names[i]);
		}
		table_detail_free(&td);
	}
	for (size_t i = 0; i < tl.n; i++)
		free(tl.names[i]);
	free(tl.names);
	if (ret < 0 && err && *err && strncmp((*err)->msg, "egress: ", 8) != 0)
		rw_error_prefix(err, "egress");
	return ret;
}

/* ---- peers ---- */

struct link_info {
	int ifindex, peer_ifindex, nsid;
	char ifname[IF_NAMESIZE];
	bool veth;
};

struct link_list {
	struct link_info *links;
	size_t n, cap;
};

static int linkinfo_kind(const struct nlattr *linkinfo, bool *veth)
{
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, linkinfo) {
		if (mnl_attr_get_type(a) == IFLA_INFO_KIND && mnl_attr_validate(a, MNL_TYPE_STRING) >= 0)
			*veth = strncmp(mnl_attr_get_payload(a), "veth", mnl_attr_get_payload_len(a)) == 0 &&
				mnl_attr_get_payload_len(a) >= 4;
	}
	return 0;
}

static int each_link(const struct nlmsghdr *nlh, void *arg)
{
	struct link_list *ll = arg;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct link_info li = {.ifindex = ifi->ifi_index, .peer_ifindex = 0, .nsid = -1};
	const struct nlattr *a;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return 0;
	mnl_attr_for_each(a, nlh, sizeof(*ifi)) {
		switch (mnl_attr_get_type(a)) {
		case IFLA_IFNAME:
			if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
				snprintf(li.ifname, sizeof(li.ifname), "%s", mnl_attr_get_str(a));
			break;
		case IFLA_LINK:
			if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
				li.peer_ifindex = (int)mnl_attr_get_u32(a);
			break;
		case IFLA_LINK_NETNSID:
			if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
				li.nsid = (int)mnl_attr_get_u32(a);
			break;
		case IFLA_LINKINFO:
			linkinfo_kind(a, &li.veth);
			break;
		}
	}
	if (ll->n == ll->cap) {
		size_t cap = ll->cap ? ll->cap * 2 : 8;
		struct link_info *nl = realloc(ll->links, cap * sizeof(*nl));
		if (nl == NULL)
			return -1;
		ll->links = nl;
		ll->cap = cap;
	}
	ll->links[ll->n++] = li;
	return 0;
}

struct nsid_reply {
	int nsid;
};

static int each_nsid(const struct nlmsghdr *nlh, void *arg)
{
	struct nsid_reply *r = arg;
	const struct nlattr *a;

	if (nlh->nlmsg_type != RTM_NEWNSID)
		return 0;
	mnl_attr_for_each(a, nlh, sizeof(struct rtgenmsg)) {
		if (mnl_attr_get_type(a) == NETNSA_NSID && mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
			r->nsid = (int)mnl_attr_get_u32(a);
	}
	return 0;
}

/* The nsid that the namespace of `rt` gives to candidate_fd (-1: none). */
static int nsid_of(struct mnl_socket *rt, int candidate_fd, int *nsid, rw_error_t *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtgenmsg *g;
	struct nsid_reply r = {-1};

	nlh->nlmsg_type = RTM_GETNSID;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = (uint32_t)time(NULL);
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->rtgen_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, NETNSA_FD, (uint32_t)candidate_fd);
	if (dump(rt, nlh, each_nsid, &r, "get nsid", err) < 0)
		return -1;
	*nsid = r.nsid;
	return 0;
}

static int list_links(struct mnl_socket *rt, struct link_list *ll, rw_error_t *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = (uint32_t)time(NULL);
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	return dump(rt, nlh, each_link, ll, "list links", err);
}

static int candidate_netns(int **fds, size_t *n, rw_error_t *err)
{
	DIR *d;
	struct dirent *de;
	size_t cap = 8;

	*n = 0;
	*fds = malloc(cap * sizeof(**fds));
	if (*fds == NULL)
		return rw_error(err, ENOMEM, "namespaces to search");
	(*fds)[0] = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if ((*fds)[0] < 0)
		return rw_error(err, errno, "open /proc/thread-self/ns/net");
	*n = 1;
	d = opendir("/run/netns");
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		int fd;
		if (de->d_name[0] == '.')
			continue;
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (*n == cap) {
			int *nf = realloc(*fds, cap * 2 * sizeof(*nf));
			if (nf == NULL) {
				close(fd);
				break;
			}
			*fds = nf;
			cap *= 2;
		}
		(*fds)[(*n)++] = fd;
	}
	closedir(d);
	return 0;
}

int rw_egress_find_peers(int container_netns_fd, struct rw_egress_peer *out, size_t max, rw_error_t *err)
{
	cleanup_nl struct mnl_socket *rt = NULL;
	struct link_list ll = {NULL, 0, 0};
	int *cands = NULL;
	int *cand_nsid = NULL;
	size_t n_cands = 0;
	int found = 0, ret = 0;

	rt = nl_open(container_netns_fd, NETLINK_ROUTE, err);
	if (rt == NULL)
		return rw_error_prefix(err, "egress: peers");
	if (list_links(rt, &ll, err) < 0) {
		free(ll.links);
		return rw_error_prefix(err, "egress: peers");
	}
	for (size_t i = 0; i < ll.n && ret == 0; i++) {
		struct link_info *li = &ll.links[i];
		int peer_fd = -1;

		/* No nsid: the peer is in the same namespace, not a host side. */
		if (!li->veth || li->nsid < 0 || li->peer_ifindex <= 0)
			continue;
		if (cands == NULL) {
			ret = candidate_netns(&cands, &n_cands, err);
			if (ret == 0) {
				cand_nsid = malloc(n_cands * sizeof(*cand_nsid));
				for (size_t c = 0; cand_nsid && c < n_cands; c++)
					if (nsid_of(rt, cands[c], &cand_nsid[c], err) < 0) {
						rw_error_free(err);
						cand_nsid[c] = -1;
					}
				if (cand_nsid == NULL)
					ret = rw_error(err, ENOMEM, "namespaces to search");
			}
			if (ret < 0)
				break;
		}
		for (size_t c = 0; c < n_cands; c++)
			if (cand_nsid[c] == li->nsid) {
				peer_fd = cands[c];
				break;
			}
		if (peer_fd < 0) {
			ret = rw_error(err, 0, "the peer of %s (nsid %d) is in no namespace found here or in /run/netns",
				       li->ifname, li->nsid);
			break;
		}
		if ((size_t)found < max) {
			struct rw_egress_peer *p = &out[found];
			cleanup_nl struct mnl_socket *prt = nl_open(peer_fd, NETLINK_ROUTE, err);
			struct link_list pl = {NULL, 0, 0};
			if (prt == NULL || list_links(prt, &pl, err) < 0) {
				free(pl.links);
				ret = -1;
				break;
			}
			memset(p, 0, sizeof(*p));
			p->netns_fd = -1;
			for (size_t k = 0; k < pl.n; k++)
				if (pl.links[k].ifindex == li->peer_ifindex)
					snprintf(p->ifname, sizeof(p->ifname), "%s", pl.links[k].ifname);
			free(pl.links);
			if (p->ifname[0] == '\0') {
				ret = rw_error(err, 0, "the peer of %s (ifindex %d) is gone", li->ifname,
					       li->peer_ifindex);
				break;
			}
			p->ifindex = li->peer_ifindex;
			snprintf(p->container_ifname, sizeof(p->container_ifname), "%s", li->ifname);
			p->netns_fd = fcntl(peer_fd, F_DUPFD_CLOEXEC, 0);
			if (p->netns_fd < 0) {
				ret = rw_error(err, errno, "dup");
				break;
			}
		}
		found++;
	}
	if (ret < 0)
		for (int k = 0; k < found && (size_t)k < max; k++)
			if (out[k].netns_fd >= 0) {
				close(out[k].netns_fd);
				out[k].netns_fd = -1;
			}
	for (size_t c = 0; c < n_cands; c++)
		close(cands[c]);
	free(cands);
	free(cand_nsid);
	free(ll.links);
	return ret < 0 ? rw_error_prefix(err, "egress: peers") : found;
}
