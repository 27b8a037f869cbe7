/*
 * fork.c checks fork(2), vfork(2) and clone(2) against the Linux man pages:
 * the return values and the parent/child relation, copy-on-write private
 * memory (data segment, a 32 MiB anonymous region and a private file
 * mapping), shared anonymous memory, the copied descriptor table (sharing
 * open file descriptions), vfork and CLONE_VM|CLONE_VFORK suspending the
 * parent, CLONE_VM sharing memory, and many forks in a row.
 */
#include "check.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#define GPL3 "/usr/share/common-licenses/GPL-3"
#define BIG (32 << 20)

static long page;

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

/* put and get pass one byte over a pipe to order parent and child. */
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

static int exited_with(int status, int code)
{
	return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == code;
}

static void test_basic(void)
{
	int fds[2];
	pid_t parent = getpid();

	REQUIRE(pipe(fds) == 0, "pipe for the child's report");
	pid_t ret = fork();
	if (getpid() != parent) {
		/* The child: report what fork returned here and who we are. */
		long r[3] = { ret, getpid(), getppid() };
		if (write(fds[1], r, sizeof(r)) != sizeof(r))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	if (!CHECK(ret > 0, "fork returns the child's pid in the parent"))
		return;
	CHECK(ret != parent, "the child's pid differs from the parent's");
	long r[3] = { -1, -1, -1 };
	CHECK_EQ(read(fds[0], r, sizeof(r)), sizeof(r), "read the child's report");
	close(fds[0]);
	CHECK_EQ(r[0], 0, "fork returns 0 in the child");
	CHECK_EQ(r[1], ret, "getpid in the child equals the pid fork returned to the parent");
	CHECK_EQ(r[2], parent, "getppid in the child equals the parent's getpid");
	int status = reap(ret);
	CHECK(exited_with(status, 0), "waitpid reports the child's _exit(0)");
	CHECK_ERR(waitpid(ret, &status, WNOHANG), ECHILD, "the reaped child is gone");
}

/*
 * cow checks that the private writable region p of len bytes is copied on
 * write by fork: the child sees the parent's data, and writes made afterwards
 * by either side are invisible to the other.
 */
static void cow(char *p, size_t len, const char *name)
{
	char what[200];
	char *saved = malloc(len);
	int to_child[2], to_parent[2];

	REQUIRE(saved != NULL, "malloc for a snapshot");
	REQUIRE(pipe(to_child) == 0 && pipe(to_parent) == 0, "pipes to order parent and child");
	memcpy(saved, p, len);
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		int code = 0;

		if (memcmp(p, saved, len) != 0)
			code |= 1;
		for (size_t i = 0; i < len; i++)
			p[i] = saved[i] ^ 0xff;
		put(to_parent[1], 'w');
		if (get(to_child[0]) != 'g')
			_exit(100);
		for (size_t i = 0; i < len; i++)
			if (p[i] != (char)(saved[i] ^ 0xff)) {
				code |= 2;
				break;
			}
		_exit(code);
	}
	CHECK_EQ(get(to_parent[0]), 'w', "the child wrote its copy");
	snprintf(what, sizeof(what), "%s: the child's writes do not show in the parent", name);
	CHECK(memcmp(p, saved, len) == 0, what);
	for (size_t i = 0; i < len; i++)
		p[i] = saved[i] ^ 0x55;
	put(to_child[1], 'g');
	int status = reap(pid);
	snprintf(what, sizeof(what), "%s: the child exited normally", name);
	if (CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) < 4, what)) {
		snprintf(what, sizeof(what), "%s: the child sees the parent's data at fork", name);
		CHECK(!(WEXITSTATUS(status) & 1), what);
		snprintf(what, sizeof(what), "%s: the parent's later writes do not show in the child", name);
		CHECK(!(WEXITSTATUS(status) & 2), what);
	}
	int mine = 1;
	for (size_t i = 0; i < len; i++)
		if (p[i] != (char)(saved[i] ^ 0x55)) {
			mine = 0;
			break;
		}
	snprintf(what, sizeof(what), "%s: the parent keeps its own writes", name);
	CHECK(mine, what);
	close(to_child[0]);
	close(to_child[1]);
	close(to_parent[0]);
	close(to_parent[1]);
	free(saved);
}

static char data_region[3 * 4096] = "initialised data";

static void test_cow(void)
{
	cow(data_region, sizeof(data_region), "data segment");

	char *big = mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(big != MAP_FAILED, "mmap 32 MiB");
	for (size_t i = 0; i < BIG; i += 512)
		big[i] = (char)(i / 512);
	cow(big, BIG, "32 MiB private anonymous region");
	munmap(big, BIG);

	int fd = open(GPL3, O_RDONLY);
	REQUIRE(fd >= 0, "open " GPL3);
	off_t size = lseek(fd, 0, SEEK_END);
	REQUIRE(size > 3 * page, "GPL-3 is more than three pages");
	char *file = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	REQUIRE(file != MAP_FAILED, "private writable mapping of " GPL3);
	char first = file[0];
	file[0] = (char)(first ^ 1); /* already a private copy before the fork */
	cow(file, size, "private file mapping");
	char c = 0;
	CHECK_EQ(pread(fd, &c, 1, 0), 1, "pread the file");
	CHECK_EQ(c, first, "writes to a private file mapping never reach the file");
	munmap(file, size);
	close(fd);
}

static void test_shared(void)
{
	int to_child[2], to_parent[2];
	char *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	REQUIRE(p != MAP_FAILED, "shared anonymous mmap");
	REQUIRE(pipe(to_child) == 0 && pipe(to_parent) == 0, "pipes to order parent and child");
	p[0] = 1;
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		int code = p[0] == 1 ? 0 : 1;
		p[1] = 2;
		p[page] = 3;
		put(to_parent[1], 'w');
		if (get(to_child[0]) != 'g')
			_exit(100);
		if (p[page + 1] != 4)
			code |= 2;
		_exit(code);
	}
	CHECK_EQ(get(to_parent[0]), 'w', "the child wrote the shared region");
	CHECK_EQ(p[1], 2, "MAP_SHARED|MAP_ANONYMOUS: the child's write shows in the parent");
	CHECK_EQ(p[page], 3, "MAP_SHARED|MAP_ANONYMOUS: the child's write to the second page shows in the parent");
	p[page + 1] = 4;
	put(to_child[1], 'g');
	int status = reap(pid);
	CHECK(status != -1 && WIFEXITED(status) && !(WEXITSTATUS(status) & 1),
	      "MAP_SHARED|MAP_ANONYMOUS: the child sees the data written before fork");
	CHECK(status != -1 && WIFEXITED(status) && !(WEXITSTATUS(status) & 2),
	      "MAP_SHARED|MAP_ANONYMOUS: the parent's write after fork shows in the child");
	munmap(p, 2 * page);
	close(to_child[0]);
	close(to_child[1]);
	close(to_parent[0]);
	close(to_parent[1]);
}

static void test_fds(void)
{
	int fds[2];
	char buf[16] = { 0 };

	REQUIRE(pipe(fds) == 0, "pipe");
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		close(fds[0]);
		_exit(write(fds[1], "hello", 5) == 5 ? 0 : 1);
	}
	close(fds[1]);
	CHECK_EQ(read(fds[0], buf, sizeof(buf)), 5, "the parent reads what the child wrote to the inherited pipe");
	CHECK_STR(buf, "hello", "data through the inherited pipe");
	CHECK_EQ(read(fds[0], buf, sizeof(buf)), 0, "EOF once the child (holding the last write end) exits");
	CHECK(exited_with(reap(pid), 0), "the pipe writer child exited 0");
	close(fds[0]);

	int fd = open(GPL3, O_RDONLY);
	REQUIRE(fd >= 0, "open " GPL3);
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		char b[100];
		int ok = read(fd, b, sizeof(b)) == sizeof(b);
		close(fd);
		_exit(ok ? 0 : 1);
	}
	CHECK(exited_with(reap(pid), 0), "the child read from and closed its copy of the descriptor");
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 100, "the file offset is shared: the child's read moved the parent's offset");
	CHECK_EQ(fcntl(fd, F_GETFD), 0, "the child's close does not close the parent's descriptor");
	close(fd);

	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	REQUIRE(fd >= 0, "open /dev/null");
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0)
		_exit(fcntl(fd, F_GETFD) == FD_CLOEXEC ? 0 : 1);
	CHECK(exited_with(reap(pid), 0), "the close-on-exec flag is copied to the child");
	close(fd);
}

static volatile int vfork_flag;
static volatile pid_t vfork_pid;

static void test_vfork(void)
{
	vfork_flag = 0;
	vfork_pid = 0;
	pid_t pid = vfork();
	if (pid == 0) {
		/* The parent stays suspended while this child sleeps. */
		struct timespec ts = { 0, 100000000 };
		nanosleep(&ts, NULL);
		vfork_pid = getpid();
		vfork_flag = 1;
		_exit(9);
	}
	if (!CHECK(pid > 0, "vfork returns the child's pid"))
		return;
	CHECK_EQ(vfork_flag, 1, "vfork: the parent resumes only after the child exits and sees its writes");
	CHECK_EQ(vfork_pid, pid, "vfork: the child has the pid returned to the parent");
	CHECK(exited_with(reap(pid), 9), "vfork: waitpid reports the child's exit status");

	/* The parent resumes when the child execs, while the new program runs. */
	int in[2];
	REQUIRE(pipe2(in, O_CLOEXEC) == 0, "pipe for the exec'd shell's stdin");
	vfork_flag = 0;
	pid = vfork();
	if (pid == 0) {
		char *argv[] = { "sh", "-c", "read x", NULL };
		char *envp[] = { NULL };
		dup2(in[0], 0);
		vfork_flag = 1;
		execve("/bin/sh", argv, envp);
		_exit(127);
	}
	REQUIRE(pid > 0, "vfork");
	CHECK_EQ(vfork_flag, 1, "vfork: the parent resumes once the child has exec'd");
	close(in[0]);
	close(in[1]); /* the shell's read sees EOF */
	CHECK(exited_with(reap(pid), 1), "vfork+execve: the shell ran and exited after the parent resumed");
}

static int clone_fn(void *arg)
{
	struct timespec ts = { 0, 100000000 };

	nanosleep(&ts, NULL);
	*(volatile int *)arg = 42;
	return 7;
}

static void test_clone(void)
{
	size_t size = 256 * 1024;
	char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	volatile int flag = 0;

	REQUIRE(stack != MAP_FAILED, "mmap a stack for clone");
	pid_t pid = clone(clone_fn, stack + size, CLONE_VM | CLONE_VFORK | SIGCHLD, (void *)&flag);
	if (CHECK(pid > 0, "clone(CLONE_VM|CLONE_VFORK|SIGCHLD)")) {
		CHECK_EQ(flag, 42, "CLONE_VFORK suspends the parent until the child exits; CLONE_VM shares its write");
		CHECK(exited_with(reap(pid), 7), "the clone child's return value is its exit status");
	}

	flag = 0;
	pid = clone(clone_fn, stack + size, CLONE_VM | SIGCHLD, (void *)&flag);
	if (CHECK(pid > 0, "clone(CLONE_VM|SIGCHLD)")) {
		CHECK(exited_with(reap(pid), 7), "the CLONE_VM child exits with its return value");
		CHECK_EQ(flag, 42, "CLONE_VM: the child's write to the parent's stack shows in the parent");
	}
	munmap(stack, size);
}

static void test_many(void)
{
	int good = 0;

	for (int i = 0; i < 200; i++) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(i & 0xff);
		if (pid < 0)
			break;
		if (exited_with(reap(pid), i & 0xff))
			good++;
	}
	CHECK_EQ(good, 200, "200 sequential fork + _exit + waitpid each report the right status");
	CHECK_ERR(waitpid(-1, NULL, WNOHANG), ECHILD, "no children are left after reaping them all");
}

int main(void)
{
	page = sysconf(_SC_PAGESIZE);
	REQUIRE(page == 4096, "page size is 4096");

	test_basic();
	test_cow();
	test_shared();
	test_fds();
	test_vfork();
	test_clone();
	test_many();
	return check_done();
}
