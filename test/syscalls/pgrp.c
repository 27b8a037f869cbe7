/*
 * pgrp.c checks sessions and process groups against the Linux man pages
 * (setsid(2), setpgid(2), getsid(2), kill(2), waitpid(2), credentials(7)):
 * setsid making a session and group leader, setpgid creating and joining
 * groups and its EPERM, EACCES, ESRCH and EINVAL cases, getpgid and getsid
 * of other processes, kill and waitpid on a whole group, and SIGHUP+SIGCONT
 * sent to a process group that becomes orphaned with a stopped member.
 */
#include "check.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

static int reap(pid_t pid)
{
	int status;
	pid_t got;

	do
		got = waitpid(pid, &status, 0);
	while (got == -1 && errno == EINTR);
	return got == pid ? status : -1;
}

static int exited_with(int status, int code)
{
	return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == code;
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

/* A helper child: it runs an optional setup, reports, and waits for 'q' or EOF. */
struct kid {
	pid_t pid;
	int cmd[2], rep[2];
};

static void kid_start(struct kid *k, int (*setup)(void))
{
	REQUIRE(pipe(k->cmd) == 0 && pipe(k->rep) == 0, "pipes");
	k->pid = fork();
	REQUIRE(k->pid >= 0, "fork");
	if (k->pid == 0) {
		close(k->cmd[1]);
		close(k->rep[0]);
		long r = setup ? setup() : 0;
		long report[4] = { r, r == -1 ? errno : 0, getpgrp(), getsid(0) };
		if (write(k->rep[1], report, sizeof(report)) != sizeof(report))
			_exit(100);
		get(k->cmd[0]);
		_exit(0);
	}
	close(k->cmd[0]);
	close(k->rep[1]);
}

/* kid_report reads what setup returned, its errno, and the child's pgrp and sid. */
static int kid_report(struct kid *k, long report[4])
{
	return read(k->rep[0], report, 4 * sizeof(long)) == 4 * sizeof(long);
}

static int kid_stop(struct kid *k)
{
	put(k->cmd[1], 'q');
	close(k->cmd[1]);
	close(k->rep[0]);
	return reap(k->pid);
}

static int do_setsid(void)
{
	return setsid();
}

static int leader_setsid(void)
{
	if (setpgid(0, 0) != 0)
		return -2;
	return setsid();
}

static int own_group(void)
{
	return setpgid(0, 0);
}

static void test_setsid(void)
{
	struct kid k;
	long r[4];

	kid_start(&k, do_setsid);
	REQUIRE(kid_report(&k, r), "read the child's report");
	CHECK_EQ(r[0], k.pid, "setsid in a child returns the new session id, its pid");
	CHECK_EQ(r[2], k.pid, "after setsid the child leads its own process group (getpgrp)");
	CHECK_EQ(r[3], k.pid, "after setsid the child leads its own session (getsid)");
	CHECK_EQ(getsid(k.pid), k.pid, "getsid of the child from its parent");
	CHECK_EQ(getpgid(k.pid), k.pid, "getpgid of the child from its parent");
	CHECK(getsid(0) != k.pid, "the parent's session is unchanged");
	CHECK_ERR(setpgid(k.pid, getpgrp()), EPERM, "setpgid of a child in another session is EPERM");
	CHECK(exited_with(kid_stop(&k), 0), "the child exits");

	kid_start(&k, leader_setsid);
	REQUIRE(kid_report(&k, r), "read the child's report");
	CHECK(r[0] == -1 && r[1] == EPERM, "setsid in a process group leader is EPERM");
	CHECK(exited_with(kid_stop(&k), 0), "the child exits");

	CHECK_EQ(getsid(0), getsid(getpid()), "getsid(0) is getsid(getpid())");
	CHECK_EQ(getpgid(0), getpgrp(), "getpgid(0) is getpgrp()");
}

static void test_setpgid(void)
{
	struct kid a, b;
	long r[4];

	kid_start(&a, own_group);
	REQUIRE(kid_report(&a, r), "read the first child's report");
	CHECK_EQ(r[0], 0, "setpgid(0, 0) in a child succeeds");
	CHECK_EQ(r[2], a.pid, "setpgid(0, 0) makes a new group with the child's pid as id");
	CHECK_EQ(getpgid(a.pid), a.pid, "getpgid of the child shows its new group");
	CHECK_EQ(getsid(a.pid), getsid(0), "the child stays in our session");

	kid_start(&b, NULL);
	REQUIRE(kid_report(&b, r), "read the second child's report");
	CHECK_EQ(r[2], getpgrp(), "a child starts in its parent's process group");
	CHECK_EQ(setpgid(b.pid, a.pid), 0, "setpgid moves a child into another group of the same session");
	CHECK_EQ(getpgid(b.pid), a.pid, "getpgid shows the child in the joined group");
	CHECK_EQ(setpgid(b.pid, 0), 0, "setpgid(child, 0) makes the child lead a new group");
	CHECK_EQ(getpgid(b.pid), b.pid, "the child leads its own group now");
	CHECK_EQ(setpgid(b.pid, a.pid), 0, "and it can join the first child's group again");

	CHECK_ERR(setpgid(0, -1), EINVAL, "setpgid with a negative pgid is EINVAL");
	CHECK_ERR(setpgid(0x3fffffff, 0), ESRCH, "setpgid of a process that does not exist is ESRCH");
	CHECK_ERR(getpgid(0x3fffffff), ESRCH, "getpgid of a process that does not exist is ESRCH");
	CHECK_ERR(getsid(0x3fffffff), ESRCH, "getsid of a process that does not exist is ESRCH");
	CHECK_ERR(setpgid(0, 0x3fffffff), EPERM, "setpgid to a group that does not exist in our session is EPERM");

	/* The grandchild of ours is not our child: ESRCH. */
	int fds[2], hold[2];
	REQUIRE(pipe(fds) == 0 && pipe(hold) == 0, "pipes");
	pid_t mid = fork();
	REQUIRE(mid >= 0, "fork");
	if (mid == 0) {
		close(hold[1]);
		pid_t g = fork();
		if (g == 0) {
			get(hold[0]); /* EOF when the test closes its end */
			_exit(0);
		}
		long gl = g;
		if (write(fds[1], &gl, sizeof(gl)) != sizeof(gl))
			_exit(1);
		reap(g);
		_exit(0);
	}
	close(hold[0]);
	long grandchild = 0;
	REQUIRE(read(fds[0], &grandchild, sizeof(grandchild)) == sizeof(grandchild), "read the grandchild's pid");
	CHECK_ERR(setpgid((pid_t)grandchild, (pid_t)grandchild), ESRCH, "setpgid of a grandchild is ESRCH");
	CHECK_EQ(getpgid((pid_t)grandchild), getpgrp(), "getpgid works for any process, here a grandchild");
	close(hold[1]);
	close(fds[1]);
	close(fds[0]);
	reap(mid);

	CHECK(exited_with(kid_stop(&a), 0), "the first child exits");
	CHECK(exited_with(kid_stop(&b), 0), "the second child exits");
}

static void test_exec_eacces(void)
{
	int in[2], sync[2];

	REQUIRE(pipe(in) == 0 && pipe2(sync, O_CLOEXEC) == 0, "pipes");
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		char *argv[] = { "sh", "-c", "read x", NULL };
		char *envp[] = { NULL };
		dup2(in[0], 0);
		close(in[0]);
		close(in[1]);
		close(sync[0]);
		execve("/bin/sh", argv, envp);
		_exit(127);
	}
	close(in[0]);
	close(sync[1]);
	char c;
	CHECK_EQ(read(sync[0], &c, 1), 0, "the child has exec'd (its close-on-exec pipe end closed)");
	CHECK_ERR(setpgid(pid, pid), EACCES, "setpgid of a child that has exec'd is EACCES");
	close(in[1]);
	close(sync[0]);
	reap(pid);
}

static void test_group_signals(void)
{
	struct kid a, b, c;
	long r[4];

	kid_start(&a, own_group);
	REQUIRE(kid_report(&a, r) && r[0] == 0, "the first child leads a new group");
	kid_start(&b, NULL);
	REQUIRE(kid_report(&b, r), "the second child is ready");
	REQUIRE(setpgid(b.pid, a.pid) == 0, "move the second child into the group");
	kid_start(&c, NULL);
	REQUIRE(kid_report(&c, r), "the third child (in our group) is ready");

	CHECK_EQ(kill(-a.pid, 0), 0, "kill(-pgid, 0) checks that the group exists");
	CHECK_ERR(kill(-0x3fffffff, 0), ESRCH, "kill of a process group that does not exist is ESRCH");
	CHECK_EQ(kill(-a.pid, SIGTERM), 0, "kill(-pgid, SIGTERM)");
	int sa = reap(a.pid), sb = reap(b.pid);
	CHECK(sa != -1 && WIFSIGNALED(sa) && WTERMSIG(sa) == SIGTERM, "kill(-pgid) reached the group leader");
	CHECK(sb != -1 && WIFSIGNALED(sb) && WTERMSIG(sb) == SIGTERM, "kill(-pgid) reached the other group member");
	CHECK_EQ(waitpid(c.pid, NULL, WNOHANG), 0, "a process outside the group was not signalled");
	close(a.cmd[1]);
	close(a.rep[0]);
	close(b.cmd[1]);
	close(b.rep[0]);
	CHECK(exited_with(kid_stop(&c), 0), "the third child exits normally");

	/* killpg is kill(-pgrp). */
	kid_start(&a, own_group);
	REQUIRE(kid_report(&a, r) && r[0] == 0, "a child leads a new group");
	CHECK_EQ(killpg(a.pid, SIGKILL), 0, "killpg");
	sa = reap(a.pid);
	CHECK(sa != -1 && WIFSIGNALED(sa) && WTERMSIG(sa) == SIGKILL, "killpg signals the group");
	close(a.cmd[1]);
	close(a.rep[0]);
}

static void test_wait_group(void)
{
	struct kid a, b;
	long r[4];
	siginfo_t si;

	kid_start(&a, own_group);
	kid_start(&b, own_group);
	REQUIRE(kid_report(&a, r) && r[0] == 0 && kid_report(&b, r) && r[0] == 0, "two children lead their own groups");
	CHECK_ERR(waitpid(0, NULL, WNOHANG), ECHILD, "waitpid(0) with no children in our own group is ECHILD");
	put(a.cmd[1], 'q');
	CHECK_EQ(waitid(P_PID, a.pid, &si, WEXITED | WNOWAIT), 0, "the first child has exited");
	CHECK_EQ(waitpid(-b.pid, NULL, WNOHANG), 0, "waitpid(-pgid) ignores an exited child in another group");
	put(b.cmd[1], 'q');
	int status;
	CHECK_EQ(waitpid(-b.pid, &status, 0), b.pid, "waitpid(-pgid) returns the child in that group");
	CHECK_EQ(waitpid(-a.pid, &status, 0), a.pid, "waitpid(-pgid) of the other group returns its child");
	CHECK_ERR(waitpid(-a.pid, &status, 0), ECHILD, "waitpid(-pgid) with no children left in the group is ECHILD");
	close(a.cmd[1]);
	close(a.rep[0]);
	close(b.cmd[1]);
	close(b.rep[0]);
}

static volatile int got_hup, got_cont;

static void on_hup(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_cont = 1;
}

static void test_orphaned(void)
{
	int info[2], rep[2];

	REQUIRE(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0, "PR_SET_CHILD_SUBREAPER");
	REQUIRE(pipe(info) == 0 && pipe(rep) == 0, "pipes");
	pid_t mid = fork();
	REQUIRE(mid >= 0, "fork");
	if (mid == 0) {
		/* A new session whose only other group (the grandchild's) is kept
		 * from being orphaned by us, its parent, in the same session. */
		if (setsid() == -1)
			_exit(1);
		pid_t g = fork();
		if (g == 0) {
			struct sigaction sa;
			memset(&sa, 0, sizeof(sa));
			sa.sa_handler = on_hup;
			sigaction(SIGHUP, &sa, NULL);
			sigaction(SIGCONT, &sa, NULL);
			setpgid(0, 0);
			raise(SIGSTOP);
			/* Continued: report what arrived. */
			char r[2] = { got_hup ? 'h' : '-', got_cont ? 'c' : '-' };
			if (write(rep[1], r, 2) != 2)
				_exit(2);
			_exit(0);
		}
		setpgid(g, g);
		int status;
		if (waitpid(g, &status, WUNTRACED) != g || !WIFSTOPPED(status))
			_exit(3);
		long gl = g;
		if (write(info[1], &gl, sizeof(gl)) != sizeof(gl))
			_exit(4);
		_exit(0); /* the grandchild's group is now orphaned, with a stopped member */
	}
	long g = 0;
	REQUIRE(read(info[0], &g, sizeof(g)) == sizeof(g), "the grandchild stopped in its own group");
	CHECK(exited_with(reap(mid), 0), "the session leader exits");
	char r[3] = { 0 };
	CHECK_EQ(read(rep[0], r, 2), 2, "the stopped grandchild was continued");
	CHECK_STR(r, "hc", "a newly orphaned group with a stopped member gets SIGHUP and SIGCONT");
	CHECK(exited_with(reap((pid_t)g), 0), "the subreaper reaps the orphaned grandchild");
	close(info[0]);
	close(info[1]);
	close(rep[0]);
	close(rep[1]);
}

int main(void)
{
	test_setsid();
	test_setpgid();
	test_exec_eacces();
	test_group_signals();
	test_wait_group();
	test_orphaned();
	return check_done();
}
