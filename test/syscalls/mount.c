/*
 * mount.c: mount(2) and umount2(2) with CAP_SYS_ADMIN: a tmpfs over a
 * directory (its own device and statfs type, listed in /proc/self/mounts,
 * gone after umount), remounting read-only, bind mounts, EBUSY for rmdir
 * and rename of a mount point and for umount of a mount with another on
 * it (MNT_DETACH takes both), and the errors: EINVAL for a directory that
 * is not a mount point, ENODEV for an unknown type, EPERM without
 * CAP_SYS_ADMIN.
 *
 * runsc-do-flags: --cap-add=SYS_ADMIN
 */
#include "check.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define TMPFS_MAGIC 0x01021994

static char base[64], a[96], b[96], src[96], sub[128], file[128], path[160];

static int listed(const char *dir)
{
	FILE *f = fopen("/proc/self/mounts", "r");
	char line[512], want[160];
	int found = 0;
	snprintf(want, sizeof want, " %s tmpfs ", dir);
	while (f && fgets(line, sizeof line, f))
		if (strstr(line, want))
			found = 1;
	if (f)
		fclose(f);
	return found;
}

static int child_without_cap(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	syscall(SYS_capget, &h, d);
	d[0].effective &= ~(1u << CAP_SYS_ADMIN);
	if (syscall(SYS_capset, &h, d) != 0)
		return 1;
	if (mount("none", a, "tmpfs", 0, NULL) != -1 || errno != EPERM)
		return 2;
	if (umount2(a, 0) != -1 || errno != EPERM)
		return 3;
	return 0;
}

int main(void)
{
	snprintf(base, sizeof base, "/var/tmp/mount.%d", getpid());
	snprintf(a, sizeof a, "%s/a", base);
	snprintf(b, sizeof b, "%s/b", base);
	snprintf(src, sizeof src, "%s/src", base);
	REQUIRE(mkdir(base, 0755) == 0 && mkdir(a, 0755) == 0 && mkdir(b, 0755) == 0 && mkdir(src, 0755) == 0,
		"make scratch directories under /var/tmp");
	struct stat before, st;
	stat(a, &before);

	CHECK_OK(mount("none", a, "tmpfs", 0, "size=1m,mode=0700"), "mount a tmpfs");
	CHECK_OK(stat(a, &st), "stat the mount point");
	CHECK(st.st_dev != before.st_dev, "it is a new device");
	CHECK_EQ(st.st_mode & 07777, 0700, "with the mode= option's mode");
	struct statfs sf;
	CHECK_OK(statfs(a, &sf), "statfs");
	CHECK_EQ(sf.f_type, TMPFS_MAGIC, "of type tmpfs");
	CHECK(listed(a), "/proc/self/mounts lists it");
	snprintf(file, sizeof file, "%s/f", a);
	int fd = open(file, O_RDWR | O_CREAT, 0600);
	CHECK(fd >= 0, "create a file on it");
	close(fd);
	CHECK_ERR(rmdir(a), EBUSY, "rmdir of a mount point is EBUSY");
	CHECK_ERR(rename(a, b), EBUSY, "rename of a mount point is EBUSY");

	CHECK_OK(mount(NULL, a, NULL, MS_REMOUNT | MS_RDONLY, NULL), "remount read-only");
	CHECK_ERR(open(file, O_RDWR), EROFS, "then opening for writing is EROFS");
	snprintf(path, sizeof path, "%s/newdir", a);
	CHECK_ERR(mkdir(path, 0700), EROFS, "and mkdir is EROFS");
	CHECK_OK(mount(NULL, a, NULL, MS_REMOUNT, NULL), "remount read-write");
	fd = open(file, O_RDWR);
	CHECK(fd >= 0, "writable again");
	close(fd);

	snprintf(sub, sizeof sub, "%s/sub", a);
	mkdir(sub, 0755);
	CHECK_OK(mount("none", sub, "tmpfs", 0, NULL), "mount another tmpfs inside it");
	CHECK_ERR(umount2(a, 0), EBUSY, "umount of a mount with another on it is EBUSY");
	CHECK_OK(umount2(a, MNT_DETACH), "MNT_DETACH takes both");
	CHECK(!listed(a) && !listed(sub), "neither is listed any more");
	CHECK_ERR(stat(file, &st), ENOENT, "the file on the tmpfs is gone");
	CHECK_OK(stat(a, &st), "stat the directory again");
	CHECK_EQ(st.st_dev, before.st_dev, "it is back on its own filesystem");

	snprintf(file, sizeof file, "%s/in-src", src);
	fd = open(file, O_RDWR | O_CREAT, 0600);
	write(fd, "bound", 5);
	close(fd);
	CHECK_OK(mount(src, b, NULL, MS_BIND, NULL), "bind mount a directory");
	char buf[8] = {0};
	snprintf(path, sizeof path, "%s/in-src", b);
	fd = open(path, O_RDONLY);
	CHECK_EQ(read(fd, buf, sizeof buf), 5, "its files show through the bind mount");
	close(fd);
	CHECK_STR(buf, "bound", "with their contents");
	snprintf(path, sizeof path, "%s/new", b);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	close(fd);
	snprintf(path, sizeof path, "%s/new", src);
	CHECK_OK(stat(path, &st), "a file made through the bind mount is in the source");
	CHECK_OK(umount(b), "umount the bind mount");
	unlink(path);
	unlink(file);

	CHECK_ERR(umount(base), EINVAL, "umount of a directory that is not a mount point is EINVAL");
	CHECK_ERR(umount("/var/tmp/no/such/dir"), ENOENT, "umount of a missing path is ENOENT");
	CHECK_ERR(mount("none", a, "no-such-fs", 0, NULL), ENODEV, "an unknown filesystem type is ENODEV");
	CHECK_ERR(umount2(a, 0x100), EINVAL, "unknown umount2 flags are EINVAL");

	pid_t c = fork();
	if (c == 0)
		_exit(child_without_cap());
	int ws;
	waitpid(c, &ws, 0);
	CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "without CAP_SYS_ADMIN mount and umount are EPERM");

	rmdir(sub);
	rmdir(a);
	rmdir(b);
	rmdir(src);
	rmdir(base);
	return check_done();
}
