#include "config.h"
#include "policy/policy.h"
#include "shim/fileio.h"
#include "shim/json.h"
#include "shim/strv.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

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
};

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

static char *take_abs_path(struct checker *c, const struct json *v, const char *what)
{
	if (!is_plain_string(v)) {
		bad(c, v->off, "%s must be a string", what);
		return NULL;
	}
	if (v->u.str.s[0] != '/' || strstr(v->u.str.s, "/../") || strcmp(v->u.str.s + (v->u.str.len >= 3 ? v->u.str.len - 3 : 0), "/..") == 0) {
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
		} else
			unknown_key(c, m, " in a tier (memory, cpus, tmpfs, pids, capabilities, delegate)");
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
	if (load_text("<embedded default>", rw_default_policy_text, strlen(rw_default_policy_text), pol, &dc, err) < 0 ||
	    dc.n > 0) {
		if (dc.n)
			rw_error(err, 0, "%s", dc.msgs[0]);
		rw_strv_free(&dc.msgs, &dc.n);
		return -1;
	}
	pol->path = "<embedded default>";
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	pol->path = path;
	pol->from_file = true;
	if (rw_read_file(path, RW_MAX_POLICY, &buf, &len, err) < 0)
		return -1;
	return load_text(path, buf, len, pol, c, err);
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
