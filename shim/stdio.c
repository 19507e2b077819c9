#include "config.h"
#include "shim/stdio.h"
#include "shim/error.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static bool is_null(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(1, 3);
}

void rw_shield_dev_null(void)
{
	struct stat host;
	char node[64] = "";
	int fd;

	if (stat("/dev/null", &host) < 0 || !is_null(&host))
		return;
	for (fd = 0; fd <= 2; fd++) {
		struct stat st;
		int flags, priv;

		if (fstat(fd, &st) < 0 || st.st_dev != host.st_dev || st.st_ino != host.st_ino)
			continue;
		flags = fcntl(fd, F_GETFL);
		if (flags < 0)
			continue;
		/* One node per invocation, in /dev (devtmpfs takes device nodes where
		 * /run, nodev on most hosts, does not), unlinked once opened: the fds
		 * keep it alive for the delegate and nothing is left behind. */
		if (node[0] == '\0') {
			snprintf(node, sizeof(node), "/dev/.runwarden-null-%d", (int)getpid());
			unlink(node);
			if (mknod(node, S_IFCHR | 0666, makedev(1, 3)) < 0)
				return;
			(void)chmod(node, 0666);  /* whatever the umask */
		}
		priv = open(node, (flags & O_ACCMODE) | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
		if (priv < 0)
			break;
		if (dup2(priv, fd) < 0) {
			close(priv);
			break;
		}
		close(priv);
	}
	if (node[0])
		unlink(node);
}
