/*
 * dirmod.c checks that getdents64(2) stays consistent while the directory
 * changes (readdir(3), POSIX: an entry added or removed meanwhile may or
 * may not be returned, but every other one is returned exactly once): it
 * reads a directory a few entries at a time while creating and unlinking
 * other entries, resumes at a saved d_off with lseek(2) (what telldir(3)
 * and seekdir(3) do) after changes, and rewinds, in scratch directories
 * under /tmp and /dev/shm (tmpfs in the sandbox) and under / (the overlay
 * root in the sandbox).
 *
 * With an argument, it runs the same checks in that directory instead,
 * counting its existing entries as ones present the whole time (the e2e
 * tests use it on a host directory below the overlay).
 */
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

#define MAXN 4096

/* A set of names with a count each. */
struct names {
	char *v[MAXN];
	int count[MAXN];
	int n;
};

static int find(struct names *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->v[i], name) == 0)
			return i;
	return -1;
}

static void add(struct names *s, const char *name)
{
	int i = find(s, name);
	if (i < 0) {
		REQUIRE(s->n < MAXN, "fewer than MAXN names");
		i = s->n++;
		s->v[i] = strdup(name);
		s->count[i] = 0;
	}
	s->count[i]++;
}

static void clear(struct names *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->v[i]);
	s->n = 0;
}

static char what[300];
#define W(...) (snprintf(what, sizeof(what), __VA_ARGS__), what)

static int dirfd_;

static void touch(const char *fmt, int k)
{
	char name[64];
	snprintf(name, sizeof name, fmt, k);
	int fd = openat(dirfd_, name, O_CREAT | O_WRONLY, 0644);
	REQUIRE(fd >= 0, "create a file");
	close(fd);
}

static void rm(const char *fmt, int k)
{
	char name[64];
	snprintf(name, sizeof name, fmt, k);
	REQUIRE(unlinkat(dirfd_, name, 0) == 0, "unlink a file");
}

/*
 * read_some reads one getdents64 buffer of bufsize bytes into seen. It
 * returns the count of entries (0 at the end, -1 on error) and sets
 * *last_off to the d_off of the last one.
 */
static int read_some(int fd, size_t bufsize, struct names *seen, int64_t *last_off)
{
	char buf[4096];
	long n = syscall(SYS_getdents64, fd, buf, bufsize);
	if (n <= 0)
		return (int)n;
	int count = 0;
	for (long off = 0; off < n;) {
		struct linux_dirent64 *d = (void *)(buf + off);
		if (d->d_reclen == 0 || off + d->d_reclen > n)
			return -1;
		add(seen, d->d_name);
		*last_off = d->d_off;
		off += d->d_reclen;
		count++;
	}
	return count;
}

/* stable lists the names present the whole time, "." and ".." included. */
static struct names stable, seen, before, after;

#define NSTABLE 150
#define NVICTIM 100

static void check_stable(struct names *s, const char *dir, const char *when)
{
	int missing = 0, dup = 0;
	for (int i = 0; i < stable.n; i++) {
		int k = find(s, stable.v[i]);
		if (k < 0)
			missing++;
		else if (s->count[k] != 1)
			dup++;
	}
	CHECK_EQ(missing, 0, W("%s: %s: every entry present the whole time is returned", dir, when));
	CHECK_EQ(dup, 0, W("%s: %s: and returned once", dir, when));
	dup = 0;
	for (int i = 0; i < s->n; i++)
		if (s->count[i] != 1)
			dup++;
	CHECK_EQ(dup, 0, W("%s: %s: no name is returned twice", dir, when));
}

static void test_dir(const char *dir, int own_dir)
{
	int fd;
	int64_t off = 0;

	dirfd_ = open(dir, O_RDONLY | O_DIRECTORY);
	REQUIRE(dirfd_ >= 0, W("open %s", dir));

	/* The entries present the whole time: those already there, and ours. */
	clear(&stable);
	DIR *dp = opendir(dir);
	REQUIRE(dp != NULL, "opendir");
	struct dirent *de;
	while ((de = readdir(dp)) != NULL)
		add(&stable, de->d_name);
	closedir(dp);
	for (int k = 0; k < NSTABLE; k++) {
		touch("stable%03d", k);
		char name[64];
		snprintf(name, sizeof name, "stable%03d", k);
		add(&stable, name);
	}
	for (int k = 0; k < NVICTIM; k++)
		touch("victim%03d", k);

	/* 1. Read a few entries at a time; between reads, unlink two victims
	 * and create two new files. */
	clear(&seen);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	REQUIRE(fd >= 0, "open the directory");
	int victim = 0, fresh = 0, r, calls = 0;
	while ((r = read_some(fd, 200, &seen, &off)) > 0) {
		calls++;
		for (int j = 0; j < 2 && victim < NVICTIM; j++)
			rm("victim%03d", victim++);
		for (int j = 0; j < 2 && fresh < 60; j++)
			touch("fresh%03d", fresh++);
	}
	CHECK_EQ(r, 0, W("%s: getdents64 reads to the end while the directory changes", dir));
	CHECK(calls > 10, W("%s: in many small reads", dir));
	check_stable(&seen, dir, "reading while changing");
	CHECK_EQ(syscall(SYS_getdents64, fd, (char[256]){ 0 }, 256), 0, W("%s: getdents64 at the end returns 0", dir));

	/* 2. Rewinding shows the directory as it is now. */
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0, W("%s: lseek to 0 rewinds", dir));
	clear(&seen);
	while ((r = read_some(fd, 4096, &seen, &off)) > 0)
		;
	CHECK_EQ(r, 0, W("%s: getdents64 after the rewind", dir));
	check_stable(&seen, dir, "after the rewind");
	int victims_seen = 0, fresh_seen = 0;
	for (int i = 0; i < seen.n; i++) {
		victims_seen += strncmp(seen.v[i], "victim", 6) == 0;
		fresh_seen += strncmp(seen.v[i], "fresh", 5) == 0;
	}
	CHECK_EQ(victims_seen, NVICTIM - victim, W("%s: after the rewind, unlinked entries are gone", dir));
	CHECK_EQ(fresh_seen, fresh, W("%s: after the rewind, created entries are listed", dir));
	close(fd);

	/* 3. telldir/seekdir: read part, note d_off, change the directory,
	 * seek back to the d_off (from another position), read the rest. */
	for (int k = 0; k < fresh; k++)
		rm("fresh%03d", k);
	for (int k = victim; k < NVICTIM; k++)
		rm("victim%03d", k);
	for (int k = 0; k < NVICTIM; k++)
		touch("victim%03d", k);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	REQUIRE(fd >= 0, "open the directory again");
	clear(&before);
	int64_t mark = 0;
	for (int k = 0; k < 8 && read_some(fd, 200, &before, &mark) > 0; k++)
		;
	CHECK(before.n > 0 && before.n < stable.n, W("%s: read part of the directory", dir));
	/* Read on past the mark, which seekdir must undo. */
	int64_t ignore;
	struct names scratch = { 0 };
	read_some(fd, 200, &scratch, &ignore);
	clear(&scratch);
	for (int k = 0; k < NVICTIM; k += 2)
		rm("victim%03d", k);
	for (int k = 0; k < 20; k++)
		touch("late%03d", k);
	CHECK_EQ(lseek(fd, mark, SEEK_SET), mark, W("%s: lseek to a saved d_off", dir));
	clear(&after);
	while ((r = read_some(fd, 200, &after, &ignore)) > 0)
		;
	CHECK_EQ(r, 0, W("%s: getdents64 after the seek reads to the end", dir));
	/* Together, the two parts hold each stable entry once. */
	for (int i = 0; i < after.n; i++)
		add(&before, after.v[i]);
	check_stable(&before, dir, "before and after seekdir");

	/* 4. Seeking to the d_off of an entry since removed resumes after it. */
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0, W("%s: rewind again", dir));
	clear(&before);
	char name_at_mark[256] = "";
	{
		char buf[4096];
		long n = syscall(SYS_getdents64, fd, buf, 200);
		REQUIRE(n > 0, "getdents64");
		for (long o = 0; o < n;) {
			struct linux_dirent64 *d = (void *)(buf + o);
			add(&before, d->d_name);
			mark = d->d_off;
			snprintf(name_at_mark, sizeof name_at_mark, "%s", d->d_name);
			o += d->d_reclen;
		}
	}
	/* The last entry returned: remove it if it is ours, so that the mark is
	 * the d_off of a removed entry. */
	int removed = 0;
	if (strncmp(name_at_mark, "victim", 6) == 0 || strncmp(name_at_mark, "late", 4) == 0) {
		removed = unlinkat(dirfd_, name_at_mark, 0) == 0;
	}
	CHECK_EQ(lseek(fd, mark, SEEK_SET), mark, W("%s: lseek to the d_off of the last entry read", dir));
	clear(&after);
	while ((r = read_some(fd, 4096, &after, &ignore)) > 0)
		;
	CHECK(find(&after, name_at_mark) < 0, W("%s: the entry at the mark is not returned again", dir));
	for (int i = 0; i < after.n; i++)
		add(&before, after.v[i]);
	check_stable(&before, dir, removed ? "seek to a removed entry's d_off" : "seek to an entry's d_off");
	close(fd);

	/* Clean up. */
	dp = opendir(dir);
	REQUIRE(dp != NULL, "opendir to clean up");
	clear(&seen);
	while ((de = readdir(dp)) != NULL)
		if (find(&stable, de->d_name) < 0 || strncmp(de->d_name, "stable", 6) == 0)
			add(&seen, de->d_name);
	closedir(dp);
	for (int i = 0; i < seen.n; i++)
		unlinkat(dirfd_, seen.v[i], 0);
	close(dirfd_);
	if (own_dir)
		CHECK_OK(rmdir(dir), W("%s: remove the scratch directory (nothing left)", dir));
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		test_dir(argv[1], 0);
		return check_done();
	}
	char tmpdir[] = "/tmp/dirmodXXXXXX", shmdir[] = "/dev/shm/dirmodXXXXXX", rootdir[] = "/dirmodXXXXXX";
	REQUIRE(mkdtemp(tmpdir) != NULL, "mkdtemp under /tmp");
	test_dir(tmpdir, 1);
	REQUIRE(mkdtemp(shmdir) != NULL, "mkdtemp under /dev/shm");
	test_dir(shmdir, 1);
	REQUIRE(mkdtemp(rootdir) != NULL, "mkdtemp under /");
	test_dir(rootdir, 1);
	return check_done();
}
