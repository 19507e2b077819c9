/* Other processes, through /proc: their name, their command line and the
 * flags in it. runwarden doctor and install find dockerd this way. */
#ifndef RW_PROC_H
#define RW_PROC_H

#include <stddef.h>
#include <sys/types.h>

/* pid's name (/proc/PID/comm, without its newline) into out: 0, or -1 when
 * there is no such process (or it cannot be read). */
int rw_proc_comm(pid_t pid, char *out, size_t size);
/* pid's argv (/proc/PID/cmdline, at most 1 MiB), appended to *argv; 0, or
 * -1 when it cannot be read (*argv is then freed). */
int rw_proc_argv(pid_t pid, char ***argv, size_t *argc);
/* The processes named comm, in /proc's order: a malloc'd array (free it) of
 * *n pids. -1 (errno set) when /proc cannot be listed or memory runs out. */
int rw_proc_find(const char *comm, pid_t **pids, size_t *n);

/* The value of flag name (--config-file) or of its alternative alt (-H; NULL
 * for none) in argv[1..argc), or NULL: "--name value", "--name=value",
 * "-H value", "-Hvalue", "-H=value". k picks the k-th occurrence (0: the
 * first; flags such as --host repeat). */
const char *rw_argv_flag(char *const *argv, size_t argc, const char *name, const char *alt, size_t k);
/* A boolean flag (--live-restore, --userland-proxy=false): 1, 0, or -1 when
 * absent; the last occurrence counts. */
int rw_argv_flag_bool(char *const *argv, size_t argc, const char *name);

#endif
