/*
 * epoll.c checks epoll against the Linux man pages (epoll(7),
 * epoll_create(2), epoll_ctl(2), epoll_wait(2)), with pipes and eventfds as
 * the event sources: creation flags, the errors of epoll_ctl and
 * epoll_wait, level-triggered, edge-triggered and one-shot registrations,
 * EPOLLHUP and EPOLLERR on pipes, registrations keyed by file and
 * descriptor number, a registration leaving with the last descriptor of its
 * file, nested epolls, ELOOP, an epoll in poll(2), timeouts in milliseconds
 * and as a timespec, waking a blocked epoll_wait from another thread and
 * another process, and the signal mask of epoll_pwait and epoll_pwait2.
 */
#include "check.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

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

static pid_t gettid_(void)
{
	return syscall(SYS_gettid);
}

/* add registers fd with ep for events, with fd as the data. */
static int add(int ep, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u64 = fd };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int mod(int ep, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u64 = fd };

	return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

/* wait1 waits up to ms for one event and returns its events (0: none). */
static uint32_t wait1(int ep, int ms)
{
	struct epoll_event ev = { 0 };
	int n = epoll_wait(ep, &ev, 1, ms);

	return n == 1 ? ev.events : n == 0 ? 0 : 0xdead;
}

static void put(int efd, uint64_t v)
{
	if (write(efd, &v, 8) != 8)
		printf("# eventfd write failed: %s\n", strerror(errno));
}

static uint64_t take(int efd)
{
	uint64_t v = 0;

	if (read(efd, &v, 8) != 8)
		return 0;
	return v;
}

static void test_create(void)
{
	CHECK_ERR(epoll_create(0), EINVAL, "epoll_create with size 0 is EINVAL");
	CHECK_ERR(epoll_create(-1), EINVAL, "epoll_create with a negative size is EINVAL");
	int a = CHECK_OK(epoll_create(1), "epoll_create with size 1");
	CHECK_EQ(fcntl(a, F_GETFD), 0, "epoll_create sets no FD_CLOEXEC");
	CHECK_EQ(fcntl(a, F_GETFL) & O_ACCMODE, O_RDWR, "an epoll is open O_RDWR");
	int b = CHECK_OK(epoll_create1(EPOLL_CLOEXEC), "epoll_create1(EPOLL_CLOEXEC)");
	CHECK_EQ(fcntl(b, F_GETFD), FD_CLOEXEC, "EPOLL_CLOEXEC sets FD_CLOEXEC");
	CHECK_ERR(epoll_create1(O_NONBLOCK), EINVAL, "epoll_create1 with O_NONBLOCK is EINVAL");
	CHECK_ERR(epoll_create1(1), EINVAL, "epoll_create1 with an unknown flag is EINVAL");

	char buf[16];
	CHECK_ERR(read(a, buf, sizeof buf), EINVAL, "read from an epoll is EINVAL");
	CHECK_ERR(write(a, buf, sizeof buf), EINVAL, "write to an epoll is EINVAL");

	struct stat st;
	CHECK_EQ(fstat(a, &st), 0, "fstat of an epoll");
	CHECK_EQ(st.st_mode, 0600, "an epoll is an anonymous inode of mode 0600");

	char path[64], link[64] = { 0 };
	snprintf(path, sizeof path, "/proc/self/fd/%d", a);
	CHECK_EQ(readlink(path, link, sizeof link - 1), 22, "readlink of an epoll's /proc/self/fd entry");
	CHECK_STR(link, "anon_inode:[eventpoll]", "/proc/self/fd shows anon_inode:[eventpoll]");
	close(a);
	close(b);
}

static void test_ctl_errors(void)
{
	int ep = epoll_create1(0), other = epoll_create1(0);
	int efd = eventfd(0, EFD_NONBLOCK), efd2 = eventfd(0, EFD_NONBLOCK);
	int reg = open("/etc/passwd", O_RDONLY), null = open("/dev/null", O_RDWR);
	int path = open("/etc/passwd", O_PATH);
	struct epoll_event ev = { .events = EPOLLIN };

	REQUIRE(ep >= 0 && other >= 0 && efd >= 0 && efd2 >= 0 && reg >= 0 && null >= 0 && path >= 0, "setup");
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, 999, &ev), EBADF, "ADD of a closed descriptor is EBADF");
	CHECK_ERR(epoll_ctl(999, EPOLL_CTL_ADD, efd, &ev), EBADF, "epoll_ctl on a closed epfd is EBADF");
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, path, &ev), EBADF, "ADD of an O_PATH descriptor is EBADF");
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, efd, (void *)8), EFAULT, "ADD with a bad event pointer is EFAULT");
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, 999, (void *)8), EFAULT, "the event is read before the descriptors are looked up");
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_DEL, 999, NULL), EBADF, "DEL ignores the event pointer");
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, reg, &ev), EPERM, "ADD of a regular file is EPERM");
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, null, &ev), EPERM, "ADD of /dev/null, which can't be polled, is EPERM");
	CHECK_ERR(epoll_ctl(efd2, EPOLL_CTL_ADD, efd, &ev), EINVAL, "epoll_ctl on an epfd that isn't an epoll is EINVAL");
	CHECK_ERR(epoll_ctl(efd2, EPOLL_CTL_ADD, reg, &ev), EPERM, "a target that can't be polled is EPERM before EINVAL");
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev), EINVAL, "adding an epoll to itself is EINVAL");
	CHECK_ERR(epoll_ctl(ep, 4, efd, &ev), EINVAL, "an unknown operation is EINVAL");
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_MOD, efd, &ev), ENOENT, "MOD of an unregistered descriptor is ENOENT");
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL), ENOENT, "DEL of an unregistered descriptor is ENOENT");
	CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev), 0, "ADD of an eventfd");
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev), EEXIST, "a second ADD is EEXIST");
	CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_MOD, efd, &ev), 0, "MOD of a registered descriptor");

	struct epoll_event ex = { .events = EPOLLIN | EPOLLEXCLUSIVE };
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_MOD, efd, &ex), EINVAL, "MOD with EPOLLEXCLUSIVE is EINVAL");
	ex.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT;
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, efd2, &ex), EINVAL, "EPOLLEXCLUSIVE with EPOLLONESHOT is EINVAL");
	ex.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLRDHUP;
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, efd2, &ex), EINVAL, "EPOLLEXCLUSIVE with EPOLLRDHUP is EINVAL");
	ex.events = EPOLLIN | EPOLLEXCLUSIVE;
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, other, &ex), EINVAL, "EPOLLEXCLUSIVE on an epoll is EINVAL");
	ex.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLWAKEUP | EPOLLEXCLUSIVE;
	CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, efd2, &ex), 0, "EPOLLEXCLUSIVE with EPOLLIN, EPOLLOUT, EPOLLET and EPOLLWAKEUP");
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_MOD, efd2, &ev), EINVAL, "MOD of an exclusive registration is EINVAL");
	put(efd2, 1);
	CHECK_EQ(wait1(ep, 0), EPOLLIN | EPOLLOUT, "an exclusive registration reports its events");
	CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_DEL, efd2, NULL), 0, "DEL of an exclusive registration");

	close(ep);
	close(other);
	close(efd);
	close(efd2);
	close(reg);
	close(null);
	close(path);
}

static void test_wait_errors(void)
{
	int ep = epoll_create1(0), efd = eventfd(0, 0);
	struct epoll_event evs[2];

	REQUIRE(ep >= 0 && efd >= 0, "setup");
	CHECK_ERR(epoll_wait(ep, evs, 0, 0), EINVAL, "maxevents 0 is EINVAL");
	CHECK_ERR(syscall(SYS_epoll_wait, ep, evs, -1, 0), EINVAL, "a negative maxevents is EINVAL");
	CHECK_ERR(syscall(SYS_epoll_wait, ep, evs, INT32_MAX / 12 + 1, 0), EINVAL, "maxevents above INT_MAX/12 is EINVAL");
	CHECK_ERR(epoll_wait(999, evs, 2, 0), EBADF, "epoll_wait on a closed descriptor is EBADF");
	CHECK_ERR(epoll_wait(efd, evs, 2, 0), EINVAL, "epoll_wait on a descriptor that isn't an epoll is EINVAL");
	CHECK_ERR(syscall(SYS_epoll_wait, ep, (void *)0xffffffffffff0000ULL, 2, 0), EFAULT,
		  "epoll_wait into kernel addresses is EFAULT");
	add(ep, efd, EPOLLIN);
	put(efd, 1);
	CHECK_ERR(syscall(SYS_epoll_wait, ep, (void *)8, 2, 0), EFAULT, "epoll_wait storing an event at a bad address is EFAULT");
	CHECK_EQ(wait1(ep, 0), EPOLLIN, "the event not stored is still there");
	close(ep);
	close(efd);
}

static void test_level_edge_oneshot(void)
{
	int ep = epoll_create1(0), p[2];

	REQUIRE(ep >= 0 && pipe2(p, O_NONBLOCK) == 0, "setup");
	char c;

	/* Level-triggered: reported while readable. */
	CHECK_EQ(add(ep, p[0], EPOLLIN), 0, "ADD of a pipe's read end");
	CHECK_EQ(wait1(ep, 0), 0, "an empty pipe has no event");
	write(p[1], "ab", 2);
	struct epoll_event ev = { 0 };
	CHECK_EQ(epoll_wait(ep, &ev, 1, 0), 1, "a written pipe has an event");
	CHECK_EQ(ev.events, EPOLLIN, "the event is EPOLLIN");
	CHECK_EQ(ev.data.u64, p[0], "the event carries the registration's data");
	CHECK_EQ(wait1(ep, 0), EPOLLIN, "level-triggered: reported again while unread");
	read(p[0], &c, 1);
	CHECK_EQ(wait1(ep, 0), EPOLLIN, "level-triggered: reported while data is left");
	read(p[0], &c, 1);
	CHECK_EQ(wait1(ep, 0), 0, "level-triggered: not reported once drained");

	/* Edge-triggered: reported once per change. */
	CHECK_EQ(mod(ep, p[0], EPOLLIN | EPOLLET), 0, "MOD to edge-triggered");
	write(p[1], "a", 1);
	CHECK_EQ(wait1(ep, 0), EPOLLIN, "edge-triggered: a write is reported");
	CHECK_EQ(wait1(ep, 0), 0, "edge-triggered: not reported again without a new event");
	write(p[1], "b", 1);
	CHECK_EQ(wait1(ep, 0), EPOLLIN, "edge-triggered: another write is a new event, though data was there");
	CHECK_EQ(wait1(ep, 0), 0, "edge-triggered: and reported once");
	read(p[0], &c, 1);
	CHECK_EQ(wait1(ep, 0), 0, "edge-triggered: a read is no readable edge");
	CHECK_EQ(mod(ep, p[0], EPOLLIN | EPOLLET), 0, "MOD of an edge-triggered registration");
	CHECK_EQ(wait1(ep, 0), EPOLLIN, "MOD polls the file again");
	read(p[0], &c, 1);

	/* One-shot: disarmed after one report until MOD. */
	CHECK_EQ(mod(ep, p[0], EPOLLIN | EPOLLONESHOT), 0, "MOD to one-shot");
	write(p[1], "a", 1);
	CHECK_EQ(wait1(ep, 0), EPOLLIN, "one-shot: the first event is reported");
	CHECK_EQ(wait1(ep, 0), 0, "one-shot: then the registration is disarmed");
	write(p[1], "b", 1);
	CHECK_EQ(wait1(ep, 0), 0, "one-shot: new events aren't reported while disarmed");
	CHECK_ERR(add(ep, p[0], EPOLLIN), EEXIST, "one-shot: a disarmed registration is still registered");
	CHECK_EQ(mod(ep, p[0], EPOLLIN | EPOLLONESHOT), 0, "one-shot: MOD arms it again");
	CHECK_EQ(wait1(ep, 0), EPOLLIN, "one-shot: the re-armed registration reports the pending data");
	CHECK_EQ(wait1(ep, 0), 0, "one-shot: once");

	/* Write ends: writable, and EPOLLERR without a reader. */
	CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL), 0, "DEL of the read end");
	CHECK_EQ(add(ep, p[1], EPOLLOUT), 0, "ADD of the write end for EPOLLOUT");
	CHECK_EQ(wait1(ep, 0), EPOLLOUT, "a pipe with room is EPOLLOUT");
	CHECK_EQ(mod(ep, p[1], EPOLLIN), 0, "MOD of the write end to EPOLLIN");
	CHECK_EQ(wait1(ep, 0), 0, "the write end is never readable");
	close(p[0]);
	CHECK_EQ(wait1(ep, 0), EPOLLERR, "a write end without a reader is EPOLLERR, asked for or not");
	close(p[1]);
	close(ep);
}

static void test_hangup(void)
{
	int ep = epoll_create1(0), p[2];

	REQUIRE(ep >= 0 && pipe(p) == 0, "setup");
	CHECK_EQ(add(ep, p[0], EPOLLIN | EPOLLRDHUP), 0, "ADD of a read end");
	write(p[1], "x", 1);
	close(p[1]);
	CHECK_EQ(wait1(ep, 0), EPOLLIN | EPOLLHUP, "a pipe whose writer closed with data left is EPOLLIN|EPOLLHUP");
	char c;
	read(p[0], &c, 1);
	CHECK_EQ(wait1(ep, 0), EPOLLHUP, "and EPOLLHUP alone once drained");
	CHECK_EQ(mod(ep, p[0], EPOLLOUT), 0, "MOD to EPOLLOUT only");
	CHECK_EQ(wait1(ep, 0), EPOLLHUP, "EPOLLHUP is reported though not asked for");
	CHECK_EQ(mod(ep, p[0], EPOLLIN | EPOLLET), 0, "MOD to edge-triggered");
	CHECK_EQ(wait1(ep, 0), EPOLLHUP, "a hung-up pipe is reported when re-registered");
	CHECK_EQ(wait1(ep, 0), 0, "edge-triggered: once");
	close(p[0]);
	close(ep);
}

static void test_keys_and_close(void)
{
	int ep = epoll_create1(0), p[2];
	struct epoll_event evs[4];

	REQUIRE(ep >= 0 && pipe2(p, O_NONBLOCK) == 0, "setup");

	/* Registrations are per (file, descriptor): a dup is another one. */
	int d = dup(p[0]);
	CHECK_EQ(add(ep, p[0], EPOLLIN), 0, "ADD of a read end");
	CHECK_EQ(add(ep, d, EPOLLIN), 0, "ADD of a dup of it");
	write(p[1], "x", 1);
	int n = epoll_wait(ep, evs, 4, 0);
	CHECK_EQ(n, 2, "a file registered under two descriptors has two events");
	CHECK(n == 2 && evs[0].data.u64 + evs[1].data.u64 == (uint64_t)p[0] + d, "with each registration's data");

	/* Closing one descriptor of a file leaves its registration. */
	int old = p[0];
	close(old);
	CHECK_EQ(epoll_wait(ep, evs, 4, 0), 2, "closing a descriptor whose file is still open removes nothing");
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_DEL, old, NULL), EBADF, "DEL of the closed descriptor is EBADF");
	CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_DEL, d, NULL), 0, "DEL of the dup's own registration");
	CHECK_EQ(epoll_wait(ep, evs, 4, 0), 1, "the registration made through the closed descriptor is still there");
	CHECK_EQ(evs[0].data.u64, old, "and reports its own data");
	int d2 = dup2(d, old);
	CHECK_EQ(d2, old, "dup2 onto the old number");
	CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_DEL, old, NULL), 0, "DEL through the same file under the old number finds the old registration");
	CHECK_EQ(epoll_wait(ep, evs, 4, 0), 0, "and removes it");
	close(d2);
	close(d);
	close(p[1]);

	/* Closing the last descriptor of a file removes its registrations. */
	int efd = eventfd(1, 0);
	REQUIRE(efd >= 0, "eventfd");
	CHECK_EQ(add(ep, efd, EPOLLIN), 0, "ADD of a ready eventfd");
	CHECK_EQ(wait1(ep, 0), EPOLLIN, "the eventfd is reported");
	close(efd);
	CHECK_EQ(wait1(ep, 0), 0, "closing the last descriptor of a file removes its registration");
	int efd2 = eventfd(1, 0);
	CHECK_EQ(efd2, efd, "a new eventfd takes the number");
	CHECK_EQ(add(ep, efd2, EPOLLIN), 0, "and can be added under it");
	CHECK_EQ(wait1(ep, 0), EPOLLIN, "the new file is reported");
	close(efd2);
	close(ep);
}

static void test_maxevents(void)
{
	int ep = epoll_create1(0), efd[3];
	struct epoll_event evs[3];

	REQUIRE(ep >= 0, "setup");
	for (int i = 0; i < 3; i++) {
		efd[i] = eventfd(1, 0);
		add(ep, efd[i], EPOLLIN);
	}
	CHECK_EQ(epoll_wait(ep, evs, 2, 0), 2, "maxevents limits the events returned");
	int first = evs[0].data.u64, second = evs[1].data.u64;
	CHECK_EQ(epoll_wait(ep, evs, 2, 0), 2, "a second call");
	int left = efd[0] + efd[1] + efd[2] - first - second;
	CHECK_EQ(evs[0].data.u64, left, "the event left out comes first next time");
	CHECK_EQ(epoll_wait(ep, evs, 3, 0), 3, "level-triggered registrations all stay ready");
	for (int i = 0; i < 3; i++)
		close(efd[i]);
	close(ep);
}

static void test_nested(void)
{
	int outer = epoll_create1(0), inner = epoll_create1(0), efd = eventfd(0, EFD_NONBLOCK);
	struct epoll_event ev;

	REQUIRE(outer >= 0 && inner >= 0 && efd >= 0, "setup");
	CHECK_EQ(add(inner, efd, EPOLLIN), 0, "ADD of an eventfd to the inner epoll");
	CHECK_EQ(add(outer, inner, EPOLLIN), 0, "ADD of an epoll to another");
	CHECK_EQ(wait1(outer, 0), 0, "nothing ready in the inner epoll: no event");
	struct pollfd pfd = { .fd = inner, .events = POLLIN | POLLOUT };
	CHECK_EQ(poll(&pfd, 1, 0), 0, "poll of an epoll with nothing ready");
	put(efd, 1);
	CHECK_EQ(poll(&pfd, 1, 0), 1, "poll of an epoll with an event ready");
	CHECK_EQ(pfd.revents, POLLIN, "an epoll with an event ready is POLLIN");
	CHECK_EQ(epoll_wait(outer, &ev, 1, 0), 1, "the outer epoll has an event");
	CHECK(ev.events == EPOLLIN && ev.data.u64 == (uint64_t)inner, "the inner epoll is readable");
	CHECK_EQ(wait1(inner, 0), EPOLLIN, "the inner epoll still has its event");
	take(efd);
	CHECK_EQ(wait1(outer, 0), 0, "no event once the eventfd is read");

	/* Loops and chains too long are ELOOP. */
	CHECK_ERR(add(inner, outer, EPOLLIN), ELOOP, "a cycle of epolls is ELOOP");
	int e[6];
	e[0] = inner;
	for (int i = 1; i < 6; i++)
		e[i] = epoll_create1(0);
	for (int i = 1; i < 4; i++)
		CHECK_EQ(add(e[i], e[i - 1], EPOLLIN), 0, "a chain of epolls");
	/* outer -> inner, e1 -> inner, e2 -> e1, e3 -> e2: a chain of 4. */
	CHECK_EQ(add(e[4], e[3], EPOLLIN), 0, "a chain of 5 epolls is allowed");
	CHECK_ERR(add(e[5], e[4], EPOLLIN), ELOOP, "a chain of 6 epolls is ELOOP");
	for (int i = 1; i < 6; i++)
		close(e[i]);
	close(efd);
	close(inner);
	close(outer);
}

static void test_timeouts(void)
{
	int ep = epoll_create1(0), efd = eventfd(0, 0);
	struct epoll_event ev;

	REQUIRE(ep >= 0 && efd >= 0, "setup");
	add(ep, efd, EPOLLIN);
	long long t0 = mono_ms();
	CHECK_EQ(epoll_wait(ep, &ev, 1, 0), 0, "timeout 0 returns at once with nothing ready");
	CHECK(mono_ms() - t0 < 50, "and doesn't wait");
	t0 = mono_ms();
	CHECK_EQ(epoll_wait(ep, &ev, 1, 100), 0, "timeout 100 ms with nothing ready returns 0");
	long long took = mono_ms() - t0;
	CHECK(took >= 95 && took < 2000, "after about 100 ms");

	struct timespec ts = { 0, 80 * 1000000 };
	t0 = mono_ms();
	CHECK_EQ(syscall(SYS_epoll_pwait2, ep, &ev, 1, &ts, NULL, 8), 0, "epoll_pwait2 with an 80 ms timespec returns 0");
	took = mono_ms() - t0;
	CHECK(took >= 75 && took < 2000, "after about 80 ms");
	ts.tv_nsec = 0;
	CHECK_EQ(syscall(SYS_epoll_pwait2, ep, &ev, 1, &ts, NULL, 8), 0, "epoll_pwait2 with a zero timespec returns at once");
	ts.tv_nsec = 1000000000;
	CHECK_ERR(syscall(SYS_epoll_pwait2, ep, &ev, 1, &ts, NULL, 8), EINVAL, "epoll_pwait2 with tv_nsec of a second is EINVAL");
	ts.tv_sec = -1;
	ts.tv_nsec = 0;
	CHECK_ERR(syscall(SYS_epoll_pwait2, ep, &ev, 1, &ts, NULL, 8), EINVAL, "epoll_pwait2 with a negative timespec is EINVAL");
	CHECK_ERR(syscall(SYS_epoll_pwait2, ep, &ev, 1, (void *)8, NULL, 8), EFAULT, "epoll_pwait2 with a bad timespec pointer is EFAULT");
	ts.tv_sec = 0;
	ts.tv_nsec = -1;
	CHECK_ERR(syscall(SYS_epoll_pwait2, ep, &ev, 0, &ts, NULL, 7), EINVAL, "epoll_pwait2 checks the timespec first");
	put(efd, 1);
	CHECK_EQ(syscall(SYS_epoll_pwait2, ep, &ev, 1, NULL, NULL, 8), 1, "epoll_pwait2 without a timeout returns a ready event");
	t0 = mono_ms();
	CHECK_EQ(epoll_wait(ep, &ev, 1, 5000), 1, "a ready event ends a wait with a timeout at once");
	CHECK(mono_ms() - t0 < 1000, "without waiting");
	close(efd);
	close(ep);
}

static void *write_later(void *arg)
{
	msleep(50);
	put(*(int *)arg, 1);
	return NULL;
}

static void test_wake(void)
{
	int ep = epoll_create1(0), efd = eventfd(0, 0), p[2];
	struct epoll_event ev;
	pthread_t th;

	REQUIRE(ep >= 0 && efd >= 0 && pipe(p) == 0, "setup");
	add(ep, efd, EPOLLIN | EPOLLET);
	/* The clock starts before the thread, which may begin its sleep
	 * before pthread_create returns. */
	long long t0 = mono_ms();
	REQUIRE(pthread_create(&th, NULL, write_later, &efd) == 0, "pthread_create");
	CHECK_EQ(epoll_wait(ep, &ev, 1, -1), 1, "a blocked epoll_wait is woken by a write from another thread");
	CHECK(mono_ms() - t0 >= 40, "after the write");
	CHECK_EQ(ev.data.u64, efd, "with the eventfd's event");
	pthread_join(th, NULL);

	/* Through a nested epoll. */
	int outer = epoll_create1(0);
	add(outer, ep, EPOLLIN);
	take(efd);
	wait1(ep, 0);
	REQUIRE(pthread_create(&th, NULL, write_later, &efd) == 0, "pthread_create");
	CHECK_EQ(wait1(outer, 5000), EPOLLIN, "a wait on an outer epoll is woken by an event in an inner one");
	pthread_join(th, NULL);
	close(outer);

	/* From another process. */
	add(ep, p[0], EPOLLIN);
	pid_t pid = fork();
	if (pid == 0) {
		msleep(50);
		write(p[1], "x", 1);
		_exit(0);
	}
	take(efd);
	wait1(ep, 0);
	CHECK_EQ(epoll_wait(ep, &ev, 1, 5000), 1, "a blocked epoll_wait is woken by a write from a child process");
	CHECK_EQ(ev.data.u64, p[0], "with the pipe's event");
	waitpid(pid, NULL, 0);

	/* poll(2) on an epoll wakes too. */
	char c;
	read(p[0], &c, 1);
	wait1(ep, 0);
	REQUIRE(pthread_create(&th, NULL, write_later, &efd) == 0, "pthread_create");
	struct pollfd pfd = { .fd = ep, .events = POLLIN };
	CHECK_EQ(poll(&pfd, 1, 5000), 1, "poll(2) on an epoll is woken by an event in it");
	pthread_join(th, NULL);
	close(p[0]);
	close(p[1]);
	close(efd);
	close(ep);
}

static volatile sig_atomic_t handled;

static void on_usr1(int sig)
{
	(void)sig;
	handled++;
}

struct kill_arg {
	pid_t tid;
	int ms;
};

static void *kill_later(void *arg)
{
	struct kill_arg *k = arg;

	msleep(k->ms);
	syscall(SYS_tgkill, getpid(), k->tid, SIGUSR1);
	return NULL;
}

static void test_signals(void)
{
	int ep = epoll_create1(0);
	struct epoll_event ev;
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigset_t none, usr1, cur;
	pthread_t th;
	struct kill_arg k = { gettid_(), 50 };

	REQUIRE(ep >= 0, "setup");
	sigemptyset(&none);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigaction(SIGUSR1, &sa, NULL);

	/* A signal blocked by epoll_pwait's mask doesn't interrupt it. */
	handled = 0;
	REQUIRE(pthread_create(&th, NULL, kill_later, &k) == 0, "pthread_create");
	CHECK_EQ(epoll_pwait(ep, &ev, 1, 200, &usr1), 0, "a signal blocked by epoll_pwait's mask doesn't interrupt it");
	CHECK_EQ(handled, 1, "the signal is handled once the mask is restored");
	pthread_join(th, NULL);

	/* One it unblocks does, with EINTR, and runs its handler. */
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	handled = 0;
	REQUIRE(pthread_create(&th, NULL, kill_later, &k) == 0, "pthread_create");
	long long t0 = mono_ms();
	CHECK_ERR(epoll_pwait(ep, &ev, 1, 5000, &none), EINTR, "a signal unblocked by epoll_pwait's mask interrupts it with EINTR");
	CHECK(mono_ms() - t0 < 4000, "before the timeout");
	CHECK_EQ(handled, 1, "and its handler runs");
	sigprocmask(SIG_BLOCK, NULL, &cur);
	CHECK(sigismember(&cur, SIGUSR1), "the caller's mask is back after the handler");
	pthread_join(th, NULL);

	/* The same with epoll_pwait2. */
	handled = 0;
	REQUIRE(pthread_create(&th, NULL, kill_later, &k) == 0, "pthread_create");
	CHECK_ERR(syscall(SYS_epoll_pwait2, ep, &ev, 1, NULL, &none, 8), EINTR, "epoll_pwait2 without a timeout is interrupted by a signal its mask unblocks");
	CHECK_EQ(handled, 1, "and the handler runs");
	pthread_join(th, NULL);
	sigprocmask(SIG_UNBLOCK, &usr1, NULL);

	CHECK_ERR(syscall(SYS_epoll_pwait, ep, &ev, 1, 0, &none, 7), EINVAL, "epoll_pwait with a sigset size other than 8 is EINVAL");
	CHECK_ERR(syscall(SYS_epoll_pwait, 999, &ev, 1, 0, &none, 7), EINVAL, "epoll_pwait checks the sigset size before the descriptor");
	CHECK_ERR(syscall(SYS_epoll_pwait, ep, &ev, 1, 0, (void *)8, 8), EFAULT, "epoll_pwait with a bad sigset pointer is EFAULT");

	/* epoll_wait is never restarted, even with SA_RESTART. */
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	handled = 0;
	REQUIRE(pthread_create(&th, NULL, kill_later, &k) == 0, "pthread_create");
	CHECK_ERR(epoll_wait(ep, &ev, 1, 5000), EINTR, "epoll_wait interrupted by a handler is EINTR, even with SA_RESTART");
	CHECK_EQ(handled, 1, "the handler ran");
	pthread_join(th, NULL);

	sa.sa_handler = SIG_DFL;
	sigaction(SIGUSR1, &sa, NULL);
	close(ep);
}

int main(void)
{
	test_create();
	test_ctl_errors();
	test_wait_errors();
	test_level_edge_oneshot();
	test_hangup();
	test_keys_and_close();
	test_maxevents();
	test_nested();
	test_timeouts();
	test_wake();
	test_signals();
	return check_done();
}
