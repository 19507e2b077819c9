/* The deploy-time blocklist: workloads a node refuses (crypto miners, Tor
 * relays, VPN/proxy servers, torrent clients, mail servers), checked at
 * create/run and again at exec, where no deploy pipeline can skip it.
 *
 * The rules live in the policy's "blocklist" section (policy.c parses it into
 * struct rw_blocklist); this file matches them against what a container is:
 * its image reference and digest, its command (process.args, sh -c strings and
 * wrapper chains unwrapped), its environment, and its root filesystem
 * (scan.c: executables by name, files by SHA-256, bounded and cached).
 *
 * Matching is case-insensitive. Names match whole path basenames, never
 * inside a word: "exim" matches exim, /usr/sbin/exim4, EXIM.sh, not maximum. */
#ifndef RW_BLOCKLIST_H
#define RW_BLOCKLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "shim/error.h"
#include "shim/json.h"

enum rw_bl_kind {
	BL_NAME,          /* program name: a basename (see rw_bl_name_match) */
	BL_ARG,           /* an argument word: equal, or word = pattern + "=..." */
	BL_CONTAINS,      /* substring at a token start (a URL scheme: "stratum+tcp://") */
	BL_PORT,          /* a port in the start command: word "9001", "...:9001", "...=9001" */
	BL_IMAGE,         /* glob (fnmatch, case-folded) on the image reference */
	BL_IMAGE_DIGEST,  /* exact image digest/id "sha256:<64 hex>" */
	BL_FILE_DIGEST,   /* SHA-256 of a file in the root filesystem */
};

struct rw_bl_rule {
	enum rw_bl_kind kind;
	char *pattern;              /* lowercased; digests as "sha256:<64 lowercase hex>" */
	unsigned char digest[32];   /* BL_IMAGE_DIGEST, BL_FILE_DIGEST: the bytes */
	const char *src;            /* the policy file's path, or "<embedded default>" */
	unsigned line;              /* the rule's line in src */
};

struct rw_bl_category {
	char *name;                 /* "miners", "tor", "vpn-proxy", "torrent", "mail", or the operator's */
	bool enabled;
	char **skip_tiers;          /* tiers this category does not apply to */
	size_t nskip;
	struct rw_bl_rule *rules;
	size_t nrules;
};

/* An exemption: matches of (category, rule) for this image or this path are
 * not refusals. category/rule NULL: any. At least one of image, path. */
struct rw_bl_allow {
	char *category, *rule;
	char *image;                /* glob on the image reference (case-folded) */
	char *path;                 /* glob on a path: a rootfs file, or a command word */
	const char *src;
	unsigned line;
};

struct rw_bl_scan {
	char **dirs;                /* absolute, inside the rootfs; the container's PATH is added */
	size_t ndirs;
	unsigned depth;             /* directory levels below each dir */
	uint64_t max_files;         /* directory entries looked at */
	uint64_t max_bytes;         /* bytes hashed per check (cache misses) */
	uint64_t max_file_size;     /* larger files are not hashed */
	unsigned max_ms;            /* wall time of the scan */
	bool refuse_on_limit;       /* a limit reached: refuse (true) or allow and audit (false) */
	char *cache;                /* digest cache file; NULL: no cache */
};

struct rw_blocklist {
	struct rw_bl_category *cats;
	size_t ncats;
	struct rw_bl_allow *allow;
	size_t nallow;
	struct rw_bl_scan scan;
	bool any_file_digest;       /* some enabled category lists a file digest: hashing needed */
};

/* What is checked. */
struct rw_bl_subject {
	const char *tier;             /* for skip_tiers */
	const char *image;            /* reference, e.g. "docker.io/library/nginx:1.25"; NULL: unknown */
	const char *image_digest;     /* "sha256:<hex>"; NULL: unknown */
	const struct json *process;   /* a process object (args, env); NULL: none */
	const char *field;            /* how process is named in messages: "process", "exec process" */
	char *const *argv;            /* `exec ID CMD...`'s command when process is NULL */
	size_t argc;
	const char *cwd;              /* process.cwd, for a relative program ("./miner"); NULL: "/" */
	const char *rootfs;           /* host path of the root filesystem; NULL: not scanned */
	bool scan_dirs;               /* true (create): the scan dirs; false (exec): only the command's program */
};

struct rw_bl_match {
	const struct rw_bl_category *cat;
	const struct rw_bl_rule *rule;
	char field[160];              /* process.args[0], process.args[2] (sh -c), process.env[3], image,
				       * image digest, rootfs, rootfs sha256 */
	char *value;                  /* the value that matched (a word, an env entry, a path) */
};

struct rw_bl_stats {
	uint64_t files;               /* directory entries looked at */
	uint64_t hashed, cached;      /* files hashed now / digests taken from the cache */
	uint64_t bytes;               /* bytes hashed */
	double ms;                    /* wall time of the rootfs part */
	const char *limit;            /* NULL, or the limit reached: "max_files", "max_bytes", "max_ms" */
};

/* 1: a rule matched (m filled; rw_bl_match_release it), 0: nothing matched,
 * -1: error (*err; callers fail closed). Checks, cheapest first: image,
 * command, environment, root filesystem. A limit reached in the scan is
 * reported in st->limit; with scan.refuse_on_limit it is an error. */
int rw_blocklist_check(const struct rw_blocklist *bl, const struct rw_bl_subject *s,
		       struct rw_bl_match *m, struct rw_bl_stats *st, rw_error_t *err);
void rw_bl_match_release(struct rw_bl_match *m);
/* Sets *err to the refusal:
 *   refused: blocklist "miners" rule "xmrig" (/etc/runwarden/policy.json:42) matched process.args[0] "/usr/local/bin/xmrig"
 * and returns -1. */
int rw_bl_refuse(const struct rw_bl_match *m, rw_error_t *err);
void rw_blocklist_release(struct rw_blocklist *bl);

/* Shared by the matcher and the scanner. */
/* name: a word or path; its basename (after the last '/') matches pattern
 * when, case-insensitively, it equals pattern or starts with it followed by
 * '-', '_', '.', '@' or a digit (xmrig-6.21, exim4, postfix.sh). */
bool rw_bl_name_match(const char *name, const char *pattern);
/* The category applies to tier (enabled, tier not skipped). */
bool rw_bl_category_active(const struct rw_bl_category *c, const char *tier);
/* An allow entry exempts this match (image: the container's, path: the
 * matched rootfs path or command word; either may be NULL). */
bool rw_bl_allowed(const struct rw_blocklist *bl, const struct rw_bl_category *c, const struct rw_bl_rule *r,
		   const char *image, const char *path);

/* scan.c: the root filesystem. programs: the command's programs as written
 * (the first word of each command after unwrapping: "/app/server", "xmrig",
 * "./run"; at most RW_BL_MAX_PROGRAMS), each resolved in the rootfs through
 * path_env (the value of the container's PATH, without "PATH="; NULL: the
 * usual default) or s->cwd, without leaving the rootfs, and checked by the
 * name it resolves to and by digest. With s->scan_dirs, also every file under
 * the scan dirs. 1: matched (m filled, field "rootfs" or "rootfs sha256",
 * value the path inside the rootfs), 0: clean, -1: error. */
#define RW_BL_MAX_PROGRAMS 32
int rw_bl_scan_rootfs(const struct rw_blocklist *bl, const struct rw_bl_subject *s, char *const *programs,
		      size_t nprograms, const char *path_env, struct rw_bl_match *m, struct rw_bl_stats *st,
		      rw_error_t *err);

/* SHA-256 of a whole file (fd at offset 0), at most max bytes: -1 if larger. */
int rw_sha256_fd(int fd, uint64_t max, unsigned char out[32]);

#endif
