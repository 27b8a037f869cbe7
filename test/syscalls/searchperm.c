/*
 * searchperm.c: search (execute) permission on the directories a path walk
 * passes through (path_resolution(7)). Every directory whose entries are
 * looked up, including the start (cwd or dirfd) and directories reached
 * through symlinks, must grant search to the caller's filesystem user and
 * groups, or the call fails with EACCES; read permission is not needed to
 * look up a known name. CAP_DAC_OVERRIDE or CAP_DAC_READ_SEARCH grant
 * search on any directory; root without them is an ordinary owner.
 */
#include "check.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static char top[64];
static int closedfd = -1;

static int have_cap(int cap)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) != 0)
		return 0;
	return (d[cap / 32].effective >> (cap % 32)) & 1;
}

/* drop_caps removes caps (a mask of the first 32) from the effective set. */
static int drop_caps(unsigned mask)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) != 0)
		return -1;
	d[0].effective &= ~mask;
	return syscall(SYS_capset, &h, d);
}

/* run runs fn in a child and returns its exit status (its failed checks). */
static int run(int (*fn)(void))
{
	pid_t p = fork();
	if (p == 0)
		_exit(fn());
	int st;
	if (waitpid(p, &st, 0) != p)
		return 200;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static int become_nobody(gid_t gid, gid_t supplementary)
{
	gid_t groups[1] = {supplementary};
	if (setgroups(supplementary ? 1 : 0, groups) != 0)
		return -1;
	if (setresgid(gid, gid, gid) != 0 || setresuid(65534, 65534, 65534) != 0)
		return -1;
	return 0;
}

/* as_nobody: uid 65534 with no capabilities. */
static int as_nobody(void)
{
	REQUIRE(become_nobody(65534, 0) == 0, "become uid 65534");
	REQUIRE(chdir(top) == 0, "chdir to the scratch directory");
	struct stat st;
	char buf[8] = {0};

	/* closed/ is root's, mode 0700. */
	CHECK_ERR(open("closed/f", O_RDONLY), EACCES, "open through a directory without search permission is EACCES");
	CHECK_ERR(stat("closed/f", &st), EACCES, "stat through it is EACCES");
	CHECK_ERR(lstat("closed/l", &st), EACCES, "lstat of a symlink in it is EACCES");
	CHECK_ERR(stat("closed/d/g", &st), EACCES, "stat two levels below it is EACCES");
	CHECK_ERR(stat("closed/missing", &st), EACCES, "a missing name in it is EACCES, not ENOENT");
	CHECK_ERR(stat("closed/.", &st), EACCES, "\".\" in it needs search permission");
	CHECK_ERR(stat("closed/..", &st), EACCES, "\"..\" in it needs search permission");
	CHECK_OK(stat("closed", &st), "stat of the directory itself needs no search permission on it");
	CHECK_OK(stat("closed/", &st), "nor with a trailing slash");
	CHECK_ERR(readlink("closed/l", buf, sizeof buf), EACCES, "readlink in it is EACCES");
	CHECK_ERR(access("closed/f", F_OK), EACCES, "access(F_OK) through it is EACCES");
	CHECK_ERR(open("closed/new", O_WRONLY | O_CREAT, 0644), EACCES, "open(O_CREAT) in it is EACCES");
	CHECK_ERR(mkdir("closed/d/new", 0755), EACCES, "mkdir below it is EACCES");
	CHECK_ERR(unlink("closed/d/g"), EACCES, "unlink below it is EACCES");
	CHECK_ERR(rmdir("closed/d/e"), EACCES, "rmdir below it is EACCES");
	CHECK_ERR(rename("closed/d/g", "open/g"), EACCES, "rename out of it is EACCES");
	CHECK_ERR(chdir("closed/d"), EACCES, "chdir below it is EACCES");
	CHECK_ERR(openat(closedfd, "f", O_RDONLY), EACCES, "openat relative to a dirfd without search permission is EACCES");
	CHECK_ERR(fstatat(closedfd, "f", &st, 0), EACCES, "fstatat relative to it is EACCES");
	CHECK_OK(fstatat(closedfd, "", &st, AT_EMPTY_PATH), "fstatat(AT_EMPTY_PATH) of the dirfd itself looks nothing up");
	CHECK_ERR(stat("tof", &st), EACCES, "a symlink whose target passes through it is EACCES");
	CHECK_OK(lstat("tof", &st), "the symlink itself is reachable");
	CHECK_ERR(stat("/proc/self/cwd/closed/f", &st), EACCES, "so is a walk that reaches it through a magic link");

	/* xonly/ is mode 0711: search but no read for others. */
	int fd = CHECK_OK(open("xonly/f", O_RDONLY), "search without read permission opens a known name");
	CHECK_EQ(read(fd, buf, sizeof buf - 1), 2, "and reads it");
	CHECK_STR(buf, "hi", "its contents");
	close(fd);
	CHECK_OK(stat("xonly/d/g", &st), "and walks on below it");
	CHECK_ERR(open("xonly", O_RDONLY | O_DIRECTORY), EACCES, "listing it needs read permission");

	/* wnox/ is mode 0666: writable but not searchable. */
	CHECK_ERR(open("wnox/new", O_WRONLY | O_CREAT, 0644), EACCES, "creating in a writable directory without search permission is EACCES");
	CHECK_ERR(mkdir("wnox/new", 0755), EACCES, "mkdir of a new name in it is EACCES");
	CHECK_ERR(unlink("wnox/f"), EACCES, "unlink in it is EACCES");
	CHECK_ERR(mkdir("wnox/f", 0755), EACCES, "mkdir of an existing name in it is EACCES, not EEXIST");
	CHECK_ERR(symlink("x", "wnox/f"), EACCES, "symlink over an existing name in it is EACCES, not EEXIST");
	CHECK_ERR(unlink("wnox/missing"), EACCES, "unlink of a missing name in it is EACCES, not ENOENT");
	CHECK_ERR(rmdir("wnox/missing"), EACCES, "rmdir of a missing name in it is EACCES, not ENOENT");
	CHECK_ERR(rename("wnox/missing", "open/m"), EACCES, "rename of a missing name out of it is EACCES, not ENOENT");

	/* grp/ is root:65534 mode 0701: the group class has no search even
	 * though others do. grpx/ is root:65534 mode 0710. */
	CHECK_ERR(stat("grp/f", &st), EACCES, "a member of the directory's group gets the group bits, not the other bits");
	CHECK_OK(stat("grpx/f", &st), "group search permission lets a group member through");

	/* access(2) with the real IDs: other bits for a non-member. */
	CHECK_OK(access("open/r604", R_OK), "access(R_OK) of a root:root 0604 file: the other bits apply");
	CHECK_OK(faccessat(AT_FDCWD, "open/r604", R_OK, AT_EACCESS), "so with AT_EACCESS");
	CHECK_ERR(access("open/r640", R_OK), EACCES, "access(R_OK) of a root:root 0640 file is EACCES");

	/* The open directory, a control: nobody may create there. */
	fd = CHECK_OK(open("open/mine", O_WRONLY | O_CREAT, 0644), "a directory everyone may search and write");
	close(fd);
	CHECK_OK(unlink("open/mine"), "unlink there");
	return check_done();
}

/* as_nobody_supplementary: gid 100, with 65534 as a supplementary group. */
static int as_nobody_supplementary(void)
{
	REQUIRE(become_nobody(100, 65534) == 0, "become uid 65534 with supplementary group 65534");
	struct stat st;
	char p[128];
	snprintf(p, sizeof p, "%s/grpx/f", top);
	CHECK_OK(stat(p, &st), "a supplementary group gets the group bits: search");
	snprintf(p, sizeof p, "%s/grp/f", top);
	CHECK_ERR(stat(p, &st), EACCES, "a supplementary group gets the group bits: no search");
	return check_done();
}

/* as_split_ids: real uid 65534, effective uid 0 (keeping the
 * capabilities). access(2) walks and checks with the real IDs and, for a
 * real user other than root, no capabilities; other calls use the
 * effective (filesystem) IDs. */
static int as_split_ids(void)
{
	REQUIRE(setresuid(65534, 0, 0) == 0, "setresuid(65534, 0, 0)");
	REQUIRE(chdir(top) == 0, "chdir to the scratch directory");
	struct stat st;
	CHECK_ERR(access("owner600/f", F_OK), EACCES, "access(F_OK) walks with the real user, without capabilities");
	CHECK_ERR(access("closed/f", F_OK), EACCES, "access(F_OK) through root's 0700 directory as the real user is EACCES");
	CHECK_OK(faccessat(AT_FDCWD, "closed/f", F_OK, AT_EACCESS), "faccessat(AT_EACCESS) walks with the effective user (the owner)");
	CHECK_OK(stat("closed/f", &st), "stat walks with the effective user");
	if (have_cap(CAP_DAC_OVERRIDE))
		CHECK_OK(stat("owner600/f", &st), "and its capabilities");
	return check_done();
}

/* as_root_without_dac: root that dropped CAP_DAC_OVERRIDE and
 * CAP_DAC_READ_SEARCH is an ordinary owner. */
static int as_root_without_dac(void)
{
	REQUIRE(drop_caps(1u << CAP_DAC_OVERRIDE | 1u << CAP_DAC_READ_SEARCH) == 0, "capset without the DAC capabilities");
	REQUIRE(chdir(top) == 0, "chdir to the scratch directory");
	struct stat st;
	CHECK_OK(stat("closed/f", &st), "the owner (root) searches its 0700 directory");
	CHECK_ERR(stat("owner600/f", &st), EACCES, "root without DAC capabilities can't search its own 0600 directory");
	CHECK_ERR(open("owner600/f", O_RDONLY), EACCES, "nor open through it");
	CHECK_ERR(stat("other/f", &st), EACCES, "nor search another user's 0700 directory");
	return check_done();
}

/* as_root_read_search: root without CAP_DAC_OVERRIDE, with or without
 * CAP_DAC_READ_SEARCH (Docker's default set lacks it). */
static int as_root_read_search(void)
{
	REQUIRE(drop_caps(1u << CAP_DAC_OVERRIDE) == 0, "capset without CAP_DAC_OVERRIDE");
	REQUIRE(chdir(top) == 0, "chdir to the scratch directory");
	struct stat st;
	if (have_cap(CAP_DAC_READ_SEARCH)) {
		CHECK_OK(stat("owner600/f", &st), "CAP_DAC_READ_SEARCH grants search on any directory");
		CHECK_OK(stat("other/f", &st), "including another user's");
	} else {
		CHECK_ERR(stat("owner600/f", &st), EACCES, "without CAP_DAC_READ_SEARCH nor CAP_DAC_OVERRIDE: EACCES");
	}
	return check_done();
}

static void put(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	REQUIRE(fd >= 0, path);
	REQUIRE(write(fd, text, strlen(text)) == (ssize_t)strlen(text), "write");
	close(fd);
}

int main(void)
{
	umask(0);
	snprintf(top, sizeof top, "/var/tmp/searchperm.XXXXXX");
	REQUIRE(mkdtemp(top) != NULL, "make a scratch directory under /var/tmp");
	REQUIRE(chmod(top, 0755) == 0 && chdir(top) == 0, "enter it");

	const char *dirs[] = {"closed", "closed/d", "closed/d/e", "xonly", "xonly/d", "wnox", "grp", "grpx",
			      "open", "owner600", "other"};
	for (unsigned i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
		REQUIRE(mkdir(dirs[i], 0755) == 0, dirs[i]);
	put("closed/f", "hi", 0644);
	put("closed/d/g", "hi", 0666);
	put("xonly/f", "hi", 0644);
	put("xonly/d/g", "hi", 0644);
	put("wnox/f", "hi", 0666);
	put("grp/f", "hi", 0644);
	put("grpx/f", "hi", 0644);
	put("owner600/f", "hi", 0644);
	put("other/f", "hi", 0644);
	put("open/r604", "hi", 0604);
	put("open/r640", "hi", 0640);
	REQUIRE(symlink("f", "closed/l") == 0, "symlink closed/l");
	REQUIRE(symlink("closed/f", "tof") == 0, "symlink tof");
	REQUIRE(chown("grp", 0, 65534) == 0 && chown("grpx", 0, 65534) == 0, "chown the group directories");
	REQUIRE(chown("other", 65534, 65534) == 0, "chown other");
	REQUIRE(chmod("closed/d", 0777) == 0 && chmod("open", 0777) == 0, "chmod");
	closedfd = open("closed", O_RDONLY | O_DIRECTORY);
	REQUIRE(closedfd >= 0, "open closed/ as root");
	REQUIRE(chmod("closed", 0700) == 0 && chmod("xonly", 0711) == 0 && chmod("wnox", 0666) == 0 &&
			chmod("grp", 0701) == 0 && chmod("grpx", 0710) == 0 && chmod("owner600", 0600) == 0 &&
			chmod("other", 0700) == 0,
		"set the directories' modes");

	CHECK_EQ(run(as_nobody), 0, "as uid 65534: every check above passed");
	CHECK_EQ(run(as_nobody_supplementary), 0, "with a supplementary group: every check above passed");
	CHECK_EQ(run(as_split_ids), 0, "with real uid 65534 and effective uid 0: every check above passed");
	CHECK_EQ(run(as_root_without_dac), 0, "as root without DAC capabilities: every check above passed");
	CHECK_EQ(run(as_root_read_search), 0, "as root without CAP_DAC_OVERRIDE: every check above passed");

	/* Root with its capabilities searches everything. */
	struct stat st;
	if (have_cap(CAP_DAC_OVERRIDE)) {
		CHECK_OK(stat("owner600/f", &st), "root with CAP_DAC_OVERRIDE searches a 0600 directory");
		CHECK_OK(stat("other/f", &st), "and another user's 0700 directory");
		CHECK_OK(stat("wnox/f", &st), "and a 0666 directory");
		int fd = CHECK_OK(openat(closedfd, "f", O_RDONLY), "and opens relative to a dirfd");
		close(fd);
	}

	/* Clean up (as root). */
	chmod("closed", 0755);
	chmod("wnox", 0755);
	const char *files[] = {"closed/f", "closed/l", "closed/d/g", "xonly/f", "xonly/d/g", "wnox/f", "grp/f",
			       "grpx/f", "owner600/f", "other/f", "tof", "open/r604", "open/r640"};
	for (unsigned i = 0; i < sizeof files / sizeof files[0]; i++)
		unlink(files[i]);
	for (int i = sizeof dirs / sizeof dirs[0] - 1; i >= 0; i--)
		rmdir(dirs[i]);
	close(closedfd);
	REQUIRE(chdir("/") == 0 && rmdir(top) == 0, "remove the scratch directory");
	return check_done();
}
