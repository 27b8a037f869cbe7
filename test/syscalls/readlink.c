/*
 * readlink.c checks readlink(2)/readlinkat(2), path resolution through
 * symlinks, and getcwd(2)/chdir(2)/fchdir(2) against the man pages.
 * The host root is merged-/usr Debian: /bin and /lib64 are symlinks into
 * /usr, /etc/os-release links to ../usr/lib/os-release.
 */
#include "check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define LINK "/etc/os-release"
#define TARGET "../usr/lib/os-release"

static void test_readlink(void)
{
	char buf[256];
	size_t tlen = strlen(TARGET);

	memset(buf, 'X', sizeof(buf));
	CHECK_EQ(readlink(LINK, buf, sizeof(buf)), tlen, "readlink returns the target length");
	CHECK(memcmp(buf, TARGET, tlen) == 0, "readlink returns the target");
	CHECK_EQ(buf[tlen], 'X', "readlink does not append a NUL");

	memset(buf, 'X', sizeof(buf));
	CHECK_EQ(readlink(LINK, buf, 5), 5, "readlink into a small buffer returns the buffer size");
	CHECK(memcmp(buf, TARGET, 5) == 0, "truncated readlink returns the start of the target");
	CHECK_EQ(buf[5], 'X', "truncated readlink writes nothing past the buffer");

	CHECK_EQ(syscall(SYS_readlink, LINK, buf, sizeof(buf)), tlen, "raw readlink");
	CHECK_ERR(syscall(SYS_readlink, LINK, buf, 0), EINVAL, "readlink with bufsiz 0 is EINVAL");
	CHECK_ERR(readlink("/etc/passwd", buf, sizeof(buf)), EINVAL, "readlink of a regular file is EINVAL");
	CHECK_ERR(readlink("/usr/bin", buf, sizeof(buf)), EINVAL, "readlink of a directory is EINVAL");
	CHECK_ERR(readlink("/etc/no-such-link-palisade", buf, sizeof(buf)), ENOENT,
		  "readlink of a missing path is ENOENT");
	CHECK_ERR(readlink("/etc/passwd/x", buf, sizeof(buf)), ENOTDIR, "readlink through a file is ENOTDIR");

	/* The last component is not followed, but earlier ones are. */
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(readlink("/bin/sh", buf, sizeof(buf)), 4, "readlink through a symlinked directory");
	CHECK_STR(buf, "dash", "readlink through a symlinked directory returns the target");

	int etc = open("/etc", O_RDONLY | O_DIRECTORY);
	REQUIRE(etc >= 0, "open /etc");
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(readlinkat(etc, "os-release", buf, sizeof(buf)), tlen, "readlinkat with a dirfd");
	CHECK_STR(buf, TARGET, "readlinkat with a dirfd returns the target");
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(readlinkat(AT_FDCWD, LINK, buf, sizeof(buf)), tlen, "readlinkat AT_FDCWD");
	CHECK_STR(buf, TARGET, "readlinkat AT_FDCWD returns the target");
	CHECK_ERR(readlinkat(etc, "passwd", buf, sizeof(buf)), EINVAL, "readlinkat of a regular file is EINVAL");
	CHECK_ERR(readlinkat(9999, "os-release", buf, sizeof(buf)), EBADF, "readlinkat with a bad dirfd is EBADF");
	close(etc);

	/* readlinkat on an O_PATH|O_NOFOLLOW fd with an empty path reads the link itself. */
	int lfd = open(LINK, O_PATH | O_NOFOLLOW);
	if (CHECK(lfd >= 0, "open O_PATH|O_NOFOLLOW of a symlink")) {
		memset(buf, 0, sizeof(buf));
		CHECK_EQ(readlinkat(lfd, "", buf, sizeof(buf)), tlen, "readlinkat of an O_PATH symlink fd and \"\"");
		CHECK_STR(buf, TARGET, "readlinkat of an O_PATH symlink fd returns the target");
		close(lfd);
	}
}

static void test_resolution(void)
{
	struct stat a, b;

	int fd = open("/lib64/ld-linux-x86-64.so.2", O_RDONLY);
	CHECK(fd >= 0, "open through a symlinked directory and a symlink");
	if (fd >= 0) {
		char elf[4];
		CHECK(read(fd, elf, 4) == 4 && memcmp(elf, "\177ELF", 4) == 0, "the dynamic loader is an ELF file");
		close(fd);
	}
	CHECK(stat("/bin/sh", &a) == 0 && stat("/usr/bin/dash", &b) == 0, "stat /bin/sh and /usr/bin/dash");
	CHECK(a.st_ino == b.st_ino && a.st_dev == b.st_dev, "/bin/sh resolves to /usr/bin/dash");
	CHECK(lstat("/bin", &a) == 0 && S_ISLNK(a.st_mode), "/bin is a symlink");
	CHECK(stat("/bin/", &a) == 0 && S_ISDIR(a.st_mode), "/bin/ resolves to a directory");
	/* /bin/.. is /usr, the parent of the link's target, not / (which has no share). */
	CHECK_EQ(stat("/bin/../share/common-licenses/GPL-3", &a), 0,
		 ".. after a symlinked directory goes up from its target");
}

static int cwd_is(const char *want)
{
	char buf[4096];

	if (getcwd(buf, sizeof(buf)) == NULL) {
		printf("# getcwd failed: %s\n", check_errname(errno));
		return 0;
	}
	if (strcmp(buf, want) != 0) {
		printf("# getcwd is \"%s\", want \"%s\"\n", buf, want);
		return 0;
	}
	return 1;
}

static void test_cwd(void)
{
	char buf[4096];

	CHECK_EQ(chdir("/usr/bin"), 0, "chdir /usr/bin");
	CHECK(cwd_is("/usr/bin"), "getcwd after chdir /usr/bin");
	CHECK_EQ(syscall(SYS_getcwd, buf, sizeof(buf)), strlen("/usr/bin") + 1,
		 "raw getcwd returns the length including the NUL");
	CHECK_STR(buf, "/usr/bin", "raw getcwd fills the buffer");
	CHECK_ERR(syscall(SYS_getcwd, buf, 5), ERANGE, "raw getcwd with a short buffer is ERANGE");

	CHECK_EQ(chdir(".."), 0, "chdir ..");
	CHECK(cwd_is("/usr"), "getcwd after chdir .. is /usr");
	CHECK_EQ(chdir("share/./common-licenses/"), 0, "chdir to a relative path");
	CHECK(cwd_is("/usr/share/common-licenses"), "getcwd after a relative chdir");
	int fd = open("GPL-3", O_RDONLY);
	CHECK(fd >= 0, "open relative to the new cwd");
	close(fd);
	CHECK_EQ(chdir("/bin"), 0, "chdir through a symlink");
	CHECK(cwd_is("/usr/bin"), "getcwd after chdir /bin reports the resolved path");
	CHECK_EQ(chdir("/.."), 0, "chdir /..");
	CHECK(cwd_is("/"), "/.. is /");

	CHECK_ERR(chdir("/etc/passwd"), ENOTDIR, "chdir to a file is ENOTDIR");
	CHECK_ERR(chdir("/etc/no-such-dir-palisade"), ENOENT, "chdir to a missing path is ENOENT");
	CHECK_ERR(chdir(""), ENOENT, "chdir to an empty path is ENOENT");
	CHECK(cwd_is("/"), "failed chdir leaves the cwd");

	int dir = open("/usr/share", O_RDONLY | O_DIRECTORY);
	REQUIRE(dir >= 0, "open /usr/share");
	CHECK_EQ(fchdir(dir), 0, "fchdir to a directory fd");
	CHECK(cwd_is("/usr/share"), "getcwd after fchdir");
	close(dir);
	int file = open("/etc/passwd", O_RDONLY);
	REQUIRE(file >= 0, "open /etc/passwd");
	CHECK_ERR(fchdir(file), ENOTDIR, "fchdir to a file fd is ENOTDIR");
	close(file);
	CHECK_ERR(fchdir(9999), EBADF, "fchdir to a bad fd is EBADF");
	CHECK(cwd_is("/usr/share"), "failed fchdir leaves the cwd");
}

int main(void)
{
	test_readlink();
	test_resolution();
	test_cwd();
	return check_done();
}
