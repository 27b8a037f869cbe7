/*
 * sigio.c checks signal-driven I/O (fcntl(2) O_ASYNC, F_SETOWN, F_SETSIG):
 * SIGIO (si_code SI_KERNEL) to the owner when data arrives on a pipe's
 * read end; with F_SETSIG, the chosen signal with si_code POLL_IN, si_fd
 * and si_band; POLL_OUT to a write end's owner when a read makes room in
 * a full pipe; a pty master's owner told of input written to the slave;
 * another process as the owner; nothing once O_ASYNC is cleared, nothing
 * without an owner, and nothing for an eventfd (which has no signal-driven
 * I/O in Linux).
 *
 * The signals are blocked and taken with sigtimedwait, so that the checks
 * don't depend on when a handler would run.
 */
#include "check.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>

/* wait_sig waits up to ms for sig and returns it (0 on timeout). */
static int wait_sig(int sig, int ms, siginfo_t *si)
{
	sigset_t set;
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	sigemptyset(&set);
	sigaddset(&set, sig);
	memset(si, 0, sizeof(*si));
	int r = sigtimedwait(&set, si, &ts);
	return r < 0 ? 0 : r;
}

static void drain(int sig)
{
	siginfo_t si;

	while (wait_sig(sig, 0, &si))
		;
}

int main(void)
{
	sigset_t block;
	siginfo_t si;
	int p[2];
	char buf[65536];

	sigemptyset(&block);
	sigaddset(&block, SIGIO);
	sigaddset(&block, SIGRTMIN);
	sigaddset(&block, SIGRTMIN + 1);
	REQUIRE(sigprocmask(SIG_BLOCK, &block, NULL) == 0, "block SIGIO and two RT signals");
	REQUIRE(pipe(p) == 0, "pipe");

	/* No owner: nothing. */
	CHECK_OK(fcntl(p[0], F_SETFL, O_ASYNC | O_NONBLOCK), "F_SETFL O_ASYNC on the read end");
	CHECK(fcntl(p[0], F_GETFL) & O_ASYNC, "F_GETFL shows O_ASYNC");
	CHECK_EQ(write(p[1], "a", 1), 1, "write");
	CHECK_EQ(wait_sig(SIGIO, 200, &si), 0, "no owner: no SIGIO");
	read(p[0], buf, sizeof buf);

	/* Owner set: SIGIO with no information. */
	CHECK_OK(fcntl(p[0], F_SETOWN, getpid()), "F_SETOWN to this process");
	CHECK_EQ(fcntl(p[0], F_GETOWN), getpid(), "F_GETOWN");
	CHECK_EQ(fcntl(p[0], F_GETSIG), 0, "F_GETSIG is 0 by default");
	CHECK_EQ(write(p[1], "b", 1), 1, "write");
	CHECK_EQ(wait_sig(SIGIO, 2000, &si), SIGIO, "SIGIO when data arrives");
	CHECK_EQ(si.si_code, SI_KERNEL, "plain SIGIO: si_code SI_KERNEL");
	read(p[0], buf, sizeof buf);
	drain(SIGIO);

	/* F_SETSIG: the signal says what happened and where. */
	CHECK_ERR(fcntl(p[0], F_SETSIG, 65), EINVAL, "F_SETSIG of a bad signal is EINVAL");
	CHECK_OK(fcntl(p[0], F_SETSIG, SIGRTMIN), "F_SETSIG SIGRTMIN");
	CHECK_EQ(fcntl(p[0], F_GETSIG), SIGRTMIN, "F_GETSIG");
	CHECK_EQ(write(p[1], "c", 1), 1, "write");
	CHECK_EQ(wait_sig(SIGRTMIN, 2000, &si), SIGRTMIN, "F_SETSIG's signal when data arrives");
	CHECK_EQ(si.si_code, POLL_IN, "si_code POLL_IN");
	CHECK_EQ(si.si_fd, p[0], "si_fd is the read end");
	CHECK(si.si_band & POLLIN, "si_band has POLLIN");
	CHECK_EQ(wait_sig(SIGIO, 0, &si), 0, "and no plain SIGIO");
	read(p[0], buf, sizeof buf);
	drain(SIGRTMIN);

	/* Cleared O_ASYNC: nothing. */
	CHECK_OK(fcntl(p[0], F_SETFL, O_NONBLOCK), "clear O_ASYNC");
	CHECK_EQ(write(p[1], "d", 1), 1, "write");
	CHECK_EQ(wait_sig(SIGRTMIN, 200, &si), 0, "no signal once O_ASYNC is cleared");
	read(p[0], buf, sizeof buf);

	/* The write end: room made in a full pipe. */
	{
		int n = 0;

		CHECK_OK(fcntl(p[1], F_SETFL, O_NONBLOCK), "non-blocking write end");
		while (write(p[1], buf, sizeof buf) > 0 || (errno != EAGAIN && ++n < 3))
			;
		CHECK_OK(fcntl(p[1], F_SETOWN, getpid()), "F_SETOWN on the write end");
		CHECK_OK(fcntl(p[1], F_SETSIG, SIGRTMIN + 1), "F_SETSIG SIGRTMIN+1");
		CHECK_OK(fcntl(p[1], F_SETFL, O_ASYNC | O_NONBLOCK), "O_ASYNC on the write end");
		CHECK_EQ(wait_sig(SIGRTMIN + 1, 200, &si), 0, "nothing while the pipe stays full");
		CHECK_EQ(read(p[0], buf, 8192), 8192, "read some of the full pipe");
		CHECK_EQ(wait_sig(SIGRTMIN + 1, 2000, &si), SIGRTMIN + 1, "the write end's owner is told");
		CHECK_EQ(si.si_code, POLL_OUT, "si_code POLL_OUT");
		CHECK_EQ(si.si_fd, p[1], "si_fd is the write end");
		CHECK(si.si_band & POLLOUT, "si_band has POLLOUT");
		while (read(p[0], buf, sizeof buf) > 0)
			;
		fcntl(p[1], F_SETFL, 0);
		drain(SIGRTMIN + 1);
	}

	/* Another process as the owner. */
	{
		int q[2], go[2];
		pid_t pid;
		int st;

		REQUIRE(pipe(q) == 0 && pipe(go) == 0, "pipes");
		pid = fork();
		if (pid == 0) {
			/* SIGIO is blocked here too (inherited). */
			write(go[1], "r", 1);
			_exit(wait_sig(SIGIO, 5000, &si) == SIGIO ? 0 : 1);
		}
		REQUIRE(pid > 0, "fork");
		read(go[0], buf, 1);
		CHECK_OK(fcntl(q[0], F_SETOWN, pid), "F_SETOWN to a child");
		CHECK_OK(fcntl(q[0], F_SETFL, O_ASYNC), "O_ASYNC");
		CHECK_EQ(write(q[1], "x", 1), 1, "write");
		CHECK_EQ(waitpid(pid, &st, 0), pid, "wait for the child");
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child got SIGIO");
		CHECK_EQ(wait_sig(SIGIO, 200, &si), 0, "this process did not");
		close(q[0]);
		close(q[1]);
		close(go[0]);
		close(go[1]);
	}

	/* A pty master: input written on the slave side. */
	{
		int m = posix_openpt(O_RDWR | O_NOCTTY), s;

		REQUIRE(m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0, "a pty");
		s = open(ptsname(m), O_RDWR | O_NOCTTY);
		REQUIRE(s >= 0, "open the slave");
		CHECK_OK(fcntl(m, F_SETOWN, getpid()), "F_SETOWN on the master");
		CHECK_OK(fcntl(m, F_SETFL, O_ASYNC | O_NONBLOCK), "O_ASYNC on the master");
		CHECK_EQ(write(s, "hi\n", 3), 3, "write on the slave");
		CHECK_EQ(wait_sig(SIGIO, 2000, &si), SIGIO, "the master's owner gets SIGIO");
		/* The master first: the slave's close would be news to it. */
		close(m);
		close(s);
		drain(SIGIO);
	}

	/* eventfd: no signal-driven I/O. */
	{
		int e = eventfd(0, EFD_NONBLOCK);
		uint64_t one = 1;

		CHECK_OK(fcntl(e, F_SETOWN, getpid()), "F_SETOWN on an eventfd");
		CHECK_OK(fcntl(e, F_SETFL, O_ASYNC | O_NONBLOCK), "O_ASYNC on an eventfd is accepted");
		CHECK_EQ(write(e, &one, 8), 8, "write the eventfd");
		CHECK_EQ(wait_sig(SIGIO, 200, &si), 0, "but sends nothing");
		close(e);
	}
	return check_done();
}
