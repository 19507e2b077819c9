/* The blocklist matcher: image, command (wrappers and sh -c unwrapped),
 * environment; the root filesystem is scan.c's. See blocklist.h. */
#include "config.h"
#include "policy/blocklist.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool rw_bl_name_match(const char *name, const char *pattern)
{
	const char *base = strrchr(name, '/');
	size_t n = strlen(pattern);
	char next;

	base = base ? base + 1 : name;
	if (n == 0 || strncasecmp(base, pattern, n) != 0)
		return false;
	next = base[n];
	return next == '\0' || next == '-' || next == '_' || next == '.' || next == '@' ||
	       (next >= '0' && next <= '9');
}

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

/* STUB: the matcher lands here (helper). */
int rw_blocklist_check(const struct rw_blocklist *bl, const struct rw_bl_subject *s,
		       struct rw_bl_match *m, struct rw_bl_stats *st, rw_error_t *err)
{
	memset(m, 0, sizeof(*m));
	memset(st, 0, sizeof(*st));
	(void)bl; (void)s; (void)err;
	return 0;
}
