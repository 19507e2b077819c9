#ifndef RW_STDIO_H
#define RW_STDIO_H

/* Delegates chown the container's stdio: runsc (2022) hands fds 0-2 to its
 * sandbox user "nobody" on create, run and exec; crun does it in user
 * namespaces. When such an fd is the host's /dev/null (Docker's stdin for a
 * detached container), the host's /dev/null changes owner. runc and conmon
 * skip /dev/null for that reason; runwarden cannot change the delegates, so it
 * gives them a null device of their own: a node with /dev/null's major:minor,
 * opened with the same access mode, put on the same fd number, and unlinked.
 * Best effort: where no node can be made, the fds are left as they are. */
void rw_shield_dev_null(void);

#endif
