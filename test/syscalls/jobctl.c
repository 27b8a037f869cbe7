/*
 * jobctl.c checks controlling terminals and job control against
 * credentials(7), tty_ioctl(4), tcsetpgrp(3) and termios(3): acquiring a
 * controlling terminal by opening a pty slave or with TIOCSCTTY, /dev/tty
 * (and ENXIO without a controlling terminal), tcgetpgrp/tcsetpgrp and their
 * errors, SIGTTIN for a background reader (EIO when it ignores or blocks
 * SIGTTIN or its group is orphaned), SIGTTOU for a background writer with
 * TOSTOP and for a background tcsetpgrp/tcsetattr, setsid and TIOCNOTTY
 * giving the terminal up, and the SIGHUPs of a session leader's exit and of
 * the master's close.
 *
 * Each scenario runs in a child that starts its own session on a fresh
 * pty, so the program does not depend on the terminal it is run from. The
 * parent holds the master and serves the child's requests to write to it,
 * read from it or close it.
 */
#include "check.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>

/* The child's ends of the request and response pipes. */
static int req_fd = -1, resp_fd = -1;

/* readable waits up to ms for fd to be readable; signals don't cut it short. */
static int readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	while ((r = poll(&p, 1, ms)) == -1 && errno == EINTR)
		;
	return r == 1 && (p.revents & (POLLIN | POLLHUP));
}

static int full_write(int fd, const void *b, size_t n)
{
	return write(fd, b, n) == (ssize_t)n ? 0 : -1;
}

static int full_read(int fd, void *b, size_t n)
{
	size_t got = 0;

	while (got < n) {
		if (!readable(fd, 10000))
			return -1;
		ssize_t r = read(fd, (char *)b + got, n - got);
		if (r <= 0)
			return -1;
		got += r;
	}
	return 0;
}

/* ask_write has the parent write s to the master. */
static void ask_write(const char *s)
{
	char hdr[2] = { 'w', (char)strlen(s) };
	char ack;

	if (full_write(req_fd, hdr, 2) || full_write(req_fd, s, strlen(s)) || full_read(resp_fd, &ack, 1))
		_exit(90);
}

/* ask_read has the parent read what the master has (waiting up to 2s). */
static int ask_read(char *buf, int size)
{
	char c = 'r';
	unsigned char len;

	if (full_write(req_fd, &c, 1) || full_read(resp_fd, &len, 1))
		_exit(91);
	if (len >= size || (len && full_read(resp_fd, buf, len)))
		_exit(92);
	buf[len] = 0;
	return len;
}

/* ask_close has the parent close the master. */
static void ask_close(void)
{
	char c = 'c', ack;

	if (full_write(req_fd, &c, 1) || full_read(resp_fd, &ack, 1))
		_exit(93);
}

/* serve answers a scenario's requests until it and its children are done. */
static void serve(int m, int req, int resp)
{
	char c;

	while (read(req, &c, 1) == 1) {
		char buf[256], ack = 'k';
		unsigned char len;
		int n = 0;
		switch (c) {
		case 'w':
			if (full_read(req, &len, 1) || full_read(req, buf, len) || write(m, buf, len) != len)
				printf("# serve: write to the master failed\n");
			break;
		case 'r':
			while (n < 200 && readable(m, n ? 100 : 2000)) {
				int r = read(m, buf + n, 200 - n);
				if (r <= 0)
					break;
				n += r;
			}
			len = (unsigned char)n;
			if (full_write(resp, &len, 1) || full_write(resp, buf, n))
				return;
			continue;
		case 'c':
			close(m);
			m = -1;
			break;
		}
		if (full_write(resp, &ack, 1))
			return;
	}
	if (m >= 0)
		close(m);
}

static volatile sig_atomic_t alarmed;
static void on_alarm(int sig)
{
	(void)sig;
	alarmed = 1;
}

/* wait_for waits (at most 10s) for a change of state of pid. */
static int wait_for(pid_t pid, int flags)
{
	struct sigaction sa = { .sa_handler = on_alarm }, old;
	int status = -1;

	sigaction(SIGALRM, &sa, &old);
	alarm(10);
	pid_t r = waitpid(pid, &status, flags);
	alarm(0);
	sigaction(SIGALRM, &old, NULL);
	return r == pid ? status : -1;
}

static int stopped_by(int status, int sig)
{
	return status != -1 && WIFSTOPPED(status) && WSTOPSIG(status) == sig;
}

static int exited_with(int status, int code)
{
	return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == code;
}

/* kill_and_reap ends a (possibly stopped) child. */
static void kill_and_reap(pid_t pid)
{
	kill(pid, SIGKILL);
	wait_for(pid, 0);
}

/* scenario runs fn(slave path) in a child on a fresh pty. */
static void scenario(const char *what, void (*fn)(const char *name))
{
	if (getenv("ONLY") && !strstr(what, getenv("ONLY")))
		return;
	int m, req[2], resp[2];
	char name[64];

	m = posix_openpt(O_RDWR | O_NOCTTY);
	REQUIRE(m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0 && ptsname_r(m, name, sizeof(name)) == 0, "a pty");
	REQUIRE(pipe(req) == 0 && pipe(resp) == 0, "pipes");
	printf("# %s\n", what);
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		close(m);
		close(req[0]);
		close(resp[1]);
		req_fd = req[1];
		resp_fd = resp[0];
		fn(name);
		_exit(check_failed ? 1 : 0);
	}
	close(req[1]);
	close(resp[0]);
	serve(m, req[0], resp[1]);
	close(req[0]);
	close(resp[1]);
	CHECK_EQ(wait_for(pid, 0), 0, what);
}

/* leader starts a session whose controlling terminal is the slave. */
static int leader(const char *name)
{
	REQUIRE(setsid() > 0, "setsid");
	int fd = open(name, O_RDWR);
	REQUIRE(fd >= 0, "open the slave");
	return fd;
}

/* Signal reports through a pipe. */
static int sig_pipe[2] = { -1, -1 };
static void report_sig(int sig)
{
	char c = (char)sig;
	if (write(sig_pipe[1], &c, 1) != 1)
		_exit(98);
}

static int next_sig(int ms)
{
	char c;

	if (!readable(sig_pipe[0], ms) || read(sig_pipe[0], &c, 1) != 1)
		return 0;
	return c;
}

/*
 * hup_and_cont reports whether SIGHUP and SIGCONT both arrive. They are
 * sent together, so their handlers may run in either order (Linux runs
 * the later one's first: its frame is set up on top).
 */
static int hup_and_cont(void)
{
	int a = next_sig(5000), b = next_sig(5000);
	return (a == SIGHUP && b == SIGCONT) || (a == SIGCONT && b == SIGHUP);
}

static void catch_sig(int sig)
{
	struct sigaction sa = { .sa_handler = report_sig, .sa_flags = SA_RESTART };
	sigaction(sig, &sa, NULL);
}

/* spawn forks a child that moves to its own process group and runs fn. */
static pid_t spawn(int (*fn)(int fd), int fd)
{
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		alarm(20); /* never outlive a failed scenario for long */
		setpgid(0, 0);
		_exit(fn(fd));
	}
	setpgid(pid, pid);
	return pid;
}

static void no_ctty(const char *name)
{
	REQUIRE(setsid() > 0, "setsid");
	CHECK_ERR(open("/dev/tty", O_RDWR), ENXIO, "without a controlling terminal, /dev/tty is ENXIO");
	int fd = CHECK_OK(open(name, O_RDWR | O_NOCTTY), "open the slave with O_NOCTTY");
	CHECK_ERR(open("/dev/tty", O_RDWR), ENXIO, "O_NOCTTY didn't make it the controlling terminal");
	CHECK_ERR(tcgetpgrp(fd), ENOTTY, "tcgetpgrp of a terminal that isn't ours is ENOTTY");
	CHECK_ERR(tcsetpgrp(fd, getpgrp()), ENOTTY, "tcsetpgrp of a terminal that isn't ours is ENOTTY");
	pid_t sid;
	CHECK_ERR(ioctl(fd, TIOCGSID, &sid), ENOTTY, "TIOCGSID of a terminal that isn't ours is ENOTTY");
	CHECK_ERR(ioctl(fd, TIOCNOTTY), ENOTTY, "TIOCNOTTY of a terminal that isn't ours is ENOTTY");
	CHECK_EQ(ioctl(fd, TIOCSCTTY, 0), 0, "TIOCSCTTY makes it our controlling terminal");
	CHECK_EQ(tcgetpgrp(fd), getpgrp(), "with our process group in the foreground");
	int tty = CHECK_OK(open("/dev/tty", O_RDWR), "now /dev/tty opens");
	CHECK_EQ(ioctl(fd, TIOCSCTTY, 0), 0, "TIOCSCTTY again on our own terminal is a no-op");
	close(tty);

	/* A second pty can't become the controlling terminal too. */
	int m2 = posix_openpt(O_RDWR | O_NOCTTY);
	char name2[64];
	REQUIRE(m2 >= 0 && grantpt(m2) == 0 && unlockpt(m2) == 0 && ptsname_r(m2, name2, sizeof(name2)) == 0, "a second pty");
	int fd2 = open(name2, O_RDWR);
	CHECK(fd2 >= 0, "open the second pty's slave without O_NOCTTY");
	CHECK_ERR(tcgetpgrp(fd2), ENOTTY, "it didn't replace our controlling terminal");
	CHECK_ERR(ioctl(fd2, TIOCSCTTY, 0), EPERM, "TIOCSCTTY with a controlling terminal already is EPERM");

	/* A process that is not a session leader can't take a terminal. */
	pid_t c = fork();
	if (c == 0) {
		int ok = ioctl(fd2, TIOCSCTTY, 0) == -1 && errno == EPERM;
		_exit(ok ? 0 : 1);
	}
	CHECK(exited_with(wait_for(c, 0), 0), "TIOCSCTTY by a process that isn't a session leader is EPERM");
	/* Nor a session leader a terminal another session has. */
	c = fork();
	if (c == 0) {
		setsid();
		int ok = ioctl(fd, TIOCSCTTY, 0) == -1 && errno == EPERM;
		_exit(ok ? 0 : 1);
	}
	CHECK(exited_with(wait_for(c, 0), 0), "TIOCSCTTY of another session's terminal is EPERM");
	close(fd2);
	close(m2);
}

static void acquire(const char *name)
{
	int fd = leader(name);
	CHECK_EQ(tcgetpgrp(fd), getpgrp(), "opening a slave made it the session leader's controlling terminal");
	pid_t sid = 0;
	CHECK_EQ(ioctl(fd, TIOCGSID, &sid), 0, "TIOCGSID");
	CHECK_EQ(sid, getpid(), "the terminal's session is ours");
	int tty = CHECK_OK(open("/dev/tty", O_RDWR), "/dev/tty opens our controlling terminal");
	struct stat st;
	CHECK(fstat(tty, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 5 && minor(st.st_rdev) == 0,
	      "/dev/tty is the character device 5:0");
	CHECK(isatty(tty), "/dev/tty is a terminal");
	CHECK_EQ(write(tty, "via tty\n", 8), 8, "write to /dev/tty");
	char buf[256];
	ask_read(buf, sizeof(buf));
	CHECK_STR(buf, "via tty\r\n", "the master reads what was written to /dev/tty");
	ask_write("typed\n");
	int n = read(tty, buf, sizeof(buf));
	CHECK_EQ(n, 6, "/dev/tty reads what the master wrote");
	ask_read(buf, sizeof(buf)); /* the echo */

	/* Children share the controlling terminal until setsid. */
	pid_t c = fork();
	if (c == 0) {
		int t = open("/dev/tty", O_RDWR);
		if (t < 0)
			_exit(1);
		close(t);
		if (setsid() < 0)
			_exit(2);
		if (open("/dev/tty", O_RDWR) != -1 || errno != ENXIO)
			_exit(3);
		_exit(0);
	}
	CHECK(exited_with(wait_for(c, 0), 0), "a child opens /dev/tty, and after setsid gets ENXIO");

	/* TIOCNOTTY by a member gives it up for that process only. */
	c = fork();
	if (c == 0) {
		if (ioctl(fd, TIOCNOTTY) != 0)
			_exit(1);
		if (open("/dev/tty", O_RDWR) != -1 || errno != ENXIO)
			_exit(2);
		_exit(0);
	}
	CHECK(exited_with(wait_for(c, 0), 0), "after TIOCNOTTY a member's /dev/tty is ENXIO");
	tty = CHECK_OK(open("/dev/tty", O_RDWR), "the leader keeps its controlling terminal");
	close(tty);
}

static int sleeper(int fd)
{
	(void)fd;
	pause();
	return 0;
}

static int bg_tcsetpgrp(int fd)
{
	return tcsetpgrp(fd, getpgrp()) == 0 ? 0 : 1;
}

static void pgrps(const char *name)
{
	int fd = leader(name);
	pid_t g = spawn(sleeper, fd);
	CHECK_ERR(tcsetpgrp(fd, -1), EINVAL, "tcsetpgrp to a negative group is EINVAL");
	CHECK_EQ(tcsetpgrp(fd, g), 0, "tcsetpgrp to another process group of the session");
	CHECK_EQ(tcgetpgrp(fd), g, "tcgetpgrp reports it");
	pid_t pg = 0;
	CHECK_EQ(ioctl(fd, TIOCGPGRP, &pg), 0, "TIOCGPGRP");
	CHECK_EQ(pg, g, "TIOCGPGRP reports it too");
	CHECK_ERR(tcsetpgrp(fd, getpgrp()), ENOTTY,
		  "a background tcsetpgrp from an orphaned group (a session leader's) is ENOTTY");

	/* We are in the background now: tcsetpgrp needs SIGTTOU blocked. */
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGTTOU);
	sigprocmask(SIG_BLOCK, &set, &old);
	CHECK_ERR(tcsetpgrp(fd, 0x3fffffff), ESRCH, "tcsetpgrp to a group that doesn't exist is ESRCH");
	CHECK_ERR(tcsetpgrp(fd, getpgid(getppid())), EPERM, "tcsetpgrp to a group of another session is EPERM");
	CHECK_EQ(tcsetpgrp(fd, getpgrp()), 0, "a background tcsetpgrp with SIGTTOU blocked succeeds");
	CHECK_EQ(tcgetpgrp(fd), getpgrp(), "we are in the foreground again");
	sigprocmask(SIG_SETMASK, &old, NULL);
	kill_and_reap(g);

	/* A background tcsetpgrp with SIGTTOU at its default stops. */
	g = spawn(bg_tcsetpgrp, fd);
	CHECK(stopped_by(wait_for(g, WUNTRACED), SIGTTOU), "a background tcsetpgrp gets SIGTTOU");
	kill_and_reap(g);
}

static int bg_read(int fd)
{
	char buf[64];
	int n = read(fd, buf, sizeof(buf));
	return n < 0 ? 100 + errno : n;
}

static int bg_read_ignoring(int fd)
{
	signal(SIGTTIN, SIG_IGN);
	return bg_read(fd);
}

static int bg_read_blocking(int fd)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTTIN);
	sigprocmask(SIG_BLOCK, &set, NULL);
	return bg_read(fd);
}

static int bg_write(int fd)
{
	return write(fd, "bg\n", 3) == 3 ? 0 : 100 + errno;
}

static int bg_write_ignoring(int fd)
{
	signal(SIGTTOU, SIG_IGN);
	return bg_write(fd);
}

static int bg_tcsetattr(int fd)
{
	struct termios t;
	if (tcgetattr(fd, &t) != 0)
		return 1;
	return tcsetattr(fd, TCSANOW, &t) == 0 ? 0 : 100 + errno;
}

static void background(const char *name)
{
	int fd = leader(name);
	char buf[256];

	pid_t g = spawn(bg_read, fd);
	CHECK(stopped_by(wait_for(g, WUNTRACED), SIGTTIN), "a background read gets SIGTTIN");
	CHECK_EQ(tcsetpgrp(fd, g), 0, "bring the reader to the foreground");
	CHECK_EQ(kill(g, SIGCONT), 0, "continue it");
	ask_write("fg\n");
	CHECK(exited_with(wait_for(g, 0), 3), "in the foreground its read restarts and gets the line");
	ask_read(buf, sizeof(buf));
	signal(SIGTTOU, SIG_IGN);
	CHECK_EQ(tcsetpgrp(fd, getpgrp()), 0, "take the foreground back (SIGTTOU ignored)");
	signal(SIGTTOU, SIG_DFL);

	g = spawn(bg_read_ignoring, fd);
	CHECK(exited_with(wait_for(g, 0), 100 + EIO), "a background read ignoring SIGTTIN is EIO");
	g = spawn(bg_read_blocking, fd);
	CHECK(exited_with(wait_for(g, 0), 100 + EIO), "a background read blocking SIGTTIN is EIO");

	g = spawn(bg_write, fd);
	CHECK(exited_with(wait_for(g, 0), 0), "without TOSTOP a background write succeeds");
	ask_read(buf, sizeof(buf));
	CHECK_STR(buf, "bg\r\n", "and reaches the master");

	struct termios t;
	tcgetattr(fd, &t);
	t.c_lflag |= TOSTOP;
	CHECK_EQ(tcsetattr(fd, TCSANOW, &t), 0, "set TOSTOP");
	g = spawn(bg_write, fd);
	CHECK(stopped_by(wait_for(g, WUNTRACED), SIGTTOU), "with TOSTOP a background write gets SIGTTOU");
	kill_and_reap(g);
	g = spawn(bg_write_ignoring, fd);
	CHECK(exited_with(wait_for(g, 0), 0), "with TOSTOP a background write ignoring SIGTTOU succeeds");
	ask_read(buf, sizeof(buf));
	t.c_lflag &= ~TOSTOP;
	tcsetattr(fd, TCSANOW, &t);

	g = spawn(bg_tcsetattr, fd);
	CHECK(stopped_by(wait_for(g, WUNTRACED), SIGTTOU), "a background tcsetattr gets SIGTTOU");
	kill_and_reap(g);

	/* An orphaned background group reads EIO. */
	int p[2];
	REQUIRE(pipe(p) == 0, "pipe");
	g = fork();
	REQUIRE(g >= 0, "fork");
	if (g == 0) {
		setpgid(0, 0);
		pid_t parent = getpid();
		pid_t c = fork();
		if (c == 0) {
			close(p[0]);
			for (int i = 0; i < 1000 && getppid() == parent; i++)
				usleep(10000);
			int r = bg_read(fd);
			if (write(p[1], &r, sizeof(r)) != sizeof(r))
				_exit(1);
			_exit(0);
		}
		_exit(0);
	}
	close(p[1]);
	wait_for(g, 0);
	int r = -1;
	CHECK(readable(p[0], 10000) && read(p[0], &r, sizeof(r)) == sizeof(r), "the orphan reports");
	CHECK_EQ(r, 100 + EIO, "a background read from an orphaned process group is EIO");
	close(p[0]);
}

/* hup_waiter reports SIGHUP and SIGCONT, then whether /dev/tty opens. */
static int hup_waiter(int fd)
{
	(void)fd;
	sigset_t hup, none;
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	sigemptyset(&none);
	sigprocmask(SIG_BLOCK, &hup, NULL);
	catch_sig(SIGHUP);
	catch_sig(SIGCONT);
	char c = 'r';
	if (write(sig_pipe[1], &c, 1) != 1)
		return 1;
	sigsuspend(&none); /* SIGHUP may come before we get here */
	usleep(200000); /* for a SIGCONT, if any */
	c = open("/dev/tty", O_RDWR) == -1 && errno == ENXIO ? 'n' : 'y';
	if (write(sig_pipe[1], &c, 1) != 1)
		return 1;
	return 0;
}

static void leader_exit(const char *name)
{
	REQUIRE(pipe(sig_pipe) == 0, "pipe");
	/* The session leader is a child, so that we can watch its exit. */
	pid_t l = fork();
	REQUIRE(l >= 0, "fork");
	if (l == 0) {
		int fd = leader(name);
		pid_t g = spawn(hup_waiter, fd);
		char c;
		if (read(sig_pipe[0], &c, 1) != 1)
			_exit(1);
		if (tcsetpgrp(fd, g) != 0)
			_exit(2);
		_exit(0);
	}
	close(sig_pipe[1]);
	CHECK(exited_with(wait_for(l, 0), 0), "the session leader hands the foreground to a child and exits");
	CHECK_EQ(next_sig(5000), SIGHUP, "the session leader's exit sends SIGHUP to the foreground group");
	int next = next_sig(5000);
	CHECK_EQ(next, 'n', "which then has no controlling terminal (/dev/tty is ENXIO), and no SIGCONT");
	close(sig_pipe[0]);
}

static void master_close(const char *name)
{
	REQUIRE(pipe(sig_pipe) == 0, "pipe");
	int fd = leader(name);
	catch_sig(SIGHUP);
	catch_sig(SIGCONT);
	pid_t g = spawn(sleeper, fd);
	CHECK_EQ(tcsetpgrp(fd, g), 0, "a child's group in the foreground");
	ask_close();
	CHECK(hup_and_cont(), "closing the master sends SIGHUP and SIGCONT to the session leader");
	CHECK_ERR(open("/dev/tty", O_RDWR), ENXIO, "the session has no controlling terminal any more");
	kill_and_reap(g);
}

static void notty_leader(const char *name)
{
	REQUIRE(pipe(sig_pipe) == 0, "pipe");
	int fd = leader(name);
	pid_t g = fork();
	REQUIRE(g >= 0, "fork");
	if (g == 0) {
		alarm(20);
		catch_sig(SIGHUP);
		catch_sig(SIGCONT);
		setpgid(0, 0);
		char c = 'r';
		if (write(sig_pipe[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	setpgid(g, g);
	CHECK_EQ(next_sig(5000), 'r', "a child in its own group");
	CHECK_EQ(tcsetpgrp(fd, g), 0, "in the foreground");
	signal(SIGHUP, SIG_IGN);
	CHECK_EQ(ioctl(fd, TIOCNOTTY), 0, "TIOCNOTTY by the session leader");
	CHECK(hup_and_cont(), "sends SIGHUP and SIGCONT to the foreground group");
	CHECK_ERR(open("/dev/tty", O_RDWR), ENXIO, "the session has no controlling terminal any more");
	CHECK_ERR(tcgetpgrp(fd), ENOTTY, "tcgetpgrp on the old terminal is ENOTTY");
	kill_and_reap(g);
}

int main(void)
{
	scenario("no controlling terminal; TIOCSCTTY", no_ctty);
	scenario("acquiring by open; /dev/tty; setsid and TIOCNOTTY by a member", acquire);
	scenario("tcsetpgrp and tcgetpgrp", pgrps);
	scenario("SIGTTIN and SIGTTOU for background processes", background);
	scenario("session leader exit", leader_exit);
	scenario("master close", master_close);
	scenario("TIOCNOTTY by the session leader", notty_leader);
	return check_done();
}
