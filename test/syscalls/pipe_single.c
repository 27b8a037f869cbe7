/*
 * pipe_single.c checks pipe(2), pipe2(2), the pipe semantics of pipe(7),
 * fcntl(2)'s F_GETPIPE_SZ and F_SETPIPE_SZ, ioctl(2)'s FIONREAD, and
 * poll(2), ppoll(2), select(2) and pselect6(2) on pipes and regular files,
 * all from one process: nothing here ever blocks without a timeout.
 * ppoll and pselect6 are also made raw, because the raw calls write back
 * the time left, which the glibc wrappers hide.
 */
#include "check.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <time.h>

#define GPL3 "/usr/share/common-licenses/GPL-3"
#define PIPEFS_MAGIC 0x50495045
#define DEFAULT_SIZE 65536
#define PAGE 4096

static char big[2 * DEFAULT_SIZE];

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int unread(int fd)
{
	int n = -1;

	if (ioctl(fd, FIONREAD, &n) < 0)
		return -1;
	return n;
}

/* revents polls one descriptor for events without waiting. */
static int revents(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	if (poll(&p, 1, 0) < 0)
		return -1;
	return p.revents;
}

static void test_create(void)
{
	int fds[2];
	struct stat r, w;

	REQUIRE(pipe(fds) == 0, "pipe");
	CHECK(fds[0] >= 0 && fds[1] >= 0 && fds[0] != fds[1], "pipe returns two descriptors");
	CHECK_EQ(fcntl(fds[0], F_GETFL) & O_ACCMODE, O_RDONLY, "the read end is O_RDONLY");
	CHECK_EQ(fcntl(fds[1], F_GETFL) & O_ACCMODE, O_WRONLY, "the write end is O_WRONLY");
	CHECK_EQ(fcntl(fds[0], F_GETFD), 0, "pipe sets no FD_CLOEXEC");
	CHECK_EQ(fstat(fds[0], &r), 0, "fstat of the read end");
	CHECK_EQ(fstat(fds[1], &w), 0, "fstat of the write end");
	CHECK(S_ISFIFO(r.st_mode) && S_ISFIFO(w.st_mode), "both ends are S_IFIFO");
	CHECK_EQ(r.st_mode & 07777, 0600, "a pipe's permissions are 0600");
	CHECK_EQ(r.st_ino, w.st_ino, "both ends have the same inode");
	CHECK_EQ(r.st_dev, w.st_dev, "both ends have the same device");
	CHECK_EQ(r.st_nlink, 1, "a pipe has one link");
	CHECK_EQ(r.st_size, 0, "a pipe's st_size is 0");
	CHECK_EQ(r.st_uid, geteuid(), "a pipe belongs to its creator");

	struct statfs sfs;
	CHECK_EQ(fstatfs(fds[0], &sfs), 0, "fstatfs of a pipe");
	CHECK_EQ(sfs.f_type, PIPEFS_MAGIC, "a pipe is on pipefs");

	int other[2];
	struct stat o;
	REQUIRE(pipe(other) == 0, "a second pipe");
	fstat(other[0], &o);
	CHECK(o.st_ino != r.st_ino, "two pipes have different inodes");
	close(other[0]);
	close(other[1]);

	char c;
	CHECK_ERR(lseek(fds[0], 0, SEEK_CUR), ESPIPE, "lseek on a pipe is ESPIPE");
	CHECK_ERR(pread(fds[0], &c, 1, 0), ESPIPE, "pread on a pipe is ESPIPE");
	CHECK_ERR(pwrite(fds[1], "x", 1, 0), ESPIPE, "pwrite on a pipe is ESPIPE");
	CHECK_ERR(read(fds[1], &c, 1), EBADF, "read from the write end is EBADF");
	CHECK_ERR(write(fds[0], "x", 1), EBADF, "write to the read end is EBADF");
	close(fds[0]);
	close(fds[1]);
}

static void test_pipe2_flags(void)
{
	int fds[2];

	CHECK_EQ(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0, "pipe2 with O_CLOEXEC|O_NONBLOCK");
	CHECK_EQ(fcntl(fds[0], F_GETFD), FD_CLOEXEC, "O_CLOEXEC sets FD_CLOEXEC on the read end");
	CHECK_EQ(fcntl(fds[1], F_GETFD), FD_CLOEXEC, "O_CLOEXEC sets FD_CLOEXEC on the write end");
	CHECK(fcntl(fds[0], F_GETFL) & O_NONBLOCK, "O_NONBLOCK is set on the read end");
	CHECK(fcntl(fds[1], F_GETFL) & O_NONBLOCK, "O_NONBLOCK is set on the write end");
	close(fds[0]);
	close(fds[1]);

	CHECK_ERR(pipe2(fds, O_APPEND), EINVAL, "pipe2 with an unknown flag is EINVAL");
	CHECK_ERR(pipe2(fds, 0x40000000), EINVAL, "pipe2 with a high unknown flag is EINVAL");

	/* A failed copy-out leaves no descriptors behind. */
	int probe = dup(0);
	close(probe);
	CHECK_ERR(syscall(SYS_pipe2, (void *)8, 0), EFAULT, "pipe2 to a bad address is EFAULT");
	CHECK_ERR(syscall(SYS_pipe, (void *)8), EFAULT, "pipe to a bad address is EFAULT");
	int again = dup(0);
	CHECK_EQ(again, probe, "a failed pipe2 leaves no descriptor open");
	close(again);
}

static void test_data(void)
{
	int fds[2];
	char buf[64];

	REQUIRE(pipe(fds) == 0, "pipe");
	CHECK_EQ(unread(fds[0]), 0, "FIONREAD of an empty pipe is 0");
	CHECK_EQ(write(fds[1], "hello", 5), 5, "write 5 bytes");
	CHECK_EQ(write(fds[1], " world", 6), 6, "write 6 more");
	CHECK_EQ(write(fds[1], "", 0), 0, "a write of 0 bytes returns 0");
	CHECK_EQ(unread(fds[0]), 11, "FIONREAD counts the unread bytes");
	CHECK_EQ(unread(fds[1]), 11, "FIONREAD works on the write end too");
	CHECK_EQ(read(fds[0], buf, 3), 3, "a short read");
	CHECK(memcmp(buf, "hel", 3) == 0, "reads come in write order");
	CHECK_EQ(read(fds[0], buf, sizeof(buf)), 8, "a read returns what is there, not what was asked");
	CHECK(memcmp(buf, "lo world", 8) == 0, "the rest comes in order");
	CHECK_EQ(unread(fds[0]), 0, "FIONREAD is 0 once all is read");

	CHECK_EQ(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0, "F_SETFL O_NONBLOCK");
	CHECK_ERR(read(fds[0], buf, 1), EAGAIN, "a non-blocking read of an empty pipe is EAGAIN");

	CHECK_EQ(write(fds[1], "tail", 4), 4, "write before closing");
	CHECK_EQ(close(fds[1]), 0, "close the write end");
	CHECK_EQ(read(fds[0], buf, sizeof(buf)), 4, "data written before close is still read");
	CHECK_EQ(read(fds[0], buf, sizeof(buf)), 0, "read with no writer left is end of file");
	CHECK_EQ(fcntl(fds[0], F_SETFL, 0), 0, "F_SETFL blocking");
	CHECK_EQ(read(fds[0], buf, sizeof(buf)), 0, "a blocking read with no writer is end of file too");
	close(fds[0]);

	REQUIRE(pipe(fds) == 0, "pipe");
	signal(SIGPIPE, SIG_IGN);
	CHECK_EQ(close(fds[0]), 0, "close the read end");
	CHECK_ERR(write(fds[1], "x", 1), EPIPE, "write with no reader is EPIPE");
	CHECK_EQ(write(fds[1], "", 0), 0, "a write of 0 bytes with no reader returns 0");
	signal(SIGPIPE, SIG_DFL);
	close(fds[1]);
}

static void test_capacity(void)
{
	int fds[2];

	REQUIRE(pipe2(fds, O_NONBLOCK) == 0, "pipe2 O_NONBLOCK");
	CHECK_EQ(fcntl(fds[0], F_GETPIPE_SZ), DEFAULT_SIZE, "a new pipe holds 65536 bytes");
	CHECK_EQ(fcntl(fds[1], F_GETPIPE_SZ), DEFAULT_SIZE, "F_GETPIPE_SZ works on the write end");

	CHECK_EQ(write(fds[1], big, sizeof(big)), DEFAULT_SIZE,
		 "a non-blocking write larger than the pipe writes what fits");
	CHECK_EQ(unread(fds[0]), DEFAULT_SIZE, "the pipe is full");
	CHECK_ERR(write(fds[1], "x", 1), EAGAIN, "a non-blocking write to a full pipe is EAGAIN");
	CHECK_EQ(revents(fds[1], POLLOUT), 0, "a full pipe is not writable");
	CHECK_EQ(revents(fds[0], POLLIN), POLLIN, "a full pipe is readable");
	CHECK_ERR(write(fds[1], big, PIPE_BUF), EAGAIN,
		  "a PIPE_BUF write to a full pipe is EAGAIN, not partial");
	CHECK_EQ(read(fds[0], big, PAGE), PAGE, "read a page");
	CHECK_EQ(revents(fds[1], POLLOUT), POLLOUT, "a page read makes the pipe writable");
	CHECK_EQ(write(fds[1], big, PIPE_BUF), PIPE_BUF, "once writable, a PIPE_BUF write goes whole");

	CHECK_ERR(fcntl(fds[0], F_SETPIPE_SZ, PAGE), EBUSY, "shrinking below the contents is EBUSY");
	CHECK_EQ(fcntl(fds[0], F_GETPIPE_SZ), DEFAULT_SIZE, "a failed F_SETPIPE_SZ keeps the size");
	CHECK_EQ(fcntl(fds[0], F_SETPIPE_SZ, DEFAULT_SIZE + 1), 2 * DEFAULT_SIZE,
		 "F_SETPIPE_SZ rounds up to a power of two pages");
	CHECK_EQ(revents(fds[1], POLLOUT), POLLOUT, "a grown pipe is writable");
	ssize_t n = write(fds[1], big, sizeof(big));
	CHECK(n > 0 && n <= DEFAULT_SIZE, "a grown pipe takes more");
	while (read(fds[0], big, sizeof(big)) > 0)
		;
	CHECK_EQ(fcntl(fds[1], F_SETPIPE_SZ, 1), PAGE, "F_SETPIPE_SZ below a page gives a page");
	CHECK_EQ(fcntl(fds[1], F_SETPIPE_SZ, 0), PAGE, "F_SETPIPE_SZ 0 gives a page");
	CHECK_EQ(fcntl(fds[1], F_SETPIPE_SZ, 3 * PAGE), 4 * PAGE, "3 pages round up to 4");
	CHECK_EQ(fcntl(fds[1], F_SETPIPE_SZ, 1 << 20), 1 << 20, "F_SETPIPE_SZ to pipe-max-size");
	CHECK_ERR(fcntl(fds[1], F_SETPIPE_SZ, -1), EINVAL, "F_SETPIPE_SZ beyond 2 GiB is EINVAL");
	CHECK_EQ(fcntl(fds[1], F_SETPIPE_SZ, PAGE), PAGE, "shrinking an empty pipe to a page");
	CHECK_EQ(write(fds[1], big, sizeof(big)), PAGE, "a one-page pipe takes a page");
	CHECK_ERR(write(fds[1], "x", 1), EAGAIN, "and is then full");

	int fd = open(GPL3, O_RDONLY);
	CHECK_ERR(fcntl(fd, F_GETPIPE_SZ), EBADF, "F_GETPIPE_SZ of a regular file is EBADF");
	CHECK_ERR(fcntl(fd, F_SETPIPE_SZ, PAGE), EBADF, "F_SETPIPE_SZ of a regular file is EBADF");
	close(fd);
	close(fds[0]);
	close(fds[1]);

	/* A partial write of a pipe that already holds data. */
	REQUIRE(pipe2(fds, O_NONBLOCK) == 0, "pipe2 O_NONBLOCK");
	CHECK_EQ(write(fds[1], "x", 1), 1, "write 1 byte");
	n = write(fds[1], big, DEFAULT_SIZE);
	CHECK(n > 0 && n < DEFAULT_SIZE, "a write of more than the room left is partial");
	CHECK_EQ(unread(fds[0]), 1 + n, "FIONREAD counts both writes");
	close(fds[0]);
	close(fds[1]);
}

static void test_packet(void)
{
	int fds[2];
	char buf[64];

	REQUIRE(pipe2(fds, O_DIRECT | O_NONBLOCK) == 0, "pipe2 O_DIRECT (packet mode)");
	CHECK(fcntl(fds[1], F_GETFL) & O_DIRECT, "O_DIRECT is set on the write end");
	CHECK_EQ(write(fds[1], "abc", 3), 3, "write a 3-byte packet");
	CHECK_EQ(write(fds[1], "defgh", 5), 5, "write a 5-byte packet");
	CHECK_EQ(read(fds[0], buf, sizeof(buf)), 3, "a read returns one packet");
	CHECK(memcmp(buf, "abc", 3) == 0, "the first packet");
	CHECK_EQ(read(fds[0], buf, 2), 2, "a short read of a packet");
	CHECK(memcmp(buf, "de", 2) == 0, "the start of the second packet");
	CHECK_ERR(read(fds[0], buf, sizeof(buf)), EAGAIN, "the rest of a packet read short is discarded");
	close(fds[0]);
	close(fds[1]);
}

static void test_poll(void)
{
	int fds[2];
	struct pollfd p[4];
	long long t0;

	REQUIRE(pipe(fds) == 0, "pipe");
	CHECK_EQ(revents(fds[0], POLLIN), 0, "an empty pipe is not readable");
	CHECK_EQ(revents(fds[1], POLLOUT), POLLOUT, "an empty pipe is writable");
	CHECK_EQ(revents(fds[1], POLLOUT | POLLWRNORM), POLLOUT | POLLWRNORM, "POLLWRNORM with POLLOUT");
	CHECK_EQ(revents(fds[1], POLLIN), 0, "the write end is never readable");

	t0 = now_ms();
	p[0] = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	CHECK_EQ(poll(p, 1, 100), 0, "poll of an empty pipe times out");
	CHECK(now_ms() - t0 >= 90, "poll waits for its timeout");
	CHECK_EQ(p[0].revents, 0, "a timed-out poll reports nothing");

	write(fds[1], "x", 1);
	CHECK_EQ(revents(fds[0], POLLIN | POLLRDNORM), POLLIN | POLLRDNORM, "a pipe with data is readable");
	t0 = now_ms();
	CHECK_EQ(poll(p, 1, 5000), 1, "poll returns at once when ready");
	CHECK(now_ms() - t0 < 2000, "a ready poll doesn't wait");
	CHECK_EQ(p[0].revents, POLLIN, "poll reports POLLIN");

	p[0] = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	p[1] = (struct pollfd){ .fd = -1, .events = POLLIN, .revents = 0x7f };
	p[2] = (struct pollfd){ .fd = 1000, .events = POLLIN };
	p[3] = (struct pollfd){ .fd = fds[1], .events = POLLOUT };
	CHECK_EQ(poll(p, 4, 0), 3, "poll counts the descriptors with events");
	CHECK_EQ(p[1].revents, 0, "a negative fd is ignored and its revents cleared");
	CHECK_EQ(p[2].revents, POLLNVAL, "a closed fd reports POLLNVAL");
	CHECK_EQ(p[3].revents, POLLOUT, "the write end reports POLLOUT");

	int fd = open(GPL3, O_RDONLY);
	CHECK_EQ(revents(fd, POLLIN | POLLOUT), POLLIN | POLLOUT, "a regular file is always ready");
	close(fd);
	fd = open("/dev/null", O_RDWR);
	CHECK_EQ(revents(fd, POLLIN | POLLOUT | POLLPRI), POLLIN | POLLOUT, "/dev/null is always ready");
	close(fd);

	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	CHECK_ERR(poll(NULL, rl.rlim_cur + 1, 0), EINVAL, "poll of more than RLIMIT_NOFILE fds is EINVAL");
	CHECK_ERR(syscall(SYS_poll, (void *)8, 1, 0), EFAULT, "poll of a bad address is EFAULT");
	CHECK_EQ(poll(NULL, 0, 10), 0, "poll of no fds sleeps for the timeout");

	close(fds[1]);
	CHECK_EQ(revents(fds[0], POLLIN), POLLIN | POLLHUP, "data and no writer: POLLIN|POLLHUP");
	char c;
	read(fds[0], &c, 1);
	CHECK_EQ(revents(fds[0], POLLIN), POLLHUP, "empty with no writer: POLLHUP alone");
	CHECK_EQ(revents(fds[0], 0), POLLHUP, "POLLHUP is reported even when not asked for");
	close(fds[0]);

	REQUIRE(pipe(fds) == 0, "pipe");
	close(fds[0]);
	CHECK_EQ(revents(fds[1], POLLOUT), POLLOUT | POLLERR, "no reader: POLLOUT|POLLERR");
	CHECK_EQ(revents(fds[1], 0), POLLERR, "POLLERR is reported even when not asked for");
	close(fds[1]);
}

static void test_ppoll(void)
{
	int fds[2];
	struct pollfd p;
	struct timespec ts;
	sigset_t set, old, now;

	REQUIRE(pipe(fds) == 0, "pipe");
	p = (struct pollfd){ .fd = fds[0], .events = POLLIN };

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_SETMASK, NULL, &old);
	ts = (struct timespec){ 0, 20 * 1000 * 1000 };
	CHECK_EQ(syscall(SYS_ppoll, &p, 1, &ts, &set, 8), 0, "ppoll with a mask times out");
	CHECK(ts.tv_sec == 0 && ts.tv_nsec == 0, "raw ppoll writes back the time left: none");
	sigprocmask(SIG_SETMASK, NULL, &now);
	CHECK_EQ(sigismember(&now, SIGUSR1), sigismember(&old, SIGUSR1), "ppoll's mask lasts only for the call");
	ts = (struct timespec){ 0, 1000 };
	CHECK_ERR(syscall(SYS_ppoll, &p, 1, &ts, &set, 7), EINVAL, "ppoll with a sigsetsize other than 8 is EINVAL");
	CHECK_EQ(syscall(SYS_ppoll, &p, 1, &ts, NULL, 7), 0, "the sigsetsize is ignored without a mask");
	ts = (struct timespec){ 0, 1000000000 };
	CHECK_ERR(syscall(SYS_ppoll, &p, 1, &ts, NULL, 8), EINVAL, "ppoll with tv_nsec of a second is EINVAL");
	ts = (struct timespec){ -1, 0 };
	CHECK_ERR(syscall(SYS_ppoll, &p, 1, &ts, NULL, 8), EINVAL, "ppoll with a negative timeout is EINVAL");

	write(fds[1], "x", 1);
	ts = (struct timespec){ 10, 0 };
	CHECK_EQ(syscall(SYS_ppoll, &p, 1, &ts, &set, 8), 1, "ppoll returns at once when ready");
	CHECK(ts.tv_sec >= 8 && ts.tv_sec <= 10, "raw ppoll writes back nearly all of its timeout");
	CHECK_EQ(p.revents, POLLIN, "ppoll reports POLLIN");
	CHECK_EQ(syscall(SYS_ppoll, &p, 1, NULL, NULL, 8), 1, "ppoll without a timeout");
	ts = (struct timespec){ 0, 0 };
	CHECK_EQ(ppoll(&p, 1, &ts, &set), 1, "glibc ppoll");
	close(fds[0]);
	close(fds[1]);
}

/*
 * sys_select is the select system call itself: glibc implements select with
 * pselect6.
 */
static long sys_select(int nfds, void *r, void *w, void *e, struct timeval *tv)
{
	return syscall(SYS_select, nfds, r, w, e, tv);
}

static void test_select(void)
{
	int fds[2];
	fd_set r, w, e;
	struct timeval tv;
	long long t0;

	REQUIRE(pipe(fds) == 0, "pipe");
	int nfds = (fds[0] > fds[1] ? fds[0] : fds[1]) + 1;

	FD_ZERO(&r);
	FD_SET(fds[0], &r);
	tv = (struct timeval){ 0, 100 * 1000 };
	t0 = now_ms();
	CHECK_EQ(sys_select(nfds, &r, NULL, NULL, &tv), 0, "select on an empty pipe times out");
	CHECK(now_ms() - t0 >= 90, "select waits for its timeout");
	CHECK(!FD_ISSET(fds[0], &r), "a timed-out select clears the sets");
	CHECK(tv.tv_sec == 0 && tv.tv_usec == 0, "select writes back the time left: none");

	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(fds[0], &r);
	FD_SET(fds[1], &w);
	FD_SET(fds[1], &r);
	tv = (struct timeval){ 0, 0 };
	CHECK_EQ(sys_select(nfds, &r, &w, NULL, &tv), 1, "an empty pipe: only the write end is ready");
	CHECK(!FD_ISSET(fds[0], &r) && !FD_ISSET(fds[1], &r), "nothing is readable");
	CHECK(FD_ISSET(fds[1], &w), "the write end is writable");

	write(fds[1], "x", 1);
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_ZERO(&e);
	FD_SET(fds[0], &r);
	FD_SET(fds[1], &w);
	FD_SET(fds[0], &e);
	tv = (struct timeval){ 10, 0 };
	CHECK_EQ(sys_select(nfds, &r, &w, &e, &tv), 2, "select counts every set a descriptor is ready in");
	CHECK(FD_ISSET(fds[0], &r) && FD_ISSET(fds[1], &w), "readable and writable");
	CHECK(!FD_ISSET(fds[0], &e), "no exceptional condition");
	CHECK(tv.tv_sec >= 8 && tv.tv_sec <= 10, "select writes back nearly all of its timeout");

	/* Microseconds beyond a second carry over. */
	FD_ZERO(&r);
	FD_SET(fds[0], &r);
	tv = (struct timeval){ 0, 1500000 };
	CHECK_EQ(sys_select(nfds, &r, NULL, NULL, &tv), 1, "select with tv_usec over a second");
	tv = (struct timeval){ 0, -1 };
	CHECK_ERR(sys_select(nfds, &r, NULL, NULL, &tv), EINVAL, "select with a negative tv_usec is EINVAL");
	tv = (struct timeval){ -1, 0 };
	CHECK_ERR(sys_select(nfds, &r, NULL, NULL, &tv), EINVAL, "select with a negative tv_sec is EINVAL");
	CHECK_ERR(syscall(SYS_select, -1, NULL, NULL, NULL, NULL), EINVAL, "select with nfds < 0 is EINVAL");
	CHECK_ERR(syscall(SYS_select, nfds, (void *)8, NULL, NULL, NULL), EFAULT, "select of a bad set is EFAULT");

	int closed = dup(0);
	close(closed);
	REQUIRE(closed > fds[0], "a closed fd above the pipe's");
	FD_ZERO(&r);
	FD_SET(closed, &r);
	tv = (struct timeval){ 0, 0 };
	CHECK_ERR(sys_select(closed + 1, &r, NULL, NULL, &tv), EBADF, "select of a closed fd is EBADF");
	FD_ZERO(&r);
	FD_SET(fds[0], &r);
	FD_SET(closed, &r);
	tv = (struct timeval){ 0, 0 };
	CHECK_EQ(sys_select(closed, &r, NULL, NULL, &tv), 1, "bits at or beyond nfds are ignored");

	/* select's nfds may exceed FD_SETSIZE; the table's size bounds it. */
	uint64_t words[64] = { 0 };
	words[fds[0] / 64] |= 1ULL << (fds[0] % 64);
	tv = (struct timeval){ 0, 0 };
	CHECK_EQ(syscall(SYS_select, 64 * 64, words, NULL, NULL, &tv), 1, "select with nfds beyond FD_SETSIZE");

	/* Regular files are always ready, for reading and writing. */
	int fd = open(GPL3, O_RDONLY);
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(fd, &r);
	FD_SET(fd, &w);
	CHECK_EQ(sys_select(fd + 1, &r, &w, NULL, NULL), 2, "a regular file is readable and writable");
	FD_ZERO(&r);
	FD_SET(fd, &r);
	tv = (struct timeval){ 1, 0 };
	CHECK_EQ(select(fd + 1, &r, NULL, NULL, &tv), 1, "glibc select");
	close(fd);

	close(fds[1]);
	FD_ZERO(&r);
	FD_SET(fds[0], &r);
	read(fds[0], big, 1);
	CHECK_EQ(sys_select(nfds, &r, NULL, NULL, NULL), 1, "end of file is readable");
	close(fds[0]);

	REQUIRE(pipe(fds) == 0, "pipe");
	close(fds[0]);
	FD_ZERO(&w);
	FD_SET(fds[1], &w);
	CHECK_EQ(sys_select(fds[1] + 1, NULL, &w, NULL, NULL), 1, "a pipe without a reader is writable (to fail)");
	close(fds[1]);
}

static void test_pselect(void)
{
	int fds[2];
	fd_set r;
	struct timespec ts;
	sigset_t set;
	struct {
		const sigset_t *p;
		size_t size;
	} sig;

	REQUIRE(pipe(fds) == 0, "pipe");
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sig.p = &set;
	sig.size = 8;

	FD_ZERO(&r);
	FD_SET(fds[0], &r);
	ts = (struct timespec){ 0, 20 * 1000 * 1000 };
	CHECK_EQ(syscall(SYS_pselect6, fds[0] + 1, &r, NULL, NULL, &ts, &sig), 0,
		 "pselect6 on an empty pipe times out");
	CHECK(ts.tv_sec == 0 && ts.tv_nsec == 0, "raw pselect6 writes back the time left: none");
	sig.size = 7;
	ts = (struct timespec){ 0, 0 };
	CHECK_ERR(syscall(SYS_pselect6, fds[0] + 1, &r, NULL, NULL, &ts, &sig), EINVAL,
		  "pselect6 with a sigsetsize other than 8 is EINVAL");
	sig.p = NULL;
	CHECK_EQ(syscall(SYS_pselect6, fds[0] + 1, &r, NULL, NULL, &ts, &sig), 0,
		 "the sigsetsize is ignored without a mask");
	CHECK_ERR(syscall(SYS_pselect6, fds[0] + 1, &r, NULL, NULL, &ts, (void *)8), EFAULT,
		  "pselect6 with a bad sigset pair is EFAULT");

	write(fds[1], "x", 1);
	sig.p = &set;
	sig.size = 8;
	FD_ZERO(&r);
	FD_SET(fds[0], &r);
	ts = (struct timespec){ 10, 0 };
	CHECK_EQ(syscall(SYS_pselect6, fds[0] + 1, &r, NULL, NULL, &ts, &sig), 1, "pselect6 when ready");
	CHECK(FD_ISSET(fds[0], &r), "pselect6 reports the pipe readable");
	CHECK(ts.tv_sec >= 8 && ts.tv_sec <= 10, "raw pselect6 writes back nearly all of its timeout");
	ts = (struct timespec){ 0, 0 };
	CHECK_EQ(pselect(fds[0] + 1, &r, NULL, NULL, &ts, &set), 1, "glibc pselect");
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	test_create();
	test_pipe2_flags();
	test_data();
	test_capacity();
	test_packet();
	test_poll();
	test_ppoll();
	test_select();
	test_pselect();
	return check_done();
}
