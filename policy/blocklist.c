/* The blocklist matcher: image, command (wrappers and sh -c unwrapped),
 * environment; the root filesystem is scan.c's. See blocklist.h. */
#include "config.h"
#include "policy/blocklist.h"

#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool rw_bl_category_active(const struct rw_bl_category *c, const char *tier)
{
	size_t i;

	if (!c->enabled)
		return false;
	for (i = 0; tier && i < c->nskip; i++)
		if (strcmp(c->skip_tiers[i], tier) == 0)
			return false;
	return true;
}

bool rw_bl_allowed(const struct rw_blocklist *bl, const struct rw_bl_category *c, const struct rw_bl_rule *r,
		   const char *image, const char *path)
{
	size_t i;

	for (i = 0; i < bl->nallow; i++) {
		const struct rw_bl_allow *a = &bl->allow[i];
		if (a->category && strcmp(a->category, c->name) != 0)
			continue;
		if (a->rule && strcasecmp(a->rule, r->pattern) != 0)
			continue;
		if (a->image && !(image && fnmatch(a->image, image, FNM_CASEFOLD) == 0))
			continue;
		if (a->path && !(path && fnmatch(a->path, path, 0) == 0))
			continue;
		return true;
	}
	return false;
}

void rw_bl_match_release(struct rw_bl_match *m)
{
	free(m->value);
	m->value = NULL;
}

int rw_bl_refuse(const struct rw_bl_match *m, rw_error_t *err)
{
	return rw_error(err, 0, "refused: blocklist \"%s\" rule \"%s\" (%s:%u) matched %s \"%s\"", m->cat->name,
			m->rule->pattern, m->rule->src, m->rule->line, m->field, m->value ? m->value : "");
}

/* ---- the matcher ------------------------------------------------------- */

/* Levels of text split into words: sh -c strings, $( ), backquotes, env -S
 * strings, eval. Deeper text is only cut at punctuation (scan_text). */
#define BL_MAX_DEPTH 8

/* A rule of a category that applies to this subject. */
struct active_rule {
	const struct rw_bl_category *cat;
	const struct rw_bl_rule *rule;
	size_t plen;
};

enum origin { FROM_ARGS, FROM_SH, FROM_ENV_S };
static const char *const origin_suffix[] = { "", " (sh -c)", " (env -S)" };

/* A command word: bytes p[0..len) (NUL allowed, p[len] is NUL), the args
 * element it comes from and how many splits deep it was found. */
struct word {
	const char *p;
	size_t len;
	size_t argi;
	enum origin origin;
	int depth;
};

struct buf {
	char *p;
	size_t len, cap;
};

struct ctx {
	const struct rw_blocklist *bl;
	const struct rw_bl_subject *s;
	struct rw_bl_match *m;
	rw_error_t *err;
	const char *field;
	struct active_rule *rules;
	size_t nrules;
	char *programs[RW_BL_MAX_PROGRAMS];
	size_t nprograms;
	/* Per depth: the word being built (the lexers active at one time have
	 * distinct depths, so a word lives until its lexer moves on), and
	 * backquote contents unescaped. The last words[] is scan_text's. */
	struct buf words[BL_MAX_DEPTH + 2];
	struct buf text[BL_MAX_DEPTH + 2];
};

/* ASCII only, as the C locale: patterns are ASCII, and this runs per byte. */
static inline unsigned char lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch + ('a' - 'A')) : (unsigned char)ch;
}

static inline bool alnum(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool ci_eq(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

/* "stratum+tcp://" is found in "POOL=stratum+tcp://x", not in "xstratum+tcp://". */
static inline bool token_char(char ch)
{
	return alnum(ch) || ch == '+' || ch == '-' || ch == '.';
}

/* Which bytes start a token in w (lowercased): contains patterns that
 * start with none of them need no scan. */
struct starts {
	uint32_t bits[8];
};

static void token_starts(const char *w, size_t len, struct starts *st)
{
	size_t i;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < len; i++)
		if (i == 0 || !token_char(w[i - 1])) {
			unsigned char ch = lower(w[i]);
			st->bits[ch >> 5] |= 1u << (ch & 31);
		}
}

static inline bool starts_has(const struct starts *st, char ch)
{
	unsigned char c = lower(ch);
	return st->bits[c >> 5] & (1u << (c & 31));
}

/* rw_bl_name_match on bytes; a NUL ends the name as it would a C string. */
static bool name_match_n(const char *w, size_t len, const char *pat, size_t plen)
{
	const char *slash = memrchr(w, '/', len);
	const char *base = slash ? slash + 1 : w;
	size_t blen = len - (size_t)(base - w);
	char next;

	if (plen == 0 || blen < plen || !ci_eq(base, pat, plen))
		return false;
	if (blen == plen)
		return true;
	next = base[plen];
	return next == '\0' || next == '-' || next == '_' || next == '.' || next == '@' || (next >= '0' && next <= '9');
}

bool rw_bl_name_match(const char *name, const char *pattern)
{
	return name_match_n(name, strlen(name), pattern, strlen(pattern));
}

static bool arg_match(const char *w, size_t len, const char *pat, size_t plen)
{
	return plen > 0 && len >= plen && ci_eq(w, pat, plen) && (len == plen || w[plen] == '=');
}

static bool port_match(const char *w, size_t len, const char *pat, size_t plen)
{
	char before;

	if (plen == 0 || len < plen || !ci_eq(w + len - plen, pat, plen))
		return false;
	if (len == plen)
		return true;
	before = w[len - plen - 1];
	return before == ':' || before == '=';
}

static bool contains_match(const char *w, size_t len, const char *pat, size_t plen)
{
	size_t i;

	if (plen == 0 || len < plen)
		return false;
	for (i = 0; i <= len - plen; i++)
		if ((i == 0 || !token_char(w[i - 1])) && lower(w[i]) == lower(pat[0]) && ci_eq(w + i, pat, plen))
			return true;
	return false;
}

static bool digest_eq(const char *d, const char *pat)
{
	if (strcasecmp(d, pat) == 0)
		return true;
	/* a bare id: Docker's Image without its algorithm */
	return strncmp(pat, "sha256:", 7) == 0 && strlen(d) == 64 && strcasecmp(d, pat + 7) == 0;
}

/* A rule matched. An allow entry exempts it: 0, the search goes on.
 * Otherwise m is filled: 1, or -1 without memory. */
static int hit(struct ctx *c, const struct active_rule *ar, const char *path, const char *value, size_t vlen,
	       const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int hit(struct ctx *c, const struct active_rule *ar, const char *path, const char *value, size_t vlen,
	       const char *fmt, ...)
{
	va_list ap;
	char *v;
	size_t i;

	if (rw_bl_allowed(c->bl, ar->cat, ar->rule, c->s->image, path))
		return 0;
	v = malloc(vlen + 1);
	if (v == NULL)
		return rw_error(c->err, errno, "blocklist: the matched value");
	/* the value goes into a message and an audit line: no NUL inside */
	for (i = 0; i < vlen; i++)
		v[i] = value[i] ? value[i] : '?';
	v[vlen] = '\0';
	va_start(ap, fmt);
	vsnprintf(c->m->field, sizeof(c->m->field), fmt, ap);
	va_end(ap);
	c->m->cat = ar->cat;
	c->m->rule = ar->rule;
	c->m->value = v;
	return 1;
}

static int word_hit(struct ctx *c, const struct active_rule *ar, const struct word *w)
{
	/* allow globs see a path; a word with a NUL is none (exec refuses it) */
	const char *path = memchr(w->p, '\0', w->len) ? NULL : w->p;

	return hit(c, ar, path, w->p, w->len, "%s.args[%zu]%s", c->field, w->argi, origin_suffix[w->origin]);
}

/* names: on a program, on a path, on a word equal to the name; args, ports
 * and contains on every word. */
static int check_word(struct ctx *c, const struct word *w, bool program)
{
	const char *slash = memrchr(w->p, '/', w->len);
	char first = w->len ? w->p[0] : '\0', last = w->len ? w->p[w->len - 1] : '\0';
	char base0 = slash ? slash[1] : first;    /* slash[1] is at most p[len], a NUL */
	bool by_base = program || slash;
	struct starts st;
	bool have_starts = false;
	size_t i;
	int r;

	for (i = 0; i < c->nrules; i++) {
		const struct active_rule *ar = &c->rules[i];
		const char *pat = ar->rule->pattern;
		bool found;

		switch (ar->rule->kind) {
		case BL_NAME:
			if (by_base)
				found = lower(base0) == lower(pat[0]) && name_match_n(w->p, w->len, pat, ar->plen);
			else
				found = w->len == ar->plen && ci_eq(w->p, pat, ar->plen);
			break;
		case BL_ARG:
			found = lower(first) == lower(pat[0]) && arg_match(w->p, w->len, pat, ar->plen);
			break;
		case BL_PORT:
			found = ar->plen && lower(last) == lower(pat[ar->plen - 1]) && port_match(w->p, w->len, pat, ar->plen);
			break;
		case BL_CONTAINS:
			if (!have_starts) {
				token_starts(w->p, w->len, &st);
				have_starts = true;
			}
			found = starts_has(&st, pat[0]) && contains_match(w->p, w->len, pat, ar->plen);
			break;
		default:
			continue;
		}
		if (found && (r = word_hit(c, ar, w)) != 0)
			return r;
	}
	return 0;
}

/* A whole sh -c string, before it is split. */
static int check_contains(struct ctx *c, const struct word *w)
{
	size_t i;
	int r;

	for (i = 0; i < c->nrules; i++) {
		const struct active_rule *ar = &c->rules[i];
		if (ar->rule->kind == BL_CONTAINS && contains_match(w->p, w->len, ar->rule->pattern, ar->plen) &&
		    (r = word_hit(c, ar, w)) != 0)
			return r;
	}
	return 0;
}

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* An environment value, or the value of a NAME=value word (w): contains on
 * it, args on its blank-separated words, names on those that are paths. */
static int value_hit(struct ctx *c, const struct active_rule *ar, const struct word *w, size_t env_i,
		     const struct json *entry)
{
	if (w)
		return word_hit(c, ar, w);
	return hit(c, ar, NULL, entry->u.str.s, entry->u.str.len, "%s.env[%zu]", c->field, env_i);
}

static int check_value(struct ctx *c, const char *v, size_t n, const struct word *w, size_t env_i,
		       const struct json *entry)
{
	size_t i, j, k;
	int r;

	for (k = 0; k < c->nrules; k++) {
		const struct active_rule *ar = &c->rules[k];
		if (ar->rule->kind == BL_CONTAINS && contains_match(v, n, ar->rule->pattern, ar->plen) &&
		    (r = value_hit(c, ar, w, env_i, entry)) != 0)
			return r;
	}
	for (i = 0; i < n; i = j) {
		bool path;

		while (i < n && is_blank(v[i]))
			i++;
		for (j = i; j < n && !is_blank(v[j]); j++)
			;
		if (j == i)
			break;
		path = memchr(v + i, '/', j - i) != NULL;
		for (k = 0; k < c->nrules; k++) {
			const struct active_rule *ar = &c->rules[k];
			bool found = ar->rule->kind == BL_ARG ? arg_match(v + i, j - i, ar->rule->pattern, ar->plen)
				   : ar->rule->kind != BL_NAME ? false
				   : path ? name_match_n(v + i, j - i, ar->rule->pattern, ar->plen)
				   /* a command's x=xmrig; $x */
				   : w && j - i == ar->plen && ci_eq(v + i, ar->rule->pattern, ar->plen);
			if (found && (r = value_hit(c, ar, w, env_i, entry)) != 0)
				return r;
		}
	}
	return 0;
}

static bool all_digits(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return n > 0;
}

static bool is_assignment(const char *p, size_t n)
{
	size_t i;

	if (n < 2 || !((alnum(p[0]) && !all_digits(p, 1)) || p[0] == '_'))
		return false;
	for (i = 1; i < n && (alnum(p[i]) || p[i] == '_'); i++)
		;
	return i < n && (p[i] == '=' || (p[i] == '+' && i + 1 < n && p[i + 1] == '='));
}

static int check_assignment(struct ctx *c, const struct word *w)
{
	const char *eq = memchr(w->p, '=', w->len);
	size_t off = (size_t)(eq - w->p) + 1;

	return check_value(c, w->p + off, w->len - off, w, 0, NULL);
}

/* The command's programs, for the rootfs scan. */
static int add_program(struct ctx *c, const struct word *w)
{
	size_t n = strnlen(w->p, w->len), i;

	if (n == 0 || c->nprograms == RW_BL_MAX_PROGRAMS)
		return 0;
	for (i = 0; i < c->nprograms; i++)
		if (strlen(c->programs[i]) == n && memcmp(c->programs[i], w->p, n) == 0)
			return 0;
	c->programs[c->nprograms] = strndup(w->p, n);
	if (c->programs[c->nprograms] == NULL)
		return rw_error(c->err, errno, "blocklist: the command's programs");
	c->nprograms++;
	return 0;
}

/* ---- commands: wrappers, shells ---------------------------------------- */

enum {
	W_ASSIGN = 1,   /* NAME=value words before the program (env, sudo) */
	W_NOOPTS = 2,   /* no options: operands only (busybox APPLET, gosu USER CMD) */
	W_NUMERIC = 4,  /* the positional word is skipped only when it is a number (chrt) */
	W_NOPROG = 8,   /* the operands are not a command (su USER) */
	W_DASH = 16,    /* "-" is an option (env -) */
};

/* A program that runs another: its options, then the real program. */
struct wrapper {
	const char *name;
	const char *short_args;   /* short options that take an argument */
	const char *long_args;    /* long options that take one, space-separated */
	char split;               /* short option whose argument is split into words (env -S) */
	const char *split_long;
	char script;              /* short option whose argument is a shell string (su -c) */
	const char *script_long;
	unsigned positional;      /* operands before the program (timeout's duration) */
	unsigned flags;
};

static const struct wrapper wrappers[] = {
	{ "env", "uCa", "unset chdir argv0", 'S', "split-string", 0, NULL, 0, W_ASSIGN | W_DASH },
	{ "nice", "n", "adjustment", 0, NULL, 0, NULL, 0, 0 },
	{ "nohup", "", "", 0, NULL, 0, NULL, 0, 0 },
	{ "timeout", "skt", "signal kill-after", 0, NULL, 0, NULL, 1, 0 },
	{ "exec", "a", "", 0, NULL, 0, NULL, 0, 0 },
	{ "setsid", "", "", 0, NULL, 0, NULL, 0, 0 },
	{ "stdbuf", "ioe", "input output error", 0, NULL, 0, NULL, 0, 0 },
	{ "taskset", "", "", 0, NULL, 0, NULL, 1, 0 },
	{ "ionice", "cnpPu", "class classdata pid pgid uid", 0, NULL, 0, NULL, 0, 0 },
	{ "chrt", "TPD", "sched-runtime sched-period sched-deadline", 0, NULL, 0, NULL, 1, W_NUMERIC },
	{ "command", "", "", 0, NULL, 0, NULL, 0, 0 },
	{ "builtin", "", "", 0, NULL, 0, NULL, 0, W_NOOPTS },
	{ "time", "fo", "format output", 0, NULL, 0, NULL, 0, 0 },
	{ "busybox", "", "", 0, NULL, 0, NULL, 0, W_NOOPTS },
	{ "sudo", "ugpChUrtTDR",
	  "user group prompt close-from host other-user role type command-timeout chdir chroot",
	  0, NULL, 0, NULL, 0, W_ASSIGN },
	{ "doas", "uC", "", 0, NULL, 0, NULL, 0, 0 },
	{ "su", "gGsw", "group supp-group shell whitelist-environment", 0, NULL, 'c', "command session-command", 0,
	  W_NOPROG },
	{ "tini", "pe", "", 0, NULL, 0, NULL, 0, 0 },
	{ "dumb-init", "r", "rewrite", 0, NULL, 0, NULL, 0, 0 },
	{ "gosu", "", "", 0, NULL, 0, NULL, 1, W_NOOPTS },
	{ "su-exec", "", "", 0, NULL, 0, NULL, 1, W_NOOPTS },
	{ "chroot", "", "userspec groups", 0, NULL, 0, NULL, 1, 0 },
	{ "xargs", "adEILnPs", "arg-file delimiter eof replace max-lines max-args max-procs max-chars", 0, NULL, 0, NULL,
	  0, 0 },
};

static const char *const shells[] = { "sh", "bash", "dash", "ash", "zsh", "ksh", "mksh" };

static bool word_is(const char *p, size_t n, const char *s)
{
	return n > 0 && lower(p[0]) == (unsigned char)s[0] && strlen(s) == n && ci_eq(p, s, n);
}

/* name is an entry of the space-separated list, or a prefix of one (getopt
 * takes abbreviated long options). */
static bool in_list(const char *list, const char *name, size_t n)
{
	while (list && *list && n > 0) {
		size_t len = strcspn(list, " ");
		if (n <= len && memcmp(list, name, n) == 0)
			return true;
		list += len;
		list += *list == ' ';
	}
	return false;
}

enum cmd_state { CMD_START, CMD_WRAPPER, CMD_SHELL, CMD_DOLLAR0, CMD_EVAL, CMD_ARGS };
enum cmd_pending { PEND_NONE, PEND_ARG, PEND_SPLIT, PEND_SCRIPT };

/* Where a command is, word by word. */
struct cmd {
	enum cmd_state state;
	enum cmd_pending pending;   /* the next word is the argument of an option */
	const struct wrapper *wr;
	unsigned positional;        /* the wrapper's operands still to skip */
	unsigned shell_optargs;     /* a shell's -o/-O/--rcfile arguments still to skip */
	bool opts_done;
	bool shell_c;               /* the shell has -c: its first operand is a script */
	bool in_shell;              /* a command of a shell string: assignments, reserved words */
};

#define SHELL_PUNCT "'\"\\`$;&|()<>{}"

static int feed(struct ctx *c, struct cmd *cmd, const struct word *w);
static int scan_text(struct ctx *c, enum origin origin, size_t argi, const char *p, size_t n, const char *seps);
static int lex_string(struct ctx *c, const struct word *w, const char *p, size_t n, struct cmd *split_into);

/* The words first, for a precise message; then the whole string. */
static int run_script(struct ctx *c, const struct word *w, const char *p, size_t n)
{
	int r = lex_string(c, w, p, n, NULL);

	return r ? r : check_contains(c, w);
}

static int option_arg(struct ctx *c, struct cmd *cmd, const struct word *w, enum cmd_pending what, const char *p,
		      size_t n)
{
	if (what == PEND_SPLIT)
		return lex_string(c, w, p, n, cmd);
	if (what == PEND_SCRIPT)
		return run_script(c, w, p, n);
	return 0;
}

enum reserved { RES_NONE, RES_SKIP, RES_NOPROG };

static enum reserved reserved(const char *p, size_t n)
{
	static const char *const skip[] = { "!", "{", "}", "if", "then", "else", "elif", "fi", "do", "done",
					    "while", "until", "esac", "coproc" };
	static const char *const noprog[] = { "for", "case", "select", "function", "[[" };
	size_t i;

	for (i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		if (word_is(p, n, skip[i]))
			return RES_SKIP;
	for (i = 0; i < sizeof(noprog) / sizeof(noprog[0]); i++)
		if (word_is(p, n, noprog[i]))
			return RES_NOPROG;
	return RES_NONE;
}

/* The first word of a command, or the first operand after a wrapper. */
static int start_word(struct ctx *c, struct cmd *cmd, const struct word *w)
{
	const char *slash = memrchr(w->p, '/', w->len);
	const char *base = slash ? slash + 1 : w->p;
	size_t blen = w->len - (size_t)(base - w->p), i;
	int r;

	if (cmd->in_shell) {
		if (is_assignment(w->p, w->len))
			return check_assignment(c, w);
		switch (reserved(w->p, w->len)) {
		case RES_SKIP:
			return 0;
		case RES_NOPROG:
			cmd->state = CMD_ARGS;
			return check_word(c, w, false);
		case RES_NONE:
			break;
		}
	}
	for (i = 0; i < sizeof(wrappers) / sizeof(wrappers[0]); i++) {
		if (word_is(base, blen, wrappers[i].name)) {
			cmd->state = CMD_WRAPPER;
			cmd->wr = &wrappers[i];
			cmd->positional = wrappers[i].positional;
			cmd->opts_done = wrappers[i].flags & W_NOOPTS;
			return check_word(c, w, false);
		}
	}
	if (word_is(base, blen, "eval")) {
		cmd->state = CMD_EVAL;
		return check_word(c, w, false);
	}
	cmd->state = CMD_ARGS;
	for (i = 0; i < sizeof(shells) / sizeof(shells[0]); i++) {
		if (word_is(base, blen, shells[i])) {
			cmd->state = CMD_SHELL;
			cmd->opts_done = cmd->shell_c = false;
			cmd->shell_optargs = 0;
		}
	}
	/* bash: {xmrig,-o,pool} runs xmrig */
	if (cmd->in_shell && memchr(w->p, '{', w->len) &&
	    (r = scan_text(c, w->origin, w->argi, w->p, w->len, "{,}")) != 0)
		return r;
	if ((r = add_program(c, w)) < 0)
		return r;
	return check_word(c, w, true);
}

static int long_option(struct ctx *c, struct cmd *cmd, const struct word *w)
{
	const struct wrapper *wr = cmd->wr;
	const char *name = w->p + 2, *eq = memchr(name, '=', w->len - 2);
	size_t n = eq ? (size_t)(eq - name) : w->len - 2;
	enum cmd_pending what = in_list(wr->split_long, name, n)    ? PEND_SPLIT
				: in_list(wr->script_long, name, n) ? PEND_SCRIPT
				: in_list(wr->long_args, name, n)   ? PEND_ARG
								    : PEND_NONE;

	if (what == PEND_NONE)
		return 0;
	if (eq)
		return option_arg(c, cmd, w, what, eq + 1, w->len - (size_t)(eq + 1 - w->p));
	cmd->pending = what;
	return 0;
}

static int wrapper_word(struct ctx *c, struct cmd *cmd, const struct word *w)
{
	const struct wrapper *wr = cmd->wr;
	const char *p = w->p;
	size_t n = w->len, k;
	int r;

	if (!cmd->opts_done && n >= 2 && p[0] == '-') {
		if ((r = check_word(c, w, false)) != 0)
			return r;
		if (n == 2 && p[1] == '-') {
			cmd->opts_done = true;
			return 0;
		}
		if (p[1] == '-')
			return long_option(c, cmd, w);
		for (k = 1; k < n; k++) {
			char o = p[k];
			enum cmd_pending what;

			if (o == '\0' || (k == 1 && o >= '0' && o <= '9'))   /* nice -10 */
				break;
			what = o == wr->split ? PEND_SPLIT : o == wr->script ? PEND_SCRIPT
				: strchr(wr->short_args, o) ? PEND_ARG : PEND_NONE;
			if (what == PEND_NONE)
				continue;
			if (k + 1 < n)
				return option_arg(c, cmd, w, what, p + k + 1, n - k - 1);
			cmd->pending = what;
			break;
		}
		return 0;
	}
	if (!cmd->opts_done && n == 1 && p[0] == '-' && (wr->flags & W_DASH))
		return check_word(c, w, false);
	if ((wr->flags & W_ASSIGN) && is_assignment(p, n))
		return check_assignment(c, w);
	if (cmd->positional > 0 && !((wr->flags & W_NUMERIC) && !all_digits(p, n))) {
		cmd->positional--;
		cmd->opts_done = true;
		return check_word(c, w, false);
	}
	if (wr->flags & W_NOPROG) {
		cmd->state = CMD_ARGS;
		return check_word(c, w, false);
	}
	cmd->state = CMD_START;
	return start_word(c, cmd, w);
}

static int shell_word(struct ctx *c, struct cmd *cmd, const struct word *w)
{
	const char *p = w->p;
	size_t n = w->len, k;

	if (cmd->shell_optargs > 0) {
		cmd->shell_optargs--;
		return check_word(c, w, false);
	}
	if (!cmd->opts_done && n >= 1 && (p[0] == '-' || p[0] == '+')) {
		if (n == 1 || (n == 2 && p[1] == '-'))
			cmd->opts_done = true;
		else if (p[1] == '-')
			cmd->shell_optargs += in_list("rcfile init-file", p + 2, n - 2);
		else
			for (k = 1; k < n; k++) {
				if (p[k] == 'c' && p[0] == '-')
					cmd->shell_c = true;
				else if (p[k] == 'o' || p[k] == 'O')
					cmd->shell_optargs++;
			}
		return check_word(c, w, false);
	}
	if (cmd->shell_c) {
		cmd->state = CMD_DOLLAR0;
		return run_script(c, w, w->p, w->len);
	}
	/* sh FILE: the file is what runs. The rootfs scan reads it where the
	 * shell would (a bare name: the working directory). */
	cmd->state = CMD_ARGS;
	if (w->len > 0 && w->len < PATH_MAX && !memchr(w->p, '/', w->len) && !memchr(w->p, '\0', w->len)) {
		char rel[PATH_MAX + 2];
		struct word dot = *w;
		int r;

		snprintf(rel, sizeof(rel), "./%.*s", (int)w->len, w->p);
		dot.p = rel;
		dot.len = w->len + 2;
		if ((r = add_program(c, &dot)) < 0)
			return r;
	} else if (add_program(c, w) < 0)
		return -1;
	return check_word(c, w, true);
}

static int feed(struct ctx *c, struct cmd *cmd, const struct word *w)
{
	if (cmd->pending != PEND_NONE) {
		enum cmd_pending what = cmd->pending;

		cmd->pending = PEND_NONE;
		if (what == PEND_ARG)
			return check_word(c, w, false);
		return option_arg(c, cmd, w, what, w->p, w->len);
	}
	switch (cmd->state) {
	case CMD_START:
		return start_word(c, cmd, w);
	case CMD_WRAPPER:
		return wrapper_word(c, cmd, w);
	case CMD_SHELL:
		return shell_word(c, cmd, w);
	case CMD_DOLLAR0:
		/* sh -c '"$0" -o pool' xmrig: $0 is often the program */
		cmd->state = CMD_ARGS;
		return check_word(c, w, true);
	case CMD_EVAL:
		return run_script(c, w, w->p, w->len);
	case CMD_ARGS:
		break;
	}
	return check_word(c, w, false);
}

/* ---- shell strings ------------------------------------------------------- */

/* Room for one more byte and a NUL. */
static int buf_reserve(struct ctx *c, struct buf *b)
{
	if (b->len + 2 > b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 64;
		char *p = realloc(b->p, cap);
		if (p == NULL)
			return rw_error(c->err, errno, "blocklist: a command word");
		b->p = p;
		b->cap = cap;
	}
	return 0;
}

static int buf_add(struct ctx *c, struct buf *b, char ch)
{
	if (buf_reserve(c, b) < 0)
		return -1;
	b->p[b->len++] = ch;
	return 0;
}

/* Text too deep to split: cut at blanks and at seps, and each piece checked
 * as if it were a program. */
static int scan_text(struct ctx *c, enum origin origin, size_t argi, const char *p, size_t n, const char *seps)
{
	struct buf *b = &c->words[BL_MAX_DEPTH + 1];
	size_t i = 0;
	int r;

	while (i < n) {
		b->len = 0;
		for (; i < n && p[i] && !is_blank(p[i]) && !strchr(seps, p[i]); i++)
			if (buf_add(c, b, p[i]) < 0)
				return -1;
		if (b->len > 0) {
			struct word w = { b->p, b->len, argi, origin, BL_MAX_DEPTH + 1 };
			b->p[b->len] = '\0';
			if ((r = check_word(c, &w, true)) != 0)
				return r;
		}
		if (i < n)
			i++;
	}
	return 0;
}

struct lexer {
	const char *s;
	size_t n, i;
	int depth;
	enum origin origin;
	size_t argi;
	bool split;          /* env -S: blanks, quotes and backslashes only */
	bool until_paren;    /* $( ... ): ends at its unmatched ')' */
	unsigned parens;     /* subshells open inside it */
	bool have;           /* a word is being built (it may be empty: '') */
	bool redirect;       /* that word is a redirection's target */
	struct buf *b;       /* c->words[depth] */
	struct cmd own, *cmd;
};

static int lex_run(struct ctx *c, struct lexer *lx);

static int lex_add(struct ctx *c, struct lexer *lx, char ch)
{
	lx->have = true;
	return buf_add(c, lx->b, ch);
}

static int lex_emit(struct ctx *c, struct lexer *lx)
{
	struct word w;
	int r;

	if (!lx->have)
		return 0;
	if (buf_reserve(c, lx->b) < 0)
		return -1;
	lx->b->p[lx->b->len] = '\0';
	w = (struct word){ lx->b->p, lx->b->len, lx->argi, lx->origin, lx->depth };
	lx->have = false;
	if (lx->redirect) {
		lx->redirect = false;
		r = check_word(c, &w, false);
	} else {
		r = feed(c, lx->cmd, &w);
	}
	lx->b->len = 0;
	return r;
}

static int lex_end_command(struct ctx *c, struct lexer *lx)
{
	int r = lex_emit(c, lx);

	lx->redirect = false;
	if (!lx->split)
		lx->own = (struct cmd){ .in_shell = true };
	return r;
}

static void lexer_init(struct lexer *lx, struct ctx *c, const char *s, size_t n, int depth, enum origin origin,
		       size_t argi)
{
	*lx = (struct lexer){ .s = s, .n = n, .depth = depth, .origin = origin, .argi = argi,
			      .b = &c->words[depth] };
	lx->own.in_shell = true;
	lx->cmd = &lx->own;
}

/* The end of a $( ) too deep to split: parentheses counted, quotes skipped. */
static size_t skip_parens(const char *s, size_t i, size_t n)
{
	unsigned open = 1;

	while (i < n) {
		char ch = s[i++];
		if (ch == '\\') {
			i += i < n;
		} else if (ch == '\'' || ch == '"') {
			while (i < n && s[i] != ch)
				i += ch == '"' && s[i] == '\\' && i + 1 < n ? 2 : 1;
			i += i < n;
		} else if (ch == '(') {
			open++;
		} else if (ch == ')' && --open == 0) {
			break;
		}
	}
	return i;
}

/* $( ... ) or <( ... ) from start (after the parenthesis): commands of their
 * own. The word around it keeps nothing of it. */
static int lex_subst(struct ctx *c, struct lexer *lx, size_t start)
{
	struct lexer sub;
	int r;

	if (lx->depth + 1 > BL_MAX_DEPTH) {
		lx->i = skip_parens(lx->s, start, lx->n);
		return scan_text(c, lx->origin, lx->argi, lx->s + start, lx->i - start, SHELL_PUNCT);
	}
	lexer_init(&sub, c, lx->s + start, lx->n - start, lx->depth + 1, lx->origin, lx->argi);
	sub.until_paren = true;
	r = lex_run(c, &sub);
	lx->i = start + sub.i;
	return r;
}

/* `...`: up to the next unescaped backquote; \` \\ \$ inside lose their
 * backslash before the contents are split, as POSIX says. */
static int lex_backquote(struct ctx *c, struct lexer *lx)
{
	const char *s = lx->s;
	size_t start = lx->i + 1, j = start, k;
	struct buf *t;
	struct lexer sub;

	while (j < lx->n && s[j] != '`')
		j += s[j] == '\\' && j + 1 < lx->n ? 2 : 1;
	lx->i = j < lx->n ? j + 1 : lx->n;
	if (lx->depth + 1 > BL_MAX_DEPTH)
		return scan_text(c, lx->origin, lx->argi, s + start, j - start, SHELL_PUNCT);
	t = &c->text[lx->depth + 1];
	t->len = 0;
	for (k = start; k < j; k++) {
		if (s[k] == '\\' && k + 1 < j && (s[k + 1] == '`' || s[k + 1] == '\\' || s[k + 1] == '$'))
			k++;
		if (buf_add(c, t, s[k]) < 0)
			return -1;
	}
	lexer_init(&sub, c, t->p ? t->p : "", t->len, lx->depth + 1, lx->origin, lx->argi);
	return lex_run(c, &sub);
}

static int lex_single(struct ctx *c, struct lexer *lx)
{
	lx->i++;
	lx->have = true;
	while (lx->i < lx->n && lx->s[lx->i] != '\'')
		if (buf_add(c, lx->b, lx->s[lx->i++]) < 0)
			return -1;
	lx->i += lx->i < lx->n;
	return 0;
}

static int hexval(char ch)
{
	return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
		: ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* $'...' */
static int lex_ansi(struct ctx *c, struct lexer *lx)
{
	const char *s = lx->s;
	size_t n = lx->n;

	lx->i += 2;
	lx->have = true;
	while (lx->i < n && s[lx->i] != '\'') {
		char ch = s[lx->i++];
		if (ch == '\\' && lx->i < n) {
			char e = s[lx->i++];
			unsigned v = 0, k;
			switch (e) {
			case 'n': ch = '\n'; break;
			case 't': ch = '\t'; break;
			case 'r': ch = '\r'; break;
			case 'a': ch = '\a'; break;
			case 'b': ch = '\b'; break;
			case 'f': ch = '\f'; break;
			case 'v': ch = '\v'; break;
			case 'e': case 'E': ch = 27; break;
			case 'c': ch = lx->i < n ? (char)(s[lx->i++] & 0x1f) : 'c'; break;
			case 'x':
				for (k = 0; k < 2 && lx->i < n && hexval(s[lx->i]) >= 0; k++)
					v = v * 16 + (unsigned)hexval(s[lx->i++]);
				ch = k ? (char)v : 'x';
				break;
			case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7':
				v = (unsigned)(e - '0');
				for (k = 1; k < 3 && lx->i < n && s[lx->i] >= '0' && s[lx->i] <= '7'; k++)
					v = v * 8 + (unsigned)(s[lx->i++] - '0');
				ch = (char)v;
				break;
			default:
				ch = e;
			}
		}
		if (buf_add(c, lx->b, ch) < 0)
			return -1;
	}
	lx->i += lx->i < n;
	return 0;
}

static int lex_double(struct ctx *c, struct lexer *lx)
{
	const char *s = lx->s;
	size_t n = lx->n;
	int r;

	lx->i++;
	lx->have = true;
	while (lx->i < n && s[lx->i] != '"') {
		char ch = s[lx->i];
		if (ch == '\\' && lx->i + 1 < n) {
			char e = s[lx->i + 1];
			if (lx->split || e == '$' || e == '`' || e == '"' || e == '\\') {
				lx->i += 2;
				if (buf_add(c, lx->b, e) < 0)
					return -1;
				continue;
			}
			if (e == '\n') {
				lx->i += 2;
				continue;
			}
		} else if (!lx->split && ch == '$' && lx->i + 1 < n && s[lx->i + 1] == '(') {
			if ((r = lex_subst(c, lx, lx->i + 2)) != 0)
				return r;
			continue;
		} else if (!lx->split && ch == '`') {
			if ((r = lex_backquote(c, lx)) != 0)
				return r;
			continue;
		}
		lx->i++;
		if (buf_add(c, lx->b, ch) < 0)
			return -1;
	}
	lx->i += lx->i < n;
	return 0;
}

/* < > >> 2>&1 &> <<EOF: the word after it is a file, not a program. */
static int lex_redirect(struct ctx *c, struct lexer *lx)
{
	unsigned k;
	int r;

	if (lx->have && lx->b->len > 0 && all_digits(lx->b->p, lx->b->len)) {
		lx->have = false;    /* 2>: a descriptor */
		lx->b->len = 0;
	} else if ((r = lex_emit(c, lx)) != 0) {
		return r;
	}
	lx->i++;
	for (k = 0; k < 2 && lx->i < lx->n && lx->s[lx->i] && strchr("<>&|-", lx->s[lx->i]); k++)
		lx->i++;
	lx->redirect = true;
	return 0;
}

static int lex_run(struct ctx *c, struct lexer *lx)
{
	const char *s = lx->s;
	size_t n = lx->n;
	int r;

	lx->b->len = 0;
	while (lx->i < n) {
		char ch = s[lx->i], next = lx->i + 1 < n ? s[lx->i + 1] : '\0';

		r = 0;
		if (ch == ' ' || ch == '\t' || (lx->split && is_blank(ch))) {
			lx->i++;
			r = lex_emit(c, lx);
		} else if (ch == '#' && !lx->have) {
			while (lx->i < n && s[lx->i] != '\n')
				lx->i++;
		} else if (ch == '\\') {
			lx->i += 2;
			if (lx->i > n)
				lx->i = n;
			else if (next != '\n' || lx->split)
				r = lex_add(c, lx, next);
		} else if (ch == '\'') {
			r = lex_single(c, lx);
		} else if (ch == '"') {
			r = lex_double(c, lx);
		} else if (lx->split) {
			lx->i++;
			r = lex_add(c, lx, ch);
		} else if (ch == '$' && next == '(') {
			r = lex_subst(c, lx, lx->i + 2);
		} else if (ch == '$' && next == '\'') {
			r = lex_ansi(c, lx);
		} else if (ch == '$' && next == '"') {
			lx->i++;    /* $"...": a translated string */
		} else if (ch == '`') {
			r = lex_backquote(c, lx);
		} else if ((ch == '<' || ch == '>') && next == '(') {
			r = lex_subst(c, lx, lx->i + 2);
		} else if (ch == '<' || ch == '>' || (ch == '&' && next == '>')) {
			r = lex_redirect(c, lx);
		} else if (ch == ')' && lx->until_paren && lx->parens == 0) {
			lx->i++;
			return lex_end_command(c, lx);
		} else if (ch == '\n' || ch == ';' || ch == '&' || ch == '|' || ch == '(' || ch == ')') {
			if (ch == '(' && lx->until_paren)
				lx->parens++;
			else if (ch == ')' && lx->parens > 0)
				lx->parens--;
			lx->i++;
			r = lex_end_command(c, lx);
		} else {
			lx->i++;
			r = lex_add(c, lx, ch);
		}
		if (r != 0)
			return r;
	}
	return lex_end_command(c, lx);
}

/* p[0..n), found in word w, split as a shell would: as a script, or with
 * split_into as env -S does (words only, continuing that command). */
static int lex_string(struct ctx *c, const struct word *w, const char *p, size_t n, struct cmd *split_into)
{
	struct lexer lx;
	enum origin origin = !split_into ? FROM_SH : w->origin == FROM_ARGS ? FROM_ENV_S : w->origin;

	if (w->depth + 1 > BL_MAX_DEPTH)
		return scan_text(c, origin, w->argi, p, n, SHELL_PUNCT);
	lexer_init(&lx, c, p, n, w->depth + 1, origin, w->argi);
	if (split_into) {
		lx.split = true;
		lx.cmd = split_into;
	}
	return lex_run(c, &lx);
}

/* ---- the checks ---------------------------------------------------------- */

static int check_image(struct ctx *c)
{
	const char *img = c->s->image, *digest = c->s->image_digest;
	size_t i;
	int r;

	if (img) {
		/* registry:5000/ns/xmrig:tag@sha256:...: the repository's last component */
		const char *end = img + strcspn(img, "@"), *slash = memrchr(img, '/', (size_t)(end - img));
		const char *last = slash ? slash + 1 : img, *colon = memchr(last, ':', (size_t)(end - last));
		cleanup_free char *name = strndup(last, (size_t)((colon ? colon : end) - last));

		if (name == NULL)
			return rw_error(c->err, errno, "blocklist: the image name");
		for (i = 0; i < c->nrules; i++) {
			const struct active_rule *ar = &c->rules[i];
			bool found = ar->rule->kind == BL_IMAGE ? fnmatch(ar->rule->pattern, img, FNM_CASEFOLD) == 0
				   : ar->rule->kind == BL_NAME && rw_bl_name_match(name, ar->rule->pattern);
			if (found && (r = hit(c, ar, NULL, img, strlen(img), "image")) != 0)
				return r;
		}
	}
	for (i = 0; digest && i < c->nrules; i++) {
		const struct active_rule *ar = &c->rules[i];
		if (ar->rule->kind == BL_IMAGE_DIGEST && digest_eq(digest, ar->rule->pattern) &&
		    (r = hit(c, ar, NULL, digest, strlen(digest), "image digest")) != 0)
			return r;
	}
	return 0;
}

static int check_command(struct ctx *c, const struct json *args)
{
	struct cmd cmd = { .state = CMD_START };
	size_t i;
	int r;

	if (c->s->process) {
		if (args == NULL || args->type != JSON_ARRAY)
			return 0;
		for (i = 0; i < args->u.arr.n; i++) {
			const struct json *a = args->u.arr.v[i];
			struct word w = { NULL, 0, i, FROM_ARGS, 0 };
			if (a->type != JSON_STRING)
				continue;
			w.p = a->u.str.s;
			w.len = a->u.str.len;
			if ((r = feed(c, &cmd, &w)) != 0)
				return r;
		}
		return 0;
	}
	for (i = 0; c->s->argv && i < c->s->argc; i++) {
		struct word w = { c->s->argv[i], 0, i, FROM_ARGS, 0 };
		if (w.p == NULL)
			continue;
		w.len = strlen(w.p);
		if ((r = feed(c, &cmd, &w)) != 0)
			return r;
	}
	return 0;
}

static int check_env(struct ctx *c, const struct json *env)
{
	size_t i;
	int r;

	for (i = 0; env && env->type == JSON_ARRAY && i < env->u.arr.n; i++) {
		const struct json *e = env->u.arr.v[i];
		const char *eq;
		size_t off;

		if (e->type != JSON_STRING)
			continue;
		eq = memchr(e->u.str.s, '=', e->u.str.len);
		off = eq ? (size_t)(eq - e->u.str.s) + 1 : 0;
		if ((r = check_value(c, e->u.str.s + off, e->u.str.len - off, NULL, i, e)) != 0)
			return r;
	}
	return 0;
}

/* The value of the last PATH= entry. */
static const char *path_of(const struct json *env)
{
	const char *path = NULL;
	size_t i;

	for (i = 0; env && env->type == JSON_ARRAY && i < env->u.arr.n; i++) {
		const struct json *e = env->u.arr.v[i];
		if (e->type == JSON_STRING && e->u.str.len >= 5 && memcmp(e->u.str.s, "PATH=", 5) == 0)
			path = e->u.str.s + 5;
	}
	return path;
}

static int active_rules(struct ctx *c)
{
	const struct rw_blocklist *bl = c->bl;
	size_t n = 0, i, k;

	for (i = 0; i < bl->ncats; i++)
		n += bl->cats[i].nrules;
	c->rules = calloc(n ? n : 1, sizeof(*c->rules));
	if (c->rules == NULL)
		return rw_error(c->err, errno, "blocklist: rules");
	for (i = 0; i < bl->ncats; i++) {
		const struct rw_bl_category *cat = &bl->cats[i];
		if (!rw_bl_category_active(cat, c->s->tier))
			continue;
		for (k = 0; k < cat->nrules; k++) {
			if (cat->rules[k].pattern == NULL)
				continue;
			c->rules[c->nrules++] = (struct active_rule){ cat, &cat->rules[k], strlen(cat->rules[k].pattern) };
		}
	}
	return 0;
}

static void ctx_release(struct ctx *c)
{
	size_t i;

	free(c->rules);
	for (i = 0; i < c->nprograms; i++)
		free(c->programs[i]);
	for (i = 0; i < BL_MAX_DEPTH + 2; i++) {
		free(c->words[i].p);
		free(c->text[i].p);
	}
}

int rw_blocklist_check(const struct rw_blocklist *bl, const struct rw_bl_subject *s,
		       struct rw_bl_match *m, struct rw_bl_stats *st, rw_error_t *err)
{
	struct ctx c = { .bl = bl, .s = s, .m = m, .err = err, .field = s->field ? s->field : "process" };
	const struct json *env = json_get(s->process, "env");
	int r;

	memset(m, 0, sizeof(*m));
	memset(st, 0, sizeof(*st));
	r = active_rules(&c);
	if (r == 0)
		r = check_image(&c);
	if (r == 0)
		r = check_command(&c, json_get(s->process, "args"));
	if (r == 0)
		r = check_env(&c, env);
	if (r == 0 && s->rootfs)
		r = rw_bl_scan_rootfs(bl, s, c.programs, c.nprograms, path_of(env), m, st, err);
	ctx_release(&c);
	if (r < 0) {
		rw_bl_match_release(m);
		m->cat = NULL;
		m->rule = NULL;
	}
	return r;
}
