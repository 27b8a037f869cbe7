/*
 * stat.c checks stat(2), lstat(2), fstat(2), newfstatat(2), statx(2),
 * access(2) and faccessat(2) against the man pages. The old stat, lstat and
 * fstat calls are made raw because glibc implements them with newfstatat.
 */
#include "check.h"

#include <fcntl.h>
#include <linux/stat.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#define GPL3 "/usr/share/common-licenses/GPL-3"
#define LINK "/etc/os-release"
#define LINK_TARGET "/usr/lib/os-release"

static long sys_stat(const char *path, struct stat *st)
{
	return syscall(SYS_stat, path, st);
}

static long sys_lstat(const char *path, struct stat *st)
{
	return syscall(SYS_lstat, path, st);
}

static long sys_fstat(int fd, struct stat *st)
{
	return syscall(SYS_fstat, fd, st);
}

static long sys_fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	return syscall(SYS_newfstatat, dirfd, path, st, flags);
}

static long sys_statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *stx)
{
	return syscall(SYS_statx, dirfd, path, flags, mask, stx);
}

static int same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_mode == b->st_mode &&
	       a->st_nlink == b->st_nlink && a->st_uid == b->st_uid && a->st_gid == b->st_gid &&
	       a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static void test_file(void)
{
	struct stat st, fst, lst, at;
	char buf[4096];

	CHECK_EQ(sys_stat(GPL3, &st), 0, "stat of a regular file");
	CHECK(S_ISREG(st.st_mode), "stat reports S_IFREG");
	CHECK(st.st_nlink >= 1, "stat reports st_nlink >= 1");
	CHECK(st.st_blksize > 0, "stat reports st_blksize > 0");
	CHECK(st.st_ino != 0, "stat reports a nonzero st_ino");

	int fd = open(GPL3, O_RDONLY);
	REQUIRE(fd >= 0, "open " GPL3);
	off_t total = 0;
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += n;
	CHECK_EQ(st.st_size, total, "st_size equals the number of bytes read");

	CHECK_EQ(sys_fstat(fd, &fst), 0, "fstat of an open file");
	CHECK(same_stat(&st, &fst), "fstat matches stat");
	CHECK_EQ(sys_lstat(GPL3, &lst), 0, "lstat of a regular file");
	CHECK(same_stat(&st, &lst), "lstat of a non-symlink matches stat");
	CHECK_EQ(fstat(fd, &fst), 0, "libc fstat");
	CHECK(same_stat(&st, &fst), "libc fstat matches stat");
	CHECK_EQ(sys_fstatat(fd, "", &at, AT_EMPTY_PATH), 0, "newfstatat AT_EMPTY_PATH on a file fd");
	CHECK(same_stat(&st, &at), "newfstatat AT_EMPTY_PATH matches stat");
	CHECK_ERR(sys_fstatat(fd, "", &at, 0), ENOENT, "newfstatat empty path without AT_EMPTY_PATH is ENOENT");
	CHECK_ERR(sys_fstatat(fd, "x", &at, 0), ENOTDIR, "newfstatat relative to a file fd is ENOTDIR");
	close(fd);
	CHECK_ERR(sys_fstat(fd, &fst), EBADF, "fstat of a closed fd is EBADF");

	int dir = open("/usr/share/common-licenses", O_RDONLY | O_DIRECTORY);
	REQUIRE(dir >= 0, "open /usr/share/common-licenses");
	CHECK_EQ(sys_fstatat(dir, "GPL-3", &at, 0), 0, "newfstatat with a dirfd and relative path");
	CHECK(same_stat(&st, &at), "newfstatat relative matches stat");
	CHECK_EQ(sys_fstatat(AT_FDCWD, GPL3, &at, AT_SYMLINK_NOFOLLOW), 0, "newfstatat AT_FDCWD absolute");
	CHECK(same_stat(&st, &at), "newfstatat AT_FDCWD matches stat");
	CHECK_ERR(sys_fstatat(dir, "GPL-3", &at, 0x40000000), EINVAL, "newfstatat with unknown flags is EINVAL");
	CHECK_ERR(sys_fstatat(9999, "GPL-3", &at, 0), EBADF, "newfstatat relative to a bad dirfd is EBADF");
	close(dir);

	CHECK_EQ(sys_stat("/usr/share/../share/common-licenses/./GPL-3", &at), 0, "stat a path with .. and .");
	CHECK(at.st_ino == st.st_ino && at.st_dev == st.st_dev, "same st_ino and st_dev through two paths");
}

static void test_dir_and_link(void)
{
	struct stat st, lst, tst, at;
	char target[256];

	CHECK_EQ(sys_stat("/usr/bin", &st), 0, "stat of a directory");
	CHECK(S_ISDIR(st.st_mode), "stat of a directory reports S_IFDIR");
	int fd = open("/usr/bin", O_RDONLY | O_DIRECTORY);
	if (CHECK(fd >= 0, "open /usr/bin")) {
		CHECK_EQ(sys_fstat(fd, &at), 0, "fstat of a directory fd");
		CHECK(same_stat(&st, &at), "fstat of a directory matches stat");
		close(fd);
	}
	CHECK_EQ(sys_stat("/usr/bin/.", &at), 0, "stat of dir/.");
	CHECK(at.st_ino == st.st_ino, "dir/. is the same directory");

	CHECK_EQ(sys_lstat(LINK, &lst), 0, "lstat of a symlink");
	CHECK(S_ISLNK(lst.st_mode), "lstat of a symlink reports S_IFLNK");
	ssize_t len = readlink(LINK, target, sizeof(target));
	CHECK_EQ(lst.st_size, len, "lstat st_size of a symlink is the target length");
	CHECK_EQ(sys_stat(LINK, &st), 0, "stat through a symlink");
	CHECK(S_ISREG(st.st_mode), "stat through a symlink reports the target's S_IFREG");
	CHECK_EQ(sys_stat(LINK_TARGET, &tst), 0, "stat of the symlink's target");
	CHECK(same_stat(&st, &tst), "stat through a symlink matches stat of the target");
	CHECK(lst.st_ino != st.st_ino, "symlink and target have different inodes");

	CHECK_EQ(sys_fstatat(AT_FDCWD, LINK, &at, AT_SYMLINK_NOFOLLOW), 0, "newfstatat AT_SYMLINK_NOFOLLOW");
	CHECK(same_stat(&lst, &at), "newfstatat AT_SYMLINK_NOFOLLOW matches lstat");
	CHECK_EQ(sys_fstatat(AT_FDCWD, LINK, &at, 0), 0, "newfstatat following a symlink");
	CHECK(same_stat(&st, &at), "newfstatat without flags matches stat");

	/* An O_PATH|O_NOFOLLOW fd refers to the link itself. */
	fd = open(LINK, O_PATH | O_NOFOLLOW);
	if (CHECK(fd >= 0, "open O_PATH|O_NOFOLLOW of a symlink")) {
		CHECK_EQ(sys_fstatat(fd, "", &at, AT_EMPTY_PATH), 0, "newfstatat AT_EMPTY_PATH on an O_PATH fd");
		CHECK(same_stat(&lst, &at), "AT_EMPTY_PATH on a symlink O_PATH fd matches lstat");
		close(fd);
	}
}

static void test_errors(void)
{
	struct stat st;

	CHECK_ERR(sys_stat("/etc/no-such-file-palisade", &st), ENOENT, "stat of a missing file is ENOENT");
	CHECK_ERR(sys_lstat("/etc/no-such-file-palisade", &st), ENOENT, "lstat of a missing file is ENOENT");
	CHECK_ERR(sys_stat("", &st), ENOENT, "stat of an empty path is ENOENT");
	CHECK_ERR(sys_stat("/etc/passwd/x", &st), ENOTDIR, "stat through a file is ENOTDIR");
	CHECK_ERR(sys_stat("/etc/passwd/", &st), ENOTDIR, "stat of a file with a trailing slash is ENOTDIR");
	CHECK_ERR(stat("/etc/no-such-file-palisade", &st), ENOENT, "libc stat of a missing file is ENOENT");
}

static void test_access(void)
{
	CHECK_EQ(access("/etc/passwd", F_OK), 0, "access F_OK on an existing file");
	CHECK_EQ(access("/etc/passwd", R_OK), 0, "access R_OK on a readable file");
	CHECK_EQ(access("/usr/bin", R_OK | X_OK), 0, "access R_OK|X_OK on a directory");
	CHECK_EQ(access("/bin/sh", X_OK), 0, "access X_OK on /bin/sh");
	CHECK_EQ(syscall(SYS_access, "/etc/os-release", R_OK), 0, "raw access through a symlink");
	CHECK_ERR(access("/etc/no-such-file-palisade", F_OK), ENOENT, "access of a missing file is ENOENT");
	CHECK_ERR(access("/etc/passwd/x", F_OK), ENOTDIR, "access through a file is ENOTDIR");
	CHECK_ERR(syscall(SYS_access, "/etc/passwd", 0x100), EINVAL, "access with a bad mode is EINVAL");

	int dir = open("/etc", O_RDONLY | O_DIRECTORY);
	REQUIRE(dir >= 0, "open /etc");
	CHECK_EQ(syscall(SYS_faccessat, dir, "passwd", R_OK), 0, "raw faccessat with a dirfd");
	CHECK_EQ(faccessat(dir, "passwd", F_OK, 0), 0, "faccessat F_OK with a dirfd");
	CHECK_EQ(faccessat(AT_FDCWD, "/etc/passwd", R_OK, 0), 0, "faccessat AT_FDCWD");
	CHECK_ERR(syscall(SYS_faccessat, dir, "no-such-file-palisade", F_OK), ENOENT,
		  "faccessat of a missing file is ENOENT");
	CHECK_ERR(syscall(SYS_faccessat, 9999, "passwd", F_OK), EBADF, "faccessat with a bad dirfd is EBADF");
	close(dir);
}

static void test_statx(void)
{
	struct statx stx;
	struct stat st;
	const unsigned need = STATX_TYPE | STATX_MODE | STATX_NLINK | STATX_UID | STATX_GID |
			      STATX_INO | STATX_SIZE | STATX_MTIME;

	REQUIRE(sys_stat(GPL3, &st) == 0, "stat " GPL3);
	memset(&stx, 0xff, sizeof(stx));
	if (!CHECK_EQ(sys_statx(AT_FDCWD, GPL3, 0, STATX_BASIC_STATS, &stx), 0, "statx of a regular file"))
		return;
	CHECK_EQ(stx.stx_mask & need, need, "statx fills the basic fields");
	CHECK_EQ(stx.stx_mode, st.st_mode, "statx stx_mode matches stat");
	CHECK_EQ(stx.stx_ino, st.st_ino, "statx stx_ino matches stat");
	CHECK_EQ(stx.stx_size, st.st_size, "statx stx_size matches stat");
	CHECK_EQ(stx.stx_nlink, st.st_nlink, "statx stx_nlink matches stat");
	CHECK(stx.stx_uid == st.st_uid && stx.stx_gid == st.st_gid, "statx uid/gid match stat");
	CHECK(stx.stx_mtime.tv_sec == st.st_mtim.tv_sec && stx.stx_mtime.tv_nsec == st.st_mtim.tv_nsec,
	      "statx stx_mtime matches stat");
	CHECK_EQ(makedev(stx.stx_dev_major, stx.stx_dev_minor), st.st_dev, "statx device matches stat");
	CHECK_EQ(stx.stx_blksize, st.st_blksize, "statx stx_blksize matches stat");

	CHECK_EQ(sys_statx(AT_FDCWD, LINK, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx), 0,
		 "statx AT_SYMLINK_NOFOLLOW of a symlink");
	CHECK(S_ISLNK(stx.stx_mode), "statx AT_SYMLINK_NOFOLLOW reports S_IFLNK");

	int fd = open(GPL3, O_RDONLY);
	REQUIRE(fd >= 0, "open " GPL3);
	CHECK_EQ(sys_statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx), 0, "statx AT_EMPTY_PATH on an fd");
	CHECK_EQ(stx.stx_ino, st.st_ino, "statx AT_EMPTY_PATH names the fd's file");
	close(fd);

	CHECK_ERR(sys_statx(AT_FDCWD, "/etc/no-such-file-palisade", 0, STATX_BASIC_STATS, &stx), ENOENT,
		  "statx of a missing file is ENOENT");
	CHECK_ERR(sys_statx(AT_FDCWD, GPL3, 0x40000000, STATX_BASIC_STATS, &stx), EINVAL,
		  "statx with unknown flags is EINVAL");
	CHECK_ERR(sys_statx(AT_FDCWD, GPL3, 0, STATX__RESERVED, &stx), EINVAL,
		  "statx with STATX__RESERVED in the mask is EINVAL");
}

int main(void)
{
	test_file();
	test_dir_and_link();
	test_errors();
	test_access();
	test_statx();
	return check_done();
}
