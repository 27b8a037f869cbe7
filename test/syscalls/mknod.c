/*
 * mknod.c checks mknod(2) and mknodat(2) in a scratch directory under /tmp
 * (tmpfs in the sandbox, unless runsc do runs from under /tmp) and under /
 * (the overlay root in the sandbox):
 * FIFOs, regular files (S_IFREG and a type of 0), sockets, character and
 * block devices (with CAP_MKNOD, which the container default set holds)
 * and their st_rdev, the umask, EEXIST, EINVAL for a bad type and EPERM for
 * a directory, ENOENT and ENOTDIR for a bad parent, EPERM for devices
 * without CAP_MKNOD (but not for FIFOs, files, or a 0:0 whiteout), EACCES
 * without write permission on the directory, and what opening the nodes
 * does: a FIFO opens, a socket is ENXIO, and so is a device whose major
 * no driver has (60, for local and experimental use).
 */
#include "check.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#define CAP_MKNOD_BIT 27

static int whiteout_ok; /* the directory being tested makes 0:0 devices */

static int has_cap(int cap)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) != 0)
		return 0;
	return (d[cap / 32].effective >> (cap % 32)) & 1;
}

static char what[256];
#define OVERLAYFS_SUPER_MAGIC 0x794c7630

/* on_overlay reports whether dir is on an overlay filesystem. */
static int on_overlay(const char *dir)
{
	struct statfs sf;

	return statfs(dir, &sf) == 0 && sf.f_type == OVERLAYFS_SUPER_MAGIC;
}

#define W(...) (snprintf(what, sizeof(what), __VA_ARGS__), what)

static char path_buf[4][256];
/* P returns dir/name in one of a few rotating buffers. */
static const char *P(const char *dir, const char *name)
{
	static int i;
	char *p = path_buf[i++ % 4];
	snprintf(p, 256, "%s/%s", dir, name);
	return p;
}

/* no_mknod runs in a child: without CAP_MKNOD, then as uid 65534. */
static void no_mknod(const char *dir)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	REQUIRE(syscall(SYS_capget, &h, d) == 0, "capget");
	d[0].effective &= ~(1u << CAP_MKNOD_BIT);
	REQUIRE(syscall(SYS_capset, &h, d) == 0, "drop CAP_MKNOD");

	CHECK_ERR(mknod(P(dir, "nc"), S_IFCHR | 0600, makedev(1, 3)), EPERM, W("%s: a char device without CAP_MKNOD is EPERM", dir));
	CHECK_ERR(mknod(P(dir, "nb"), S_IFBLK | 0600, makedev(7, 0)), EPERM, W("%s: a block device without CAP_MKNOD is EPERM", dir));
	CHECK_ERR(access(P(dir, "nc"), F_OK), ENOENT, W("%s: the refused device was not made", dir));
	CHECK_ERR(mknod(P(dir, "chr"), S_IFCHR | 0600, makedev(1, 3)), EEXIST,
		  W("%s: a device over an existing name without CAP_MKNOD is EEXIST", dir));
	if (whiteout_ok) {
		CHECK_OK(mknod(P(dir, "nw"), S_IFCHR | 0600, makedev(0, 0)), W("%s: a 0:0 whiteout needs no CAP_MKNOD", dir));
		unlink(P(dir, "nw"));
	}
	CHECK_OK(mknod(P(dir, "nf"), S_IFIFO | 0600, 0), W("%s: a FIFO needs no CAP_MKNOD", dir));
	CHECK_OK(mknod(P(dir, "nr"), S_IFREG | 0600, 0), W("%s: a regular file needs no CAP_MKNOD", dir));
	CHECK_OK(mknod(P(dir, "ns"), S_IFSOCK | 0600, 0), W("%s: a socket needs no CAP_MKNOD", dir));
	unlink(P(dir, "nf"));
	unlink(P(dir, "nr"));
	unlink(P(dir, "ns"));

	REQUIRE(setresgid(65534, 65534, 65534) == 0 && setresuid(65534, 65534, 65534) == 0, "become uid 65534");
	CHECK_ERR(mknod(P(dir, "uf"), S_IFIFO | 0600, 0), EACCES, W("%s: mknod without write permission on the directory is EACCES", dir));
	CHECK_ERR(mknod(P(dir, "fifo"), S_IFIFO | 0600, 0), EEXIST, W("%s: mknod of an existing name is EEXIST before EACCES", dir));
}

static void test_dir(const char *dir)
{
	struct stat st;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	REQUIRE(dfd >= 0, W("open %s", dir));

	/* FIFOs, files and sockets. */
	CHECK_OK(mknod(P(dir, "fifo"), S_IFIFO | 0666, 0), W("%s: mknod S_IFIFO", dir));
	CHECK_OK(lstat(P(dir, "fifo"), &st), W("%s: stat the FIFO", dir));
	CHECK(S_ISFIFO(st.st_mode), W("%s: the node is a FIFO", dir));
	CHECK_EQ(st.st_mode & 07777, 0644, W("%s: the umask applies to the FIFO's mode", dir));
	CHECK_EQ(st.st_rdev, 0, W("%s: the FIFO's st_rdev is 0", dir));
	CHECK_EQ(st.st_nlink, 1, W("%s: the FIFO has one link", dir));
	CHECK_EQ(st.st_uid, geteuid(), W("%s: the caller owns the FIFO", dir));
	CHECK_OK(mknod(P(dir, "reg"), S_IFREG | 0640, 0), W("%s: mknod S_IFREG", dir));
	CHECK_OK(lstat(P(dir, "reg"), &st), W("%s: stat the file", dir));
	CHECK(S_ISREG(st.st_mode) && st.st_size == 0, W("%s: S_IFREG makes an empty regular file", dir));
	CHECK_EQ(st.st_mode & 07777, 0640, W("%s: the file's mode", dir));
	CHECK_OK(mknodat(dfd, "reg0", 0644, 0), W("%s: mknodat with a type of 0", dir));
	CHECK_OK(lstat(P(dir, "reg0"), &st), W("%s: stat the file of type 0", dir));
	CHECK(S_ISREG(st.st_mode) && st.st_size == 0, W("%s: a type of 0 makes a regular file", dir));
	CHECK_OK(mknodat(dfd, "sock", S_IFSOCK | 0644, 0), W("%s: mknodat S_IFSOCK", dir));
	CHECK_OK(fstatat(dfd, "sock", &st, AT_SYMLINK_NOFOLLOW), W("%s: stat the socket", dir));
	CHECK(S_ISSOCK(st.st_mode), W("%s: the node is a socket", dir));
	CHECK_OK(mknod(P(dir, "sticky"), S_IFIFO | 01644, 0), W("%s: a FIFO with the sticky bit", dir));
	CHECK_OK(lstat(P(dir, "sticky"), &st), W("%s: stat the sticky FIFO", dir));
	CHECK_EQ(st.st_mode & 07777, 01644, W("%s: mknod keeps the sticky bit", dir));

	/* Devices, with CAP_MKNOD. */
	REQUIRE(has_cap(CAP_MKNOD_BIT), "the test holds CAP_MKNOD");
	CHECK_OK(mknod(P(dir, "chr"), S_IFCHR | 0600, makedev(1, 3)), W("%s: mknod S_IFCHR 1:3", dir));
	CHECK_OK(lstat(P(dir, "chr"), &st), W("%s: stat the char device", dir));
	CHECK(S_ISCHR(st.st_mode), W("%s: the node is a char device", dir));
	CHECK_EQ(st.st_rdev, makedev(1, 3), W("%s: the char device's st_rdev", dir));
	CHECK_EQ(st.st_size, 0, W("%s: a device node has size 0", dir));
	CHECK_OK(mknodat(dfd, "blk", S_IFBLK | 0600, makedev(7, 200)), W("%s: mknodat S_IFBLK 7:200", dir));
	CHECK_OK(lstat(P(dir, "blk"), &st), W("%s: stat the block device", dir));
	CHECK(S_ISBLK(st.st_mode), W("%s: the node is a block device", dir));
	CHECK_EQ(major(st.st_rdev), 7, W("%s: the block device's major", dir));
	CHECK_EQ(minor(st.st_rdev), 200, W("%s: the block device's minor", dir));
	CHECK_OK(mknod(P(dir, "big"), S_IFCHR | 0600, makedev(4095, 1048575)), W("%s: the largest device number", dir));
	CHECK_OK(lstat(P(dir, "big"), &st), W("%s: stat the largest device number", dir));
	CHECK(major(st.st_rdev) == 4095 && minor(st.st_rdev) == 1048575, W("%s: 12-bit major, 20-bit minor", dir));
	/* The kernel takes a 32-bit device number: higher bits are dropped. */
	CHECK_OK(syscall(SYS_mknodat, dfd, "trunc", S_IFCHR | 0600, (1ULL << 32) | makedev(1, 3)),
		 W("%s: raw mknodat with bits above 32", dir));
	CHECK_OK(lstat(P(dir, "trunc"), &st), W("%s: stat the truncated device", dir));
	CHECK_EQ(st.st_rdev, makedev(1, 3), W("%s: the device number is truncated to 32 bits", dir));
	CHECK_OK(mknod(P(dir, "exp"), S_IFCHR | 0600, makedev(60, 0)), W("%s: a char device 60:0", dir));
	CHECK_OK(mknod(P(dir, "expb"), S_IFBLK | 0600, makedev(60, 0)), W("%s: a block device 60:0", dir));
	if (whiteout_ok) {
		CHECK_OK(mknod(P(dir, "wh"), S_IFCHR | 0600, makedev(0, 0)), W("%s: a 0:0 char device (a whiteout)", dir));
		CHECK_OK(lstat(P(dir, "wh"), &st), W("%s: stat the whiteout", dir));
		CHECK(S_ISCHR(st.st_mode) && st.st_rdev == 0, W("%s: the whiteout is a char device 0:0", dir));
	} else {
		CHECK_ERR(mknod(P(dir, "wh"), S_IFCHR | 0600, makedev(0, 0)), EPERM,
			  W("%s: a 0:0 char device on an overlay is EPERM", dir));
	}

	/* Errors. */
	CHECK_ERR(mknod(P(dir, "fifo"), S_IFIFO | 0600, 0), EEXIST, W("%s: mknod of an existing FIFO is EEXIST", dir));
	CHECK_ERR(mknod(P(dir, "reg"), S_IFREG | 0600, 0), EEXIST, W("%s: mknod S_IFREG of an existing file is EEXIST", dir));
	CHECK_OK(symlink("nowhere", P(dir, "dangling")), W("%s: a dangling symlink", dir));
	CHECK_ERR(mknod(P(dir, "dangling"), S_IFIFO | 0600, 0), EEXIST, W("%s: mknod over a dangling symlink is EEXIST", dir));
	CHECK_ERR(mknod(P(dir, "bad"), S_IFMT | 0600, 0), EINVAL, W("%s: a bad file type is EINVAL", dir));
	CHECK_ERR(mknod(P(dir, "bad"), S_IFLNK | 0600, 0), EINVAL, W("%s: S_IFLNK is EINVAL", dir));
	CHECK_ERR(mknod(P(dir, "bad"), S_IFDIR | 0700, 0), EPERM, W("%s: S_IFDIR is EPERM", dir));
	CHECK_ERR(mknod(P(dir, "fifo"), S_IFMT | 0600, 0), EINVAL, W("%s: a bad type is EINVAL even for an existing name", dir));
	CHECK_ERR(access(P(dir, "bad"), F_OK), ENOENT, W("%s: the refused calls made nothing", dir));
	CHECK_ERR(mknod(P(dir, "missing/x"), S_IFIFO | 0600, 0), ENOENT, W("%s: mknod in a missing directory is ENOENT", dir));
	CHECK_ERR(mknod(P(dir, "reg/x"), S_IFIFO | 0600, 0), ENOTDIR, W("%s: mknod under a file is ENOTDIR", dir));
	CHECK_ERR(mknodat(dfd, "", S_IFIFO | 0600, 0), ENOENT, W("%s: mknodat of an empty path is ENOENT", dir));
	CHECK_ERR(mknod("/etc/passwd", S_IFIFO | 0600, 0), EEXIST, W("%s: mknod over a host file is EEXIST", dir));

	/* Opening the nodes. */
	int fd = open(P(dir, "fifo"), O_RDWR | O_NONBLOCK);
	CHECK(fd >= 0, W("%s: the FIFO opens read-write", dir));
	CHECK_EQ(write(fd, "x", 1), 1, W("%s: write to the FIFO", dir));
	char c = 0;
	CHECK_EQ(read(fd, &c, 1), 1, W("%s: read back from the FIFO", dir));
	close(fd);
	CHECK_ERR(open(P(dir, "fifo"), O_WRONLY | O_NONBLOCK), ENXIO, W("%s: a FIFO without a reader is ENXIO for O_WRONLY|O_NONBLOCK", dir));
	CHECK_ERR(open(P(dir, "sock"), O_RDWR), ENXIO, W("%s: opening a socket node is ENXIO", dir));
	{
		/* On a nodev mount (a tmpfs /tmp often is) no device opens:
		 * EACCES comes before the driver lookup. */
		struct statvfs sv;
		int nodev = statvfs(dir, &sv) == 0 && (sv.f_flag & ST_NODEV);
		int want = nodev ? EACCES : ENXIO;

		CHECK_ERR(open(P(dir, "exp"), O_RDWR), want,
			  W("%s: opening a char device without a driver is %s", dir, nodev ? "EACCES (nodev)" : "ENXIO"));
		CHECK_ERR(open(P(dir, "expb"), O_RDONLY), want,
			  W("%s: opening a block device without a driver is %s", dir, nodev ? "EACCES (nodev)" : "ENXIO"));
	}
	fd = open(P(dir, "reg0"), O_RDWR);
	CHECK(fd >= 0 && write(fd, "abc", 3) == 3, W("%s: the mknod'd file is writable", dir));
	close(fd);

	/* Without CAP_MKNOD and without permission. */
	REQUIRE(chmod(dir, 0755) == 0, "chmod the scratch directory");
	check_in_child(no_mknod, dir, W("%s: without CAP_MKNOD", dir));

	const char *names[] = { "fifo", "reg", "reg0", "sock", "sticky", "chr", "blk", "big", "trunc", "exp", "expb", "wh", "dangling" };
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		unlinkat(dfd, names[i], 0);
	close(dfd);
	CHECK_OK(rmdir(dir), W("%s: remove the scratch directory (nothing left)", dir));
}

int main(void)
{
	char tmpdir[] = "/tmp/mknodtestXXXXXX", rootdir[] = "/mknodtestXXXXXX";

	umask(022);

	/*
	 * On an overlay (Linux's overlayfs, or the sandbox's root, which /tmp
	 * is part of when runsc do leaves it to the root) a 0:0 char device
	 * would be a whiteout and is refused; tmpfs and ext4 make one.
	 */
	REQUIRE(mkdtemp(tmpdir) != NULL, "mkdtemp under /tmp");
	whiteout_ok = !on_overlay(tmpdir);
	test_dir(tmpdir);
	REQUIRE(mkdtemp(rootdir) != NULL, "mkdtemp under /");
	whiteout_ok = !on_overlay(rootdir);
	test_dir(rootdir);
	return check_done();
}
