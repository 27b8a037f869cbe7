// msync_hold FILE: maps FILE (at least 4096 bytes) shared, writes "msynced"
// at its start through the mapping, calls msync(MS_SYNC), prints "synced",
// then keeps the mapping until its stdin reaches end of file, so that
// whoever runs it can check that msync alone wrote the change back.
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc != 2)
		return 2;
	int fd = open(argv[1], O_RDWR);
	if (fd < 0) {
		perror("open");
		return 1;
	}
	char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memcpy(p, "msynced", 7);
	if (msync(p, 4096, MS_SYNC) != 0) {
		perror("msync");
		return 1;
	}
	printf("synced\n");
	fflush(stdout);
	char c;
	while (read(0, &c, 1) > 0)
		;
	return 0;
}
