#include "config.h"
#include "policy/policy.h"
#include "shim/fileio.h"
#include "shim/json.h"

#include <errno.h>
#include <string.h>

#define RW_MAX_POLICY (4u << 20)

const char *rw_policy_path(void)
{
	const char *p = getenv("RUNWARDEN_POLICY");
	return p && *p ? p : RW_POLICY_FILE;
}

/* Keys are byte strings: "delegate\u0000x" must not pass for "delegate". */
static bool key_is(const struct json_member *m, const char *key)
{
	return m->klen == strlen(key) && memcmp(m->key, key, m->klen) == 0;
}

static int unknown_key(const struct json_member *m, const char *path, rw_error_t *err)
{
	/* Quoted as JSON, so a key with a NUL or control bytes reads as written. */
	struct json key = { .type = JSON_STRING, .u.str = { m->key, m->klen } };
	struct json_buf b = { 0 };
	int r;

	if (json_emit(&key, &b, err) < 0)
		return -1;
	r = rw_error(err, 0, "%s: unknown key %s", path, b.p);
	free(b.p);
	return r;
}

static int take_string(const struct json_member *m, const char *path, char **slot, rw_error_t *err)
{
	if (m->val->type != JSON_STRING || memchr(m->val->u.str.s, '\0', m->val->u.str.len))
		return rw_error(err, 0, "%s: \"%s\" must be a string", path, m->key);
	free(*slot);
	*slot = strdup(m->val->u.str.s);
	return *slot ? 0 : rw_error(err, ENOMEM, "%s", path);
}

int rw_policy_load(const char *path, struct rw_policy *pol, rw_error_t *err)
{
	cleanup_free char *buf = NULL;
	cleanup_json struct json *root = NULL;
	size_t len, i;

	memset(pol, 0, sizeof(*pol));
	pol->path = path;
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	if (rw_read_file(path, RW_MAX_POLICY, &buf, &len, err) < 0 ||
	    json_parse(buf, len, JSON_ALLOW_COMMENTS, path, &root, err) < 0)
		return rw_error_prefix(err, "policy");
	pol->from_file = true;
	if (root->type != JSON_OBJECT)
		return rw_error(err, 0, "policy %s: the top level must be a JSON object", path);
	for (i = 0; i < root->u.obj.n; i++) {
		const struct json_member *m = &root->u.obj.m[i];
		int r;

		if (key_is(m, "delegate"))
			r = take_string(m, path, &pol->delegate, err);
		else if (key_is(m, "test_refuse"))
			r = take_string(m, path, &pol->test_refuse, err);
		else
			r = unknown_key(m, path, err);
		if (r < 0) {
			rw_policy_release(pol);
			return rw_error_prefix(err, "policy");
		}
	}
	return 0;
}

void rw_policy_release(struct rw_policy *pol)
{
	free(pol->delegate);
	free(pol->test_refuse);
	pol->delegate = pol->test_refuse = NULL;
}
