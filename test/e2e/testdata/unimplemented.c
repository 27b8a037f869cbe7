// unimplemented calls kexec_load, which the sandbox never implements,
// twice, and checks both calls fail with ENOSYS.
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(void) {
	for (int i = 0; i < 2; i++) {
		errno = 0;
		long r = syscall(SYS_kexec_load, 0, 0, 0, 0);
		if (r != -1 || errno != ENOSYS) {
			printf("kexec_load: got %ld errno %d, want -1 ENOSYS\n", r, errno);
			return 1;
		}
	}
	printf("ENOSYS twice\n");
	return 0;
}
