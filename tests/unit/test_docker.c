#include "config.h"
#include "policy/docker.h"
#include "tests/unit/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Ids and an image id as Docker makes them. */
#define ID_A "ae9c7c205a5bd2b8865175e9363cb09a8a947c8449bd2af9dabcb8092e368f3a"
#define ID_B "371d23dddd83f73d12404f7792c89e97cc910c6187792013c2f09a0447a10d77"
#define IMG "b1aacc55e953738ef207a00e8286364da040c4460f551421c010cef6dbc77d76"
#define IMG_MISSING "0000000000000000000000000000000000000000000000000000000000000001"

/* A real Docker 20.10.24 config.v2.json (docker run -d --name web -l run.label=x
 * -l shared=override -l same=v rwtest/labeled:1 sleep 5), compacted; @ROOT@, @ID@,
 * @SHORT@ and @IMG@ stand for the data-root, the id, its first 12 digits, the image. */
static const char real_config_v2[] =
	"{\"StreamConfig\":{},\"State\":{\"Running\":true,\"Paused\":false,\"Restarting\":false,"
	"\"OOMKilled\":false,\"RemovalInProgress\":false,\"Dead\":false,\"Pid\":25453,\"ExitCode\":0,"
	"\"Error\":\"\",\"StartedAt\":\"2026-11-25T14:06:19.558372863Z\","
	"\"FinishedAt\":\"0001-01-01T00:00:00Z\",\"Health\":null},\"ID\":\"@ID@\","
	"\"Created\":\"2026-11-25T14:06:19.462993985Z\",\"Managed\":false,\"Path\":\"sleep\",\"Args\":[\"5\"],"
	"\"Config\":{\"Hostname\":\"@SHORT@\",\"Domainname\":\"\",\"User\":\"\",\"AttachStdin\":false,"
	"\"AttachStdout\":false,\"AttachStderr\":false,\"Tty\":false,\"OpenStdin\":false,"
	"\"StdinOnce\":false,\"Env\":null,\"Cmd\":[\"sleep\",\"5\"],\"Image\":\"rwtest/labeled:1\","
	"\"Volumes\":null,\"WorkingDir\":\"\",\"Entrypoint\":null,\"NetworkDisabled\":true,\"OnBuild\":null,"
	"\"Labels\":{\"img.only\":\"1\",\"run.label\":\"x\",\"same\":\"v\",\"shared\":\"override\"}},"
	"\"Image\":\"sha256:@IMG@\",\"NetworkSettings\":{\"Bridge\":\"\","
	"\"SandboxID\":\"c53fbbeced8e3f124860996a46f4152606f7ebab4427520287b3aad9cbf2f0f9\","
	"\"HairpinMode\":false,\"LinkLocalIPv6Address\":\"\",\"LinkLocalIPv6PrefixLen\":0,"
	"\"Networks\":{\"bridge\":{\"IPAMConfig\":null,\"Links\":null,\"Aliases\":null,\"NetworkID\":\"\","
	"\"EndpointID\":\"\",\"Gateway\":\"\",\"IPAddress\":\"\",\"IPPrefixLen\":0,\"IPv6Gateway\":\"\","
	"\"GlobalIPv6Address\":\"\",\"GlobalIPv6PrefixLen\":0,\"MacAddress\":\"\",\"DriverOpts\":null,"
	"\"IPAMOperational\":false}},\"Service\":null,\"Ports\":null,"
	"\"SandboxKey\":\"/tmp/rwd.yzXxxf/docker/exec/netns/c53fbbeced8e\","
	"\"SecondaryIPAddresses\":null,\"SecondaryIPv6Addresses\":null,\"IsAnonymousEndpoint\":false,"
	"\"HasSwarmEndpoint\":false},\"LogPath\":\"@ROOT@/containers/@ID@/@ID@-json.log\","
	"\"Name\":\"/web\",\"Driver\":\"overlay2\",\"OS\":\"linux\",\"MountLabel\":\"\",\"ProcessLabel\":\"\","
	"\"RestartCount\":0,\"HasBeenStartedBefore\":true,\"HasBeenManuallyStopped\":false,"
	"\"MountPoints\":{},\"SecretReferences\":null,\"ConfigReferences\":null,\"AppArmorProfile\":\"\","
	"\"HostnamePath\":\"@ROOT@/containers/@ID@/hostname\","
	"\"HostsPath\":\"@ROOT@/containers/@ID@/hosts\",\"ShmPath\":\"\","
	"\"ResolvConfPath\":\"@ROOT@/containers/@ID@/resolv.conf\",\"SeccompProfile\":\"\","
	"\"NoNewPrivileges\":false,\"LocalLogCacheMeta\":{\"HaveNotifyEnabled\":false}}\n";

/* The real image configuration of rwtest/labeled:1 (docker import -c 'LABEL img.only=1'
 * -c 'LABEL shared=fromimage' -c 'LABEL same=v'). */
static const char real_image_config[] =
	"{\"architecture\":\"amd64\",\"comment\":\"Imported from -\",\"config\":{\"Hostname\":\"\","
	"\"Domainname\":\"\",\"User\":\"\",\"AttachStdin\":false,\"AttachStdout\":false,\"AttachStderr\":false,"
	"\"Tty\":false,\"OpenStdin\":false,\"StdinOnce\":false,\"Env\":null,\"Cmd\":null,\"Image\":\"\","
	"\"Volumes\":null,\"WorkingDir\":\"\",\"Entrypoint\":null,\"OnBuild\":null,"
	"\"Labels\":{\"img.only\":\"1\",\"same\":\"v\",\"shared\":\"fromimage\"}},"
	"\"container_config\":{\"Hostname\":\"\",\"Domainname\":\"\",\"User\":\"\",\"AttachStdin\":false,"
	"\"AttachStdout\":false,\"AttachStderr\":false,\"Tty\":false,\"OpenStdin\":false,"
	"\"StdinOnce\":false,\"Env\":null,\"Cmd\":null,\"Image\":\"\",\"Volumes\":null,\"WorkingDir\":\"\","
	"\"Entrypoint\":null,\"OnBuild\":null,\"Labels\":null},"
	"\"created\":\"2026-11-25T14:06:19.440425575Z\",\"docker_version\":\"20.10.24+dfsg1\","
	"\"history\":[{\"created\":\"2026-11-25T14:06:19.440425575Z\",\"comment\":\"Imported from -\"}],"
	"\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
	"\"diff_ids\":[\"sha256:3a43cd6b30f45d7ad239860931027f152f52f36901062ef065ec1a355d865870\"]}}";

static char *base;          /* $TMPDIR/rw-test-docker-XXXXXX */
static char *root;          /* base/docker: the fake data-root */

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, f);
	if (vasprintf(&s, f, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

/* A distinct container id for each fixture: n in 64 hex digits. */
static const char *nid(unsigned n)
{
	static char ids[16][65];
	static int next;
	char *s = ids[next++ % 16];
	snprintf(s, sizeof(ids[0]), "%064x", n);
	return s;
}

static void mkdirs(const char *path)
{
	char *p = strdup(path), *s;

	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			abort();
		*s = '/';
	}
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		abort();
	free(p);
}

/* mkdirs, taking ownership of path. */
static void mkd(char *path)
{
	mkdirs(path);
	free(path);
}

/* Writes path (its directory made), taking ownership of path. */
static void put(char *path, const char *content)
{
	char *slash = strrchr(path, '/');
	FILE *f;

	*slash = '\0';
	mkdirs(path);
	*slash = '/';
	f = fopen(path, "w");
	if (f == NULL || fputs(content, f) == EOF || fclose(f) != 0)
		abort();
	free(path);
}

/* tmpl with @ROOT@, @ID@, @SHORT@ and @IMG@ replaced. */
static char *subst(const char *tmpl, const char *dr, const char *id)
{
	size_t cap = strlen(tmpl) * 4 + 1024, n = 0;
	char *out = malloc(cap);
	const char *p = tmpl;

	while (*p) {
		const char *rep = NULL;
		size_t skip = 0, rl;
		if (strncmp(p, "@ROOT@", 6) == 0) rep = dr, skip = 6;
		else if (strncmp(p, "@ID@", 4) == 0) rep = id, skip = 4;
		else if (strncmp(p, "@SHORT@", 7) == 0) rep = id, skip = 7;
		else if (strncmp(p, "@IMG@", 5) == 0) rep = IMG, skip = 5;
		if (rep == NULL) {
			out[n++] = *p++;
			continue;
		}
		rl = skip == 7 ? 12 : strlen(rep);
		memcpy(out + n, rep, rl);
		n += rl;
		p += skip;
	}
	out[n] = '\0';
	return out;
}

/* A container's directory under data-root dr, as Docker makes it. */
static void container(const char *dr, const char *id, const char *config_v2)
{
	put(fmt("%s/containers/%s/hostname", dr, id), "host\n");
	put(fmt("%s/containers/%s/config.v2.json", dr, id), config_v2);
}

/* A small config.v2.json: image is the "Image" member's JSON (or "" for none),
 * labels the "Config"."Labels" JSON. */
static char *small(const char *id, const char *image, const char *labels)
{
	return fmt("{\"ID\":\"%s\",\"Name\":\"/t\",\"Driver\":\"overlay2\"%s%s,"
		   "\"Config\":{\"Image\":\"rwtest/labeled:1\",\"Labels\":%s}}",
		   id, *image ? ",\"Image\":" : "", image, labels);
}

static void small_container(const char *id, const char *image, const char *labels)
{
	char *c = small(id, image, labels);
	container(root, id, c);
	free(c);
}

/* Docker's mounts, with /etc/hostname's source given (NULL: no such mount). */
static struct json *spec_with(const char *hostname_mount)
{
	struct json *j = NULL;
	rw_error_t err = NULL;
	char *s = fmt("{\"ociVersion\":\"1.0.2\",\"mounts\":["
		      "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
		      "{\"destination\":\"/etc/resolv.conf\",\"type\":\"bind\",\"source\":\"%s/containers/"
		      ID_A "/resolv.conf\",\"options\":[\"rbind\",\"rprivate\"]}%s%s]}",
		      root, hostname_mount ? "," : "", hostname_mount ? hostname_mount : "");

	if (json_parse(s, strlen(s), 0, "spec", &j, &err) < 0) {
		printf("# spec: %s\n", err->msg);
		abort();
	}
	free(s);
	return j;
}

static struct json *spec_source(const char *source)
{
	char *m = fmt("{\"destination\":\"/etc/hostname\",\"type\":\"bind\",\"source\":\"%s\","
		      "\"options\":[\"rbind\",\"rprivate\"]}", source);
	struct json *j = spec_with(m);
	free(m);
	return j;
}

static int read_src(const char *source, const char *id, struct rw_docker *d, rw_error_t *err)
{
	struct json *spec = spec_source(source);
	int r = rw_docker_read(spec, id, d, err);
	json_free(spec);
	return r;
}

static void not_found_spec(struct json *spec, const char *id, const char *what)
{
	struct rw_docker d;
	rw_error_t err = NULL;
	int r = rw_docker_read(spec, id, &d, &err);

	ok(r == 0 && !d.found && err == NULL && d.data_root == NULL && d.nlabels == 0,
	   "not found: %s", what);
	if (err)
		printf("#   error: %s\n", err->msg);
	rw_error_free(&err);
	rw_docker_release(&d);
	json_free(spec);
}

static void not_found(const char *source, const char *id, const char *what)
{
	not_found_spec(spec_source(source), id, what);
}

static void refused(const char *source, const char *id, const char *needle, const char *what)
{
	struct rw_docker d;
	rw_error_t err = NULL;
	int r = read_src(source, id, &d, &err);

	ok(r < 0 && err && strstr(err->msg, needle) && strstr(err->msg, "Docker container ") &&
	   !d.found && d.data_root == NULL && d.labels == NULL,
	   "error: %s", what);
	if (err && !strstr(err->msg, needle))
		printf("#   message: %s\n", err->msg);
	if (r == 0)
		printf("#   no error; found=%d\n", d.found);
	rw_error_free(&err);
	rw_docker_release(&d);
}

static char *hostname_of(const char *dr, const char *id)
{
	return fmt("%s/containers/%s/hostname", dr, id);
}

/* Reads id's container from root and checks its labels are exactly want ("k=v" ...). */
static void labels_are(const char *id, const char *const *want, size_t n, const char *what)
{
	struct rw_docker d;
	rw_error_t err = NULL;
	char *src = hostname_of(root, id);
	int r = read_src(src, id, &d, &err), good = r == 0 && d.found && d.nlabels == n;
	size_t i;

	for (i = 0; good && i < n; i++) {
		const char *eq = strchr(want[i], '=');
		char *k = strndup(want[i], (size_t)(eq - want[i]));
		const char *v = rw_docker_label(&d, k);
		good = v && strcmp(v, eq + 1) == 0;
		free(k);
	}
	ok(good, "%s", what);
	if (err)
		printf("#   error: %s\n", err->msg);
	for (i = 0; i < d.nlabels; i++)
		if (!good)
			printf("#   label %s=%s\n", d.labels[i].key, d.labels[i].value);
	rw_error_free(&err);
	rw_docker_release(&d);
	free(src);
}

static void test_real(void)
{
	struct rw_docker d;
	rw_error_t err = NULL;
	char *cfg = subst(real_config_v2, root, ID_A), *src = hostname_of(root, ID_A);
	int r;

	container(root, ID_A, cfg);
	put(fmt("%s/image/overlay2/imagedb/content/sha256/%s", root, IMG), real_image_config);

	r = read_src(src, ID_A, &d, &err);
	ok(r == 0 && d.found, "a real Docker 20.10 container is found");
	if (err)
		printf("#   error: %s\n", err->msg);
	ok(d.data_root && strcmp(d.data_root, root) == 0, "data_root is the source's prefix");
	ok(d.name && strcmp(d.name, "/web") == 0, "Name");
	ok(d.image_ref && strcmp(d.image_ref, "rwtest/labeled:1") == 0, "Config.Image as image_ref");
	ok(d.image_id && strcmp(d.image_id, "sha256:" IMG) == 0, "Image as image_id");
	ok(d.nlabels == 2, "two run-time labels (of four in Config.Labels)");
	ok(rw_docker_label(&d, "run.label") && strcmp(rw_docker_label(&d, "run.label"), "x") == 0,
	   "a label set at docker run counts");
	ok(rw_docker_label(&d, "shared") && strcmp(rw_docker_label(&d, "shared"), "override") == 0,
	   "an image label overridden at run time with another value counts");
	ok(rw_docker_label(&d, "img.only") == NULL, "an image label (same value) does not count");
	ok(rw_docker_label(&d, "same") == NULL,
	   "a run-time label equal to the image's is indistinguishable: does not count");
	ok(rw_docker_label(&d, "absent") == NULL && rw_docker_label(NULL, "x") == NULL,
	   "an absent label is NULL");
	ok(d.nlabels == 2 && strcmp(d.labels[0].key, "run.label") == 0 &&
	   strcmp(d.labels[1].key, "shared") == 0, "labels sorted by key");
	rw_docker_release(&d);
	ok(d.labels == NULL && d.nlabels == 0 && d.data_root == NULL, "release clears");
	rw_docker_release(&d);      /* twice is harmless */
	rw_error_free(&err);
	free(cfg);
	free(src);
}

static void test_mount_shapes(void)
{
	char *m, *src = hostname_of(root, ID_A);
	struct rw_docker d;
	rw_error_t err = NULL;
	struct json *spec;
	int r;

	not_found_spec(spec_with(NULL), ID_A, "no /etc/hostname mount");
	{
		struct json *j = NULL;
		json_parse("{\"ociVersion\":\"1.0.2\"}", 22, 0, "spec", &j, &err);
		not_found_spec(j, ID_A, "no mounts at all");
		json_parse("{\"mounts\":{\"destination\":\"/etc/hostname\"}}", 43, 0, "spec", &j, &err);
		not_found_spec(j, ID_A, "mounts not an array");
	}

	m = fmt("{\"destination\":\"/etc/hostname\",\"type\":\"tmpfs\",\"source\":\"%s\"}", src);
	not_found_spec(spec_with(m), ID_A, "a tmpfs on /etc/hostname");
	free(m);

	m = fmt("{\"destination\":\"/etc/hostname\",\"type\":\"bind\",\"source\":\"%s\"},"
		"{\"destination\":\"/etc/hostname\",\"type\":\"bind\",\"source\":\"%s\"}", src, src);
	not_found_spec(spec_with(m), ID_A, "two mounts on /etc/hostname");
	free(m);

	m = fmt("{\"destination\":\"/etc/hostname\",\"type\":\"bind\",\"source\":\"%s\"},"
		"{\"destination\":\"//etc/./hostname/\",\"type\":\"bind\",\"source\":\"/tmp/x\"}", src);
	not_found_spec(spec_with(m), ID_A, "a second mount on /etc/hostname spelled differently");
	free(m);

	/* no type, options rbind; destination spelled loosely */
	m = fmt("{\"destination\":\"/etc/../etc//hostname/\",\"source\":\"%s\",\"options\":[\"rbind\"]}",
		src);
	spec = spec_with(m);
	r = rw_docker_read(spec, ID_A, &d, &err);
	ok(r == 0 && d.found, "a bind by options, destination cleaned as runc does");
	rw_docker_release(&d);
	rw_error_free(&err);
	json_free(spec);
	free(m);

	m = fmt("{\"destination\":\"/etc/hostname\",\"type\":\"bind\",\"source\":\"%s\\u0000x\"}", src);
	not_found_spec(spec_with(m), ID_A, "a source with a NUL byte");
	free(m);
	m = fmt("{\"destination\":\"/etc/hostname\",\"type\":\"bind\",\"source\":[\"%s\"]}", src);
	not_found_spec(spec_with(m), ID_A, "a source that is not a string");
	free(m);

	{
		/* a complete container directory, but not a Docker id */
		char *c = small("web1", "", "{\"a\":\"b\"}"), *s2 = hostname_of(root, "web1");
		container(root, "web1", c);
		not_found(s2, "web1", "an id that is not 64 hex digits");
		free(c);
		free(s2);
	}
	{
		/* upper-case hex is not Docker's either */
		char *up = strdup(ID_A), *p, *c, *s2;
		for (p = up; *p; p++)
			if (*p >= 'a' && *p <= 'f')
				*p = (char)(*p - 'a' + 'A');
		c = small(up, "", "{}");
		container(root, up, c);
		s2 = hostname_of(root, up);
		not_found(s2, up, "an id in upper-case hex");
		free(c);
		free(s2);
		free(up);
	}
	not_found(src, NULL, "no id");
	free(src);
}

static void test_lookalikes(void)
{
	char *s, *vol, *d2, *cfg;

	/* another container's directory (--network container:B): it locates the
	 * data-root only; what is read is A's own state, never B's */
	small_container(ID_B, "\"sha256:" IMG "\"", "{\"run\":\"b\"}");
	s = hostname_of(root, ID_B);
	{
		struct rw_docker d;
		rw_error_t err = NULL;
		int r = read_src(s, ID_A, &d, &err);
		ok(r == 0 && d.found && rw_docker_label(&d, "run") == NULL,
		   "the hostname of another id's directory: this id's own state is read, not that id's");
		rw_error_free(&err);
		rw_docker_release(&d);
	}
	free(s);

	/* dodgy spellings of the right path (each would open it) */
	mkd(fmt("%s/x", root));
	s = fmt("%s/x/../containers/%s/hostname", root, ID_A);
	not_found(s, ID_A, "a source with \"..\"");
	free(s);
	s = fmt("%s/./containers/%s/hostname", root, ID_A);
	not_found(s, ID_A, "a source with \".\"");
	free(s);
	s = fmt("%s//containers/%s/hostname", root, ID_A);
	not_found(s, ID_A, "a source with \"//\"");
	free(s);
	s = fmt("/%s/containers/%s/hostname", root, ID_A);
	not_found(s, ID_A, "a source starting \"//\"");
	free(s);
	s = fmt("%s/containers/%s//hostname", root, ID_A);
	not_found(s, ID_A, "\"//\" before hostname");
	free(s);
	s = fmt("%s/containers/%s/hostname", root + 1, ID_A);
	not_found(s, ID_A, "a relative source");
	free(s);
	s = fmt("/containers/%s/hostname", ID_A);
	not_found(s, ID_A, "a data-root of \"/\"");
	free(s);
	s = fmt("%s/containers/%s/hosts", root, ID_A);
	not_found(s, ID_A, "another file of the container's");
	free(s);
	s = fmt("%s/containers/%s/hostnameX", root, ID_A);
	not_found(s, ID_A, "a longer file name");
	free(s);
	s = fmt("%s/containers/X%s/hostname", root, ID_A);
	not_found(s, ID_A, "a longer directory name");
	free(s);

	/* a complete lookalike data-root in a volume (tenant-writable) */
	vol = fmt("%s/volumes/v/_data", root);
	cfg = subst(real_config_v2, vol, ID_A);
	container(vol, ID_A, cfg);
	put(fmt("%s/image/overlay2/imagedb/content/sha256/%s", vol, IMG), "{}");
	mkd(fmt("%s/containers", vol));
	s = hostname_of(vol, ID_A);
	not_found(s, ID_A, "a lookalike data-root in a volume's _data");
	free(s);
	free(cfg);
	free(vol);
	/* ... or in a layer's diff */
	vol = fmt("%s/overlay2/0123/diff", root);
	small_container(ID_A, "", "{}");
	cfg = small(ID_A, "", "{\"org.runwarden.tier\":\"pro\"}");
	container(vol, ID_A, cfg);
	s = hostname_of(vol, ID_A);
	not_found(s, ID_A, "a lookalike data-root in a layer's diff");
	free(s);
	free(cfg);
	free(vol);

	/* containers/<id> a symlink to the real one */
	d2 = fmt("%s/d2", base);
	mkd(fmt("%s/containers", d2));
	s = fmt("%s/containers/%s", d2, ID_A);
	{
		char *target = fmt("%s/containers/%s", root, ID_A);
		if (symlink(target, s) < 0)
			abort();
		free(target);
	}
	free(s);
	s = hostname_of(d2, ID_A);
	not_found(s, ID_A, "containers/<id> a symlink");
	free(s);
	free(d2);

	/* containers a symlink */
	d2 = fmt("%s/d3", base);
	mkdirs(d2);
	s = fmt("%s/containers", d2);
	{
		char *target = fmt("%s/containers", root);
		if (symlink(target, s) < 0)
			abort();
		free(target);
	}
	free(s);
	s = hostname_of(d2, ID_A);
	not_found(s, ID_A, "containers a symlink");
	free(s);
	free(d2);

	/* containers/<id> a file; a data-root that does not exist */
	put(fmt("%s/containers/%s", root, nid(1)), "x");
	s = hostname_of(root, nid(1));
	not_found(s, nid(1), "containers/<id> not a directory");
	free(s);
	s = fmt("%s/nonexistent/containers/%s/hostname", base, ID_A);
	not_found(s, ID_A, "a data-root that does not exist");
	free(s);
	s = hostname_of(root, nid(2));
	not_found(s, nid(2), "no containers/<id> directory");
	free(s);
}

static void test_refused(void)
{
	const char *id;
	char *s, *cfg;

	/* config.v2.json of another container */
	id = nid(3);
	cfg = small(ID_B, "\"sha256:" IMG "\"", "{}");
	container(root, id, cfg);
	free(cfg);
	s = hostname_of(root, id);
	refused(s, id, "belongs to another container", "ID mismatch");
	free(s);

	id = nid(4);
	cfg = fmt("{\"Name\":\"/t\",\"Config\":{}}");
	container(root, id, cfg);
	free(cfg);
	s = hostname_of(root, id);
	refused(s, id, "belongs to another container", "no ID");
	free(s);

	id = nid(5);
	small_container(id, "\"sha256:" IMG_MISSING "\"", "{\"a\":\"b\"}");
	s = hostname_of(root, id);
	refused(s, id, "cannot tell the image's labels", "the image configuration missing");
	free(s);

	id = nid(6);
	container(root, id, "{\"ID\":\"x\",");
	s = hostname_of(root, id);
	refused(s, id, "config.v2.json", "malformed config.v2.json");
	free(s);

	id = nid(7);
	container(root, id, "[1,2]");
	s = hostname_of(root, id);
	refused(s, id, "not a JSON object", "config.v2.json not an object");
	free(s);

	id = nid(8);
	small_container(id, "\"sha256:" IMG "\"", "[\"a=b\"]");
	s = hostname_of(root, id);
	refused(s, id, "\"Labels\" is not a JSON object", "Labels an array");
	free(s);

	id = nid(9);
	small_container(id, "\"sha256:" IMG "\"", "{\"a\":\"b\",\"n\":1}");
	s = hostname_of(root, id);
	refused(s, id, "the value of \"n\" is not a string", "a label value not a string");
	free(s);

	id = nid(10);
	small_container(id, "\"sha256:" IMG "\"", "{\"a\":null}");
	s = hostname_of(root, id);
	refused(s, id, "is not a string", "a null label value");
	free(s);

	id = nid(11);
	small_container(id, "\"sha256:xyz\"", "{}");
	s = hostname_of(root, id);
	refused(s, id, "not an image id", "a malformed image id");
	free(s);

	id = nid(12);
	small_container(id, "7", "{}");
	s = hostname_of(root, id);
	refused(s, id, "\"Image\" is not a string", "Image not a string");
	free(s);

	id = nid(13);
	cfg = fmt("{\"ID\":\"%s\",\"Image\":\"sha256:" IMG "\",\"Config\":{\"Labels\":{}}}", id);
	container(root, id, cfg);
	free(cfg);
	s = hostname_of(root, id);
	refused(s, id, "no usable storage \"Driver\"", "no Driver with an image id");
	free(s);

	id = nid(14);
	cfg = fmt("{\"ID\":\"%s\",\"Config\":\"x\"}", id);
	container(root, id, cfg);
	free(cfg);
	s = hostname_of(root, id);
	refused(s, id, "\"Config\" is not a JSON object", "Config not an object");
	free(s);

	/* no config.v2.json in a real containers/<id> */
	id = nid(15);
	mkd(fmt("%s/containers/%s", root, id));
	s = hostname_of(root, id);
	refused(s, id, "config.v2.json: No such file", "config.v2.json missing");
	free(s);

	/* config.v2.json a symlink to a good one */
	id = ID_B;
	{
		char *link = fmt("%s/containers/%s/config.v2.json", root, id);
		char *good = fmt("%s/containers/%s/config.v2.json.good", root, id);
		if (rename(link, good) < 0 || symlink(good, link) < 0)
			abort();
		s = hostname_of(root, id);
		refused(s, id, "config.v2.json", "config.v2.json a symlink");
		free(s);
		if (unlink(link) < 0 || rename(good, link) < 0)
			abort();
		free(link);
		free(good);
	}

	/* a huge config.v2.json */
	id = nid(215);
	{
		char *p = fmt("%s/containers/%s/config.v2.json", root, id);
		int fd;
		container(root, id, "{}");
		fd = open(p, O_WRONLY);
		if (fd < 0 || ftruncate(fd, RW_DOCKER_MAX_FILE + 1) < 0)
			abort();
		close(fd);
		s = hostname_of(root, id);
		refused(s, id, "larger than", "a config.v2.json over the size limit");
		free(s);
		free(p);
	}

	/* a FIFO as config.v2.json does not hang */
	id = nid(214);
	{
		char *p = fmt("%s/containers/%s/config.v2.json", root, id);
		mkd(fmt("%s/containers/%s", root, id));
		if (mkfifo(p, 0600) < 0)
			abort();
		s = hostname_of(root, id);
		refused(s, id, "not a regular file", "a FIFO as config.v2.json");
		free(s);
		free(p);
	}

	/* image configuration present but broken */
	{
		const char *img2 = "2222222222222222222222222222222222222222222222222222222222222222";
		id = nid(213);
		put(fmt("%s/image/overlay2/imagedb/content/sha256/%s", root, img2),
		    "{\"config\":{\"Labels\":[1]}}");
		cfg = small(id, "\"sha256:2222222222222222222222222222222222222222222222222222222222222222\"",
			    "{}");
		container(root, id, cfg);
		free(cfg);
		s = hostname_of(root, id);
		refused(s, id, "\"config\".\"Labels\" is not a JSON object", "image Labels not an object");
		free(s);
	}
	/* the image's driver directory a symlink */
	{
		char *l = fmt("%s/image/vfs", root), *t = fmt("%s/image/overlay2", root);
		id = nid(212);
		if (symlink(t, l) < 0)
			abort();
		cfg = fmt("{\"ID\":\"%s\",\"Driver\":\"vfs\",\"Image\":\"sha256:" IMG "\","
			  "\"Config\":{\"Labels\":{}}}", id);
		container(root, id, cfg);
		s = hostname_of(root, id);
		refused(s, id, "cannot tell the image's labels", "image/<driver> a symlink");
		free(s);
		free(cfg);
		free(l);
		free(t);
	}
	/* a driver that is a path */
	id = nid(211);
	cfg = fmt("{\"ID\":\"%s\",\"Driver\":\"../image/overlay2\",\"Image\":\"sha256:" IMG "\","
		  "\"Config\":{\"Labels\":{}}}", id);
	container(root, id, cfg);
	free(cfg);
	s = hostname_of(root, id);
	refused(s, id, "no usable storage \"Driver\"", "a Driver with a slash");
	free(s);
}

static void test_labels(void)
{
	const char *id;
	struct rw_docker d;
	rw_error_t err = NULL;
	char *s;
	int r;

	id = nid(16);
	small_container(id, "\"sha256:" IMG "\"", "null");
	{
		s = hostname_of(root, id);
		r = read_src(s, id, &d, &err);
		ok(r == 0 && d.found && d.nlabels == 0 && d.labels == NULL && d.name &&
		   strcmp(d.name, "/t") == 0, "Labels null: found, no labels");
		rw_docker_release(&d);
		free(s);
	}
	labels_are(id, NULL, 0, "Labels null: no labels");

	id = nid(201);
	small_container(id, "\"sha256:" IMG "\"", "{}");
	labels_are(id, NULL, 0, "Labels {} (what Docker writes for an image without labels)");

	/* no image id: every label counts */
	id = nid(202);
	small_container(id, "", "{\"img.only\":\"1\",\"same\":\"v\"}");
	{
		static const char *const want[] = { "img.only=1", "same=v" };
		labels_are(id, want, 2, "no Image: every label counts");
	}
	id = nid(203);
	small_container(id, "\"\"", "{\"img.only\":\"1\"}");
	{
		static const char *const want[] = { "img.only=1" };
		labels_are(id, want, 1, "an empty Image: every label counts");
	}
	id = nid(204);
	small_container(id, "null", "{\"img.only\":\"1\"}");
	{
		static const char *const want[] = { "img.only=1" };
		labels_are(id, want, 1, "a null Image: every label counts");
	}

	/* the image's value, set again at run time: indistinguishable, dropped */
	id = nid(205);
	small_container(id, "\"sha256:" IMG "\"",
			"{\"shared\":\"fromimage\",\"org.runwarden.tier\":\"pro\",\"img.only\":\"2\"}");
	{
		static const char *const want[] = { "org.runwarden.tier=pro", "img.only=2" };
		labels_are(id, want, 2, "image labels with the image's value excluded, other values kept");
	}

	/* duplicate keys: the last wins, as in Go */
	id = nid(206);
	small_container(id, "\"sha256:" IMG "\"",
			"{\"k\":\"first\",\"shared\":\"x\",\"k\":\"second\",\"shared\":\"fromimage\"}");
	{
		static const char *const want[] = { "k=second" };
		labels_are(id, want, 1, "duplicate keys: the last value counts");
	}

	/* an image configuration with "config" null or no Labels */
	{
		const char *img3 = "3333333333333333333333333333333333333333333333333333333333333333";
		put(fmt("%s/image/overlay2/imagedb/content/sha256/%s", root, img3), "{\"config\":null}");
		id = nid(207);
		small_container(id, "\"sha256:3333333333333333333333333333333333333333333333333333333333333333\"",
				"{\"same\":\"v\"}");
		static const char *const want[] = { "same=v" };
		labels_are(id, want, 1, "an image without labels: every label counts");
	}

	/* an empty label value and key, and non-ASCII text */
	id = nid(208);
	small_container(id, "\"sha256:" IMG "\"", "{\"e\":\"\",\"caf\\u00e9\":\"\xe6\x97\xa5\"}");
	{
		static const char *const want[] = { "e=", "caf\xc3\xa9=\xe6\x97\xa5" };
		labels_are(id, want, 2, "empty values and non-ASCII labels");
	}

	/* a NUL in a run-time label is refused; in a dropped image label it does not matter */
	id = nid(209);
	small_container(id, "\"sha256:" IMG "\"", "{\"a\":\"b\\u0000c\"}");
	s = hostname_of(root, id);
	refused(s, id, "NUL", "a NUL byte in a run-time label");
	free(s);

	/* many labels */
	{
		size_t n = 20000, i, len = 0;
		char *labels = malloc(n * 32 + 16), *cfg;
		labels[len++] = '{';
		for (i = 0; i < n; i++)
			len += (size_t)sprintf(labels + len, "%s\"k%zu\":\"v%zu\"", i ? "," : "", i, i);
		labels[len++] = '}';
		labels[len] = '\0';
		id = nid(210);
		cfg = small(id, "\"sha256:" IMG "\"", labels);
		container(root, id, cfg);
		s = hostname_of(root, id);
		r = read_src(s, id, &d, &err);
		ok(r == 0 && d.found && d.nlabels == n && rw_docker_label(&d, "k19999") &&
		   strcmp(rw_docker_label(&d, "k19999"), "v19999") == 0, "20000 labels");
		rw_docker_release(&d);
		free(s);
		free(cfg);
		free(labels);
	}
	rw_error_free(&err);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) < 0 ? -1 : 0;
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");

	base = fmt("%s/rw-test-docker-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	root = fmt("%s/docker", base);
	mkd(fmt("%s/containers", root));
	mkd(fmt("%s/image/overlay2/imagedb/content/sha256", root));

	test_real();
	test_mount_shapes();
	test_lookalikes();
	test_refused();
	test_labels();

	if (nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		printf("# could not remove %s\n", base);
	free(root);
	free(base);
	return tap_done();
}
