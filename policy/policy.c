#include "config.h"
#include "policy/policy.h"
#include "shim/fileio.h"
#include "shim/json.h"
#include "shim/strv.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#define RW_MAX_POLICY (4u << 20)

static const char *const cap_names[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE", NULL
};

bool rw_cap_known(const char *name)
{
	size_t i;

	for (i = 0; cap_names[i]; i++)
		if (strcmp(cap_names[i], name) == 0)
			return true;
	return false;
}

const char *rw_policy_path(void)
{
	const char *p = getenv("RUNWARDEN_POLICY");
	return p && *p ? p : RW_POLICY_FILE;
}

/* "512m", "1g", "1.5g", "512MiB", "1024": binary multiples, as Docker's. */
int rw_parse_size(const char *s, uint64_t *out)
{
	char *end;
	double v;
	uint64_t mult = 1;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || v != v || v <= 0 || strchr("+-", *s) || strpbrk(s, "xXnNiI ") == s)
		return -1;
	switch (*end) {
	case 'k': case 'K': mult = 1ull << 10; end++; break;
	case 'm': case 'M': mult = 1ull << 20; end++; break;
	case 'g': case 'G': mult = 1ull << 30; end++; break;
	case 't': case 'T': mult = 1ull << 40; end++; break;
	case 'b': case 'B': break;
	case '\0': break;
	default: return -1;
	}
	if (mult > 1 && (*end == 'i' || *end == 'I'))
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end != '\0' || v * (double)mult >= 9.2e18 || v * (double)mult < 1)
		return -1;
	*out = (uint64_t)(v * (double)mult);
	return 0;
}

int rw_parse_cpus(const char *s, uint64_t *micro)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || v != v || v <= 0 || v > 1024 || strchr("+-", *s))
		return -1;
	*micro = (uint64_t)(v * 1e6 + 0.5);
	return *micro ? 0 : -1;
}

/* The checker: collects every error with its position. */
struct checker {
	const char *path, *buf;
	size_t len;
	char **msgs;
	size_t n;
	size_t cur_off, cur_line;   /* line_at's cursor: rules are read in order */
};

/* The 1-based line of offset off, counted on from the last call when off
 * lies further on (rules come in document order: linear in the file). */
static unsigned line_at(struct checker *c, size_t off)
{
	if (off < c->cur_off || c->cur_line == 0) {
		c->cur_off = 0;
		c->cur_line = 1;
	}
	for (; c->cur_off < off && c->cur_off < c->len; c->cur_off++)
		if (c->buf[c->cur_off] == '\n')
			c->cur_line++;
	return (unsigned)c->cur_line;
}

static void __attribute__((format(printf, 3, 4))) bad(struct checker *c, size_t off, const char *fmt, ...)
{
	va_list ap;
	char *m = NULL;
	size_t line = 0, col = 0;

	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	json_line_col(c->buf, c->len, off, &line, &col);
	if (m)
		(void)rw_strv_pushf(&c->msgs, &c->n, "%s:%zu:%zu: %s", c->path, line, col, m);
	free(m);
}

static bool key_is(const struct json_member *m, const char *key)
{
	return m->klen == strlen(key) && memcmp(m->key, key, m->klen) == 0;
}

/* A key as JSON text: a key with NUL or control bytes reads as written. */
static char *quoted_key(const struct json_member *m)
{
	struct json key = { .type = JSON_STRING, .u.str = { m->key, m->klen } };
	struct json_buf b = { 0 };
	cleanup_error rw_error_t err = NULL;

	if (json_emit(&key, &b, &err) < 0) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

static void unknown_key(struct checker *c, const struct json_member *m, const char *where)
{
	cleanup_free char *q = quoted_key(m);
	bad(c, m->koff, "unknown key %s%s", q ? q : "?", where);
}

/* Duplicate keys: the second one is the error (Go would silently take it). */
static void check_duplicates(struct checker *c, const struct json *obj)
{
	size_t i, j;

	for (i = 1; i < obj->u.obj.n; i++)
		for (j = 0; j < i; j++)
			if (obj->u.obj.m[i].klen == obj->u.obj.m[j].klen &&
			    memcmp(obj->u.obj.m[i].key, obj->u.obj.m[j].key, obj->u.obj.m[i].klen) == 0) {
				cleanup_free char *q = quoted_key(&obj->u.obj.m[i]);
				bad(c, obj->u.obj.m[i].koff, "duplicate key %s", q ? q : "?");
				break;
			}
}

static bool is_plain_string(const struct json *v)
{
	return v && v->type == JSON_STRING && memchr(v->u.str.s, '\0', v->u.str.len) == NULL;
}

static char *take_string(struct checker *c, const struct json_member *m)
{
	char *s;

	if (!is_plain_string(m->val)) {
		bad(c, m->val->off, "\"%s\" must be a string", m->key);
		return NULL;
	}
	s = strdup(m->val->u.str.s);
	return s;
}

static bool abs_path_ok(const struct json *v)
{
	return v->u.str.s[0] == '/' && !strstr(v->u.str.s, "/../") &&
	       strcmp(v->u.str.s + (v->u.str.len >= 3 ? v->u.str.len - 3 : 0), "/..") != 0;
}

static char *take_abs_path(struct checker *c, const struct json *v, const char *what)
{
	if (!is_plain_string(v)) {
		bad(c, v->off, "%s must be a string", what);
		return NULL;
	}
	if (!abs_path_ok(v)) {
		bad(c, v->off, "%s must be an absolute path without \"..\": \"%s\"", what, v->u.str.s);
		return NULL;
	}
	return strdup(v->u.str.s);
}

static char *take_delegate(struct checker *c, const struct json_member *m)
{
	char *s = take_string(c, m);

	if (s && (*s == '\0' || (s[0] != '/' && strchr(s, '/')))) {
		bad(c, m->val->off, "\"delegate\" must be a name (runsc, crun, runc) or an absolute path");
		free(s);
		return NULL;
	}
	return s;
}

static void take_size(struct checker *c, const struct json_member *m, uint64_t *out)
{
	const struct json *v = m->val;

	if (v->type == JSON_NUMBER || is_plain_string(v)) {
		if (v->type == JSON_NUMBER && strpbrk(v->u.str.s, ".eE")) {
			bad(c, v->off, "\"%s\": a number of bytes must be a whole number", m->key);
			return;
		}
		if (v->type == JSON_NUMBER && v->u.str.s[0] == '-') {
			bad(c, v->off, "\"%s\" must be greater than zero", m->key);
			return;
		}
		if (rw_parse_size(v->u.str.s, out) < 0) {
			if (strcmp(v->u.str.s, "0") == 0 || v->u.str.s[0] == '-')
				bad(c, v->off, "\"%s\" must be greater than zero", m->key);
			else
				bad(c, v->off, "\"%s\": bad size \"%s\" (use bytes or a figure with k, m, g or t, e.g. \"512m\")",
				    m->key, v->u.str.s);
		}
		return;
	}
	bad(c, v->off, "\"%s\" must be a size: a string like \"512m\" or a number of bytes", m->key);
}

static void take_cpus(struct checker *c, const struct json_member *m, uint64_t *out)
{
	const struct json *v = m->val;

	if (v->type != JSON_NUMBER && !is_plain_string(v)) {
		bad(c, v->off, "\"cpus\" must be a number of CPUs, e.g. 0.5");
		return;
	}
	if (rw_parse_cpus(v->u.str.s, out) < 0) {
		double d = strtod(v->u.str.s, NULL);
		if (d <= 0 && strspn(v->u.str.s, "-+0123456789.eE") == v->u.str.len)
			bad(c, v->off, "\"cpus\" must be greater than zero");
		else
			bad(c, v->off, "\"cpus\": bad figure \"%s\" (a number of CPUs up to 1024, e.g. 0.5)", v->u.str.s);
	}
}

static void take_pids(struct checker *c, const struct json_member *m, int64_t *out)
{
	const struct json *v = m->val;
	char *end;
	long long n;

	if (v->type != JSON_NUMBER) {
		bad(c, v->off, "\"pids\" must be an integer");
		return;
	}
	errno = 0;
	n = strtoll(v->u.str.s, &end, 10);
	if (*end || errno) {
		bad(c, v->off, "\"pids\" must be an integer");
		return;
	}
	if (n <= 0) {
		bad(c, v->off, "\"pids\" must be greater than zero");
		return;
	}
	if (n > 4194304) {
		bad(c, v->off, "\"pids\": %lld is above the kernel's maximum 4194304", n);
		return;
	}
	*out = n;
}

static char **take_string_array(struct checker *c, const struct json_member *m, size_t *n,
				char *(*each)(struct checker *, const struct json *, const char *))
{
	const struct json *v = m->val;
	char **out;
	size_t i;

	*n = 0;
	if (v->type != JSON_ARRAY) {
		bad(c, v->off, "\"%s\" must be an array", m->key);
		return NULL;
	}
	out = calloc(v->u.arr.n + 1, sizeof(*out));
	if (out == NULL)
		return NULL;
	for (i = 0; i < v->u.arr.n; i++) {
		char *s = each(c, v->u.arr.v[i], m->key);
		if (s)
			out[(*n)++] = s;
	}
	return out;
}

static char *each_cap(struct checker *c, const struct json *v, const char *what)
{
	if (!is_plain_string(v)) {
		bad(c, v->off, "\"%s\" entries must be strings", what);
		return NULL;
	}
	if (!rw_cap_known(v->u.str.s)) {
		bad(c, v->off, "unknown capability \"%s\" (write it as CAP_NET_BIND_SERVICE)", v->u.str.s);
		return NULL;
	}
	return strdup(v->u.str.s);
}

static char *each_string(struct checker *c, const struct json *v, const char *what)
{
	if (!is_plain_string(v) || v->u.str.len == 0) {
		bad(c, v->off, "\"%s\" entries must be non-empty strings", what);
		return NULL;
	}
	return strdup(v->u.str.s);
}

static char *each_path(struct checker *c, const struct json *v, const char *what)
{
	char label[64];
	snprintf(label, sizeof(label), "\"%s\" entries", what);
	return take_abs_path(c, v, label);
}

static void take_kv(struct checker *c, const struct json_member *m, struct rw_kv_list *kv)
{
	const struct json *v = m->val;
	size_t i;

	if (v->type != JSON_OBJECT) {
		bad(c, v->off, "\"%s\" must be an object of strings", m->key);
		return;
	}
	check_duplicates(c, v);
	kv->keys = calloc(v->u.obj.n + 1, sizeof(char *));
	kv->values = calloc(v->u.obj.n + 1, sizeof(char *));
	if (!kv->keys || !kv->values)
		return;
	for (i = 0; i < v->u.obj.n; i++) {
		const struct json_member *e = &v->u.obj.m[i];
		if (!is_plain_string(e->val) || memchr(e->key, '\0', e->klen)) {
			bad(c, e->val->off, "\"%s\" values must be strings", m->key);
			continue;
		}
		kv->keys[kv->n] = strdup(e->key);
		kv->values[kv->n++] = strdup(e->val->u.str.s);
	}
}

static void free_kv(struct rw_kv_list *kv)
{
	size_t i;

	for (i = 0; i < kv->n; i++) {
		free(kv->keys[i]);
		free(kv->values[i]);
	}
	free(kv->keys);
	free(kv->values);
	memset(kv, 0, sizeof(*kv));
}

static void load_tier(struct checker *c, const struct json_member *tm, struct rw_tier *t)
{
	const struct json *v = tm->val;
	bool seen[4] = { false };
	size_t i;

	t->name = strdup(tm->key);
	if (v->type != JSON_OBJECT) {
		bad(c, v->off, "tier \"%s\" must be an object", tm->key);
		return;
	}
	check_duplicates(c, v);
	for (i = 0; i < v->u.obj.n; i++) {
		const struct json_member *m = &v->u.obj.m[i];
		if (key_is(m, "memory"))
			take_size(c, m, &t->memory), seen[0] = true;
		else if (key_is(m, "cpus"))
			take_cpus(c, m, &t->cpu_micro), seen[1] = true;
		else if (key_is(m, "tmpfs"))
			take_size(c, m, &t->tmpfs), seen[2] = true;
		else if (key_is(m, "pids"))
			take_pids(c, m, &t->pids), seen[3] = true;
		else if (key_is(m, "capabilities")) {
			free(t->caps);
			t->caps = take_string_array(c, m, &t->ncaps, each_cap);
		} else if (key_is(m, "delegate")) {
			free(t->delegate);
			t->delegate = take_delegate(c, m);
		} else if (key_is(m, "egress")) {
			rw_strv_free(&t->egress, &t->negress);
			t->egress = take_string_array(c, m, &t->negress, each_string);
			t->egress_set = true;
		} else
			unknown_key(c, m, " in a tier (memory, cpus, tmpfs, pids, capabilities, delegate, egress)");
	}
	{
		static const char *const names[] = { "memory", "cpus", "tmpfs", "pids" };
		for (i = 0; i < 4; i++)
			if (!seen[i])
				bad(c, v->off, "tier \"%s\" has no \"%s\"", tm->key, names[i]);
	}
}

static void load_trusted(struct checker *c, const struct json *v, size_t idx, struct rw_trusted *t)
{
	size_t i;

	if (v->type != JSON_OBJECT) {
		bad(c, v->off, "\"trusted\"[%zu] must be an object", idx);
		return;
	}
	check_duplicates(c, v);
	for (i = 0; i < v->u.obj.n; i++) {
		const struct json_member *m = &v->u.obj.m[i];
		if (key_is(m, "name"))
			free(t->name), t->name = take_string(c, m);
		else if (key_is(m, "annotation"))
			free_kv(&t->annotations), take_kv(c, m, &t->annotations);
		else if (key_is(m, "label"))
			free_kv(&t->labels), take_kv(c, m, &t->labels);
		else if (key_is(m, "cgroup_parent"))
			free(t->cgroup_parent), t->cgroup_parent = take_string(c, m);
		else if (key_is(m, "image"))
			free(t->image), t->image = take_string(c, m);
		else if (key_is(m, "digest")) {
			free(t->digest);
			t->digest = take_string(c, m);
			if (t->digest && (strncmp(t->digest, "sha256:", 7) != 0 || strlen(t->digest) != 71 ||
					  strspn(t->digest + 7, "0123456789abcdef") != 64)) {
				bad(c, m->val->off, "\"digest\" must be \"sha256:\" and 64 lowercase hex digits");
				free(t->digest);
				t->digest = NULL;
			}
		} else if (key_is(m, "delegate"))
			free(t->delegate), t->delegate = take_delegate(c, m);
		else
			unknown_key(c, m, " in a trusted rule (name, annotation, label, cgroup_parent, image, digest, delegate)");
	}
	if (t->name == NULL)
		bad(c, v->off, "\"trusted\"[%zu] has no \"name\"", idx);
	if (t->annotations.n == 0 && t->labels.n == 0 && t->cgroup_parent == NULL && t->digest == NULL)
		bad(c, v->off, "\"trusted\"[%zu] needs one of \"annotation\", \"label\", \"cgroup_parent\", \"digest\": an image name alone is anyone's to choose", idx);
}

static void free_tier(struct rw_tier *t)
{
	free(t->name);
	rw_strv_free(&t->caps, &t->ncaps);
	rw_strv_free(&t->egress, &t->negress);
	free(t->delegate);
}

static void free_tiers(struct rw_policy *pol)
{
	size_t i;

	for (i = 0; i < pol->ntiers; i++)
		free_tier(&pol->tiers[i]);
	free(pol->tiers);
	pol->tiers = NULL;
	pol->ntiers = 0;
}

static void free_trusted(struct rw_policy *pol)
{
	size_t i;

	for (i = 0; i < pol->ntrusted; i++) {
		struct rw_trusted *t = &pol->trusted[i];
		free(t->name);
		free_kv(&t->annotations);
		free_kv(&t->labels);
		free(t->cgroup_parent);
		free(t->image);
		free(t->digest);
		free(t->delegate);
	}
	free(pol->trusted);
	pol->trusted = NULL;
	pol->ntrusted = 0;
}

static void free_allow(struct rw_policy *pol)
{
	rw_strv_free(&pol->allow_host_paths, &pol->nallow);
}


/* The egress section. */

static void free_egress(struct rw_policy *pol, bool allow)
{
	size_t i, o = 0;

	for (i = 0; i < pol->negress; i++) {
		struct rw_egress_def *d = &pol->egress[i];
		if (d->allow != allow) {
			pol->egress[o++] = *d;
			continue;
		}
		free(d->name);
		rw_strv_free(&d->cidrs, &d->ncidrs);
		free(d->ports);
	}
	pol->negress = o;
	if (o == 0) {
		free(pol->egress);
		pol->egress = NULL;
	}
}

static bool good_cidr(const char *s)
{
	char addr[64];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned char buf[16];
	long bits = -1, max;
	char *end;

	if (alen == 0 || alen >= sizeof(addr))
		return false;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, buf) == 1)
		max = 32;
	else if (inet_pton(AF_INET6, addr, buf) == 1)
		max = 128;
	else
		return false;
	if (slash == NULL)
		return true;
	errno = 0;
	bits = strtol(slash + 1, &end, 10);
	return slash[1] && !*end && !errno && bits >= 0 && bits <= max;
}

static void load_egress_def(struct checker *c, const struct json_member *dm, bool allow, struct rw_egress_def *d)
{
	const struct json *v = dm->val;
	size_t i, k;

	memset(d, 0, sizeof(*d));
	d->name = strndup(dm->key, dm->klen);
	d->allow = allow;
	if (dm->klen == 0 || dm->klen > 32 || strspn(dm->key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != dm->klen)
		bad(c, dm->koff, "an egress rule's name must be 1 to 32 letters, digits, '-' or '_'");
	if (v->type != JSON_OBJECT) {
		bad(c, v->off, "egress rule \"%s\" must be an object", d->name ? d->name : "?");
		return;
	}
	check_duplicates(c, v);
	for (i = 0; i < v->u.obj.n; i++) {
		const struct json_member *m = &v->u.obj.m[i];
		const struct json *a = m->val;
		if (key_is(m, "cidrs")) {
			rw_strv_free(&d->cidrs, &d->ncidrs);
			d->cidrs = take_string_array(c, m, &d->ncidrs, each_string);
			for (k = 0; a->type == JSON_ARRAY && k < a->u.arr.n; k++)
				if (is_plain_string(a->u.arr.v[k]) && !good_cidr(a->u.arr.v[k]->u.str.s))
					bad(c, a->u.arr.v[k]->off, "\"cidrs\": \"%s\" is not an IPv4 or IPv6 address or CIDR", a->u.arr.v[k]->u.str.s);
		} else if (key_is(m, "ports")) {
			free(d->ports);
			d->ports = NULL;
			d->nports = 0;
			if (a->type != JSON_ARRAY) {
				bad(c, a->off, "\"ports\" must be an array of ports or \"lo-hi\" ranges");
				continue;
			}
			d->ports = calloc(a->u.arr.n + 1, sizeof(*d->ports));
			for (k = 0; d->ports && k < a->u.arr.n; k++) {
				const struct json *e = a->u.arr.v[k];
				unsigned long lo = 0, hi = 0;
				char *end = NULL;
				if (e->type == JSON_NUMBER || is_plain_string(e)) {
					errno = 0;
					lo = strtoul(e->u.str.s, &end, 10);
					hi = lo;
					if (end != e->u.str.s && *end == '-' && e->type != JSON_NUMBER)
						hi = strtoul(end + 1, &end, 10);
				}
				if (end == NULL || end == e->u.str.s || *end || errno || lo < 1 || hi > 65535 || lo > hi ||
				    e->u.str.s[0] == '-' || e->u.str.s[0] == '+') {
					bad(c, e->off, "\"ports\" entries must be ports (1 to 65535) or \"lo-hi\" ranges");
					continue;
				}
				d->ports[d->nports].lo = (uint16_t)lo;
				d->ports[d->nports++].hi = (uint16_t)hi;
			}
		} else if (key_is(m, "protocols")) {
			d->protocols = 0;
			if (a->type != JSON_ARRAY) {
				bad(c, a->off, "\"protocols\" must be an array: [\"tcp\"], [\"udp\"] or both");
				continue;
			}
			for (k = 0; k < a->u.arr.n; k++) {
				if (json_is_string(a->u.arr.v[k], "tcp"))
					d->protocols |= RW_EGRESS_TCP;
				else if (json_is_string(a->u.arr.v[k], "udp"))
					d->protocols |= RW_EGRESS_UDP;
				else
					bad(c, a->u.arr.v[k]->off, "\"protocols\" entries must be \"tcp\" or \"udp\"");
			}
			if (d->protocols == (RW_EGRESS_TCP | RW_EGRESS_UDP))
				d->protocols = 0;
		} else
			unknown_key(c, m, " in an egress rule (cidrs, ports, protocols)");
	}
	if (allow && d->ncidrs == 0 && d->nports == 0)
		bad(c, v->off, "egress allow \"%s\" needs \"cidrs\" or \"ports\": an allow of everything is no egress rules", d->name ? d->name : "?");
}

static void load_egress(struct checker *c, const struct json *v, struct rw_policy *pol)
{
	size_t i, j;

	if (v->type != JSON_OBJECT) {
		bad(c, v->off, "\"egress\" must be an object (rules, allow)");
		return;
	}
	check_duplicates(c, v);
	for (i = 0; i < v->u.obj.n; i++) {
		const struct json_member *m = &v->u.obj.m[i];
		bool allow = key_is(m, "allow");
		struct rw_egress_def *grown;

		if (!allow && !key_is(m, "rules")) {
			unknown_key(c, m, " in \"egress\" (rules, allow)");
			continue;
		}
		/* The file's rules (or allows) replace the default's whole. */
		free_egress(pol, allow);
		if (m->val->type != JSON_OBJECT) {
			bad(c, m->val->off, "\"%s\" must be an object of named rules", allow ? "allow" : "rules");
			continue;
		}
		check_duplicates(c, m->val);
		grown = realloc(pol->egress, (pol->negress + m->val->u.obj.n + 1) * sizeof(*pol->egress));
		if (grown == NULL)
			continue;
		pol->egress = grown;
		for (j = 0; j < m->val->u.obj.n; j++)
			load_egress_def(c, &m->val->u.obj.m[j], allow, &pol->egress[pol->negress++]);
	}
}

static const struct rw_egress_def *egress_def(const struct rw_policy *pol, const char *name)
{
	size_t i;

	for (i = 0; i < pol->negress; i++)
		if (!pol->egress[i].allow && pol->egress[i].name && strcmp(pol->egress[i].name, name) == 0)
			return &pol->egress[i];
	return NULL;
}

int rw_policy_egress(const struct rw_policy *pol, const struct rw_tier *t, const struct rw_egress_def ***out, size_t *n)
{
	const struct rw_egress_def **v = calloc(pol->negress + 1, sizeof(*v));
	size_t i;

	*out = NULL;
	*n = 0;
	if (v == NULL)
		return -1;
	for (i = 0; i < pol->negress; i++)
		if (pol->egress[i].allow)
			v[(*n)++] = &pol->egress[i];
	if (t && t->egress_set) {
		for (i = 0; i < t->negress; i++)
			if (egress_def(pol, t->egress[i]))
				v[(*n)++] = egress_def(pol, t->egress[i]);
	} else
		for (i = 0; i < pol->negress; i++)
			if (!pol->egress[i].allow)
				v[(*n)++] = &pol->egress[i];
	/* Allows alone are no rules. */
	if (*n > 0 && v[*n - 1]->allow)
		*n = 0;
	*out = v;
	return 0;
}

/* Tier egress names must be rules. */
static void check_egress_refs(struct checker *c, const struct json *root, const struct rw_policy *pol)
{
	const struct json *tiers = json_get(root, "tiers");
	size_t i, j;

	for (i = 0; tiers && tiers->type == JSON_OBJECT && i < tiers->u.obj.n; i++) {
		const struct json *e = json_get(tiers->u.obj.m[i].val, "egress");
		for (j = 0; e && e->type == JSON_ARRAY && j < e->u.arr.n; j++)
			if (is_plain_string(e->u.arr.v[j]) && !egress_def(pol, e->u.arr.v[j]->u.str.s))
				bad(c, e->u.arr.v[j]->off, "egress rule \"%s\" is not defined (egress.rules)", e->u.arr.v[j]->u.str.s);
	}
}

/* The blocklist section. */

static bool hex_digest(const char *s, unsigned char out[32])
{
	size_t i;

	if (strncasecmp(s, "sha256:", 7) != 0 || strlen(s) != 71)
		return false;
	for (i = 0; i < 32; i++) {
		int hi, lo;
		char a = (char)tolower((unsigned char)s[7 + 2 * i]), b = (char)tolower((unsigned char)s[8 + 2 * i]);
		if (!isxdigit((unsigned char)a) || !isxdigit((unsigned char)b))
			return false;
		hi = a <= '9' ? a - '0' : a - 'a' + 10;
		lo = b <= '9' ? b - '0' : b - 'a' + 10;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static void free_category(struct rw_bl_category *cat)
{
	size_t i;

	free(cat->name);
	rw_strv_free(&cat->skip_tiers, &cat->nskip);
	for (i = 0; i < cat->nrules; i++)
		free(cat->rules[i].pattern);
	free(cat->rules);
	memset(cat, 0, sizeof(*cat));
}

static void free_bl_allow(struct rw_blocklist *bl)
{
	size_t i;

	for (i = 0; i < bl->nallow; i++) {
		free(bl->allow[i].category);
		free(bl->allow[i].rule);
		free(bl->allow[i].image);
		free(bl->allow[i].path);
	}
	free(bl->allow);
	bl->allow = NULL;
	bl->nallow = 0;
}

void rw_blocklist_release(struct rw_blocklist *bl)
{
	size_t i;

	for (i = 0; i < bl->ncats; i++)
		free_category(&bl->cats[i]);
	free(bl->cats);
	free_bl_allow(bl);
	rw_strv_free(&bl->scan.dirs, &bl->scan.ndirs);
	free(bl->scan.cache);
	memset(bl, 0, sizeof(*bl));
}

static void add_rules(struct checker *c, const struct json_member *m, enum rw_bl_kind kind, struct rw_bl_category *cat)
{
	const struct json *v = m->val;
	struct rw_bl_rule *grown;
	size_t i;

	if (v->type != JSON_ARRAY) {
		bad(c, v->off, "\"%s\" must be an array", m->key);
		return;
	}
	grown = realloc(cat->rules, (cat->nrules + v->u.arr.n + 1) * sizeof(*cat->rules));
	if (grown == NULL)
		return;
	cat->rules = grown;
	for (i = 0; i < v->u.arr.n; i++) {
		const struct json *e = v->u.arr.v[i];
		struct rw_bl_rule *r = &cat->rules[cat->nrules];
		char buf[16];

		memset(r, 0, sizeof(*r));
		if (kind == BL_PORT && e->type == JSON_NUMBER) {
			char *end;
			long n = strtol(e->u.str.s, &end, 10);
			if (*end || n < 1 || n > 65535) {
				bad(c, e->off, "\"ports\" entries must be ports, 1 to 65535");
				continue;
			}
			snprintf(buf, sizeof(buf), "%ld", n);
			r->pattern = strdup(buf);
		} else if (!is_plain_string(e)) {
			bad(c, e->off, "\"%s\" entries must be %s", m->key, kind == BL_PORT ? "ports" : "strings");
			continue;
		} else if (e->u.str.len == 0 || strspn(e->u.str.s, " \t\n") == e->u.str.len) {
			bad(c, e->off, "\"%s\": an empty pattern would match everything", m->key);
			continue;
		} else if ((kind == BL_IMAGE_DIGEST || kind == BL_FILE_DIGEST) && !hex_digest(e->u.str.s, r->digest)) {
			bad(c, e->off, "\"%s\" entries must be \"sha256:\" and 64 hex digits", m->key);
			continue;
		} else if (kind == BL_PORT && (strspn(e->u.str.s, "0123456789") != e->u.str.len || e->u.str.len > 5 ||
					       atol(e->u.str.s) < 1 || atol(e->u.str.s) > 65535)) {
			bad(c, e->off, "\"ports\" entries must be ports, 1 to 65535");
			continue;
		} else if (kind == BL_NAME && strchr(e->u.str.s, '/')) {
			bad(c, e->off, "\"names\" are basenames: \"%s\" has a \"/\"", e->u.str.s);
			continue;
		} else
			r->pattern = strdup(e->u.str.s);
		if (r->pattern == NULL)
			continue;
		lower(r->pattern);
		r->kind = kind;
		r->src = c->path;
		r->line = line_at(c, e->off);
		cat->nrules++;
	}
}

static void load_category(struct checker *c, const struct json_member *cm, struct rw_bl_category *cat)
{
	static const struct { const char *key; enum rw_bl_kind kind; } lists[] = {
		{ "names", BL_NAME }, { "args", BL_ARG }, { "contains", BL_CONTAINS }, { "ports", BL_PORT },
		{ "images", BL_IMAGE }, { "image_digests", BL_IMAGE_DIGEST }, { "file_digests", BL_FILE_DIGEST },
	};
	const struct json *v = cm->val;
	size_t i, k;

	cat->name = strndup(cm->key, cm->klen);
	cat->enabled = true;
	if (v->type != JSON_OBJECT) {
		bad(c, v->off, "blocklist category \"%s\" must be an object", cat->name ? cat->name : "?");
		return;
	}
	check_duplicates(c, v);
	for (i = 0; i < v->u.obj.n; i++) {
		const struct json_member *m = &v->u.obj.m[i];
		for (k = 0; k < sizeof(lists) / sizeof(lists[0]); k++)
			if (key_is(m, lists[k].key))
				break;
		if (k < sizeof(lists) / sizeof(lists[0]))
			add_rules(c, m, lists[k].kind, cat);
		else if (key_is(m, "enabled")) {
			if (m->val->type != JSON_TRUE && m->val->type != JSON_FALSE)
				bad(c, m->val->off, "\"enabled\" must be true or false");
			cat->enabled = m->val->type != JSON_FALSE;
		} else if (key_is(m, "skip_tiers")) {
			rw_strv_free(&cat->skip_tiers, &cat->nskip);
			cat->skip_tiers = take_string_array(c, m, &cat->nskip, each_string);
		} else
			unknown_key(c, m, " in a blocklist category (names, args, contains, ports, images, image_digests, file_digests, skip_tiers, enabled)");
	}
}

static void load_bl_allow(struct checker *c, const struct json *v, struct rw_blocklist *bl)
{
	size_t i, j;

	free_bl_allow(bl);
	if (v->type != JSON_ARRAY) {
		bad(c, v->off, "\"allow\" must be an array of exemptions");
		return;
	}
	bl->allow = calloc(v->u.arr.n + 1, sizeof(*bl->allow));
	if (bl->allow == NULL)
		return;
	for (i = 0; i < v->u.arr.n; i++) {
		const struct json *e = v->u.arr.v[i];
		struct rw_bl_allow *a = &bl->allow[bl->nallow];

		if (e->type != JSON_OBJECT) {
			bad(c, e->off, "\"allow\"[%zu] must be an object", i);
			continue;
		}
		check_duplicates(c, e);
		for (j = 0; j < e->u.obj.n; j++) {
			const struct json_member *m = &e->u.obj.m[j];
			char **slot = key_is(m, "category") ? &a->category : key_is(m, "rule") ? &a->rule :
				      key_is(m, "image") ? &a->image : key_is(m, "path") ? &a->path : NULL;
			if (slot == NULL) {
				unknown_key(c, m, " in a blocklist allow entry (category, rule, image, path)");
				continue;
			}
			free(*slot);
			*slot = take_string(c, m);
			if (*slot && **slot == '\0') {
				bad(c, m->val->off, "\"%s\" must not be empty", m->key);
				free(*slot);
				*slot = NULL;
			}
		}
		if (a->image == NULL && a->path == NULL) {
			bad(c, e->off, "\"allow\"[%zu] needs \"image\" or \"path\": an exemption for everything is disabling the rule", i);
			free(a->category);
			free(a->rule);
			memset(a, 0, sizeof(*a));
			continue;
		}
		a->src = c->path;
		a->line = line_at(c, e->off);
		bl->nallow++;
	}
}

static void take_uint(struct checker *c, const struct json_member *m, uint64_t lo, uint64_t hi, uint64_t *out)
{
	const struct json *v = m->val;
	char *end;
	unsigned long long n;

	errno = 0;
	if (v->type != JSON_NUMBER || v->u.str.s[0] == '-' || (n = strtoull(v->u.str.s, &end, 10), *end) || errno ||
	    n < lo || n > hi) {
		bad(c, v->off, "\"%s\" must be an integer from %llu to %llu", m->key, (unsigned long long)lo,
		    (unsigned long long)hi);
		return;
	}
	*out = n;
}

static void load_scan(struct checker *c, const struct json *v, struct rw_bl_scan *sc)
{
	size_t i;
	uint64_t u;

	if (v->type != JSON_OBJECT) {
		bad(c, v->off, "\"scan\" must be an object");
		return;
	}
	check_duplicates(c, v);
	for (i = 0; i < v->u.obj.n; i++) {
		const struct json_member *m = &v->u.obj.m[i];
		if (key_is(m, "dirs")) {
			rw_strv_free(&sc->dirs, &sc->ndirs);
			sc->dirs = take_string_array(c, m, &sc->ndirs, each_path);
		} else if (key_is(m, "depth")) {
			u = sc->depth;
			take_uint(c, m, 0, 32, &u);
			sc->depth = (unsigned)u;
		} else if (key_is(m, "max_files"))
			take_uint(c, m, 1, UINT64_MAX / 2, &sc->max_files);
		else if (key_is(m, "max_ms")) {
			u = sc->max_ms;
			take_uint(c, m, 1, 3600000, &u);
			sc->max_ms = (unsigned)u;
		} else if (key_is(m, "max_bytes"))
			take_size(c, m, &sc->max_bytes);
		else if (key_is(m, "max_file_size"))
			take_size(c, m, &sc->max_file_size);
		else if (key_is(m, "refuse_on_limit")) {
			if (m->val->type != JSON_TRUE && m->val->type != JSON_FALSE)
				bad(c, m->val->off, "\"refuse_on_limit\" must be true or false");
			sc->refuse_on_limit = m->val->type == JSON_TRUE;
		} else if (key_is(m, "cache")) {
			free(sc->cache);
			sc->cache = m->val->type == JSON_NULL ? NULL : take_abs_path(c, m->val, "\"cache\"");
		} else
			unknown_key(c, m, " in \"scan\" (dirs, depth, max_files, max_bytes, max_file_size, max_ms, refuse_on_limit, cache)");
	}
}

static void load_blocklist(struct checker *c, const struct json *v, struct rw_blocklist *bl)
{
	size_t i, j;

	if (v->type != JSON_OBJECT) {
		bad(c, v->off, "\"blocklist\" must be an object");
		return;
	}
	check_duplicates(c, v);
	for (i = 0; i < v->u.obj.n; i++) {
		const struct json_member *m = &v->u.obj.m[i];
		if (key_is(m, "categories")) {
			const struct json *cs = m->val;
			if (cs->type != JSON_OBJECT) {
				bad(c, cs->off, "\"categories\" must be an object of categories");
				continue;
			}
			check_duplicates(c, cs);
			for (j = 0; j < cs->u.obj.n; j++) {
				const struct json_member *cm = &cs->u.obj.m[j];
				struct rw_bl_category *cat = NULL, *grown;
				size_t k;

				if (cm->klen == 0 || memchr(cm->key, '\0', cm->klen)) {
					bad(c, cm->koff, "a blocklist category name must be a non-empty string");
					continue;
				}
				/* A category named again replaces the earlier one whole. */
				for (k = 0; k < bl->ncats; k++)
					if (strcmp(bl->cats[k].name, cm->key) == 0)
						cat = &bl->cats[k];
				if (cat)
					free_category(cat);
				else {
					grown = realloc(bl->cats, (bl->ncats + 1) * sizeof(*bl->cats));
					if (grown == NULL)
						continue;
					bl->cats = grown;
					cat = &bl->cats[bl->ncats++];
					memset(cat, 0, sizeof(*cat));
				}
				load_category(c, cm, cat);
			}
		} else if (key_is(m, "allow"))
			load_bl_allow(c, m->val, bl);
		else if (key_is(m, "scan"))
			load_scan(c, m->val, &bl->scan);
		else
			unknown_key(c, m, " in \"blocklist\" (categories, allow, scan)");
	}
}

/* Names the blocklist refers to must exist once everything is loaded. */
static void check_blocklist_refs(struct checker *c, const struct json *root, const struct rw_policy *pol)
{
	const struct json *bl = json_get(root, "blocklist"), *cs = json_get(bl, "categories"), *al = json_get(bl, "allow");
	size_t i, j, k;

	for (i = 0; cs && cs->type == JSON_OBJECT && i < cs->u.obj.n; i++) {
		const struct json *st = json_get(cs->u.obj.m[i].val, "skip_tiers");
		for (j = 0; st && st->type == JSON_ARRAY && j < st->u.arr.n; j++)
			if (is_plain_string(st->u.arr.v[j]) && !rw_policy_tier(pol, st->u.arr.v[j]->u.str.s))
				bad(c, st->u.arr.v[j]->off, "tier \"%s\" is not defined (skip_tiers)", st->u.arr.v[j]->u.str.s);
	}
	for (i = 0; al && al->type == JSON_ARRAY && i < al->u.arr.n; i++) {
		const struct json *cat = json_get(al->u.arr.v[i], "category");
		bool found = false;
		if (!is_plain_string(cat))
			continue;
		for (k = 0; k < pol->blocklist.ncats; k++)
			found = found || strcmp(pol->blocklist.cats[k].name, cat->u.str.s) == 0;
		if (!found)
			bad(c, cat->off, "blocklist category \"%s\" is not defined (allow)", cat->u.str.s);
	}
}

static void finish_blocklist(struct rw_blocklist *bl)
{
	size_t i, k;

	bl->any_file_digest = false;
	for (i = 0; i < bl->ncats; i++)
		for (k = 0; bl->cats[i].enabled && k < bl->cats[i].nrules; k++)
			if (bl->cats[i].rules[k].kind == BL_FILE_DIGEST)
				bl->any_file_digest = true;
}

/* The sentry section: runwarden-sentry's settings (bpf/README.md). */

static void sentry_defaults(struct rw_sentry_conf *s)
{
	static const char *const roots[] = { RW_STATE_DIR, "/run/docker/runtime-*/*", "/run/containerd/runc/*" };
	size_t i;

	s->interval_ms = 1000;
	s->window = 8;
	s->flag_score = 0.75;
	s->clear_score = 0.25;
	s->cpu_high = 0.8;
	s->throttled_high = 0.5;
	s->syscalls_max = 100000;
	s->switches_max = 3000;
	s->execs_max = 2;
	s->pool_bonus = 0.3;
	s->exec_bonus = 0.3;
	(void)rw_strv_push(&s->pool_rules, &s->npool_rules, strdup("mining"));
	for (i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
		(void)rw_strv_push(&s->roots, &s->nroots, strdup(roots[i]));
	s->events = strdup("/var/log/runwarden/sentry.log");
	s->metrics = strdup("127.0.0.1:9477");
	s->textfile = strdup("");
	s->status = strdup("/run/runwarden-sentry.json");
}

static void free_sentry_actions(struct rw_sentry_conf *s)
{
	rw_strv_free(&s->action_tiers, &s->nactions);
	free(s->actions);
	s->actions = NULL;
}

static void free_sentry(struct rw_sentry_conf *s)
{
	rw_strv_free(&s->pool_rules, &s->npool_rules);
	rw_strv_free(&s->roots, &s->nroots);
	free(s->events);
	free(s->metrics);
	free(s->textfile);
	free(s->status);
	free_sentry_actions(s);
	memset(s, 0, sizeof(*s));
}

/* A JSON number in [lo, hi], lo excluded when lo_open; hi INFINITY: no bound. */
static void take_number(struct checker *c, const struct json_member *m, double lo, bool lo_open, double hi, double *out)
{
	const struct json *v = m->val;
	char *end;
	double d = 0;

	if (v->type == JSON_NUMBER) {
		errno = 0;
		d = strtod(v->u.str.s, &end);
		if (*end || errno || !isfinite(d))
			d = NAN;
	}
	if (v->type != JSON_NUMBER || d != d || d < lo || (lo_open && d == lo) || d > hi) {
		if (isinf(hi))
			bad(c, v->off, "\"%s\" must be a number, %g or more", m->key, lo);
		else if (lo_open)
			bad(c, v->off, "\"%s\" must be a number greater than %g, at most %g", m->key, lo, hi);
		else
			bad(c, v->off, "\"%s\" must be a number from %g to %g", m->key, lo, hi);
		return;
	}
	*out = d;
}

/* "" (off), "IPv4:PORT" or "[IPv6]:PORT": numeric, the port 1 to 65535. */
bool rw_sentry_listen_addr_ok(const char *s)
{
	char addr[64];
	unsigned char buf[16];
	const char *colon, *port;
	size_t alen;
	int af = AF_INET;

	if (*s == '\0')
		return true;
	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':')
			return false;
		s++;
		alen = (size_t)(close - s);
		port = close + 2;
		af = AF_INET6;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return false;
		alen = (size_t)(colon - s);
		port = colon + 1;
	}
	if (alen == 0 || alen >= sizeof(addr))
		return false;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(af, addr, buf) != 1)
		return false;
	if (*port == '\0' || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
	    atol(port) < 1 || atol(port) > 65535)
		return false;
	return true;
}

/* An absolute path, or the word special ("-": standard output, "": off). */
static char *take_path_or(struct checker *c, const struct json_member *m, const char *special, const char *desc)
{
	const struct json *v = m->val;

	if (!is_plain_string(v)) {
		bad(c, v->off, "\"%s\" must be a string", m->key);
		return NULL;
	}
	if (strcmp(v->u.str.s, special) == 0)
		return strdup(special);
	if (!abs_path_ok(v)) {
		bad(c, v->off, "\"%s\" must be %s or an absolute path without \"..\": \"%s\"", m->key, desc, v->u.str.s);
		return NULL;
	}
	return strdup(v->u.str.s);
}

static void load_sentry_actions(struct checker *c, const struct json *v, struct rw_sentry_conf *s)
{
	static const char *const names[] = { [RW_SENTRY_NONE] = "none", [RW_SENTRY_FREEZE] = "freeze", [RW_SENTRY_KILL] = "kill" };
	size_t i, k;

	/* The file's actions replace the default's whole. */
	free_sentry_actions(s);
	if (v->type != JSON_OBJECT) {
		bad(c, v->off, "\"actions\" must be an object: tier -> \"none\", \"freeze\" or \"kill\"");
		return;
	}
	check_duplicates(c, v);
	s->action_tiers = calloc(v->u.obj.n + 1, sizeof(*s->action_tiers));
	s->actions = calloc(v->u.obj.n + 1, sizeof(*s->actions));
	if (s->action_tiers == NULL || s->actions == NULL)
		return;
	for (i = 0; i < v->u.obj.n; i++) {
		const struct json_member *m = &v->u.obj.m[i];
		if (m->klen == 0 || memchr(m->key, '\0', m->klen)) {
			bad(c, m->koff, "a tier name must be a non-empty string");
			continue;
		}
		for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
			if (json_is_string(m->val, names[k]))
				break;
		if (k == sizeof(names) / sizeof(names[0])) {
			bad(c, m->val->off, "\"actions\" values must be \"none\", \"freeze\" or \"kill\"");
			continue;
		}
		if ((s->action_tiers[s->nactions] = strdup(m->key)) == NULL)
			continue;
		s->actions[s->nactions++] = (enum rw_sentry_action)k;
	}
}

static void load_sentry(struct checker *c, const struct json *v, struct rw_sentry_conf *s)
{
	const struct json *flag_node = NULL, *clear_node = NULL;
	size_t i;
	uint64_t u;

	if (v->type != JSON_OBJECT) {
		bad(c, v->off, "\"sentry\" must be an object");
		return;
	}
	check_duplicates(c, v);
	for (i = 0; i < v->u.obj.n; i++) {
		const struct json_member *m = &v->u.obj.m[i];
		const struct json *a = m->val;
		if (key_is(m, "interval_ms")) {
			u = s->interval_ms;
			take_uint(c, m, 100, 60000, &u);
			s->interval_ms = (unsigned)u;
		} else if (key_is(m, "window")) {
			u = s->window;
			take_uint(c, m, 2, 600, &u);
			s->window = (unsigned)u;
		} else if (key_is(m, "flag_score"))
			take_number(c, m, 0, true, 1, &s->flag_score), flag_node = a;
		else if (key_is(m, "clear_score"))
			take_number(c, m, 0, true, 1, &s->clear_score), clear_node = a;
		else if (key_is(m, "cpu_high"))
			take_number(c, m, 0, true, 1, &s->cpu_high);
		else if (key_is(m, "throttled_high"))
			take_number(c, m, 0, true, 1, &s->throttled_high);
		else if (key_is(m, "syscalls_max"))
			take_number(c, m, 0, false, INFINITY, &s->syscalls_max);
		else if (key_is(m, "switches_max"))
			take_number(c, m, 0, false, INFINITY, &s->switches_max);
		else if (key_is(m, "execs_max"))
			take_number(c, m, 0, false, INFINITY, &s->execs_max);
		else if (key_is(m, "pool_bonus"))
			take_number(c, m, 0, false, 1, &s->pool_bonus);
		else if (key_is(m, "exec_bonus"))
			take_number(c, m, 0, false, 1, &s->exec_bonus);
		else if (key_is(m, "pool_rules")) {
			rw_strv_free(&s->pool_rules, &s->npool_rules);
			s->pool_rules = take_string_array(c, m, &s->npool_rules, each_string);
		} else if (key_is(m, "roots")) {
			rw_strv_free(&s->roots, &s->nroots);
			s->roots = take_string_array(c, m, &s->nroots, each_path);
		} else if (key_is(m, "events")) {
			free(s->events);
			s->events = take_path_or(c, m, "-", "\"-\" (standard output)");
		} else if (key_is(m, "metrics")) {
			free(s->metrics);
			s->metrics = take_string(c, m);
			if (s->metrics && !rw_sentry_listen_addr_ok(s->metrics)) {
				bad(c, a->off, "\"metrics\" must be \"\" (off), \"IPv4:PORT\" or \"[IPv6]:PORT\" (numeric, the port 1 to 65535): \"%s\"",
				    s->metrics);
				free(s->metrics);
				s->metrics = NULL;
			}
		} else if (key_is(m, "textfile")) {
			free(s->textfile);
			s->textfile = take_path_or(c, m, "", "\"\" (off)");
		} else if (key_is(m, "status")) {
			free(s->status);
			s->status = take_abs_path(c, a, "\"status\"");
		} else if (key_is(m, "actions"))
			load_sentry_actions(c, a, s);
		else
			unknown_key(c, m, " in \"sentry\" (interval_ms, window, flag_score, clear_score, cpu_high, throttled_high, "
				    "syscalls_max, switches_max, execs_max, pool_bonus, exec_bonus, pool_rules, roots, events, metrics, textfile, status, actions)");
	}
	if ((flag_node || clear_node) && s->clear_score >= s->flag_score)
		bad(c, clear_node ? clear_node->off : flag_node->off, "\"clear_score\" (%g) must be below \"flag_score\" (%g)",
		    s->clear_score, s->flag_score);
}

/* pool_rules must be egress rules, actions' tiers defined tiers: checked once
 * everything is loaded. Names this file did not set, kept from the default,
 * are dropped when the file's own egress rules or tiers no longer have them. */
static void check_sentry_refs(struct checker *c, const struct json *root, struct rw_policy *pol)
{
	struct rw_sentry_conf *s = &pol->sentry;
	const struct json *sn = json_get(root, "sentry");
	const struct json *pr = sn && sn->type == JSON_OBJECT ? json_get(sn, "pool_rules") : NULL;
	const struct json *ac = sn && sn->type == JSON_OBJECT ? json_get(sn, "actions") : NULL;
	size_t i, o;

	if (pr) {
		for (i = 0; pr->type == JSON_ARRAY && i < pr->u.arr.n; i++)
			if (is_plain_string(pr->u.arr.v[i]) && pr->u.arr.v[i]->u.str.len &&
			    !egress_def(pol, pr->u.arr.v[i]->u.str.s))
				bad(c, pr->u.arr.v[i]->off, "egress rule \"%s\" is not defined (sentry.pool_rules)", pr->u.arr.v[i]->u.str.s);
	} else {
		for (i = o = 0; i < s->npool_rules; i++)
			if (egress_def(pol, s->pool_rules[i]))
				s->pool_rules[o++] = s->pool_rules[i];
			else
				free(s->pool_rules[i]);
		for (i = o; i < s->npool_rules; i++)
			s->pool_rules[i] = NULL;
		s->npool_rules = o;
	}
	if (ac) {
		for (i = 0; ac->type == JSON_OBJECT && i < ac->u.obj.n; i++) {
			const struct json_member *m = &ac->u.obj.m[i];
			if (m->klen && !memchr(m->key, '\0', m->klen) && !rw_policy_tier(pol, m->key))
				bad(c, m->koff, "tier \"%s\" is not defined (sentry.actions)", m->key);
		}
	} else {
		for (i = o = 0; i < s->nactions; i++)
			if (rw_policy_tier(pol, s->action_tiers[i])) {
				s->action_tiers[o] = s->action_tiers[i];
				s->actions[o++] = s->actions[i];
			} else
				free(s->action_tiers[i]);
		for (i = o; i < s->nactions; i++)
			s->action_tiers[i] = NULL;
		s->nactions = o;
	}
}

enum rw_sentry_action rw_sentry_action_for(const struct rw_policy *pol, const char *tier)
{
	size_t i;

	for (i = 0; pol && tier && i < pol->sentry.nactions; i++)
		if (strcmp(pol->sentry.action_tiers[i], tier) == 0)
			return pol->sentry.actions[i];
	return RW_SENTRY_NONE;
}

static void load_root(struct checker *c, const struct json *root, struct rw_policy *pol, const struct json **cg_node)
{
	size_t i, j;

	if (root->type != JSON_OBJECT) {
		bad(c, root->off, "the policy must be a JSON object");
		return;
	}
	check_duplicates(c, root);
	for (i = 0; i < root->u.obj.n; i++) {
		const struct json_member *m = &root->u.obj.m[i];
		if (key_is(m, "delegate"))
			free(pol->delegate), pol->delegate = take_delegate(c, m);
		else if (key_is(m, "default_tier"))
			free(pol->default_tier), pol->default_tier = take_string(c, m);
		else if (key_is(m, "audit_log")) {
			free(pol->audit_log);
			pol->audit_log = take_abs_path(c, m->val, "\"audit_log\"");
		} else if (key_is(m, "test_refuse"))
			free(pol->test_refuse), pol->test_refuse = take_string(c, m);
		else if (key_is(m, "require_seccomp")) {
			if (m->val->type != JSON_TRUE && m->val->type != JSON_FALSE)
				bad(c, m->val->off, "\"require_seccomp\" must be true or false");
			pol->require_seccomp = m->val->type == JSON_TRUE;
		} else if (key_is(m, "tiers")) {
			const struct json *t = m->val;
			free_tiers(pol);
			if (t->type != JSON_OBJECT) {
				bad(c, t->off, "\"tiers\" must be an object of tiers");
				continue;
			}
			check_duplicates(c, t);
			if (t->u.obj.n == 0)
				bad(c, t->off, "\"tiers\" defines no tier");
			pol->tiers = calloc(t->u.obj.n + 1, sizeof(*pol->tiers));
			if (pol->tiers == NULL)
				continue;
			for (j = 0; j < t->u.obj.n; j++) {
				if (memchr(t->u.obj.m[j].key, '\0', t->u.obj.m[j].klen) || t->u.obj.m[j].klen == 0) {
					bad(c, t->u.obj.m[j].koff, "a tier name must be a non-empty string");
					continue;
				}
				load_tier(c, &t->u.obj.m[j], &pol->tiers[pol->ntiers++]);
			}
		} else if (key_is(m, "cgroup_parents")) {
			free_kv(&pol->cgroup_parents);
			take_kv(c, m, &pol->cgroup_parents);
			*cg_node = m->val;
			for (j = 0; j < pol->cgroup_parents.n; j++)
				if (pol->cgroup_parents.keys[j][0] != '/' && !strstr(pol->cgroup_parents.keys[j], ".slice"))
					bad(c, m->val->u.obj.m[j].koff, "a cgroup parent must be an absolute path or a systemd slice: \"%s\"",
					    pol->cgroup_parents.keys[j]);
		} else if (key_is(m, "trusted")) {
			const struct json *t = m->val;
			free_trusted(pol);
			if (t->type != JSON_ARRAY) {
				bad(c, t->off, "\"trusted\" must be an array of rules");
				continue;
			}
			pol->trusted = calloc(t->u.arr.n + 1, sizeof(*pol->trusted));
			if (pol->trusted == NULL)
				continue;
			for (j = 0; j < t->u.arr.n; j++)
				load_trusted(c, t->u.arr.v[j], j, &pol->trusted[pol->ntrusted++]);
		} else if (key_is(m, "egress")) {
			load_egress(c, m->val, pol);
		} else if (key_is(m, "blocklist")) {
			load_blocklist(c, m->val, &pol->blocklist);
		} else if (key_is(m, "sentry")) {
			load_sentry(c, m->val, &pol->sentry);
		} else if (key_is(m, "allow_host_paths")) {
			free_allow(pol);
			pol->allow_host_paths = take_string_array(c, m, &pol->nallow, each_path);
		} else
			unknown_key(c, m, "");
	}
}

static int load_text(const char *name, const char *buf, size_t len, struct rw_policy *pol,
		     struct checker *c, rw_error_t *err)
{
	cleanup_json struct json *root = NULL;
	const struct json *cg_node = NULL, *dt_node = NULL;
	size_t i;

	c->path = name;
	c->buf = buf;
	c->len = len;
	if (json_parse(buf, len, JSON_ALLOW_COMMENTS, name, &root, err) < 0)
		return -1;
	load_root(c, root, pol, &cg_node);
	if (root->type != JSON_OBJECT)
		return 0;
	/* Tiers referenced must be defined: checked once all are known. */
	for (i = 0; i < root->u.obj.n; i++)
		if (key_is(&root->u.obj.m[i], "default_tier"))
			dt_node = root->u.obj.m[i].val;
	if (pol->default_tier && !rw_policy_tier(pol, pol->default_tier))
		bad(c, dt_node ? dt_node->off : 0, "tier \"%s\" is not defined (default_tier)", pol->default_tier);
	for (i = 0; cg_node && i < pol->cgroup_parents.n; i++)
		if (!rw_policy_tier(pol, pol->cgroup_parents.values[i]))
			bad(c, cg_node->u.obj.m[i].val->off, "tier \"%s\" is not defined (cgroup_parents)",
			    pol->cgroup_parents.values[i]);
	check_blocklist_refs(c, root, pol);
	check_egress_refs(c, root, pol);
	check_sentry_refs(c, root, pol);
	return 0;
}

void rw_policy_release(struct rw_policy *pol)
{
	free(pol->delegate);
	free(pol->default_tier);
	free(pol->audit_log);
	free(pol->test_refuse);
	free_tiers(pol);
	free_kv(&pol->cgroup_parents);
	free_trusted(pol);
	free_allow(pol);
	rw_blocklist_release(&pol->blocklist);
	free_egress(pol, false);
	free_egress(pol, true);
	free_sentry(&pol->sentry);
	memset(pol, 0, sizeof(*pol));
}

const char *rw_policy_audit_log(const struct rw_policy *pol)
{
	const char *e = getenv("RUNWARDEN_AUDIT_LOG");

	if (pol && pol->audit_log)
		return pol->audit_log;
	return e && *e == '/' ? e : RW_AUDIT_LOG;
}

const struct rw_tier *rw_policy_tier(const struct rw_policy *pol, const char *name)
{
	size_t i;

	for (i = 0; name && i < pol->ntiers; i++)
		if (strcmp(pol->tiers[i].name, name) == 0)
			return &pol->tiers[i];
	return NULL;
}

/* Loads the embedded default first, then the file over it: keys the file
 * leaves out keep the default's value ("tiers" is replaced whole). */
static int load_all(const char *path, struct rw_policy *pol, struct checker *c, rw_error_t *err)
{
	cleanup_free char *buf = NULL;
	struct checker dc = { 0 };
	size_t len;

	memset(pol, 0, sizeof(*pol));
	sentry_defaults(&pol->sentry);
	if (load_text("<embedded default>", rw_default_policy_text, strlen(rw_default_policy_text), pol, &dc, err) < 0 ||
	    dc.n > 0) {
		if (dc.n)
			rw_error(err, 0, "%s", dc.msgs[0]);
		rw_strv_free(&dc.msgs, &dc.n);
		return -1;
	}
	pol->path = "<embedded default>";
	finish_blocklist(&pol->blocklist);
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	pol->path = path;
	pol->from_file = true;
	if (rw_read_file(path, RW_MAX_POLICY, &buf, &len, err) < 0 || load_text(path, buf, len, pol, c, err) < 0)
		return -1;
	finish_blocklist(&pol->blocklist);
	return 0;
}

int rw_policy_load(const char *path, struct rw_policy *pol, rw_error_t *err)
{
	struct checker c = { 0 };
	int r = load_all(path, pol, &c, err);

	if (r == 0 && c.n > 0)
		r = rw_error(err, 0, "%s", c.msgs[0]);
	rw_strv_free(&c.msgs, &c.n);
	if (r < 0) {
		rw_policy_release(pol);
		return rw_error_prefix(err, "policy");
	}
	return 0;
}

int rw_policy_check(const char *path, FILE *out)
{
	struct rw_policy pol;
	struct checker c = { 0 };
	cleanup_error rw_error_t err = NULL;
	size_t i;
	int n;

	if (access(path, F_OK) < 0) {
		fprintf(out, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	if (load_all(path, &pol, &c, &err) < 0) {
		fprintf(out, "%s\n", err ? err->msg : path);
		rw_policy_release(&pol);
		return 1;
	}
	for (i = 0; i < c.n; i++)
		fprintf(out, "%s\n", c.msgs[i]);
	n = (int)c.n;
	rw_strv_free(&c.msgs, &c.n);
	rw_policy_release(&pol);
	return n;
}
