#include "config.h"
#include "shim/strv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rw_strv_push(char ***v, size_t *n, char *s)
{
	char **nv;

	if (s == NULL || (nv = realloc(*v, (*n + 2) * sizeof(*nv))) == NULL) {
		free(s);
		return -1;
	}
	nv[(*n)++] = s;
	nv[*n] = NULL;
	*v = nv;
	return 0;
}

int rw_strv_vpushf(char ***v, size_t *n, const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	return rw_strv_push(v, n, s);
}

int rw_strv_pushf(char ***v, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = rw_strv_vpushf(v, n, fmt, ap);
	va_end(ap);
	return r;
}

int rw_strv_copy(char ***v, size_t *n, char *const *src, size_t src_n)
{
	size_t i;

	rw_strv_free(v, n);
	for (i = 0; i < src_n; i++)
		if (rw_strv_push(v, n, strdup(src[i])) < 0)
			return -1;
	return 0;
}

void rw_strv_free(char ***v, size_t *n)
{
	size_t i;

	for (i = 0; i < *n; i++)
		free((*v)[i]);
	free(*v);
	*v = NULL;
	*n = 0;
}
