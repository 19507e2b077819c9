#include "config.h"
#include "policy/docker.h"
#include "shim/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEX64_LEN 64

static bool is_hex64(const char *s, size_t len)
{
	size_t i;

	if (len != HEX64_LEN)
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* A string value with no embedded NUL (usable as a C string). */
static bool plain_string(const struct json *j)
{
	return j && j->type == JSON_STRING && memchr(j->u.str.s, '\0', j->u.str.len) == NULL;
}

/* One path component, used as is: not empty, no '/', not "." or "..". */
static bool plain_component(const char *s, size_t len)
{
	if (len == 0 || memchr(s, '/', len) != NULL || memchr(s, '\0', len) != NULL)
		return false;
	return !(len == 1 && s[0] == '.') && !(len == 2 && s[0] == '.' && s[1] == '.');
}

/* Is the mount destination /etc/hostname, once cleaned lexically as runc
 * does ("//etc/./hostname/", "/etc/../etc/hostname")? */
static bool dest_is_etc_hostname(const struct json *dest)
{
	const char *p, *end;
	char *buf;
	size_t n = 0;
	bool r;

	if (!plain_string(dest))
		return false;
	buf = malloc(dest->u.str.len + 2);
	if (buf == NULL)
		return false;
	p = dest->u.str.s;
	end = p + dest->u.str.len;
	while (p < end) {
		const char *c;
		size_t len;

		while (p < end && *p == '/')
			p++;
		c = p;
		while (p < end && *p != '/')
			p++;
		len = (size_t)(p - c);
		if (len == 0 || (len == 1 && c[0] == '.'))
			continue;
		if (len == 2 && c[0] == '.' && c[1] == '.') {
			while (n > 0 && buf[n - 1] != '/')
				n--;
			if (n > 0)
				n--;        /* the '/' before the dropped component */
			continue;
		}
		buf[n++] = '/';
		memcpy(buf + n, c, len);
		n += len;
	}
	r = n == strlen("/etc/hostname") && memcmp(buf, "/etc/hostname", n) == 0;
	free(buf);
	return r;
}

static bool mount_is_bind(const struct json *m)
{
	const struct json *opts = json_get(m, "options");
	size_t i;

	if (json_is_string(json_get(m, "type"), "bind"))
		return true;
	if (opts == NULL || opts->type != JSON_ARRAY)
		return false;
	for (i = 0; i < opts->u.arr.n; i++)
		if (json_is_string(opts->u.arr.v[i], "bind") || json_is_string(opts->u.arr.v[i], "rbind"))
			return true;
	return false;
}

/* The source of the one bind mount on /etc/hostname, or NULL: none, more than
 * one mount there (Docker makes exactly one), or not a bind mount. */
static const struct json *hostname_source(const struct json *spec)
{
	const struct json *mounts = json_get(spec, "mounts"), *found = NULL;
	size_t i, count = 0;

	if (mounts == NULL || mounts->type != JSON_ARRAY)
		return NULL;
	for (i = 0; i < mounts->u.arr.n; i++) {
		const struct json *m = mounts->u.arr.v[i];
		if (m->type != JSON_OBJECT || !dest_is_etc_hostname(json_get(m, "destination")))
			continue;
		count++;
		found = m;
	}
	if (count != 1 || !mount_is_bind(found))
		return NULL;
	found = json_get(found, "source");
	return plain_string(found) ? found : NULL;
}

/* The data-root in source, when source is exactly <data-root>/containers/<cid>/hostname,
 * written plainly: absolute, every component non-empty and not "." or "..". cid is
 * this container's id, or with --network container:X, X's (Docker then mounts X's
 * hostname): the path only says where the data-root is; what is read is still
 * containers/<id>/config.v2.json of this id, whose "ID" must match, and the id is
 * Docker's fresh random one, which no bind mount declared beforehand can name. */
static char *data_root_of(const struct json *src, const char *id)
{
	const char *s = src->u.str.s, *p, *end;
	size_t len = src->u.str.len, idlen = strlen(id), slen, plen;

	slen = strlen("/containers/") + idlen + strlen("/hostname");
	if (len <= slen || s[0] != '/')
		return NULL;
	plen = len - slen;
	p = s + plen;
	if (memcmp(p, "/containers/", 12) != 0 || !is_hex64(p + 12, idlen) ||
	    memcmp(p + 12 + idlen, "/hostname", 9) != 0)
		return NULL;
	/* s[0..plen) is the data-root: "/" then components separated by single '/'. */
	p = s + 1;
	end = s + plen;
	while (p <= end) {
		const char *c = p;
		while (p < end && *p != '/')
			p++;
		if (!plain_component(c, (size_t)(p - c)))
			return NULL;
		p++;
	}
	return strndup(s, plen);
}

static bool is_dir_at(const char *dir, const char *name)
{
	cleanup_free char *path = NULL;
	struct stat st;

	if (asprintf(&path, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, name) < 0)
		return false;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Does a directory above root look like a data-root itself (containers/ and
 * image/)? Then root is inside Docker's state, where a tenant can write: a
 * volume's _data, a layer's diff, a container's mounts/shm. */
static bool nested_in_data_root(const char *root)
{
	cleanup_free char *a = strdup(root);
	char *slash;

	if (a == NULL)
		return true;
	while ((slash = strrchr(a, '/')) != NULL) {
		if (slash == a) {
			/* the filesystem root */
			return is_dir_at("/", "containers") && is_dir_at("/", "image");
		}
		*slash = '\0';
		if (is_dir_at(a, "containers") && is_dir_at(a, "image"))
			return true;
	}
	return false;
}

/* Opens directory name beneath dirfd, not through a symlink. 0 on success;
 * 1 when it is missing, not a directory, or a symlink; -1 (and *err) otherwise. */
static int open_dir_at(int dirfd, const char *name, const char *path, int *out, rw_error_t *err)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
			return 1;
		return rw_error(err, errno, "open %s", path);
	}
	*out = fd;
	return 0;
}

/* Reads and parses regular file name beneath dirfd (not through a symlink). */
static int read_json_at(int dirfd, const char *name, const char *path, struct json **out,
			rw_error_t *err)
{
	cleanup_free char *buf = NULL;
	size_t len;

	if (rw_read_file_at(dirfd, name, path, O_NOFOLLOW, RW_DOCKER_MAX_FILE, &buf, &len, err) < 0)
		return -1;
	if (json_parse(buf, len, 0, path, out, err) < 0)
		return -1;
	if ((*out)->type != JSON_OBJECT) {
		json_free(*out);
		*out = NULL;
		return rw_error(err, 0, "%s: not a JSON object", path);
	}
	return 0;
}

/* obj.key as a new C string; NULL when missing or null. */
static int get_string(const struct json *obj, const char *key, const char *path, char **out,
		      rw_error_t *err)
{
	const struct json *v = json_get(obj, key);

	*out = NULL;
	if (v == NULL || v->type == JSON_NULL)
		return 0;
	if (!plain_string(v))
		return rw_error(err, 0, "%s: \"%s\" is not a string", path, key);
	*out = strdup(v->u.str.s);
	if (*out == NULL)
		return rw_error(err, ENOMEM, "reading %s", path);
	return 0;
}

/* A label of a Labels object, pointing into the tree. */
struct lbl {
	const char *k, *v;
	size_t kl, vl, idx;
};

static int bytes_cmp(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	if (c)
		return c;
	return al < bl ? -1 : al > bl;
}

static int lbl_cmp(const void *pa, const void *pb)
{
	const struct lbl *a = pa, *b = pb;
	int c = bytes_cmp(a->k, a->kl, b->k, b->kl);

	if (c)
		return c;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int lbl_key_cmp(const void *pkey, const void *pl)
{
	const struct lbl *key = pkey, *l = pl;
	return bytes_cmp(key->k, key->kl, l->k, l->kl);
}

/* The labels of a Labels object (missing or null: none), sorted by key, each key
 * once with its last value (as Go's decoder keeps). Values must be strings. */
static int collect_labels(const struct json *labels, const char *path, const char *what,
			  struct lbl **out, size_t *n, rw_error_t *err)
{
	struct lbl *l;
	size_t i, m = 0;

	*out = NULL;
	*n = 0;
	if (labels == NULL || labels->type == JSON_NULL)
		return 0;
	if (labels->type != JSON_OBJECT)
		return rw_error(err, 0, "%s: %s is not a JSON object", path, what);
	if (labels->u.obj.n == 0)
		return 0;
	l = calloc(labels->u.obj.n, sizeof(*l));
	if (l == NULL)
		return rw_error(err, ENOMEM, "reading %s", path);
	for (i = 0; i < labels->u.obj.n; i++) {
		const struct json_member *mb = &labels->u.obj.m[i];
		if (mb->val->type != JSON_STRING) {
			free(l);
			return rw_error(err, 0, "%s: %s: the value of \"%.*s\" is not a string", path,
					what, (int)strnlen(mb->key, mb->klen), mb->key);
		}
		l[i] = (struct lbl){ mb->key, mb->val->u.str.s, mb->klen, mb->val->u.str.len, i };
	}
	qsort(l, labels->u.obj.n, sizeof(*l), lbl_cmp);
	for (i = 0; i < labels->u.obj.n; i++) {
		if (i + 1 < labels->u.obj.n && bytes_cmp(l[i].k, l[i].kl, l[i + 1].k, l[i + 1].kl) == 0)
			continue;   /* a later duplicate wins */
		l[m++] = l[i];
	}
	*out = l;
	*n = m;
	return 0;
}

static char *memdup0(const char *s, size_t len)
{
	char *p = malloc(len + 1);
	if (p) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

/* The image's configuration: <root>/image/<driver>/imagedb/content/sha256/<hex>,
 * each step a real directory. */
static int read_image_config(int rootfd, const char *driver, const char *hex, const char *path,
			     struct json **out, rw_error_t *err)
{
	const char *steps[] = { "image", driver, "imagedb", "content", "sha256" };
	int fd = -1, r = 0;
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int next = -1;
		r = open_dir_at(fd < 0 ? rootfd : fd, steps[i], path, &next, err);
		if (fd >= 0)
			close(fd);
		if (r != 0) {
			if (r > 0)
				rw_error(err, 0, "%s: missing (no such directory %s, or a symlink)",
					 path, steps[i]);
			return -1;
		}
		fd = next;
	}
	r = read_json_at(fd, hex, path, out, err);
	close(fd);
	return r;
}

/* The run-time labels: the container's, less those the image carries with the
 * same value. */
static int runtime_labels(const struct json *cfg, const char *cfgpath, const struct json *img,
			  const char *imgpath, struct rw_docker *d, rw_error_t *err)
{
	cleanup_free struct lbl *cl = NULL, *il = NULL;
	size_t nc, ni, i;
	const struct json *iconf = NULL;

	if (collect_labels(json_getv(cfg, "Config", "Labels", NULL), cfgpath, "\"Config\".\"Labels\"",
			   &cl, &nc, err) < 0)
		return -1;
	if (img) {
		iconf = json_get(img, "config");
		if (iconf && iconf->type != JSON_NULL && iconf->type != JSON_OBJECT)
			return rw_error(err, 0, "%s: \"config\" is not a JSON object", imgpath);
		if (iconf && iconf->type == JSON_OBJECT &&
		    collect_labels(json_get(iconf, "Labels"), imgpath, "\"config\".\"Labels\"", &il,
				   &ni, err) < 0)
			return -1;
	}
	if (nc == 0)
		return 0;
	d->labels = calloc(nc, sizeof(*d->labels));
	if (d->labels == NULL)
		return rw_error(err, ENOMEM, "reading %s", cfgpath);
	for (i = 0; i < nc; i++) {
		const struct lbl *c = &cl[i], *m = NULL;
		struct rw_kv *kv;

		if (il)
			m = bsearch(c, il, ni, sizeof(*il), lbl_key_cmp);
		if (m && bytes_cmp(m->v, m->vl, c->v, c->vl) == 0)
			continue;   /* the image's, merged in by Docker */
		if (memchr(c->k, '\0', c->kl) || memchr(c->v, '\0', c->vl))
			return rw_error(err, 0, "%s: label \"%.*s\" contains a NUL byte", cfgpath,
					(int)strnlen(c->k, c->kl), c->k);
		kv = &d->labels[d->nlabels];
		kv->key = memdup0(c->k, c->kl);
		kv->value = memdup0(c->v, c->vl);
		d->nlabels++;
		if (kv->key == NULL || kv->value == NULL)
			return rw_error(err, ENOMEM, "reading %s", cfgpath);
	}
	return 0;
}

/* Reads config.v2.json (and the image's configuration) into d. */
static int read_state(int rootfd, int ctrfd, const char *id, struct rw_docker *d, rw_error_t *err)
{
	cleanup_json struct json *cfg = NULL;
	cleanup_json struct json *img = NULL;
	cleanup_free char *cfgpath = NULL, *imgpath = NULL, *driver = NULL;
	const struct json *conf;

	if (asprintf(&cfgpath, "%s/containers/%s/config.v2.json", d->data_root, id) < 0)
		return rw_error(err, ENOMEM, "reading config.v2.json");
	if (read_json_at(ctrfd, "config.v2.json", cfgpath, &cfg, err) < 0)
		return -1;
	if (!json_is_string(json_get(cfg, "ID"), id))
		return rw_error(err, 0, "%s belongs to another container", cfgpath);
	conf = json_get(cfg, "Config");
	if (conf && conf->type != JSON_NULL && conf->type != JSON_OBJECT)
		return rw_error(err, 0, "%s: \"Config\" is not a JSON object", cfgpath);
	if (get_string(cfg, "Name", cfgpath, &d->name, err) < 0 ||
	    get_string(conf, "Image", cfgpath, &d->image_ref, err) < 0 ||
	    get_string(cfg, "Image", cfgpath, &d->image_id, err) < 0 ||
	    get_string(cfg, "Driver", cfgpath, &driver, err) < 0)
		return -1;

	if (d->image_id && d->image_id[0]) {
		const char *hex = d->image_id + strlen("sha256:");
		if (strncmp(d->image_id, "sha256:", 7) != 0 || !is_hex64(hex, strlen(hex)))
			return rw_error(err, 0, "%s: \"Image\" is not an image id (sha256:<64 hex digits>)",
					cfgpath);
		if (driver == NULL || !plain_component(driver, strlen(driver)))
			return rw_error(err, 0, "%s: no usable storage \"Driver\": cannot find the image's "
					"configuration", cfgpath);
		if (asprintf(&imgpath, "%s/image/%s/imagedb/content/sha256/%s", d->data_root, driver,
			     hex) < 0)
			return rw_error(err, ENOMEM, "reading the image configuration");
		if (read_image_config(rootfd, driver, hex, imgpath, &img, err) < 0)
			return rw_error_prefix(err, "cannot tell the image's labels from the container's");
	}
	return runtime_labels(cfg, cfgpath, img, imgpath, d, err);
}

int rw_docker_read(const struct json *spec, const char *id, struct rw_docker *d, rw_error_t *err)
{
	cleanup_close int rootfd = -1, cfd = -1, ctrfd = -1;
	cleanup_free char *cpath = NULL;
	const struct json *src;
	int r;

	memset(d, 0, sizeof(*d));
	/* Docker's container ids are 64 lowercase hex digits; any other id is not Docker's. */
	if (id == NULL || !is_hex64(id, strlen(id)))
		return 0;
	src = hostname_source(spec);
	if (src == NULL)
		return 0;
	d->data_root = data_root_of(src, id);
	if (d->data_root == NULL || nested_in_data_root(d->data_root))
		goto not_found;

	rootfd = open(d->data_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
			goto not_found;
		rw_error(err, errno, "open %s", d->data_root);
		goto fail;
	}
	if (asprintf(&cpath, "%s/containers/%s", d->data_root, id) < 0) {
		rw_error(err, ENOMEM, "reading Docker's state");
		goto fail;
	}
	r = open_dir_at(rootfd, "containers", cpath, &cfd, err);
	if (r == 0)
		r = open_dir_at(cfd, id, cpath, &ctrfd, err);
	if (r > 0)
		goto not_found;
	if (r < 0 || read_state(rootfd, ctrfd, id, d, err) < 0)
		goto fail;
	d->found = true;
	return 0;

fail:
	rw_error_prefix(err, "Docker container %.12s", id);
	rw_docker_release(d);
	return -1;
not_found:
	rw_docker_release(d);
	return 0;
}

void rw_docker_release(struct rw_docker *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->nlabels; i++) {
		free(d->labels[i].key);
		free(d->labels[i].value);
	}
	free(d->labels);
	free(d->data_root);
	free(d->name);
	free(d->image_ref);
	free(d->image_id);
	memset(d, 0, sizeof(*d));
}

const char *rw_docker_label(const struct rw_docker *d, const char *key)
{
	size_t i;

	if (d == NULL || key == NULL)
		return NULL;
	for (i = 0; i < d->nlabels; i++)
		if (strcmp(d->labels[i].key, key) == 0)
			return d->labels[i].value;
	return NULL;
}
