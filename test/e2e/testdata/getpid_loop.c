// getpid_loop makes N getpid system calls (default 100000) and prints the
// pid it saw.
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 100000;
	long pid = 0;
	for (long i = 0; i < n; i++)
		pid = syscall(SYS_getpid);
	printf("%ld calls, pid %ld\n", n, pid);
	return 0;
}
