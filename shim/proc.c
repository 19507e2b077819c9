#include "config.h"

#include "shim/proc.h"
#include "shim/error.h"
#include "shim/fileio.h"
#include "shim/strv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int rw_proc_comm(pid_t pid, char *out, size_t size)
{
	char p[64];
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/comm", (int)pid);
	f = fopen(p, "re");
	if (f == NULL)
		return -1;
	if (fgets(out, (int)size, f) == NULL) {
		fclose(f);
		return -1;
	}
	fclose(f);
	out[strcspn(out, "\n")] = '\0';
	return 0;
}

int rw_proc_argv(pid_t pid, char ***argv, size_t *argc)
{
	char p[64];
	cleanup_free char *buf = NULL;
	cleanup_error rw_error_t err = NULL;
	size_t len, i = 0;
	int fd, r;

	snprintf(p, sizeof(p), "/proc/%d/cmdline", (int)pid);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = rw_read_fd(fd, p, 1 << 20, &buf, &len, &err);
	close(fd);
	if (r < 0)
		return -1;
	while (i < len) {
		size_t l = strnlen(buf + i, len - i);
		if (rw_strv_push(argv, argc, strndup(buf + i, l)) < 0) {
			rw_strv_free(argv, argc);
			return -1;
		}
		i += l + 1;
	}
	return 0;
}

int rw_proc_find(const char *comm, pid_t **pids, size_t *n)
{
	DIR *dir;
	struct dirent *e;
	size_t cap = 0;

	*pids = NULL;
	*n = 0;
	if ((dir = opendir("/proc")) == NULL)
		return -1;
	while ((e = readdir(dir)) != NULL) {
		char *end, name[64];
		long v = strtol(e->d_name, &end, 10);

		if (*end || v <= 0 || rw_proc_comm((pid_t)v, name, sizeof(name)) < 0 || strcmp(name, comm) != 0)
			continue;
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			pid_t *np = realloc(*pids, nc * sizeof(**pids));
			if (np == NULL) {
				free(*pids);
				*pids = NULL;
				*n = 0;
				closedir(dir);
				errno = ENOMEM;
				return -1;
			}
			*pids = np;
			cap = nc;
		}
		(*pids)[(*n)++] = (pid_t)v;
	}
	closedir(dir);
	return 0;
}

const char *rw_argv_flag(char *const *argv, size_t argc, const char *name, const char *alt, size_t k)
{
	size_t i, nl = strlen(name), al = alt ? strlen(alt) : 0;

	for (i = 1; i < argc; i++) {
		const char *v = NULL;
		if (strcmp(argv[i], name) == 0 || (alt && strcmp(argv[i], alt) == 0))
			v = i + 1 < argc ? argv[++i] : NULL;
		else if (strncmp(argv[i], name, nl) == 0 && argv[i][nl] == '=')
			v = argv[i] + nl + 1;
		else if (alt && strncmp(argv[i], alt, al) == 0 && argv[i][al])
			v = argv[i] + al + (argv[i][al] == '=');
		if (v && k-- == 0)
			return v;
	}
	return NULL;
}

int rw_argv_flag_bool(char *const *argv, size_t argc, const char *name)
{
	size_t i, nl = strlen(name);
	int v = -1;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], name) == 0)
			v = 1;
		else if (strncmp(argv[i], name, nl) == 0 && argv[i][nl] == '=')
			v = strcmp(argv[i] + nl + 1, "true") == 0 || strcmp(argv[i] + nl + 1, "1") == 0;
	}
	return v;
}
