#include "config.h"
#include "shim/delegate.h"
#include "shim/fileio.h"
#include "shim/json.h"
#include "shim/log.h"

#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* dockerd's PATH is not ours to trust; look in the system directories only. */
static const char *const search_dirs[] = {
	"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin", NULL
};
static const char *const default_order[] = { "runsc", "crun", "runc", NULL };

static int set(struct rw_delegate *d, const char *name, const char *path, rw_error_t *err)
{
	if (strlen(name) >= sizeof(d->name) || strlen(path) >= sizeof(d->path))
		return rw_error(err, 0, "delegate path too long: %s", path);
	strcpy(d->name, name);
	strcpy(d->path, path);
	return 0;
}

static int lookup(const char *name, struct rw_delegate *d)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; search_dirs[i]; i++) {
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", search_dirs[i], name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0)
			return set(d, name, path, NULL) == 0;
	}
	return 0;
}

int rw_delegate_resolve(const char *spec, struct rw_delegate *d, rw_error_t *err)
{
	size_t i;

	if (spec == NULL) {
		for (i = 0; default_order[i]; i++)
			if (lookup(default_order[i], d))
				return 0;
		return rw_error(err, 0, "no delegate runtime found: install runsc, crun or runc");
	}
	if (spec[0] == '/') {
		struct stat st;
		const char *base = strrchr(spec, '/') + 1;
		if (stat(spec, &st) < 0)
			return rw_error(err, errno, "delegate %s", spec);
		if (!S_ISREG(st.st_mode) || access(spec, X_OK) < 0)
			return rw_error(err, 0, "delegate %s: not an executable file", spec);
		return set(d, *base ? base : spec, spec, err);
	}
	if (strchr(spec, '/') || *spec == '\0')
		return rw_error(err, 0, "delegate \"%s\": give a name (runc, crun, runsc) or an absolute path", spec);
	if (!lookup(spec, d))
		return rw_error(err, 0, "delegate \"%s\" not found in /usr/local/sbin, /usr/local/bin, /usr/sbin, /usr/bin, /sbin, /bin", spec);
	return 0;
}

static const char *state_dir(const struct rw_cmdline *cl)
{
	return cl->root && *cl->root ? cl->root : RW_STATE_DIR;
}

int rw_record_path(const struct rw_cmdline *cl, char **out, rw_error_t *err)
{
	if (asprintf(out, "%s/.runwarden-%s.json", state_dir(cl), cl->id) < 0)
		return rw_error(err, ENOMEM, "record path");
	return 0;
}

static int mkdir_p(const char *dir, mode_t mode, rw_error_t *err)
{
	cleanup_free char *p = strdup(dir);
	char *s;

	if (p == NULL)
		return rw_error(err, ENOMEM, "mkdir %s", dir);
	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return rw_error(err, errno, "mkdir %s", p);
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return rw_error(err, errno, "mkdir %s", p);
	return 0;
}

int rw_record_write(const struct rw_cmdline *cl, const struct rw_delegate *d,
		    const char *bundle, struct json *extra, rw_error_t *err)
{
	cleanup_free char *path = NULL;
	cleanup_json struct json *rec = json_new(JSON_OBJECT);
	struct json_buf b = { 0 };
	int r;

	if (rw_record_path(cl, &path, err) < 0) {
		json_free(extra);
		return -1;
	}
	if (rec == NULL ||
	    json_set(rec, "delegate", json_new_string(d->name), err) < 0 ||
	    json_set(rec, "path", json_new_string(d->path), err) < 0 ||
	    json_set(rec, "bundle", json_new_string(bundle ? bundle : ""), err) < 0 ||
	    json_set(rec, "runwarden", json_new_string(PACKAGE_VERSION), err) < 0 ||
	    (extra && json_set(rec, "limits", extra, err) < 0) ||
	    json_emit(rec, &b, err) < 0 || json_buf_add_nl(&b) < 0) {
		free(b.p);
		return rw_error(err, ENOMEM, "record");
	}
	/* runc creates its root 0700; the record dir is the same directory. Not
	 * fsync'd: the record lives exactly as long as the delegate's state
	 * beside it, which runc and crun write without fsync either. */
	r = mkdir_p(state_dir(cl), 0700, err);
	if (r == 0)
		r = rw_write_file_atomic(path, b.p, b.len, 0600, (uid_t)-1, (gid_t)-1, false, err);
	free(b.p);
	return r;
}

struct json *rw_record_load(const struct rw_cmdline *cl)
{
	cleanup_free char *path = NULL, *buf = NULL;
	cleanup_error rw_error_t ignored = NULL;
	struct json *rec = NULL;
	size_t len;

	if (rw_record_path(cl, &path, &ignored) < 0 || access(path, F_OK) < 0 ||
	    rw_read_file(path, 1u << 20, &buf, &len, &ignored) < 0 ||
	    json_parse(buf, len, 0, path, &rec, &ignored) < 0)
		return NULL;
	return rec;
}

int rw_record_delegate(const struct json *rec, struct rw_delegate *d)
{
	cleanup_error rw_error_t ignored = NULL;
	const struct json *name = json_get(rec, "delegate"), *dpath = json_get(rec, "path");

	if (!name || name->type != JSON_STRING || !dpath || dpath->type != JSON_STRING ||
	    dpath->u.str.s[0] != '/' || access(dpath->u.str.s, X_OK) < 0)
		return 0;
	return set(d, name->u.str.s, dpath->u.str.s, &ignored) == 0;
}

int rw_record_remove(const struct rw_cmdline *cl, rw_error_t *err)
{
	cleanup_free char *path = NULL;

	if (rw_record_path(cl, &path, err) < 0)
		return -1;
	if (unlink(path) < 0 && errno != ENOENT)
		return rw_error(err, errno, "remove %s", path);
	return 0;
}

static bool exists(const char *dir, const char *id, const char *file)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s/%s", dir, id, file);
	return access(p, F_OK) == 0;
}

static bool runsc_has(const char *dir, const char *id)
{
	char pat[PATH_MAX];
	glob_t g;
	bool found;

	/* runsc (2022): <root>/<sandbox-id>_sandbox:<container-id>.state */
	snprintf(pat, sizeof(pat), "%s/*_sandbox:%s.state", dir, id);
	found = glob(pat, GLOB_NOSORT, NULL, &g) == 0 && g.gl_pathc > 0;
	globfree(&g);
	return found;
}

int rw_delegate_probe(const struct rw_cmdline *cl, struct rw_delegate *d, rw_error_t *err)
{
	bool given = cl->root && *cl->root;
	const char *name = NULL;

	if (exists(given ? cl->root : "/run/runc", cl->id, "state.json"))
		name = "runc";
	else if (exists(given ? cl->root : "/run/crun", cl->id, "status"))
		name = "crun";
	else if (runsc_has(given ? cl->root : "/var/run/runsc", cl->id))
		name = "runsc";
	if (name == NULL)
		return 0;
	if (!lookup(name, d))
		return rw_error(err, 0, "container %s belongs to %s, which is not installed", cl->id, name);
	return 1;
}
