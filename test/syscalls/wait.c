/*
 * wait.c checks wait4(2), waitpid(2) and waitid(2) against the Linux man
 * pages: WNOHANG, exit statuses, children killed by signals, stopped and
 * continued children (WUNTRACED, WCONTINUED, WSTOPPED), the waitid id types
 * and siginfo fields, WNOWAIT, ECHILD, clone children and __WCLONE/__WALL,
 * rusage, zombies, SIGCHLD (its siginfo, and SIG_IGN meaning no zombies),
 * reparenting to a PR_SET_CHILD_SUBREAPER, and PR_SET_PDEATHSIG.
 */
#include "check.h"

#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

static void msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* reap waits for pid and returns its wait status (-1 if waitpid failed). */
static int reap(pid_t pid)
{
	int status;
	pid_t got;

	do
		got = waitpid(pid, &status, 0);
	while (got == -1 && errno == EINTR);
	return got == pid ? status : -1;
}

static void put(int fd, char c)
{
	if (write(fd, &c, 1) != 1)
		_exit(100);
}

static char get(int fd)
{
	char c = 0;

	if (read(fd, &c, 1) != 1)
		return 0;
	return c;
}

/* nocore stops a child that is about to crash from writing a core file. */
static void nocore(void)
{
	struct rlimit rl = { 0, 0 };

	setrlimit(RLIMIT_CORE, &rl);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* sleeper forks a child that sleeps until killed. */
static pid_t sleeper(void)
{
	pid_t pid = fork();

	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

static void test_exit_status(void)
{
	int fds[2], status = 0x1234;

	REQUIRE(pipe(fds) == 0, "pipe");
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		close(fds[1]);
		get(fds[0]); /* EOF when the parent closes the write end */
		_exit(3);
	}
	close(fds[0]);
	CHECK_EQ(waitpid(pid, &status, WNOHANG), 0, "waitpid WNOHANG returns 0 while the child runs");
	CHECK_EQ(status, 0x1234, "waitpid WNOHANG returning 0 leaves the status alone");
	struct rusage ru;
	memset(&ru, 0xff, sizeof(ru));
	CHECK_EQ(wait4(pid, &status, WNOHANG, &ru), 0, "wait4 WNOHANG returns 0 while the child runs");
	close(fds[1]);
	CHECK_EQ(waitpid(pid, &status, 0), pid, "waitpid returns the pid of the exited child");
	CHECK(WIFEXITED(status) && !WIFSIGNALED(status) && !WIFSTOPPED(status),
	      "WIFEXITED for a child that called _exit");
	CHECK_EQ(WEXITSTATUS(status), 3, "WEXITSTATUS is the _exit argument");

	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0)
		_exit(0x1ff);
	CHECK_EQ(wait4(pid, &status, 0, NULL), pid, "wait4 with a null rusage");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 255, "only the low 8 bits of the exit status are kept");

	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0)
		exit(4);
	CHECK_EQ(wait(&status), pid, "wait returns the only child");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 4, "exit() status seen by wait");
}

static void test_signalled(void)
{
	int status;
	pid_t pid = sleeper();

	CHECK_EQ(kill(pid, SIGKILL), 0, "kill SIGKILL");
	CHECK_EQ(waitpid(pid, &status, 0), pid, "waitpid a child killed by SIGKILL");
	CHECK(WIFSIGNALED(status) && !WIFEXITED(status), "WIFSIGNALED for a child killed by SIGKILL");
	CHECK_EQ(WTERMSIG(status), SIGKILL, "WTERMSIG is SIGKILL");
	CHECK(!WCOREDUMP(status), "SIGKILL never dumps core");

	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		nocore();
		*(volatile int *)8 = 1;
		_exit(0);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid, "waitpid a child that faulted");
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
	      "a child writing to an unmapped address dies of SIGSEGV");
}

static void test_stop_continue(void)
{
	int status;
	pid_t pid = sleeper();

	CHECK_EQ(kill(pid, SIGSTOP), 0, "kill SIGSTOP");
	CHECK_EQ(waitpid(pid, &status, WUNTRACED), pid, "waitpid WUNTRACED reports the stopped child");
	CHECK(WIFSTOPPED(status) && !WIFEXITED(status) && !WIFSIGNALED(status), "WIFSTOPPED");
	CHECK_EQ(WSTOPSIG(status), SIGSTOP, "WSTOPSIG is SIGSTOP");
	CHECK_EQ(waitpid(pid, &status, WUNTRACED | WNOHANG), 0, "a stop is reported only once");
	CHECK_EQ(kill(pid, SIGCONT), 0, "kill SIGCONT");
	CHECK_EQ(waitpid(pid, &status, WCONTINUED), pid, "waitpid WCONTINUED reports the continued child");
	CHECK(WIFCONTINUED(status) && !WIFSTOPPED(status), "WIFCONTINUED");
	CHECK_EQ(waitpid(pid, &status, WCONTINUED | WNOHANG), 0, "a continue is reported only once");

	siginfo_t si;
	CHECK_EQ(kill(pid, SIGSTOP), 0, "kill SIGSTOP again");
	memset(&si, 0, sizeof(si));
	CHECK_EQ(waitid(P_PID, pid, &si, WSTOPPED), 0, "waitid WSTOPPED");
	CHECK(si.si_pid == pid && si.si_signo == SIGCHLD && si.si_code == CLD_STOPPED && si.si_status == SIGSTOP,
	      "waitid WSTOPPED: si_pid, si_signo SIGCHLD, si_code CLD_STOPPED, si_status SIGSTOP");
	CHECK_EQ(kill(pid, SIGCONT), 0, "kill SIGCONT again");
	memset(&si, 0, sizeof(si));
	CHECK_EQ(waitid(P_PID, pid, &si, WCONTINUED), 0, "waitid WCONTINUED");
	CHECK(si.si_pid == pid && si.si_code == CLD_CONTINUED && si.si_status == SIGCONT,
	      "waitid WCONTINUED: si_code CLD_CONTINUED, si_status SIGCONT");
	kill(pid, SIGKILL);
	reap(pid);
}

static void test_waitid(void)
{
	siginfo_t si;

	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0)
		_exit(5);
	memset(&si, 0, sizeof(si));
	CHECK_EQ(waitid(P_PID, pid, &si, WEXITED | WNOWAIT), 0, "waitid P_PID WEXITED|WNOWAIT");
	CHECK(si.si_pid == pid && si.si_code == CLD_EXITED && si.si_status == 5, "WNOWAIT reports the exit");
	memset(&si, 0, sizeof(si));
	CHECK_EQ(waitid(P_ALL, 0, &si, WEXITED | WNOWAIT), 0, "waitid P_ALL WEXITED|WNOWAIT again");
	CHECK_EQ(si.si_pid, pid, "WNOWAIT leaves the child waitable");
	memset(&si, 0, sizeof(si));
	CHECK_EQ(waitid(P_PID, pid, &si, WEXITED), 0, "waitid P_PID WEXITED");
	CHECK_EQ(si.si_signo, SIGCHLD, "waitid si_signo is SIGCHLD");
	CHECK_EQ(si.si_pid, pid, "waitid si_pid is the child");
	CHECK_EQ(si.si_uid, getuid(), "waitid si_uid is the child's real uid");
	CHECK_EQ(si.si_code, CLD_EXITED, "waitid si_code is CLD_EXITED");
	CHECK_EQ(si.si_status, 5, "waitid si_status is the exit status");
	CHECK_ERR(waitid(P_PID, pid, &si, WEXITED | WNOHANG), ECHILD, "the child is reaped only once");

	pid = sleeper();
	CHECK_EQ(kill(pid, SIGKILL), 0, "kill SIGKILL");
	memset(&si, 0, sizeof(si));
	CHECK_EQ(waitid(P_ALL, 0, &si, WEXITED), 0, "waitid P_ALL");
	CHECK(si.si_pid == pid && si.si_code == CLD_KILLED && si.si_status == SIGKILL,
	      "waitid for a killed child: si_code CLD_KILLED, si_status SIGKILL");

	int fds[2];
	REQUIRE(pipe(fds) == 0, "pipe");
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		setpgid(0, 0);
		close(fds[1]);
		get(fds[0]);
		_exit(6);
	}
	close(fds[0]);
	REQUIRE(setpgid(pid, pid) == 0 || getpgid(pid) == pid, "put the child in its own process group");
	memset(&si, 0xff, sizeof(si));
	CHECK_EQ(waitid(P_PGID, pid, &si, WEXITED | WNOHANG), 0, "waitid P_PGID WNOHANG while the child runs");
	CHECK(si.si_pid == 0 && si.si_signo == 0, "waitid WNOHANG with nothing to report zeroes si_pid and si_signo");
	CHECK_ERR(waitid(P_PGID, getpgrp(), &si, WEXITED | WNOHANG), ECHILD,
		  "waitid P_PGID of a group with no children of ours is ECHILD");
	close(fds[1]);
	memset(&si, 0, sizeof(si));
	CHECK_EQ(waitid(P_PGID, pid, &si, WEXITED), 0, "waitid P_PGID");
	CHECK(si.si_pid == pid && si.si_status == 6, "waitid P_PGID reports the child in that group");

	CHECK_ERR(waitid(P_ALL, 0, &si, 0), EINVAL, "waitid with no event in options is EINVAL");
	CHECK_ERR(waitid((idtype_t)42, 0, &si, WEXITED), EINVAL, "waitid with an unknown idtype is EINVAL");
	CHECK_ERR(waitpid(-1, NULL, 0x10000000), EINVAL, "waitpid with unknown options is EINVAL");
	CHECK_ERR(waitid(P_ALL, 0, &si, WEXITED), ECHILD, "waitid with no children is ECHILD");
	CHECK_ERR(waitpid(-1, NULL, 0), ECHILD, "waitpid(-1) with no children is ECHILD");
	CHECK_ERR(waitpid(getpid(), NULL, 0), ECHILD, "waitpid of a process that is not our child is ECHILD");
	CHECK_ERR(wait(NULL), ECHILD, "wait with no children is ECHILD");
}

static int clone_child(void *arg)
{
	(void)arg;
	return 5;
}

static void test_clone_children(void)
{
	size_t size = 64 * 1024;
	char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int status;

	REQUIRE(stack != MAP_FAILED, "mmap a stack for clone");
	/* A "clone" child reports no signal, or one other than SIGCHLD, on exit. */
	pid_t pid = clone(clone_child, stack + size, 0, NULL);
	REQUIRE(pid > 0, "clone a child with no termination signal");
	CHECK_ERR(waitpid(pid, &status, 0), ECHILD, "waitpid without __WCLONE/__WALL ignores a clone child");
	CHECK_EQ(waitpid(pid, &status, __WALL), pid, "waitpid __WALL waits for a clone child");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 5, "the clone child's status");

	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	pid = clone(clone_child, stack + size, SIGUSR1, NULL);
	REQUIRE(pid > 0, "clone a child with termination signal SIGUSR1");
	CHECK_EQ(waitpid(pid, &status, __WCLONE), pid, "waitpid __WCLONE waits for a child with a non-SIGCHLD signal");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 5, "the __WCLONE child's status");
	siginfo_t si;
	struct timespec zero = { 0, 0 };
	memset(&si, 0, sizeof(si));
	CHECK_EQ(sigtimedwait(&usr1, &si, &zero), SIGUSR1,
		 "the clone child's exit sent its termination signal SIGUSR1");
	CHECK(si.si_pid == pid && si.si_code == CLD_EXITED && si.si_status == 5,
	      "the termination signal carries si_pid, si_code CLD_EXITED and si_status");
	sigprocmask(SIG_UNBLOCK, &usr1, NULL);

	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0)
		_exit(2);
	CHECK_ERR(waitpid(pid, &status, __WCLONE), ECHILD, "waitpid __WCLONE ignores an ordinary child");
	CHECK_EQ(waitpid(pid, &status, __WALL), pid, "waitpid __WALL waits for an ordinary child");
	munmap(stack, size);
}

static void spin_cpu(long ms)
{
	struct timespec a, b;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	do
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < ms);
}

static void test_rusage(void)
{
	struct rusage ru;
	int status;

	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		spin_cpu(300);
		_exit(0);
	}
	memset(&ru, 0, sizeof(ru));
	CHECK_EQ(wait4(pid, &status, 0, &ru), pid, "wait4 with an rusage");
	long ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
	CHECK(ms >= 200 && ms < 5000, "wait4 rusage counts the child's 300 ms of CPU time");
	CHECK(ru.ru_maxrss > 0, "wait4 rusage has the child's maximum resident set size");
}

static void test_zombie(void)
{
	siginfo_t si;

	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0)
		_exit(1);
	CHECK_EQ(waitid(P_PID, pid, &si, WEXITED | WNOWAIT), 0, "wait for the child to become a zombie");
	CHECK_EQ(kill(pid, 0), 0, "kill(zombie, 0) succeeds: the zombie still exists");
	CHECK_EQ(getpgid(pid), getpgrp(), "getpgid of a zombie child");
	CHECK_EQ(waitpid(pid, NULL, 0), pid, "the zombie is reaped");
	CHECK_ERR(waitpid(pid, NULL, 0), ECHILD, "a zombie is reaped only once");
	CHECK_ERR(kill(pid, 0), ESRCH, "kill(reaped child, 0) is ESRCH");
}

static volatile sig_atomic_t chld_count;
static siginfo_t chld_info;

static void on_chld(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	chld_info = *si;
	chld_count++;
}

static void test_sigchld(void)
{
	struct sigaction sa = { 0 }, old;
	sigset_t block, empty;

	sa.sa_sigaction = on_chld;
	sa.sa_flags = SA_SIGINFO;
	REQUIRE(sigaction(SIGCHLD, &sa, &old) == 0, "install a SIGCHLD handler");
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigemptyset(&empty);
	sigprocmask(SIG_BLOCK, &block, NULL);

	chld_count = 0;
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0)
		_exit(9);
	while (chld_count == 0)
		sigsuspend(&empty);
	CHECK_EQ(chld_count, 1, "SIGCHLD is delivered to the parent when a child exits");
	CHECK_EQ(chld_info.si_signo, SIGCHLD, "SIGCHLD si_signo");
	CHECK_EQ(chld_info.si_pid, pid, "SIGCHLD si_pid is the child");
	CHECK_EQ(chld_info.si_code, CLD_EXITED, "SIGCHLD si_code is CLD_EXITED");
	CHECK_EQ(chld_info.si_status, 9, "SIGCHLD si_status is the exit status");
	CHECK_EQ(chld_info.si_uid, getuid(), "SIGCHLD si_uid is the child's real uid");
	CHECK(reap(pid) != -1, "reap the child");

	chld_count = 0;
	pid = sleeper();
	kill(pid, SIGKILL);
	while (chld_count == 0)
		sigsuspend(&empty);
	CHECK(chld_info.si_pid == pid && chld_info.si_code == CLD_KILLED && chld_info.si_status == SIGKILL,
	      "SIGCHLD for a killed child: si_code CLD_KILLED, si_status SIGKILL");
	reap(pid);

	chld_count = 0;
	pid = sleeper();
	kill(pid, SIGSTOP);
	while (chld_count == 0)
		sigsuspend(&empty);
	CHECK(chld_info.si_pid == pid && chld_info.si_code == CLD_STOPPED && chld_info.si_status == SIGSTOP,
	      "SIGCHLD for a stopped child: si_code CLD_STOPPED, si_status SIGSTOP");
	chld_count = 0;
	kill(pid, SIGCONT);
	while (chld_count == 0)
		sigsuspend(&empty);
	CHECK(chld_info.si_pid == pid && chld_info.si_code == CLD_CONTINUED && chld_info.si_status == SIGCONT,
	      "SIGCHLD for a continued child: si_code CLD_CONTINUED, si_status SIGCONT");

	/* SA_NOCLDSTOP: no SIGCHLD when a child stops. */
	sa.sa_flags = SA_SIGINFO | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	chld_count = 0;
	int status;
	kill(pid, SIGSTOP);
	CHECK_EQ(waitpid(pid, &status, WUNTRACED), pid, "wait for the child to stop");
	sigset_t pending;
	sigpending(&pending);
	CHECK(!sigismember(&pending, SIGCHLD) && chld_count == 0, "SA_NOCLDSTOP: no SIGCHLD when a child stops");
	kill(pid, SIGKILL);
	while (chld_count == 0)
		sigsuspend(&empty);
	CHECK_EQ(chld_info.si_code, CLD_KILLED, "SA_NOCLDSTOP still reports termination");
	reap(pid);
	sigprocmask(SIG_UNBLOCK, &block, NULL);

	/* SIGCHLD set to SIG_IGN: children leave no zombies and wait fails with ECHILD. */
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	sigaction(SIGCHLD, &sa, NULL);
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		msleep(50);
		_exit(0);
	}
	CHECK_ERR(waitpid(pid, &status, 0), ECHILD,
		  "with SIGCHLD ignored, waitpid blocks until the child ends and then fails with ECHILD");
	CHECK_ERR(kill(pid, 0), ESRCH, "with SIGCHLD ignored, the exited child left no zombie");

	/* SA_NOCLDWAIT with a handler: the same, and the handler still runs. */
	sa.sa_sigaction = on_chld;
	sa.sa_flags = SA_SIGINFO | SA_NOCLDWAIT;
	sigaction(SIGCHLD, &sa, NULL);
	chld_count = 0;
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0)
		_exit(0);
	pid_t got;
	int err;
	do {
		got = waitpid(pid, &status, 0);
		err = errno;
	} while (got == -1 && err == EINTR);
	CHECK(got == -1 && err == ECHILD, "SA_NOCLDWAIT: waitpid fails with ECHILD once the child ends");
	sigaction(SIGCHLD, &old, NULL);
}

static void test_subreaper(void)
{
	int info[2], go[2], report[2], ready[2];
	int flag = -1;

	CHECK_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0, "PR_SET_CHILD_SUBREAPER");
	CHECK_EQ(prctl(PR_GET_CHILD_SUBREAPER, &flag, 0, 0, 0), 0, "PR_GET_CHILD_SUBREAPER");
	CHECK_EQ(flag, 1, "PR_GET_CHILD_SUBREAPER reads back 1");

	REQUIRE(pipe(info) == 0 && pipe(go) == 0 && pipe(report) == 0 && pipe(ready) == 0, "pipes");
	pid_t middle = fork();
	REQUIRE(middle >= 0, "fork");
	if (middle == 0) {
		pid_t grandchild = fork();
		if (grandchild == 0) {
			long r[2];
			r[0] = getppid();
			put(ready[1], 'r');
			if (get(go[0]) != 'g')
				_exit(100);
			r[1] = getppid();
			if (write(report[1], r, sizeof(r)) != sizeof(r))
				_exit(101);
			_exit(8);
		}
		long g = grandchild;
		if (write(info[1], &g, sizeof(g)) != sizeof(g))
			_exit(102);
		get(ready[0]); /* exit only after the grandchild saw us as its parent */
		_exit(0);
	}
	long grandchild = 0;
	CHECK_EQ(read(info[0], &grandchild, sizeof(grandchild)), sizeof(grandchild), "read the grandchild's pid");
	CHECK_EQ(reap(middle) != -1, 1, "the middle child exits");
	put(go[1], 'g');
	long r[2] = { 0, 0 };
	CHECK_EQ(read(report[0], r, sizeof(r)), sizeof(r), "read the grandchild's report");
	CHECK_EQ(r[0], middle, "the grandchild's parent starts as the middle child");
	CHECK_EQ(r[1], getpid(), "the orphaned grandchild is reparented to the subreaper (getppid)");
	int status = reap((pid_t)grandchild);
	CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 8,
	      "the subreaper can wait for the reparented grandchild");
	close(info[0]);
	close(info[1]);
	close(go[0]);
	close(go[1]);
	close(report[0]);
	close(report[1]);
	close(ready[0]);
	close(ready[1]);
}

static void test_pdeathsig(void)
{
	int info[2], go[2];
	int sig = -1;

	/* The grandchild is reparented to us (a subreaper) so that we can reap it. */
	REQUIRE(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0, "PR_SET_CHILD_SUBREAPER");
	CHECK_EQ(prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0), 0, "PR_GET_PDEATHSIG");
	CHECK_EQ(sig, 0, "the parent-death signal starts as 0");
	CHECK_ERR(prctl(PR_SET_PDEATHSIG, 65, 0, 0, 0), EINVAL, "PR_SET_PDEATHSIG with an invalid signal is EINVAL");

	REQUIRE(pipe(info) == 0 && pipe(go) == 0, "pipes");
	pid_t middle = fork();
	REQUIRE(middle >= 0, "fork");
	if (middle == 0) {
		pid_t parent = getpid();
		pid_t grandchild = fork();
		if (grandchild == 0) {
			int s = 0;
			if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 ||
			    prctl(PR_GET_PDEATHSIG, &s, 0, 0, 0) != 0 || s != SIGKILL || getppid() != parent)
				_exit(100);
			long me = getpid();
			if (write(info[1], &me, sizeof(me)) != sizeof(me))
				_exit(101);
			for (;;)
				pause();
		}
		get(go[0]);
		_exit(0);
	}
	long grandchild = 0;
	CHECK_EQ(read(info[0], &grandchild, sizeof(grandchild)), sizeof(grandchild),
		 "the grandchild set PR_SET_PDEATHSIG SIGKILL and read it back");
	put(go[1], 'g');
	CHECK_EQ(reap(middle) != -1, 1, "the middle child exits");
	int status = reap((pid_t)grandchild);
	CHECK(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	      "PR_SET_PDEATHSIG: the grandchild is killed with SIGKILL when its parent exits");
	close(info[0]);
	close(info[1]);
	close(go[0]);
	close(go[1]);

	/* The setting is cleared in a forked child. */
	REQUIRE(prctl(PR_SET_PDEATHSIG, SIGUSR1, 0, 0, 0) == 0, "PR_SET_PDEATHSIG SIGUSR1");
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		int s = -1;
		prctl(PR_GET_PDEATHSIG, &s, 0, 0, 0);
		_exit(s);
	}
	status = reap(pid);
	CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "the parent-death signal is cleared in a child of fork");
	prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
}

int main(void)
{
	test_exit_status();
	test_signalled();
	test_stop_continue();
	test_waitid();
	test_clone_children();
	test_rusage();
	test_zombie();
	test_sigchld();
	test_subreaper();
	test_pdeathsig();
	return check_done();
}
