/*
 * pty.c checks pseudo-terminals against pty(7), pts(4), termios(3) and
 * tty_ioctl(4): posix_openpt/grantpt/unlockpt/ptsname and the slave lock,
 * the master/slave data paths in canonical mode (line editing with erase,
 * kill, word erase, EOF, echo, ONLCR) and noncanonical mode (VMIN/VTIME),
 * ^C sending SIGINT to the foreground process group of a session that made
 * the pty its controlling terminal (setsid + TIOCSCTTY), TIOCSWINSZ sending
 * SIGWINCH, hang-ups when either side is closed, poll readiness on both
 * sides, O_NONBLOCK, TIOCGPTPEER and packet mode.
 *
 * The program makes its own pseudo-terminals and sessions, so it does not
 * depend on the terminal (if any) it is run from.
 */
#include "check.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>

/* open_pair opens a pseudo-terminal pair the way glibc users do. */
static void open_pair(int *m, int *s, char *name, size_t len)
{
	*m = posix_openpt(O_RDWR | O_NOCTTY);
	REQUIRE(*m >= 0, "posix_openpt");
	REQUIRE(grantpt(*m) == 0, "grantpt");
	REQUIRE(unlockpt(*m) == 0, "unlockpt");
	REQUIRE(ptsname_r(*m, name, len) == 0, "ptsname_r");
	*s = open(name, O_RDWR | O_NOCTTY);
	REQUIRE(*s >= 0, "open the slave");
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* readable reports whether fd becomes readable within ms milliseconds. */
static int readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

/* revents returns what poll reports at once for fd. */
static int revents(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	if (poll(&p, 1, 0) < 0)
		return -1;
	return p.revents;
}

/*
 * drain reads from fd whatever arrives: it waits up to 2s for the first
 * byte, then reads until nothing more comes for 100ms. Terminal input is
 * processed asynchronously by Linux, so data written to one side may not
 * be there on the other the moment the write returns.
 */
static int drain(int fd, char *buf, int size)
{
	int n = 0, wait = 2000;

	while (n < size - 1 && readable(fd, wait)) {
		int r = read(fd, buf + n, size - 1 - n);
		if (r <= 0)
			break;
		n += r;
		wait = 100;
	}
	buf[n] = 0;
	return n;
}

/* read_line waits for fd to be readable and reads once. */
static int read_once(int fd, char *buf, int size)
{
	if (!readable(fd, 2000))
		return -2;
	int r = read(fd, buf, size - 1);
	buf[r > 0 ? r : 0] = 0;
	return r;
}

static void put(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		printf("# short write of \"%s\"\n", s);
}

static void set_lflag(int s, tcflag_t on, tcflag_t off)
{
	struct termios t;

	REQUIRE(tcgetattr(s, &t) == 0, "tcgetattr");
	t.c_lflag = (t.c_lflag | on) & ~off;
	REQUIRE(tcsetattr(s, TCSANOW, &t) == 0, "tcsetattr");
}

static void test_open(void)
{
	char name[64], want[64];
	int m, s, n = -1, lock = -1;
	struct stat st;

	m = CHECK_OK(posix_openpt(O_RDWR | O_NOCTTY), "posix_openpt(O_RDWR|O_NOCTTY)");
	REQUIRE(m >= 0, "a master");
	CHECK_EQ(ioctl(m, TIOCGPTN, &n), 0, "TIOCGPTN on the master");
	CHECK_EQ(ioctl(m, TIOCGPTLCK, &lock), 0, "TIOCGPTLCK on the master");
	CHECK_EQ(lock, 1, "a new pair's slave is locked");
	CHECK_OK(ptsname_r(m, name, sizeof(name)), "ptsname_r");
	snprintf(want, sizeof(want), "/dev/pts/%d", n);
	CHECK_STR(name, want, "ptsname is /dev/pts/N for TIOCGPTN's N");
	CHECK_ERR(open(name, O_RDWR | O_NOCTTY), EIO, "opening a locked slave is EIO");
	CHECK_EQ(grantpt(m), 0, "grantpt");
	CHECK_EQ(unlockpt(m), 0, "unlockpt");
	CHECK_EQ(ioctl(m, TIOCGPTLCK, &lock), 0, "TIOCGPTLCK after unlockpt");
	CHECK_EQ(lock, 0, "unlockpt cleared the lock");
	s = CHECK_OK(open(name, O_RDWR | O_NOCTTY), "open the unlocked slave");
	CHECK_EQ(stat(name, &st), 0, "stat the slave");
	CHECK(S_ISCHR(st.st_mode), "the slave is a character device");
	CHECK_EQ(major(st.st_rdev), 136, "the slave's major is 136");
	CHECK_EQ(minor(st.st_rdev), n, "the slave's minor is its number");
	CHECK_EQ(st.st_uid, geteuid(), "the slave belongs to the opener of the master");
	CHECK_EQ(fstat(m, &st), 0, "fstat the master");
	CHECK(S_ISCHR(st.st_mode) && major(st.st_rdev) == 5 && minor(st.st_rdev) == 2, "the master is ptmx, 5:2");
	CHECK(isatty(s) && isatty(m), "both sides are terminals (isatty)");
	CHECK_STR(ttyname(s) ? ttyname(s) : "(null)", name, "ttyname of the slave");
	CHECK_ERR(ioctl(s, TIOCGPTN, &n), ENOTTY, "TIOCGPTN on the slave is ENOTTY");
	CHECK_ERR(grantpt(s), EINVAL, "grantpt on a slave is EINVAL");
	CHECK_ERR(lseek(s, 0, SEEK_SET), ESPIPE, "a terminal can't seek");

	int p = CHECK_OK(ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY), "TIOCGPTPEER opens the slave");
	if (p >= 0) {
		CHECK_STR(ttyname(p) ? ttyname(p) : "(null)", name, "TIOCGPTPEER's file is the slave");
		close(p);
	}

	struct termios t;
	CHECK_EQ(tcgetattr(s, &t), 0, "tcgetattr on the slave");
	CHECK((t.c_lflag & (ICANON | ECHO | ISIG)) == (ICANON | ECHO | ISIG), "a new pty is canonical, echoing, with signals");
	CHECK((t.c_iflag & ICRNL) && (t.c_oflag & (OPOST | ONLCR)) == (OPOST | ONLCR), "ICRNL in, OPOST|ONLCR out");
	CHECK(t.c_cc[VINTR] == 3 && t.c_cc[VERASE] == 0x7f && t.c_cc[VKILL] == 21 && t.c_cc[VEOF] == 4 && t.c_cc[VMIN] == 1,
	      "default control characters ^C DEL ^U ^D, VMIN 1");
	struct termios tm;
	CHECK_EQ(tcgetattr(m, &tm), 0, "tcgetattr on the master");
	CHECK(tm.c_lflag == t.c_lflag && tm.c_iflag == t.c_iflag, "the master reports the slave's settings");
	t.c_cflag = (t.c_cflag & ~CSIZE) | CS7 | PARENB;
	CHECK_EQ(ioctl(s, TCSETS, &t), 0, "TCSETS with CS7|PARENB");
	CHECK_EQ(tcgetattr(s, &t), 0, "tcgetattr");
	CHECK((t.c_cflag & (CSIZE | PARENB)) == CS8, "a pty stays CS8 without parity");
	close(s);
	close(m);
	CHECK_ERR(access(name, F_OK), ENOENT, "closing the master removes /dev/pts/N");
}

static void test_canonical(void)
{
	char name[64], buf[256];
	int m, s, n;

	open_pair(&m, &s, name, sizeof(name));
	CHECK(revents(m, POLLIN | POLLOUT) == POLLOUT, "a fresh master polls writable only");
	CHECK(revents(s, POLLIN | POLLOUT) == POLLOUT, "a fresh slave polls writable only");

	put(m, "hello\n");
	CHECK_EQ(read_once(s, buf, sizeof(buf)), 6, "the slave reads the line the master wrote");
	CHECK_STR(buf, "hello\n", "line content");
	drain(m, buf, sizeof(buf));
	CHECK_STR(buf, "hello\r\n", "the line is echoed to the master, newline as CR LF");

	put(m, "abc");
	CHECK(!readable(s, 200), "an unfinished line is not readable (poll)");
	fcntl(s, F_SETFL, O_NONBLOCK);
	CHECK_ERR(read(s, buf, sizeof(buf)), EAGAIN, "O_NONBLOCK read of an unfinished line is EAGAIN");
	n = -1;
	CHECK_EQ(ioctl(s, FIONREAD, &n), 0, "FIONREAD on the slave");
	CHECK_EQ(n, 0, "FIONREAD doesn't count an unfinished line");
	put(m, "\r");
	CHECK(readable(s, 2000), "CR ends the line (ICRNL) and the slave polls readable");
	n = -1;
	CHECK_EQ(ioctl(s, FIONREAD, &n), 0, "FIONREAD on the slave");
	CHECK_EQ(n, 4, "FIONREAD counts the finished line");
	CHECK_EQ(read(s, buf, sizeof(buf)), 4, "read the line");
	buf[4] = 0;
	CHECK_STR(buf, "abc\n", "CR became NL");
	fcntl(s, F_SETFL, 0);
	drain(m, buf, sizeof(buf));

	put(m, "abx\x7f" "c\n");
	read_once(s, buf, sizeof(buf));
	CHECK_STR(buf, "abc\n", "DEL erases the last character");
	drain(m, buf, sizeof(buf));
	CHECK_STR(buf, "abx\b \bc\r\n", "erasing echoes backspace-space-backspace (ECHOE)");

	put(m, "junk\x15ok\n");
	read_once(s, buf, sizeof(buf));
	CHECK_STR(buf, "ok\n", "^U kills the line");
	drain(m, buf, sizeof(buf));
	CHECK_STR(buf, "junk\b \b\b \b\b \b\b \bok\r\n", "the killed line is erased on the screen (ECHOKE)");

	put(m, "one two\x17three\n");
	read_once(s, buf, sizeof(buf));
	CHECK_STR(buf, "one three\n", "^W erases a word");
	drain(m, buf, sizeof(buf));

	put(m, "a\x01z\n");
	read_once(s, buf, sizeof(buf));
	CHECK_STR(buf, "a\x01z\n", "a control character is input like any other");
	drain(m, buf, sizeof(buf));
	CHECK_STR(buf, "a^Az\r\n", "and echoed as ^A (ECHOCTL)");

	put(m, "x\x01\x7fy\n");
	read_once(s, buf, sizeof(buf));
	drain(m, buf, sizeof(buf));
	CHECK_STR(buf, "x^A\b \b\b \by\r\n", "erasing a ^A echo takes two columns");

	put(m, "xyz\x04");
	CHECK_EQ(read_once(s, buf, sizeof(buf)), 3, "^D ends a line without itself");
	CHECK_STR(buf, "xyz", "the line before ^D");
	put(m, "\x04");
	CHECK_EQ(read_once(s, buf, sizeof(buf)), 0, "^D on an empty line reads as end of file");
	drain(m, buf, sizeof(buf));
	CHECK_STR(buf, "xyz", "^D is not echoed");

	put(m, "abcdef\nsecond\n");
	CHECK_EQ(read_once(s, buf, 4), 3, "a short read takes part of a line");
	CHECK_STR(buf, "abc", "first part");
	CHECK_EQ(read_once(s, buf, sizeof(buf)), 4, "the next read takes the rest of that line only");
	CHECK_STR(buf, "def\n", "rest of the line");
	CHECK_EQ(read_once(s, buf, sizeof(buf)), 7, "then the next line");
	drain(m, buf, sizeof(buf));

	set_lflag(s, 0, ECHO);
	put(m, "quiet\n");
	read_once(s, buf, sizeof(buf));
	CHECK_STR(buf, "quiet\n", "input without echo");
	CHECK(!readable(m, 200), "nothing is echoed without ECHO");
	set_lflag(s, ECHONL, 0);
	put(m, "nl\n");
	read_once(s, buf, sizeof(buf));
	drain(m, buf, sizeof(buf));
	CHECK_STR(buf, "\r\n", "ECHONL echoes the newline alone");
	set_lflag(s, ECHO, ECHONL);

	/* Output processing. */
	put(s, "a\nb");
	drain(m, buf, sizeof(buf));
	CHECK_STR(buf, "a\r\nb", "the slave's NL reaches the master as CR NL (ONLCR)");
	n = -1;
	struct termios t;
	tcgetattr(s, &t);
	t.c_oflag &= ~OPOST;
	tcsetattr(s, TCSANOW, &t);
	put(s, "a\nb");
	drain(m, buf, sizeof(buf));
	CHECK_STR(buf, "a\nb", "no output processing without OPOST");
	t.c_oflag |= OPOST;
	tcsetattr(s, TCSANOW, &t);
	put(s, "12345");
	CHECK(readable(m, 2000), "the master polls readable when the slave wrote");
	n = -1;
	CHECK_EQ(ioctl(m, FIONREAD, &n), 0, "FIONREAD on the master");
	CHECK_EQ(n, 5, "FIONREAD counts the slave's output");
	drain(m, buf, sizeof(buf));

	/* TCSETSF flushes unread input. */
	put(m, "stale\n");
	CHECK(readable(s, 2000), "a line waits");
	tcsetattr(s, TCSAFLUSH, &t);
	CHECK(!readable(s, 200), "tcsetattr(TCSAFLUSH) discarded it");
	put(m, "fresh\n");
	read_once(s, buf, sizeof(buf));
	CHECK_STR(buf, "fresh\n", "input after the flush");
	put(m, "gone\n");
	CHECK(readable(s, 2000), "another line waits");
	CHECK_EQ(tcflush(s, TCIFLUSH), 0, "tcflush(TCIFLUSH)");
	CHECK(!readable(s, 200), "tcflush discarded it");
	CHECK_ERR(tcflush(s, 7), EINVAL, "tcflush with a bad queue is EINVAL");
	CHECK_EQ(tcdrain(s), 0, "tcdrain");
	drain(m, buf, sizeof(buf));
	close(s);
	close(m);
}

static void test_raw(void)
{
	char name[64], buf[256];
	int m, s;
	struct termios t;
	long long t0;

	open_pair(&m, &s, name, sizeof(name));
	tcgetattr(s, &t);
	cfmakeraw(&t);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	CHECK_EQ(tcsetattr(s, TCSANOW, &t), 0, "cfmakeraw settings");

	put(m, "a\rb\x03\x7f");
	CHECK_EQ(drain(s, buf, sizeof(buf)), 5, "raw input arrives byte for byte");
	CHECK(memcmp(buf, "a\rb\x03\x7f", 5) == 0, "no CR mapping, signal or erase in raw mode");
	CHECK(!readable(m, 200), "no echo in raw mode");

	/* VMIN 0, VTIME 0: a read never waits. */
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	tcsetattr(s, TCSANOW, &t);
	CHECK_EQ(read(s, buf, sizeof(buf)), 0, "VMIN=0 VTIME=0: an empty read returns 0 at once");

	/* VMIN 0, VTIME 2: wait up to 0.2s for a byte. */
	t.c_cc[VTIME] = 2;
	tcsetattr(s, TCSANOW, &t);
	t0 = now_ms();
	CHECK_EQ(read(s, buf, sizeof(buf)), 0, "VMIN=0 VTIME=2: read times out with 0");
	long long el = now_ms() - t0;
	CHECK(el >= 150 && el < 1500, "after about 0.2 seconds");
	put(m, "q");
	CHECK_EQ(read(s, buf, sizeof(buf)), 1, "VMIN=0 VTIME=2: a byte arriving ends the wait");

	/* VMIN 3: poll and read want three bytes. */
	t.c_cc[VMIN] = 3;
	t.c_cc[VTIME] = 0;
	tcsetattr(s, TCSANOW, &t);
	put(m, "xy");
	CHECK(!readable(s, 200), "VMIN=3: two bytes don't make the slave readable");
	put(m, "z");
	CHECK(readable(s, 2000), "the third byte does");
	CHECK_EQ(read(s, buf, sizeof(buf)), 3, "VMIN=3: read returns the three bytes");

	/* VMIN 5, VTIME 1: the inter-byte timer ends a read short of VMIN. */
	t.c_cc[VMIN] = 5;
	t.c_cc[VTIME] = 1;
	tcsetattr(s, TCSANOW, &t);
	put(m, "12");
	CHECK(readable(s, 2000), "input is there");
	t0 = now_ms();
	CHECK_EQ(read(s, buf, sizeof(buf)), 2, "VMIN=5 VTIME=1: the inter-byte timer returns 2 bytes");
	el = now_ms() - t0;
	CHECK(el >= 50 && el < 1500, "after about 0.1 seconds");

	/* Turning canonical mode on makes waiting input a line. */
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	tcsetattr(s, TCSANOW, &t);
	put(m, "pending");
	CHECK(readable(s, 2000), "raw input waits");
	t.c_lflag |= ICANON;
	tcsetattr(s, TCSANOW, &t);
	CHECK_EQ(read(s, buf, sizeof(buf)), 7, "after switching to canonical mode it reads as a line");

	/* Switching canonical mode off makes an unfinished line readable. */
	put(m, "half");
	CHECK(!readable(s, 200), "an unfinished canonical line");
	t.c_lflag &= ~ICANON;
	tcsetattr(s, TCSANOW, &t);
	CHECK(readable(s, 2000), "readable once canonical mode is off");
	CHECK_EQ(read(s, buf, sizeof(buf)), 4, "the unfinished line");

	/* O_NONBLOCK on both sides. */
	fcntl(s, F_SETFL, O_NONBLOCK);
	fcntl(m, F_SETFL, O_NONBLOCK);
	CHECK_ERR(read(s, buf, sizeof(buf)), EAGAIN, "O_NONBLOCK slave read with nothing is EAGAIN");
	CHECK_ERR(read(m, buf, sizeof(buf)), EAGAIN, "O_NONBLOCK master read with nothing is EAGAIN");

	/* Filling the master's input: writes stop with EAGAIN, reads resume them. */
	char big[4096];
	memset(big, 'w', sizeof(big));
	long total = 0, r;
	int err = 0;
	while ((r = write(m, big, sizeof(big))) > 0 && total < (1 << 24))
		total += r;
	err = errno;
	CHECK(r == -1 && err == EAGAIN, "a full master input queue refuses writes with EAGAIN");
	CHECK(total >= 4095, "after taking at least a buffer's worth");
	long got = 0;
	while (got < total && readable(s, 2000) && (r = read(s, big, sizeof(big))) > 0)
		got += r;
	CHECK_EQ(got, total, "the slave reads everything the master wrote");

	/* And the slave's output. */
	total = 0;
	while ((r = write(s, big, sizeof(big))) > 0 && total < (1 << 24))
		total += r;
	err = errno;
	CHECK(r == -1 && err == EAGAIN, "a full slave output queue refuses writes with EAGAIN");
	got = 0;
	while (got < total && readable(m, 2000) && (r = read(m, big, sizeof(big))) > 0)
		got += r;
	CHECK_EQ(got, total, "the master reads everything the slave wrote");
	close(s);
	close(m);
}

static volatile sig_atomic_t got_alarm;
static void on_alarm(int sig)
{
	(void)sig;
	got_alarm = 1;
}

static void test_interrupt(void)
{
	char name[64], buf[16];
	int m, s;
	struct sigaction sa = { .sa_handler = on_alarm };

	open_pair(&m, &s, name, sizeof(name));
	sigaction(SIGALRM, &sa, NULL); /* no SA_RESTART */
	struct itimerval it = { .it_value = { .tv_usec = 200000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	CHECK_ERR(read(s, buf, sizeof(buf)), EINTR, "a blocked slave read is interrupted by a signal (EINTR)");
	CHECK(got_alarm, "the handler ran");
	setitimer(ITIMER_REAL, &it, NULL);
	got_alarm = 0;
	CHECK_ERR(read(m, buf, sizeof(buf)), EINTR, "a blocked master read is interrupted by a signal (EINTR)");
	close(s);
	close(m);
}

/* Signal reports from the child session, through a pipe. */
static int sig_pipe = -1;
static void report_sig(int sig)
{
	char c = (char)sig;
	if (write(sig_pipe, &c, 1) != 1)
		_exit(99);
}

/* wait_sig waits up to 2s for a signal report on fd; 0 if none. */
static int wait_sig(int fd)
{
	char c;

	if (!readable(fd, 2000) || read(fd, &c, 1) != 1)
		return 0;
	return c;
}

static void test_session(void)
{
	char name[64], buf[256];
	int m, s, rep[2], cmd[2];

	open_pair(&m, &s, name, sizeof(name));
	close(s);
	REQUIRE(pipe(rep) == 0 && pipe(cmd) == 0, "pipes");
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		/* A new session whose controlling terminal is the pty. */
		close(rep[0]);
		close(cmd[1]);
		close(m);
		sig_pipe = rep[1];
		struct sigaction sa = { .sa_handler = report_sig, .sa_flags = SA_RESTART };
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGWINCH, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		if (setsid() < 0)
			_exit(10);
		int fd = open(name, O_RDWR | O_NOCTTY);
		if (fd < 0)
			_exit(11);
		if (ioctl(fd, TIOCSCTTY, 0) != 0)
			_exit(12);
		if (tcgetpgrp(fd) != getpgrp())
			_exit(13);
		pid_t sid = 0;
		if (ioctl(fd, TIOCGSID, &sid) != 0 || sid != getpid())
			_exit(14);
		char c = 'r';
		if (write(rep[1], &c, 1) != 1) /* ready */
			_exit(15);
		/* Echo each line read back to the parent through the pipe, prefixed. */
		for (;;) {
			char line[128];
			int n = read(fd, line, sizeof(line));
			if (n < 0) {
				char e[2] = { 'X', (char)errno };
				if (write(rep[1], e, 2) != 2)
					_exit(16);
				n = read(fd, line, sizeof(line));
			}
			if (n <= 0) {
				char e = n == 0 ? 'E' : 'Y';
				if (write(rep[1], &e, 1) != 1)
					_exit(16);
				break;
			}
			char l = 'L';
			if (write(rep[1], &l, 1) != 1 || write(rep[1], line, n) != n)
				_exit(17);
			struct winsize ws;
			if (line[0] == 'w' && ioctl(fd, TIOCGWINSZ, &ws) == 0) {
				char w[2] = { (char)ws.ws_row, (char)ws.ws_col };
				if (write(rep[1], w, 2) != 2)
					_exit(18);
			}
		}
		char q;
		if (read(cmd[0], &q, 1) < 0)
			_exit(19);
		_exit(0);
	}
	close(rep[1]);
	close(cmd[0]);
	CHECK_EQ(wait_sig(rep[0]), 'r', "the child made the pty its controlling terminal (setsid + TIOCSCTTY)");
	pid_t pg = -1;
	CHECK_EQ(ioctl(m, TIOCGPGRP, &pg), 0, "TIOCGPGRP on the master");
	CHECK_EQ(pg, pid, "the foreground process group is the child's");
	pid_t sid = -1;
	CHECK_EQ(ioctl(m, TIOCGSID, &sid), 0, "TIOCGSID on the master");
	CHECK_EQ(sid, pid, "the pty's session is the child's");

	put(m, "partial");
	drain(m, buf, sizeof(buf));
	CHECK_STR(buf, "partial", "an unfinished line is echoed");
	put(m, "\x03");
	CHECK_EQ(wait_sig(rep[0]), SIGINT, "^C sends SIGINT to the foreground process group");
	drain(m, buf, sizeof(buf));
	CHECK_STR(buf, "^C", "^C is echoed as ^C");
	put(m, "after\n");
	CHECK_EQ(wait_sig(rep[0]), 'L', "the child reads a line");
	int n = read_once(rep[0], buf, sizeof(buf));
	CHECK(n == 6 && memcmp(buf, "after\n", 6) == 0, "^C discarded the unfinished line (no NOFLSH)");
	drain(m, buf, sizeof(buf));

	struct winsize ws = { .ws_row = 33, .ws_col = 77 };
	CHECK_EQ(ioctl(m, TIOCSWINSZ, &ws), 0, "TIOCSWINSZ on the master");
	CHECK_EQ(wait_sig(rep[0]), SIGWINCH, "a new window size sends SIGWINCH to the foreground group");
	CHECK_EQ(ioctl(m, TIOCSWINSZ, &ws), 0, "TIOCSWINSZ again with the same size");
	CHECK(!readable(rep[0], 300), "an unchanged size sends no SIGWINCH");
	put(m, "w\n");
	CHECK_EQ(wait_sig(rep[0]), 'L', "the child reads a line");
	read_once(rep[0], buf, 3);
	char w[2] = { 0, 0 };
	CHECK(readable(rep[0], 2000) && read(rep[0], w, 2) == 2 && w[0] == 33 && w[1] == 77,
	      "the slave's TIOCGWINSZ reports the new size");
	drain(m, buf, sizeof(buf));

	/* Closing the master hangs up the slave. */
	close(m);
	CHECK_EQ(wait_sig(rep[0]), SIGHUP, "closing the master sends SIGHUP to the session leader");
	CHECK_EQ(wait_sig(rep[0]), 'X', "a read blocked on the slave when the master closes fails");
	CHECK_EQ(wait_sig(rep[0]), EIO, "with EIO");
	CHECK_EQ(wait_sig(rep[0]), 'E', "and the next read is end of file");
	close(cmd[1]);
	int status;
	CHECK_EQ(waitpid(pid, &status, 0), pid, "reap the child");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child exits normally");
	close(rep[0]);
}

static void test_hangup(void)
{
	char name[64], buf[16];
	int m, s;

	open_pair(&m, &s, name, sizeof(name));
	close(s);
	CHECK(revents(m, POLLIN) & POLLHUP, "the master polls POLLHUP once the slave is closed");
	CHECK_ERR(read(m, buf, sizeof(buf)), EIO, "and reads EIO");
	CHECK_EQ(write(m, "x", 1), 1, "writing the master still works");
	s = CHECK_OK(open(name, O_RDWR | O_NOCTTY), "the slave can be opened again");
	CHECK(!(revents(m, POLLIN) & POLLHUP), "no POLLHUP on the master while the slave is open");
	close(m);
	int ev = revents(s, POLLIN | POLLOUT);
	CHECK((ev & (POLLIN | POLLOUT | POLLHUP)) == (POLLIN | POLLOUT | POLLHUP), "a hung-up slave polls POLLIN|POLLOUT|POLLHUP");
	CHECK_EQ(read(s, buf, sizeof(buf)), 0, "a hung-up slave reads end of file");
	CHECK_ERR(write(s, "x", 1), EIO, "writing a hung-up slave is EIO");
	struct termios t;
	CHECK_ERR(tcgetattr(s, &t), EIO, "tcgetattr on a hung-up slave is EIO");
	CHECK_ERR(open(name, O_RDWR | O_NOCTTY), ENOENT, "the slave's node is gone");
	close(s);
}

static void test_packet(void)
{
	char name[64], buf[64];
	int m, s, on = 1, v = -1;

	open_pair(&m, &s, name, sizeof(name));
	CHECK_EQ(ioctl(m, TIOCPKT, &on), 0, "TIOCPKT on the master");
	CHECK_EQ(ioctl(m, TIOCGPKT, &v), 0, "TIOCGPKT");
	CHECK_EQ(v, 1, "packet mode is on");
	CHECK_ERR(ioctl(s, TIOCPKT, &on), ENOTTY, "TIOCPKT on the slave is ENOTTY");
	put(s, "x");
	CHECK(readable(m, 2000), "the master is readable");
	CHECK_EQ(read(m, buf, sizeof(buf)), 2, "packet mode: a data packet");
	CHECK(buf[0] == 0 && buf[1] == 'x', "data packets start with TIOCPKT_DATA");
	put(m, "in\n");
	CHECK(readable(s, 2000), "a line for the slave");
	drain(m, buf, sizeof(buf)); /* the echo */
	tcflush(s, TCIFLUSH);
	CHECK(readable(m, 2000), "a flush is reported to the master");
	CHECK_EQ(read(m, buf, sizeof(buf)), 1, "as a status byte alone");
	CHECK(buf[0] & TIOCPKT_FLUSHREAD, "TIOCPKT_FLUSHREAD");
	close(s);
	close(m);
}

int main(void)
{
	test_open();
	test_canonical();
	test_raw();
	test_interrupt();
	test_session();
	test_hangup();
	test_packet();
	return check_done();
}
