#include "config.h"
#include "shim/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int rw_error(rw_error_t *err, int errno_, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	if (err == NULL || *err != NULL)
		return -1;
	*err = calloc(1, sizeof(**err));
	if (*err == NULL)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	(*err)->errno_ = errno_;
	if (msg && errno_) {
		char *full = NULL;
		if (asprintf(&full, "%s: %s", msg, strerror(errno_)) >= 0) {
			free(msg);
			msg = full;
		}
	}
	(*err)->msg = msg ? msg : strdup("out of memory");
	return -1;
}

int rw_error_prefix(rw_error_t *err, const char *fmt, ...)
{
	va_list ap;
	char *ctx = NULL, *full = NULL;

	if (err == NULL || *err == NULL)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&ctx, fmt, ap) < 0)
		ctx = NULL;
	va_end(ap);
	if (ctx && asprintf(&full, "%s: %s", ctx, (*err)->msg) >= 0) {
		free((*err)->msg);
		(*err)->msg = full;
	}
	free(ctx);
	return -1;
}

void rw_error_free(rw_error_t *err)
{
	if (err && *err) {
		free((*err)->msg);
		free(*err);
		*err = NULL;
	}
}
