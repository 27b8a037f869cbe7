/*
 * fsmisc.c checks less common file system calls: statfs(2) and fstatfs(2)
 * (tmpfs and procfs types, the two agreeing, free space shrinking as a
 * file grows), sync_file_range(2) and posix_fadvise(2) argument checks,
 * fallocate(2) modes on tmpfs (extending, FALLOC_FL_KEEP_SIZE,
 * FALLOC_FL_PUNCH_HOLE, EOPNOTSUPP for the modes tmpfs lacks, EINVAL,
 * EFBIG, ENOSPC on a full tmpfs), preadv2(2) and pwritev2(2) (offset -1,
 * RWF_HIPRI, RWF_DSYNC, RWF_SYNC, unknown flags; RWF_APPEND and
 * RWF_NOWAIT are in rwflags.c),
 * utimensat(2) (UTIME_NOW, UTIME_OMIT, and who may set which times), and
 * AT_EMPTY_PATH with fchownat(2), utimensat(2), fstatat(2) and statx(2).
 *
 * runsc-do-flags: --cap-add=SYS_ADMIN
 */
#include "check.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#define TMPFS_MAGIC 0x01021994
#define PROC_SUPER_MAGIC 0x9fa0
#define ST_RDONLY_FLAG 0x0001

static char what[300];
#define W(...) (snprintf(what, sizeof(what), __VA_ARGS__), what)

static char path_buf[8][256];
static const char *P(const char *dir, const char *name)
{
	static int i;
	char *p = path_buf[i++ % 8];
	snprintf(p, 256, "%s/%s", dir, name);
	return p;
}

static int make_file(const char *path, mode_t mode, size_t size)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, mode);
	REQUIRE(fd >= 0, W("create %s", path));
	REQUIRE(fchmod(fd, mode) == 0, "fchmod");
	char buf[4096];
	memset(buf, 'x', sizeof buf);
	for (size_t done = 0; done < size;) {
		size_t n = size - done < sizeof buf ? size - done : sizeof buf;
		REQUIRE(write(fd, buf, n) == (ssize_t)n, "write");
		done += n;
	}
	return fd;
}

static void test_statfs(const char *shm)
{
	struct statfs a, b;

	CHECK_OK(statfs("/dev/shm", &a), "statfs /dev/shm");
	CHECK_EQ(a.f_type, TMPFS_MAGIC, "/dev/shm is tmpfs");
	CHECK_EQ(a.f_namelen, 255, "tmpfs names are up to 255 bytes");
	CHECK(a.f_bsize > 0 && a.f_frsize > 0, "block sizes are positive");
	CHECK(!(a.f_flags & ST_RDONLY_FLAG), "/dev/shm is not read-only");
	CHECK(a.f_bfree <= a.f_blocks && a.f_bavail <= a.f_blocks, "free blocks are at most the total");
	int fd = make_file(P(shm, "statfs"), 0644, 0);
	CHECK_OK(fstatfs(fd, &b), "fstatfs of a file on /dev/shm");
	CHECK(a.f_type == b.f_type && a.f_bsize == b.f_bsize && a.f_blocks == b.f_blocks && a.f_namelen == b.f_namelen &&
		      memcmp(&a.f_fsid, &b.f_fsid, sizeof a.f_fsid) == 0,
	      "statfs and fstatfs agree");
	close(fd);
	CHECK_OK(statfs(P(shm, "statfs"), &b), "statfs of a file on /dev/shm");
	CHECK_EQ(b.f_type, TMPFS_MAGIC, "a file on tmpfs is on tmpfs");
	CHECK_OK(statfs("/proc/self", &b), "statfs /proc/self");
	CHECK_EQ(b.f_type, PROC_SUPER_MAGIC, "/proc is procfs");
	fd = open("/", O_PATH);
	CHECK_OK(fstatfs(fd, &b), "fstatfs works on an O_PATH descriptor");
	CHECK_OK(statfs("/", &a), "statfs /");
	CHECK(a.f_type == b.f_type && a.f_blocks == b.f_blocks, "statfs / and fstatfs of / agree");
	close(fd);
	CHECK_ERR(statfs("/nonexistent-palisade", &a), ENOENT, "statfs of a missing path is ENOENT");
	CHECK_ERR(statfs("/etc/passwd/x", &a), ENOTDIR, "statfs under a file is ENOTDIR");
	CHECK_ERR(fstatfs(-1, &a), EBADF, "fstatfs of a bad descriptor is EBADF");
	CHECK_ERR(syscall(SYS_statfs, "/", NULL), EFAULT, "statfs to a NULL buffer is EFAULT");
}

/* test_statfs_usage checks free space on a small tmpfs at mnt. */
static void test_statfs_usage(const char *mnt)
{
	struct statfs a, b;
	CHECK_OK(statfs(mnt, &a), "statfs a 1 MiB tmpfs");
	CHECK_EQ(a.f_type, TMPFS_MAGIC, "of type tmpfs");
	CHECK_EQ(a.f_blocks * a.f_bsize, 1 << 20, "its size is 1 MiB");
	int fd = make_file(P(mnt, "grow"), 0644, 256 << 10);
	CHECK_OK(fstatfs(fd, &b), "fstatfs after writing 256 KiB");
	CHECK_EQ(a.f_bfree - b.f_bfree, (256 << 10) / a.f_bsize, "f_bfree went down by 256 KiB");
	CHECK_EQ(a.f_ffree - b.f_ffree, 1, "f_ffree went down by one inode");

	/* fallocate beyond the size is ENOSPC, and allocates nothing. */
	CHECK_ERR(fallocate(fd, 0, 0, 2 << 20), ENOSPC, "fallocate beyond a full tmpfs's size is ENOSPC");
	struct stat st;
	CHECK_OK(fstat(fd, &st), "fstat");
	CHECK_EQ(st.st_size, 256 << 10, "the failed fallocate left the size");
	CHECK_OK(fstatfs(fd, &a), "fstatfs after the failed fallocate");
	CHECK_EQ(a.f_bfree, b.f_bfree, "the failed fallocate allocated nothing");
	char buf[4096] = { 0 };
	ssize_t n;
	long total = 0;
	int err = 0;
	while ((n = write(fd, buf, sizeof buf)) > 0)
		total += n;
	err = errno;
	CHECK(n == -1 && err == ENOSPC, "writing until the tmpfs is full ends in ENOSPC");
	CHECK(total > 0 && total <= (768 << 10), "after at most the free space");
	CHECK_OK(fstatfs(fd, &a), "fstatfs when full");
	CHECK_EQ(a.f_bfree, 0, "a full tmpfs has no free blocks");
	CHECK_OK(ftruncate(fd, 0), "truncate the file");
	CHECK_OK(fstatfs(fd, &a), "fstatfs after truncating");
	CHECK_EQ(a.f_bfree, a.f_blocks, "truncating gives the blocks back");
	close(fd);
	unlink(P(mnt, "grow"));
}

static void test_sync_fadvise(const char *dir)
{
	int fd = make_file(P(dir, "sync"), 0644, 8192);
	int p[2];
	REQUIRE(pipe(p) == 0, "pipe");

	CHECK_OK(sync_file_range(fd, 0, 0, 0), "sync_file_range with no flags");
	CHECK_OK(sync_file_range(fd, 0, 4096, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER),
		 "sync_file_range with all flags");
	CHECK_ERR(sync_file_range(fd, 0, 0, 8), EINVAL, "sync_file_range with an unknown flag is EINVAL");
	CHECK_ERR(sync_file_range(fd, -1, 0, 0), EINVAL, "sync_file_range at a negative offset is EINVAL");
	CHECK_ERR(sync_file_range(fd, 0, -1, 0), EINVAL, "sync_file_range of a negative length is EINVAL");
	CHECK_ERR(sync_file_range(p[0], 0, 0, 0), ESPIPE, "sync_file_range on a pipe is ESPIPE");
	CHECK_ERR(sync_file_range(-1, 0, 0, 0), EBADF, "sync_file_range on a bad descriptor is EBADF");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK_OK(sync_file_range(dfd, 0, 0, SYNC_FILE_RANGE_WRITE), "sync_file_range on a directory");
	close(dfd);

	for (int advice = 0; advice <= 5; advice++)
		CHECK_OK(syscall(SYS_fadvise64, fd, 0, 4096, advice), W("fadvise advice %d on a file", advice));
	CHECK_OK(syscall(SYS_fadvise64, fd, 0, 0, POSIX_FADV_WILLNEED), "fadvise of length 0 (to the end)");
	CHECK_ERR(syscall(SYS_fadvise64, fd, 0, 4096, 6), EINVAL, "fadvise with an unknown advice is EINVAL");
	CHECK_ERR(syscall(SYS_fadvise64, p[0], 0, 4096, POSIX_FADV_NORMAL), ESPIPE, "fadvise on a pipe is ESPIPE");
	CHECK_ERR(syscall(SYS_fadvise64, -1, 0, 4096, POSIX_FADV_NORMAL), EBADF, "fadvise on a bad descriptor is EBADF");
	CHECK_EQ(posix_fadvise(fd, 0, 4096, 99), EINVAL, "posix_fadvise returns EINVAL for an unknown advice");
	close(p[0]);
	close(p[1]);
	close(fd);
	unlink(P(dir, "sync"));
}

static void test_fallocate(const char *dir)
{
	struct stat st;
	char buf[8192];
	int fd = make_file(P(dir, "falloc"), 0644, 0);

	CHECK_OK(fallocate(fd, 0, 0, 8192), W("%s: fallocate extends an empty file", dir));
	CHECK_OK(fstat(fd, &st), "fstat");
	CHECK_EQ(st.st_size, 8192, W("%s: to the allocated size", dir));
	CHECK(st.st_blocks >= 16, W("%s: with blocks allocated", dir));
	CHECK_EQ(pread(fd, buf, sizeof buf, 0), 8192, W("%s: the allocated range reads", dir));
	int zero = 1;
	for (int i = 0; i < 8192; i++)
		zero &= buf[i] == 0;
	CHECK(zero, W("%s: as zeros", dir));
	CHECK_OK(fallocate(fd, FALLOC_FL_KEEP_SIZE, 8192, 16384), W("%s: FALLOC_FL_KEEP_SIZE beyond the end", dir));
	CHECK_OK(fstat(fd, &st), "fstat");
	CHECK_EQ(st.st_size, 8192, W("%s: FALLOC_FL_KEEP_SIZE keeps the size", dir));
	CHECK(st.st_blocks >= 48, W("%s: but allocates blocks", dir));
	CHECK_OK(fallocate(fd, 0, 0, 4096), W("%s: fallocate inside the file", dir));
	CHECK_OK(fstat(fd, &st), "fstat");
	CHECK_EQ(st.st_size, 8192, W("%s: does not shrink it", dir));

	memset(buf, 'a', sizeof buf);
	REQUIRE(pwrite(fd, buf, 8192, 0) == 8192, "pwrite");
	blkcnt_t before = st.st_blocks;
	CHECK_OK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096), W("%s: FALLOC_FL_PUNCH_HOLE", dir));
	CHECK_OK(fstat(fd, &st), "fstat");
	CHECK_EQ(st.st_size, 8192, W("%s: punching a hole keeps the size", dir));
	CHECK(st.st_blocks < before, W("%s: and frees blocks", dir));
	CHECK_EQ(pread(fd, buf, 8192, 0), 8192, "pread");
	int ok = 1;
	for (int i = 0; i < 4096; i++)
		ok &= buf[i] == 0;
	for (int i = 4096; i < 8192; i++)
		ok &= buf[i] == 'a';
	CHECK(ok, W("%s: the hole reads as zeros and the rest is kept", dir));
	CHECK_OK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4000, 200), W("%s: punch a partial page", dir));
	CHECK_EQ(pread(fd, buf, 8192, 0), 8192, "pread");
	ok = 1;
	for (int i = 4096; i < 4200; i++)
		ok &= buf[i] == 0;
	ok &= buf[4200] == 'a';
	CHECK(ok, W("%s: a partial-page hole zeroes just its bytes", dir));
	CHECK_ERR(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096), EOPNOTSUPP, W("%s: FALLOC_FL_PUNCH_HOLE without KEEP_SIZE is EOPNOTSUPP", dir));
	CHECK_ERR(fallocate(fd, 0x80, 0, 4096), EOPNOTSUPP, W("%s: an unknown mode is EOPNOTSUPP", dir));
	CHECK_ERR(fallocate(fd, 0, 0, 0), EINVAL, W("%s: a length of 0 is EINVAL", dir));
	CHECK_ERR(fallocate(fd, 0, -1, 4096), EINVAL, W("%s: a negative offset is EINVAL", dir));
	CHECK_ERR(fallocate(fd, 0, LLONG_MAX - 10, 4096), EFBIG, W("%s: an end past the largest size is EFBIG", dir));
	close(fd);

	fd = open(P(dir, "falloc"), O_RDONLY);
	CHECK_ERR(fallocate(fd, 0, 0, 4096), EBADF, W("%s: fallocate on a read-only descriptor is EBADF", dir));
	close(fd);
	int p[2];
	REQUIRE(pipe(p) == 0, "pipe");
	CHECK_ERR(fallocate(p[1], 0, 0, 4096), ESPIPE, "fallocate on a pipe is ESPIPE");
	close(p[0]);
	close(p[1]);
	unlink(P(dir, "falloc"));
}

/* test_fallocate_tmpfs checks the modes that tmpfs refuses. */
static void test_fallocate_tmpfs(const char *dir)
{
	int fd = make_file(P(dir, "falloc2"), 0644, 16384);
	CHECK_ERR(fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, 4096), EOPNOTSUPP, "tmpfs: FALLOC_FL_ZERO_RANGE is EOPNOTSUPP");
	CHECK_ERR(fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, 4096), EOPNOTSUPP, "tmpfs: FALLOC_FL_COLLAPSE_RANGE is EOPNOTSUPP");
	CHECK_ERR(fallocate(fd, FALLOC_FL_INSERT_RANGE, 0, 4096), EOPNOTSUPP, "tmpfs: FALLOC_FL_INSERT_RANGE is EOPNOTSUPP");
	close(fd);
	unlink(P(dir, "falloc2"));
}

static void test_rw2(const char *dir)
{
	char buf[64];
	struct iovec iov = { .iov_base = buf, .iov_len = 0 };
	int fd = make_file(P(dir, "rw2"), 0644, 0);

	iov.iov_base = "hello";
	iov.iov_len = 5;
	CHECK_EQ(pwritev2(fd, &iov, 1, -1, 0), 5, W("%s: pwritev2 at offset -1 writes at the file position", dir));
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 5, W("%s: and moves it", dir));
	iov.iov_base = "HE";
	iov.iov_len = 2;
	CHECK_EQ(pwritev2(fd, &iov, 1, 0, 0), 2, W("%s: pwritev2 at offset 0", dir));
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 5, W("%s: leaves the file position", dir));
	memset(buf, 0, sizeof buf);
	CHECK_EQ(pread(fd, buf, sizeof buf, 0), 5, W("%s: the file's size", dir));
	CHECK_STR(buf, "HEllo", W("%s: the contents", dir));
	iov.iov_base = "x";
	iov.iov_len = 1;
	CHECK_EQ(pwritev2(fd, &iov, 1, 5, RWF_HIPRI), 1, W("%s: RWF_HIPRI on a buffered write", dir));
	CHECK_EQ(pwritev2(fd, &iov, 1, 6, RWF_DSYNC), 1, W("%s: RWF_DSYNC", dir));
	CHECK_EQ(pwritev2(fd, &iov, 1, 7, RWF_SYNC), 1, W("%s: RWF_SYNC", dir));
	CHECK_ERR(pwritev2(fd, &iov, 1, 0, 0x80000000), EOPNOTSUPP, W("%s: pwritev2 with an unknown flag is EOPNOTSUPP", dir));
	CHECK_ERR(pwritev2(fd, &iov, 1, -2, 0), EINVAL, W("%s: pwritev2 at offset -2 is EINVAL", dir));

	iov.iov_base = buf;
	iov.iov_len = 3;
	CHECK_EQ(lseek(fd, 1, SEEK_SET), 1, "lseek");
	memset(buf, 0, sizeof buf);
	CHECK_EQ(preadv2(fd, &iov, 1, -1, 0), 3, W("%s: preadv2 at offset -1 reads at the file position", dir));
	CHECK_STR(buf, "Ell", W("%s: from the position", dir));
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 4, W("%s: and moves it", dir));
	memset(buf, 0, sizeof buf);
	CHECK_EQ(preadv2(fd, &iov, 1, 0, RWF_HIPRI), 3, W("%s: preadv2 with RWF_HIPRI", dir));
	CHECK_STR(buf, "HEl", W("%s: reads at the offset", dir));
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 4, W("%s: leaving the position", dir));
	CHECK_EQ(preadv2(fd, &iov, 1, 0, RWF_APPEND), 3, W("%s: preadv2 ignores RWF_APPEND", dir));
	CHECK_ERR(preadv2(fd, &iov, 1, 0, 0x80000000), EOPNOTSUPP, W("%s: preadv2 with an unknown flag is EOPNOTSUPP", dir));
	CHECK_ERR(preadv2(fd, &iov, 1, -2, 0), EINVAL, W("%s: preadv2 at offset -2 is EINVAL", dir));
	close(fd);

	/* On pipes, only offset -1 reads and writes. */
	int p[2];
	REQUIRE(pipe(p) == 0, "pipe");
	iov.iov_base = buf;
	iov.iov_len = 4;
	iov.iov_base = "pipe";
	CHECK_EQ(pwritev2(p[1], &iov, 1, -1, 0), 4, "pwritev2 at offset -1 on a pipe");
	CHECK_ERR(pwritev2(p[1], &iov, 1, 0, 0), ESPIPE, "pwritev2 at an offset on a pipe is ESPIPE");
	iov.iov_base = buf;
	memset(buf, 0, sizeof buf);
	CHECK_ERR(preadv2(p[0], &iov, 1, 0, 0), ESPIPE, "preadv2 at an offset on a pipe is ESPIPE");
	CHECK_EQ(preadv2(p[0], &iov, 1, -1, 0), 4, "preadv2 at offset -1 on a pipe");
	CHECK_STR(buf, "pipe", "reads it");
	close(p[0]);
	close(p[1]);
	unlink(P(dir, "rw2"));
}

static int ts_eq(struct timespec a, long sec, long nsec)
{
	return a.tv_sec == sec && a.tv_nsec == nsec;
}

static int recent(struct timespec a)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	return a.tv_sec >= now.tv_sec - 5 && a.tv_sec <= now.tv_sec + 1;
}

static void test_utimensat(const char *dir)
{
	struct stat st;
	int fd = make_file(P(dir, "times"), 0644, 0);
	close(fd);
	const char *f = P(dir, "times");

	struct timespec ts[2] = { { 1000000000, 123456789 }, { 1100000000, 987654321 } };
	CHECK_OK(utimensat(AT_FDCWD, f, ts, 0), "utimensat with explicit times");
	CHECK_OK(stat(f, &st), "stat");
	CHECK(ts_eq(st.st_atim, 1000000000, 123456789), "atime set to the nanosecond");
	CHECK(ts_eq(st.st_mtim, 1100000000, 987654321), "mtime set to the nanosecond");
	CHECK(recent(st.st_ctim), "ctime is now");
	struct timespec now_omit[2] = { { 0, UTIME_NOW }, { 5, UTIME_OMIT } };
	CHECK_OK(utimensat(AT_FDCWD, f, now_omit, 0), "utimensat UTIME_NOW, UTIME_OMIT");
	CHECK_OK(stat(f, &st), "stat");
	CHECK(recent(st.st_atim), "UTIME_NOW sets atime to now");
	CHECK(ts_eq(st.st_mtim, 1100000000, 987654321), "UTIME_OMIT leaves mtime");
	struct timespec omit_set[2] = { { 0, UTIME_OMIT }, { 1200000000, 5 } };
	CHECK_OK(utimensat(AT_FDCWD, f, omit_set, 0), "utimensat UTIME_OMIT, explicit");
	CHECK_OK(stat(f, &st), "stat");
	CHECK(recent(st.st_atim), "UTIME_OMIT leaves atime");
	CHECK(ts_eq(st.st_mtim, 1200000000, 5), "the explicit mtime is set");
	CHECK_OK(utimensat(AT_FDCWD, f, NULL, 0), "utimensat with NULL times");
	CHECK_OK(stat(f, &st), "stat");
	CHECK(recent(st.st_atim) && recent(st.st_mtim), "NULL times sets both to now");
	struct timespec bad[2] = { { 0, 1000000000 }, { 0, 0 } };
	CHECK_ERR(utimensat(AT_FDCWD, f, bad, 0), EINVAL, "a tv_nsec of 1e9 is EINVAL");
	bad[0].tv_nsec = -5;
	CHECK_ERR(utimensat(AT_FDCWD, f, bad, 0), EINVAL, "a negative tv_nsec is EINVAL");
	CHECK_ERR(utimensat(AT_FDCWD, f, NULL, 0x8000), EINVAL, "an unknown flag is EINVAL");

	/* On a symlink itself with AT_SYMLINK_NOFOLLOW. */
	CHECK_OK(symlink("times", P(dir, "tlink")), "symlink");
	CHECK_OK(utimensat(AT_FDCWD, P(dir, "tlink"), ts, AT_SYMLINK_NOFOLLOW), "utimensat AT_SYMLINK_NOFOLLOW on a symlink");
	CHECK_OK(lstat(P(dir, "tlink"), &st), "lstat");
	CHECK(ts_eq(st.st_mtim, 1100000000, 987654321), "the symlink's mtime is set");
	CHECK_OK(stat(f, &st), "stat");
	CHECK(recent(st.st_mtim), "and not the target's");

	/* On a descriptor: NULL path, and AT_EMPTY_PATH. */
	fd = open(f, O_RDONLY);
	CHECK_OK(syscall(SYS_utimensat, fd, NULL, ts, 0), "utimensat with a NULL path sets the descriptor's file");
	CHECK_OK(stat(f, &st), "stat");
	CHECK(ts_eq(st.st_mtim, 1100000000, 987654321), "its mtime is set");
	CHECK_ERR(syscall(SYS_utimensat, AT_FDCWD, NULL, ts, 0), EFAULT, "utimensat with a NULL path and AT_FDCWD is EFAULT");
	CHECK_ERR(syscall(SYS_utimensat, fd, NULL, ts, AT_SYMLINK_NOFOLLOW), EINVAL, "utimensat with a NULL path and a flag is EINVAL");
	CHECK_ERR(utimensat(fd, "", ts, 0), ENOENT, "utimensat with an empty path is ENOENT");
	CHECK_OK(syscall(SYS_futimesat, fd, NULL, NULL), "futimesat with a NULL path sets the descriptor's file");
	CHECK_ERR(syscall(SYS_chmod, NULL, 0644), EFAULT, "chmod of a NULL path is EFAULT");
	CHECK_ERR(syscall(SYS_fchmodat, fd, NULL, 0644, 0), EFAULT, "fchmodat of a NULL path is EFAULT");
	CHECK_ERR(syscall(SYS_fchownat, fd, NULL, 0, 0, 0), EFAULT, "fchownat of a NULL path is EFAULT");
	CHECK_ERR(syscall(SYS_truncate, NULL, 0), EFAULT, "truncate of a NULL path is EFAULT");
	omit_set[1].tv_sec = 1300000000;
	CHECK_OK(utimensat(fd, "", omit_set, AT_EMPTY_PATH), "utimensat AT_EMPTY_PATH");
	CHECK_OK(stat(f, &st), "stat");
	CHECK(ts_eq(st.st_mtim, 1300000000, 5), "sets the descriptor's file");
	close(fd);
	fd = open(f, O_PATH);
	omit_set[1].tv_sec = 1400000000;
	CHECK_ERR(syscall(SYS_utimensat, fd, NULL, ts, 0), EBADF, "utimensat with a NULL path on an O_PATH descriptor is EBADF");
	CHECK_OK(utimensat(fd, "", omit_set, AT_EMPTY_PATH), "utimensat AT_EMPTY_PATH on an O_PATH descriptor");
	CHECK_OK(stat(f, &st), "stat");
	CHECK(ts_eq(st.st_mtim, 1400000000, 5), "sets its file");
	close(fd);
}

/* not_owner runs in a child as uid 65534: times on files it doesn't own. */
static void not_owner(const char *dir)
{
	struct stat st;
	struct timespec ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	struct timespec now_now[2] = { { 0, UTIME_NOW }, { 0, UTIME_NOW } };
	struct timespec now_omit[2] = { { 0, UTIME_NOW }, { 0, UTIME_OMIT } };
	struct timespec omit_omit[2] = { { 0, UTIME_OMIT }, { 0, UTIME_OMIT } };
	const char *w = P(dir, "writable"), *ro = P(dir, "readonly"), *mine = P(dir, "mine");

	REQUIRE(setresgid(65534, 65534, 65534) == 0 && setresuid(65534, 65534, 65534) == 0, "become uid 65534");
	CHECK_OK(utimensat(AT_FDCWD, w, NULL, 0), "NULL times with write permission, not the owner");
	CHECK_OK(utimensat(AT_FDCWD, w, now_now, 0), "UTIME_NOW for both with write permission, not the owner");
	CHECK_ERR(utimensat(AT_FDCWD, w, ts, 0), EPERM, "explicit times by another than the owner are EPERM");
	CHECK_ERR(utimensat(AT_FDCWD, w, now_omit, 0), EPERM, "UTIME_NOW with UTIME_OMIT by another than the owner is EPERM");
	CHECK_ERR(utimensat(AT_FDCWD, ro, NULL, 0), EACCES, "NULL times without write permission are EACCES");
	CHECK_ERR(utimensat(AT_FDCWD, ro, now_now, 0), EACCES, "UTIME_NOW without write permission is EACCES");
	CHECK_ERR(utimensat(AT_FDCWD, ro, ts, 0), EPERM, "explicit times without write permission are EPERM");
	CHECK_OK(utimensat(AT_FDCWD, ro, omit_omit, 0), "UTIME_OMIT for both needs no permission");
	CHECK_OK(stat(ro, &st), "stat");
	CHECK(st.st_mtim.tv_sec != 1000000000, "and changes nothing");
	CHECK_OK(utimensat(AT_FDCWD, mine, ts, 0), "the owner sets explicit times without write permission");
	CHECK_OK(stat(mine, &st), "stat");
	CHECK(ts_eq(st.st_mtim, 1000000000, 0), "they are set");
	int fd = open(w, O_WRONLY);
	CHECK_OK(futimens(fd, NULL), "futimens(NULL) on a writable descriptor, not the owner");
	close(fd);
}

/* no_fowner runs in a child as root without CAP_FOWNER. */
static void no_fowner(const char *dir)
{
	struct timespec ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	REQUIRE(syscall(SYS_capget, &h, d) == 0, "capget");
	d[0].effective &= ~(1u << CAP_FOWNER);
	REQUIRE(syscall(SYS_capset, &h, d) == 0, "drop CAP_FOWNER");
	CHECK_ERR(utimensat(AT_FDCWD, P(dir, "mine"), ts, 0), EPERM, "explicit times without CAP_FOWNER on another's file are EPERM");
	CHECK_OK(utimensat(AT_FDCWD, P(dir, "mine"), NULL, 0), "NULL times with CAP_DAC_OVERRIDE");
	CHECK_OK(utimensat(AT_FDCWD, P(dir, "times"), ts, 0), "explicit times on one's own file");
}

static void test_times_perms(const char *dir)
{
	close(make_file(P(dir, "writable"), 0666, 0));
	close(make_file(P(dir, "readonly"), 0644, 0));
	close(make_file(P(dir, "mine"), 0444, 0));
	REQUIRE(chown(P(dir, "mine"), 65534, 65534) == 0, "chown mine");
	REQUIRE(chmod(dir, 0755) == 0, "chmod the directory");
	check_in_child(not_owner, dir, "utimensat as another user");
	check_in_child(no_fowner, dir, "utimensat without CAP_FOWNER");
}

static void test_empty_path(const char *dir)
{
	struct stat st, st2;
	struct statx stx;
	const char *f = P(dir, "empty");
	int fd = make_file(f, 0644, 10);

	CHECK_OK(fchownat(fd, "", 65534, 65533, AT_EMPTY_PATH), "fchownat AT_EMPTY_PATH");
	CHECK_OK(stat(f, &st), "stat");
	CHECK(st.st_uid == 65534 && st.st_gid == 65533, "changes the descriptor's file's owner");
	CHECK_ERR(fchownat(fd, "", 0, 0, 0), ENOENT, "fchownat with an empty path and no AT_EMPTY_PATH is ENOENT");
	CHECK_ERR(fchownat(fd, "", 0, 0, 0x4000), EINVAL, "fchownat with an unknown flag is EINVAL");
	int pfd = open(f, O_PATH);
	CHECK_OK(fchownat(pfd, "", 0, 0, AT_EMPTY_PATH), "fchownat AT_EMPTY_PATH on an O_PATH descriptor");
	CHECK_OK(stat(f, &st), "stat");
	CHECK(st.st_uid == 0 && st.st_gid == 0, "changes its file's owner");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK_OK(fchownat(dfd, "", -1, 65534, AT_EMPTY_PATH), "fchownat AT_EMPTY_PATH on a directory");
	CHECK_OK(stat(dir, &st), "stat");
	CHECK_EQ(st.st_gid, 65534, "changes the directory's group");
	CHECK_OK(fchownat(dfd, "", -1, 0, AT_EMPTY_PATH), "and back");

	CHECK_OK(fstat(fd, &st), "fstat");
	CHECK_OK(statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx), "statx AT_EMPTY_PATH");
	CHECK(stx.stx_ino == st.st_ino && stx.stx_size == 10, "describes the descriptor's file");
	CHECK(stx.stx_mask & STATX_INO, "with STATX_INO in the mask");
	CHECK_OK(statx(pfd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx), "statx AT_EMPTY_PATH on an O_PATH descriptor");
	CHECK_EQ(stx.stx_ino, st.st_ino, "describes its file");
	CHECK_ERR(statx(fd, "", 0, STATX_BASIC_STATS, &stx), ENOENT, "statx with an empty path and no AT_EMPTY_PATH is ENOENT");
	CHECK_ERR(statx(fd, "", AT_EMPTY_PATH, 0x80000000u, &stx), EINVAL, "statx with STATX__RESERVED is EINVAL");
	CHECK_OK(statx(AT_FDCWD, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx), "statx AT_EMPTY_PATH with AT_FDCWD");
	CHECK_OK(stat(".", &st2), "stat .");
	CHECK_EQ(stx.stx_ino, st2.st_ino, "describes the working directory");
	CHECK_OK(fstatat(pfd, "", &st2, AT_EMPTY_PATH), "fstatat AT_EMPTY_PATH on an O_PATH descriptor");
	CHECK_EQ(st2.st_ino, st.st_ino, "describes its file");
	close(pfd);
	close(dfd);
	close(fd);
	unlink(f);
}

int main(void)
{
	char shm[] = "/dev/shm/fsmiscXXXXXX", tmp[] = "/tmp/fsmiscXXXXXX", root[] = "/fsmiscXXXXXX", mnt[64];

	REQUIRE(mkdtemp(shm) != NULL && mkdtemp(tmp) != NULL && mkdtemp(root) != NULL, "mkdtemp");

	test_statfs(shm);
	snprintf(mnt, sizeof mnt, "/var/tmp/fsmisc.%d", getpid());
	REQUIRE(mkdir(mnt, 0755) == 0, "mkdir a mount point");
	REQUIRE(mount("none", mnt, "tmpfs", 0, "size=1m") == 0, "mount a 1 MiB tmpfs");
	test_statfs_usage(mnt);
	CHECK_OK(umount2(mnt, 0), "unmount it");
	rmdir(mnt);

	const char *dirs[] = { shm, tmp, root };
	for (int i = 0; i < 3; i++) {
		test_sync_fadvise(dirs[i]);
		test_fallocate(dirs[i]);
		test_rw2(dirs[i]);
	}
	test_fallocate_tmpfs(shm);
	test_utimensat(shm);
	test_times_perms(shm);
	test_empty_path(shm);
	test_empty_path(root);

	const char *names[] = { "statfs", "times", "tlink", "writable", "readonly", "mine" };
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		unlink(P(shm, names[i]));
	CHECK_OK(rmdir(shm), "remove the scratch directory in /dev/shm (nothing left)");
	CHECK_OK(rmdir(tmp), "remove the scratch directory in /tmp (nothing left)");
	CHECK_OK(rmdir(root), "remove the scratch directory in / (nothing left)");
	return check_done();
}
