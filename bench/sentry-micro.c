/* bench/sentry-bench's micro loads, run inside a container (linked static:
 * the busybox rootfs has no libc). Prints the elapsed nanoseconds.
 *
 *   sentry-micro pingpong N   N round trips of one byte over two pipes
 *                             between two processes pinned to one CPU: 2N
 *                             context switches, 4N syscalls
 *   sentry-micro syscalls N   N read(2)s of one byte from /dev/zero, each
 *                             written to /dev/null (dd bs=1): 2N syscalls
 *
 * bench/sentry-bench compiles it itself (cc -static) into its temp dir. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void pin(void)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	(void)sched_setaffinity(0, sizeof(set), &set); /* best effort (cpuset) */
}

static int pingpong(long n)
{
	int ab[2], ba[2];
	char c = 'x';
	long long t0, t1;
	pid_t pid;
	int st;

	if (pipe(ab) || pipe(ba))
		return perror("pipe"), 1;
	pin();
	pid = fork();
	if (pid < 0)
		return perror("fork"), 1;
	if (pid == 0) {
		close(ab[1]);
		close(ba[0]);
		for (;;) {
			if (read(ab[0], &c, 1) != 1)
				_exit(0);
			if (write(ba[1], &c, 1) != 1)
				_exit(1);
		}
	}
	close(ab[0]);
	close(ba[1]);
	t0 = now_ns();
	for (long i = 0; i < n; i++) {
		if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1)
			return perror("pingpong"), 1;
	}
	t1 = now_ns();
	close(ab[1]);
	waitpid(pid, &st, 0);
	printf("%lld\n", t1 - t0);
	return 0;
}

static int syscalls(long n)
{
	int in = open("/dev/zero", O_RDONLY), out = open("/dev/null", O_WRONLY);
	char c;
	long long t0, t1;

	if (in < 0 || out < 0)
		return perror("open"), 1;
	t0 = now_ns();
	for (long i = 0; i < n; i++) {
		if (read(in, &c, 1) != 1 || write(out, &c, 1) != 1)
			return perror("syscalls"), 1;
	}
	t1 = now_ns();
	printf("%lld\n", t1 - t0);
	return 0;
}

int main(int argc, char **argv)
{
	long n;

	if (argc != 3 || (n = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: sentry-micro pingpong|syscalls N\n");
		return 2;
	}
	if (!strcmp(argv[1], "pingpong"))
		return pingpong(n);
	if (!strcmp(argv[1], "syscalls"))
		return syscalls(n);
	fprintf(stderr, "sentry-micro: unknown load %s\n", argv[1]);
	return 2;
}
