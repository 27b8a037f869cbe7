/*
 * fileio.c checks open(2)/openat(2), read(2), pread(2), readv(2), lseek(2),
 * close(2), dup(2) and fcntl(2) on read-only files, against the man pages.
 * It never writes: the sandbox root is read-only, the host's is not.
 */
#include "check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#define GPL3 "/usr/share/common-licenses/GPL-3"

static char *content;
static off_t size;

/* load reads the whole of GPL-3 with plain read(2) calls. */
static void load(void)
{
	int fd = CHECK_OK(open(GPL3, O_RDONLY), "open " GPL3);
	REQUIRE(fd >= 0, "GPL-3 opened");
	size = CHECK_OK(lseek(fd, 0, SEEK_END), "lseek SEEK_END gives the size");
	REQUIRE(size > 1000, "GPL-3 is larger than 1000 bytes");
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0, "lseek SEEK_SET 0");
	content = malloc(size + 1);
	REQUIRE(content != NULL, "malloc");

	off_t got = 0;
	ssize_t n;
	while ((n = read(fd, content + got, 1000)) > 0)
		got += n;
	CHECK_EQ(n, 0, "read at end of file returns 0");
	CHECK_EQ(got, size, "reading to EOF yields the size from SEEK_END");
	CHECK_EQ(close(fd), 0, "close");
	CHECK_ERR(close(fd), EBADF, "close of a closed fd is EBADF");
}

static void test_read_seek(void)
{
	char buf[64];
	int fd = open(GPL3, O_RDONLY);

	REQUIRE(fd >= 0, "open " GPL3);
	CHECK_EQ(read(fd, buf, 10), 10, "read 10 bytes");
	CHECK(memcmp(buf, content, 10) == 0, "read returns the file's first bytes");
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 10, "read advances the offset");

	CHECK_EQ(pread(fd, buf, 20, 100), 20, "pread 20 bytes at 100");
	CHECK(memcmp(buf, content + 100, 20) == 0, "pread returns bytes at its offset");
	CHECK_EQ(syscall(SYS_pread64, fd, buf, 20, 200), 20, "raw pread64 20 bytes at 200");
	CHECK(memcmp(buf, content + 200, 20) == 0, "raw pread64 returns bytes at its offset");
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 10, "pread does not move the offset");
	CHECK_EQ(pread(fd, buf, 20, size - 5), 5, "pread across EOF is short");
	CHECK_EQ(pread(fd, buf, 20, size + 100), 0, "pread past EOF returns 0");
	CHECK_ERR(pread(fd, buf, 20, -1), EINVAL, "pread with a negative offset is EINVAL");

	CHECK_EQ(lseek(fd, 30, SEEK_SET), 30, "lseek SEEK_SET");
	CHECK_EQ(lseek(fd, 5, SEEK_CUR), 35, "lseek SEEK_CUR forward");
	CHECK_EQ(lseek(fd, -15, SEEK_CUR), 20, "lseek SEEK_CUR backward");
	CHECK_EQ(read(fd, buf, 4), 4, "read after lseek");
	CHECK(memcmp(buf, content + 20, 4) == 0, "read after lseek reads at the new offset");
	CHECK_EQ(lseek(fd, -10, SEEK_END), size - 10, "lseek SEEK_END backward");
	CHECK_EQ(read(fd, buf, 64), 10, "read of the last 10 bytes");
	CHECK_EQ(lseek(fd, 100, SEEK_END), size + 100, "lseek past EOF is allowed");
	CHECK_EQ(read(fd, buf, 64), 0, "read past EOF returns 0");
	CHECK_ERR(lseek(fd, -1, SEEK_SET), EINVAL, "lseek to a negative offset is EINVAL");
	CHECK_ERR(lseek(fd, -(size + 1), SEEK_END), EINVAL, "lseek SEEK_END before 0 is EINVAL");
	CHECK_ERR(lseek(fd, 0, 99), EINVAL, "lseek with a bad whence is EINVAL");
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), size + 100, "failed lseek keeps the offset");
	CHECK_EQ(lseek(fd, 0, SEEK_DATA), 0, "SEEK_DATA from 0 of a file without holes");
	CHECK_EQ(lseek(fd, 0, SEEK_HOLE), size, "SEEK_HOLE of a file without holes is its size");
	CHECK_ERR(lseek(fd, size + 10, SEEK_DATA), ENXIO, "SEEK_DATA beyond EOF is ENXIO");

	char a[7], b[13];
	struct iovec iov[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	CHECK_EQ(lseek(fd, 50, SEEK_SET), 50, "lseek for readv");
	CHECK_EQ(readv(fd, iov, 2), 20, "readv fills two buffers");
	CHECK(memcmp(a, content + 50, 7) == 0 && memcmp(b, content + 57, 13) == 0,
	      "readv fills the buffers in order");
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 70, "readv advances the offset");
	CHECK_EQ(lseek(fd, size - 3, SEEK_SET), size - 3, "lseek near EOF for readv");
	CHECK_EQ(readv(fd, iov, 2), 3, "readv across EOF is short");
	CHECK_ERR(syscall(SYS_readv, fd, iov, -1), EINVAL, "raw readv with negative iovcnt is EINVAL");
	close(fd);

	CHECK_ERR(read(fd, buf, 1), EBADF, "read on a closed fd is EBADF");
	CHECK_ERR(read(-1, buf, 1), EBADF, "read on fd -1 is EBADF");
	CHECK_ERR(lseek(fd, 0, SEEK_SET), EBADF, "lseek on a closed fd is EBADF");

	int dfd = open("/usr/bin", O_RDONLY);
	if (CHECK(dfd >= 0, "open a directory O_RDONLY")) {
		CHECK_ERR(read(dfd, buf, sizeof(buf)), EISDIR, "read on a directory is EISDIR");
		close(dfd);
	}
}

/* same_start reports whether fd is open on a file that starts like GPL-3. */
static int same_start(int fd)
{
	char buf[32];

	return fd >= 0 && pread(fd, buf, sizeof(buf), 0) == sizeof(buf) &&
	       memcmp(buf, content, sizeof(buf)) == 0;
}

static void test_paths(void)
{
	int fd;

	CHECK_ERR(open("/etc/no-such-file-palisade", O_RDONLY), ENOENT, "open of a missing file is ENOENT");
	CHECK_ERR(open("/no-such-dir-palisade/x", O_RDONLY), ENOENT,
		  "open through a missing directory is ENOENT");
	CHECK_ERR(open("/etc/passwd/x", O_RDONLY), ENOTDIR, "open through a file component is ENOTDIR");
	CHECK_ERR(open("/etc/passwd/", O_RDONLY), ENOTDIR, "open of a file with a trailing slash is ENOTDIR");
	CHECK_ERR(open("/etc/passwd", O_RDONLY | O_DIRECTORY), ENOTDIR, "O_DIRECTORY on a file is ENOTDIR");
	CHECK_ERR(open("", O_RDONLY), ENOENT, "open of an empty path is ENOENT");
	CHECK_ERR(open("/etc/os-release", O_RDONLY | O_NOFOLLOW), ELOOP, "O_NOFOLLOW on a symlink is ELOOP");

	fd = open("/etc/os-release", O_RDONLY);
	CHECK(fd >= 0, "open follows a symlink");
	close(fd);
	fd = open("/usr/bin/", O_RDONLY | O_DIRECTORY);
	CHECK(fd >= 0, "O_DIRECTORY with a trailing slash on a directory");
	close(fd);

	fd = open("/usr/share/../share/./common-licenses//GPL-3", O_RDONLY);
	CHECK(same_start(fd), "open with .., . and repeated slashes");
	close(fd);
	fd = open("//usr///share/common-licenses/GPL-3", O_RDONLY);
	CHECK(same_start(fd), "open with leading and repeated slashes");
	close(fd);
	fd = open("/../../usr/share/common-licenses/GPL-3", O_RDONLY);
	CHECK(same_start(fd), ".. at the root stays at the root");
	close(fd);
	CHECK_ERR(open("/etc/passwd/..", O_RDONLY), ENOTDIR, ".. after a file is ENOTDIR");

	int dir = open("/usr/share/common-licenses", O_RDONLY | O_DIRECTORY);
	REQUIRE(dir >= 0, "open /usr/share/common-licenses O_DIRECTORY");
	fd = openat(dir, "GPL-3", O_RDONLY);
	CHECK(same_start(fd), "openat with a directory fd and a relative path");
	close(fd);
	fd = openat(dir, "../common-licenses/./GPL-3", O_RDONLY);
	CHECK(same_start(fd), "openat relative path with .. and .");
	close(fd);
	fd = openat(dir, ".", O_RDONLY | O_DIRECTORY);
	CHECK(fd >= 0, "openat . of a directory fd");
	close(fd);
	CHECK_ERR(openat(dir, "no-such-file-palisade", O_RDONLY), ENOENT, "openat of a missing name is ENOENT");
	fd = openat(9999, GPL3, O_RDONLY);
	CHECK(same_start(fd), "openat with an absolute path ignores a bad dirfd");
	close(fd);
	CHECK_ERR(openat(9999, "GPL-3", O_RDONLY), EBADF, "openat relative to a bad dirfd is EBADF");

	int file = open(GPL3, O_RDONLY);
	REQUIRE(file >= 0, "open " GPL3);
	CHECK_ERR(openat(file, "x", O_RDONLY), ENOTDIR, "openat relative to a file fd is ENOTDIR");
	close(file);

	REQUIRE(chdir("/usr/share") == 0, "chdir /usr/share");
	fd = openat(AT_FDCWD, "common-licenses/GPL-3", O_RDONLY);
	CHECK(same_start(fd), "openat AT_FDCWD with a relative path");
	close(fd);
	fd = open("./common-licenses/../common-licenses/GPL-3", O_RDONLY);
	CHECK(same_start(fd), "open relative to the cwd with . and ..");
	close(fd);
	fd = openat(AT_FDCWD, GPL3, O_RDONLY);
	CHECK(same_start(fd), "openat AT_FDCWD with an absolute path");
	close(fd);
	fd = syscall(SYS_open, "common-licenses/GPL-3", O_RDONLY);
	CHECK(same_start(fd), "raw open(2) with a relative path");
	close(fd);
	close(dir);
}

static void test_fds(void)
{
	int fd = open(GPL3, O_RDONLY | O_CLOEXEC);

	REQUIRE(fd >= 0, "open O_CLOEXEC");
	CHECK_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC, "F_GETFD after O_CLOEXEC is FD_CLOEXEC");
	CHECK_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY, "F_GETFL reports O_RDONLY");
	CHECK_EQ(fcntl(fd, F_SETFD, 0), 0, "F_SETFD 0");
	CHECK_EQ(fcntl(fd, F_GETFD), 0, "F_GETFD after clearing");
	CHECK_EQ(fcntl(fd, F_SETFD, FD_CLOEXEC), 0, "F_SETFD FD_CLOEXEC");
	CHECK_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC, "F_GETFD after setting");
	CHECK_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK, 0, "F_GETFL without O_NONBLOCK");
	CHECK_EQ(fcntl(fd, F_SETFL, O_NONBLOCK), 0, "F_SETFL O_NONBLOCK");
	CHECK_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK, "F_GETFL reports O_NONBLOCK");
	CHECK_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY, "F_SETFL does not change the access mode");
	CHECK_ERR(fcntl(fd, 12345), EINVAL, "fcntl with an unknown command is EINVAL");
	CHECK_ERR(fcntl(9999, F_GETFD), EBADF, "fcntl on a bad fd is EBADF");

	/* The lowest free descriptor is reused. */
	int fd2 = open(GPL3, O_RDONLY);
	REQUIRE(fd2 >= 0, "open a second fd");
	close(fd2);
	CHECK_EQ(open(GPL3, O_RDONLY), fd2, "open reuses the lowest free fd");
	close(fd2);

	int d = dup(fd);
	CHECK_EQ(d, fd2, "dup returns the lowest free fd");
	CHECK_EQ(fcntl(d, F_GETFD), 0, "dup clears FD_CLOEXEC on the copy");
	CHECK_EQ(lseek(fd, 123, SEEK_SET), 123, "lseek the original");
	CHECK_EQ(lseek(d, 0, SEEK_CUR), 123, "dup shares the file offset");
	CHECK_EQ(fcntl(d, F_GETFL) & O_NONBLOCK, O_NONBLOCK, "dup shares the status flags");
	close(d);

	CHECK_EQ(dup2(fd, 100), 100, "dup2 to a chosen fd");
	CHECK_EQ(lseek(100, 0, SEEK_CUR), 123, "dup2 copy shares the offset");
	CHECK_EQ(fcntl(100, F_GETFD), 0, "dup2 clears FD_CLOEXEC on the copy");
	int other = open("/etc/passwd", O_RDONLY);
	REQUIRE(other >= 0, "open /etc/passwd");
	CHECK_EQ(dup2(other, 100), 100, "dup2 onto an open fd replaces it");
	CHECK_EQ(lseek(100, 0, SEEK_CUR), 0, "dup2 target now refers to the new file");
	CHECK_EQ(dup2(fd, fd), fd, "dup2 onto itself returns the fd");
	CHECK_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC, "dup2 onto itself keeps FD_CLOEXEC");
	CHECK_ERR(dup2(9999, 101), EBADF, "dup2 of a bad fd is EBADF");
	CHECK_ERR(dup2(9999, 9999), EBADF, "dup2 of a bad fd onto itself is EBADF");
	CHECK_ERR(dup(9999), EBADF, "dup of a bad fd is EBADF");
	CHECK_ERR(dup2(fd, -1), EBADF, "dup2 to a negative fd is EBADF");

	CHECK_EQ(dup3(fd, 101, O_CLOEXEC), 101, "dup3 with O_CLOEXEC");
	CHECK_EQ(fcntl(101, F_GETFD), FD_CLOEXEC, "dup3 O_CLOEXEC sets FD_CLOEXEC");
	CHECK_EQ(dup3(fd, 102, 0), 102, "dup3 without flags");
	CHECK_EQ(fcntl(102, F_GETFD), 0, "dup3 without flags leaves FD_CLOEXEC clear");
	CHECK_ERR(dup3(fd, fd, 0), EINVAL, "dup3 onto itself is EINVAL");
	CHECK_ERR(dup3(fd, 103, 0x4), EINVAL, "dup3 with unknown flags is EINVAL");

	int f = fcntl(fd, F_DUPFD, 50);
	CHECK(f >= 50, "F_DUPFD returns an fd >= its argument");
	CHECK_EQ(fcntl(f, F_GETFD), 0, "F_DUPFD copy has FD_CLOEXEC clear");
	int g = fcntl(fd, F_DUPFD_CLOEXEC, 50);
	CHECK(g > f, "F_DUPFD_CLOEXEC skips used fds");
	CHECK_EQ(fcntl(g, F_GETFD), FD_CLOEXEC, "F_DUPFD_CLOEXEC sets FD_CLOEXEC");
	CHECK_ERR(fcntl(fd, F_DUPFD, -1), EINVAL, "F_DUPFD with a negative argument is EINVAL");

	close(f);
	close(g);
	close(100);
	close(101);
	close(102);
	close(other);
	close(fd);
	CHECK_ERR(fcntl(100, F_GETFD), EBADF, "closed dup2 copy is gone");
}

int main(void)
{
	load();
	test_read_seek();
	test_paths();
	test_fds();
	return check_done();
}
