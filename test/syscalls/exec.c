/*
 * exec.c checks execve(2) and execveat(2) against the Linux man pages: exit
 * statuses of exec'd programs, argv and envp, close-on-exec descriptors,
 * what execve resets (handled signal dispositions, the alternate signal
 * stack, the process name) and what it keeps (ignored dispositions, the
 * signal mask, pending signals, interval timers, no_new_privs, the pid and
 * parent pid), #! scripts, the error cases, and execve from a multithreaded
 * process, which kills the other threads and keeps the pid even when a
 * non-leader thread calls it.
 *
 * Some checks exec this program again (/proc/self/exe --report), which then
 * writes a binary report of its state to stdout instead of testing.
 *
 * Not covered: ENOEXEC, because the read-only host root has no executable
 * file that is neither ELF nor a #! script.
 */
#include "check.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#define FD_CLOEXEC_NUM 50
#define FD_PLAIN_NUM 51
#define REPORT_MAGIC 0x5eec

/* report is what "exec --report" tells its parent about itself. */
struct report {
	int magic;
	int pid, ppid;
	int argc;
	char arg2[32];
	char env0[32];
	int usr1_dfl, usr2_ign;
	int term_blocked, term_pending;
	int altstack_disabled;
	int fd_cloexec_open, fd_plain_open;
	long itimer_sec;
	int nnp;
	char comm[16];
};

static int report_main(int argc, char **argv, char **envp)
{
	struct report r;
	struct sigaction sa;
	sigset_t set;
	stack_t ss;
	struct itimerval it;

	memset(&r, 0, sizeof(r));
	r.magic = REPORT_MAGIC;
	r.pid = getpid();
	r.ppid = getppid();
	r.argc = argc;
	if (argc > 2)
		snprintf(r.arg2, sizeof(r.arg2), "%s", argv[2]);
	if (envp[0])
		snprintf(r.env0, sizeof(r.env0), "%s", envp[0]);
	sigaction(SIGUSR1, NULL, &sa);
	r.usr1_dfl = sa.sa_handler == SIG_DFL;
	sigaction(SIGUSR2, NULL, &sa);
	r.usr2_ign = sa.sa_handler == SIG_IGN;
	sigprocmask(SIG_SETMASK, NULL, &set);
	r.term_blocked = sigismember(&set, SIGTERM);
	sigpending(&set);
	r.term_pending = sigismember(&set, SIGTERM);
	sigaltstack(NULL, &ss);
	r.altstack_disabled = (ss.ss_flags & SS_DISABLE) != 0;
	r.fd_cloexec_open = fcntl(FD_CLOEXEC_NUM, F_GETFD) != -1;
	r.fd_plain_open = fcntl(FD_PLAIN_NUM, F_GETFD) != -1;
	getitimer(ITIMER_REAL, &it);
	r.itimer_sec = it.it_value.tv_sec;
	r.nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	prctl(PR_GET_NAME, r.comm, 0, 0, 0);
	return write(1, &r, sizeof(r)) == sizeof(r) ? 0 : 1;
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

static int exited_with(int status, int code)
{
	return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == code;
}

static void msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* readall reads from fd until EOF or cap-1 bytes, NUL-terminates, returns the count. */
static ssize_t readall(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += r;
	}
	buf[n] = '\0';
	return n;
}

/* result is what run collects from a child: its stdout and wait status. */
struct result {
	char out[4096];
	ssize_t len;
	int status;
	int exec_errno; /* errno of a failed exec in the child, else 0 */
};

/*
 * run forks; the child points stdout at a pipe and calls fn(arg), which is
 * expected to exec. If fn returns, the child sends errno back and exits 127.
 */
static void run(void (*fn)(void *), void *arg, struct result *r)
{
	int out[2], err[2];

	memset(r, 0, sizeof(*r));
	r->status = -1;
	REQUIRE(pipe(out) == 0 && pipe2(err, O_CLOEXEC) == 0, "pipes for a child");
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		close(out[0]);
		close(err[0]);
		if (dup2(out[1], 1) != 1)
			_exit(126);
		close(out[1]);
		fn(arg);
		int e = errno;
		if (write(err[1], &e, sizeof(e)) != sizeof(e))
			_exit(126);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	r->len = readall(out[0], r->out, sizeof(r->out));
	int e;
	if (read(err[0], &e, sizeof(e)) == sizeof(e))
		r->exec_errno = e;
	close(out[0]);
	close(err[0]);
	r->status = reap(pid);
}

struct cmd {
	const char *path;
	char *const *argv;
	char *const *envp;
};

static void do_exec(void *arg)
{
	struct cmd *c = arg;

	execve(c->path, c->argv, c->envp);
}

static char *no_env[] = { NULL };

static void test_status(void)
{
	struct result r;
	char *true_argv[] = { "true", NULL };
	struct cmd t = { "/bin/true", true_argv, no_env };

	run(do_exec, &t, &r);
	CHECK_EQ(r.exec_errno, 0, "execve /bin/true succeeds");
	CHECK(exited_with(r.status, 0), "/bin/true exits 0 as seen by waitpid");

	char *sh_argv[] = { "sh", "-c", "exit 7", NULL };
	struct cmd s = { "/bin/sh", sh_argv, no_env };
	run(do_exec, &s, &r);
	CHECK(exited_with(r.status, 7), "/bin/sh -c 'exit 7' exits 7 as seen by waitpid");

	char *kill_argv[] = { "sh", "-c", "kill -TERM $$", NULL };
	struct cmd k = { "/bin/sh", kill_argv, no_env };
	run(do_exec, &k, &r);
	CHECK(r.status != -1 && WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGTERM,
	      "an exec'd shell that kills itself with SIGTERM is reported as signalled");
}

static void test_args(void)
{
	struct result r;
	char *env_argv[] = { "env", NULL };
	char *env_envp[] = { "A=1", "PALISADE_X=hello world", "EMPTY=", NULL };
	struct cmd e = { "/usr/bin/env", env_argv, env_envp };

	run(do_exec, &e, &r);
	CHECK(exited_with(r.status, 0), "/usr/bin/env exits 0");
	CHECK_STR(r.out, "A=1\nPALISADE_X=hello world\nEMPTY=\n", "envp reaches the new program exactly");

	char *sh_argv[] = { "sh", "-c", "printf '%s|' \"$0\" \"$@\"", "zero", "one", "two three", "", NULL };
	struct cmd s = { "/bin/sh", sh_argv, no_env };
	run(do_exec, &s, &r);
	CHECK(exited_with(r.status, 0), "sh printing its arguments exits 0");
	CHECK_STR(r.out, "zero|one|two three||", "argv reaches the new program exactly, with spaces and empty strings");

	/* A #! script: /usr/bin/which is "#! /bin/sh". */
	char *which_argv[] = { "which", "sh", NULL };
	char *which_envp[] = { "PATH=/usr/bin", NULL };
	struct cmd w = { "/usr/bin/which", which_argv, which_envp };
	run(do_exec, &w, &r);
	CHECK_EQ(r.exec_errno, 0, "execve of a #! script succeeds");
	CHECK(exited_with(r.status, 0), "the #! script exits 0");
	CHECK_STR(r.out, "/usr/bin/sh\n", "the #! script ran with its arguments and environment");
}

struct fds_arg {
	int fd;
	const char *cmd;
};

static void exec_test_fd(void *arg)
{
	struct fds_arg *a = arg;
	char *argv[] = { "sh", "-c", (char *)a->cmd, NULL };

	execve("/bin/sh", argv, no_env);
}

static void test_cloexec(void)
{
	struct result r;
	int null = open("/dev/null", O_RDONLY);

	REQUIRE(null >= 0, "open /dev/null");
	REQUIRE(fcntl(null, F_DUPFD_CLOEXEC, FD_CLOEXEC_NUM) == FD_CLOEXEC_NUM,
		"dup /dev/null to fd 50, close-on-exec");
	REQUIRE(fcntl(null, F_DUPFD, FD_PLAIN_NUM) == FD_PLAIN_NUM, "dup /dev/null to fd 51");
	close(null);

	struct fds_arg a = { FD_CLOEXEC_NUM, "test -e /proc/self/fd/50" };
	run(exec_test_fd, &a, &r);
	CHECK(exited_with(r.status, 1), "a close-on-exec descriptor is closed in the exec'd program");
	struct fds_arg b = { FD_PLAIN_NUM, "test -e /proc/self/fd/51" };
	run(exec_test_fd, &b, &r);
	CHECK(exited_with(r.status, 0), "a descriptor without close-on-exec stays open in the exec'd program");

	REQUIRE(fcntl(FD_PLAIN_NUM, F_SETFD, FD_CLOEXEC) == 0, "F_SETFD FD_CLOEXEC");
	run(exec_test_fd, &b, &r);
	CHECK(exited_with(r.status, 1), "a descriptor marked close-on-exec with F_SETFD is closed by execve");
	REQUIRE(fcntl(FD_PLAIN_NUM, F_SETFD, 0) == 0, "F_SETFD 0");
	/* fds 50 and 51 stay open for test_report. */
}

static void on_usr1(int sig)
{
	(void)sig;
}

static void exec_sh_ignoring(void *arg)
{
	char *argv[] = { "sh", "-c", "kill -USR1 $$; echo survived", NULL };
	struct sigaction sa = { 0 };

	sa.sa_handler = arg ? on_usr1 : SIG_IGN;
	sigaction(SIGUSR1, &sa, NULL);
	execve("/bin/sh", argv, no_env);
}

static void test_dispositions_sh(void)
{
	struct result r;

	run(exec_sh_ignoring, NULL, &r);
	CHECK(exited_with(r.status, 0),
	      "an ignored SIGUSR1 stays ignored across execve: the shell survives kill -USR1 $$");
	CHECK_STR(r.out, "survived\n", "the shell went on after kill -USR1 $$");
	run(exec_sh_ignoring, (void *)1, &r);
	CHECK(r.status != -1 && WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGUSR1,
	      "a handled SIGUSR1 is reset to the default across execve: the shell dies of kill -USR1 $$");
	CHECK_STR(r.out, "", "the shell printed nothing after kill -USR1 $$");
}

static void exec_report(void *arg)
{
	struct sigaction sa = { 0 };
	sigset_t set;
	static char altstack[64 * 1024];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
	struct itimerval it = { { 0, 0 }, { 100, 0 } };
	char *argv[] = { "exec", "--report", "arg two", NULL };
	char *envp[] = { "PALISADE_EXEC=yes", NULL };

	(void)arg;
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGUSR2, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	raise(SIGTERM);
	sigaltstack(&ss, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	prctl(PR_SET_NAME, "before-exec", 0, 0, 0);
	execve("/proc/self/exe", argv, envp);
}

static void test_report(void)
{
	struct result r;
	struct report rep;

	run(exec_report, NULL, &r);
	CHECK(exited_with(r.status, 0), "execve of /proc/self/exe --report runs this program again");
	if (!CHECK_EQ(r.len, sizeof(rep), "the re-exec'd program wrote its report"))
		return;
	memcpy(&rep, r.out, sizeof(rep));
	REQUIRE(rep.magic == REPORT_MAGIC, "the report has the right magic number");
	CHECK_EQ(rep.argc, 3, "argc of the exec'd program");
	CHECK_STR(rep.arg2, "arg two", "argv[2] of the exec'd program");
	CHECK_STR(rep.env0, "PALISADE_EXEC=yes", "envp[0] of the exec'd program");
	CHECK_EQ(rep.ppid, getpid(), "execve keeps the parent pid");
	CHECK(rep.usr1_dfl, "execve resets a handled signal (SIGUSR1) to SIG_DFL");
	CHECK(rep.usr2_ign, "execve keeps an ignored signal (SIGUSR2) ignored");
	CHECK(rep.term_blocked, "execve keeps the signal mask (SIGTERM blocked)");
	CHECK(rep.term_pending, "execve keeps pending signals (SIGTERM pending)");
	CHECK(rep.altstack_disabled, "execve does not keep the alternate signal stack");
	CHECK(!rep.fd_cloexec_open, "execve closes a close-on-exec descriptor (F_GETFD in the new program)");
	CHECK(rep.fd_plain_open, "execve keeps a descriptor without close-on-exec (F_GETFD in the new program)");
	CHECK(rep.itimer_sec >= 90 && rep.itimer_sec < 100, "execve keeps the ITIMER_REAL interval timer");
	CHECK_EQ(rep.nnp, 1, "execve keeps no_new_privs");
	CHECK_STR(rep.comm, "exe", "execve sets the process name to the basename of the path exec'd");
}

static void test_errors(void)
{
	char *argv[] = { "x", NULL };

	CHECK_ERR(execve("/nonexistent/palisade", argv, no_env), ENOENT, "execve of a missing file is ENOENT");
	CHECK_ERR(execve("/usr/bin", argv, no_env), EACCES, "execve of a directory is EACCES");
	CHECK_ERR(execve("/etc/passwd", argv, no_env), EACCES, "execve of a file without execute permission is EACCES");
	CHECK_ERR(execve("/etc/passwd/x", argv, no_env), ENOTDIR, "execve through a non-directory is ENOTDIR");
	CHECK_ERR(execve("", argv, no_env), ENOENT, "execve of an empty path is ENOENT");
	CHECK_ERR(syscall(SYS_execve, (char *)8, argv, no_env), EFAULT, "execve of a bad path pointer is EFAULT");
	CHECK_ERR(syscall(SYS_execve, "/bin/true", (char **)8, no_env), EFAULT,
		  "execve of a bad argv pointer is EFAULT");

	size_t n = PATH_MAX + 10;
	char *longpath = malloc(n + 1);
	REQUIRE(longpath != NULL, "malloc");
	memset(longpath, 'a', n);
	longpath[0] = '/';
	longpath[n] = '\0';
	CHECK_ERR(execve(longpath, argv, no_env), ENAMETOOLONG,
		  "execve of a path longer than PATH_MAX is ENAMETOOLONG");
	free(longpath);

	/* One argument string may be at most MAX_ARG_STRLEN (32 pages). */
	n = 200 * 1024;
	char *big = malloc(n + 1);
	REQUIRE(big != NULL, "malloc");
	memset(big, 'b', n);
	big[n] = '\0';
	char *big_argv[] = { "true", big, NULL };
	CHECK_ERR(execve("/bin/true", big_argv, no_env), E2BIG, "execve with a 200 KiB argument is E2BIG");
	free(big);
}

struct at_arg {
	int dirfd;
	const char *path;
	int flags;
};

static void exec_at(void *arg)
{
	struct at_arg *a = arg;
	char *argv[] = { "true", NULL };

	syscall(SYS_execveat, a->dirfd, a->path, argv, no_env, a->flags);
}

static void test_execveat(void)
{
	struct result r;
	char *argv[] = { "true", NULL };
	int fd = open("/bin/true", O_RDONLY | O_CLOEXEC);
	int path_fd = open("/bin/true", O_PATH | O_CLOEXEC);
	int dir = open("/usr/bin", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	REQUIRE(fd >= 0 && path_fd >= 0 && dir >= 0, "open /bin/true and /usr/bin");
	struct at_arg a = { fd, "", AT_EMPTY_PATH };
	run(exec_at, &a, &r);
	CHECK_EQ(r.exec_errno, 0, "execveat(fd, \"\", AT_EMPTY_PATH) of /bin/true succeeds");
	CHECK(exited_with(r.status, 0), "the program exec'd from a descriptor ran and exited 0");
	struct at_arg b = { path_fd, "", AT_EMPTY_PATH };
	run(exec_at, &b, &r);
	CHECK(r.exec_errno == 0 && exited_with(r.status, 0), "execveat of an O_PATH descriptor with AT_EMPTY_PATH");
	struct at_arg c = { dir, "true", 0 };
	run(exec_at, &c, &r);
	CHECK(r.exec_errno == 0 && exited_with(r.status, 0), "execveat of a path relative to a directory descriptor");
	struct at_arg d = { AT_FDCWD, "/bin/true", 0 };
	run(exec_at, &d, &r);
	CHECK(r.exec_errno == 0 && exited_with(r.status, 0), "execveat(AT_FDCWD, absolute path)");

	CHECK_ERR(syscall(SYS_execveat, fd, "", argv, no_env, 0), ENOENT,
		  "execveat with an empty path without AT_EMPTY_PATH is ENOENT");
	CHECK_ERR(syscall(SYS_execveat, fd, "", argv, no_env, AT_EMPTY_PATH | 0x1), EINVAL,
		  "execveat with unknown flags is EINVAL");
	CHECK_ERR(syscall(SYS_execveat, AT_FDCWD, "/usr/bin/which", argv, no_env, AT_SYMLINK_NOFOLLOW), ELOOP,
		  "execveat of a symbolic link with AT_SYMLINK_NOFOLLOW is ELOOP");
	CHECK_ERR(syscall(SYS_execveat, 999, "", argv, no_env, AT_EMPTY_PATH), EBADF,
		  "execveat of a closed descriptor is EBADF");
	CHECK_ERR(syscall(SYS_execveat, fd, "true", argv, no_env, 0), ENOTDIR,
		  "execveat of a relative path from a non-directory descriptor is ENOTDIR");

	/* The man page: a script opened close-on-exec cannot be run by its interpreter. */
	int script = open("/usr/bin/which", O_RDONLY | O_CLOEXEC);
	REQUIRE(script >= 0, "open /usr/bin/which");
	struct at_arg e = { script, "", AT_EMPTY_PATH };
	run(exec_at, &e, &r);
	CHECK_EQ(r.exec_errno, ENOENT, "execveat of a close-on-exec descriptor of a #! script is ENOENT");
	close(script);
	close(fd);
	close(path_fd);
	close(dir);
}

static volatile long *spin_counter;

static void *spin(void *arg)
{
	(void)arg;
	for (;;)
		__atomic_add_fetch(spin_counter, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void *exec_from_thread(void *arg)
{
	char *argv[] = { "sh", "-c", "echo $$; read x; exit 0", NULL };

	(void)arg;
	while (__atomic_load_n(spin_counter, __ATOMIC_RELAXED) == 0)
		;
	execve("/bin/sh", argv, no_env);
	_exit(127);
}

/*
 * test_threaded_exec runs a child with a spinning thread and execs a shell
 * from the main thread (leader = 0) or from a second thread (leader = 1).
 */
static void test_threaded_exec(int leader)
{
	char what[200];
	const char *who = leader ? "a non-leader thread" : "the main thread";
	int out[2], in[2];

	*spin_counter = 0;
	REQUIRE(pipe(out) == 0 && pipe(in) == 0, "pipes for the child");
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		pthread_t t;
		dup2(out[1], 1);
		dup2(in[0], 0);
		close(out[0]);
		close(out[1]);
		close(in[0]);
		close(in[1]);
		if (leader) {
			if (pthread_create(&t, NULL, exec_from_thread, NULL) != 0)
				_exit(126);
			spin(NULL);
		}
		if (pthread_create(&t, NULL, spin, NULL) != 0)
			_exit(126);
		exec_from_thread(NULL);
	}
	close(out[1]);
	close(in[0]);

	char line[64];
	size_t n = 0;
	while (n + 1 < sizeof(line) && read(out[0], line + n, 1) == 1 && line[n] != '\n')
		n++;
	line[n] = '\0';
	snprintf(what, sizeof(what), "execve from %s of a multithreaded process keeps the pid ($$ of the new program)",
		 who);
	CHECK_EQ(atol(line), pid, what);
	long c1 = __atomic_load_n(spin_counter, __ATOMIC_RELAXED);
	msleep(100);
	long c2 = __atomic_load_n(spin_counter, __ATOMIC_RELAXED);
	snprintf(what, sizeof(what), "execve from %s: the other (spinning) thread ran before", who);
	CHECK(c1 > 0, what);
	snprintf(what, sizeof(what), "execve from %s: the other (spinning) thread is gone after", who);
	CHECK_EQ(c2, c1, what);
	close(in[1]); /* lets the shell's read finish */
	snprintf(what, sizeof(what), "execve from %s: the new program runs to its normal exit", who);
	CHECK(exited_with(reap(pid), 0), what);
	close(out[0]);
}

int main(int argc, char **argv, char **envp)
{
	if (argc > 1 && strcmp(argv[1], "--report") == 0)
		return report_main(argc, argv, envp);

	spin_counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	REQUIRE(spin_counter != MAP_FAILED, "shared anonymous mmap");

	test_status();
	test_args();
	test_cloexec();
	test_dispositions_sh();
	test_report();
	test_errors();
	test_execveat();
	test_threaded_exec(0);
	test_threaded_exec(1);
	return check_done();
}
