// gofer_mmap FILE: checks that a MAP_SHARED writable mapping of FILE is
// coherent with read(2) and write(2) through other descriptors, and leaves
// changes in FILE that whoever runs it next can check:
//
//	offset 100:   "mapped"   written through a mapping, then msync+munmap
//	offset 4106:  "written"  written with pwrite, seen through the mapping
//	offset 5000:  "closed"   written through a mapping, then only close
//	offset 6000:  "exited"   written through a mapping left mapped at exit
//
// The file is 8192 bytes; it prints "ok" and exits 0 if every check passed.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SIZE 8192

static void fail(const char *what) {
	perror(what);
	exit(1);
}

static void check_read(int fd, off_t off, const char *want) {
	char buf[64] = {0};
	size_t n = strlen(want);
	if (pread(fd, buf, n, off) != (ssize_t)n) fail("pread");
	if (memcmp(buf, want, n) != 0) {
		fprintf(stderr, "at %ld: read %.*s, want %s\n", (long)off, (int)n, buf, want);
		exit(1);
	}
}

int main(int argc, char **argv) {
	if (argc != 2) {
		fprintf(stderr, "usage: gofer_mmap FILE\n");
		return 2;
	}
	int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) fail("open");
	if (ftruncate(fd, SIZE) != 0) fail("ftruncate");
	char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) fail("mmap");
	int rd = open(argv[1], O_RDONLY);
	if (rd < 0) fail("open O_RDONLY");

	// A store through the mapping is what read(2) sees at once.
	memcpy(p + 100, "mapped", 6);
	check_read(rd, 100, "mapped");
	// write(2) is what the mapping sees at once.
	if (pwrite(fd, "written", 7, 4106) != 7) fail("pwrite");
	if (memcmp(p + 4106, "written", 7) != 0) {
		fprintf(stderr, "mapping does not see pwrite\n");
		return 1;
	}
	// A second mapping of the same file shares the pages.
	char *q = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, rd, 0);
	if (q == MAP_FAILED) fail("mmap 2");
	if (memcmp(q + 100, "mapped", 6) != 0 || memcmp(q + 4106, "written", 7) != 0) {
		fprintf(stderr, "second mapping differs\n");
		return 1;
	}
	if (msync(p, SIZE, MS_SYNC) != 0) fail("msync");
	if (munmap(q, SIZE) != 0 || munmap(p, SIZE) != 0) fail("munmap");

	// Changed through a mapping that is unmapped after close.
	p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) fail("mmap 3");
	memcpy(p + 5000, "closed", 6);
	if (close(fd) != 0) fail("close");
	check_read(rd, 5000, "closed");
	// Still mapped when the process exits.
	memcpy(p + 6000, "exited", 6);
	check_read(rd, 6000, "exited");
	puts("ok");
	return 0;
}
