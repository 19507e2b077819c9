#include "config.h"
#include "shim/log.h"
#include "shim/json.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

char *rw_json_quote(const char *s)
{
	struct json j = { .type = JSON_STRING, .u.str = { (char *)s, strlen(s) } };
	struct json_buf b = { 0 };
	cleanup_error rw_error_t err = NULL;

	if (json_emit(&j, &b, &err) < 0) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* Go's %q, enough for logrus' text formatter: quotes and backslashes escaped,
 * control characters as \xNN. */
static char *go_quote(const char *s)
{
	size_t n = strlen(s), i, o = 0;
	char *out = malloc(n * 4 + 3);

	if (out == NULL)
		return NULL;
	out[o++] = '"';
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)sprintf(out + o, "\\x%02x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

void rw_report_error(const char *log_path, const char *log_format, const char *msg)
{
	cleanup_free char *full = NULL, *quoted = NULL, *line = NULL;
	char when[64];
	struct timespec ts;
	struct tm tm;
	int n;

	if (asprintf(&full, "runwarden: %s", msg) < 0)
		full = NULL;
	fprintf(stderr, "%s\n", full ? full : msg);
	if (log_path == NULL || *log_path == '\0' || full == NULL)
		return;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);

	if (log_format && strcmp(log_format, "text") == 0) {
		quoted = go_quote(full);
		n = quoted ? asprintf(&line, "time=\"%s\" level=error msg=%s\n", when, quoted) : -1;
	} else {
		quoted = rw_json_quote(full);
		n = quoted ? asprintf(&line, "{\"level\":\"error\",\"msg\":%s,\"time\":\"%s\"}\n", quoted, when) : -1;
	}
	if (n < 0)
		return;
	{
		cleanup_close int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		/* One write(2) of the whole line: O_APPEND keeps concurrent writers' lines whole. */
		if (fd >= 0 && write(fd, line, (size_t)n) != n)
			fprintf(stderr, "runwarden: could not write the log file %s\n", log_path);
	}
}
