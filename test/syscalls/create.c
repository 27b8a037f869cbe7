/*
 * create.c: open(2) with O_CREAT through symlinks: a dangling symlink
 * (relative, absolute, or a chain of them) makes the file where it points;
 * with O_EXCL it is EEXIST, with O_NOFOLLOW ELOOP; a target in a missing
 * directory is ENOENT; an existing target is opened, not truncated.
 */
#include "check.h"

#include <fcntl.h>
#include <sys/stat.h>

int main(void)
{
	char dir[64], p[128], q[128];
	snprintf(dir, sizeof dir, "/dev/shm/create.%d", getpid());
	REQUIRE(mkdir(dir, 0700) == 0, "make a scratch directory in /dev/shm");
	REQUIRE(chdir(dir) == 0, "chdir there");
	struct stat st;

	symlink("target1", "rel");
	int fd = open("rel", O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0, "O_CREAT through a dangling relative symlink");
	CHECK_OK(lstat("target1", &st), "made the file the link names");
	CHECK(S_ISREG(st.st_mode), "a regular file");
	CHECK_OK(lstat("rel", &st), "the link is still there");
	CHECK(S_ISLNK(st.st_mode), "and still a link");
	write(fd, "x", 1);
	close(fd);
	fd = open("rel", O_WRONLY | O_CREAT, 0600);
	fstat(fd, &st);
	CHECK_EQ(st.st_size, 1, "O_CREAT through a link to an existing file opens it without truncating");
	close(fd);

	mkdir("sub", 0700);
	snprintf(p, sizeof p, "%s/sub/target2", dir);
	symlink(p, "abs");
	fd = open("abs", O_RDWR | O_CREAT, 0600);
	CHECK(fd >= 0, "O_CREAT through a dangling absolute symlink");
	close(fd);
	CHECK_OK(stat("sub/target2", &st), "made the file the link names");

	symlink("sub/link2", "chain");
	symlink("../target3", "sub/link2");
	fd = open("chain", O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0, "O_CREAT through a chain of symlinks");
	close(fd);
	CHECK_OK(stat("target3", &st), "the last link's target was made, relative to that link");

	symlink("target4", "excl");
	CHECK_ERR(open("excl", O_WRONLY | O_CREAT | O_EXCL, 0600), EEXIST, "O_CREAT|O_EXCL on a dangling symlink is EEXIST");
	CHECK_ERR(open("excl", O_WRONLY | O_CREAT | O_NOFOLLOW, 0600), ELOOP, "O_CREAT|O_NOFOLLOW on a symlink is ELOOP");
	CHECK_ERR(stat("target4", &st), ENOENT, "neither made the target");
	symlink("nodir/target5", "missing");
	CHECK_ERR(open("missing", O_WRONLY | O_CREAT, 0600), ENOENT, "a target in a missing directory is ENOENT");
	snprintf(q, sizeof q, "loop");
	symlink("loop", q);
	CHECK_ERR(open("loop", O_WRONLY | O_CREAT, 0600), ELOOP, "a symlink to itself is ELOOP");

	const char *names[] = {"rel", "target1", "abs", "sub/target2", "chain", "sub/link2", "target3", "excl", "missing", "loop"};
	for (unsigned i = 0; i < sizeof names / sizeof *names; i++)
		unlink(names[i]);
	rmdir("sub");
	chdir("/");
	rmdir(dir);
	return check_done();
}
