/*
 * rwflags.c checks the per-call flags of preadv2(2) and pwritev2(2) that
 * change what the call does: RWF_APPEND (the data goes to the end of the
 * file whatever the offset; with offset -1 the file offset moves to the
 * new end) and RWF_NOWAIT (EAGAIN rather than blocking, on pipes).
 *
 * RWF_APPEND is checked under /var/tmp and under / (the overlay root in
 * the sandbox, ext4 natively), not on tmpfs: the host's (Linux 6.18)
 * writes at the offset given there.
 */
#include "check.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/uio.h>

static char what[300];
#define W(...) (snprintf(what, sizeof(what), __VA_ARGS__), what)

static void test_append(const char *dir)
{
	char path[256], buf[64];
	struct iovec iov;
	snprintf(path, sizeof path, "%s/rwflags.%d", dir, getpid());
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
	REQUIRE(fd >= 0, W("create %s", path));
	REQUIRE(write(fd, "hello", 5) == 5, "write");

	iov.iov_base = "!";
	iov.iov_len = 1;
	CHECK_EQ(pwritev2(fd, &iov, 1, 0, RWF_APPEND), 1, W("%s: pwritev2 with RWF_APPEND at offset 0", dir));
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 5, W("%s: RWF_APPEND with an offset leaves the file offset", dir));
	CHECK_EQ(lseek(fd, 1, SEEK_SET), 1, "lseek");
	CHECK_EQ(pwritev2(fd, &iov, 1, -1, RWF_APPEND), 1, W("%s: pwritev2 with RWF_APPEND at offset -1", dir));
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 7, W("%s: RWF_APPEND at offset -1 moves the file offset to the new end", dir));
	iov.iov_base = "ab";
	iov.iov_len = 2;
	struct iovec two[2] = { { "c", 1 }, { "d", 1 } };
	CHECK_EQ(pwritev2(fd, two, 2, 3, RWF_APPEND), 2, W("%s: pwritev2 of two buffers with RWF_APPEND", dir));
	memset(buf, 0, sizeof buf);
	CHECK_EQ(pread(fd, buf, sizeof buf, 0), 9, W("%s: the file grew by what was written", dir));
	CHECK_STR(buf, "hello!!cd", W("%s: everything went to the end, in order", dir));
	CHECK_EQ(pwritev2(fd, &iov, 1, 0, 0), 2, W("%s: pwritev2 without RWF_APPEND", dir));
	memset(buf, 0, sizeof buf);
	CHECK_EQ(pread(fd, buf, sizeof buf, 0), 9, W("%s: the size", dir));
	CHECK_STR(buf, "abllo!!cd", W("%s: writes at the offset again", dir));
	close(fd);
	unlink(path);
}

int main(void)
{
	alarm(20); /* a call that blocks instead of EAGAIN must not hang the run */
	test_append("/var/tmp");
	char root[] = "/rwflagsXXXXXX";
	REQUIRE(mkdtemp(root) != NULL, "mkdtemp under /");
	test_append(root);
	rmdir(root);

	/* RWF_NOWAIT on pipes. */
	int p[2];
	char buf[16];
	struct iovec iov = { buf, sizeof buf };
	REQUIRE(pipe(p) == 0, "pipe");
	CHECK_ERR(preadv2(p[0], &iov, 1, -1, RWF_NOWAIT), EAGAIN, "preadv2 with RWF_NOWAIT on an empty pipe is EAGAIN");
	iov.iov_base = "data";
	iov.iov_len = 4;
	CHECK_EQ(pwritev2(p[1], &iov, 1, -1, RWF_NOWAIT), 4, "pwritev2 with RWF_NOWAIT into a pipe with room");
	iov.iov_base = buf;
	iov.iov_len = sizeof buf;
	memset(buf, 0, sizeof buf);
	CHECK_EQ(preadv2(p[0], &iov, 1, -1, RWF_NOWAIT), 4, "preadv2 with RWF_NOWAIT on a pipe with data");
	CHECK_STR(buf, "data", "reads it");
	CHECK_EQ(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0, "RWF_NOWAIT leaves the descriptor blocking");
	static char big[1 << 16];
	long total = 0, n;
	iov.iov_base = big;
	iov.iov_len = sizeof big;
	while ((n = pwritev2(p[1], &iov, 1, -1, RWF_NOWAIT)) > 0)
		total += n;
	int err = errno;
	CHECK(n == -1 && err == EAGAIN, "pwritev2 with RWF_NOWAIT into a full pipe is EAGAIN");
	CHECK(total >= 4096, "after filling it");
	close(p[0]);
	close(p[1]);
	return check_done();
}
