/*
 * eventfd.c checks eventfd(2) and eventfd2(2): the flags, the counter's
 * reads and writes and their errors, semaphore mode, readiness for poll(2)
 * and select(2), a blocking read woken by a write from another thread and
 * a blocking write woken by a read, the counter shared with a child
 * process, and how the file looks (fstat, /proc/self/fd).
 */
#include "check.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#define MAX_COUNT 0xfffffffffffffffeULL

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

static ssize_t put(int fd, uint64_t v)
{
	return write(fd, &v, sizeof v);
}

/* take reads the counter; -1 for a failed read. */
static long long take(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof v) != sizeof v)
		return -1;
	return (long long)v;
}

static short revents(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM | POLLPRI };

	if (poll(&p, 1, 0) < 0)
		return -1;
	return p.revents;
}

static void test_flags(void)
{
	int fd = CHECK_OK(eventfd(0, 0), "eventfd with no flags");
	CHECK_EQ(fcntl(fd, F_GETFD), 0, "no FD_CLOEXEC without EFD_CLOEXEC");
	CHECK_EQ(fcntl(fd, F_GETFL), O_RDWR, "an eventfd is open O_RDWR");
	close(fd);
	fd = CHECK_OK(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), "eventfd with EFD_CLOEXEC|EFD_NONBLOCK");
	CHECK_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC, "EFD_CLOEXEC sets FD_CLOEXEC");
	CHECK_EQ(fcntl(fd, F_GETFL), O_RDWR | O_NONBLOCK, "EFD_NONBLOCK sets O_NONBLOCK");
	close(fd);
	CHECK_ERR(syscall(SYS_eventfd2, 0, 2), EINVAL, "eventfd2 with an unknown flag is EINVAL");
	CHECK_ERR(syscall(SYS_eventfd2, 0, O_APPEND), EINVAL, "eventfd2 with O_APPEND is EINVAL");
	fd = CHECK_OK(syscall(SYS_eventfd, 7), "eventfd(2) itself, which has no flags");
	CHECK_EQ(take(fd), 7, "the counter starts at the initial value");
	close(fd);
}

static void test_counter(void)
{
	int fd = eventfd(0, EFD_NONBLOCK);
	uint64_t v;
	char big[16];

	REQUIRE(fd >= 0, "eventfd");
	CHECK_ERR(take(fd), EAGAIN, "a nonblocking read of a zero counter is EAGAIN");
	CHECK_EQ(put(fd, 3), 8, "a write of 8 bytes returns 8");
	CHECK_EQ(put(fd, 4), 8, "a second write");
	CHECK_EQ(take(fd), 7, "a read returns the sum of the writes");
	CHECK_ERR(take(fd), EAGAIN, "and resets the counter to 0");
	CHECK_EQ(put(fd, 0), 8, "a write of 0 succeeds");
	CHECK_ERR(take(fd), EAGAIN, "and leaves the counter at 0");

	CHECK_ERR(read(fd, &v, 7), EINVAL, "a read of fewer than 8 bytes is EINVAL");
	CHECK_ERR(write(fd, &v, 4), EINVAL, "a write of fewer than 8 bytes is EINVAL");
	put(fd, 5);
	CHECK_EQ(read(fd, big, sizeof big), 8, "a read into a larger buffer returns 8 bytes");
	memcpy(&v, big, 8);
	CHECK_EQ(v, 5, "with the counter");
	CHECK_ERR(put(fd, 0xffffffffffffffffULL), EINVAL, "a write of 0xffffffffffffffff is EINVAL");
	CHECK_ERR(syscall(SYS_write, fd, (void *)8, 8), EFAULT, "a write from a bad address is EFAULT");
	put(fd, 1);
	CHECK_ERR(syscall(SYS_read, fd, (void *)8, 8), EFAULT, "a read to a bad address is EFAULT");

	/* The counter's limit. */
	take(fd);
	CHECK_EQ(put(fd, MAX_COUNT), 8, "the counter can reach 0xfffffffffffffffe");
	CHECK_ERR(put(fd, 1), EAGAIN, "a nonblocking write past it is EAGAIN");
	CHECK_EQ(put(fd, 0), 8, "a write of 0 to a full counter succeeds");
	CHECK_EQ((uint64_t)take(fd), MAX_COUNT, "the full counter reads back");

	CHECK_ERR(pread(fd, &v, 8, 0), ESPIPE, "pread on an eventfd is ESPIPE");
	CHECK_EQ(lseek(fd, 10, SEEK_SET), 0, "lseek on an eventfd leaves the offset at 0");
	close(fd);
}

static void test_semaphore(void)
{
	int fd = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);

	REQUIRE(fd >= 0, "eventfd");
	CHECK_EQ(take(fd), 1, "semaphore: a read returns 1");
	CHECK_EQ(take(fd), 1, "semaphore: and decrements the counter");
	CHECK_EQ(take(fd), 1, "semaphore: until it is 0");
	CHECK_ERR(take(fd), EAGAIN, "semaphore: then a nonblocking read is EAGAIN");
	put(fd, 2);
	CHECK_EQ(take(fd), 1, "semaphore: after a write of 2, 1");
	CHECK_EQ(revents(fd), POLLIN | POLLOUT, "semaphore: still readable with 1 left");
	CHECK_EQ(take(fd), 1, "semaphore: and 1 again");
	CHECK_EQ(revents(fd), POLLOUT, "semaphore: not readable at 0");
	close(fd);
}

static void test_readiness(void)
{
	int fd = eventfd(0, EFD_NONBLOCK);

	REQUIRE(fd >= 0, "eventfd");
	CHECK_EQ(revents(fd), POLLOUT, "a zero counter is POLLOUT only (not POLLWRNORM)");
	put(fd, 1);
	CHECK_EQ(revents(fd), POLLIN | POLLOUT, "a non-zero counter is POLLIN|POLLOUT");
	put(fd, MAX_COUNT - 2);
	CHECK_EQ(revents(fd), POLLIN | POLLOUT, "one below the limit, a write of 1 still fits: POLLOUT");
	put(fd, 1);
	CHECK_EQ(revents(fd), POLLIN, "at the limit: POLLIN only");

	fd_set r, w;
	struct timeval tv = { 0, 0 };
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(fd, &r);
	FD_SET(fd, &w);
	CHECK_EQ(select(fd + 1, &r, &w, NULL, &tv), 1, "select of a full eventfd: one ready");
	CHECK(FD_ISSET(fd, &r) && !FD_ISSET(fd, &w), "readable, not writable");
	take(fd);
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(fd, &r);
	FD_SET(fd, &w);
	CHECK_EQ(select(fd + 1, &r, &w, NULL, &tv), 1, "select of an empty eventfd: one ready");
	CHECK(!FD_ISSET(fd, &r) && FD_ISSET(fd, &w), "writable, not readable");
	close(fd);
}

static void *write_later(void *arg)
{
	msleep(50);
	put(*(int *)arg, 42);
	return NULL;
}

static void *read_later(void *arg)
{
	msleep(50);
	take(*(int *)arg);
	return NULL;
}

static void test_blocking(void)
{
	int fd = eventfd(0, 0);
	pthread_t th;

	REQUIRE(fd >= 0, "eventfd");
	/* The clock starts before the thread does: it may run, and start
	 * its sleep, before pthread_create returns here. */
	long long t0 = mono_ms();
	REQUIRE(pthread_create(&th, NULL, write_later, &fd) == 0, "pthread_create");
	CHECK_EQ(take(fd), 42, "a blocking read is woken by a write from another thread");
	CHECK(mono_ms() - t0 >= 40, "after the write");
	pthread_join(th, NULL);

	put(fd, MAX_COUNT);
	t0 = mono_ms();
	REQUIRE(pthread_create(&th, NULL, read_later, &fd) == 0, "pthread_create");
	CHECK_EQ(put(fd, 5), 8, "a write that would overflow blocks until a read makes room");
	CHECK(mono_ms() - t0 >= 40, "after the read");
	pthread_join(th, NULL);
	CHECK_EQ(take(fd), 5, "then adds its value");

	struct pollfd p = { .fd = fd, .events = POLLIN };
	REQUIRE(pthread_create(&th, NULL, write_later, &fd) == 0, "pthread_create");
	CHECK_EQ(poll(&p, 1, 5000), 1, "poll is woken by a write from another thread");
	pthread_join(th, NULL);

	/* The counter is the file's: a child shares it. */
	pid_t pid = fork();
	if (pid == 0) {
		put(fd, 100);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	CHECK_EQ(take(fd), 142, "a child's write adds to the shared counter");
	close(fd);
}

static void test_file(void)
{
	int fd = eventfd(0, 0);
	struct stat st;
	char path[64], link[64] = { 0 };

	REQUIRE(fd >= 0, "eventfd");
	CHECK_EQ(fstat(fd, &st), 0, "fstat of an eventfd");
	CHECK_EQ(st.st_mode, 0600, "an eventfd is an anonymous inode of mode 0600");
	CHECK_EQ(st.st_size, 0, "of size 0");
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	CHECK_EQ(readlink(path, link, sizeof link - 1), 20, "readlink of the /proc/self/fd entry");
	CHECK_STR(link, "anon_inode:[eventfd]", "/proc/self/fd shows anon_inode:[eventfd]");
	close(fd);
}

int main(void)
{
	test_flags();
	test_counter();
	test_semaphore();
	test_readiness();
	test_blocking();
	test_file();
	return check_done();
}
