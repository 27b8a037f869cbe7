/*
 * openat2.c: openat2(2): struct open_how and its size (EINVAL below
 * OPEN_HOW_SIZE_VER0, E2BIG above a page or for a non-zero tail), the
 * strict checks of flags, mode and resolve (EINVAL), and the RESOLVE_*
 * flags: RESOLVE_NO_XDEV (EXDEV on crossing a mount, by name, "..",
 * absolute symlink or magic link), RESOLVE_NO_MAGICLINKS and
 * RESOLVE_NO_SYMLINKS (ELOOP, except for a final link opened with
 * O_PATH|O_NOFOLLOW), RESOLVE_BENEATH (EXDEV for absolute paths and
 * symlinks and for ".." out of dirfd), RESOLVE_IN_ROOT (dirfd is the root)
 * and RESOLVE_CACHED (EAGAIN when the open can't be done from the cache).
 */
#include "check.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

static long openat2_(int dirfd, const char *path, const void *how, size_t size)
{
	return syscall(SYS_openat2, dirfd, path, how, size);
}

/* o2 opens with flags and resolve (mode 0). */
static long o2(int dirfd, const char *path, uint64_t flags, uint64_t resolve)
{
	struct open_how how = {.flags = flags, .resolve = resolve};
	return openat2_(dirfd, path, &how, sizeof how);
}

/* same reports whether fd is the file at path (dirfd-relative, lstat). */
static int same(long fd, int dirfd, const char *path)
{
	struct stat a, b;
	if (fd < 0 || fstat(fd, &a) != 0 || fstatat(dirfd, path, &b, AT_SYMLINK_NOFOLLOW) != 0)
		return 0;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* opens_as checks that o2(...) opens the file at want (relative to wdir). */
#define OPENS_AS(call, wdir, want, what)                                      \
	({                                                                    \
		errno = 0;                                                    \
		long fd_ = (call);                                            \
		int e_ = errno;                                               \
		check_words(same(fd_, (wdir), (want)), (what),                \
			    fd_ < 0 ? "an error" : "another file",            \
			    "the file " want, e_);                            \
		if (fd_ >= 0)                                                 \
			close(fd_);                                           \
	})

static char top[64];

static void put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	REQUIRE(fd >= 0, path);
	REQUIRE(write(fd, text, strlen(text)) == (ssize_t)strlen(text), "write");
	close(fd);
}

static void struct_checks(int d)
{
	static char big[8192];
	struct open_how *how = (struct open_how *)big;
	how->flags = O_RDONLY;
	long fd;

	CHECK_ERR(openat2_(d, "f", how, 0), EINVAL, "size 0 is EINVAL");
	CHECK_ERR(openat2_(d, "f", how, 23), EINVAL, "a size below OPEN_HOW_SIZE_VER0 (24) is EINVAL");
	fd = CHECK_OK(openat2_(d, "f", how, 24), "size 24 (OPEN_HOW_SIZE_VER0)");
	close(fd);
	fd = CHECK_OK(openat2_(d, "f", how, 64), "a larger size whose tail is zero is accepted");
	close(fd);
	fd = CHECK_OK(openat2_(d, "f", how, 4096), "up to a page");
	close(fd);
	CHECK_ERR(openat2_(d, "f", how, 4097), E2BIG, "a size above a page is E2BIG");
	big[63] = 1;
	CHECK_ERR(openat2_(d, "f", how, 64), E2BIG, "a non-zero byte past the known fields is E2BIG");
	fd = CHECK_OK(openat2_(d, "f", how, 24), "but not if the size leaves it out");
	close(fd);
	big[63] = 0;
	CHECK_ERR(openat2_(d, "f", NULL, 24), EFAULT, "an unreadable open_how is EFAULT");

	struct open_how h;
	memset(&h, 0, sizeof h);
	h.flags = 1ULL << 32;
	CHECK_ERR(openat2_(d, "f", &h, sizeof h), EINVAL, "a flag above 32 bits is EINVAL");
	h.flags = 0x80000000;
	CHECK_ERR(openat2_(d, "f", &h, sizeof h), EINVAL, "an unknown flag is EINVAL (openat ignores it)");
	fd = CHECK_OK(openat(d, "f", 0x80000000), "openat ignores that flag");
	close(fd);
	h.flags = O_RDONLY;
	h.resolve = 0x40;
	CHECK_ERR(openat2_(d, "f", &h, sizeof h), EINVAL, "an unknown resolve flag is EINVAL");
	h.resolve = 1ULL << 63;
	CHECK_ERR(openat2_(d, "f", &h, sizeof h), EINVAL, "a high unknown resolve flag is EINVAL");
	h.resolve = RESOLVE_BENEATH | RESOLVE_IN_ROOT;
	CHECK_ERR(openat2_(d, "f", &h, sizeof h), EINVAL, "RESOLVE_BENEATH with RESOLVE_IN_ROOT is EINVAL");
	h.resolve = 0;
	h.mode = 0644;
	CHECK_ERR(openat2_(d, "f", &h, sizeof h), EINVAL, "a mode without O_CREAT or O_TMPFILE is EINVAL");
	h.flags = O_WRONLY | O_CREAT;
	h.mode = 010644;
	CHECK_ERR(openat2_(d, "created", &h, sizeof h), EINVAL, "a mode beyond 07777 is EINVAL");
	h.mode = 0640;
	fd = CHECK_OK(openat2_(d, "created", &h, sizeof h), "O_CREAT with a mode creates the file");
	struct stat st;
	CHECK(fd >= 0 && fstat(fd, &st) == 0 && st.st_mode == (S_IFREG | 0640), "with that mode");
	close(fd);
	h.flags = O_WRONLY | O_CREAT | O_EXCL;
	CHECK_ERR(openat2_(d, "created", &h, sizeof h), EEXIST, "O_CREAT|O_EXCL of an existing file is EEXIST");
	CHECK_ERR(o2(d, "f", O_PATH | O_RDWR, 0), EINVAL, "O_PATH with an access mode is EINVAL");
	CHECK_ERR(o2(d, "f", O_PATH | O_APPEND, 0), EINVAL, "O_PATH with O_APPEND is EINVAL");
	fd = CHECK_OK(openat(d, "f", O_PATH | O_RDWR), "which openat accepts");
	close(fd);
	fd = CHECK_OK(o2(d, "sub", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0),
		      "O_PATH with O_DIRECTORY, O_NOFOLLOW and O_CLOEXEC");
	CHECK_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC, "O_CLOEXEC sets FD_CLOEXEC");
	close(fd);
	CHECK_ERR(o2(d, ".", O_TMPFILE | O_RDONLY, 0), EINVAL, "a read-only O_TMPFILE is EINVAL");
	CHECK_ERR(o2(d, "", O_RDONLY, 0), ENOENT, "an empty path is ENOENT");
	CHECK_ERR(o2(d, "f", O_RDONLY | O_CREAT, RESOLVE_CACHED), EAGAIN, "RESOLVE_CACHED with O_CREAT is EAGAIN");
	CHECK_ERR(o2(d, "f", O_WRONLY | O_TRUNC, RESOLVE_CACHED), EAGAIN, "RESOLVE_CACHED with O_TRUNC is EAGAIN");
	errno = 0;
	fd = o2(d, "f", O_RDONLY, RESOLVE_CACHED);
	int cached_err = errno;
	CHECK(fd >= 0 ? same(fd, d, "f") : cached_err == EAGAIN,
	      "RESOLVE_CACHED opens the file or, if the cache can't, fails with EAGAIN");
	if (fd >= 0)
		close(fd);

	char buf[8] = {0};
	fd = CHECK_OK(o2(d, "f", O_RDONLY, 0), "a plain openat2");
	CHECK_EQ(read(fd, buf, sizeof buf - 1), 5, "reads");
	CHECK_STR(buf, "hello", "the file's contents");
	close(fd);
}

static void symlink_checks(int d)
{
	long fd;
	struct stat st;
	OPENS_AS(o2(d, "rel", O_RDONLY, 0), d, "sub/g", "a symlink is followed without flags");
	CHECK_ERR(o2(d, "rel", O_RDONLY, RESOLVE_NO_SYMLINKS), ELOOP, "RESOLVE_NO_SYMLINKS: a final symlink is ELOOP");
	CHECK_ERR(o2(d, "sl/g", O_RDONLY, RESOLVE_NO_SYMLINKS), ELOOP, "RESOLVE_NO_SYMLINKS: a symlink in the middle is ELOOP");
	CHECK_ERR(o2(d, "sl/", O_RDONLY, RESOLVE_NO_SYMLINKS), ELOOP, "RESOLVE_NO_SYMLINKS: a trailing slash follows, so ELOOP");
	CHECK_ERR(o2(d, "rel", O_RDONLY | O_NOFOLLOW, RESOLVE_NO_SYMLINKS), ELOOP,
		  "RESOLVE_NO_SYMLINKS with O_NOFOLLOW but not O_PATH is ELOOP");
	fd = CHECK_OK(o2(d, "rel", O_PATH | O_NOFOLLOW, RESOLVE_NO_SYMLINKS),
		      "RESOLVE_NO_SYMLINKS with O_PATH|O_NOFOLLOW opens the final symlink itself");
	CHECK(fd >= 0 && fstatat(fd, "", &st, AT_EMPTY_PATH) == 0 && S_ISLNK(st.st_mode), "an O_PATH descriptor of the symlink");
	if (fd >= 0)
		close(fd);
	OPENS_AS(o2(d, "sub/g", O_RDONLY, RESOLVE_NO_SYMLINKS), d, "sub/g", "RESOLVE_NO_SYMLINKS without symlinks opens");
	CHECK_ERR(o2(d, "dangling", O_WRONLY | O_CREAT, RESOLVE_NO_SYMLINKS), ELOOP,
		  "RESOLVE_NO_SYMLINKS: O_CREAT through a dangling symlink is ELOOP");
	CHECK_ERR(access("made", F_OK), ENOENT, "and creates nothing");
	OPENS_AS(o2(d, "sl/g", O_RDONLY, RESOLVE_NO_MAGICLINKS), d, "sub/g", "RESOLVE_NO_MAGICLINKS follows ordinary symlinks");
}

static void magic_checks(int d)
{
	char p[64];
	int f = open("f", O_RDONLY);
	int fddir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY);
	REQUIRE(f >= 0 && fddir >= 0, "open f and /proc/self/fd");
	snprintf(p, sizeof p, "/proc/self/fd/%d", f);
	OPENS_AS(o2(AT_FDCWD, p, O_RDONLY, 0), d, "f", "a magic link is followed without flags");
	CHECK_ERR(o2(AT_FDCWD, p, O_RDONLY, RESOLVE_NO_MAGICLINKS), ELOOP, "RESOLVE_NO_MAGICLINKS: a magic link is ELOOP");
	long fd = CHECK_OK(o2(AT_FDCWD, p, O_PATH | O_NOFOLLOW, RESOLVE_NO_MAGICLINKS),
			   "RESOLVE_NO_MAGICLINKS with O_PATH|O_NOFOLLOW opens the final magic link itself");
	struct stat st;
	CHECK(fd >= 0 && fstatat(fd, "", &st, AT_EMPTY_PATH) == 0 && S_ISLNK(st.st_mode), "an O_PATH descriptor of the link");
	if (fd >= 0)
		close(fd);
	fd = CHECK_OK(o2(AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY, RESOLVE_NO_MAGICLINKS),
		      "RESOLVE_NO_MAGICLINKS: /proc/self is an ordinary symlink");
	close(fd);
	snprintf(p, sizeof p, "/proc/self/fd/%d/f", d);
	CHECK_ERR(o2(AT_FDCWD, p, O_RDONLY, RESOLVE_NO_MAGICLINKS), ELOOP, "RESOLVE_NO_MAGICLINKS: a magic link in the middle is ELOOP");
	OPENS_AS(o2(AT_FDCWD, p, O_RDONLY, 0), d, "f", "which is followed without flags");
	snprintf(p, sizeof p, "%d", f);
	CHECK_ERR(o2(fddir, p, O_RDONLY, RESOLVE_NO_SYMLINKS), ELOOP, "RESOLVE_NO_SYMLINKS: a magic link is ELOOP");
	CHECK_ERR(o2(fddir, p, O_RDONLY, RESOLVE_BENEATH), EXDEV, "RESOLVE_BENEATH: following a magic link is EXDEV");
	CHECK_ERR(o2(fddir, p, O_RDONLY, RESOLVE_IN_ROOT), EXDEV, "RESOLVE_IN_ROOT: following a magic link is EXDEV");
	CHECK_ERR(o2(fddir, p, O_RDONLY, RESOLVE_NO_XDEV), EXDEV, "RESOLVE_NO_XDEV: a magic link to another mount is EXDEV");
	snprintf(p, sizeof p, "%d", fddir);
	fd = CHECK_OK(o2(fddir, p, O_RDONLY | O_DIRECTORY, RESOLVE_NO_XDEV), "RESOLVE_NO_XDEV: a magic link on the same mount is followed");
	close(fd);
	close(fddir);
	close(f);
}

static void xdev_checks(int d)
{
	int root = open("/", O_PATH | O_DIRECTORY);
	int proc = open("/proc", O_PATH | O_DIRECTORY);
	int dev = open("/dev", O_PATH | O_DIRECTORY);
	REQUIRE(root >= 0 && proc >= 0 && dev >= 0, "open /, /proc and /dev");
	long fd;
	CHECK_ERR(o2(AT_FDCWD, "/proc/self/fd", O_RDONLY, RESOLVE_NO_XDEV), EXDEV, "RESOLVE_NO_XDEV: /proc/self/fd crosses into /proc");
	CHECK_ERR(o2(root, "proc", O_RDONLY | O_DIRECTORY, RESOLVE_NO_XDEV), EXDEV, "RESOLVE_NO_XDEV: \"proc\" from / is EXDEV");
	fd = CHECK_OK(o2(root, "proc", O_RDONLY | O_DIRECTORY, 0), "which opens without the flag");
	close(fd);
	CHECK_ERR(o2(proc, "..", O_RDONLY | O_DIRECTORY, RESOLVE_NO_XDEV), EXDEV, "RESOLVE_NO_XDEV: \"..\" out of /proc is EXDEV");
	OPENS_AS(o2(proc, "..", O_RDONLY | O_DIRECTORY, 0), AT_FDCWD, "/", "\"..\" from /proc without the flag");
	CHECK_ERR(o2(dev, "fd", O_PATH, RESOLVE_NO_XDEV), EXDEV, "RESOLVE_NO_XDEV: an absolute symlink from /dev to / is EXDEV");
	fd = CHECK_OK(o2(dev, "fd", O_PATH, 0), "which is followed without the flag");
	close(fd);
	OPENS_AS(o2(proc, "/", O_RDONLY | O_DIRECTORY, RESOLVE_NO_XDEV), AT_FDCWD, "/",
		 "RESOLVE_NO_XDEV: an absolute path may start on another mount than dirfd");
	OPENS_AS(o2(d, "sub/../sub/g", O_RDONLY, RESOLVE_NO_XDEV), d, "sub/g", "RESOLVE_NO_XDEV within one mount");
	OPENS_AS(o2(d, "sl/g", O_RDONLY, RESOLVE_NO_XDEV), d, "sub/g", "RESOLVE_NO_XDEV through a symlink within one mount");
	close(dev);
	close(proc);
	close(root);
}

static void beneath_checks(int d)
{
	OPENS_AS(o2(d, "f", O_RDONLY, RESOLVE_BENEATH), d, "f", "RESOLVE_BENEATH: a name under dirfd");
	OPENS_AS(o2(d, "sub/../sub/g", O_RDONLY, RESOLVE_BENEATH), d, "sub/g", "RESOLVE_BENEATH: \"..\" that stays under dirfd");
	OPENS_AS(o2(d, "sub/dotdot", O_RDONLY, RESOLVE_BENEATH), d, "f", "RESOLVE_BENEATH: a relative symlink that stays under");
	OPENS_AS(o2(d, "rel", O_RDONLY, RESOLVE_BENEATH), d, "sub/g", "RESOLVE_BENEATH: a relative symlink");
	CHECK_ERR(o2(d, "..", O_RDONLY, RESOLVE_BENEATH), EXDEV, "RESOLVE_BENEATH: \"..\" of dirfd is EXDEV");
	CHECK_ERR(o2(d, "../d/f", O_RDONLY, RESOLVE_BENEATH), EXDEV, "RESOLVE_BENEATH: even if it comes back");
	CHECK_ERR(o2(d, "sub/../../d/f", O_RDONLY, RESOLVE_BENEATH), EXDEV, "RESOLVE_BENEATH: \"..\" out from deeper");
	CHECK_ERR(o2(d, "/etc/passwd", O_RDONLY, RESOLVE_BENEATH), EXDEV, "RESOLVE_BENEATH: an absolute path is EXDEV");
	CHECK_ERR(o2(d, "abs", O_RDONLY, RESOLVE_BENEATH), EXDEV, "RESOLVE_BENEATH: an absolute symlink is EXDEV");
	CHECK_ERR(o2(d, "up", O_RDONLY, RESOLVE_BENEATH), EXDEV, "RESOLVE_BENEATH: a symlink out of dirfd is EXDEV");
	CHECK_ERR(o2(d, "../escaped", O_WRONLY | O_CREAT, RESOLVE_BENEATH), EXDEV, "RESOLVE_BENEATH: O_CREAT out of dirfd is EXDEV");
	CHECK_ERR(access("../escaped", F_OK), ENOENT, "and creates nothing");
	CHECK_ERR(o2(d, "absdangling", O_WRONLY | O_CREAT, RESOLVE_BENEATH), EXDEV,
		  "RESOLVE_BENEATH: O_CREAT through an absolute dangling symlink is EXDEV");
	REQUIRE(chdir("sub") == 0, "chdir sub");
	OPENS_AS(o2(AT_FDCWD, "g", O_RDONLY, RESOLVE_BENEATH), d, "sub/g", "RESOLVE_BENEATH with AT_FDCWD: under the cwd");
	CHECK_ERR(o2(AT_FDCWD, "../f", O_RDONLY, RESOLVE_BENEATH), EXDEV, "RESOLVE_BENEATH with AT_FDCWD: \"..\" of the cwd is EXDEV");
	REQUIRE(chdir("..") == 0, "chdir ..");
}

static void in_root_checks(int d)
{
	OPENS_AS(o2(d, "/f", O_RDONLY, RESOLVE_IN_ROOT), d, "f", "RESOLVE_IN_ROOT: an absolute path starts at dirfd");
	OPENS_AS(o2(d, "/", O_RDONLY | O_DIRECTORY, RESOLVE_IN_ROOT), d, ".", "RESOLVE_IN_ROOT: \"/\" is dirfd");
	OPENS_AS(o2(d, "..", O_RDONLY | O_DIRECTORY, RESOLVE_IN_ROOT), d, ".", "RESOLVE_IN_ROOT: \"..\" of dirfd is dirfd");
	OPENS_AS(o2(d, "sub/../../../f", O_RDONLY, RESOLVE_IN_ROOT), d, "f", "RESOLVE_IN_ROOT: \"..\" stops at dirfd");
	OPENS_AS(o2(d, "abs", O_RDONLY, RESOLVE_IN_ROOT), d, "sub/g", "RESOLVE_IN_ROOT: an absolute symlink starts at dirfd");
	CHECK_ERR(o2(d, "up", O_RDONLY, RESOLVE_IN_ROOT), ENOENT,
		  "RESOLVE_IN_ROOT: a symlink to ../d/f stops at dirfd, where there is no d");
	CHECK_ERR(o2(d, "/etc/passwd", O_RDONLY, RESOLVE_IN_ROOT), ENOENT, "RESOLVE_IN_ROOT: the real root is out of reach");
	CHECK_ERR(o2(d, "absdangling", O_WRONLY | O_CREAT | O_EXCL, RESOLVE_IN_ROOT), EEXIST,
		  "RESOLVE_IN_ROOT: O_CREAT|O_EXCL of a dangling symlink is EEXIST (not followed)");
	long fd;
	struct open_how h = {.flags = O_WRONLY | O_CREAT, .mode = 0600, .resolve = RESOLVE_IN_ROOT};
	fd = CHECK_OK(openat2_(d, "absdangling", &h, sizeof h), "RESOLVE_IN_ROOT: O_CREAT through an absolute dangling symlink");
	if (fd >= 0)
		close(fd);
	CHECK_OK(access("made", F_OK), "creates the file under dirfd");
	CHECK_ERR(access("/made", F_OK), ENOENT, "not at the real root");
	fd = CHECK_OK(o2(d, "/new-in-root", O_WRONLY | O_CREAT, RESOLVE_IN_ROOT), "RESOLVE_IN_ROOT: O_CREAT of an absolute path");
	if (fd >= 0)
		close(fd);
	CHECK_OK(access("new-in-root", F_OK), "creates it under dirfd");
}

int main(void)
{
	umask(0);
	snprintf(top, sizeof top, "/var/tmp/openat2.XXXXXX");
	REQUIRE(mkdtemp(top) != NULL, "make a scratch directory under /var/tmp");
	REQUIRE(chdir(top) == 0 && mkdir("d", 0755) == 0 && chdir("d") == 0, "make and enter d");
	REQUIRE(mkdir("sub", 0755) == 0, "mkdir sub");
	put("f", "hello");
	put("sub/g", "world");
	REQUIRE(symlink("sub/g", "rel") == 0 && symlink("sub", "sl") == 0 && symlink("/sub/g", "abs") == 0 &&
			symlink("../d/f", "up") == 0 && symlink("../f", "sub/dotdot") == 0 &&
			symlink("made", "dangling") == 0 && symlink("/made", "absdangling") == 0,
		"make the symlinks");
	int d = open(".", O_RDONLY | O_DIRECTORY);
	REQUIRE(d >= 0, "open d");

	struct_checks(d);
	symlink_checks(d);
	magic_checks(d);
	xdev_checks(d);
	beneath_checks(d);
	in_root_checks(d);

	const char *files[] = {"f", "sub/g", "rel", "sl", "abs", "up", "sub/dotdot", "dangling", "absdangling",
			       "made", "created", "new-in-root"};
	for (unsigned i = 0; i < sizeof files / sizeof files[0]; i++)
		unlink(files[i]);
	rmdir("sub");
	close(d);
	REQUIRE(chdir(top) == 0 && rmdir("d") == 0 && chdir("/") == 0 && rmdir(top) == 0, "remove the scratch directory");
	return check_done();
}
