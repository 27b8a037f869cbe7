/* mmap.c checks mmap(2) and munmap(2) against the Linux man pages. */
#include "check.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define GPL3 "/usr/share/common-licenses/GPL-3"

static long page;

static void *anon(size_t len, int prot, int flags)
{
	return mmap(NULL, len, prot, flags | MAP_ANONYMOUS, -1, 0);
}

/* mapped reports whether the page at addr is mapped, using mincore(2). */
static int mapped(void *addr)
{
	unsigned char vec;

	return mincore(addr, page, &vec) == 0;
}

static int all_bytes(const char *p, size_t len, char c)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != c)
			return 0;
	return 1;
}

static void test_anonymous(void)
{
	int kinds[] = { MAP_PRIVATE, MAP_SHARED };
	const char *names[] = { "private", "shared" };

	for (int k = 0; k < 2; k++) {
		char what[128];
		char *p = anon(4 * page, PROT_READ | PROT_WRITE, kinds[k]);

		snprintf(what, sizeof(what), "anonymous %s mmap succeeds", names[k]);
		if (!CHECK(p != MAP_FAILED, what))
			continue;
		snprintf(what, sizeof(what), "anonymous %s mmap is page aligned", names[k]);
		CHECK_EQ((uintptr_t)p % page, 0, what);
		snprintf(what, sizeof(what), "anonymous %s mmap is zero-filled", names[k]);
		CHECK(all_bytes(p, 4 * page, 0), what);
		for (long i = 0; i < 4 * page; i++)
			p[i] = (char)(i * 7);
		int same = 1;
		for (long i = 0; i < 4 * page; i++)
			same &= p[i] == (char)(i * 7);
		snprintf(what, sizeof(what), "anonymous %s mmap reads back writes", names[k]);
		CHECK(same, what);
		snprintf(what, sizeof(what), "munmap of anonymous %s mapping", names[k]);
		CHECK_EQ(munmap(p, 4 * page), 0, what);
		snprintf(what, sizeof(what), "unmapped %s range is gone (mincore ENOMEM)", names[k]);
		CHECK_ERR(mincore(p, page, (unsigned char[1]){ 0 }), ENOMEM, what);
	}
}

static void test_fixed(void)
{
	char *p = anon(4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE);

	REQUIRE(p != MAP_FAILED, "mmap 4 pages for MAP_FIXED tests");
	memset(p, 0xaa, 4 * page);

	char *q = mmap(p + page, page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	CHECK_EQ(q, p + page, "MAP_FIXED over part of a mapping returns addr");
	CHECK(all_bytes(p + page, page, 0), "MAP_FIXED replacement page is zero-filled");
	CHECK(all_bytes(p, page, (char)0xaa), "page before MAP_FIXED replacement is kept");
	CHECK(all_bytes(p + 2 * page, 2 * page, (char)0xaa),
	      "pages after MAP_FIXED replacement are kept");

	CHECK_ERR((long)mmap(p + 2 * page, page, PROT_READ,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0),
		  EEXIST, "MAP_FIXED_NOREPLACE over a mapping is EEXIST");
	CHECK(all_bytes(p + 2 * page, page, (char)0xaa),
	      "failed MAP_FIXED_NOREPLACE leaves the old mapping");

	CHECK_ERR((long)mmap(p + 1, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
		  EINVAL, "MAP_FIXED with an unaligned address is EINVAL");

	/* Unmap the last page, then MAP_FIXED_NOREPLACE into the hole works. */
	CHECK_EQ(munmap(p + 3 * page, page), 0, "munmap last page");
	q = mmap(p + 3 * page, page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	CHECK_EQ(q, p + 3 * page, "MAP_FIXED_NOREPLACE into a hole returns addr");
	munmap(p, 4 * page);
}

static void test_hint(void)
{
	char *p = anon(4 * page, PROT_READ, MAP_PRIVATE);

	REQUIRE(p != MAP_FAILED, "mmap 4 pages to find a free range");
	CHECK_EQ(munmap(p, 4 * page), 0, "munmap to free the range");
	char *q = mmap(p, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK_EQ(q, p, "a free hint address is honoured");
	if (q != MAP_FAILED)
		munmap(q, 4 * page);
}

static void test_bad_args(void)
{
	CHECK_ERR((long)anon(0, PROT_READ, MAP_PRIVATE), EINVAL, "length 0 is EINVAL");
	CHECK_ERR((long)mmap(NULL, page, PROT_READ, MAP_ANONYMOUS, -1, 0), EINVAL,
		  "neither MAP_PRIVATE nor MAP_SHARED is EINVAL");
	CHECK_ERR((long)mmap(NULL, page, PROT_READ, MAP_PRIVATE, 9999, 0), EBADF,
		  "file mapping with a bad fd is EBADF");
	char *p = anon(page, PROT_READ, MAP_PRIVATE);
	REQUIRE(p != MAP_FAILED, "mmap one page");
	CHECK_ERR(munmap(p + 1, page), EINVAL, "munmap of an unaligned address is EINVAL");
	CHECK(mapped(p), "failed munmap leaves the page mapped");
	munmap(p, page);
	CHECK_ERR(munmap(NULL, 0), EINVAL, "munmap of length 0 is EINVAL");
}

static void test_munmap_split(void)
{
	char *p = anon(3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE);

	REQUIRE(p != MAP_FAILED, "mmap 3 pages for munmap split");
	memset(p, 0x11, 3 * page);
	CHECK_EQ(munmap(p + page, page), 0, "munmap of the middle page");
	CHECK(mapped(p), "first page still mapped after middle munmap");
	CHECK(!mapped(p + page), "middle page unmapped");
	CHECK(mapped(p + 2 * page), "last page still mapped after middle munmap");
	CHECK(all_bytes(p, page, 0x11) && all_bytes(p + 2 * page, page, 0x11),
	      "pages around the hole keep their contents");
	CHECK_ERR(mincore(p, 3 * page, (unsigned char[3]){ 0 }), ENOMEM,
		  "mincore across the hole is ENOMEM");
	CHECK_EQ(munmap(p + page, page), 0, "munmap of an unmapped range succeeds");
	CHECK_EQ(munmap(p, 3 * page), 0, "munmap over a range with a hole succeeds");
	CHECK(!mapped(p) && !mapped(p + 2 * page), "whole range unmapped");
}

static void test_file(void)
{
	int fd = open(GPL3, O_RDONLY);
	struct stat st;

	REQUIRE(fd >= 0, "open " GPL3);
	REQUIRE(fstat(fd, &st) == 0 && st.st_size > 2 * page, "GPL-3 is larger than two pages");

	size_t size = st.st_size;
	size_t maplen = (size + page - 1) / page * page;
	char *want = malloc(size);
	REQUIRE(want != NULL, "malloc");
	REQUIRE(pread(fd, want, size, 0) == (ssize_t)size, "pread the whole file");

	char *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (CHECK(p != MAP_FAILED, "private read-only file mmap succeeds")) {
		CHECK(memcmp(p, want, size) == 0, "file mapping matches read()");
		CHECK(all_bytes(p + size, maplen - size, 0), "bytes past EOF in the last page are zero");
		munmap(p, size);
	}

	p = mmap(NULL, 2 * page, PROT_READ, MAP_PRIVATE, fd, page);
	if (CHECK(p != MAP_FAILED, "file mmap at offset one page succeeds")) {
		CHECK(memcmp(p, want + page, 2 * page) == 0, "offset mapping matches the file at that offset");
		munmap(p, 2 * page);
	}

	p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (CHECK(p != MAP_FAILED, "shared read-only file mmap of an O_RDONLY fd succeeds")) {
		CHECK(memcmp(p, want, size) == 0, "shared file mapping matches read()");
		munmap(p, size);
	}

	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (CHECK(p != MAP_FAILED, "private writable mmap of an O_RDONLY fd succeeds")) {
		memset(p, 'Z', 100);
		p[size - 1] = 'Z';
		CHECK(all_bytes(p, 100, 'Z'), "private file mapping reads back its writes");
		char buf[100];
		CHECK_EQ(pread(fd, buf, 100, 0), 100, "pread after private write");
		CHECK(memcmp(buf, want, 100) == 0, "private write does not change the file");
		char *q = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (CHECK(q != MAP_FAILED, "second private mapping of the file")) {
			CHECK(memcmp(q, want, size) == 0, "second mapping does not see the private write");
			munmap(q, size);
		}
		munmap(p, size);
	}

	CHECK_ERR((long)mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), EACCES,
		  "MAP_SHARED|PROT_WRITE of an O_RDONLY fd is EACCES");
	CHECK_ERR((long)mmap(NULL, page, PROT_READ, MAP_PRIVATE, fd, 100), EINVAL,
		  "unaligned offset is EINVAL");

	int dfd = open("/usr/bin", O_RDONLY | O_DIRECTORY);
	if (CHECK(dfd >= 0, "open /usr/bin")) {
		CHECK_ERR((long)mmap(NULL, page, PROT_READ, MAP_PRIVATE, dfd, 0), ENODEV,
			  "mmap of a directory is ENODEV");
		close(dfd);
	}
	free(want);
	close(fd);
}

static void test_large(void)
{
	size_t len = 256UL << 20;
	char *p = anon(len, PROT_READ | PROT_WRITE, MAP_PRIVATE);

	if (!CHECK(p != MAP_FAILED, "256 MiB anonymous mmap succeeds"))
		return;
	size_t stride = 64 * page;
	for (size_t off = 0; off < len; off += stride)
		*(size_t *)(p + off) = off;
	int ok = 1;
	for (size_t off = 0; off < len; off += stride)
		ok &= *(size_t *)(p + off) == off;
	CHECK(ok, "every 64th page of 256 MiB reads back its write");
	CHECK(all_bytes(p + page, page, 0) && all_bytes(p + len - page, page, 0),
	      "untouched pages of the large mapping are zero");
	CHECK_EQ(munmap(p, len), 0, "munmap of 256 MiB");
}

static void test_growsdown(void)
{
	char *p = anon(4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_GROWSDOWN);

	if (!CHECK(p != MAP_FAILED, "MAP_GROWSDOWN mapping is accepted"))
		return;
	p[4 * page - 1] = 1;
	p[0] = 2;
	CHECK(p[4 * page - 1] == 1 && p[0] == 2, "MAP_GROWSDOWN mapping is writable");
	CHECK_EQ(munmap(p, 4 * page), 0, "munmap of MAP_GROWSDOWN mapping");
}

int main(void)
{
	page = sysconf(_SC_PAGESIZE);
	REQUIRE(page == 4096, "page size is 4096");

	test_anonymous();
	test_fixed();
	test_hint();
	test_bad_args();
	test_munmap_split();
	test_file();
	test_large();
	test_growsdown();
	return check_done();
}
