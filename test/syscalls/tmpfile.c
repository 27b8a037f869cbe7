/*
 * tmpfile.c: open(2) with O_TMPFILE on tmpfs: an unnamed regular file
 * (no directory entry, link count 0, mode from the call and umask) that
 * reads and writes like any file; linkat(2) with AT_EMPTY_PATH names it
 * (with CAP_DAC_READ_SEARCH; ENOENT without), unless it was opened with
 * O_EXCL; and the errors for a read-only access mode, a non-directory and
 * a missing directory.
 */
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>

static int have_cap(int cap)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) != 0)
		return 0;
	return (d[cap / 32].effective >> (cap % 32)) & 1;
}

static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

int main(void)
{
	char dir[64], name[96];
	snprintf(dir, sizeof dir, "/dev/shm/tmpfile.%d", getpid());
	snprintf(name, sizeof name, "%s/named", dir);
	REQUIRE(mkdir(dir, 0700) == 0, "make a scratch directory in /dev/shm");
	umask(022);

	int fd = open(dir, O_TMPFILE | O_RDWR, 0666);
	CHECK(fd >= 0, "O_TMPFILE|O_RDWR on a tmpfs directory");
	CHECK_EQ(entries(dir), 2, "the directory still has only . and ..");
	struct stat st;
	CHECK_OK(fstat(fd, &st), "fstat");
	CHECK_EQ(st.st_nlink, 0, "the file has no links");
	CHECK_EQ(st.st_mode, S_IFREG | 0644, "mode is the call's, less the umask");
	CHECK_EQ(write(fd, "temporary", 9), 9, "write");
	char buf[16] = {0};
	CHECK_EQ(pread(fd, buf, sizeof buf, 0), 9, "read it back");
	CHECK_STR(buf, "temporary", "same bytes");

	errno = 0;
	int r = linkat(fd, "", AT_FDCWD, name, AT_EMPTY_PATH);
	int e = errno;
	if (have_cap(CAP_DAC_READ_SEARCH)) {
		CHECK_EQ(r, 0, "linkat(AT_EMPTY_PATH) names it (with CAP_DAC_READ_SEARCH)");
		int fd2 = open(name, O_RDONLY);
		memset(buf, 0, sizeof buf);
		CHECK_EQ(read(fd2, buf, sizeof buf), 9, "open it by its new name");
		CHECK_STR(buf, "temporary", "it is the same file");
		fstat(fd, &st);
		CHECK_EQ(st.st_nlink, 1, "now it has a link");
		close(fd2);
		unlink(name);
	} else {
		CHECK_EQ(r == -1 ? e : 0, ENOENT, "linkat(AT_EMPTY_PATH) without CAP_DAC_READ_SEARCH is ENOENT");
	}
	close(fd);

	fd = open(dir, O_TMPFILE | O_WRONLY | O_EXCL, 0600);
	CHECK(fd >= 0, "O_TMPFILE|O_EXCL");
	if (have_cap(CAP_DAC_READ_SEARCH))
		CHECK_ERR(linkat(fd, "", AT_FDCWD, name, AT_EMPTY_PATH), ENOENT, "an O_EXCL temporary file can't be linked");
	close(fd);

	CHECK_ERR(open(dir, O_TMPFILE | O_RDONLY, 0600), EINVAL, "O_TMPFILE needs write access: O_RDONLY is EINVAL");
	CHECK_ERR(open("/etc/passwd", O_TMPFILE | O_RDWR, 0600), ENOTDIR, "O_TMPFILE on a file is ENOTDIR");
	CHECK_ERR(open("/dev/shm/no/such", O_TMPFILE | O_RDWR, 0600), ENOENT, "O_TMPFILE in a missing directory is ENOENT");
	CHECK_EQ(entries(dir), 2, "nothing was left in the directory");
	rmdir(dir);
	return check_done();
}
