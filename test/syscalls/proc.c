/*
 * proc.c checks /proc against proc(5): the fields of /proc/self/stat and
 * status against the system calls that report the same things, maps,
 * cmdline, environ, limits, the self and thread-self links, task/, fd/ and
 * fdinfo/, the magic links of fd/ (a pipe reached through its fd entry, an
 * unlinked file still readable through it), comm, oom_score_adj and a
 * sysctl.
 */
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <limits.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

extern char **environ;

/* slurp reads a whole file into buf (NUL-terminated); returns its length. */
static ssize_t slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	size_t got = 0;
	ssize_t n;

	if (fd < 0)
		return -1;
	while (got < size - 1 && (n = read(fd, buf + got, size - 1 - got)) > 0)
		got += n;
	close(fd);
	buf[got] = 0;
	return got;
}

/* field returns the value after "name:" in a status-like text, or NULL. */
static const char *field(const char *text, const char *name)
{
	size_t n = strlen(name);
	const char *p = text;

	while (p && *p) {
		if (strncmp(p, name, n) == 0 && p[n] == ':') {
			p += n + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			return p;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

/* The threads wait on a pipe until main is done looking at them. */
static int hold[2];
static pid_t tids[2];
static int started;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static void *thread_main(void *arg)
{
	char c;

	pthread_mutex_lock(&mu);
	tids[(long)arg] = syscall(SYS_gettid);
	started++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	while (read(hold[0], &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

/* stat_fields splits /proc/self/stat after the comm into fields[3..52]. */
static int stat_fields(const char *path, char *buf, size_t size, char *comm, char **fields)
{
	char *open_paren, *close_paren, *p;
	int n = 3;

	if (slurp(path, buf, size) <= 0)
		return -1;
	open_paren = strchr(buf, '(');
	close_paren = strrchr(buf, ')');
	if (!open_paren || !close_paren)
		return -1;
	memcpy(comm, open_paren + 1, close_paren - open_paren - 1);
	comm[close_paren - open_paren - 1] = 0;
	fields[1] = buf;
	p = close_paren + 2;
	while (p && *p && n <= 52) {
		fields[n++] = p;
		p = strchr(p, ' ');
		if (p)
			*p++ = 0;
	}
	return n - 1;
}

/* The process's start: main's arguments, as the stack had them at exec. */
static char **start_argv, **start_env;

int main(int argc, char **argv);

static void check_stat(int nthreads)
{
	static char buf[4096];
	char comm[64], name[32], path[64];
	char *f[60] = { 0 };
	int n = stat_fields("/proc/self/stat", buf, sizeof(buf), comm, f);

	REQUIRE(n == 52, "/proc/self/stat has 52 fields");
	CHECK_EQ(atoi(f[1]), getpid(), "stat pid");
	prctl(PR_GET_NAME, name);
	CHECK_STR(comm, name, "stat comm is the task's name");
	CHECK_STR(f[3], "R", "stat state of the reading task is R");
	CHECK_EQ(atoi(f[4]), getppid(), "stat ppid");
	CHECK_EQ(atoi(f[5]), getpgrp(), "stat pgrp");
	CHECK_EQ(atoi(f[6]), getsid(0), "stat session");
	CHECK_EQ(atoi(f[20]), nthreads, "stat num_threads");
	CHECK_EQ(atoi(f[19]), getpriority(PRIO_PROCESS, 0), "stat nice");
	CHECK(atoll(f[23]) > 0, "stat vsize is positive");
	CHECK(atoll(f[24]) > 0, "stat rss is positive");
	CHECK_EQ(atoi(f[38]), SIGCHLD, "stat exit_signal");
	CHECK(strtoull(f[48], NULL, 10) < strtoull(f[49], NULL, 10), "stat arg_start < arg_end");
	CHECK(strtoull(f[50], NULL, 10) < strtoull(f[51], NULL, 10), "stat env_start < env_end");
	CHECK_EQ(strtoull(f[48], NULL, 10), (unsigned long)start_argv[0], "stat arg_start is argv[0]");
	CHECK_EQ(strtoull(f[50], NULL, 10), (unsigned long)start_env[0], "stat env_start is the first variable");
	/* The stack at exec held argc, then the argv pointers main got. */
	CHECK_EQ(strtoull(f[28], NULL, 10) + 8, (unsigned long)start_argv, "stat startstack is where argc was");
	CHECK((unsigned long)main >= strtoull(f[26], NULL, 10) && (unsigned long)main < strtoull(f[27], NULL, 10),
	      "main lies between startcode and endcode");
	unsigned long start_brk = strtoull(f[47], NULL, 10);
	CHECK(start_brk > 0 && start_brk <= (unsigned long)sbrk(0), "stat start_brk is at or below the break");

	/* A thread's own stat in task/[tid] names it. */
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tids[0]);
	n = stat_fields(path, buf, sizeof(buf), comm, f);
	REQUIRE(n == 52, "task/[tid]/stat has 52 fields");
	CHECK_EQ(atoi(f[1]), tids[0], "task/[tid]/stat pid is the thread's id");
	CHECK_STR(f[3], "S", "a thread blocked in read is sleeping");
	CHECK_EQ(atoi(f[38]), -1, "a thread's exit_signal is -1");
}

static void check_status(int nthreads)
{
	static char buf[8192];
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	char want[128];
	const char *v;

	REQUIRE(slurp("/proc/self/status", buf, sizeof(buf)) > 0, "read /proc/self/status");
	getresuid(&ru, &eu, &su);
	getresgid(&rg, &eg, &sg);
	snprintf(want, sizeof(want), "%u\t%u\t%u\t%u\n", ru, eu, su, setfsuid(-1));
	v = field(buf, "Uid");
	CHECK(v && strncmp(v, want, strlen(want)) == 0, "status Uid: real effective saved fs");
	snprintf(want, sizeof(want), "%u\t%u\t%u\t%u\n", rg, eg, sg, setfsgid(-1));
	v = field(buf, "Gid");
	CHECK(v && strncmp(v, want, strlen(want)) == 0, "status Gid: real effective saved fs");
	v = field(buf, "Pid");
	CHECK(v && atoi(v) == getpid(), "status Pid");
	v = field(buf, "PPid");
	CHECK(v && atoi(v) == getppid(), "status PPid");
	v = field(buf, "Tgid");
	CHECK(v && atoi(v) == getpid(), "status Tgid");
	v = field(buf, "Threads");
	CHECK(v && atoi(v) == nthreads, "status Threads");
	v = field(buf, "State");
	CHECK(v && strncmp(v, "R (running)", 11) == 0, "status State");
	v = field(buf, "VmRSS");
	CHECK(v && atol(v) > 0, "status VmRSS");
	v = field(buf, "SigBlk");
	CHECK(v && strlen(v) >= 16, "status SigBlk is 16 hex digits");
}

static void check_maps(void)
{
	static char buf[1 << 16];
	char want[128];
	char *anon, *named;
	int fd;

	anon = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(anon != MAP_FAILED, "mmap anonymous");
	fd = open("/etc/passwd", O_RDONLY);
	REQUIRE(fd >= 0, "open /etc/passwd");
	named = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	REQUIRE(named != MAP_FAILED, "mmap /etc/passwd");
	close(fd);
	REQUIRE(slurp("/proc/self/maps", buf, sizeof(buf)) > 0, "read /proc/self/maps");
	CHECK(strstr(buf, "[stack]\n") != NULL, "maps has [stack]");
	snprintf(want, sizeof(want), "\n%lx-%lx rw-p 00000000 00:00 0 ", (unsigned long)anon, (unsigned long)(anon + 3 * 4096));
	CHECK(strstr(buf, want) != NULL, "maps has the anonymous mapping at its address, rw-p");
	snprintf(want, sizeof(want), "\n%lx-%lx r--p 00000000 ", (unsigned long)named, (unsigned long)(named + 4096));
	char *line = strstr(buf, want);
	CHECK(line != NULL, "maps has the file mapping at its address, r--p, offset 0");
	if (line) {
		char *end = strchr(line + 1, '\n');
		CHECK(end && end - 12 > line && strncmp(end - 12, " /etc/passwd", 12) == 0, "the file mapping is named by its path");
	}
	munmap(anon, 3 * 4096);
	munmap(named, 4096);
	REQUIRE(slurp("/proc/self/smaps", buf, sizeof(buf)) > 0, "read /proc/self/smaps");
	CHECK(strstr(buf, "\nRss:") != NULL && strstr(buf, "\nVmFlags:") != NULL, "smaps has Rss and VmFlags lines");
}

static void check_cmdline_environ(int argc, char **argv, char **env0)
{
	static char buf[1 << 16], want[1 << 16];
	size_t n = 0;
	ssize_t got;

	for (int i = 0; i < argc; i++) {
		size_t l = strlen(argv[i]) + 1;
		memcpy(want + n, argv[i], l);
		n += l;
	}
	got = slurp("/proc/self/cmdline", buf, sizeof(buf));
	CHECK(got == (ssize_t)n && memcmp(buf, want, n) == 0, "cmdline is argv, NUL-separated");
	n = 0;
	for (char **e = env0; *e; e++) {
		size_t l = strlen(*e) + 1;
		if (n + l > sizeof(want))
			break;
		memcpy(want + n, *e, l);
		n += l;
	}
	got = slurp("/proc/self/environ", buf, sizeof(buf));
	CHECK(got == (ssize_t)n && memcmp(buf, want, n) == 0, "environ is the environment, NUL-separated");
}

static void check_links(char *argv0)
{
	char buf[PATH_MAX], want[PATH_MAX], real[PATH_MAX];
	ssize_t n;

	n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	REQUIRE(n > 0, "readlink /proc/self/exe");
	buf[n] = 0;
	REQUIRE(realpath(argv0, real) != NULL, "realpath of the program");
	CHECK_STR(buf, real, "/proc/self/exe is the program");
	n = readlink("/proc/self", buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	snprintf(want, sizeof(want), "%d", getpid());
	CHECK_STR(buf, want, "/proc/self is the pid");
	n = readlink("/proc/thread-self", buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	snprintf(want, sizeof(want), "%d/task/%ld", getpid(), (long)syscall(SYS_gettid));
	CHECK_STR(buf, want, "/proc/thread-self is pid/task/tid");
	n = readlink("/proc/self/cwd", buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	CHECK(getcwd(want, sizeof(want)) && strcmp(buf, want) == 0, "/proc/self/cwd is the working directory");

	struct stat a, b;
	CHECK(stat("/proc/self/cwd/.", &a) == 0 && stat(".", &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev,
	      "/proc/self/cwd leads to the working directory");
	CHECK(stat("/proc/self/root", &a) == 0 && stat("/", &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev,
	      "/proc/self/root leads to the root");
}

/* fd_set_of lists /proc/self/fd into seen[]; returns the dir's own fd. */
static int list_fds(char *seen, int max)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		int n = atoi(e->d_name);
		if (n >= 0 && n < max)
			seen[n] = 1;
	}
	int own = dirfd(d);
	/* Keep d open while the caller compares: return its fd, leak d. */
	return own;
}

static void check_fds(void)
{
	enum { MAX = 256 };
	char seen[MAX] = { 0 };
	int p[2], own, ok = 1;

	REQUIRE(pipe(p) == 0, "pipe");
	own = list_fds(seen, MAX);
	REQUIRE(own >= 0, "opendir /proc/self/fd");
	for (int fd = 0; fd < MAX; fd++) {
		int open_now = fcntl(fd, F_GETFD) != -1;
		if (open_now != seen[fd]) {
			printf("# fd %d: open %d, listed %d\n", fd, open_now, seen[fd]);
			ok = 0;
		}
	}
	CHECK(ok, "/proc/self/fd lists exactly the open descriptors");
	close(own);

	/* The write end, reopened through its magic link, writes the pipe. */
	char path[64], buf[64], want[64];
	struct stat st, st2;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p[1]);
	int w = open(path, O_WRONLY);
	CHECK(w >= 0, "open /proc/self/fd/N of a pipe");
	CHECK_EQ(write(w, "via proc", 8), 8, "write through the reopened pipe");
	CHECK_EQ(read(p[0], buf, sizeof(buf)), 8, "read what was written through it");
	CHECK(memcmp(buf, "via proc", 8) == 0, "the data came through the pipe");
	close(w);

	ssize_t n = readlink(path, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	fstat(p[1], &st);
	snprintf(want, sizeof(want), "pipe:[%lu]", (unsigned long)st.st_ino);
	CHECK_STR(buf, want, "readlink of a pipe fd is pipe:[inode]");
	CHECK(stat(path, &st2) == 0 && S_ISFIFO(st2.st_mode) && st2.st_ino == st.st_ino, "stat through the link is the pipe");
	CHECK(lstat(path, &st2) == 0 && S_ISLNK(st2.st_mode), "lstat sees the link");
	CHECK((st2.st_mode & 0777) == 0300, "a write-only fd's link is -wx");

	/* fdinfo of a file shows its offset and flags. */
	int f = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
	REQUIRE(f >= 0, "open /etc/passwd");
	lseek(f, 3, SEEK_SET);
	static char info[256];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", f);
	REQUIRE(slurp(path, info, sizeof(info)) > 0, "read fdinfo");
	const char *pos = field(info, "pos"), *flags = field(info, "flags");
	CHECK(pos && atoi(pos) == 3, "fdinfo pos is the offset");
	CHECK(flags && (strtol(flags, NULL, 8) & (O_CLOEXEC | O_ACCMODE)) == (O_CLOEXEC | O_RDONLY), "fdinfo flags has O_CLOEXEC and the access mode");
	CHECK(field(info, "mnt_id") != NULL, "fdinfo has mnt_id");
	close(f);
	close(p[0]);
	close(p[1]);
}

static void check_deleted(void)
{
	char tmpl[] = "/tmp/proc-test-XXXXXX";
	char path[64], buf[PATH_MAX], want[PATH_MAX + 16];
	int fd = mkstemp(tmpl), fd2;
	ssize_t n;

	REQUIRE(fd >= 0, "mkstemp in /tmp");
	REQUIRE(write(fd, "still here", 10) == 10, "write the file");
	REQUIRE(unlink(tmpl) == 0, "unlink it");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	snprintf(want, sizeof(want), "%s (deleted)", tmpl);
	CHECK_STR(buf, want, "readlink of an unlinked file says (deleted)");
	fd2 = open(path, O_RDONLY);
	CHECK(fd2 >= 0, "open an unlinked file through /proc/self/fd");
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(read(fd2, buf, sizeof(buf)), 10, "read it");
	CHECK_STR(buf, "still here", "it has its data");
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 10, "the new open has its own offset");
	close(fd2);
	close(fd);
	CHECK_ERR(open(path, O_RDONLY), ENOENT, "a closed fd's entry is gone");
}

static void check_task(pid_t main_tid)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int found[3] = { 0 }, others = 0;

	REQUIRE(d != NULL, "opendir /proc/self/task");
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		pid_t t = atoi(e->d_name);
		if (t == main_tid)
			found[0]++;
		else if (t == tids[0])
			found[1]++;
		else if (t == tids[1])
			found[2]++;
		else
			others++;
	}
	closedir(d);
	CHECK(found[0] == 1 && found[1] == 1 && found[2] == 1 && others == 0, "task/ lists every thread once");

	/* /proc/[tid] of a thread is there, but not listed. */
	char path[64];
	struct stat st;
	snprintf(path, sizeof(path), "/proc/%d", tids[1]);
	CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode), "/proc/[tid] of a thread exists");
	d = opendir("/proc");
	int listed = 0, self_listed = 0;
	while (d && (e = readdir(d)) != NULL) {
		if (atoi(e->d_name) == tids[1])
			listed = 1;
		if (atoi(e->d_name) == getpid())
			self_listed = 1;
	}
	if (d)
		closedir(d);
	CHECK(self_listed, "/proc lists the process");
	CHECK(!listed, "/proc does not list a thread");
}

static void check_limits(void)
{
	static char buf[4096];
	struct rlimit rl;
	char want[128];
	const char *line;

	REQUIRE(getrlimit(RLIMIT_NOFILE, &rl) == 0, "getrlimit");
	REQUIRE(slurp("/proc/self/limits", buf, sizeof(buf)) > 0, "read limits");
	const char *header = "Limit                     Soft Limit           Hard Limit           Units     \n";
	CHECK(strncmp(buf, header, strlen(header)) == 0, "limits header");
	line = strstr(buf, "Max open files");
	REQUIRE(line != NULL, "limits has Max open files");
	snprintf(want, sizeof(want), "Max open files            %-20lu %-20lu files     \n", (unsigned long)rl.rlim_cur, (unsigned long)rl.rlim_max);
	CHECK(strncmp(line, want, strlen(want)) == 0, "Max open files shows getrlimit's values");
}

static void check_writable(void)
{
	char buf[64], orig[64];
	int fd;

	/* comm */
	fd = open("/proc/self/comm", O_WRONLY);
	CHECK(fd >= 0, "open comm for writing");
	CHECK_EQ(write(fd, "renamed", 7), 7, "write comm");
	close(fd);
	prctl(PR_GET_NAME, buf);
	CHECK_STR(buf, "renamed", "writing comm renames the task");
	slurp("/proc/self/comm", buf, sizeof(buf));
	CHECK_STR(buf, "renamed\n", "comm reads back");

	/* oom_score_adj */
	REQUIRE(slurp("/proc/self/oom_score_adj", orig, sizeof(orig)) > 0, "read oom_score_adj");
	fd = open("/proc/self/oom_score_adj", O_WRONLY);
	CHECK(fd >= 0, "open oom_score_adj for writing");
	CHECK_EQ(write(fd, "500\n", 4), 4, "write 500");
	CHECK_ERR(write(fd, "1001", 4), EINVAL, "1001 is out of range");
	CHECK_ERR(write(fd, "x", 1), EINVAL, "not a number");
	close(fd);
	slurp("/proc/self/oom_score_adj", buf, sizeof(buf));
	CHECK_STR(buf, "500\n", "oom_score_adj reads back");
	fd = open("/proc/self/oom_score_adj", O_WRONLY);
	CHECK_EQ(write(fd, orig, strlen(orig)), (long)strlen(orig), "restore oom_score_adj");
	close(fd);
	slurp("/proc/self/oom_score", buf, sizeof(buf));
	CHECK(atoi(buf) >= 0 && atoi(buf) <= 2000, "oom_score is a score");

	/* Read-only files refuse writes: at open by their mode, or, for
	 * those who may override it, at write. */
	fd = open("/proc/self/stat", O_WRONLY);
	if (fd >= 0) {
		CHECK_ERR(write(fd, "x", 1), EINVAL, "stat takes no writes");
		close(fd);
	} else {
		CHECK_EQ(errno, EACCES, "stat is not writable");
	}
}

int main(int argc, char **argv)
{
	static char buf[256];
	char **env0 = environ;

	start_argv = argv;
	start_env = environ;
	pthread_t th[2];
	pid_t main_tid = syscall(SYS_gettid);

	check_cmdline_environ(argc, argv, env0);
	check_links(argv[0]);

	REQUIRE(pipe(hold) == 0, "pipe");
	for (long i = 0; i < 2; i++)
		REQUIRE(pthread_create(&th[i], NULL, thread_main, (void *)i) == 0, "pthread_create");
	pthread_mutex_lock(&mu);
	while (started < 2)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	usleep(50000); /* let the threads block in read */

	check_stat(3);
	check_status(3);
	check_task(main_tid);
	check_maps();
	check_fds();
	check_deleted();
	check_limits();
	check_writable();

	REQUIRE(slurp("/proc/sys/kernel/pid_max", buf, sizeof(buf)) > 0, "read pid_max");
	char *end;
	long pid_max = strtol(buf, &end, 10);
	CHECK(pid_max > 0 && *end == '\n', "pid_max is a number");
	CHECK(pid_max >= getpid(), "pid_max is above our pid");

	close(hold[1]);
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	return check_done();
}
