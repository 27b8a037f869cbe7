/*
 * xattr.c checks the extended attribute calls (setxattr(2), getxattr(2),
 * listxattr(2), removexattr(2), their l* and f* forms; xattr(7)) on /tmp
 * and /dev/shm (tmpfs in the sandbox) and in a scratch directory under /
 * (the overlay root in the sandbox): user.* values, XATTR_CREATE and
 * XATTR_REPLACE, size-0 queries and ERANGE for small buffers, ERANGE and
 * E2BIG for oversized names and values, EOPNOTSUPP for unknown
 * namespaces, user.* refused (EPERM, ENODATA) on symlinks and FIFOs,
 * trusted.* with and without CAP_SYS_ADMIN, and the permission rules for
 * an unprivileged caller (read permission to get, write permission to set,
 * the owner only on a sticky directory).
 *
 * runsc-do-flags: --cap-add=SYS_ADMIN
 */
#include "check.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>

static int have_admin;

static int has_cap(int cap)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) != 0)
		return 0;
	return (d[cap / 32].effective >> (cap % 32)) & 1;
}

/* drop_admin drops CAP_SYS_ADMIN from the effective set. */
static int drop_admin(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) != 0)
		return -1;
	d[0].effective &= ~(1u << CAP_SYS_ADMIN);
	return syscall(SYS_capset, &h, d);
}

/* listed reports whether the NUL-separated list buf of n bytes holds name. */
static int listed(const char *buf, ssize_t n, const char *name)
{
	for (ssize_t i = 0; i < n; i += strlen(buf + i) + 1)
		if (strcmp(buf + i, name) == 0)
			return 1;
	return 0;
}

static char what[256];

/* W formats a check description with the directory being tested. */
#define W(...) (snprintf(what, sizeof(what), __VA_ARGS__), what)

static void test_user(const char *dir)
{
	char f[200], d[200], l[200], p[200], buf[512];
	snprintf(f, sizeof f, "%s/file", dir);
	snprintf(d, sizeof d, "%s/dir", dir);
	snprintf(l, sizeof l, "%s/link", dir);
	snprintf(p, sizeof p, "%s/fifo", dir);
	REQUIRE(close(open(f, O_CREAT | O_WRONLY, 0644)) == 0, W("create %s", f));
	REQUIRE(mkdir(d, 0755) == 0, W("mkdir %s", d));
	REQUIRE(symlink("file", l) == 0, W("symlink %s", l));
	REQUIRE(mkfifo(p, 0644) == 0, W("mkfifo %s", p));

	/* A fresh file has no user attributes. */
	CHECK_ERR(getxattr(f, "user.a", buf, sizeof buf), ENODATA, W("%s: getxattr of a missing attribute is ENODATA", dir));
	CHECK_ERR(removexattr(f, "user.a"), ENODATA, W("%s: removexattr of a missing attribute is ENODATA", dir));

	struct stat before, after;
	stat(f, &before);
	nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
	CHECK_OK(setxattr(f, "user.a", "value1", 6, 0), W("%s: setxattr user.a", dir));
	stat(f, &after);
	CHECK(after.st_ctim.tv_sec > before.st_ctim.tv_sec ||
		      (after.st_ctim.tv_sec == before.st_ctim.tv_sec && after.st_ctim.tv_nsec > before.st_ctim.tv_nsec),
	      W("%s: setxattr changes ctime", dir));
	CHECK_EQ(getxattr(f, "user.a", NULL, 0), 6, W("%s: getxattr with size 0 returns the value's size", dir));
	memset(buf, 0, sizeof buf);
	CHECK_EQ(getxattr(f, "user.a", buf, sizeof buf), 6, W("%s: getxattr returns the size", dir));
	CHECK_STR(buf, "value1", W("%s: getxattr returns the value", dir));
	CHECK_ERR(getxattr(f, "user.a", buf, 5), ERANGE, W("%s: getxattr into a too small buffer is ERANGE", dir));
	CHECK_EQ(getxattr(f, "user.a", buf, 6), 6, W("%s: getxattr into an exact buffer", dir));

	CHECK_ERR(setxattr(f, "user.a", "x", 1, XATTR_CREATE), EEXIST, W("%s: XATTR_CREATE of an existing attribute is EEXIST", dir));
	CHECK_ERR(setxattr(f, "user.b", "x", 1, XATTR_REPLACE), ENODATA, W("%s: XATTR_REPLACE of a missing attribute is ENODATA", dir));
	CHECK_ERR(getxattr(f, "user.b", buf, sizeof buf), ENODATA, W("%s: the failed XATTR_REPLACE created nothing", dir));
	CHECK_OK(setxattr(f, "user.a", "v2", 2, XATTR_REPLACE), W("%s: XATTR_REPLACE of an existing attribute", dir));
	memset(buf, 0, sizeof buf);
	CHECK_EQ(getxattr(f, "user.a", buf, sizeof buf), 2, W("%s: the replaced value's size", dir));
	CHECK_STR(buf, "v2", W("%s: the replaced value", dir));
	CHECK_OK(setxattr(f, "user.b", "", 0, XATTR_CREATE), W("%s: XATTR_CREATE of an empty value", dir));
	CHECK_EQ(getxattr(f, "user.b", buf, sizeof buf), 0, W("%s: an empty value has size 0", dir));
	CHECK_ERR(setxattr(f, "user.c", "x", 1, 4), EINVAL, W("%s: an unknown flag is EINVAL", dir));

	/* Lists hold each name with its NUL. */
	ssize_t n = listxattr(f, NULL, 0);
	CHECK_EQ(n, strlen("user.a") + 1 + strlen("user.b") + 1, W("%s: listxattr with size 0 returns the list's size", dir));
	memset(buf, 0, sizeof buf);
	CHECK_EQ(listxattr(f, buf, sizeof buf), n, W("%s: listxattr returns the list's size", dir));
	CHECK(listed(buf, n, "user.a") && listed(buf, n, "user.b"), W("%s: listxattr lists user.a and user.b", dir));
	CHECK_ERR(listxattr(f, buf, n - 1), ERANGE, W("%s: listxattr into a too small buffer is ERANGE", dir));
	CHECK_EQ(llistxattr(l, buf, sizeof buf), 0, W("%s: llistxattr of a symlink lists nothing", dir));
	CHECK_EQ(listxattr(l, buf, sizeof buf), n, W("%s: listxattr follows a symlink", dir));
	CHECK_EQ(listxattr(d, buf, sizeof buf), 0, W("%s: a fresh directory lists nothing", dir));

	/* Names and values at and past the limits. */
	char name[300];
	memset(name, 'n', sizeof name);
	memcpy(name, "user.", 5);
	name[255] = 0;
	CHECK_OK(setxattr(f, name, "x", 1, 0), W("%s: a 255-byte name is allowed", dir));
	CHECK_EQ(getxattr(f, name, buf, sizeof buf), 1, W("%s: getxattr of a 255-byte name", dir));
	CHECK_OK(removexattr(f, name), W("%s: removexattr of a 255-byte name", dir));
	name[255] = 'n';
	name[256] = 0;
	CHECK_ERR(setxattr(f, name, "x", 1, 0), ERANGE, W("%s: setxattr of a 256-byte name is ERANGE", dir));
	CHECK_ERR(getxattr(f, name, buf, sizeof buf), ERANGE, W("%s: getxattr of a 256-byte name is ERANGE", dir));
	CHECK_ERR(removexattr(f, name), ERANGE, W("%s: removexattr of a 256-byte name is ERANGE", dir));
	CHECK_ERR(setxattr(f, "", "x", 1, 0), ERANGE, W("%s: setxattr of an empty name is ERANGE", dir));
	CHECK_ERR(getxattr(f, "", buf, sizeof buf), ERANGE, W("%s: getxattr of an empty name is ERANGE", dir));
	static char big[65537];
	CHECK_ERR(setxattr(f, "user.big", big, sizeof big, 0), E2BIG, W("%s: a value over 64 KiB is E2BIG", dir));
	CHECK_ERR(getxattr(f, "user.big", buf, sizeof buf), ENODATA, W("%s: the E2BIG value was not stored", dir));
	memset(big, 'v', 1000);
	CHECK_OK(setxattr(f, "user.k", big, 1000, 0), W("%s: a 1000-byte value", dir));
	char *back = malloc(70000);
	REQUIRE(back != NULL, "malloc");
	CHECK_EQ(getxattr(f, "user.k", back, 70000), 1000, W("%s: getxattr with a buffer over 64 KiB", dir));
	CHECK(memcmp(back, big, 1000) == 0, W("%s: the 1000-byte value reads back", dir));
	free(back);
	CHECK_OK(removexattr(f, "user.k"), W("%s: remove the 1000-byte value", dir));

	/* Namespaces. */
	CHECK_ERR(setxattr(f, "foo.bar", "x", 1, 0), EOPNOTSUPP, W("%s: setxattr in an unknown namespace is EOPNOTSUPP", dir));
	CHECK_ERR(getxattr(f, "foo.bar", buf, sizeof buf), EOPNOTSUPP, W("%s: getxattr in an unknown namespace is EOPNOTSUPP", dir));
	CHECK_ERR(removexattr(f, "foo.bar"), EOPNOTSUPP, W("%s: removexattr in an unknown namespace is EOPNOTSUPP", dir));
	CHECK_ERR(setxattr(f, "user", "x", 1, 0), EOPNOTSUPP, W("%s: a name without a namespace is EOPNOTSUPP", dir));
	CHECK_ERR(setxattr(f, "user.", "x", 1, 0), EINVAL, W("%s: \"user.\" alone is EINVAL", dir));
	CHECK_ERR(getxattr(f, "user.", buf, sizeof buf), EINVAL, W("%s: getxattr of \"user.\" alone is EINVAL", dir));

	/* user.* belongs to regular files and directories. */
	CHECK_OK(setxattr(d, "user.d", "dir", 3, 0), W("%s: setxattr user.* on a directory", dir));
	CHECK_EQ(getxattr(d, "user.d", buf, sizeof buf), 3, W("%s: getxattr user.* on a directory", dir));
	CHECK_ERR(lsetxattr(l, "user.s", "x", 1, 0), EPERM, W("%s: lsetxattr user.* on a symlink is EPERM", dir));
	CHECK_ERR(lgetxattr(l, "user.a", buf, sizeof buf), ENODATA, W("%s: lgetxattr user.* on a symlink is ENODATA", dir));
	CHECK_ERR(lremovexattr(l, "user.a"), EPERM, W("%s: lremovexattr user.* on a symlink is EPERM", dir));
	CHECK_EQ(getxattr(l, "user.a", buf, sizeof buf), 2, W("%s: getxattr follows the symlink to the file", dir));
	CHECK_OK(setxattr(l, "user.vialink", "1", 1, 0), W("%s: setxattr through a symlink", dir));
	CHECK_EQ(getxattr(f, "user.vialink", buf, sizeof buf), 1, W("%s: setxattr through a symlink set the file's", dir));
	CHECK_ERR(setxattr(p, "user.p", "x", 1, 0), EPERM, W("%s: setxattr user.* on a FIFO is EPERM", dir));
	CHECK_ERR(getxattr(p, "user.p", buf, sizeof buf), ENODATA, W("%s: getxattr user.* on a FIFO is ENODATA", dir));
	CHECK_EQ(listxattr(p, buf, sizeof buf), 0, W("%s: listxattr of a FIFO lists nothing", dir));

	/* The f* calls work on descriptors, read-only ones included. */
	int fd = open(f, O_RDONLY);
	REQUIRE(fd >= 0, W("open %s", f));
	CHECK_OK(fsetxattr(fd, "user.fd", "fdv", 3, 0), W("%s: fsetxattr on a read-only descriptor", dir));
	memset(buf, 0, sizeof buf);
	CHECK_EQ(fgetxattr(fd, "user.fd", buf, sizeof buf), 3, W("%s: fgetxattr", dir));
	CHECK_STR(buf, "fdv", W("%s: fgetxattr returns the value", dir));
	n = flistxattr(fd, buf, sizeof buf);
	CHECK(n > 0 && listed(buf, n, "user.fd") && listed(buf, n, "user.a"), W("%s: flistxattr lists the file's names", dir));
	CHECK_OK(fremovexattr(fd, "user.fd"), W("%s: fremovexattr", dir));
	CHECK_ERR(fgetxattr(fd, "user.fd", buf, sizeof buf), ENODATA, W("%s: fremovexattr removed it", dir));
	CHECK_ERR(fremovexattr(fd, "user.fd"), ENODATA, W("%s: fremovexattr of a missing attribute is ENODATA", dir));
	close(fd);
	fd = open(f, O_PATH);
	REQUIRE(fd >= 0, W("open %s O_PATH", f));
	CHECK_ERR(fgetxattr(fd, "user.a", buf, sizeof buf), EBADF, W("%s: fgetxattr on an O_PATH descriptor is EBADF", dir));
	CHECK_ERR(fsetxattr(fd, "user.a", "x", 1, 0), EBADF, W("%s: fsetxattr on an O_PATH descriptor is EBADF", dir));
	close(fd);
	CHECK_ERR(fgetxattr(fd, "user.a", buf, sizeof buf), EBADF, W("%s: fgetxattr on a closed descriptor is EBADF", dir));

	/* An attribute stays with the file through a rename and a link. */
	char f2[220], f3[220];
	snprintf(f2, sizeof f2, "%s/renamed", dir);
	snprintf(f3, sizeof f3, "%s/hardlink", dir);
	CHECK_OK(rename(f, f2), W("%s: rename the file", dir));
	CHECK_EQ(getxattr(f2, "user.a", buf, sizeof buf), 2, W("%s: the renamed file keeps its attribute", dir));
	CHECK_OK(link(f2, f3), W("%s: link the file", dir));
	CHECK_OK(setxattr(f3, "user.l", "1", 1, 0), W("%s: setxattr through the second link", dir));
	CHECK_EQ(getxattr(f2, "user.l", buf, sizeof buf), 1, W("%s: both links share the attributes", dir));
	CHECK_OK(rename(f2, f), W("%s: rename the file back", dir));
	CHECK_OK(unlink(f3), W("%s: unlink the second link", dir));

	CHECK_OK(removexattr(f, "user.a"), W("%s: removexattr", dir));
	CHECK_ERR(getxattr(f, "user.a", buf, sizeof buf), ENODATA, W("%s: the removed attribute is gone", dir));
	CHECK_ERR(removexattr(f, "user.a"), ENODATA, W("%s: removing it again is ENODATA", dir));
}

static void test_trusted(const char *dir)
{
	char f[200], l[200], buf[256];
	snprintf(f, sizeof f, "%s/file", dir);
	snprintf(l, sizeof l, "%s/link", dir);
	if (!have_admin) {
		CHECK_ERR(setxattr(f, "trusted.t", "x", 1, 0), EPERM, W("%s: trusted.* without CAP_SYS_ADMIN is EPERM", dir));
		return;
	}
	CHECK_OK(setxattr(f, "trusted.t", "tv", 2, 0), W("%s: setxattr trusted.* with CAP_SYS_ADMIN", dir));
	memset(buf, 0, sizeof buf);
	CHECK_EQ(getxattr(f, "trusted.t", buf, sizeof buf), 2, W("%s: getxattr trusted.*", dir));
	CHECK_STR(buf, "tv", W("%s: the trusted value", dir));
	ssize_t n = listxattr(f, buf, sizeof buf);
	CHECK(n > 0 && listed(buf, n, "trusted.t"), W("%s: listxattr lists trusted.* names for CAP_SYS_ADMIN", dir));
	CHECK_OK(lsetxattr(l, "trusted.s", "s", 1, 0), W("%s: lsetxattr trusted.* on a symlink", dir));
	CHECK_EQ(lgetxattr(l, "trusted.s", buf, sizeof buf), 1, W("%s: lgetxattr trusted.* on a symlink", dir));
	CHECK_ERR(getxattr(f, "trusted.s", buf, sizeof buf), ENODATA, W("%s: the symlink's attribute is not the file's", dir));
	CHECK_ERR(setxattr(f, "trusted.", "x", 1, 0), EINVAL, W("%s: \"trusted.\" alone is EINVAL", dir));
}

/* unprivileged runs in a child: checks of a caller without CAP_SYS_ADMIN,
 * then of uid 65534 without any capability. */
static void unprivileged(const char *dir)
{
	char f[200], ro[200], rw[200], priv[200], sticky[200], buf[256];
	snprintf(f, sizeof f, "%s/file", dir);
	snprintf(ro, sizeof ro, "%s/ro", dir);
	snprintf(rw, sizeof rw, "%s/rw", dir);
	snprintf(priv, sizeof priv, "%s/private", dir);
	snprintf(sticky, sizeof sticky, "%s/sticky", dir);

	REQUIRE(drop_admin() == 0, "drop CAP_SYS_ADMIN");
	CHECK_ERR(setxattr(f, "trusted.t2", "x", 1, 0), EPERM, W("%s: setxattr trusted.* without CAP_SYS_ADMIN is EPERM", dir));
	CHECK_ERR(getxattr(f, "trusted.t", buf, sizeof buf), ENODATA, W("%s: getxattr trusted.* without CAP_SYS_ADMIN is ENODATA", dir));
	CHECK_ERR(removexattr(f, "trusted.t"), EPERM, W("%s: removexattr trusted.* without CAP_SYS_ADMIN is EPERM", dir));
	ssize_t n = listxattr(f, buf, sizeof buf);
	CHECK(n >= 0 && !listed(buf, n, "trusted.t"), W("%s: listxattr hides trusted.* without CAP_SYS_ADMIN", dir));
	CHECK(n >= 0 && listed(buf, n, "user.b"), W("%s: listxattr still lists user.*", dir));

	REQUIRE(setresgid(65534, 65534, 65534) == 0 && setresuid(65534, 65534, 65534) == 0, "become uid 65534");
	CHECK_EQ(getxattr(ro, "user.r", buf, sizeof buf), 1, W("%s: getxattr needs only read permission", dir));
	CHECK_ERR(setxattr(ro, "user.r", "y", 1, 0), EACCES, W("%s: setxattr without write permission is EACCES", dir));
	CHECK_ERR(removexattr(ro, "user.r"), EACCES, W("%s: removexattr without write permission is EACCES", dir));
	CHECK_OK(setxattr(rw, "user.w", "1", 1, 0), W("%s: setxattr with write permission, not the owner", dir));
	CHECK_OK(removexattr(rw, "user.w"), W("%s: removexattr with write permission, not the owner", dir));
	CHECK_ERR(getxattr(priv, "user.p", buf, sizeof buf), EACCES, W("%s: getxattr without read permission is EACCES", dir));
	n = listxattr(priv, buf, sizeof buf);
	CHECK(n > 0 && listed(buf, n, "user.p"), W("%s: listxattr needs no permission on the file", dir));
	CHECK_ERR(setxattr(sticky, "user.s", "x", 1, 0), EPERM, W("%s: setxattr on a sticky directory not owned is EPERM", dir));
	CHECK_EQ(getxattr(sticky, "user.st", buf, sizeof buf), 1, W("%s: getxattr on a sticky directory not owned", dir));
	CHECK_ERR(setxattr(f, "trusted.t2", "x", 1, 0), EPERM, W("%s: setxattr trusted.* as uid 65534 is EPERM", dir));
}

static void test_dir(const char *dir)
{
	char ro[200], rw[200], priv[200], sticky[200];
	snprintf(ro, sizeof ro, "%s/ro", dir);
	snprintf(rw, sizeof rw, "%s/rw", dir);
	snprintf(priv, sizeof priv, "%s/private", dir);
	snprintf(sticky, sizeof sticky, "%s/sticky", dir);

	test_user(dir);
	test_trusted(dir);

	REQUIRE(close(open(ro, O_CREAT | O_WRONLY, 0644)) == 0 && close(open(rw, O_CREAT | O_WRONLY, 0666)) == 0 &&
			close(open(priv, O_CREAT | O_WRONLY, 0600)) == 0 && mkdir(sticky, 0777) == 0,
		"create the files of the permission checks");
	REQUIRE(chmod(rw, 0666) == 0 && chmod(sticky, 01777) == 0, "chmod the files of the permission checks");
	REQUIRE(setxattr(ro, "user.r", "x", 1, 0) == 0 && setxattr(priv, "user.p", "x", 1, 0) == 0 &&
			setxattr(sticky, "user.st", "x", 1, 0) == 0,
		"set the attributes of the permission checks");
	/* The dir's own mode lets uid 65534 reach the files. */
	REQUIRE(chmod(dir, 0755) == 0, "chmod the test directory");
	check_in_child(unprivileged, dir, W("%s: unprivileged checks", dir));

	const char *names[] = { "file", "dir", "link", "fifo", "ro", "rw", "private", "sticky" };
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		char p[220];
		snprintf(p, sizeof p, "%s/%s", dir, names[i]);
		if (strcmp(names[i], "dir") == 0 || strcmp(names[i], "sticky") == 0)
			rmdir(p);
		else
			unlink(p);
	}
	CHECK_OK(rmdir(dir), W("%s: remove the scratch directory", dir));
}

int main(void)
{
	char tmpdir[] = "/tmp/xattrtestXXXXXX", shmdir[] = "/dev/shm/xattrtestXXXXXX", rootdir[] = "/xattrtestXXXXXX";

	have_admin = has_cap(CAP_SYS_ADMIN);

	REQUIRE(mkdtemp(tmpdir) != NULL, "mkdtemp under /tmp");
	test_dir(tmpdir);
	REQUIRE(mkdtemp(shmdir) != NULL, "mkdtemp under /dev/shm");
	test_dir(shmdir);
	REQUIRE(mkdtemp(rootdir) != NULL, "mkdtemp under /");
	test_dir(rootdir);
	return check_done();
}
