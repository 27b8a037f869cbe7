/*
 * signalfd.c checks signalfd(2) and signalfd4(2): the flags and their
 * errors, reading the blocked signals of the set as signalfd_siginfo
 * records (kill, sigqueue, tgkill, SIGCHLD from a child's exit), several
 * records in one read, changing the set of an existing signalfd, readiness
 * for poll(2) and epoll(7), a blocking read woken by a signal from another
 * process, a blocking read cut short by a handled signal (EINTR), and how
 * the file looks (fcntl flags, /proc/self/fd).
 */
#include "check.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int is_pending(int sig)
{
	sigset_t p;

	sigpending(&p);
	return sigismember(&p, sig);
}

static void on_alarm(int sig)
{
	(void)sig;
}

int main(void)
{
	sigset_t set, none;
	struct signalfd_siginfo si[4];
	int sfd;

	sigemptyset(&none);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGRTMIN);
	sigaddset(&set, SIGCHLD);
	REQUIRE(sigprocmask(SIG_BLOCK, &set, NULL) == 0, "block the signals");

	/* Argument errors. */
	CHECK_ERR(signalfd(-1, &set, 0x4), EINVAL, "signalfd4 with an unknown flag");
	CHECK_ERR(syscall(SYS_signalfd4, -1, &set, 4, 0), EINVAL,
		  "signalfd4 with a 4-byte sigset");
	CHECK_ERR(syscall(SYS_signalfd4, -1, NULL, 8, 0), EFAULT,
		  "signalfd4 with a bad mask pointer");
	CHECK_ERR(signalfd(1000, &set, 0), EBADF, "signalfd of a closed descriptor");
	{
		int p[2];

		REQUIRE(pipe(p) == 0, "pipe");
		CHECK_ERR(signalfd(p[0], &set, 0), EINVAL, "signalfd of a pipe");
		close(p[0]);
		close(p[1]);
	}

	sfd = CHECK_OK(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC), "signalfd4");
	REQUIRE(sfd >= 0, "a signalfd");
	CHECK_EQ(fcntl(sfd, F_GETFD), FD_CLOEXEC, "SFD_CLOEXEC sets FD_CLOEXEC");
	CHECK_EQ(fcntl(sfd, F_GETFL) & (O_ACCMODE | O_NONBLOCK), O_RDWR | O_NONBLOCK,
		 "SFD_NONBLOCK: a non-blocking read-write description");
	{
		char path[64], link[64] = { 0 };

		snprintf(path, sizeof(path), "/proc/self/fd/%d", sfd);
		CHECK_OK(readlink(path, link, sizeof(link) - 1), "readlink /proc/self/fd/N");
		CHECK_STR(link, "anon_inode:[signalfd]", "the link names anon_inode:[signalfd]");
	}

	/* Nothing pending. */
	CHECK_ERR(read(sfd, si, sizeof(si)), EAGAIN, "read with nothing pending is EAGAIN");
	{
		struct pollfd p = { .fd = sfd, .events = POLLIN };

		CHECK_EQ(poll(&p, 1, 0), 0, "poll: not readable with nothing pending");
	}

	/* kill. */
	REQUIRE(kill(getpid(), SIGUSR1) == 0, "kill SIGUSR1");
	CHECK(is_pending(SIGUSR1), "SIGUSR1 is pending");
	{
		struct pollfd p = { .fd = sfd, .events = POLLIN };

		CHECK_EQ(poll(&p, 1, 0), 1, "poll: readable with SIGUSR1 pending");
		CHECK_EQ(p.revents, POLLIN, "poll: POLLIN");
	}
	CHECK_ERR(read(sfd, si, sizeof(si[0]) - 1), EINVAL, "read into less than a record is EINVAL");
	CHECK(is_pending(SIGUSR1), "the failed read left SIGUSR1 pending");
	CHECK_EQ(read(sfd, si, sizeof(si)), sizeof(si[0]), "read: one record");
	CHECK_EQ(si[0].ssi_signo, SIGUSR1, "ssi_signo");
	CHECK_EQ(si[0].ssi_code, SI_USER, "ssi_code SI_USER");
	CHECK_EQ(si[0].ssi_pid, getpid(), "ssi_pid is the sender");
	CHECK_EQ(si[0].ssi_uid, getuid(), "ssi_uid is the sender's uid");
	CHECK(!is_pending(SIGUSR1), "reading took SIGUSR1");
	CHECK_ERR(read(sfd, si, sizeof(si)), EAGAIN, "nothing left to read");

	/* sigqueue: real-time signals queue, several records in one read. */
	{
		union sigval v = { .sival_int = 42 };

		REQUIRE(sigqueue(getpid(), SIGRTMIN, v) == 0, "sigqueue 1");
		v.sival_int = 43;
		REQUIRE(sigqueue(getpid(), SIGRTMIN, v) == 0, "sigqueue 2");
		REQUIRE(kill(getpid(), SIGUSR1) == 0, "kill SIGUSR1");
		memset(si, 0, sizeof(si));
		CHECK_EQ(read(sfd, si, sizeof(si)), 3 * sizeof(si[0]), "read: three records");
		/* SIGUSR1 is the lowest number: it comes first. */
		CHECK_EQ(si[0].ssi_signo, SIGUSR1, "first: SIGUSR1");
		CHECK_EQ(si[1].ssi_signo, SIGRTMIN, "second: SIGRTMIN");
		CHECK_EQ(si[1].ssi_code, SI_QUEUE, "ssi_code SI_QUEUE");
		CHECK_EQ(si[1].ssi_int, 42, "ssi_int of the first sigqueue");
		CHECK_EQ(si[2].ssi_int, 43, "ssi_int of the second sigqueue, in order");
		CHECK_EQ(si[2].ssi_pid, getpid(), "ssi_pid of sigqueue");
	}

	/* A thread-directed signal. */
	REQUIRE(syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR1) == 0, "tgkill");
	CHECK_EQ(read(sfd, si, sizeof(si)), sizeof(si[0]), "read a tgkill signal");
	CHECK_EQ(si[0].ssi_code, SI_TKILL, "ssi_code SI_TKILL");

	/* Changing the set: SIGUSR1 is no longer read. */
	{
		sigset_t only2;

		sigemptyset(&only2);
		sigaddset(&only2, SIGUSR2);
		sigaddset(&only2, SIGKILL); /* quietly left out */
		CHECK_EQ(signalfd(sfd, &only2, 0), sfd, "signalfd on an existing signalfd returns it");
		REQUIRE(kill(getpid(), SIGUSR1) == 0, "kill SIGUSR1");
		CHECK_ERR(read(sfd, si, sizeof(si)), EAGAIN, "a signal outside the new set isn't read");
		CHECK(is_pending(SIGUSR1), "and stays pending");
		CHECK_EQ(signalfd(sfd, &set, 0), sfd, "the old set back");
		CHECK_EQ(read(sfd, si, sizeof(si)), sizeof(si[0]), "now it is read");
		CHECK(fcntl(sfd, F_GETFL) & O_NONBLOCK, "changing the set keeps O_NONBLOCK");
	}

	/* epoll. */
	{
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 7 }, out;
		int ep = CHECK_OK(epoll_create1(0), "epoll_create1");

		CHECK_OK(epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev), "epoll_ctl ADD the signalfd");
		CHECK_EQ(epoll_wait(ep, &out, 1, 0), 0, "epoll: nothing pending");
		REQUIRE(kill(getpid(), SIGUSR1) == 0, "kill SIGUSR1");
		CHECK_EQ(epoll_wait(ep, &out, 1, 1000), 1, "epoll: readable after a signal");
		CHECK_EQ(out.data.u32, 7, "epoll: the signalfd's event");
		CHECK_EQ(read(sfd, si, sizeof(si)), sizeof(si[0]), "read it");
		CHECK_EQ(epoll_wait(ep, &out, 1, 0), 0, "epoll: nothing pending after the read");
		close(ep);
	}

	/* SIGCHLD from a child's exit, blocking read. */
	{
		int bfd = CHECK_OK(signalfd(-1, &set, 0), "a blocking signalfd");
		pid_t pid = fork();

		if (pid == 0) {
			usleep(100 * 1000);
			_exit(7);
		}
		REQUIRE(pid > 0, "fork");
		memset(si, 0, sizeof(si));
		CHECK_EQ(read(bfd, si, sizeof(si)), sizeof(si[0]), "blocking read waits for SIGCHLD");
		CHECK_EQ(si[0].ssi_signo, SIGCHLD, "ssi_signo SIGCHLD");
		CHECK_EQ(si[0].ssi_code, CLD_EXITED, "ssi_code CLD_EXITED");
		CHECK_EQ(si[0].ssi_pid, pid, "ssi_pid is the child");
		CHECK_EQ(si[0].ssi_status, 7, "ssi_status is the exit status");
		CHECK_EQ(waitpid(pid, NULL, 0), pid, "reap the child");

		/* A signal sent by another process wakes a blocking read. */
		long long t0 = mono_ms();
		pid = fork();
		if (pid == 0) {
			usleep(100 * 1000);
			kill(getppid(), SIGRTMIN);
			pause(); /* until the parent kills it */
			_exit(0);
		}
		REQUIRE(pid > 0, "fork");
		CHECK_EQ(read(bfd, si, sizeof(si[0])), sizeof(si[0]), "blocking read woken by a kill");
		CHECK_EQ(si[0].ssi_signo, SIGRTMIN, "it read the sent signal");
		CHECK(mono_ms() - t0 >= 50, "the read waited for it");
		CHECK_EQ(si[0].ssi_pid, pid, "ssi_pid is the sending child");
		/* The SIGCHLD of that child's death. */
		CHECK_OK(kill(pid, SIGKILL), "kill the second child");
		CHECK_EQ(read(bfd, si, sizeof(si)), sizeof(si[0]), "its SIGCHLD");
		CHECK_EQ(si[0].ssi_signo, SIGCHLD, "is SIGCHLD");
		CHECK_EQ(si[0].ssi_code, CLD_KILLED, "ssi_code CLD_KILLED");
		CHECK_EQ(si[0].ssi_status, SIGKILL, "ssi_status is the signal");
		CHECK_EQ(waitpid(pid, NULL, 0), pid, "reap the second child");

		/* A handled signal cuts a blocking read short. */
		struct sigaction sa = { .sa_handler = on_alarm };

		sigemptyset(&sa.sa_mask);
		REQUIRE(sigaction(SIGALRM, &sa, NULL) == 0, "SIGALRM handler without SA_RESTART");
		alarm(1);
		CHECK_ERR(read(bfd, si, sizeof(si)), EINTR, "a handled signal interrupts the read");
		close(bfd);
	}

	CHECK(!is_pending(SIGUSR1) && !is_pending(SIGCHLD), "nothing left pending");
	CHECK_EQ(sigprocmask(SIG_SETMASK, &none, NULL), 0, "unblock everything");
	close(sfd);
	return check_done();
}
