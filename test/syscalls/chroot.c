/*
 * chroot.c: chroot(2) (the new root for absolute paths and "..", getcwd
 * of a working directory outside it, CAP_SYS_CHROOT, ENOTDIR/ENOENT), and
 * the search permission chdir(2) and fchdir(2) need.
 */
#include "check.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static int child_chroot(void)
{
	int fails = 0;
	if (chroot("/usr") != 0)
		return 1;
	struct stat st;
	/* The old working directory (/) is outside the new root. */
	char buf[256];
	if (syscall(SYS_getcwd, buf, sizeof buf) < 0 || strncmp(buf, "(unreachable)", 13) != 0)
		fails |= 2;
	if (chdir("/") != 0 || chdir("..") != 0)
		fails |= 4;
	/* ".." at the new root stays there: "bin" is /usr/bin. */
	if (stat("bin/sh", &st) != 0 || stat("/share/common-licenses/GPL-3", &st) != 0)
		fails |= 8;
	if (getcwd(buf, sizeof buf) == NULL || strcmp(buf, "/") != 0)
		fails |= 16;
	if (stat("/usr", &st) == 0)
		fails |= 32;
	return fails;
}

static int child_nocap(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) != 0)
		return 1;
	d[0].effective &= ~(1u << CAP_SYS_CHROOT);
	if (syscall(SYS_capset, &h, d) != 0)
		return 2;
	if (chroot("/usr") != -1 || errno != EPERM)
		return 3;
	return 0;
}

static char dir[64];

static int child_nosearch(void)
{
	if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)
		return 1;
	if (chdir(dir) != -1 || errno != EACCES)
		return 2;
	return 0;
}

static int run(int (*fn)(void))
{
	pid_t p = fork();
	if (p == 0)
		_exit(fn());
	int st;
	waitpid(p, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

int main(void)
{
	CHECK_EQ(run(child_chroot), 0,
		 "chroot(\"/usr\"): absolute paths start there, \"..\" stops there, getcwd shows (unreachable) for an old cwd outside");
	CHECK_ERR(chroot("/etc/passwd"), ENOTDIR, "chroot to a file is ENOTDIR");
	CHECK_ERR(chroot("/no/such/dir"), ENOENT, "chroot to a missing path is ENOENT");
	CHECK_EQ(run(child_nocap), 0, "chroot without CAP_SYS_CHROOT is EPERM");

	snprintf(dir, sizeof dir, "/dev/shm/chroot.%d", getpid());
	REQUIRE(mkdir(dir, 0700) == 0, "make a directory only its owner (root) may search");
	CHECK_EQ(run(child_nosearch), 0, "chdir into a directory without search permission is EACCES");
	int fd = open("/etc/passwd", O_RDONLY);
	CHECK_ERR(fchdir(fd), ENOTDIR, "fchdir to a file is ENOTDIR");
	close(fd);
	rmdir(dir);
	return check_done();
}
