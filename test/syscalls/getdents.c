/*
 * getdents.c checks getdents64(2) and getdents(2) on /usr/bin, a large
 * directory, against readdir(3) and the man page.
 */
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>

#define DIR_PATH "/usr/bin"
#define REG_NAME "dash"	 /* a regular file in DIR_PATH */
#define LNK_NAME "sh"	 /* a symlink in DIR_PATH */

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* struct linux_dirent is the old getdents(2) record; d_type is its last byte. */
struct linux_dirent {
	unsigned long d_ino;
	unsigned long d_off;
	unsigned short d_reclen;
	char d_name[];
};

struct names {
	char **v;
	size_t n, cap;
};

static void add(struct names *s, const char *name)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		REQUIRE(s->v != NULL, "realloc");
	}
	s->v[s->n] = strdup(name);
	REQUIRE(s->v[s->n] != NULL, "strdup");
	s->n++;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int same_names(struct names *a, struct names *b)
{
	qsort(a->v, a->n, sizeof(*a->v), cmp);
	qsort(b->v, b->n, sizeof(*b->v), cmp);
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return 0;
	return 1;
}

static int has_duplicates(struct names *s)
{
	qsort(s->v, s->n, sizeof(*s->v), cmp);
	for (size_t i = 1; i < s->n; i++)
		if (strcmp(s->v[i - 1], s->v[i]) == 0)
			return 1;
	return 0;
}

static void clear(struct names *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	s->n = 0;
}

/*
 * read64 reads the whole directory with getdents64 and a buffer of bufsize
 * bytes, adding names to s and recording d_type of a few known names.
 * It returns 0, or -1 if a call failed or a record was malformed.
 */
static int read64(int fd, size_t bufsize, struct names *s, int *dot_type, int *dotdot_type,
		  int *reg_type, int *lnk_type)
{
	char *buf = malloc(bufsize);
	long n;

	REQUIRE(buf != NULL, "malloc");
	while ((n = syscall(SYS_getdents64, fd, buf, bufsize)) > 0) {
		for (long off = 0; off < n;) {
			struct linux_dirent64 *d = (void *)(buf + off);
			if (d->d_reclen < offsetof(struct linux_dirent64, d_name) + 2 ||
			    off + d->d_reclen > n || d->d_reclen % 8 != 0) {
				free(buf);
				return -1;
			}
			add(s, d->d_name);
			if (strcmp(d->d_name, ".") == 0)
				*dot_type = d->d_type;
			else if (strcmp(d->d_name, "..") == 0)
				*dotdot_type = d->d_type;
			else if (strcmp(d->d_name, REG_NAME) == 0)
				*reg_type = d->d_type;
			else if (strcmp(d->d_name, LNK_NAME) == 0)
				*lnk_type = d->d_type;
			off += d->d_reclen;
		}
	}
	free(buf);
	return n == 0 ? 0 : -1;
}

static void test_getdents64(void)
{
	struct names want = { 0 }, got = { 0 }, again = { 0 };
	int dot = -1, dotdot = -1, reg = -1, lnk = -1, ignore;

	DIR *dir = opendir(DIR_PATH);
	REQUIRE(dir != NULL, "opendir " DIR_PATH);
	struct dirent *de;
	while ((de = readdir(dir)) != NULL)
		add(&want, de->d_name);
	closedir(dir);
	REQUIRE(want.n > 100, "readdir finds more than 100 entries");

	int fd = open(DIR_PATH, O_RDONLY | O_DIRECTORY);
	REQUIRE(fd >= 0, "open " DIR_PATH);
	CHECK_EQ(read64(fd, 32768, &got, &dot, &dotdot, &reg, &lnk), 0, "getdents64 reads the whole directory");
	CHECK_EQ(got.n, want.n, "getdents64 returns as many entries as readdir");
	CHECK(same_names(&got, &want), "getdents64 returns the same names as readdir");
	CHECK(!has_duplicates(&got), "getdents64 returns no duplicates");
	CHECK_EQ(dot, DT_DIR, "\".\" is present with d_type DT_DIR");
	CHECK_EQ(dotdot, DT_DIR, "\"..\" is present with d_type DT_DIR");
	CHECK_EQ(reg, DT_REG, REG_NAME " is present with d_type DT_REG");
	CHECK_EQ(lnk, DT_LNK, LNK_NAME " is present with d_type DT_LNK");
	CHECK_EQ(syscall(SYS_getdents64, fd, (char[512]){ 0 }, 512), 0, "getdents64 at the end returns 0");

	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0, "lseek 0 rewinds the directory");
	CHECK_EQ(read64(fd, 32768, &again, &ignore, &ignore, &ignore, &ignore), 0,
		 "getdents64 after rewind reads the whole directory");
	CHECK_EQ(again.n, want.n, "rewound directory yields the same count");
	clear(&again);

	/* A small buffer forces many calls that must continue where they left off. */
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0, "lseek 0 again");
	CHECK_EQ(read64(fd, 300, &again, &ignore, &ignore, &ignore, &ignore), 0,
		 "getdents64 with a 300-byte buffer reads the whole directory");
	CHECK(same_names(&again, &want), "small-buffer reads return the same names");

	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0, "lseek 0 before the tiny buffer");
	CHECK_ERR(syscall(SYS_getdents64, fd, (char[16]){ 0 }, 16), EINVAL,
		  "getdents64 with a buffer smaller than one entry is EINVAL");
	close(fd);

	int file = open("/etc/passwd", O_RDONLY);
	REQUIRE(file >= 0, "open /etc/passwd");
	CHECK_ERR(syscall(SYS_getdents64, file, (char[4096]){ 0 }, 4096), ENOTDIR,
		  "getdents64 on a regular file is ENOTDIR");
	close(file);
	CHECK_ERR(syscall(SYS_getdents64, fd, (char[4096]){ 0 }, 4096), EBADF, "getdents64 on a closed fd is EBADF");
	CHECK_ERR(syscall(SYS_getdents64, 9999, (char[4096]){ 0 }, 4096), EBADF, "getdents64 on a bad fd is EBADF");

	clear(&want);
	clear(&got);
	clear(&again);
}

/* test_getdents checks the old getdents(2), which x86-64 binaries still use. */
static void test_getdents(void)
{
	struct names want = { 0 }, got = { 0 };
	char buf[8192];
	long n;
	int reg = -1, bad = 0;

	DIR *dir = opendir(DIR_PATH);
	REQUIRE(dir != NULL, "opendir " DIR_PATH);
	struct dirent *de;
	while ((de = readdir(dir)) != NULL)
		add(&want, de->d_name);
	closedir(dir);

	int fd = open(DIR_PATH, O_RDONLY | O_DIRECTORY);
	REQUIRE(fd >= 0, "open " DIR_PATH);
	while ((n = syscall(SYS_getdents, fd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			struct linux_dirent *d = (void *)(buf + off);
			if (d->d_reclen == 0 || off + d->d_reclen > n) {
				bad = 1;
				break;
			}
			add(&got, d->d_name);
			if (strcmp(d->d_name, REG_NAME) == 0)
				reg = buf[off + d->d_reclen - 1];
			off += d->d_reclen;
		}
		if (bad)
			break;
	}
	CHECK(n == 0 && !bad, "getdents reads the whole directory");
	CHECK(same_names(&got, &want), "getdents returns the same names as readdir");
	CHECK_EQ(reg, DT_REG, "getdents d_type (last byte) of a regular file is DT_REG");
	close(fd);
	CHECK_ERR(syscall(SYS_getdents, 9999, buf, sizeof(buf)), EBADF, "getdents on a bad fd is EBADF");
	clear(&want);
	clear(&got);
}

int main(void)
{
	test_getdents64();
	test_getdents();
	return check_done();
}
