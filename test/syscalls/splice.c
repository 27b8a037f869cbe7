/*
 * splice.c: sendfile, splice, tee, vmsplice and copy_file_range: data
 * moved, offsets used and updated (the file's own offset or the one passed
 * in), blocking and SPLICE_F_NONBLOCK, end of file, EPIPE, and the errors
 * of each call.
 */
#include "check.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <sys/wait.h>

static char path[64], path2[64];

static int readall(int fd, char *buf, int n)
{
	int got = 0;
	while (got < n) {
		int r = read(fd, buf + got, n - got);
		if (r <= 0)
			break;
		got += r;
	}
	return got;
}

int main(void)
{
	char buf[256];
	snprintf(path, sizeof path, "/dev/shm/splice1.%d", getpid());
	snprintf(path2, sizeof path2, "/dev/shm/splice2.%d", getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd >= 0, "create a scratch file in /dev/shm");
	REQUIRE(write(fd, "abcdefghijklmnopqrstuvwxyz", 26) == 26, "fill it");
	int p[2];
	REQUIRE(pipe(p) == 0, "pipe");

	/* sendfile */
	lseek(fd, 3, SEEK_SET);
	CHECK_EQ(sendfile(p[1], fd, NULL, 5), 5, "sendfile from the file offset into a pipe");
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 8, "it advanced the file offset");
	CHECK_EQ(read(p[0], buf, sizeof buf), 5, "the pipe has the bytes");
	CHECK(memcmp(buf, "defgh", 5) == 0, "they are the file's bytes 3..7");
	off_t off = 20;
	CHECK_EQ(sendfile(p[1], fd, &off, 100), 6, "sendfile with an offset stops at end of file");
	CHECK_EQ(off, 26, "and updates *offset");
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 8, "but not the file offset");
	CHECK_EQ(read(p[0], buf, sizeof buf), 6, "read them");
	CHECK(memcmp(buf, "uvwxyz", 6) == 0, "bytes 20..25");
	off = 26;
	CHECK_EQ(sendfile(p[1], fd, &off, 10), 0, "sendfile at end of file sends nothing");

	int fd2 = open(path2, O_RDWR | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd2 >= 0, "create a second file");
	off = 0;
	CHECK_EQ(sendfile(fd2, fd, &off, 26), 26, "sendfile between regular files");
	memset(buf, 0, sizeof buf);
	CHECK_EQ(pread(fd2, buf, 26, 0), 26, "read the copy");
	CHECK(memcmp(buf, "abcdefghijklmnopqrstuvwxyz", 26) == 0, "the copy is identical");
	CHECK_ERR(sendfile(p[1], p[0], &off, 1), ESPIPE, "sendfile with an offset on a pipe source is ESPIPE");
	int ro = open(path, O_RDONLY);
	CHECK_ERR(sendfile(ro, fd, NULL, 1), EBADF, "sendfile to a read-only descriptor is EBADF");
	CHECK_ERR(sendfile(p[1], -1, NULL, 1), EBADF, "sendfile from a bad descriptor is EBADF");

	/* splice */
	loff_t lo = 10;
	CHECK_EQ(splice(fd, &lo, p[1], NULL, 4, 0), 4, "splice file -> pipe at an offset");
	CHECK_EQ(lo, 14, "the offset advanced");
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 8, "the file offset did not move");
	CHECK_EQ(splice(fd, NULL, p[1], NULL, 2, 0), 2, "splice file -> pipe at the file offset");
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 10, "which moved");
	CHECK_EQ(read(p[0], buf, sizeof buf), 6, "the pipe holds both");
	CHECK(memcmp(buf, "klmnij", 6) == 0, "in order");

	write(p[1], "HELLO", 5);
	lo = 0;
	CHECK_EQ(splice(p[0], NULL, fd2, &lo, 100, 0), 5, "splice pipe -> file takes what the pipe has");
	CHECK_EQ(pread(fd2, buf, 7, 0), 7, "read the file");
	CHECK(memcmp(buf, "HELLOfg", 7) == 0, "the bytes were written at the offset");

	int q[2];
	REQUIRE(pipe(q) == 0, "second pipe");
	write(p[1], "pipe2pipe", 9);
	CHECK_EQ(splice(p[0], NULL, q[1], NULL, 4, 0), 4, "splice pipe -> pipe moves part");
	CHECK_EQ(read(q[0], buf, sizeof buf), 4, "the second pipe has it");
	CHECK(memcmp(buf, "pipe", 4) == 0, "the first bytes");
	CHECK_EQ(read(p[0], buf, sizeof buf), 5, "the rest stayed in the first pipe");
	CHECK(memcmp(buf, "2pipe", 5) == 0, "in order");

	CHECK_ERR(splice(fd, NULL, fd2, NULL, 1, 0), EINVAL, "splice with no pipe is EINVAL");
	lo = 0;
	CHECK_ERR(splice(p[0], &lo, fd2, NULL, 1, 0), ESPIPE, "an offset for the pipe side is ESPIPE");
	CHECK_ERR(splice(p[0], NULL, q[1], NULL, 1, SPLICE_F_NONBLOCK), EAGAIN,
		  "SPLICE_F_NONBLOCK on an empty pipe is EAGAIN");
	CHECK_ERR(splice(p[0], NULL, fd2, NULL, 1, 0x100), EINVAL, "an unknown flag is EINVAL");
	CHECK_ERR(splice(p[0], NULL, p[1], NULL, 1, 0), EINVAL, "splicing a pipe into itself is EINVAL");

	/* A blocking splice waits for a writer. */
	pid_t c = fork();
	if (c == 0) {
		usleep(100000);
		write(p[1], "late", 4);
		_exit(0);
	}
	CHECK_EQ(splice(p[0], NULL, q[1], NULL, 100, 0), 4, "a blocking splice waits for data");
	waitpid(c, NULL, 0);
	CHECK_EQ(read(q[0], buf, sizeof buf), 4, "and moved it");

	/* tee */
	write(p[1], "teedata", 7);
	CHECK_EQ(tee(p[0], q[1], 100, 0), 7, "tee copies the pipe's contents");
	CHECK_EQ(read(q[0], buf, sizeof buf), 7, "the second pipe has them");
	CHECK(memcmp(buf, "teedata", 7) == 0, "identical");
	CHECK_EQ(read(p[0], buf, sizeof buf), 7, "and they are still in the first pipe");
	CHECK_ERR(tee(p[0], q[1], 100, SPLICE_F_NONBLOCK), EAGAIN, "tee of an empty pipe with SPLICE_F_NONBLOCK is EAGAIN");
	CHECK_ERR(tee(fd, q[1], 100, 0), EINVAL, "tee from a file is EINVAL");
	CHECK_ERR(tee(p[0], p[1], 100, 0), EINVAL, "tee of a pipe into itself is EINVAL");

	/* vmsplice */
	struct iovec iov[2] = {{"vm", 2}, {"splice", 6}};
	CHECK_EQ(vmsplice(p[1], iov, 2, 0), 8, "vmsplice the iovecs into a pipe");
	CHECK_EQ(read(p[0], buf, sizeof buf), 8, "read them back");
	CHECK(memcmp(buf, "vmsplice", 8) == 0, "in order");
	CHECK_ERR(vmsplice(fd, iov, 1, 0), EBADF, "vmsplice on a regular file is EBADF");

	/* End of file and broken pipes. */
	close(p[1]);
	CHECK_EQ(splice(p[0], NULL, q[1], NULL, 10, 0), 0, "splice from a pipe with no writer is end of file");
	signal(SIGPIPE, SIG_IGN);
	close(q[0]);
	off = 0;
	CHECK_ERR(sendfile(q[1], fd, &off, 5), EPIPE, "sendfile into a pipe with no reader is EPIPE");

	/* copy_file_range */
	loff_t a = 0, b = 100;
	CHECK_EQ(copy_file_range(fd, &a, fd2, &b, 26, 0), 26, "copy_file_range with offsets");
	CHECK(a == 26 && b == 126, "both offsets advanced");
	CHECK_EQ(pread(fd2, buf, 26, 100), 26, "read the copy");
	CHECK(memcmp(buf, "abcdefghijklmnopqrstuvwxyz", 26) == 0, "identical");
	lseek(fd, 2, SEEK_SET);
	lseek(fd2, 0, SEEK_SET);
	CHECK_EQ(copy_file_range(fd, NULL, fd2, NULL, 3, 0), 3, "copy_file_range at the file offsets");
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 5, "the source offset moved");
	CHECK_EQ(lseek(fd2, 0, SEEK_CUR), 3, "the destination offset moved");
	a = 30;
	CHECK_EQ(copy_file_range(fd, &a, fd2, NULL, 5, 0), 0, "copying from past the end copies nothing");
	CHECK_ERR(copy_file_range(fd, NULL, fd2, NULL, 1, 1), EINVAL, "a non-zero flags is EINVAL");
	a = 0, b = 5;
	CHECK_ERR(copy_file_range(fd, &a, fd, &b, 10, 0), EINVAL, "overlapping ranges of one file are EINVAL");
	int app = open(path2, O_WRONLY | O_APPEND);
	CHECK_ERR(copy_file_range(fd, NULL, app, NULL, 1, 0), EBADF, "an O_APPEND destination is EBADF");
	int dir = open("/dev/shm", O_RDONLY | O_DIRECTORY);
	CHECK_ERR(copy_file_range(dir, NULL, fd2, NULL, 1, 0), EISDIR, "a directory source is EISDIR");
	CHECK_ERR(copy_file_range(p[0], NULL, fd2, NULL, 1, 0), EINVAL, "a pipe source is EINVAL");

	/* A large transfer with a concurrent reader. */
	int big = open(path2, O_RDWR | O_TRUNC);
	static char data[1 << 20];
	for (unsigned i = 0; i < sizeof data; i++)
		data[i] = (char)(i * 7 + i / 4096);
	REQUIRE(write(big, data, sizeof data) == (ssize_t)sizeof data, "write 1 MiB");
	int r[2];
	REQUIRE(pipe(r) == 0, "pipe");
	c = fork();
	if (c == 0) {
		close(r[1]);
		static char got[1 << 20];
		int n = readall(r[0], got, sizeof got);
		_exit(n == (int)sizeof got && memcmp(got, data, sizeof got) == 0 ? 0 : 1);
	}
	close(r[0]);
	off = 0;
	long total = 0;
	while (total < (long)sizeof data) {
		ssize_t n = sendfile(r[1], big, &off, sizeof data - total);
		if (n <= 0)
			break;
		total += n;
	}
	close(r[1]);
	int st;
	waitpid(c, &st, 0);
	CHECK_EQ(total, sizeof data, "sendfile of 1 MiB through a pipe moved it all");
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the reader got exactly the file's bytes");

	unlink(path);
	unlink(path2);
	return check_done();
}
