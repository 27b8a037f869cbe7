/*
 * lock.c: advisory locks. fcntl F_GETLK/F_SETLK/F_SETLKW (POSIX record
 * locks: per process, split and merged by range, released when the process
 * closes any descriptor of the file, deadlock detection), F_OFD_GETLK/
 * F_OFD_SETLK/F_OFD_SETLKW (per open file description, conflicting with
 * POSIX locks), flock(2) (per description, inherited and shared by dup and
 * fork, independent of fcntl locks), F_GETOWN/F_SETOWN, and their errors.
 */
#include "check.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>

static char path[64];

static int setlk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock l = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	return fcntl(fd, cmd, &l);
}

/* getlk returns the conflicting lock for type over [start, start+len). */
static struct flock getlk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock l = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	if (fcntl(fd, cmd, &l) != 0)
		l.l_type = -1;
	return l;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * in_child runs fn in a forked child (a different lock owner) and returns
 * its exit status; fn returns 0 for success or a small code saying what
 * failed.
 */
static int in_child(int (*fn)(int), int arg)
{
	pid_t p = fork();
	if (p == 0)
		_exit(fn(arg));
	int st;
	waitpid(p, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static int child_sees_write_lock(int fd)
{
	struct flock l = getlk(fd, F_GETLK, F_WRLCK, 0, 0);
	if (l.l_type != F_WRLCK)
		return 1;
	if (l.l_start != 0 || l.l_len != 10 || l.l_pid != getppid())
		return 2;
	if (setlk(fd, F_SETLK, F_WRLCK, 5, 1) != -1 || (errno != EAGAIN && errno != EACCES))
		return 3;
	if (setlk(fd, F_SETLK, F_RDLCK, 10, 10) != 0)
		return 4;
	return 0;
}

static int child_can_lock(int range)
{
	int fd = open(path, O_RDWR);
	int start = range / 1000, len = range % 1000;
	return setlk(fd, F_SETLK, F_WRLCK, start, len) == 0 ? 0 : 1;
}

static int child_getlk_merged(int fd)
{
	struct flock l = getlk(fd, F_GETLK, F_WRLCK, 5, 10);
	if (l.l_type != F_RDLCK)
		return 1;
	return l.l_start == 0 && l.l_len == 20 ? 0 : 2;
}

static int child_waits_for_lock(int fd)
{
	double t0 = now();
	if (setlk(fd, F_SETLKW, F_WRLCK, 0, 1) != 0)
		return 1;
	return now() - t0 >= 0.1 ? 0 : 2;
}

static void on_alarm(int sig)
{
	(void)sig;
}

int main(void)
{
	snprintf(path, sizeof path, "/dev/shm/locktest.%d", getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd >= 0, "create a scratch file in /dev/shm");
	REQUIRE(write(fd, "01234567890123456789", 20) == 20, "fill it");

	/* POSIX record locks. */
	CHECK_OK(setlk(fd, F_SETLK, F_WRLCK, 0, 10), "F_SETLK write lock on [0,10)");
	CHECK_EQ(getlk(fd, F_GETLK, F_WRLCK, 0, 0).l_type, F_UNLCK,
		 "F_GETLK ignores the caller's own locks");
	CHECK_EQ(in_child(child_sees_write_lock, fd), 0,
		 "another process: F_GETLK reports the lock and holder's pid, F_SETLK conflicts with EAGAIN, a disjoint lock succeeds");
	CHECK_OK(setlk(fd, F_SETLK, F_UNLCK, 4, 2), "unlocking the middle splits the lock");
	CHECK_EQ(in_child(child_can_lock, 4 * 1000 + 2), 0, "the unlocked middle can be locked by another process");
	CHECK_EQ(in_child(child_can_lock, 0 * 1000 + 4), 1, "the part before the hole is still locked");
	CHECK_EQ(in_child(child_can_lock, 6 * 1000 + 4), 1, "the part after the hole is still locked");
	CHECK_OK(setlk(fd, F_SETLK, F_UNLCK, 0, 0), "unlock everything (l_len 0 reaches EOF)");
	CHECK_EQ(in_child(child_can_lock, 0 * 1000 + 100), 0, "after unlocking, another process can lock");

	CHECK_OK(setlk(fd, F_SETLK, F_RDLCK, 0, 10), "read lock [0,10)");
	CHECK_OK(setlk(fd, F_SETLK, F_RDLCK, 10, 10), "read lock [10,20)");
	CHECK_EQ(in_child(child_getlk_merged, fd), 0, "adjacent read locks merge into one [0,20)");
	CHECK_OK(setlk(fd, F_SETLK, F_UNLCK, 0, 0), "unlock");

	/* Closing any descriptor of the file releases the process's locks. */
	CHECK_OK(setlk(fd, F_SETLK, F_WRLCK, 0, 0), "lock the whole file");
	int fd2 = open(path, O_RDONLY);
	close(fd2);
	CHECK_EQ(in_child(child_can_lock, 0 * 1000 + 100), 0,
		 "closing another descriptor of the file released the lock");

	/* F_SETLKW waits for the holder. */
	CHECK_OK(setlk(fd, F_SETLK, F_WRLCK, 0, 1), "lock byte 0");
	pid_t waiter = fork();
	if (waiter == 0)
		_exit(child_waits_for_lock(fd));
	usleep(200000);
	CHECK_OK(setlk(fd, F_SETLK, F_UNLCK, 0, 1), "unlock byte 0 while the child waits");
	int st;
	waitpid(waiter, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "F_SETLKW waited until the lock was released, then got it");

	/* Deadlock detection. */
	CHECK_OK(setlk(fd, F_SETLK, F_WRLCK, 0, 1), "hold byte 0");
	int sync[2];
	REQUIRE(pipe(sync) == 0, "pipe");
	pid_t c = fork();
	if (c == 0) {
		int ok = setlk(fd, F_SETLK, F_WRLCK, 1, 1) == 0;
		write(sync[1], "x", 1);
		/* Waits for the parent's byte 0. */
		int r = setlk(fd, F_SETLKW, F_WRLCK, 0, 1);
		_exit(ok && r == 0 ? 0 : 1);
	}
	char ch;
	read(sync[0], &ch, 1);
	usleep(200000); /* let the child block */
	CHECK_ERR(setlk(fd, F_SETLKW, F_WRLCK, 1, 1), EDEADLK,
		  "F_SETLKW that would close a wait cycle fails with EDEADLK");
	CHECK_OK(setlk(fd, F_SETLK, F_UNLCK, 0, 0), "release byte 0");
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the waiting child then got byte 0");

	/* Interrupted F_SETLKW. */
	CHECK_OK(setlk(fd, F_SETLK, F_WRLCK, 0, 1), "hold byte 0 again");
	c = fork();
	if (c == 0) {
		struct sigaction sa = {.sa_handler = on_alarm};
		sigaction(SIGALRM, &sa, NULL);
		alarm(1);
		int r = setlk(fd, F_SETLKW, F_WRLCK, 0, 1);
		_exit(r == -1 && errno == EINTR ? 0 : 1);
	}
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "a signal handler without SA_RESTART interrupts F_SETLKW with EINTR");
	CHECK_OK(setlk(fd, F_SETLK, F_UNLCK, 0, 0), "unlock");

	/* l_whence. */
	struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_END, .l_start = -5, .l_len = 5};
	CHECK_OK(fcntl(fd, F_SETLK, &l), "SEEK_END-relative lock of the last 5 bytes");
	CHECK_EQ(in_child(child_can_lock, 14 * 1000 + 1), 0, "byte 14 is free");
	CHECK_EQ(in_child(child_can_lock, 15 * 1000 + 1), 1, "byte 15 is locked");
	CHECK_OK(setlk(fd, F_SETLK, F_UNLCK, 0, 0), "unlock");
	l = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = -4};
	CHECK_OK(fcntl(fd, F_SETLK, &l), "a negative l_len locks the bytes before l_start");
	CHECK_EQ(in_child(child_can_lock, 6 * 1000 + 1), 1, "byte 6 is locked");
	CHECK_EQ(in_child(child_can_lock, 10 * 1000 + 1), 0, "byte 10 is free");
	CHECK_OK(setlk(fd, F_SETLK, F_UNLCK, 0, 0), "unlock");

	/* Errors. */
	CHECK_ERR(setlk(fd, F_SETLK, 42, 0, 1), EINVAL, "an unknown l_type is EINVAL");
	CHECK_ERR(setlk(fd, F_SETLK, F_WRLCK, -1, 1), EINVAL, "a negative start is EINVAL");
	l = (struct flock){.l_type = F_WRLCK, .l_whence = 7};
	CHECK_ERR(fcntl(fd, F_SETLK, &l), EINVAL, "an unknown l_whence is EINVAL");
	int ro = open(path, O_RDONLY), wo = open(path, O_WRONLY);
	CHECK_ERR(setlk(ro, F_SETLK, F_WRLCK, 0, 1), EBADF, "a write lock needs a descriptor open for writing");
	CHECK_ERR(setlk(wo, F_SETLK, F_RDLCK, 0, 1), EBADF, "a read lock needs a descriptor open for reading");
	CHECK_EQ(getlk(ro, F_GETLK, F_WRLCK, 0, 1).l_type, F_UNLCK, "F_GETLK works on a read-only descriptor");
	int pfd = open(path, O_PATH);
	CHECK_ERR(setlk(pfd, F_SETLK, F_RDLCK, 0, 1), EBADF, "O_PATH descriptors can't lock");
	close(pfd);
	close(ro);
	close(wo);

	/* Open file description locks. */
	int a = open(path, O_RDWR), b = open(path, O_RDWR);
	CHECK_OK(setlk(a, F_OFD_SETLK, F_WRLCK, 0, 10), "F_OFD_SETLK on one description");
	CHECK_ERR(setlk(b, F_OFD_SETLK, F_WRLCK, 5, 1), EAGAIN,
		  "another description of the same process conflicts");
	struct flock g = getlk(b, F_OFD_GETLK, F_RDLCK, 0, 0);
	CHECK(g.l_type == F_WRLCK && g.l_pid == -1 && g.l_start == 0 && g.l_len == 10,
	      "F_OFD_GETLK reports the description lock with l_pid -1");
	CHECK_ERR(setlk(b, F_SETLK, F_WRLCK, 0, 1), EAGAIN, "a POSIX lock conflicts with a description lock");
	l = (struct flock){.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_pid = 1};
	CHECK_ERR(fcntl(b, F_OFD_SETLK, &l), EINVAL, "F_OFD_SETLK with a non-zero l_pid is EINVAL");
	close(a);
	CHECK_OK(setlk(b, F_OFD_SETLK, F_WRLCK, 0, 10), "closing the description released its lock");
	close(b);

	/* flock. */
	a = open(path, O_RDONLY);
	b = open(path, O_RDONLY);
	CHECK_OK(flock(a, LOCK_EX), "flock LOCK_EX");
	CHECK_ERR(flock(b, LOCK_EX | LOCK_NB), EWOULDBLOCK, "another description can't take LOCK_EX");
	CHECK_ERR(flock(b, LOCK_SH | LOCK_NB), EWOULDBLOCK, "nor LOCK_SH");
	CHECK_OK(setlk(fd, F_SETLK, F_WRLCK, 0, 0), "fcntl locks are independent of flock");
	CHECK_OK(setlk(fd, F_SETLK, F_UNLCK, 0, 0), "unlock the fcntl lock");
	int a2 = dup(a);
	CHECK_OK(flock(a2, LOCK_EX | LOCK_NB), "a dup shares the flock");
	c = fork();
	if (c == 0)
		_exit(flock(a, LOCK_UN) == 0 ? 0 : 1);
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a forked child unlocks the shared description");
	CHECK_OK(flock(b, LOCK_SH | LOCK_NB), "then another description can lock");
	CHECK_OK(flock(a, LOCK_SH | LOCK_NB), "shared locks coexist");
	CHECK_ERR(flock(a, LOCK_EX | LOCK_NB), EWOULDBLOCK, "converting to LOCK_EX conflicts with the other shared lock");
	close(b);
	CHECK_OK(flock(a, LOCK_EX | LOCK_NB), "closing the other description released its lock");
	CHECK_ERR(flock(a, 0), EINVAL, "flock with no operation is EINVAL");
	CHECK_ERR(flock(a, LOCK_SH | LOCK_EX), EINVAL, "flock with two operations is EINVAL");
	CHECK_ERR(flock(-1, LOCK_SH), EBADF, "flock of a bad descriptor is EBADF");

	b = open(path, O_RDONLY);
	c = fork();
	if (c == 0) {
		/* The child's copies of a would keep the description locked. */
		close(a);
		close(a2);
		double t0 = now();
		int r = flock(b, LOCK_EX);
		_exit(r == 0 && now() - t0 >= 0.1 ? 0 : 1);
	}
	usleep(200000);
	close(a);
	close(a2);
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a blocking flock waits until the holder closes");
	close(b);

	/* Owners. */
	CHECK_EQ(fcntl(fd, F_GETOWN), 0, "F_GETOWN is 0 by default");
	CHECK_OK(fcntl(fd, F_SETOWN, getpid()), "F_SETOWN to our pid");
	CHECK_EQ(fcntl(fd, F_GETOWN), getpid(), "F_GETOWN returns it");
	CHECK_OK(fcntl(fd, F_SETOWN, -getpgrp()), "F_SETOWN to our process group");
	CHECK_EQ(fcntl(fd, F_GETOWN), -getpgrp(), "F_GETOWN returns the negated group");
	struct f_owner_ex ox = {.type = F_OWNER_TID, .pid = gettid()};
	CHECK_OK(fcntl(fd, F_SETOWN_EX, &ox), "F_SETOWN_EX to our thread");
	struct f_owner_ex oy;
	CHECK_OK(fcntl(fd, F_GETOWN_EX, &oy), "F_GETOWN_EX");
	CHECK(oy.type == F_OWNER_TID && oy.pid == gettid(), "F_GETOWN_EX returns the type and id");
	ox.type = 9;
	CHECK_ERR(fcntl(fd, F_SETOWN_EX, &ox), EINVAL, "F_SETOWN_EX with an unknown type is EINVAL");

	close(fd);
	unlink(path);
	return check_done();
}
