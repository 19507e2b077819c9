#include "config.h"
#include "policy/enforce.h"
#include "policy/docker.h"
#include "shim/log.h"
#include "shim/strv.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const cap_sets[] = { "bounding", "effective", "inheritable", "permitted", "ambient", NULL };
static const char *const tmpfs_dirs[] = { "/tmp", "/run", "/var/tmp", NULL };
#define CPU_PERIOD_DEFAULT 100000

static void __attribute__((format(printf, 2, 3))) change(struct rw_changes *ch, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)rw_strv_vpushf(&ch->lines, &ch->n, fmt, ap);
	va_end(ap);
}

void rw_changes_release(struct rw_changes *ch)
{
	rw_strv_free(&ch->lines, &ch->n);
}

void rw_limits_release(struct rw_limits *lim)
{
	rw_strv_free(&lim->caps, &lim->ncaps);
}

static const char *str(const struct json *j)
{
	return j && j->type == JSON_STRING && !memchr(j->u.str.s, '\0', j->u.str.len) ? j->u.str.s : NULL;
}

/* The parent of a cgroupsPath: "/tenants/pro/ID" -> "/tenants/pro";
 * systemd's "tenants-pro.slice:docker:ID" -> "tenants-pro.slice". */
static void cgroup_parent(const struct json *spec, char *out, size_t size)
{
	const char *p = str(json_getv(spec, "linux", "cgroupsPath", NULL));
	const char *cut;

	out[0] = '\0';
	if (p == NULL)
		return;
	if (p[0] != '/' && (cut = strchr(p, ':')) != NULL) {
		snprintf(out, size, "%.*s", (int)(cut - p), p);
		return;
	}
	cut = strrchr(p, '/');
	if (cut && cut != p)
		snprintf(out, size, "%.*s", (int)(cut - p), p);
	else if (cut)
		snprintf(out, size, "/");
}

/* parent equals base or lies under it, at a path boundary. */
static bool under(const char *path, const char *base)
{
	size_t n = strlen(base);

	while (n > 1 && base[n - 1] == '/')
		n--;
	return strncmp(path, base, n) == 0 && (path[n] == '\0' || path[n] == '/' || (n == 1 && base[0] == '/'));
}

static const char *annotation(const struct json *spec, const char *key)
{
	return str(json_get(json_get(spec, "annotations"), key));
}

static bool rule_matches(const struct rw_trusted *t, const struct json *spec, const struct rw_docker *dk,
			 const char *parent)
{
	size_t i;
	const char *image = dk->found ? dk->image_ref : NULL;

	if (image == NULL)
		image = annotation(spec, "org.opencontainers.image.ref.name");
	if (image == NULL)
		image = annotation(spec, "io.kubernetes.cri.image-name");
	for (i = 0; i < t->annotations.n; i++) {
		const char *v = annotation(spec, t->annotations.keys[i]);
		if (v == NULL || strcmp(v, t->annotations.values[i]) != 0)
			return false;
	}
	for (i = 0; i < t->labels.n; i++) {
		const char *v = dk->found ? rw_docker_label(dk, t->labels.keys[i]) : NULL;
		if (v == NULL || strcmp(v, t->labels.values[i]) != 0)
			return false;
	}
	if (t->cgroup_parent && !(parent[0] && under(parent, t->cgroup_parent)))
		return false;
	if (t->image && !(image && fnmatch(t->image, image, 0) == 0))
		return false;
	if (t->digest && !(dk->found && dk->image_id && strcmp(dk->image_id, t->digest) == 0))
		return false;
	return true;
}

int rw_decide(const struct rw_policy *pol, const struct json *spec, const char *id,
	      struct rw_decision *dec, rw_error_t *err)
{
	struct rw_docker dk;
	char parent[PATH_MAX];
	const char *name = NULL, *why = NULL;
	size_t i;

	memset(dec, 0, sizeof(*dec));
	if (rw_docker_read(spec, id, &dk, err) < 0)
		return rw_error_prefix(err, "reading Docker's state for %s", id);
	cgroup_parent(spec, parent, sizeof(parent));
	if (dk.found) {
		dec->data_root = dk.data_root ? strdup(dk.data_root) : NULL;
		dec->image = dk.image_ref ? strdup(dk.image_ref) : NULL;
		dec->image_digest = dk.image_id ? strdup(dk.image_id) : NULL;
	}
	/* Outside Docker, containerd and other engines name the image in
	 * annotations (what the blocklist checks; tiers never come from it). */
	if (dec->image == NULL && (name = annotation(spec, "org.opencontainers.image.ref.name")) != NULL)
		dec->image = strdup(name);
	if (dec->image == NULL && (name = annotation(spec, "io.kubernetes.cri.image-name")) != NULL)
		dec->image = strdup(name);
	if (dec->image_digest == NULL && (name = annotation(spec, "org.opencontainers.image.digest")) != NULL)
		dec->image_digest = strdup(name);
	name = NULL;

	for (i = 0; i < pol->ntrusted; i++) {
		if (!rule_matches(&pol->trusted[i], spec, &dk, parent))
			continue;
		dec->trusted = &pol->trusted[i];
		dec->delegate = dec->trusted->delegate ? dec->trusted->delegate : "runc";
		snprintf(dec->source, sizeof(dec->source), "trusted:%s", dec->trusted->name);
		rw_docker_release(&dk);
		return 0;
	}

	if ((name = annotation(spec, "org.runwarden.tier")) != NULL)
		why = "annotation";
	else if (dk.found && (name = rw_docker_label(&dk, "org.runwarden.tier")) != NULL)
		why = "label";
	else
		for (i = 0; parent[0] && i < pol->cgroup_parents.n; i++)
			if (under(parent, pol->cgroup_parents.keys[i])) {
				name = pol->cgroup_parents.values[i];
				why = "cgroup-parent";
				break;
			}
	if (name == NULL) {
		name = pol->default_tier;
		why = "default";
	}
	dec->tier = rw_policy_tier(pol, name);
	if (dec->tier == NULL) {
		rw_error(err, 0, "refused: unknown tier \"%s\" (%s%s)", name, why,
			 strcmp(why, "default") == 0 ? "_tier in the policy" :
			 strcmp(why, "cgroup-parent") == 0 ? " mapping" : " org.runwarden.tier");
		rw_docker_release(&dk);
		return -1;
	}
	snprintf(dec->source, sizeof(dec->source), "%s", why);
	dec->delegate = dec->tier->delegate ? dec->tier->delegate : pol->delegate;
	rw_docker_release(&dk);
	return 0;
}

void rw_decision_release(struct rw_decision *dec)
{
	free(dec->data_root);
	free(dec->image);
	free(dec->image_digest);
	dec->data_root = dec->image = dec->image_digest = NULL;
}

/* Refusals */

static int refuse_namespaces(const struct json *spec, rw_error_t *err)
{
	static const char *const required[] = { "network", "pid", "ipc", "uts", "mount", NULL };
	const struct json *ns = json_getv(spec, "linux", "namespaces", NULL);
	size_t i, k;

	for (k = 0; required[k]; k++) {
		const struct json *found = NULL;
		const char *path;

		for (i = 0; ns && ns->type == JSON_ARRAY && i < ns->u.arr.n; i++)
			if (json_is_string(json_get(ns->u.arr.v[i], "type"), required[k]))
				found = ns->u.arr.v[i];
		if (found == NULL)
			return rw_error(err, 0, "refused: host %s namespace (rule: tenant containers get their own; linux.namespaces has no \"%s\")",
					required[k], required[k]);
		path = str(json_get(found, "path"));
		if (path == NULL || *path == '\0')
			continue;
		if (strcmp(required[k], "network") == 0) {
			/* --network container:X joins another container's: allowed.
			 * The host's is not: runwarden runs in it (containerd calls it
			 * from the host), so /proc/self/ns/net is the host's. When
			 * that cannot be told, refuse. */
			struct stat a, self, init;
			bool is_host;
			if (stat(path, &a) < 0)
				return rw_error(err, errno, "refused: network namespace path %s", path);
			if (stat("/proc/self/ns/net", &self) < 0)
				return rw_error(err, errno, "refused: network namespace path %s: cannot compare with the host's", path);
			is_host = a.st_dev == self.st_dev && a.st_ino == self.st_ino;
			if (stat("/proc/1/ns/net", &init) == 0 && a.st_dev == init.st_dev && a.st_ino == init.st_ino)
				is_host = true;
			if (is_host)
				return rw_error(err, 0, "refused: host network namespace (rule: tenant containers get their own; path %s is the host's)", path);
			continue;
		}
		return rw_error(err, 0, "refused: %s namespace path %s (rule: tenant containers do not join another process's %s namespace)",
				required[k], path, required[k]);
	}
	return 0;
}

static int refuse_privileged(const struct json *spec, rw_error_t *err)
{
	const struct json *dev = json_getv(spec, "linux", "resources", "devices", NULL);
	size_t i;

	for (i = 0; dev && dev->type == JSON_ARRAY && i < dev->u.arr.n; i++) {
		const struct json *d = dev->u.arr.v[i];
		const char *type = str(json_get(d, "type")), *access = str(json_get(d, "access"));
		long long major = -1, minor = -1;

		if (json_get(d, "allow") == NULL || json_get(d, "allow")->type != JSON_TRUE)
			continue;
		json_int(json_get(d, "major"), &major);
		json_int(json_get(d, "minor"), &minor);
		if ((type == NULL || strcmp(type, "a") == 0) && major < 0 && minor < 0 &&
		    (access == NULL || (strchr(access, 'r') && strchr(access, 'w') && strchr(access, 'm'))))
			return rw_error(err, 0, "refused: privileged mode (rule: no tenant container gets all devices; linux.resources.devices[%zu] allows every device)", i);
	}
	return 0;
}

static bool is_bind(const struct json *m)
{
	const struct json *opts = json_get(m, "options");
	size_t i;

	if (json_is_string(json_get(m, "type"), "bind"))
		return true;
	for (i = 0; opts && opts->type == JSON_ARRAY && i < opts->u.arr.n; i++)
		if (json_is_string(opts->u.arr.v[i], "bind") || json_is_string(opts->u.arr.v[i], "rbind"))
			return true;
	return false;
}

static bool runtime_socket(const char *path)
{
	static const char *const dirs[] = { "/run/containerd", "/var/run/containerd", "/run/docker", "/var/run/docker", NULL };
	static const char *const names[] = { "docker.sock", "containerd.sock", "containerd.sock.ttrpc", "dockershim.sock", NULL };
	const char *base = strrchr(path, '/');
	size_t i;

	base = base ? base + 1 : path;
	for (i = 0; names[i]; i++)
		if (strcmp(base, names[i]) == 0)
			return true;
	for (i = 0; dirs[i]; i++)
		if (under(path, dirs[i]))
			return true;
	return false;
}

static bool docker_net_file(const char *data_root, const char *real)
{
	char containers[PATH_MAX];
	const char *rest, *slash;
	struct stat st;

	snprintf(containers, sizeof(containers), "%s/containers/", data_root);
	if (strncmp(real, containers, strlen(containers)) != 0)
		return false;
	rest = real + strlen(containers);
	slash = strchr(rest, '/');
	if (slash == NULL || strchr(slash + 1, '/') ||
	    (strcmp(slash + 1, "resolv.conf") != 0 && strcmp(slash + 1, "hosts") != 0 && strcmp(slash + 1, "hostname") != 0))
		return false;
	return lstat(real, &st) == 0 && S_ISREG(st.st_mode);
}

static int refuse_mounts(const struct rw_policy *pol, const struct rw_decision *dec, const char *id,
			 const char *bundle, const struct json *spec, rw_error_t *err)
{
	const struct json *mounts = json_get(spec, "mounts");
	char own[PATH_MAX] = "", volumes[PATH_MAX] = "";
	size_t i, k;

	if (dec->data_root) {
		snprintf(own, sizeof(own), "%s/containers/%s", dec->data_root, id);
		snprintf(volumes, sizeof(volumes), "%s/volumes", dec->data_root);
	}
	for (i = 0; mounts && mounts->type == JSON_ARRAY && i < mounts->u.arr.n; i++) {
		const struct json *m = mounts->u.arr.v[i];
		const char *src = str(json_get(m, "source"));
		char real[PATH_MAX];
		bool ok = false;

		if (!is_bind(m) || src == NULL)
			continue;
		if (src[0] != '/')
			return rw_error(err, 0, "refused: bind mount of relative path \"%s\" (mounts[%zu])", src, i);
		if (runtime_socket(src))
			return rw_error(err, 0, "refused: bind mount of the container runtime's socket %s (rule: no tenant container talks to Docker or containerd)", src);
		/* Judge where the path really leads. */
		if (realpath(src, real) == NULL)
			snprintf(real, sizeof(real), "%s", src);
		if (runtime_socket(real))
			return rw_error(err, 0, "refused: bind mount of the container runtime's socket %s (via %s)", real, src);
		if ((own[0] && under(real, own)) || (volumes[0] && under(real, volumes)) || (bundle && under(real, bundle)))
			ok = true;
		/* --network container:X: Docker binds X's resolv.conf, hosts and
		 * hostname, files it wrote itself. */
		if (!ok && dec->data_root && docker_net_file(dec->data_root, real))
			ok = true;
		for (k = 0; !ok && k < pol->nallow; k++)
			ok = under(real, pol->allow_host_paths[k]);
		/* A Unix socket is a door into whatever listens on it (a daemon that
		 * runs containers, under any name): it must be allowed by itself. */
		{
			struct stat st;
			if (stat(real, &st) == 0 && S_ISSOCK(st.st_mode)) {
				ok = false;
				for (k = 0; k < pol->nallow; k++)
					ok = ok || strcmp(real, pol->allow_host_paths[k]) == 0;
				if (!ok)
					return rw_error(err, 0, "refused: bind mount of the Unix socket %s (rule: a socket must be listed by itself in allow_host_paths)", src);
			}
		}
		if (!ok)
			return rw_error(err, 0, "refused: bind mount of host path %s (rule: allow_host_paths in %s)", src, pol->path);
	}
	return 0;
}

/* Changes */

static long long get_int(const struct json *j, long long missing)
{
	long long v;
	return json_int(j, &v) ? v : missing;
}

static int set_int(struct json *obj, const char *key, long long v, const char *path, struct rw_changes *ch, rw_error_t *err)
{
	const struct json *cur = json_get(obj, key);
	long long old;
	bool had = json_int(cur, &old);

	if (had && old == v)
		return 0;
	if (had)
		change(ch, "%s.%s: %lld -> %lld", path, key, old, v);
	else if (cur && cur->type == JSON_NUMBER)
		change(ch, "%s.%s: %s -> %lld", path, key, cur->u.str.s, v);
	else
		change(ch, "%s.%s: unset -> %lld", path, key, v);
	return json_set(obj, key, json_new_int(v), err);
}

/* the lower of what the container asked (when a positive limit) and the cap */
static long long clamp(long long asked, long long cap)
{
	return asked > 0 && asked < cap ? asked : cap;
}

static int apply_resources(struct json *spec, const struct rw_tier *t, struct rw_limits *lim,
			   struct rw_changes *ch, rw_error_t *err)
{
	struct json *linux_ = json_get_object(spec, "linux", err), *res, *mem, *cpu, *pids;
	long long period, tier_quota;

	if (!linux_ || !(res = json_get_object(linux_, "resources", err)) ||
	    !(mem = json_get_object(res, "memory", err)) || !(cpu = json_get_object(res, "cpu", err)) ||
	    !(pids = json_get_object(res, "pids", err)))
		return rw_error_prefix(err, "config.json");

	lim->memory = clamp(get_int(json_get(mem, "limit"), 0), (long long)t->memory);
	if (set_int(mem, "limit", lim->memory, "linux.resources.memory", ch, err) < 0 ||
	    set_int(mem, "swap", lim->memory, "linux.resources.memory", ch, err) < 0)
		return -1;
	if (get_int(json_get(mem, "reservation"), 0) > lim->memory &&
	    set_int(mem, "reservation", lim->memory, "linux.resources.memory", ch, err) < 0)
		return -1;

	period = get_int(json_get(cpu, "period"), 0);
	if (period <= 0)
		period = CPU_PERIOD_DEFAULT;
	tier_quota = (long long)(t->cpu_micro * (uint64_t)period / 1000000u);
	if (tier_quota < 1000)
		tier_quota = 1000;  /* the kernel's minimum quota, 1 ms */
	lim->cpu_period = (uint64_t)period;
	lim->cpu_quota = clamp(get_int(json_get(cpu, "quota"), 0), tier_quota);
	if (set_int(cpu, "period", period, "linux.resources.cpu", ch, err) < 0 ||
	    set_int(cpu, "quota", lim->cpu_quota, "linux.resources.cpu", ch, err) < 0)
		return -1;

	lim->pids = clamp(get_int(json_get(pids, "limit"), 0), t->pids);
	return set_int(pids, "limit", lim->pids, "linux.resources.pids", ch, err);
}

static bool is_tmpfs_dir(const char *dest)
{
	char d[PATH_MAX];
	size_t n, i;

	snprintf(d, sizeof(d), "%s", dest);
	n = strlen(d);
	while (n > 1 && d[n - 1] == '/')
		d[--n] = '\0';
	for (i = 0; tmpfs_dirs[i]; i++)
		if (strcmp(d, tmpfs_dirs[i]) == 0)
			return true;
	return false;
}

/* Strictly beneath /tmp, /run (or /var/run) or /var/tmp. */
static bool beneath_tmpfs_dir(const char *dest)
{
	static const char *const dirs[] = { "/tmp/", "/run/", "/var/run/", "/var/tmp/", NULL };
	size_t i;

	for (i = 0; dirs[i]; i++)
		if (strncmp(dest, dirs[i], strlen(dirs[i])) == 0 && dest[strlen(dirs[i])] != '\0')
			return true;
	return false;
}

static int apply_filesystem(struct json *spec, const struct rw_tier *t, struct rw_changes *ch, rw_error_t *err)
{
	struct json *root = json_get_object(spec, "root", err), *mounts = json_get(spec, "mounts");
	const struct json *ro;
	size_t i, o = 0;

	if (root == NULL)
		return rw_error_prefix(err, "config.json");
	ro = json_get(root, "readonly");
	if (!ro || ro->type != JSON_TRUE) {
		change(ch, "root.readonly: %s -> true", ro && ro->type == JSON_FALSE ? "false" : "unset");
		if (json_set(root, "readonly", json_new(JSON_TRUE), err) < 0)
			return -1;
	}
	if (mounts == NULL || mounts->type == JSON_NULL) {
		if (json_set(spec, "mounts", json_new(JSON_ARRAY), err) < 0)
			return -1;
		mounts = json_get(spec, "mounts");
	}
	if (mounts->type != JSON_ARRAY)
		return rw_error(err, 0, "config.json: \"mounts\" is not an array");
	/* Whatever the container had on these directories makes way for the tier's tmpfs. */
	for (i = 0; i < mounts->u.arr.n; i++) {
		struct json *m = mounts->u.arr.v[i];
		const char *dest = str(json_get(m, "destination"));
		if (dest && is_tmpfs_dir(dest)) {
			change(ch, "mounts: %s (%s) removed", dest, str(json_get(m, "type")) ? str(json_get(m, "type")) : "?");
			json_free(m);
			continue;
		}
		mounts->u.arr.v[o++] = m;
	}
	mounts->u.arr.n = o;
	/* runc mounts in order: the tmpfs must come before anything mounted
	 * beneath it (Docker's /run/secrets, Kubernetes' /var/run/secrets/...),
	 * or it would hide it. */
	for (o = 0; o < mounts->u.arr.n; o++) {
		const char *dest = str(json_get(mounts->u.arr.v[o], "destination"));
		if (dest && beneath_tmpfs_dir(dest))
			break;
	}
	for (i = 0; tmpfs_dirs[i]; i++) {
		char size[64];
		struct json *m = json_new(JSON_OBJECT), *opts = json_new(JSON_ARRAY);
		struct json **nv;

		snprintf(size, sizeof(size), "size=%llu", (unsigned long long)t->tmpfs);
		if (!m || !opts || json_set(m, "destination", json_new_string(tmpfs_dirs[i]), err) < 0 ||
		    json_set(m, "type", json_new_string("tmpfs"), err) < 0 ||
		    json_set(m, "source", json_new_string("tmpfs"), err) < 0) {
			json_free(m);
			json_free(opts);
			return rw_error(err, ENOMEM, "mounts");
		}
		{
			const char *o4[] = { "nosuid", "nodev", "mode=1777", size };
			size_t k;
			opts->u.arr.v = calloc(4, sizeof(*opts->u.arr.v));
			opts->u.arr.cap = 4;
			for (k = 0; opts->u.arr.v && k < 4; k++)
				opts->u.arr.v[opts->u.arr.n++] = json_new_string(o4[k]);
		}
		if (json_set(m, "options", opts, err) < 0) {
			json_free(m);
			return -1;
		}
		nv = realloc(mounts->u.arr.v, (mounts->u.arr.n + 1) * sizeof(*nv));
		if (nv == NULL) {
			json_free(m);
			return rw_error(err, ENOMEM, "mounts");
		}
		mounts->u.arr.v = nv;
		mounts->u.arr.cap = mounts->u.arr.n + 1;
		memmove(&nv[o + i + 1], &nv[o + i], (mounts->u.arr.n - (o + i)) * sizeof(*nv));
		nv[o + i] = m;
		mounts->u.arr.n++;
		change(ch, "mounts: %s tmpfs %s,nosuid,nodev,mode=1777", tmpfs_dirs[i], size);
	}
	return 0;
}

static bool allowed_cap(char *const *caps, size_t n, const struct json *v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (json_is_string(v, caps[i]))
			return true;
	return false;
}

/* Every capability set of a process reduced to caps; noNewPrivileges on. */
static int apply_process(struct json *proc, char *const *caps, size_t ncaps, const char *where,
			 struct rw_changes *ch, rw_error_t *err)
{
	struct json *capo = json_get_object(proc, "capabilities", err);
	const struct json *nnp;
	size_t k, i;

	if (capo == NULL)
		return rw_error_prefix(err, "%s", where);
	for (k = 0; cap_sets[k]; k++) {
		struct json *set = json_get(capo, cap_sets[k]);
		size_t o = 0, dropped = 0;

		if (set == NULL || set->type == JSON_NULL) {
			if (json_set(capo, cap_sets[k], json_new(JSON_ARRAY), err) < 0)
				return -1;
			continue;
		}
		if (set->type != JSON_ARRAY)
			return rw_error(err, 0, "%s: capabilities.%s is not an array", where, cap_sets[k]);
		for (i = 0; i < set->u.arr.n; i++) {
			if (allowed_cap(caps, ncaps, set->u.arr.v[i])) {
				set->u.arr.v[o++] = set->u.arr.v[i];
				continue;
			}
			json_free(set->u.arr.v[i]);
			dropped++;
		}
		set->u.arr.n = o;
		if (dropped)
			change(ch, "%s.capabilities.%s: %zu dropped, %zu kept", where, cap_sets[k], dropped, o);
	}
	nnp = json_get(proc, "noNewPrivileges");
	if (!nnp || nnp->type != JSON_TRUE) {
		change(ch, "%s.noNewPrivileges: %s -> true", where, nnp && nnp->type == JSON_FALSE ? "false" : "unset");
		if (json_set(proc, "noNewPrivileges", json_new(JSON_TRUE), err) < 0)
			return -1;
	}
	return 0;
}

static bool gvisor_key(const char *key, size_t klen)
{
	return klen >= 11 && strncmp(key, "dev.gvisor.", 11) == 0;
}

static int join_changes(const struct rw_changes *ch, char **out)
{
	size_t i, len = 1;
	char *s;

	for (i = 0; i < ch->n; i++)
		len += strlen(ch->lines[i]) + 2;
	s = malloc(len);
	if (s == NULL)
		return -1;
	s[0] = '\0';
	for (i = 0; i < ch->n; i++) {
		if (i)
			strcat(s, "; ");
		strcat(s, ch->lines[i]);
	}
	*out = s;
	return 0;
}

int rw_enforce_spec(const struct rw_policy *pol, const struct rw_decision *dec, const char *id,
		    const char *bundle, struct json *spec, struct rw_changes *ch, struct rw_limits *lim,
		    rw_error_t *err)
{
	const struct rw_tier *t = dec->tier;
	struct json *ann, *proc;
	cleanup_free char *joined = NULL;
	size_t removed;

	memset(lim, 0, sizeof(*lim));
	if (dec->trusted) {
		ann = json_get_object(spec, "annotations", err);
		if (!ann || json_set(ann, "org.runwarden.tier", json_new_string("trusted"), err) < 0 ||
		    json_set(ann, "org.runwarden.tier.source", json_new_string(dec->source), err) < 0)
			return -1;
		return 0;
	}
	if (refuse_namespaces(spec, err) < 0 || refuse_privileged(spec, err) < 0 ||
	    refuse_mounts(pol, dec, id, bundle, spec, err) < 0)
		return -1;
	if (pol->require_seccomp && (json_getv(spec, "linux", "seccomp", NULL) == NULL ||
				     json_getv(spec, "linux", "seccomp", NULL)->type == JSON_NULL))
		return rw_error(err, 0, "refused: no seccomp profile (rule: require_seccomp in %s)", pol->path);

	lim->tenant = true;
	snprintf(lim->tier, sizeof(lim->tier), "%s", t->name);
	if (apply_resources(spec, t, lim, ch, err) < 0 || apply_filesystem(spec, t, ch, err) < 0)
		return -1;
	proc = json_get_object(spec, "process", err);
	if (proc == NULL || apply_process(proc, t->caps, t->ncaps, "process", ch, err) < 0)
		return -1;
	if (rw_strv_copy(&lim->caps, &lim->ncaps, t->caps, t->ncaps) < 0)
		return rw_error(err, ENOMEM, "capabilities");

	ann = json_get_object(spec, "annotations", err);
	if (ann == NULL)
		return rw_error_prefix(err, "config.json");
	removed = json_remove_if(ann, gvisor_key);
	if (removed)
		change(ch, "annotations: %zu dev.gvisor.* removed", removed);
	if (join_changes(ch, &joined) < 0 ||
	    json_set(ann, "org.runwarden.tier", json_new_string(t->name), err) < 0 ||
	    json_set(ann, "org.runwarden.tier.source", json_new_string(dec->source), err) < 0 ||
	    json_set(ann, "org.runwarden.changes", json_new_string(joined ? joined : ""), err) < 0)
		return -1;
	return 0;
}

int rw_enforce_process(const struct rw_limits *lim, struct json *proc, struct rw_changes *ch, rw_error_t *err)
{
	if (!lim->tenant)
		return 0;
	return apply_process(proc, lim->caps, lim->ncaps, "process", ch, err);
}

static int clamp_field(struct json *obj, const char *key, long long cap, bool keep_lower, const char *path,
		       struct rw_changes *ch, rw_error_t *err)
{
	long long asked = get_int(json_get(obj, key), 0);
	long long v = keep_lower ? clamp(asked, cap) : cap;

	return set_int(obj, key, v, path, ch, err);
}

int rw_enforce_resources(const struct rw_limits *lim, struct json *res, struct rw_changes *ch, rw_error_t *err)
{
	struct json *mem = json_get(res, "memory"), *cpu = json_get(res, "cpu"), *pids = json_get(res, "pids");

	if (!lim->tenant)
		return 0;
	if (mem && mem->type == JSON_OBJECT && (json_get(mem, "limit") || json_get(mem, "swap"))) {
		long long m;
		if (clamp_field(mem, "limit", lim->memory, true, "memory", ch, err) < 0)
			return -1;
		m = get_int(json_get(mem, "limit"), lim->memory);
		if (clamp_field(mem, "swap", m, false, "memory", ch, err) < 0)
			return -1;
	}
	if (cpu && cpu->type == JSON_OBJECT && (json_get(cpu, "quota") || json_get(cpu, "period"))) {
		long long period = get_int(json_get(cpu, "period"), 0);
		long long cap;
		if (period <= 0)
			period = (long long)lim->cpu_period;
		cap = lim->cpu_quota * period / (long long)lim->cpu_period;
		if (cap < 1000)
			cap = 1000;
		if ((json_get(cpu, "period") && set_int(cpu, "period", period, "cpu", ch, err) < 0) ||
		    clamp_field(cpu, "quota", cap, true, "cpu", ch, err) < 0)
			return -1;
	}
	if (pids && pids->type == JSON_OBJECT && json_get(pids, "limit") &&
	    clamp_field(pids, "limit", lim->pids, true, "pids", ch, err) < 0)
		return -1;
	return 0;
}

void rw_limits_for_tier(const struct rw_tier *t, struct rw_limits *lim)
{
	memset(lim, 0, sizeof(*lim));
	lim->tenant = true;
	snprintf(lim->tier, sizeof(lim->tier), "%s", t ? t->name : "");
	lim->memory = t ? (int64_t)t->memory : 0;
	lim->cpu_period = CPU_PERIOD_DEFAULT;
	lim->cpu_quota = t ? (int64_t)(t->cpu_micro * CPU_PERIOD_DEFAULT / 1000000u) : 1000;
	lim->pids = t ? t->pids : 1;
	if (t)
		(void)rw_strv_copy(&lim->caps, &lim->ncaps, t->caps, t->ncaps);
}

int rw_limits_to_json(const struct rw_limits *lim, struct json **out, rw_error_t *err)
{
	struct json *j = json_new(JSON_OBJECT), *caps = json_new(JSON_ARRAY);
	size_t i;

	*out = NULL;
	if (!j || !caps) {
		json_free(j);
		json_free(caps);
		return rw_error(err, ENOMEM, "record");
	}
	caps->u.arr.v = calloc(lim->ncaps + 1, sizeof(*caps->u.arr.v));
	caps->u.arr.cap = lim->ncaps + 1;
	for (i = 0; caps->u.arr.v && i < lim->ncaps; i++)
		caps->u.arr.v[caps->u.arr.n++] = json_new_string(lim->caps[i]);
	if (json_set(j, "tenant", json_new(lim->tenant ? JSON_TRUE : JSON_FALSE), err) < 0 ||
	    json_set(j, "tier", json_new_string(lim->tier), err) < 0 ||
	    json_set(j, "memory", json_new_int(lim->memory), err) < 0 ||
	    json_set(j, "cpu_quota", json_new_int(lim->cpu_quota), err) < 0 ||
	    json_set(j, "cpu_period", json_new_int((long long)lim->cpu_period), err) < 0 ||
	    json_set(j, "pids", json_new_int(lim->pids), err) < 0 ||
	    json_set(j, "capabilities", caps, err) < 0) {
		json_free(j);
		return -1;
	}
	*out = j;
	return 0;
}

int rw_limits_from_json(const struct json *j, struct rw_limits *lim)
{
	const struct json *caps = json_get(j, "capabilities");
	long long v;
	size_t i;

	memset(lim, 0, sizeof(*lim));
	if (j == NULL || j->type != JSON_OBJECT)
		return -1;
	lim->tenant = !(json_get(j, "tenant") && json_get(j, "tenant")->type == JSON_FALSE);
	if (!lim->tenant)
		return 0;   /* trusted: nothing to enforce */
	if (str(json_get(j, "tier")))
		snprintf(lim->tier, sizeof(lim->tier), "%s", str(json_get(j, "tier")));
	if (!json_int(json_get(j, "memory"), &v))
		return -1;
	lim->memory = v;
	if (!json_int(json_get(j, "cpu_quota"), &v))
		return -1;
	lim->cpu_quota = v;
	if (!json_int(json_get(j, "cpu_period"), &v) || v <= 0)
		return -1;
	lim->cpu_period = (uint64_t)v;
	if (!json_int(json_get(j, "pids"), &v))
		return -1;
	lim->pids = v;
	if (caps == NULL || caps->type != JSON_ARRAY)
		return -1;
	for (i = 0; i < caps->u.arr.n; i++)
		if (str(caps->u.arr.v[i]) && rw_strv_push(&lim->caps, &lim->ncaps, strdup(str(caps->u.arr.v[i]))) < 0)
			return -1;
	return 0;
}

int rw_audit(const struct rw_policy *pol, const char *path, const char *event, const char *id,
	     const char *fmt, ...)
{
	cleanup_free char *extra = NULL, *line = NULL, *qid = NULL, *dir = NULL;
	cleanup_close int fd = -1;
	va_list ap;
	char when[64];
	struct timespec ts;
	struct tm tm;
	int n;

	(void)pol;
	if (path == NULL)
		return 0;
	va_start(ap, fmt);
	if (vasprintf(&extra, fmt, ap) < 0)
		extra = NULL;
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	qid = rw_json_quote(id ? id : "");
	n = extra && qid ? asprintf(&line, "{\"time\":\"%s\",\"event\":\"%s\",\"id\":%s%s%s}\n", when, event, qid,
				    *extra ? "," : "", extra) : -1;
	if (n < 0)
		return -1;
	dir = strdup(path);
	if (dir && strrchr(dir, '/') && strrchr(dir, '/') != dir) {
		*strrchr(dir, '/') = '\0';
		(void)mkdir(dir, 0750);
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0 || write(fd, line, (size_t)n) != n)
		return -1;
	return 0;
}
