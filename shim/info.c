#include "config.h"
#include "shim/info.h"
#include "shim/fileio.h"
#include "shim/json.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Runs path with one argument, returns its stdout (at most 1 MiB) and exit status. */
static int capture(const char *path, const char *arg, char **out, size_t *len, int *status, rw_error_t *err)
{
	char *argv[] = { (char *)path, (char *)arg, NULL };
	posix_spawn_file_actions_t fa;
	int p[2], r;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return rw_error(err, errno, "pipe");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	r = posix_spawn(&pid, path, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (r != 0) {
		close(p[0]);
		return rw_error(err, r, "run %s %s", path, arg);
	}
	r = rw_read_fd(p[0], path, 1u << 20, out, len, err);
	close(p[0]);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	return r;
}

int rw_print_version(const struct rw_delegate *d, const char *why_none)
{
	cleanup_free char *out = NULL;
	cleanup_error rw_error_t err = NULL;
	size_t len;
	int status = 0;
	char *line, *save = NULL;

	/* dockerd (docker info) takes the last line containing "version" and the
	 * last "commit:" line: ours, so the delegate's lines are renamed. */
	printf("runwarden version %s\ncommit: %s\nspec: %s\n", PACKAGE_VERSION, RW_COMMIT, RW_OCI_SPEC);
	if (d == NULL) {
		printf("delegate: none (%s)\n", why_none);
		return 0;
	}
	printf("delegate: %s\n", d->path);
	if (capture(d->path, "--version", &out, &len, &status, &err) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		printf("delegate-release: unknown (%s --version failed)\n", d->path);
		return 0;
	}
	/* None of the delegate's lines may contain "version": dockerd would take
	 * the last one for the runtime's name and version. */
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *v = strstr(line, " version ");
		char *colon = strchr(line, ':');
		char *w;

		while ((w = strstr(line, "version")) != NULL)
			memcpy(w, "release", 7);
		if (v)
			printf("delegate-release: %s\n", v + strlen(" version "));
		else if (colon && colon > line && memchr(line, ' ', (size_t)(colon - line)) == NULL)
			printf("delegate-%.*s:%s\n", (int)(colon - line), line, colon + 1);
		else
			printf("delegate-info: %s\n", line);
	}
	return 0;
}

int rw_print_features(const struct rw_delegate *d, rw_error_t *err)
{
	cleanup_free char *out = NULL;
	cleanup_json struct json *doc = NULL;
	cleanup_error rw_error_t ignored = NULL;
	struct json_buf b = { 0 };
	struct json *ann;
	size_t len = 0;
	int status = 0;

	/* A delegate without `features` (runsc 2022, crun 1.8) still gets an
	 * answer: the minimum the runtime-spec's features document requires. */
	if (capture(d->path, "features", &out, &len, &status, &ignored) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0 || json_parse(out, len, 0, "features", &doc, &ignored) < 0 ||
	    doc->type != JSON_OBJECT) {
		static const char fallback[] = "{\"ociVersionMin\":\"1.0.0\",\"ociVersionMax\":\"" RW_OCI_SPEC "\"}";
		json_free(doc);
		doc = NULL;
		if (json_parse(fallback, sizeof(fallback) - 1, 0, "features", &doc, err) < 0)
			return -1;
	}
	ann = json_get_object(doc, "annotations", err);
	if (ann == NULL ||
	    json_set(ann, "org.runwarden.version", json_new_string(PACKAGE_VERSION), err) < 0 ||
	    json_set(ann, "org.runwarden.delegate", json_new_string(d->name), err) < 0 ||
	    json_emit(doc, &b, err) < 0) {
		free(b.p);
		return -1;
	}
	printf("%s\n", b.p);
	free(b.p);
	return 0;
}
