/*
 * memfd.c: memfd_create(2) and file seals: an anonymous file (no link,
 * mode 0777, its name in /proc/self/fd), read/write/mmap like a tmpfs
 * file; F_GET_SEALS/F_ADD_SEALS with MFD_ALLOW_SEALING (without it the
 * file is sealed against sealing); F_SEAL_SHRINK, F_SEAL_GROW,
 * F_SEAL_WRITE (EBUSY while a shared writable mapping exists, then no
 * writes, truncation to a new size, hole punching or writable shared
 * mappings), F_SEAL_FUTURE_WRITE, F_SEAL_SEAL; seals on tmpfs files; and
 * the errors of memfd_create.
 */
#include "check.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

int main(void)
{
	int fd = memfd_create("palisade-test", MFD_CLOEXEC);
	REQUIRE(fd >= 0, "memfd_create");
	CHECK_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC, "MFD_CLOEXEC sets close-on-exec");
	struct stat st;
	CHECK_OK(fstat(fd, &st), "fstat");
	CHECK(S_ISREG(st.st_mode), "a regular file");
	CHECK_EQ(st.st_mode & 0777, 0777, "mode 0777");
	CHECK_EQ(st.st_nlink, 0, "with no links");
	CHECK_EQ(st.st_size, 0, "and empty");
	char link[64], want[64], buf[300];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	snprintf(want, sizeof want, "/memfd:palisade-test (deleted)");
	CHECK_STR(buf, want, "/proc/self/fd shows memfd:NAME (deleted)");
	CHECK_EQ(write(fd, "hello memfd", 11), 11, "write");
	CHECK_EQ(pread(fd, buf, 11, 0), 11, "read back");
	CHECK(memcmp(buf, "hello memfd", 11) == 0, "same bytes");
	char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED, "mmap shared");
	if (p != MAP_FAILED) {
		p[0] = 'H';
		CHECK_EQ(pread(fd, buf, 1, 0), 1, "read after writing through the mapping");
		CHECK_EQ(buf[0], 'H', "the mapping and the file are the same pages");
		munmap(p, 4096);
	}
	CHECK_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_SEAL, "without MFD_ALLOW_SEALING the file is sealed against seals");
	CHECK_ERR(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), EPERM, "so F_ADD_SEALS is EPERM");
	close(fd);

	fd = memfd_create("sealed", MFD_ALLOW_SEALING);
	REQUIRE(fd >= 0, "memfd_create(MFD_ALLOW_SEALING)");
	CHECK_EQ(fcntl(fd, F_GET_SEALS), 0, "starts with no seals");
	CHECK_OK(ftruncate(fd, 8192), "ftruncate to 8192");
	CHECK_OK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), "F_SEAL_SHRINK");
	CHECK_ERR(ftruncate(fd, 4096), EPERM, "shrinking is EPERM");
	CHECK_OK(ftruncate(fd, 12288), "growing is still allowed");
	CHECK_OK(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW), "F_SEAL_GROW");
	CHECK_ERR(ftruncate(fd, 16384), EPERM, "growing is EPERM");
	CHECK_ERR(pwrite(fd, "x", 1, 12288), EPERM, "a write past the end is EPERM");
	CHECK_ERR(fallocate(fd, 0, 0, 20000), EPERM, "fallocate past the end is EPERM");
	CHECK_EQ(pwrite(fd, "inside", 6, 100), 6, "writes inside the file still work");
	CHECK_OK(ftruncate(fd, 12288), "truncating to the same size is fine");

	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	REQUIRE(p != MAP_FAILED, "a shared writable mapping");
	CHECK_ERR(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), EBUSY, "F_SEAL_WRITE while it exists is EBUSY");
	munmap(p, 4096);
	p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK(p != MAP_FAILED, "a private mapping");
	CHECK_OK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), "does not stop F_SEAL_WRITE");
	CHECK_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE, "F_GET_SEALS lists them");
	CHECK_ERR(pwrite(fd, "x", 1, 0), EPERM, "after F_SEAL_WRITE writes are EPERM");
	CHECK_ERR(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096), EPERM, "and so is punching a hole");
	CHECK(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED && errno == EPERM,
	      "and a writable shared mapping");
	char *r = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(r != MAP_FAILED, "a read-only shared mapping is allowed");
	if (r != MAP_FAILED) {
		CHECK(memcmp(r + 100, "inside", 6) == 0, "and sees the data");
		CHECK_ERR(mprotect(r, 4096, PROT_READ | PROT_WRITE), EACCES, "but can't be made writable");
		munmap(r, 4096);
	}
	CHECK_OK(fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL), "F_SEAL_SEAL");
	CHECK_ERR(fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE), EPERM, "then no more seals");
	close(fd);

	fd = memfd_create("future", MFD_ALLOW_SEALING);
	write(fd, "data", 4);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK_OK(fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE), "F_SEAL_FUTURE_WRITE with a writable mapping in place");
	CHECK_ERR(write(fd, "x", 1), EPERM, "writes are EPERM");
	if (p != MAP_FAILED) {
		p[0] = 'D';
		CHECK_EQ(pread(fd, buf, 1, 0), 1, "the existing mapping still writes");
		CHECK_EQ(buf[0], 'D', "and the file sees it");
		munmap(p, 4096);
	}
	CHECK(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED && errno == EPERM,
	      "new writable shared mappings are EPERM");
	CHECK_ERR(fcntl(fd, F_ADD_SEALS, 0x8000), EINVAL, "an unknown seal is EINVAL");
	int rd = open("/proc/self/exe", O_RDONLY);
	CHECK_ERR(fcntl(rd, F_ADD_SEALS, F_SEAL_WRITE), EPERM, "F_ADD_SEALS on a read-only descriptor is EPERM");
	close(rd);
	int pp[2];
	pipe(pp);
	CHECK_ERR(fcntl(pp[1], F_ADD_SEALS, F_SEAL_WRITE), EINVAL, "F_ADD_SEALS on a file that can't be sealed is EINVAL");
	close(pp[0]);
	close(pp[1]);
	close(fd);

	/* A regular tmpfs file carries F_SEAL_SEAL. */
	char path[64];
	snprintf(path, sizeof path, "/dev/shm/memfd.%d", getpid());
	int tf = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	CHECK_EQ(fcntl(tf, F_GET_SEALS), F_SEAL_SEAL, "a tmpfs file has F_SEAL_SEAL");
	close(tf);
	unlink(path);
	int ps = open("/proc/self/status", O_RDONLY);
	CHECK_ERR(fcntl(ps, F_GET_SEALS), EINVAL, "F_GET_SEALS on a file that can't be sealed is EINVAL");
	close(ps);

	/* memfd_create errors. */
	char longname[300];
	memset(longname, 'n', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	CHECK_ERR(memfd_create(longname, 0), EINVAL, "a name longer than 249 bytes is EINVAL");
	CHECK_ERR(memfd_create("x", 0x100), EINVAL, "unknown flags are EINVAL");
	CHECK_ERR(syscall(SYS_memfd_create, (char *)1, 0), EFAULT, "a bad name pointer is EFAULT");
	return check_done();
}
