/*
 * identity.c checks process identity and system information calls: getpid,
 * getppid, gettid, the uid/gid family, getgroups, uname, rlimits, sysinfo,
 * getrandom, set_tid_address and an unknown syscall number.
 *
 * The sandbox runs the program as PID 1 and reports its own kernel release,
 * so only relations between values are checked, never the values.
 */
#include "check.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>

static void test_ids(void)
{
	pid_t pid = getpid();

	CHECK(pid > 0, "getpid is positive");
	CHECK_EQ(syscall(SYS_getpid), pid, "raw getpid matches getpid");
	CHECK_EQ(syscall(SYS_gettid), pid, "gettid equals getpid in a single-threaded process");
	CHECK(getppid() >= 0, "getppid is not negative");
	CHECK(getppid() != pid, "getppid differs from getpid");
	CHECK_EQ(syscall(SYS_getppid), getppid(), "raw getppid matches getppid");
	CHECK_EQ(getpgid(0), getpgrp(), "getpgid(0) equals getpgrp");
	CHECK_EQ(getpgid(pid), getpgrp(), "getpgid(getpid()) equals getpgrp");
	CHECK_EQ(getsid(0), getsid(pid), "getsid(0) equals getsid(getpid())");

	/* The binary is not set-user-ID, so real, effective and saved IDs agree. */
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	CHECK_EQ(getuid(), geteuid(), "getuid equals geteuid");
	CHECK_EQ(getgid(), getegid(), "getgid equals getegid");
	CHECK_EQ(syscall(SYS_getuid), getuid(), "raw getuid matches getuid");
	CHECK_EQ(syscall(SYS_getegid), getegid(), "raw getegid matches getegid");
	CHECK_EQ(getresuid(&ruid, &euid, &suid), 0, "getresuid");
	CHECK(ruid == getuid() && euid == geteuid() && suid == euid, "getresuid: real, effective, saved agree");
	CHECK_EQ(getresgid(&rgid, &egid, &sgid), 0, "getresgid");
	CHECK(rgid == getgid() && egid == getegid() && sgid == egid, "getresgid: real, effective, saved agree");

	int n = getgroups(0, NULL);
	if (!CHECK(n >= 0, "getgroups(0, NULL) returns a count"))
		return;
	gid_t groups[n + 1];
	CHECK_EQ(getgroups(n + 1, groups), n, "getgroups with room returns the count");
	CHECK_ERR(syscall(SYS_getgroups, -1, groups), EINVAL, "getgroups with a negative size is EINVAL");
	/* A size of 0 only queries, so "too small" needs at least two groups. */
	if (n >= 2)
		CHECK_ERR(getgroups(n - 1, groups), EINVAL, "getgroups with a too small size is EINVAL");
	else
		printf("# %d supplementary groups: too-small getgroups size not testable\n", n);
}

static void test_uname(void)
{
	struct utsname u;

	CHECK_EQ(uname(&u), 0, "uname");
	CHECK_STR(u.sysname, "Linux", "uname sysname is Linux");
	CHECK_STR(u.machine, "x86_64", "uname machine is x86_64");
	CHECK(u.release[0] != '\0', "uname release is not empty");
	CHECK(u.version[0] != '\0', "uname version is not empty");
	struct utsname raw;
	CHECK_EQ(syscall(SYS_uname, &raw), 0, "raw uname");
	CHECK(strcmp(raw.release, u.release) == 0 && strcmp(raw.nodename, u.nodename) == 0,
	      "raw uname matches libc uname");
}

static long sys_prlimit64(pid_t pid, int res, const struct rlimit *new, struct rlimit *old)
{
	return syscall(SYS_prlimit64, pid, res, new, old);
}

static void test_rlimit(void)
{
	struct rlimit orig, rl, got;

	/* glibc implements getrlimit and setrlimit with prlimit64; the raw calls cover the old syscalls. */
	REQUIRE(getrlimit(RLIMIT_NOFILE, &orig) == 0, "getrlimit RLIMIT_NOFILE");
	REQUIRE(orig.rlim_cur >= 20 && orig.rlim_max >= 20, "RLIMIT_NOFILE allows at least 20 fds");
	CHECK(orig.rlim_cur <= orig.rlim_max, "RLIMIT_NOFILE soft <= hard");
	CHECK_EQ(syscall(SYS_getrlimit, RLIMIT_NOFILE, &rl), 0, "raw getrlimit");
	CHECK(rl.rlim_cur == orig.rlim_cur && rl.rlim_max == orig.rlim_max, "raw getrlimit matches libc");

	rl = (struct rlimit){ 16, orig.rlim_max };
	CHECK_EQ(syscall(SYS_setrlimit, RLIMIT_NOFILE, &rl), 0, "raw setrlimit lowers the RLIMIT_NOFILE soft limit");
	CHECK_EQ(getrlimit(RLIMIT_NOFILE, &got), 0, "getrlimit after setrlimit");
	CHECK(got.rlim_cur == 16 && got.rlim_max == orig.rlim_max, "getrlimit reads back the lowered limit");
	CHECK_ERR(dup2(0, 16), EBADF, "dup2 to an fd at the limit is EBADF");
	CHECK_ERR(fcntl(0, F_DUPFD, 16), EINVAL, "F_DUPFD at the limit is EINVAL");

	int fds[16], nfd = 0, last = 0;
	while (nfd < 16) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd < 0) {
			last = errno;
			break;
		}
		fds[nfd++] = fd;
	}
	CHECK_EQ(last, EMFILE, "open beyond RLIMIT_NOFILE fails with EMFILE");
	while (nfd > 0)
		close(fds[--nfd]);

	struct rlimit old;
	rl = (struct rlimit){ 20, orig.rlim_max };
	CHECK_EQ(sys_prlimit64(0, RLIMIT_NOFILE, &rl, &old), 0, "prlimit64 sets and gets at once");
	CHECK_EQ(old.rlim_cur, 16, "prlimit64 returns the previous soft limit");
	CHECK_EQ(sys_prlimit64(getpid(), RLIMIT_NOFILE, NULL, &got), 0, "prlimit64 of own pid reads the limit");
	CHECK_EQ(got.rlim_cur, 20, "prlimit64 reads back the new soft limit");

	if (orig.rlim_max != RLIM_INFINITY) {
		rl = (struct rlimit){ orig.rlim_max + 1, orig.rlim_max };
		CHECK_ERR(setrlimit(RLIMIT_NOFILE, &rl), EINVAL, "setrlimit soft > hard is EINVAL");
		CHECK_ERR(sys_prlimit64(0, RLIMIT_NOFILE, &rl, NULL), EINVAL, "prlimit64 soft > hard is EINVAL");
	}
	rl = (struct rlimit){ 8, 4 };
	CHECK_ERR(setrlimit(RLIMIT_NOFILE, &rl), EINVAL, "setrlimit soft 8 > hard 4 is EINVAL");
	CHECK_ERR(syscall(SYS_setrlimit, RLIMIT_NOFILE, &rl), EINVAL, "raw setrlimit soft > hard is EINVAL");
	CHECK_ERR(getrlimit(1000, &got), EINVAL, "getrlimit of a bad resource is EINVAL");
	CHECK_ERR(sys_prlimit64(0, 1000, NULL, &got), EINVAL, "prlimit64 of a bad resource is EINVAL");
	CHECK_ERR(setrlimit(1000, &orig), EINVAL, "setrlimit of a bad resource is EINVAL");

	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &orig), 0, "setrlimit restores the original limit");
	CHECK_EQ(getrlimit(RLIMIT_NOFILE, &got), 0, "getrlimit after restoring");
	CHECK(got.rlim_cur == orig.rlim_cur && got.rlim_max == orig.rlim_max, "original limit restored");
}

static void test_sysinfo(void)
{
	struct sysinfo si;
	struct timespec boot;

	CHECK_EQ(sysinfo(&si), 0, "sysinfo");
	CHECK_EQ(clock_gettime(CLOCK_BOOTTIME, &boot), 0, "clock_gettime CLOCK_BOOTTIME");
	CHECK(si.uptime > 0, "sysinfo uptime > 0");
	CHECK(si.uptime >= boot.tv_sec - 1 && si.uptime <= boot.tv_sec + 2,
	      "sysinfo uptime agrees with CLOCK_BOOTTIME");
	CHECK(si.totalram > 0, "sysinfo totalram > 0");
	CHECK(si.freeram <= si.totalram, "sysinfo freeram <= totalram");
	CHECK(si.mem_unit >= 1, "sysinfo mem_unit >= 1");
	CHECK(si.procs >= 1, "sysinfo procs >= 1");
}

static int all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static void test_getrandom(void)
{
	unsigned char a[64], b[64];

	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	CHECK_EQ(syscall(SYS_getrandom, a, sizeof(a), 0), 64, "getrandom fills 64 bytes");
	CHECK(!all_zero(a, sizeof(a)), "getrandom bytes are not all zero");
	CHECK_EQ(syscall(SYS_getrandom, b, sizeof(b), GRND_NONBLOCK), 64, "getrandom GRND_NONBLOCK fills 64 bytes");
	CHECK(memcmp(a, b, sizeof(a)) != 0, "two getrandom calls differ");
	CHECK_EQ(syscall(SYS_getrandom, b, 0, 0), 0, "getrandom of 0 bytes returns 0");
	CHECK_ERR(syscall(SYS_getrandom, b, sizeof(b), 0x100), EINVAL, "getrandom with unknown flags is EINVAL");
}

static void test_misc(void)
{
	int tid_word = 0;

	CHECK_EQ(syscall(SYS_set_tid_address, &tid_word), getpid(), "set_tid_address returns the tid");
	CHECK_ERR(syscall(1000), ENOSYS, "an unknown syscall number is ENOSYS");
	CHECK_ERR(syscall(-1L), ENOSYS, "syscall number -1 is ENOSYS");
}

int main(void)
{
	test_ids();
	test_uname();
	test_rlimit();
	test_sysinfo();
	test_getrandom();
	test_misc();
	return check_done();
}
