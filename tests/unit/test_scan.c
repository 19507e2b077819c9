/* The rootfs scanner (policy/scan.c) on rootfs trees built under /tmp:
 * names, digests, program resolution inside the rootfs, symlinks, hard-link
 * farms, FIFOs and devices, limits, the digest cache, allow and tiers. */
#include "config.h"
#include "policy/blocklist.h"
#include "tests/unit/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <nettle/sha2.h>

static const char MINER[] = "#!/bin/sh\n# stands for a miner's binary, listed by digest\n";
static const char HOSTFILE[] = "a host file, listed by digest, that no container may reach\n";

static char base[] = "/tmp/rw-scan.XXXXXX";
static char hostfile[128];
static char cache_path[512];

/* ---- the fixture: a blocklist built by hand ---- */

static char *scan_dirs[] = { "/usr/local/bin", "/usr/local/sbin", "/usr/bin", "/usr/sbin", "/bin", "/sbin",
			     "/app", "/opt", "/srv" };
static char *skip_build[] = { "build" };
static struct rw_bl_rule miner_rules[3], mail_rules[1];
static struct rw_bl_category cats[2];
static struct rw_bl_allow allows[1];
static struct rw_blocklist bl;

static void sha256_of(const char *data, size_t len, unsigned char out[32])
{
	struct sha256_ctx c;

	sha256_init(&c);
	sha256_update(&c, len, (const uint8_t *)data);
	sha256_digest(&c, 32, out);
}

static void reset_bl(bool digests)
{
	memset(miner_rules, 0, sizeof(miner_rules));
	memset(mail_rules, 0, sizeof(mail_rules));
	miner_rules[0] = (struct rw_bl_rule){ .kind = BL_NAME, .pattern = "xmrig", .src = "test", .line = 1 };
	miner_rules[1] = (struct rw_bl_rule){ .kind = BL_FILE_DIGEST, .pattern = "sha256:miner", .src = "test", .line = 2 };
	sha256_of(MINER, strlen(MINER), miner_rules[1].digest);
	miner_rules[2] = (struct rw_bl_rule){ .kind = BL_FILE_DIGEST, .pattern = "sha256:host", .src = "test", .line = 3 };
	sha256_of(HOSTFILE, strlen(HOSTFILE), miner_rules[2].digest);
	mail_rules[0] = (struct rw_bl_rule){ .kind = BL_NAME, .pattern = "sendmail", .src = "test", .line = 4 };
	cats[0] = (struct rw_bl_category){ .name = "miners", .enabled = true, .rules = miner_rules, .nrules = 3 };
	cats[1] = (struct rw_bl_category){ .name = "mail", .enabled = true, .rules = mail_rules, .nrules = 1 };
	memset(&bl, 0, sizeof(bl));
	bl.cats = cats;
	bl.ncats = 2;
	bl.any_file_digest = digests;
	bl.scan = (struct rw_bl_scan){
		.dirs = scan_dirs, .ndirs = sizeof(scan_dirs) / sizeof(scan_dirs[0]), .depth = 3,
		.max_files = 20000, .max_bytes = 256u << 20, .max_file_size = 64u << 20, .max_ms = 10000,
	};
}

/* ---- rootfs trees ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

static void rmtree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void cleanup(void)
{
	if (hostfile[0])
		unlink(hostfile);
	rmtree(base);
}

/* A fresh, empty rootfs named name under base. */
static const char *mkroot(const char *name)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", base, name);
	rmtree(path);
	mkdir(path, 0755);
	return path;
}

static void mkparents(const char *root, const char *rel)
{
	char path[PATH_MAX];
	char *p;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	for (p = path + strlen(root) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
}

static void put_n(const char *root, const char *rel, const char *data, size_t len, mode_t mode)
{
	char path[PATH_MAX];
	int fd;

	mkparents(root, rel);
	snprintf(path, sizeof(path), "%s%s", root, rel);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		printf("# cannot write %s: %s\n", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	chmod(path, mode);
}

static void put(const char *root, const char *rel, const char *data)
{
	put_n(root, rel, data, strlen(data), 0755);
}

static void sym(const char *root, const char *rel, const char *target)
{
	char path[PATH_MAX];

	mkparents(root, rel);
	snprintf(path, sizeof(path), "%s%s", root, rel);
	unlink(path);
	if (symlink(target, path) < 0)
		printf("# cannot symlink %s: %s\n", path, strerror(errno));
}

static void rm(const char *root, const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s%s", root, rel);
	unlink(path);
}

static void hardlink(const char *root, const char *from, const char *to)
{
	char a[PATH_MAX], b[PATH_MAX];

	mkparents(root, to);
	snprintf(a, sizeof(a), "%s%s", root, from);
	snprintf(b, sizeof(b), "%s%s", root, to);
	if (link(a, b) < 0)
		printf("# cannot link %s: %s\n", b, strerror(errno));
}

/* ---- running the scanner ---- */

static struct rw_bl_match m;
static struct rw_bl_stats st;
static rw_error_t err;

struct run {
	const char *tier;
	char *const *progs;
	size_t nprogs;
	const char *path_env;
	const char *cwd;
	bool exec;                   /* only the programs, as for exec */
};

static int scan(const char *root, struct run r)
{
	struct rw_bl_subject s = {
		.tier = r.tier ? r.tier : "default", .image = "example/app:1", .field = "process",
		.cwd = r.cwd, .rootfs = root, .scan_dirs = !r.exec,
	};

	rw_bl_match_release(&m);
	memset(&m, 0, sizeof(m));
	memset(&st, 0, sizeof(st));
	rw_error_free(&err);
	return rw_bl_scan_rootfs(&bl, &s, r.progs, r.nprogs, r.path_env, &m, &st, &err);
}

static bool matched(const char *cat, const char *field, const char *value)
{
	bool ok_ = m.cat && strcmp(m.cat->name, cat) == 0 && strcmp(m.field, field) == 0 && m.value &&
		   strcmp(m.value, value) == 0;

	if (!ok_)
		printf("#   matched: %s %s \"%s\"\n", m.cat ? m.cat->name : "(none)", m.field,
		       m.value ? m.value : "");
	return ok_;
}

static off_t file_size(const char *path)
{
	struct stat s;

	return stat(path, &s) == 0 ? s.st_size : -1;
}

/* ---- the tests ---- */

static void test_names(void)
{
	const char *root = mkroot("names");

	reset_bl(false);
	put(root, "/usr/local/bin/xmrig", "benign bytes\n");
	put(root, "/usr/bin/maximum", "not a miner\n");
	ok(scan(root, (struct run){ 0 }) == 1 && matched("miners", "rootfs", "/usr/local/bin/xmrig"),
	   "name in /usr/local/bin: field rootfs, the path inside the rootfs");
	ok(m.rule == &miner_rules[0] && st.hashed == 0, "the name rule; nothing hashed without file digests");

	root = mkroot("depth");
	put(root, "/opt/miner/bin/XMRig-6.21.0", "benign\n");
	bl.scan.depth = 2;
	ok(scan(root, (struct run){ .path_env = "/nowhere" }) == 1 &&
	   matched("miners", "rootfs", "/opt/miner/bin/XMRig-6.21.0"), "/opt/miner/bin at depth 2");
	bl.scan.depth = 1;
	ok(scan(root, (struct run){ .path_env = "/nowhere" }) == 0 && m.value == NULL, "not beyond depth 1");
	bl.scan.depth = 0;
	put(root, "/opt/xmrig", "benign\n");
	ok(scan(root, (struct run){ .path_env = "/nowhere" }) == 1 && matched("miners", "rootfs", "/opt/xmrig"),
	   "depth 0: the dir's own files");
}

static void test_digest(void)
{
	const char *root = mkroot("digest");

	reset_bl(true);
	put(root, "/app/worker", MINER);
	put(root, "/app/other", "something else\n");
	ok(scan(root, (struct run){ 0 }) == 1 && matched("miners", "rootfs sha256", "/app/worker") &&
	   m.rule == &miner_rules[1], "renamed file matched by digest: field rootfs sha256");
	ok(st.hashed >= 1 && st.bytes >= strlen(MINER), "hashed counted (%lu files, %lu bytes)",
	   (unsigned long)st.hashed, (unsigned long)st.bytes);
	reset_bl(false);
	ok(scan(root, (struct run){ 0 }) == 0 && st.hashed == 0, "no any_file_digest: not hashed, not matched");
	reset_bl(true);
	put_n(root, "/app/worker", "", 0, 0755);
	ok(scan(root, (struct run){ 0 }) == 0, "empty files are not hashed");
}

static void test_symlinks(void)
{
	const char *root = mkroot("symlinks");

	reset_bl(true);
	put(root, "/usr/lib/payload", MINER);
	sym(root, "/usr/bin/xmrig", "../lib/payload");
	sym(root, "/usr/local/bin/sendmail", "/usr/lib/payload");
	ok(scan(root, (struct run){ 0 }) == 0 && m.value == NULL,
	   "symlinks named xmrig and sendmail: neither name-matched nor followed");
}

static void test_hardlinks(void)
{
	const char *root = mkroot("hardlinks");

	reset_bl(false);
	put(root, "/usr/sbin/busybox", "multi-call\n");
	hardlink(root, "/usr/sbin/busybox", "/usr/sbin/sendmail");
	hardlink(root, "/usr/sbin/busybox", "/usr/sbin/ls");
	hardlink(root, "/usr/sbin/busybox", "/usr/sbin/cat");
	hardlink(root, "/usr/sbin/busybox", "/usr/sbin/sh");
	ok(scan(root, (struct run){ 0 }) == 0, "sendmail in a 5-link farm: a multi-call binary, not name-matched");
	put(root, "/usr/local/sbin/sendmail", "an MTA\n");
	hardlink(root, "/usr/local/sbin/sendmail", "/usr/local/sbin/mta");
	ok(scan(root, (struct run){ 0 }) == 1 && matched("mail", "rootfs", "/usr/local/sbin/sendmail"),
	   "sendmail with 2 links is matched");
}

static void test_programs(void)
{
	const char *root = mkroot("programs");
	char *xmrig[] = { "xmrig" }, *none[] = { "nothere" }, *run[] = { "./run" }, *app[] = { "app" };
	char *evil[] = { "evil" }, *evil2[] = { "evil2" }, *dotdot[] = { "/../../../usr/bin/evil" };
	char *tool[] = { "tool" }, *two[] = { "nothere", "/usr/local/bin/xmrig" };
	char rel[PATH_MAX], target[PATH_MAX];

	reset_bl(true);
	put(root, "/usr/local/bin/xmrig", "benign\n");
	ok(scan(root, (struct run){ .progs = xmrig, .nprogs = 1, .path_env = "/usr/bin:/usr/local/bin", .exec = true }) == 1 &&
	   matched("miners", "rootfs", "/usr/local/bin/xmrig"), "program through PATH");
	ok(st.files == 0, "exec: only the program, no walk");
	ok(scan(root, (struct run){ .progs = xmrig, .nprogs = 1, .exec = true }) == 1 &&
	   matched("miners", "rootfs", "/usr/local/bin/xmrig"), "program through the default PATH");
	ok(scan(root, (struct run){ .progs = xmrig, .nprogs = 1, .path_env = "/usr/bin", .exec = true }) == 0,
	   "not in PATH: skipped");
	ok(scan(root, (struct run){ .progs = none, .nprogs = 1, .exec = true }) == 0, "a program that does not resolve");
	ok(scan(root, (struct run){ .progs = two, .nprogs = 2, .exec = true }) == 1 &&
	   matched("miners", "rootfs", "/usr/local/bin/xmrig"), "the second of two programs");

	put(root, "/srv/run", MINER);
	ok(scan(root, (struct run){ .progs = run, .nprogs = 1, .cwd = "/srv", .exec = true }) == 1 &&
	   matched("miners", "rootfs sha256", "/srv/run"), "./run from cwd /srv, by digest");
	ok(scan(root, (struct run){ .progs = run, .nprogs = 1, .exec = true }) == 0, "./run from cwd / : absent");

	put(root, "/opt/x/xmrig", "benign\n");
	sym(root, "/usr/lib/app-link", "../../opt/x/xmrig");
	sym(root, "/usr/bin/app", "/usr/lib/app-link");
	ok(scan(root, (struct run){ .progs = app, .nprogs = 1, .path_env = "/usr/bin", .exec = true }) == 1 &&
	   matched("miners", "rootfs", "/opt/x/xmrig"), "a symlink chain inside the rootfs: the name it resolves to");

	/* A host file whose digest is listed; the rootfs links to its host path. */
	snprintf(hostfile, sizeof(hostfile), "/etc/rw-scan-test.%ld", (long)getpid());
	put_n("", hostfile, HOSTFILE, strlen(HOSTFILE), 0644);
	sym(root, "/usr/bin/evil", hostfile);
	snprintf(target, sizeof(target), "../../../../../../../..%s", hostfile);
	sym(root, "/usr/bin/evil2", target);
	ok(scan(root, (struct run){ .progs = evil, .nprogs = 1, .path_env = "/usr/bin", .exec = true }) == 0,
	   "absolute link to a host file: resolved inside the rootfs, where it is absent");
	ok(scan(root, (struct run){ .progs = evil2, .nprogs = 1, .path_env = "/usr/bin", .exec = true }) == 0,
	   "../ link past the root: absent too");
	put(root, hostfile, "the image's own file\n");
	ok(scan(root, (struct run){ .progs = evil, .nprogs = 1, .path_env = "/usr/bin", .exec = true }) == 0,
	   "absolute link: the rootfs's own file, which differs, is what is hashed");
	ok(scan(root, (struct run){ .progs = dotdot, .nprogs = 1, .exec = true }) == 0, "a program path with ../ past the root");
	snprintf(rel, sizeof(rel), "%s", hostfile);
	put_n(root, rel, HOSTFILE, strlen(HOSTFILE), 0755);
	ok(scan(root, (struct run){ .progs = evil, .nprogs = 1, .path_env = "/usr/bin", .exec = true }) == 1 &&
	   matched("miners", "rootfs sha256", hostfile), "and the same content inside the rootfs is matched");

	put_n(root, "/usr/local/sbin/tool", "a decoy, not executable\n", 24, 0644);
	put(root, "/usr/sbin/tool", MINER);
	ok(scan(root, (struct run){ .progs = tool, .nprogs = 1, .path_env = "/usr/local/sbin:/usr/sbin", .exec = true }) == 1 &&
	   matched("miners", "rootfs sha256", "/usr/sbin/tool"), "PATH: a non-executable decoy is passed over, as execvp does");
}

static void test_merged_usr(void)
{
	const char *root = mkroot("merged");
	char *dirs[] = { "/usr/bin", "/bin", "/usr/sbin", "/sbin" }, *bin[] = { "/bin" };
	char name[64];
	int i;

	reset_bl(false);
	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "/usr/bin/tool%d", i);
		put(root, name, "tool\n");
	}
	mkparents(root, "/usr/sbin/x");
	sym(root, "/bin", "usr/bin");
	sym(root, "/sbin", "usr/sbin");
	bl.scan.dirs = dirs;
	bl.scan.ndirs = 4;
	ok(scan(root, (struct run){ .path_env = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" }) == 0 && st.files == 10,
	   "merged /usr: /bin and /usr/bin walked once (%lu entries)", (unsigned long)st.files);
	put(root, "/usr/bin/xmrig", "benign\n");
	bl.scan.dirs = bin;
	bl.scan.ndirs = 1;
	ok(scan(root, (struct run){ .path_env = "/nowhere" }) == 1 && matched("miners", "rootfs", "/usr/bin/xmrig"),
	   "found through /bin, named by its real path /usr/bin/xmrig");
}

static void test_special_files(void)
{
	const char *root = mkroot("special");
	char *fifo[] = { "xmrig-fifo" }, *dev[] = { "xmrig-null" };
	char path[PATH_MAX];

	reset_bl(true);
	put(root, "/usr/bin/ok", "fine\n");
	snprintf(path, sizeof(path), "%s/usr/bin/xmrig-fifo", root);
	mkfifo(path, 0755);
	snprintf(path, sizeof(path), "%s/usr/bin/xmrig-null", root);
	mknod(path, S_IFCHR | 0755, makedev(1, 3));
	alarm(30);   /* a blocked open fails the test instead of hanging make check */
	ok(scan(root, (struct run){ .path_env = "/usr/bin" }) == 0 && st.files == 3,
	   "a FIFO and a device in a scanned dir: counted, not opened, not matched");
	ok(scan(root, (struct run){ .progs = fifo, .nprogs = 1, .path_env = "/usr/bin", .exec = true }) == 0,
	   "a program that is a FIFO: does not block, not a regular file");
	ok(scan(root, (struct run){ .progs = dev, .nprogs = 1, .path_env = "/usr/bin", .exec = true }) == 0,
	   "a program that is a device: skipped");
	alarm(0);
}

static void test_limits(void)
{
	const char *root = mkroot("limits");
	static char big[256 << 10];
	char name[64];
	bool ok_all;
	int i;

	for (i = 0; i < 50; i++) {
		memset(big, 'a' + i % 26, sizeof(big));
		snprintf(big, 32, "file %d\n", i);
		snprintf(name, sizeof(name), "/usr/bin/f%02d", i);
		put_n(root, name, big, sizeof(big), 0755);
	}
	reset_bl(false);
	bl.scan.max_files = 10;
	ok(scan(root, (struct run){ .path_env = "/usr/bin" }) == 0 && st.limit && strcmp(st.limit, "max_files") == 0 &&
	   st.files == 10, "max_files: stops at 10 entries, allowed, st->limit");
	bl.scan.refuse_on_limit = true;
	ok(scan(root, (struct run){ .path_env = "/usr/bin" }) == -1 && err &&
	   strstr(err->msg, "refused: blocklist scan limit max_files reached in ") &&
	   strstr(err->msg, "(scan.max_files in the policy)"), "refuse_on_limit: -1, %s", err ? err->msg : "");
	reset_bl(true);
	bl.scan.max_bytes = 1 << 20;
	ok(scan(root, (struct run){ .path_env = "/usr/bin" }) == 0 && st.limit && strcmp(st.limit, "max_bytes") == 0 &&
	   st.bytes <= (1 << 20) && st.hashed == 4, "max_bytes: %lu hashed, %lu bytes", (unsigned long)st.hashed,
	   (unsigned long)st.bytes);
	reset_bl(true);
	bl.scan.max_ms = 1;
	ok(scan(root, (struct run){ .path_env = "/usr/bin" }) == 0 && st.limit && strcmp(st.limit, "max_ms") == 0 &&
	   st.hashed < 50, "max_ms: stops after %lu of 50 files (%.1f ms)", (unsigned long)st.hashed, st.ms);
	reset_bl(true);
	bl.scan.max_file_size = 1000;
	ok(scan(root, (struct run){ .path_env = "/usr/bin" }) == 0 && st.limit == NULL && st.hashed == 0,
	   "files over max_file_size are not hashed");
	reset_bl(true);
	ok(scan(root, (struct run){ .path_env = "/usr/bin" }) == 0 && st.limit == NULL && st.hashed == 50 &&
	   st.files == 50, "within the limits: all 50 hashed");

	/* Hashed on several threads, the match reported is still the first in
	 * walk order: /usr/bin (a scan dir before /app), not /app. */
	put(root, "/app/m", MINER);
	put(root, "/usr/bin/zz-m", MINER);
	for (i = 0, ok_all = true; i < 5; i++)
		ok_all &= scan(root, (struct run){ .path_env = "/usr/bin" }) == 1 &&
			  matched("miners", "rootfs sha256", "/usr/bin/zz-m");
	ok(ok_all, "parallel hashing: the first match in walk order, every time");
}

static void test_order(void)
{
	const char *root = mkroot("order");
	char name[64];
	bool ok_all;
	int i;

	reset_bl(true);
	for (i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "/srv/d%d/f%03d", i % 4, i);
		put(root, name, name);
		snprintf(name, sizeof(name), "/usr/bin/g%03d", i);
		put(root, name, name);
	}
	put(root, "/srv/d3/xmrig", "benign\n");
	put(root, "/app/w", MINER);
	put(root, "/usr/local/sbin/sendmail", "an MTA\n");
	for (i = 0, ok_all = true; i < 10; i++)
		ok_all &= scan(root, (struct run){ .path_env = "/usr/bin" }) == 1 &&
			  matched("mail", "rootfs", "/usr/local/sbin/sendmail");
	ok(ok_all, "the match in the first scan dir in order, every time");
	rm(root, "/usr/local/sbin/sendmail");
	for (i = 0, ok_all = true; i < 10; i++)
		ok_all &= scan(root, (struct run){ .path_env = "/usr/bin" }) == 1 &&
			  matched("miners", "rootfs", "/srv/d3/xmrig");
	ok(ok_all, "a name match in a later root beats a digest match that needs hashing");
	rm(root, "/srv/d3/xmrig");
	ok(scan(root, (struct run){ .path_env = "/usr/bin" }) == 1 && matched("miners", "rootfs sha256", "/app/w") &&
	   st.files == 200 + 1 + 4 + 200 && st.hashed >= 201 && st.hashed < 401,
	   "then the digest (%lu entries); hashing stopped after %lu files", (unsigned long)st.files,
	   (unsigned long)st.hashed);
}

static void test_hashed_once(void)
{
	const char *root = mkroot("once");
	char *tool[] = { "tool" };

	reset_bl(true);
	put(root, "/usr/bin/tool", "a tool\n");
	hardlink(root, "/usr/bin/tool", "/app/tool-link");
	ok(scan(root, (struct run){ .progs = tool, .nprogs = 1, .path_env = "/usr/bin" }) == 0 && st.hashed == 1 &&
	   st.files == 2, "a program in a scan dir, hard-linked in another: hashed once");
}

static void test_cache(void)
{
	const char *root = mkroot("cache");
	char name[64], data[64], path[PATH_MAX], cachedir[256];
	struct stat s;
	struct timespec old[2] = { { 978307200, 0 }, { 978307200, 0 } };
	int i, fd;

	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "/app/f%02d", i);
		snprintf(data, sizeof(data), "file number %d\n", i);
		put(root, name, data);
	}
	/* f19 has MINER's size, to be rewritten in place later. */
	memset(data, 'z', strlen(MINER));
	put_n(root, "/app/f19", data, strlen(MINER), 0755);
	snprintf(cachedir, sizeof(cachedir), "%s/run-rw", base);
	snprintf(cache_path, sizeof(cache_path), "%s/digests.cache", cachedir);
	reset_bl(true);
	bl.scan.cache = cache_path;

	ok(scan(root, (struct run){ .path_env = "/nowhere" }) == 0 && st.hashed == 20 && st.cached == 0,
	   "first scan: 20 hashed");
	ok(stat(cachedir, &s) == 0 && (s.st_mode & 07777) == 0700, "the cache's directory created 0700");
	ok(stat(cache_path, &s) == 0 && (s.st_mode & 07777) == 0600 && s.st_size == 20 * 80,
	   "the cache file: 0600, 20 records");
	ok(scan(root, (struct run){ .path_env = "/nowhere" }) == 0 && st.hashed == 0 && st.cached == 20,
	   "second scan: hashed 0, cached 20");
	ok(file_size(cache_path) == 20 * 80, "nothing appended when all were cached");

	if (truncate(cache_path, 20 * 80 - 40) < 0)
		printf("# truncate: %s\n", strerror(errno));
	ok(scan(root, (struct run){ .path_env = "/nowhere" }) == 0 && st.hashed == 1 && st.cached == 19,
	   "a torn last record is ignored: 1 hashed, 19 cached");
	ok(scan(root, (struct run){ .path_env = "/nowhere" }) == 0 && st.hashed == 0 && st.cached == 20,
	   "records appended after a torn one are found again");

	fd = open(cache_path, O_WRONLY | O_TRUNC);
	for (i = 0; i < 100; i++)
		(void)!write(fd, "garbage!", 8);
	close(fd);
	ok(scan(root, (struct run){ .path_env = "/nowhere" }) == 0 && st.hashed == 20 && st.cached == 0,
	   "a cache of garbage is tolerated");
	ok(scan(root, (struct run){ .path_env = "/nowhere" }) == 0 && st.hashed == 0 && st.cached == 20,
	   "and the records appended after the garbage are used");

	/* Over one read's worth, records that start with the magic but do not
	 * check out, at odd offsets, then the real ones. */
	fd = open(cache_path, O_WRONLY | O_TRUNC);
	(void)!write(fd, "x", 1);
	for (i = 0; i < 4000; i++)
		(void)!write(fd, "RWC1 magic, not a record: the check that follows it fails..................xxyz", 79);
	close(fd);
	ok(scan(root, (struct run){ .path_env = "/nowhere" }) == 0 && st.hashed == 20,
	   "a cache of 300 KiB of near-records is tolerated");
	ok(scan(root, (struct run){ .path_env = "/nowhere" }) == 0 && st.hashed == 0 && st.cached == 20,
	   "and the records after it, past the first read, are used");
	if (truncate(cache_path, 800 + 20 * 80) < 0)
		printf("# truncate: %s\n", strerror(errno));
	chmod(cache_path, 0666);
	ok(scan(root, (struct run){ .path_env = "/nowhere" }) == 0 && st.hashed == 20 && st.cached == 0 &&
	   file_size(cache_path) == 800 + 20 * 80, "a cache others can write is neither trusted nor written");
	chmod(cache_path, 0600);

	if (truncate(cache_path, 17 << 20) < 0)
		printf("# truncate: %s\n", strerror(errno));
	ok(scan(root, (struct run){ .path_env = "/nowhere" }) == 0 && st.hashed == 20 &&
	   file_size(cache_path) == 20 * 80, "a cache over 2 MiB is started afresh");
	ok(scan(root, (struct run){ .path_env = "/nowhere" }) == 0 && st.cached == 20, "the rewritten cache is used");

	put(root, "/app/f03", MINER);
	ok(scan(root, (struct run){ .path_env = "/nowhere" }) == 1 && matched("miners", "rootfs sha256", "/app/f03") &&
	   st.hashed == 1, "a file replaced by new content is hashed again and matched");
	put(root, "/app/f03", "file number 3\n");
	ok(scan(root, (struct run){ .path_env = "/nowhere" }) == 0 && st.hashed == 1, "restored: hashed once more");

	snprintf(path, sizeof(path), "%s/app/f19", root);
	fd = open(path, O_WRONLY);
	(void)!write(fd, MINER, strlen(MINER));
	futimens(fd, old);
	close(fd);
	ok(scan(root, (struct run){ .path_env = "/nowhere" }) == 1 && matched("miners", "rootfs sha256", "/app/f19") &&
	   st.hashed == 1, "rewritten in place, same size and inode, new mtime: hashed again and matched");
	unlink(path);

	unlink(cache_path);
	snprintf(path, sizeof(path), "%s/elsewhere", base);
	put_n("", path, "x", 1, 0600);
	if (symlink(path, cache_path) < 0)
		printf("# symlink: %s\n", strerror(errno));
	ok(scan(root, (struct run){ .path_env = "/nowhere" }) == 0 && st.hashed == 19 && file_size(path) == 1,
	   "a cache that is a symlink is not followed");
	unlink(cache_path);
	bl.scan.cache = "/proc/nonexistent/digests.cache";
	ok(scan(root, (struct run){ .path_env = "/nowhere" }) == 0 && st.hashed == 19,
	   "a cache that cannot be written only costs hashing");
}

static void test_allow_tiers(void)
{
	const char *root = mkroot("allow");

	reset_bl(true);
	put(root, "/usr/local/bin/xmrig", "benign\n");
	allows[0] = (struct rw_bl_allow){ .category = "miners", .path = "/usr/local/bin/xmrig" };
	bl.allow = allows;
	bl.nallow = 1;
	ok(scan(root, (struct run){ 0 }) == 0, "allow by path: skipped");
	allows[0].path = "/usr/local/bin/*";
	ok(scan(root, (struct run){ 0 }) == 0, "allow by path glob");
	allows[0].path = "/opt/*";
	ok(scan(root, (struct run){ 0 }) == 1, "an allow for another path does not apply");
	allows[0] = (struct rw_bl_allow){ .image = "example/*" };
	ok(scan(root, (struct run){ 0 }) == 0, "allow by image");
	bl.nallow = 0;

	put(root, "/app/w", MINER);
	cats[0].skip_tiers = skip_build;
	cats[0].nskip = 1;
	ok(scan(root, (struct run){ .tier = "build" }) == 0 && st.hashed == 0,
	   "skip_tiers: the miners category skipped (no digest rule left: nothing hashed)");
	ok(scan(root, (struct run){ .tier = "default" }) == 1 && strcmp(m.cat->name, "miners") == 0,
	   "other tiers still checked");
	cats[0].nskip = 0;
	cats[0].enabled = false;
	put(root, "/usr/sbin/sendmail", "mta\n");
	ok(scan(root, (struct run){ 0 }) == 1 && matched("mail", "rootfs", "/usr/sbin/sendmail"),
	   "a disabled category is skipped, the others are checked");
}

static void test_errors(void)
{
	char path[PATH_MAX];

	reset_bl(false);
	ok(scan("/nonexistent/rootfs", (struct run){ 0 }) == -1 && err &&
	   strcmp(err->msg, "blocklist: rootfs /nonexistent/rootfs: No such file or directory") == 0,
	   "a rootfs that cannot be opened: %s", err ? err->msg : "");
	snprintf(path, sizeof(path), "%s/afile", base);
	put_n("", path, "x", 1, 0644);
	ok(scan(path, (struct run){ 0 }) == -1 && err && strstr(err->msg, "Not a directory"),
	   "a rootfs that is a file: %s", err ? err->msg : "");
	ok(scan(NULL, (struct run){ 0 }) == 0, "no rootfs: nothing scanned");
}

int main(void)
{
	if (mkdtemp(base) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	atexit(cleanup);
	test_names();
	test_digest();
	test_symlinks();
	test_hardlinks();
	test_programs();
	test_merged_usr();
	test_special_files();
	test_limits();
	test_hashed_once();
	test_order();
	test_cache();
	test_allow_tiers();
	test_errors();
	rw_bl_match_release(&m);
	rw_error_free(&err);
	return tap_done();
}
