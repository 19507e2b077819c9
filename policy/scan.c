/* The root filesystem part of the blocklist: the command's programs resolved
 * inside the rootfs, and the regular files under the scan directories, by name
 * and by SHA-256; bounded by scan.max_* and with digests cached across
 * containers of the same image. See blocklist.h and README "The root
 * filesystem".
 *
 * Nothing outside the rootfs is ever opened: paths that may hold symlinks
 * (programs, scan dirs; merged-/usr images have /bin -> usr/bin) go through
 * openat2(RESOLVE_IN_ROOT), so an absolute link resolves inside the rootfs as
 * it will for the container; the walk itself never follows a link. Files are
 * opened O_NONBLOCK and fstat'd before a read, so a FIFO or a device planted
 * in a scan dir neither blocks nor is read.
 *
 * Cheapest first: the programs and the walk by name; then, with digests,
 * the ones the cache holds; only then are the cache misses hashed, on
 * several threads, and what is reported is still the first match in the
 * order of the programs, the scan dirs and each dir's entries. */
#include "config.h"
#include "policy/blocklist.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <nettle/sha2.h>

/* execvp's default, and the one runc and crun give a process without PATH. */
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* More links than this: a multi-call binary's applet farm (busybox links
 * sendmail, and 300 other names, to one inode): matched by digest only. */
#define MULTICALL_NLINK 4
/* The clock is read every this many directory entries (a power of 2). */
#define CLOCK_EVERY 32
/* SHA-256 runs at about 1 GB/s a core (SHA-NI): a first scan of an image is
 * hashing-bound, so cache misses are hashed on up to this many threads, when
 * there is enough to hash to pay for starting them. */
#define MAX_HASHERS 4
#define PARALLEL_MIN_BYTES (2u << 20)

/* ---- the digest cache ----
 * A file of fixed-size records appended in one write() per check, so that
 * parallel creates interleave whole batches. It holds the images the node
 * ran last: a check does not load it into a table, it streams it once
 * through a table of the few thousand files it needs (about 0.4 ms per MiB
 * here), so it is kept to 2 MiB (26,000 records) and started afresh with
 * the current check's digests beyond that.
 *
 * The key is what stays the same when another container of the image mounts
 * the same layers: the inode, size, mtime and ctime of the file, and its
 * filesystem's f_fsid. On overlayfs f_fsid is no use for that: since Linux
 * 6.6 every overlay mount reports an f_fsid of its own (like st_dev), so
 * there it is replaced by a constant, and the inode (overlay reports the
 * layer filesystem's st_ino when all layers share one filesystem, as
 * docker's and containerd's do; with xino the layer's index is in the high
 * bits) and ctime (set by the kernel at extraction, never from the tar)
 * carry the identity. */
#define CACHE_MAGIC 0x31435752u            /* "RWC1" */
#define CACHE_MAX (2u << 20)               /* larger: started afresh (it is read through on every check) */
#define CACHE_CHUNK (256u << 10)           /* read this much at a time */
#define FSID_OVERLAY 0x6f7665726c617921ull

struct cache_rec {
	uint32_t magic;
	uint32_t check;                    /* a hash of the rest: garbage is ignored */
	uint64_t fsid, ino, size;
	int64_t mtime, ctime;              /* ns */
	unsigned char digest[32];
};
_Static_assert(sizeof(struct cache_rec) == 80 && offsetof(struct cache_rec, fsid) == 8, "cache record layout");

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Every record of the file goes through this: independent multiplies the
 * CPU overlaps, one mix at the end. It tells records from garbage and from
 * a torn write; the file's owner is what makes it trusted. */
static uint32_t rec_check(const struct cache_rec *r)
{
	uint64_t w[9], h;

	memcpy(w, &r->fsid, sizeof(w));
	h = w[0] * 0x9e3779b97f4a7c15ull + w[1] * 0xc2b2ae3d27d4eb4full + w[2] * 0x165667b19e3779f9ull +
	    w[3] * 0xd6e8feb86659fd93ull + w[4] * 0xff51afd7ed558ccdull + w[5] * 0xc4ceb9fe1a85ec53ull +
	    w[6] * 0x27d4eb2f165667c5ull + w[7] * 0x94d049bb133111ebull + w[8] * 0xbf58476d1ce4e5b9ull;
	h = mix64(h ^ CACHE_MAGIC);
	return (uint32_t)(h ^ (h >> 32));
}

static uint64_t rec_hash(const struct cache_rec *r)
{
	return mix64(r->ino ^ r->size * 0x9e3779b97f4a7c15ull ^ (uint64_t)r->mtime * 0xc2b2ae3d27d4eb4full ^
		     (uint64_t)r->ctime * 0x165667b19e3779f9ull ^ r->fsid);
}

static bool rec_same_key(const struct cache_rec *a, const struct cache_rec *b)
{
	return a->fsid == b->fsid && a->ino == b->ino && a->size == b->size && a->mtime == b->mtime &&
	       a->ctime == b->ctime;
}

/* The cache decides what is not hashed: only a file no one else can write
 * is trusted. */
static bool cache_file_ok(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && (st.st_mode & 022) == 0;
}

static bool write_all(int fd, const void *data, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		data = (const char *)data + n;
		len -= (size_t)n;
	}
	return true;
}

static int open_append(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0600);
}

/* ---- the scan ---- */

struct rule_ref {
	const struct rw_bl_category *cat;
	const struct rw_bl_rule *rule;
};

struct devino {
	dev_t dev;
	ino_t ino;
};

/* A regular file whose digest is compared: a program's, or one the walk
 * met. Taken from the cache, else hashed after the walk on several threads. */
struct job {
	struct cache_rec key;              /* from its stat; the digest once known */
	dev_t dev;
	bool fsid_ok;                      /* the key is one the cache may hold */
	bool known;                        /* the digest came from the cache */
	bool hashed;                       /* the digest was computed now */
	bool over;                         /* past scan.max_bytes: not hashed */
	int fd;                            /* a program's file, open; -1: a walked one, */
	uint32_t root;                     /* beneath this walk root (sc->roots) */
	size_t path, rel;                  /* in sc->arena: the path inside the rootfs, and
					    * the same relative to its walk root */
};

struct scan {
	const struct rw_blocklist *bl;
	const struct rw_bl_subject *s;
	struct rw_bl_match *m;
	struct rw_bl_stats *st;
	rw_error_t *err;
	int rootfd;
	char root[PATH_MAX];               /* the rootfs as /proc/self/fd names it; "" for "/" */
	size_t rootlen;
	struct rule_ref *names;            /* active BL_NAME rules, by lowercased first byte: */
	size_t name_start[257];            /* names[name_start[c] .. name_start[c + 1]] */
	size_t nnames;
	struct rule_ref *digests;          /* active BL_FILE_DIGEST rules */
	size_t ndigests;
	bool hash;                         /* some active rule is a file digest */
	uint64_t t0, deadline;             /* CLOCK_MONOTONIC ns; deadline 0: none */
	unsigned tick;
	const char *limit;
	char path[PATH_MAX];               /* the walked directory's path inside the rootfs */
	size_t rootplen;                   /* the length of the walk root's path in it */
	int *roots;                        /* the walk roots' fds, open until the jobs are done */
	size_t nroots;
	struct job *jobs;
	size_t njobs, capjobs;
	char *arena;
	size_t arena_len, arena_cap;
	uint64_t *keys;                    /* open addressing over the jobs' keys (key_find) */
	size_t nkeys, nslots;
	bool cache_ok;                     /* the cache file is ours (or absent): use it, add to it */
	bool cache_rewrite;                /* too large: replace it with this check's records */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool over_time(struct scan *sc)
{
	if (sc->deadline && now_ns() >= sc->deadline)
		sc->limit = "max_ms";
	return sc->limit != NULL;
}

static size_t first_byte(const char *s)
{
	return (unsigned char)tolower((unsigned char)s[0]);
}

/* The active rules this scan needs, names bucketed by their first byte: a
 * file's name is compared with the few that can match, not all of them. */
static int collect_rules(struct scan *sc)
{
	const struct rw_blocklist *bl = sc->bl;
	size_t i, j, nn = 0, nd = 0, c, next[257];

	for (i = 0; i < bl->ncats; i++) {
		if (!rw_bl_category_active(&bl->cats[i], sc->s->tier))
			continue;
		for (j = 0; j < bl->cats[i].nrules; j++) {
			const struct rw_bl_rule *r = &bl->cats[i].rules[j];
			nn += r->kind == BL_NAME && r->pattern && r->pattern[0];
			nd += r->kind == BL_FILE_DIGEST && bl->any_file_digest;
		}
	}
	sc->names = calloc(nn + 1, sizeof(*sc->names));
	sc->digests = calloc(nd + 1, sizeof(*sc->digests));
	if (sc->names == NULL || sc->digests == NULL)
		return rw_error(sc->err, ENOMEM, "blocklist: scan");
	/* A counting sort by first byte: stable, so that within a bucket the
	 * policy's order decides which rule a refusal names. */
	for (i = 0; i < bl->ncats; i++) {
		if (!rw_bl_category_active(&bl->cats[i], sc->s->tier))
			continue;
		for (j = 0; j < bl->cats[i].nrules; j++) {
			const struct rw_bl_rule *r = &bl->cats[i].rules[j];
			if (r->kind == BL_NAME && r->pattern && r->pattern[0])
				sc->name_start[first_byte(r->pattern) + 1]++;
		}
	}
	for (c = 0; c < 256; c++)
		sc->name_start[c + 1] += sc->name_start[c];
	memcpy(next, sc->name_start, sizeof(next));
	for (i = 0; i < bl->ncats; i++) {
		if (!rw_bl_category_active(&bl->cats[i], sc->s->tier))
			continue;
		for (j = 0; j < bl->cats[i].nrules; j++) {
			const struct rw_bl_rule *r = &bl->cats[i].rules[j];
			if (r->kind == BL_NAME && r->pattern && r->pattern[0])
				sc->names[next[first_byte(r->pattern)]++] = (struct rule_ref){ &bl->cats[i], r };
			else if (r->kind == BL_FILE_DIGEST && bl->any_file_digest)
				sc->digests[sc->ndigests++] = (struct rule_ref){ &bl->cats[i], r };
		}
	}
	sc->nnames = nn;
	sc->hash = sc->ndigests > 0;
	return 0;
}

static bool name_candidate(const struct scan *sc, const char *base)
{
	size_t c = first_byte(base), i;

	for (i = sc->name_start[c]; i < sc->name_start[c + 1]; i++)
		if (rw_bl_name_match(base, sc->names[i].rule->pattern))
			return true;
	return false;
}

/* The first name rule that matches path's basename and is not allowed there. */
static const struct rule_ref *name_rule(const struct scan *sc, const char *path)
{
	const char *base = strrchr(path, '/');
	size_t c, i;

	base = base ? base + 1 : path;
	c = first_byte(base);
	for (i = sc->name_start[c]; i < sc->name_start[c + 1]; i++)
		if (rw_bl_name_match(base, sc->names[i].rule->pattern) &&
		    !rw_bl_allowed(sc->bl, sc->names[i].cat, sc->names[i].rule, sc->s->image, path))
			return &sc->names[i];
	return NULL;
}

static const struct rule_ref *digest_rule(const struct scan *sc, const unsigned char digest[32], const char *path)
{
	size_t i;

	for (i = 0; i < sc->ndigests; i++)
		if (memcmp(sc->digests[i].rule->digest, digest, 32) == 0 &&
		    !rw_bl_allowed(sc->bl, sc->digests[i].cat, sc->digests[i].rule, sc->s->image, path))
			return &sc->digests[i];
	return NULL;
}

static int found(struct scan *sc, const struct rule_ref *r, const char *field, const char *path)
{
	sc->m->cat = r->cat;
	sc->m->rule = r->rule;
	snprintf(sc->m->field, sizeof(sc->m->field), "%s", field);
	sc->m->value = strdup(path);
	if (sc->m->value == NULL)
		return rw_error(sc->err, ENOMEM, "blocklist: scan");
	return 1;
}

/* The key the cache knows a file by; false: its filesystem has no usable id. */
static bool fs_id(int fd, uint64_t *id)
{
	struct statfs sf;
	uint64_t v = 0;

	if (fstatfs(fd, &sf) < 0)
		return false;
	if (sf.f_type == OVERLAYFS_SUPER_MAGIC) {
		*id = FSID_OVERLAY;
		return true;
	}
	memcpy(&v, &sf.f_fsid, sizeof(v) < sizeof(sf.f_fsid) ? sizeof(v) : sizeof(sf.f_fsid));
	*id = v;
	return v != 0;
}

static void rec_key(struct cache_rec *r, uint64_t fsid, const struct stat *st)
{
	memset(r, 0, sizeof(*r));
	r->magic = CACHE_MAGIC;
	r->fsid = fsid;
	r->ino = (uint64_t)st->st_ino;
	r->size = (uint64_t)st->st_size;
	r->mtime = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	r->ctime = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

static uint64_t max_file_size(const struct scan *sc)
{
	return sc->bl->scan.max_file_size ? sc->bl->scan.max_file_size : UINT64_MAX;
}

/* path: where fd is inside the rootfs, from the kernel's own name for it.
 * false: not known (no /proc, or not beneath the rootfs). */
static bool inside_path(const struct scan *sc, int fd, char *out, size_t size)
{
	char link[64], target[PATH_MAX];
	const char *rest;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0 || (size_t)n >= sizeof(target) - 1)
		return false;
	target[n] = '\0';
	if (strncmp(target, sc->root, sc->rootlen) != 0)
		return false;
	rest = target + sc->rootlen;
	if (*rest == '\0')
		rest = "/";
	else if (*rest != '/')
		return false;
	return (size_t)snprintf(out, size, "%s", rest) < size;
}

/* openat2 beneath the rootfs, symlinks resolved as the container will see
 * them (an absolute link stays inside). -1 with errno. */
static int open_in_root(const struct scan *sc, const char *path, uint64_t flags)
{
	struct open_how how = {
		.flags = flags | O_CLOEXEC | O_NOCTTY,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd, tries = 0;

	/* EAGAIN: a rename or mount raced the resolution; the kernel asks to retry. */
	do
		fd = (int)syscall(SYS_openat2, sc->rootfd, path, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN && ++tries < 8);
	return fd;
}

/* The job whose key is key's; SIZE_MAX: none. A slot holds the job's index
 * + 1 and 32 bits of its hash: a record of another image, the most common
 * case when the cache is streamed, seldom reads a job. */
static size_t key_find(const struct scan *sc, const struct cache_rec *key)
{
	uint64_t h = rec_hash(key), tag = h >> 32;
	size_t i;

	if (sc->nslots == 0)
		return SIZE_MAX;
	for (i = h & (sc->nslots - 1); sc->keys[i]; i = (i + 1) & (sc->nslots - 1))
		if (sc->keys[i] >> 32 == tag && rec_same_key(&sc->jobs[(uint32_t)sc->keys[i] - 1].key, key))
			return (uint32_t)sc->keys[i] - 1;
	return SIZE_MAX;
}

static void key_slot(struct scan *sc, size_t job)
{
	uint64_t h = rec_hash(&sc->jobs[job].key);
	size_t i = h & (sc->nslots - 1);

	while (sc->keys[i])
		i = (i + 1) & (sc->nslots - 1);
	sc->keys[i] = (h >> 32) << 32 | ((uint64_t)job + 1);
}

/* Indexes job's key, the table at most half full; false: out of memory. */
static bool key_add(struct scan *sc, size_t job)
{
	size_t i;

	if ((sc->nkeys + 1) * 2 > sc->nslots) {
		size_t nslots = sc->nslots ? sc->nslots * 2 : 1024;
		uint64_t *keys = calloc(nslots, sizeof(*keys));
		if (keys == NULL)
			return false;
		free(sc->keys);
		sc->keys = keys;
		sc->nslots = nslots;
		for (i = 0; i < sc->njobs; i++)
			if (sc->jobs[i].fsid_ok && i != job)
				key_slot(sc, i);
	}
	key_slot(sc, job);
	sc->nkeys++;
	return true;
}

static bool arena_add(struct scan *sc, const char *str, size_t *off)
{
	size_t len = strlen(str) + 1;

	if (sc->arena_len + len > sc->arena_cap) {
		size_t cap = sc->arena_cap ? sc->arena_cap * 2 : 65536;
		char *a;
		while (cap < sc->arena_len + len)
			cap *= 2;
		a = realloc(sc->arena, cap);
		if (a == NULL)
			return false;
		sc->arena = a;
		sc->arena_cap = cap;
	}
	memcpy(sc->arena + sc->arena_len, str, len);
	*off = sc->arena_len;
	sc->arena_len += len;
	return true;
}

/* A regular file at path whose digest is to be compared. *fd: a program's
 * open file (taken), or -1 for the walk's file, sc->path beneath the current
 * walk root. 0, or -1 when out of memory. */
static int add_job(struct scan *sc, const struct stat *st, uint64_t fsid, bool fsid_ok, const char *path, int *fd)
{
	struct cache_rec key;
	struct job *j;

	if (st->st_size <= 0 || (uint64_t)st->st_size > max_file_size(sc))
		return 0;
	rec_key(&key, fsid, st);
	/* The same file by another path (a hard link, a dir reached twice, a
	 * program in a scan dir): once, under the first. */
	if (fsid_ok && key_find(sc, &key) != SIZE_MAX)
		return 0;
	if (sc->njobs == sc->capjobs) {
		size_t cap = sc->capjobs ? sc->capjobs * 2 : 256;
		struct job *jobs = realloc(sc->jobs, cap * sizeof(*jobs));
		if (jobs == NULL)
			return rw_error(sc->err, ENOMEM, "blocklist: scan");
		sc->jobs = jobs;
		sc->capjobs = cap;
	}
	j = &sc->jobs[sc->njobs];
	*j = (struct job){ .key = key, .dev = st->st_dev, .fsid_ok = fsid_ok, .fd = -1 };
	if (!arena_add(sc, path, &j->path))
		return rw_error(sc->err, ENOMEM, "blocklist: scan");
	if (*fd >= 0) {
		j->fd = *fd;
		*fd = -1;
	} else {
		j->root = (uint32_t)(sc->nroots - 1);
		j->rel = j->path + sc->rootplen + 1;
	}
	sc->njobs++;
	if (fsid_ok && !key_add(sc, sc->njobs - 1))
		return rw_error(sc->err, ENOMEM, "blocklist: scan");
	return 0;
}

/* A regular file met by the walk (sc->path, st): its name now (unless a
 * multi-call binary), its digest later. 1: matched, 0: not, -1: error. */
static int check_entry(struct scan *sc, const struct stat *st, uint64_t fsid, bool fsid_ok)
{
	const struct rule_ref *r;
	int nofd = -1;

	if (st->st_nlink <= MULTICALL_NLINK && (r = name_rule(sc, sc->path)) != NULL)
		return found(sc, r, "rootfs", sc->path);
	return sc->hash ? add_job(sc, st, fsid, fsid_ok, sc->path, &nofd) : 0;
}

/* A program's file (*fd, taken when queued), the same way. */
static int check_program_file(struct scan *sc, int *fd, const struct stat *st, const char *path)
{
	const struct rule_ref *r;
	uint64_t fsid = 0;
	bool fsid_ok;

	if (st->st_nlink <= MULTICALL_NLINK && (r = name_rule(sc, path)) != NULL)
		return found(sc, r, "rootfs", path);
	if (!sc->hash)
		return 0;
	fsid_ok = fs_id(*fd, &fsid);
	return add_job(sc, st, fsid, fsid_ok, path, fd);
}

/* false: too long (a truncated path would name another file). */
static bool join(char *out, size_t size, const char *dir, const char *name)
{
	size_t n = strlen(dir);
	int len = snprintf(out, size, "%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name);

	return len >= 0 && (size_t)len < size;
}

/* Opens a candidate for a program: a regular file (executable, when found
 * through PATH, as execvp wants it). -1: not that. */
static int open_program(const struct scan *sc, const char *path, bool need_exec, struct stat *st)
{
	int fd = open_in_root(sc, path, O_RDONLY | O_NONBLOCK);

	if (fd < 0)
		return -1;
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode) || (need_exec && !(st->st_mode & 0111))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Resolves prog as the container's execve will: with a '/', from cwd; else
 * the first executable regular file along PATH. *at: the path it was found
 * at (before symlinks). -1: not found. */
static int resolve_program(const struct scan *sc, const char *prog, const char *path_env, struct stat *st,
			   char *at, size_t size)
{
	const char *cwd = sc->s->cwd && sc->s->cwd[0] ? sc->s->cwd : "/";
	const char *p, *end;
	char dir[PATH_MAX];
	int fd;

	if (prog[0] == '\0')
		return -1;
	if (strchr(prog, '/')) {
		if (prog[0] == '/' ? (size_t)snprintf(at, size, "%s", prog) >= size : !join(at, size, cwd, prog))
			return -1;
		return open_program(sc, at, false, st);
	}
	for (p = path_env ? path_env : DEFAULT_PATH;; p = end + 1) {
		size_t n;
		int len;
		end = strchrnul(p, ':');
		n = (size_t)(end - p);
		/* An empty entry is the working directory, as for execvp. */
		if (n == 0)
			len = snprintf(dir, sizeof(dir), "%s", cwd);
		else if (p[0] == '/')
			len = snprintf(dir, sizeof(dir), "%.*s", (int)n, p);
		else
			len = snprintf(dir, sizeof(dir), "%s/%.*s", cwd, (int)n, p);
		if (len >= 0 && (size_t)len < sizeof(dir) && join(at, size, dir, prog) &&
		    (fd = open_program(sc, at, true, st)) >= 0)
			return fd;
		if (*end == '\0')
			return -1;
	}
}

static int check_programs(struct scan *sc, char *const *programs, size_t nprograms, const char *path_env)
{
	struct devino seen[RW_BL_MAX_PROGRAMS];
	size_t i, j, nseen = 0;

	for (i = 0; i < nprograms && i < RW_BL_MAX_PROGRAMS; i++) {
		char at[PATH_MAX], path[PATH_MAX];
		struct stat st;
		int r;
		cleanup_close int fd = resolve_program(sc, programs[i], path_env, &st, at, sizeof(at));

		if (fd < 0)
			continue;
		for (j = 0; j < nseen && (seen[j].dev != st.st_dev || seen[j].ino != st.st_ino); j++)
			;
		if (j < nseen)
			continue;
		seen[nseen++] = (struct devino){ st.st_dev, st.st_ino };
		if (!inside_path(sc, fd, path, sizeof(path)))
			snprintf(path, sizeof(path), "%s", at);
		r = check_program_file(sc, &fd, &st, path);
		if (r != 0)
			return r;
	}
	return 0;
}

/* Streams the cache file through the jobs' keys: each job it holds gets its
 * digest. Problems only cost hashing. */
static void cache_read(struct scan *sc, const char *path)
{
	cleanup_close int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	cleanup_free unsigned char *buf = NULL;
	size_t have = 0, off, total = 0, idx;
	struct stat st;
	ssize_t n;

	if (fd < 0) {
		sc->cache_ok = errno == ENOENT;
		return;
	}
	if (!cache_file_ok(fd) || fstat(fd, &st) < 0)
		return;
	sc->cache_ok = true;
	if (st.st_size > (off_t)CACHE_MAX) {
		sc->cache_rewrite = true;
		return;
	}
	if (sc->nkeys == 0 || (buf = malloc(CACHE_CHUNK)) == NULL)
		return;
	/* Appends that land while it is read are fine: whole records, or a
	 * torn tail, as below. */
	while (total < CACHE_MAX && (n = read(fd, buf + have, CACHE_CHUNK - have)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		have += (size_t)n;
		total += (size_t)n;
		/* A torn record (a writer that died mid-write) shifts what
		 * follows it: where no record checks out, look for the next
		 * one byte by byte. */
		for (off = 0; off + sizeof(struct cache_rec) <= have;) {
			struct cache_rec r;
			memcpy(&r, buf + off, sizeof(r));
			if (r.magic != CACHE_MAGIC || r.check != rec_check(&r)) {
				off++;
				continue;
			}
			if ((idx = key_find(sc, &r)) != SIZE_MAX && !sc->jobs[idx].known) {
				memcpy(sc->jobs[idx].key.digest, r.digest, 32);
				sc->jobs[idx].known = true;
			}
			off += sizeof(r);
		}
		memmove(buf, buf + off, have - off);
		have -= off;
	}
}

/* Adds this check's new digests: one write() on O_APPEND, or, for a cache
 * over CACHE_MAX, a new file with all of this check's. Failures only cost
 * hashing next time: nothing is reported. */
static void cache_write(struct scan *sc, const char *path)
{
	cleanup_free struct cache_rec *recs = NULL;
	cleanup_close int fd = -1;
	size_t i, n = 0;

	if (!sc->cache_ok)
		return;
	for (i = 0; i < sc->njobs; i++)
		n += sc->jobs[i].fsid_ok && (sc->jobs[i].hashed || (sc->cache_rewrite && sc->jobs[i].known));
	if (n == 0 || (recs = malloc(n * sizeof(*recs))) == NULL)
		return;
	for (i = 0, n = 0; i < sc->njobs; i++) {
		const struct job *j = &sc->jobs[i];
		if (j->fsid_ok && (j->hashed || (sc->cache_rewrite && j->known))) {
			recs[n] = j->key;
			recs[n].check = rec_check(&recs[n]);
			n++;
		}
	}
	if (sc->cache_rewrite) {
		cleanup_free char *tmp = NULL;
		if (asprintf(&tmp, "%s.%ld.tmp", path, (long)getpid()) < 0) {
			tmp = NULL;
			return;
		}
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return;
		if (!write_all(fd, recs, n * sizeof(*recs)) || rename(tmp, path) < 0)
			unlink(tmp);
		return;
	}
	fd = open_append(path);
	if (fd < 0 && errno == ENOENT) {
		cleanup_free char *dir = strdup(path);
		char *slash = dir ? strrchr(dir, '/') : NULL;
		if (slash && slash != dir) {
			*slash = '\0';
			if (mkdir(dir, 0700) == 0 || errno == EEXIST)
				fd = open_append(path);
		}
	}
	if (fd < 0 || !cache_file_ok(fd))
		return;
	/* One write: O_APPEND places it whole at the end, after any other
	 * check's batch. */
	(void)!write(fd, recs, n * sizeof(*recs));
}

struct hasher {
	struct scan *sc;
	atomic_size_t next;                /* the next job to take */
	atomic_size_t first_match;         /* the lowest job that matched; SIZE_MAX: none */
	atomic_bool timed_out;
};

/* Opens a job's file beneath its walk root, with no symlink on the way: the
 * walk reached it without one, and a directory swapped for a link since
 * must not lead elsewhere. */
static int open_beneath(int dirfd, const char *rel)
{
	struct open_how how = {
		.flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd, tries = 0;

	do
		fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN && ++tries < 8);
	return fd;
}

static bool hash_job(const struct scan *sc, struct job *j)
{
	cleanup_close int fd = j->fd >= 0 ? dup(j->fd) : open_beneath(sc->roots[j->root], sc->arena + j->rel);
	struct stat st;
	uint64_t fsid = j->key.fsid;

	/* What the walk stat'd may have been swapped for a FIFO since. */
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_ino != (ino_t)j->key.ino ||
	    st.st_dev != j->dev || st.st_size <= 0 || (uint64_t)st.st_size > max_file_size(sc))
		return false;
	rec_key(&j->key, fsid, &st);
	if (rw_sha256_fd(fd, max_file_size(sc), j->key.digest) < 0)
		return false;
	j->hashed = true;
	return true;
}

/* Takes jobs in order until none is left, one matched before the next, or
 * time is up. Runs on every hashing thread. */
static void *hash_jobs(void *arg)
{
	struct hasher *h = arg;
	struct scan *sc = h->sc;
	size_t i, cur;

	for (;;) {
		i = atomic_fetch_add(&h->next, 1);
		if (i >= sc->njobs || i > atomic_load(&h->first_match) || atomic_load(&h->timed_out))
			break;
		if (sc->jobs[i].known || sc->jobs[i].over)
			continue;
		if (hash_job(sc, &sc->jobs[i]) &&
		    digest_rule(sc, sc->jobs[i].key.digest, sc->arena + sc->jobs[i].path) != NULL) {
			cur = atomic_load(&h->first_match);
			while (i < cur && !atomic_compare_exchange_weak(&h->first_match, &cur, i))
				;
		}
		if (sc->deadline && now_ns() >= sc->deadline)
			atomic_store(&h->timed_out, true);
	}
	return NULL;
}

static unsigned hashers(uint64_t bytes, size_t files)
{
	cpu_set_t cpus;
	int n;

	if (bytes < PARALLEL_MIN_BYTES || files < 2 || sched_getaffinity(0, sizeof(cpus), &cpus) < 0)
		return 1;
	n = CPU_COUNT(&cpus);
	return n < 1 ? 1 : n > MAX_HASHERS ? MAX_HASHERS : (unsigned)n;
}

/* After the walk: the digests the cache holds, then the others hashed
 * within scan.max_bytes; the first job in order that matches is the match,
 * whichever thread hashed it. 1: matched, 0: not, -1: error. */
static int check_digests(struct scan *sc)
{
	struct hasher h = { .sc = sc };
	pthread_t threads[MAX_HASHERS];
	const struct rule_ref *r;
	uint64_t bytes = 0;
	size_t i, first, files = 0;
	unsigned n, started = 0, k;
	bool stop;

	if (sc->njobs == 0)
		return 0;
	if (sc->bl->scan.cache)
		cache_read(sc, sc->bl->scan.cache);
	/* Out of time in the walk: nothing more is hashed. At max_files, what
	 * the walk met before is, as a scan in order would have. */
	stop = sc->limit && strcmp(sc->limit, "max_ms") == 0;
	for (i = 0; i < sc->njobs; i++) {
		struct job *j = &sc->jobs[i];
		if (j->known) {
			sc->st->cached++;
			if ((r = digest_rule(sc, j->key.digest, sc->arena + j->path)) != NULL)
				return found(sc, r, "rootfs sha256", sc->arena + j->path);
		} else if (stop || (sc->bl->scan.max_bytes && bytes + j->key.size > sc->bl->scan.max_bytes)) {
			if (!sc->limit)
				sc->limit = "max_bytes";
			stop = true;
			j->over = true;
		} else {
			bytes += j->key.size;
			files++;
		}
	}
	if (files > 0 && sc->deadline && now_ns() >= sc->deadline) {
		sc->limit = "max_ms";
		files = 0;
	}
	if (files > 0) {
		atomic_init(&h.next, 0);
		atomic_init(&h.first_match, SIZE_MAX);
		atomic_init(&h.timed_out, false);
		/* A thread that cannot start leaves its share to the others. */
		n = hashers(bytes, files);
		for (k = 1; k < n; k++)
			if (pthread_create(&threads[started], NULL, hash_jobs, &h) == 0)
				started++;
		hash_jobs(&h);
		for (k = 0; k < started; k++)
			pthread_join(threads[k], NULL);
		for (i = 0; i < sc->njobs; i++) {
			if (!sc->jobs[i].hashed)
				continue;
			sc->st->hashed++;
			sc->st->bytes += sc->jobs[i].key.size;
		}
		first = atomic_load(&h.first_match);
		if (atomic_load(&h.timed_out))
			sc->limit = "max_ms";
		if (first != SIZE_MAX &&
		    (r = digest_rule(sc, sc->jobs[first].key.digest, sc->arena + sc->jobs[first].path)) != NULL) {
			/* Found before a limit would have stopped a scan in order. */
			sc->limit = NULL;
			return found(sc, r, "rootfs sha256", sc->arena + sc->jobs[first].path);
		}
	}
	return 0;
}

/* Walks the directory dirfd (closed here) whose path inside the rootfs is
 * sc->path[0..plen), depth levels below it. 1: matched, 0: go on (or a limit
 * reached: sc->limit), -1: error. */
static int walk(struct scan *sc, int dirfd, size_t plen, unsigned depth)
{
	const struct rw_bl_scan *lim = &sc->bl->scan;
	uint64_t fsid = 0;
	bool fsid_ok = sc->hash && fs_id(dirfd, &fsid);
	struct dirent *e;
	DIR *d = fdopendir(dirfd);
	int r = 0;

	if (d == NULL) {
		close(dirfd);
		return 0;
	}
	while (r == 0 && !sc->limit && (e = readdir(d)) != NULL) {
		const char *name = e->d_name;
		size_t nlen;
		struct stat st;
		bool have_st = false;
		unsigned char type = e->d_type;

		if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
			continue;
		if (lim->max_files && sc->st->files >= lim->max_files) {
			sc->limit = "max_files";
			break;
		}
		sc->st->files++;
		if ((++sc->tick & (CLOCK_EVERY - 1)) == 0 && over_time(sc))
			break;
		nlen = strlen(name);
		if (plen + 1 + nlen >= sizeof(sc->path))
			continue;
		if (type == DT_UNKNOWN) {
			if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			have_st = true;
			type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
		}
		if (type == DT_DIR) {
			int sub;
			if (depth == 0)
				continue;
			sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
			if (sub < 0)
				continue;
			sc->path[plen] = '/';
			memcpy(sc->path + plen + 1, name, nlen + 1);
			r = walk(sc, sub, plen + 1 + nlen, depth - 1);
			sc->path[plen] = '\0';
			continue;
		}
		/* Symlinks are neither followed nor matched by their own names
		 * (Alpine's /usr/sbin/sendmail -> /bin/busybox); FIFOs and
		 * devices are never opened. */
		if (type != DT_REG)
			continue;
		/* stat only what may matter: a name that matches, or every
		 * file when digests are compared. */
		if (!sc->hash && !name_candidate(sc, name))
			continue;
		if (!have_st && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (!S_ISREG(st.st_mode))
			continue;
		sc->path[plen] = '/';
		memcpy(sc->path + plen + 1, name, nlen + 1);
		r = check_entry(sc, &st, fsid, fsid_ok);
		sc->path[plen] = '\0';
	}
	closedir(d);
	return r;
}

static int walk_dirs(struct scan *sc, const char *path_env)
{
	const struct rw_bl_scan *lim = &sc->bl->scan;
	cleanup_free struct devino *seen = NULL;
	cleanup_free char *pathv = strdup(path_env ? path_env : DEFAULT_PATH);
	size_t ndirs = lim->ndirs, nseen = 0, i, j;
	char *tok, *save = NULL;
	cleanup_free const char **dirs = NULL;
	int r = 0;

	if (pathv == NULL)
		return rw_error(sc->err, ENOMEM, "blocklist: scan");
	for (i = 0; pathv[i]; i++)
		ndirs += pathv[i] == ':';
	ndirs++;
	dirs = calloc(ndirs, sizeof(*dirs));
	seen = calloc(ndirs, sizeof(*seen));
	sc->roots = calloc(ndirs, sizeof(*sc->roots));
	if (dirs == NULL || seen == NULL || sc->roots == NULL)
		return rw_error(sc->err, ENOMEM, "blocklist: scan");
	for (i = 0, ndirs = 0; i < lim->ndirs; i++)
		dirs[ndirs++] = lim->dirs[i];
	/* The container's PATH: only its absolute entries name a directory
	 * that is the same whatever the working directory. */
	for (tok = strtok_r(pathv, ":", &save); tok; tok = strtok_r(NULL, ":", &save))
		if (tok[0] == '/')
			dirs[ndirs++] = tok;
	for (i = 0; r == 0 && !sc->limit && i < ndirs; i++) {
		struct stat st;
		int fd = open_in_root(sc, dirs[i], O_RDONLY | O_DIRECTORY | O_NONBLOCK), walkfd;

		if (fd < 0)
			continue;
		/* /bin and /usr/bin on a merged-/usr image, or a dir both in
		 * scan.dirs and PATH: walked once. */
		if (fstat(fd, &st) < 0) {
			close(fd);
			continue;
		}
		for (j = 0; j < nseen && (seen[j].dev != st.st_dev || seen[j].ino != st.st_ino); j++)
			;
		if (j < nseen) {
			close(fd);
			continue;
		}
		seen[nseen++] = (struct devino){ st.st_dev, st.st_ino };
		/* Matches name the directory by its real path (/usr/bin, not
		 * /bin), the one an allow entry is written for. */
		if (!inside_path(sc, fd, sc->path, sizeof(sc->path)))
			snprintf(sc->path, sizeof(sc->path), "%s", dirs[i]);
		if (strcmp(sc->path, "/") == 0)
			sc->path[0] = '\0';
		/* The walk closes its fd; the root's stays open for the jobs
		 * beneath it. */
		walkfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (walkfd < 0) {
			close(fd);
			continue;
		}
		sc->roots[sc->nroots++] = fd;
		sc->rootplen = strlen(sc->path);
		r = walk(sc, walkfd, sc->rootplen, lim->depth);
	}
	return r;
}

static int scan_run(struct scan *sc, char *const *programs, size_t nprograms, const char *path_env)
{
	const struct rw_bl_subject *s = sc->s;
	cleanup_close int probe = -1;
	char link[64];
	ssize_t n;
	int r;

	sc->rootfd = open(s->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (sc->rootfd < 0)
		return rw_error(sc->err, errno, "blocklist: rootfs %s", s->rootfs);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", sc->rootfd);
	n = readlink(link, sc->root, sizeof(sc->root) - 1);
	if (n < 0 || (size_t)n >= sizeof(sc->root) - 1)
		n = 0;
	sc->root[n] = '\0';
	if (strcmp(sc->root, "/") == 0)
		sc->root[0] = '\0';
	sc->rootlen = strlen(sc->root);
	if (collect_rules(sc) < 0)
		return -1;
	if (sc->nnames == 0 && !sc->hash)
		return 0;
	/* Without openat2 (Linux < 5.6) a path cannot be resolved inside the
	 * rootfs safely: fail, and the check fails closed. */
	probe = open_in_root(sc, "/", O_RDONLY | O_DIRECTORY);
	if (probe < 0 && errno == ENOSYS)
		return rw_error(sc->err, ENOSYS, "blocklist: rootfs %s: openat2", s->rootfs);
	r = check_programs(sc, programs, nprograms, path_env);
	if (r == 0 && s->scan_dirs)
		r = walk_dirs(sc, path_env);
	/* Even when the walk stopped at a limit: what it met before is
	 * checked, as a scan in order would have. */
	if (r == 0)
		r = check_digests(sc);
	if (r >= 0 && sc->hash && sc->bl->scan.cache)
		cache_write(sc, sc->bl->scan.cache);
	return r;
}

int rw_bl_scan_rootfs(const struct rw_blocklist *bl, const struct rw_bl_subject *s, char *const *programs,
		      size_t nprograms, const char *path_env, struct rw_bl_match *m, struct rw_bl_stats *st,
		      rw_error_t *err)
{
	struct scan *sc;
	size_t i;
	int r;

	if (s->rootfs == NULL)
		return 0;
	/* Two PATH_MAX buffers: not for the stack of a runtime's create. */
	sc = calloc(1, sizeof(*sc));
	if (sc == NULL)
		return rw_error(err, ENOMEM, "blocklist: scan");
	*sc = (struct scan){ .bl = bl, .s = s, .m = m, .st = st, .err = err, .rootfd = -1, .t0 = now_ns() };
	if (bl->scan.max_ms)
		sc->deadline = sc->t0 + (uint64_t)bl->scan.max_ms * 1000000u;
	r = scan_run(sc, programs, nprograms, path_env);
	st->ms += (double)(now_ns() - sc->t0) / 1e6;
	if (r == 0 && sc->limit) {
		st->limit = sc->limit;
		if (bl->scan.refuse_on_limit)
			r = rw_error(err, 0, "refused: blocklist scan limit %s reached in %s (scan.%s in the policy)",
				     sc->limit, s->rootfs, sc->limit);
	}
	if (sc->rootfd >= 0)
		close(sc->rootfd);
	while (sc->nroots > 0)
		close(sc->roots[--sc->nroots]);
	free(sc->roots);
	for (i = 0; i < sc->njobs; i++)
		if (sc->jobs[i].fd >= 0)
			close(sc->jobs[i].fd);
	free(sc->jobs);
	free(sc->arena);
	free(sc->keys);
	free(sc->names);
	free(sc->digests);
	free(sc);
	return r;
}

int rw_sha256_fd(int fd, uint64_t max, unsigned char out[32])
{
	struct sha256_ctx c;
	unsigned char buf[65536];
	uint64_t total = 0;
	ssize_t n;

	sha256_init(&c);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		total += (uint64_t)n;
		if (total > max)
			return -1;
		sha256_update(&c, (size_t)n, buf);
	}
	sha256_digest(&c, SHA256_DIGEST_SIZE, out);
	return 0;
}
