/*
 * rename.c checks rename(2) and renameat2(2) in scratch directories under
 * /tmp and /dev/shm (tmpfs in the sandbox) and under / (the overlay root
 * in the sandbox): replacing files and empty directories, ENOTEMPTY,
 * EINVAL for a directory into its own subtree, EISDIR, ENOTDIR, EBUSY for
 * "." and "..", hard links to the same file, RENAME_NOREPLACE (EEXIST),
 * RENAME_EXCHANGE of files, directories and a file with a directory
 * (ENOENT if either is missing), RENAME_WHITEOUT (a 0:0 character device
 * left behind; EPERM without CAP_MKNOD) and the flag combinations that are
 * EINVAL.
 *
 * With an argument DIR, it checks renames of entries that exist before it
 * starts (below the overlay when DIR is a host directory in the sandbox):
 * DIR/file (holding "lower\n") and DIR/dir with DIR/dir/a and
 * DIR/dir/sub/b, and puts them back as they were.
 */
#include "check.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#define CAP_MKNOD_BIT 27
#define OVERLAYFS_SUPER_MAGIC 0x794c7630

static char what[300];
#define W(...) (snprintf(what, sizeof(what), __VA_ARGS__), what)

static char path_buf[8][256];
/* P returns dir/name in one of a few rotating buffers. */
static const char *P(const char *dir, const char *name)
{
	static int i;
	char *p = path_buf[i++ % 8];
	snprintf(p, 256, "%s/%s", dir, name);
	return p;
}

static int rename2(const char *a, const char *b, unsigned flags)
{
	return syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, flags);
}

static void put(const char *path, const char *s)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	REQUIRE(fd >= 0 && write(fd, s, strlen(s)) == (ssize_t)strlen(s), "write a file");
	close(fd);
}

/* get returns the contents of path ("<error>" if it can't be read). */
static const char *get(const char *path)
{
	static char buf[8][128];
	static int i;
	char *b = buf[i++ % 8];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return "<error>";
	ssize_t n = read(fd, b, 127);
	close(fd);
	b[n < 0 ? 0 : n] = 0;
	return b;
}

static int is_dir(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static int whiteout_ok; /* the directory being tested makes whiteouts */

/* no_mknod runs in a child, without CAP_MKNOD: since Linux 5.8 making a
 * whiteout needs no privilege. */
static void no_mknod(const char *dir)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	struct stat st;
	REQUIRE(syscall(SYS_capget, &h, d) == 0, "capget");
	d[0].effective &= ~(1u << CAP_MKNOD_BIT);
	REQUIRE(syscall(SYS_capset, &h, d) == 0, "drop CAP_MKNOD");
	if (!whiteout_ok) {
		CHECK_ERR(rename2(P(dir, "w1"), P(dir, "w2"), RENAME_WHITEOUT), EINVAL,
			  W("%s: RENAME_WHITEOUT on the overlay is EINVAL", dir));
		return;
	}
	CHECK_OK(rename2(P(dir, "w1"), P(dir, "w2"), RENAME_WHITEOUT), W("%s: RENAME_WHITEOUT without CAP_MKNOD", dir));
	CHECK_STR(get(P(dir, "w2")), "W", W("%s: the file moved", dir));
	CHECK_OK(lstat(P(dir, "w1"), &st), W("%s: the old name is there", dir));
	CHECK(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0), W("%s: as a 0:0 char device", dir));
	CHECK_EQ(st.st_mode & 07777, 0, W("%s: with no permission bits", dir));
	CHECK_EQ(st.st_uid, geteuid(), W("%s: owned by the caller", dir));
}

static void test_plain(const char *dir)
{
	struct stat st, st2;

	/* Files. */
	put(P(dir, "a"), "A");
	put(P(dir, "b"), "B");
	CHECK_OK(rename(P(dir, "a"), P(dir, "b")), W("%s: rename a file over another", dir));
	CHECK_STR(get(P(dir, "b")), "A", W("%s: the target has the source's contents", dir));
	CHECK(!exists(P(dir, "a")), W("%s: the source name is gone", dir));
	CHECK_OK(rename(P(dir, "b"), P(dir, "b")), W("%s: rename a file to itself", dir));
	CHECK_STR(get(P(dir, "b")), "A", W("%s: which changes nothing", dir));
	CHECK_OK(link(P(dir, "b"), P(dir, "b2")), W("%s: a second link", dir));
	CHECK_OK(rename(P(dir, "b"), P(dir, "b2")), W("%s: rename between two links to one file", dir));
	CHECK(exists(P(dir, "b")) && exists(P(dir, "b2")), W("%s: does nothing: both names stay", dir));
	CHECK_OK(lstat(P(dir, "b"), &st), W("%s: stat the file", dir));
	CHECK_EQ(st.st_nlink, 2, W("%s: which still has two links", dir));
	unlink(P(dir, "b2"));
	CHECK_ERR(rename(P(dir, "missing"), P(dir, "x")), ENOENT, W("%s: rename of a missing name is ENOENT", dir));
	CHECK_ERR(rename(P(dir, "b"), P(dir, "missing/x")), ENOENT, W("%s: rename into a missing directory is ENOENT", dir));
	CHECK_ERR(rename(P(dir, "b/"), P(dir, "c")), ENOTDIR, W("%s: a file with a trailing slash is ENOTDIR", dir));
	CHECK_ERR(rename(P(dir, "b"), P(dir, "b/c")), ENOTDIR, W("%s: rename under a file is ENOTDIR", dir));

	/* Directories. */
	REQUIRE(mkdir(P(dir, "d1"), 0755) == 0 && mkdir(P(dir, "d2"), 0755) == 0 && mkdir(P(dir, "full"), 0755) == 0,
		"mkdir");
	put(P(dir, "d1/child"), "C");
	put(P(dir, "full/x"), "X");
	CHECK_OK(lstat(P(dir, "d1"), &st), W("%s: stat d1", dir));
	CHECK_OK(rename(P(dir, "d1"), P(dir, "d2")), W("%s: rename a directory over an empty one", dir));
	CHECK_OK(lstat(P(dir, "d2"), &st2), W("%s: stat d2", dir));
	CHECK_EQ(st2.st_ino, st.st_ino, W("%s: the target is the moved directory", dir));
	CHECK_STR(get(P(dir, "d2/child")), "C", W("%s: with its children", dir));
	CHECK_ERR(rename(P(dir, "d2"), P(dir, "full")), ENOTEMPTY, W("%s: rename over a non-empty directory is ENOTEMPTY", dir));
	CHECK_ERR(rename(P(dir, "full"), P(dir, "d2")), ENOTEMPTY, W("%s: and the other way", dir));
	CHECK_OK(mkdir(P(dir, "d2/sub"), 0755), W("%s: mkdir d2/sub", dir));
	CHECK_ERR(rename(P(dir, "d2"), P(dir, "d2/sub/d")), EINVAL, W("%s: a directory into its own subdirectory is EINVAL", dir));
	CHECK_ERR(rename(P(dir, "d2"), P(dir, "d2/d")), EINVAL, W("%s: a directory into itself is EINVAL", dir));
	CHECK_ERR(rename(P(dir, "d2/sub"), P(dir, "d2")), ENOTEMPTY, W("%s: a directory over its non-empty parent is ENOTEMPTY", dir));
	CHECK_ERR(rename(P(dir, "b"), P(dir, "d2")), EISDIR, W("%s: a file over a directory is EISDIR", dir));
	CHECK_ERR(rename(P(dir, "d2"), P(dir, "b")), ENOTDIR, W("%s: a directory over a file is ENOTDIR", dir));
	CHECK_ERR(rename(P(dir, "d2/."), P(dir, "x")), EBUSY, W("%s: rename of \".\" is EBUSY", dir));
	CHECK_ERR(rename(P(dir, "d2/sub/.."), P(dir, "x")), EBUSY, W("%s: rename of \"..\" is EBUSY", dir));
	CHECK_ERR(rename(P(dir, "b"), P(dir, "d2/.")), EBUSY, W("%s: rename to \".\" is EBUSY", dir));
	CHECK_OK(rename(P(dir, "d2/"), P(dir, "d3/")), W("%s: a directory with trailing slashes", dir));
	CHECK_OK(lstat(P(dir, "d3/sub"), &st), W("%s: the renamed directory's subdirectory", dir));
	CHECK_OK(lstat(P(dir, "d3"), &st), W("%s: stat d3", dir));
	CHECK_EQ(st.st_nlink, 3, W("%s: the moved directory has 3 links (., its name, sub's ..)", dir));
	CHECK_OK(rename(P(dir, "d3/sub"), P(dir, "full/sub")), W("%s: move a directory to another parent", dir));
	CHECK_OK(lstat(P(dir, "d3"), &st), W("%s: stat the old parent", dir));
	CHECK_EQ(st.st_nlink, 2, W("%s: the old parent lost a link", dir));
	CHECK_OK(lstat(P(dir, "full"), &st), W("%s: stat the new parent", dir));
	CHECK_EQ(st.st_nlink, 3, W("%s: the new parent gained a link", dir));
	CHECK_OK(lstat(P(dir, "full/sub/.."), &st2), W("%s: stat the moved directory's ..", dir));
	CHECK_EQ(st2.st_ino, st.st_ino, W("%s: .. of the moved directory is its new parent", dir));

	rmdir(P(dir, "full/sub"));
	unlink(P(dir, "full/x"));
	rmdir(P(dir, "full"));
	unlink(P(dir, "d3/child"));
	rmdir(P(dir, "d3"));
	unlink(P(dir, "b"));
}

static void test_flags(const char *dir, int whiteout)
{
	struct stat st;

	/* RENAME_NOREPLACE. */
	put(P(dir, "a"), "A");
	put(P(dir, "b"), "B");
	CHECK_ERR(rename2(P(dir, "a"), P(dir, "b"), RENAME_NOREPLACE), EEXIST, W("%s: RENAME_NOREPLACE over a file is EEXIST", dir));
	CHECK_STR(get(P(dir, "b")), "B", W("%s: the target is untouched", dir));
	CHECK_OK(rename2(P(dir, "a"), P(dir, "c"), RENAME_NOREPLACE), W("%s: RENAME_NOREPLACE to a free name", dir));
	CHECK_STR(get(P(dir, "c")), "A", W("%s: moved", dir));
	CHECK_OK(symlink("nowhere", P(dir, "dangling")), W("%s: a dangling symlink", dir));
	CHECK_ERR(rename2(P(dir, "c"), P(dir, "dangling"), RENAME_NOREPLACE), EEXIST,
		  W("%s: RENAME_NOREPLACE over a dangling symlink is EEXIST", dir));

	/* RENAME_EXCHANGE of two files. */
	CHECK_OK(rename2(P(dir, "b"), P(dir, "c"), RENAME_EXCHANGE), W("%s: RENAME_EXCHANGE of two files", dir));
	CHECK(strcmp(get(P(dir, "b")), "A") == 0 && strcmp(get(P(dir, "c")), "B") == 0, W("%s: the files swapped names", dir));
	CHECK_ERR(rename2(P(dir, "b"), P(dir, "missing"), RENAME_EXCHANGE), ENOENT, W("%s: RENAME_EXCHANGE with a missing target is ENOENT", dir));
	CHECK_ERR(rename2(P(dir, "missing"), P(dir, "b"), RENAME_EXCHANGE), ENOENT, W("%s: RENAME_EXCHANGE with a missing source is ENOENT", dir));
	CHECK_OK(rename2(P(dir, "b"), P(dir, "b"), RENAME_EXCHANGE), W("%s: RENAME_EXCHANGE of a file with itself", dir));
	CHECK_STR(get(P(dir, "b")), "A", W("%s: changes nothing", dir));

	/* Of two directories, and of a directory with a file. */
	REQUIRE(mkdir(P(dir, "d1"), 0755) == 0 && mkdir(P(dir, "d2"), 0755) == 0 && mkdir(P(dir, "d2/sub"), 0755) == 0,
		"mkdir");
	put(P(dir, "d1/one"), "1");
	put(P(dir, "d2/two"), "2");
	CHECK_OK(rename2(P(dir, "d1"), P(dir, "d2"), RENAME_EXCHANGE), W("%s: RENAME_EXCHANGE of two directories", dir));
	CHECK(strcmp(get(P(dir, "d1/two")), "2") == 0 && strcmp(get(P(dir, "d2/one")), "1") == 0,
	      W("%s: the directories swapped with their children", dir));
	CHECK_OK(rename2(P(dir, "d1/sub"), P(dir, "d2/one"), RENAME_EXCHANGE), W("%s: RENAME_EXCHANGE of a directory and a file in other directories", dir));
	CHECK(is_dir(P(dir, "d2/one")) && strcmp(get(P(dir, "d1/sub")), "1") == 0, W("%s: the directory and the file swapped", dir));
	CHECK_OK(lstat(P(dir, "d1"), &st), W("%s: stat d1", dir));
	CHECK_EQ(st.st_nlink, 2, W("%s: the directory that lost a subdirectory lost a link", dir));
	CHECK_OK(lstat(P(dir, "d2"), &st), W("%s: stat d2", dir));
	CHECK_EQ(st.st_nlink, 3, W("%s: the directory that gained one gained a link", dir));
	CHECK_ERR(rename2(P(dir, "d2"), P(dir, "d2/one"), RENAME_EXCHANGE), EINVAL, W("%s: RENAME_EXCHANGE of a directory with its child is EINVAL", dir));
	CHECK_ERR(rename2(P(dir, "d2/one"), P(dir, "d2"), RENAME_EXCHANGE), EINVAL, W("%s: RENAME_EXCHANGE of a child with its directory is EINVAL", dir));
	CHECK_OK(rename2(P(dir, "b"), P(dir, "d1"), RENAME_EXCHANGE), W("%s: RENAME_EXCHANGE of a file and a directory", dir));
	CHECK(is_dir(P(dir, "b")) && strcmp(get(P(dir, "d1")), "A") == 0, W("%s: the file and the directory swapped", dir));
	CHECK_STR(get(P(dir, "b/two")), "2", W("%s: the swapped directory keeps its children", dir));
	CHECK_OK(rename2(P(dir, "b"), P(dir, "d1"), RENAME_EXCHANGE), W("%s: RENAME_EXCHANGE back", dir));

	/* Bad flags. */
	CHECK_ERR(rename2(P(dir, "b"), P(dir, "c"), RENAME_EXCHANGE | RENAME_NOREPLACE), EINVAL,
		  W("%s: RENAME_EXCHANGE with RENAME_NOREPLACE is EINVAL", dir));
	CHECK_ERR(rename2(P(dir, "b"), P(dir, "c"), RENAME_EXCHANGE | RENAME_WHITEOUT), EINVAL,
		  W("%s: RENAME_EXCHANGE with RENAME_WHITEOUT is EINVAL", dir));
	CHECK_ERR(rename2(P(dir, "b"), P(dir, "c"), 8), EINVAL, W("%s: an unknown flag is EINVAL", dir));
	CHECK(strcmp(get(P(dir, "b")), "A") == 0 && strcmp(get(P(dir, "c")), "B") == 0, W("%s: the refused calls changed nothing", dir));

	/* RENAME_WHITEOUT: where the filesystem supports it (not Linux's
	 * overlayfs, EINVAL), it leaves a 0:0 char device at the old name. */
	put(P(dir, "w1"), "W");
	whiteout_ok = whiteout;
	check_in_child(no_mknod, dir, W("%s: RENAME_WHITEOUT without CAP_MKNOD", dir));
	if (whiteout) {
		CHECK_ERR(rename(P(dir, "d1"), P(dir, "w1")), ENOTDIR, W("%s: a directory over a whiteout is ENOTDIR", dir));
		CHECK_OK(unlink(P(dir, "w1")), W("%s: unlink the whiteout", dir));
		CHECK_OK(rename2(P(dir, "w2"), P(dir, "w1"), RENAME_WHITEOUT), W("%s: RENAME_WHITEOUT to a free name", dir));
		CHECK_STR(get(P(dir, "w1")), "W", W("%s: moved", dir));
		CHECK_OK(lstat(P(dir, "w2"), &st), W("%s: stat the whiteout", dir));
		CHECK(S_ISCHR(st.st_mode) && st.st_rdev == 0, W("%s: a 0:0 char device", dir));
		CHECK_ERR(rename2(P(dir, "w1"), P(dir, "b"), RENAME_WHITEOUT | RENAME_NOREPLACE), EEXIST,
			  W("%s: RENAME_WHITEOUT|RENAME_NOREPLACE over a file is EEXIST", dir));
		CHECK_STR(get(P(dir, "w1")), "W", W("%s: and leaves the source", dir));
		CHECK_OK(rename2(P(dir, "w1"), P(dir, "b"), RENAME_WHITEOUT), W("%s: RENAME_WHITEOUT over a file", dir));
		CHECK_STR(get(P(dir, "b")), "W", W("%s: replaces it", dir));
		CHECK_OK(lstat(P(dir, "w1"), &st), W("%s: and leaves a whiteout", dir));
		CHECK(S_ISCHR(st.st_mode) && st.st_rdev == 0, W("%s: which is a 0:0 char device", dir));
		CHECK_ERR(rename2(P(dir, "d1"), P(dir, "w1"), RENAME_WHITEOUT), ENOTDIR,
			  W("%s: RENAME_WHITEOUT of a directory over a file is ENOTDIR", dir));
		CHECK_OK(rename2(P(dir, "d1"), P(dir, "d4"), RENAME_WHITEOUT), W("%s: RENAME_WHITEOUT of a directory", dir));
		CHECK(is_dir(P(dir, "d4")), W("%s: the directory moved", dir));
		CHECK_OK(lstat(P(dir, "d1"), &st), W("%s: the directory's old name is there", dir));
		CHECK(S_ISCHR(st.st_mode) && st.st_rdev == 0, W("%s: as a 0:0 char device", dir));
		CHECK_OK(unlink(P(dir, "d1")), W("%s: unlink the directory's whiteout", dir));
		CHECK_OK(rename(P(dir, "d4"), P(dir, "d1")), W("%s: rename the directory back", dir));
	} else {
		CHECK_ERR(rename2(P(dir, "w1"), P(dir, "w2"), RENAME_WHITEOUT), EINVAL,
			  W("%s: RENAME_WHITEOUT on the overlay is EINVAL", dir));
	}

	const char *names[] = { "a", "b", "c", "w1", "w2", "w3", "dangling", "d1/two", "d1/sub", "d2/one/sub", "d2/one", "d2/sub" };
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (unlink(P(dir, names[i])) != 0)
			rmdir(P(dir, names[i]));
	rmdir(P(dir, "d1"));
	rmdir(P(dir, "d2"));
}

/* test_existing renames entries made before the program started. */
static void test_existing(const char *dir)
{
	struct stat st, st2;

	REQUIRE(strcmp(get(P(dir, "file")), "lower\n") == 0, W("%s/file holds \"lower\\n\"", dir));
	REQUIRE(is_dir(P(dir, "dir")) && exists(P(dir, "dir/a")) && exists(P(dir, "dir/sub/b")), W("%s/dir/a and dir/sub/b exist", dir));

	/* An existing file exchanged with a new one, and back. */
	put(P(dir, "new"), "new\n");
	CHECK_OK(rename2(P(dir, "file"), P(dir, "new"), RENAME_EXCHANGE), W("%s: RENAME_EXCHANGE of an existing file with a new one", dir));
	CHECK(strcmp(get(P(dir, "file")), "new\n") == 0 && strcmp(get(P(dir, "new")), "lower\n") == 0, W("%s: they swapped", dir));
	CHECK_OK(rename2(P(dir, "new"), P(dir, "file"), RENAME_EXCHANGE), W("%s: RENAME_EXCHANGE back", dir));
	CHECK_STR(get(P(dir, "file")), "lower\n", W("%s: the existing file is back", dir));
	CHECK_ERR(rename2(P(dir, "new"), P(dir, "file"), RENAME_NOREPLACE), EEXIST, W("%s: RENAME_NOREPLACE over an existing file is EEXIST", dir));
	CHECK_OK(unlink(P(dir, "new")), W("%s: unlink the new file", dir));

	/* An existing file moved away and back. */
	CHECK_OK(lstat(P(dir, "file"), &st), W("%s: stat the existing file", dir));
	CHECK_OK(rename(P(dir, "file"), P(dir, "moved")), W("%s: rename an existing file", dir));
	CHECK(!exists(P(dir, "file")), W("%s: its old name is gone", dir));
	CHECK_STR(get(P(dir, "moved")), "lower\n", W("%s: the new name has its contents", dir));
	CHECK_OK(lstat(P(dir, "moved"), &st2), W("%s: stat the moved file", dir));
	CHECK_EQ(st2.st_ino, st.st_ino, W("%s: the moved file keeps its inode number", dir));
	CHECK_OK(rename(P(dir, "moved"), P(dir, "file")), W("%s: rename it back", dir));

	/* An existing directory with children moved away and back. */
	CHECK_OK(rename(P(dir, "dir"), P(dir, "dir2")), W("%s: rename an existing directory with children", dir));
	CHECK(!exists(P(dir, "dir")), W("%s: its old name is gone", dir));
	CHECK(exists(P(dir, "dir2/a")) && exists(P(dir, "dir2/sub/b")), W("%s: its children moved with it", dir));
	put(P(dir, "dir2/c"), "c");
	CHECK_OK(mkdir(P(dir, "dir"), 0755), W("%s: a new directory at the old name", dir));
	CHECK(!exists(P(dir, "dir/a")), W("%s: shows none of the old children", dir));
	CHECK_OK(rmdir(P(dir, "dir")), W("%s: remove the new directory", dir));
	CHECK_OK(unlink(P(dir, "dir2/c")), W("%s: unlink the added child", dir));
	CHECK_OK(rename(P(dir, "dir2/sub"), P(dir, "sub2")), W("%s: move an existing subdirectory out", dir));
	CHECK_OK(rename(P(dir, "sub2"), P(dir, "dir2/sub")), W("%s: and back", dir));
	CHECK_OK(rename(P(dir, "dir2"), P(dir, "dir")), W("%s: rename the directory back", dir));
	CHECK(exists(P(dir, "dir/a")) && exists(P(dir, "dir/sub/b")), W("%s: with its children", dir));

	/* An existing directory exchanged with a new one, and back. */
	CHECK_OK(mkdir(P(dir, "newdir"), 0755), W("%s: a new directory", dir));
	CHECK_OK(rename2(P(dir, "dir"), P(dir, "newdir"), RENAME_EXCHANGE), W("%s: RENAME_EXCHANGE of an existing directory with a new one", dir));
	CHECK(exists(P(dir, "newdir/a")) && !exists(P(dir, "dir/a")), W("%s: they swapped", dir));
	CHECK_OK(rename2(P(dir, "dir"), P(dir, "newdir"), RENAME_EXCHANGE), W("%s: RENAME_EXCHANGE back", dir));
	CHECK(exists(P(dir, "dir/sub/b")), W("%s: the existing directory is back", dir));
	CHECK_OK(rmdir(P(dir, "newdir")), W("%s: remove the new directory", dir));
	CHECK_ERR(rename(P(dir, "file"), P(dir, "dir")), EISDIR, W("%s: an existing file over an existing directory is EISDIR", dir));
	CHECK_ERR(rename(P(dir, "dir/sub"), P(dir, "dir")), ENOTEMPTY, W("%s: an existing directory over its non-empty parent is ENOTEMPTY", dir));
}

static void test_dir(const char *dir, int whiteout)
{
	test_plain(dir);
	test_flags(dir, whiteout);
	CHECK_OK(rmdir(dir), W("%s: remove the scratch directory (nothing left)", dir));
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		test_existing(argv[1]);
		return check_done();
	}
	char tmpdir[] = "/tmp/renameXXXXXX", shmdir[] = "/dev/shm/renameXXXXXX", rootdir[] = "/renameXXXXXX";
	struct statfs sf;
	/* /tmp is the overlay root when runsc do runs from under /tmp. */
	REQUIRE(mkdtemp(tmpdir) != NULL, "mkdtemp under /tmp");
	REQUIRE(statfs(tmpdir, &sf) == 0, "statfs the scratch directory under /tmp");
	test_dir(tmpdir, sf.f_type != OVERLAYFS_SUPER_MAGIC);
	REQUIRE(mkdtemp(shmdir) != NULL, "mkdtemp under /dev/shm");
	test_dir(shmdir, 1);
	REQUIRE(mkdtemp(rootdir) != NULL, "mkdtemp under /");
	/*
	 * The native root is ext4, which makes whiteouts; in the sandbox it is
	 * an overlay, which (like Linux's overlayfs) does not: only the
	 * sandbox's answer is checked there.
	 */
	REQUIRE(statfs(rootdir, &sf) == 0, "statfs the scratch directory under /");
	test_dir(rootdir, sf.f_type != OVERLAYFS_SUPER_MAGIC);
	return check_done();
}
