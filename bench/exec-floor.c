/* The least any exec-based runtime shim can cost: exec argv[1..], nothing
 * else. Linked like runwarden (static-pie), so bench/run-bench can tell the
 * price of the extra execve from the price of runwarden's own work. */
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	execv(argv[1], argv + 1);
	return 127;
}
