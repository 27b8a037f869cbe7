/*
 * pipe.c checks pipes against the Linux man pages (pipe(2), pipe(7),
 * fcntl(2), poll(2), select(2)): pipe and pipe2 flags, blocking and
 * nonblocking reads and writes, end of file, atomic writes of up to PIPE_BUF
 * bytes from concurrent writers, writers blocking on a full pipe, EPIPE and
 * SIGPIPE, F_GETPIPE_SZ and F_SETPIPE_SZ, FIONREAD, and poll/select
 * readiness including POLLHUP and POLLERR.
 */
#include "check.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#define CAP 65536

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int reap(pid_t pid)
{
	int status;
	pid_t got;

	do
		got = waitpid(pid, &status, 0);
	while (got == -1 && errno == EINTR);
	return got == pid ? status : -1;
}

/* readn reads exactly n bytes unless EOF or an error comes first. */
static ssize_t readn(int fd, char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += r;
	}
	return got;
}

static short revents(int fd, short events)
{
	struct pollfd p = { fd, events, 0 };

	if (poll(&p, 1, 0) < 0)
		return -1;
	return p.revents;
}

static int nbytes(int fd)
{
	int n = -1;

	if (ioctl(fd, FIONREAD, &n) != 0)
		return -1;
	return n;
}

static void test_create(void)
{
	int p[2] = { -1, -1 };
	char buf[8] = { 0 };

	CHECK_EQ(pipe(p), 0, "pipe");
	CHECK(p[0] >= 0 && p[1] >= 0 && p[0] != p[1], "pipe returns two distinct descriptors");
	CHECK_EQ(fcntl(p[0], F_GETFL) & O_ACCMODE, O_RDONLY, "the read end is O_RDONLY");
	CHECK_EQ(fcntl(p[1], F_GETFL) & O_ACCMODE, O_WRONLY, "the write end is O_WRONLY");
	CHECK_EQ(fcntl(p[0], F_GETFD), 0, "pipe without flags: no close-on-exec");
	CHECK_EQ(write(p[1], "abc", 3), 3, "write to the pipe");
	CHECK_EQ(read(p[0], buf, sizeof(buf)), 3, "a read asking for more returns what is there");
	CHECK_STR(buf, "abc", "the data read back");
	CHECK_ERR(write(p[0], "x", 1), EBADF, "write to the read end is EBADF");
	CHECK_ERR(read(p[1], buf, 1), EBADF, "read from the write end is EBADF");
	CHECK_EQ(write(p[1], buf, 0), 0, "a write of 0 bytes returns 0");
	CHECK_EQ(read(p[0], buf, 0), 0, "a read of 0 bytes returns 0");
	close(p[0]);
	close(p[1]);

	CHECK_EQ(pipe2(p, O_CLOEXEC), 0, "pipe2 O_CLOEXEC");
	CHECK(fcntl(p[0], F_GETFD) == FD_CLOEXEC && fcntl(p[1], F_GETFD) == FD_CLOEXEC,
	      "O_CLOEXEC applies to both ends");
	CHECK(!(fcntl(p[0], F_GETFL) & O_NONBLOCK), "O_CLOEXEC alone leaves the ends blocking");
	close(p[0]);
	close(p[1]);
	CHECK_EQ(pipe2(p, O_NONBLOCK), 0, "pipe2 O_NONBLOCK");
	CHECK((fcntl(p[0], F_GETFL) & O_NONBLOCK) && (fcntl(p[1], F_GETFL) & O_NONBLOCK),
	      "O_NONBLOCK applies to both ends");
	CHECK_ERR(read(p[0], buf, 1), EAGAIN, "a nonblocking read of an empty pipe is EAGAIN");
	close(p[1]);
	CHECK_EQ(read(p[0], buf, 1), 0, "a nonblocking read after the writer closed is EOF, not EAGAIN");
	close(p[0]);
	CHECK_ERR(pipe2(p, O_APPEND), EINVAL, "pipe2 with a flag other than O_CLOEXEC/O_NONBLOCK/O_DIRECT is EINVAL");
	CHECK_ERR(pipe2(p, 0x40000000), EINVAL, "pipe2 with an unknown flag is EINVAL");
	CHECK_ERR(syscall(SYS_pipe, (int *)8), EFAULT, "pipe with a bad array pointer is EFAULT");
}

static void test_blocking(void)
{
	int p[2];
	char buf[16] = { 0 };

	REQUIRE(pipe(p) == 0, "pipe");
	long long t0 = mono_ms();
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		close(p[0]);
		msleep(100);
		_exit(write(p[1], "late", 4) == 4 ? 0 : 1);
	}
	close(p[1]);
	CHECK_EQ(read(p[0], buf, sizeof(buf)), 4, "read blocks until a writer sends data");
	CHECK(mono_ms() - t0 >= 100, "the read waited for the writer's 100 ms delay");
	CHECK_STR(buf, "late", "the data from the delayed writer");
	CHECK_EQ(read(p[0], buf, sizeof(buf)), 0, "read returns 0 (EOF) once the last writer has closed");
	reap(pid);
	close(p[0]);
}

static void test_atomic(void)
{
	enum { BLOCKS = 64, BLK = 4096 };
	int p[2];
	static char all[2 * BLOCKS * BLK];
	pid_t kids[2];

	CHECK_EQ(PIPE_BUF, BLK, "PIPE_BUF is 4096");
	REQUIRE(pipe(p) == 0, "pipe");
	for (int k = 0; k < 2; k++) {
		kids[k] = fork();
		REQUIRE(kids[k] >= 0, "fork");
		if (kids[k] == 0) {
			char blk[BLK];
			memset(blk, k ? 'B' : 'A', BLK);
			close(p[0]);
			for (int i = 0; i < BLOCKS; i++)
				if (write(p[1], blk, BLK) != BLK)
					_exit(1);
			_exit(0);
		}
	}
	close(p[1]);
	CHECK_EQ(readn(p[0], all, sizeof(all)), sizeof(all), "read everything the two writers sent");
	int whole = 1, a = 0, b = 0;
	for (int i = 0; i < 2 * BLOCKS; i++) {
		char c = all[i * BLK];
		for (int j = 1; j < BLK; j++)
			if (all[i * BLK + j] != c)
				whole = 0;
		a += c == 'A';
		b += c == 'B';
	}
	CHECK(whole, "writes of PIPE_BUF bytes from concurrent writers are never interleaved");
	CHECK(a == BLOCKS && b == BLOCKS, "every block of both writers arrived");
	for (int k = 0; k < 2; k++) {
		int status = reap(kids[k]);
		CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writer wrote all its blocks");
	}
	close(p[0]);
}

static void test_full(void)
{
	enum { BIG = 4 * CAP };
	int p[2], done[2];
	static char buf[BIG];

	REQUIRE(pipe(p) == 0 && pipe2(done, O_NONBLOCK) == 0, "pipes");
	CHECK_EQ(fcntl(p[1], F_GETPIPE_SZ), CAP, "F_GETPIPE_SZ of a new pipe is 65536");
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		static char out[BIG];
		memset(out, 'z', BIG);
		close(p[0]);
		long n = write(p[1], out, BIG);
		if (write(done[1], &n, sizeof(n)) != sizeof(n))
			_exit(2);
		_exit(0);
	}
	close(p[1]);
	close(done[1]);
	int n = 0;
	for (int i = 0; i < 5000 && (n = nbytes(p[0])) < CAP; i++)
		msleep(1);
	CHECK_EQ(n, CAP, "a writer of 256 KiB fills the pipe to its 64 KiB capacity (FIONREAD)");
	msleep(50);
	long ret = 0;
	CHECK_ERR(read(done[0], &ret, sizeof(ret)), EAGAIN, "the large write has not returned while the pipe is full");
	CHECK_EQ(nbytes(p[0]), CAP, "the pipe holds no more than its capacity");
	CHECK_EQ(readn(p[0], buf, BIG), BIG, "draining the pipe lets the writer finish");
	struct pollfd pd = { done[0], POLLIN, 0 };
	poll(&pd, 1, 5000);
	CHECK_EQ(read(done[0], &ret, sizeof(ret)), sizeof(ret), "the writer reported");
	CHECK_EQ(ret, BIG, "the blocking write returned the full 256 KiB");
	reap(pid);
	close(p[0]);
	close(done[0]);
}

static void test_nonblocking_write(void)
{
	int p[2];
	static char buf[CAP];

	REQUIRE(pipe2(p, O_NONBLOCK) == 0, "pipe2 O_NONBLOCK");
	memset(buf, 'q', sizeof(buf));
	CHECK_EQ(write(p[1], buf, CAP - 96), CAP - 96, "fill the pipe but for 96 bytes");
	CHECK_ERR(write(p[1], buf, 200), EAGAIN,
		  "a nonblocking write of at most PIPE_BUF bytes that does not fit whole is EAGAIN");
	CHECK_EQ(write(p[1], buf, 96), 96, "a write that fits exactly succeeds");
	CHECK_ERR(write(p[1], buf, 1), EAGAIN, "a nonblocking write to a full pipe is EAGAIN");
	CHECK_ERR(write(p[1], buf, 8192), EAGAIN, "a large nonblocking write to a full pipe is EAGAIN");
	CHECK(!(revents(p[1], POLLOUT) & POLLOUT), "a full pipe's write end is not POLLOUT");
	CHECK_EQ(readn(p[0], buf, 4096), 4096, "read one page");
	CHECK(revents(p[1], POLLOUT) & POLLOUT, "after a page is drained the write end is POLLOUT");
	CHECK_EQ(write(p[1], buf, 8192), 4096, "a nonblocking write above PIPE_BUF may be partial");
	close(p[0]);
	close(p[1]);
}

static volatile int pipe_sigs;
static siginfo_t pipe_info;

static void on_pipe(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	pipe_info = *si;
	pipe_sigs++;
}

static void test_epipe(void)
{
	int p[2];
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	REQUIRE(sigaction(SIGPIPE, &sa, &old) == 0, "ignore SIGPIPE");
	REQUIRE(pipe(p) == 0, "pipe");
	close(p[0]);
	CHECK_ERR(write(p[1], "x", 1), EPIPE, "with SIGPIPE ignored, a write with no reader is EPIPE");
	CHECK(revents(p[1], POLLOUT) & POLLERR, "the write end of a pipe without readers polls POLLERR");
	close(p[1]);

	sa.sa_sigaction = on_pipe;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGPIPE, &sa, NULL);
	REQUIRE(pipe(p) == 0, "pipe");
	close(p[0]);
	pipe_sigs = 0;
	CHECK_ERR(write(p[1], "x", 1), EPIPE, "with a SIGPIPE handler, a write with no reader is EPIPE");
	CHECK_EQ(pipe_sigs, 1, "the SIGPIPE handler ran once");
	CHECK(pipe_info.si_code == SI_USER && pipe_info.si_pid == getpid(), "SIGPIPE has si_code SI_USER and our pid");

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &set, NULL);
	pipe_sigs = 0;
	CHECK_ERR(write(p[1], "x", 1), EPIPE, "with SIGPIPE blocked, a write with no reader is EPIPE");
	sigset_t pend;
	sigpending(&pend);
	CHECK(sigismember(&pend, SIGPIPE) && pipe_sigs == 0, "the blocked SIGPIPE is left pending");
	struct timespec zero = { 0, 0 };
	sigtimedwait(&set, NULL, &zero);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	close(p[1]);
	sigaction(SIGPIPE, &old, NULL);

	REQUIRE(pipe(p) == 0, "pipe");
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		close(p[0]);
		if (write(p[1], "x", 1) == -1)
			_exit(1);
		_exit(0);
	}
	close(p[0]);
	close(p[1]);
	int status = reap(pid);
	CHECK(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE,
	      "with the default action, a writer with no reader dies of SIGPIPE");
}

static void test_pipe_size(void)
{
	int p[2];
	static char buf[8192];

	REQUIRE(pipe2(p, O_NONBLOCK) == 0, "pipe2");
	CHECK_EQ(fcntl(p[0], F_GETPIPE_SZ), CAP, "F_GETPIPE_SZ on the read end is 65536 too");
	CHECK_EQ(fcntl(p[1], F_SETPIPE_SZ, 5000), 8192, "F_SETPIPE_SZ 5000 rounds up to 8192 and returns it");
	CHECK_EQ(fcntl(p[0], F_GETPIPE_SZ), 8192, "F_GETPIPE_SZ reports the new size on either end");
	CHECK_EQ(fcntl(p[1], F_SETPIPE_SZ, 65537), 131072, "F_SETPIPE_SZ 65537 rounds up to a power of two pages");
	CHECK_EQ(fcntl(p[1], F_SETPIPE_SZ, 0), 4096, "F_SETPIPE_SZ below a page is rounded up to one page");
	memset(buf, 'r', sizeof(buf));
	CHECK_EQ(write(p[1], buf, sizeof(buf)), 4096, "a one-page pipe takes only 4096 bytes of a nonblocking write");
	CHECK_ERR(write(p[1], buf, 1), EAGAIN, "and is then full");
	CHECK_EQ(fcntl(p[1], F_SETPIPE_SZ, 65536), 65536, "F_SETPIPE_SZ grows a pipe that holds data");
	CHECK_EQ(write(p[1], buf, 4096), 4096, "the grown pipe takes more data");
	CHECK_ERR(fcntl(p[1], F_SETPIPE_SZ, 4096), EBUSY, "F_SETPIPE_SZ below the data held is EBUSY");
	CHECK_EQ(nbytes(p[0]), 8192, "FIONREAD reports the bytes held");
	close(p[0]);
	close(p[1]);
}

static void test_fionread_poll(void)
{
	int p[2];
	char buf[256];

	REQUIRE(pipe(p) == 0, "pipe");
	CHECK_EQ(nbytes(p[0]), 0, "FIONREAD of an empty pipe is 0");
	CHECK_EQ(revents(p[0], POLLIN), 0, "an empty pipe's read end is not readable");
	CHECK_EQ(revents(p[1], POLLOUT), POLLOUT, "an empty pipe's write end is POLLOUT");
	memset(buf, 'f', sizeof(buf));
	REQUIRE(write(p[1], buf, 123) == 123, "write 123 bytes");
	CHECK_EQ(nbytes(p[0]), 123, "FIONREAD reports 123 pending bytes");
	CHECK_EQ(nbytes(p[1]), 123, "FIONREAD on the write end reports them too");
	CHECK_EQ(revents(p[0], POLLIN), POLLIN, "a pipe with data is POLLIN");

	fd_set r, w;
	struct timeval tv = { 0, 0 };
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(p[0], &r);
	FD_SET(p[1], &w);
	CHECK_EQ(select(p[0] > p[1] ? p[0] + 1 : p[1] + 1, &r, &w, NULL, &tv), 2, "select: readable and writable");
	CHECK(FD_ISSET(p[0], &r) && FD_ISSET(p[1], &w),
	      "select marks the read end readable and the write end writable");

	CHECK_EQ(read(p[0], buf, 23), 23, "read 23 bytes");
	CHECK_EQ(nbytes(p[0]), 100, "FIONREAD drops to 100");
	close(p[1]);
	CHECK_EQ(revents(p[0], POLLIN), POLLIN | POLLHUP, "data left after the writer closed: POLLIN|POLLHUP");
	CHECK_EQ(read(p[0], buf, sizeof(buf)), 100, "read the rest");
	CHECK_EQ(revents(p[0], POLLIN) & ~POLLIN, POLLHUP, "a drained pipe without writers is POLLHUP");
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	tv.tv_sec = 0;
	CHECK_EQ(select(p[0] + 1, &r, NULL, NULL, &tv), 1, "select: a pipe at EOF is readable");
	close(p[0]);

	/* poll and select sleep until a writer sends data. */
	REQUIRE(pipe(p) == 0, "pipe");
	long long t0 = mono_ms();
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		msleep(100);
		_exit(write(p[1], "w", 1) == 1 ? 0 : 1);
	}
	struct pollfd pd = { p[0], POLLIN, 0 };
	CHECK_EQ(poll(&pd, 1, 5000), 1, "poll waits for data from another process");
	CHECK(pd.revents == POLLIN && mono_ms() - t0 >= 100, "poll returned POLLIN after the writer's 100 ms delay");
	reap(pid);
	read(p[0], buf, 1);
	t0 = mono_ms();
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		msleep(100);
		_exit(write(p[1], "w", 1) == 1 ? 0 : 1);
	}
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	tv.tv_sec = 5;
	tv.tv_usec = 0;
	CHECK_EQ(select(p[0] + 1, &r, NULL, NULL, &tv), 1, "select waits for data from another process");
	CHECK(FD_ISSET(p[0], &r) && mono_ms() - t0 >= 100, "select returned readable after the writer's delay");
	reap(pid);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	test_create();
	test_blocking();
	test_atomic();
	test_full();
	test_nonblocking_write();
	test_epipe();
	test_pipe_size();
	test_fionread_poll();
	return check_done();
}
