/*
 * mprotect.c checks mprotect(2), madvise(2) and msync(2) against the Linux
 * man pages.
 */
#include "check.h"

#include <fcntl.h>
#include <sys/mman.h>

#define GPL3 "/usr/share/common-licenses/GPL-3"

static long page;

static char *anon(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	REQUIRE(p != MAP_FAILED, "anonymous mmap for the test");
	return p;
}

/* unmapped returns the address of n pages that are known not to be mapped. */
static char *unmapped(size_t n)
{
	char *p = anon(n * page);

	REQUIRE(munmap(p, n * page) == 0, "munmap to make a hole");
	return p;
}

static int all_bytes(const char *p, size_t len, char c)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != c)
			return 0;
	return 1;
}

static void test_mprotect(void)
{
	char *p = anon(2 * page);
	unsigned char vec[2];

	memset(p, 0x5a, 2 * page);
	CHECK_EQ(mprotect(p, 2 * page, PROT_READ), 0, "mprotect to PROT_READ");
	CHECK(all_bytes(p, 2 * page, 0x5a), "data readable after PROT_READ");
	CHECK_EQ(mprotect(p, 2 * page, PROT_READ | PROT_WRITE), 0, "mprotect back to read/write");
	CHECK(all_bytes(p, 2 * page, 0x5a), "data preserved after read/write again");
	p[page] = 1;
	CHECK_EQ(p[page], 1, "page writable again");

	CHECK_EQ(mprotect(p + page, page, PROT_READ), 0, "mprotect of the second page only");
	p[0] = 2;
	CHECK_EQ(p[0], 2, "first page still writable after splitting protections");
	CHECK_EQ(mprotect(p, 2 * page, PROT_READ | PROT_WRITE), 0,
		 "mprotect across two differently protected pages");

	CHECK_ERR(mprotect(p + 1, page, PROT_READ), EINVAL, "mprotect of an unaligned address is EINVAL");
	CHECK_ERR(mprotect(p, page, 0x1000), EINVAL, "mprotect with unknown prot bits is EINVAL");
	CHECK_EQ(mprotect(p, 0, PROT_READ), 0, "mprotect of length 0 succeeds");

	memset(p, 0x3c, 2 * page);
	CHECK_EQ(mprotect(p, 2 * page, PROT_NONE), 0, "mprotect to PROT_NONE");
	CHECK_EQ(mincore(p, 2 * page, vec), 0, "PROT_NONE pages are still mapped for mincore");
	CHECK_EQ(mprotect(p, 2 * page, PROT_READ), 0, "mprotect from PROT_NONE to PROT_READ");
	CHECK(all_bytes(p, 2 * page, 0x3c), "data preserved across PROT_NONE");
	munmap(p, 2 * page);

	char *hole = unmapped(2);
	CHECK_ERR(mprotect(hole, 2 * page, PROT_READ), ENOMEM, "mprotect of an unmapped range is ENOMEM");

	p = anon(2 * page);
	CHECK_EQ(munmap(p + page, page), 0, "munmap the second of two pages");
	CHECK_ERR(mprotect(p, 2 * page, PROT_READ), ENOMEM,
		  "mprotect of a partly unmapped range is ENOMEM");
	munmap(p, page);
}

static void test_file(void)
{
	int fd = open(GPL3, O_RDONLY);

	REQUIRE(fd >= 0, "open " GPL3);
	char *p = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 0);
	if (CHECK(p != MAP_FAILED, "shared read-only mapping of an O_RDONLY file")) {
		CHECK_ERR(mprotect(p, page, PROT_READ | PROT_WRITE), EACCES,
			  "mprotect PROT_WRITE of a shared O_RDONLY file mapping is EACCES");
		munmap(p, page);
	}

	char first;
	REQUIRE(pread(fd, &first, 1, 0) == 1, "pread the first byte");
	p = mmap(NULL, page, PROT_READ, MAP_PRIVATE, fd, 0);
	if (CHECK(p != MAP_FAILED, "private read-only mapping of an O_RDONLY file")) {
		CHECK_EQ(mprotect(p, page, PROT_READ | PROT_WRITE), 0,
			 "mprotect PROT_WRITE of a private file mapping succeeds");
		p[0] = first + 1;
		CHECK_EQ(p[0], first + 1, "private file mapping is writable");
		CHECK_EQ(madvise(p, page, MADV_DONTNEED), 0, "madvise MADV_DONTNEED on a private file mapping");
		CHECK_EQ(p[0], first, "MADV_DONTNEED private file mapping re-reads the file");
		munmap(p, page);
	}
	close(fd);
}

static void test_msync(void)
{
	char *p = anon(2 * page);

	CHECK_EQ(msync(p, 2 * page, MS_SYNC), 0, "msync MS_SYNC on anonymous mapping");
	CHECK_EQ(msync(p, 2 * page, MS_ASYNC), 0, "msync MS_ASYNC on anonymous mapping");
	CHECK_EQ(msync(p, 2 * page, MS_ASYNC | MS_INVALIDATE), 0, "msync MS_ASYNC|MS_INVALIDATE");
	CHECK_ERR(msync(p, page, MS_SYNC | MS_ASYNC), EINVAL, "msync MS_SYNC|MS_ASYNC is EINVAL");
	CHECK_ERR(msync(p, page, 0x100), EINVAL, "msync with unknown flags is EINVAL");
	CHECK_ERR(msync(p + 1, page, MS_SYNC), EINVAL, "msync of an unaligned address is EINVAL");
	munmap(p, 2 * page);

	char *hole = unmapped(2);
	CHECK_ERR(msync(hole, 2 * page, MS_SYNC), ENOMEM, "msync of an unmapped range is ENOMEM");
}

static void test_madvise(void)
{
	char *p = anon(4 * page);

	memset(p, 0x77, 4 * page);
	CHECK_EQ(madvise(p + page, 2 * page, MADV_DONTNEED), 0, "madvise MADV_DONTNEED on private anonymous");
	CHECK(all_bytes(p + page, 2 * page, 0), "MADV_DONTNEED pages re-read as zero");
	CHECK(all_bytes(p, page, 0x77) && all_bytes(p + 3 * page, page, 0x77),
	      "pages outside the MADV_DONTNEED range keep their data");
	CHECK_EQ(madvise(p, 4 * page, MADV_NORMAL), 0, "madvise MADV_NORMAL");
	CHECK_EQ(madvise(p, 4 * page, MADV_WILLNEED), 0, "madvise MADV_WILLNEED");
	CHECK_ERR(madvise(p + 1, page, MADV_DONTNEED), EINVAL, "madvise of an unaligned address is EINVAL");
	CHECK_ERR(madvise(p, page, 12345), EINVAL, "madvise with an unknown advice is EINVAL");
	munmap(p, 4 * page);

	char *hole = unmapped(2);
	CHECK_ERR(madvise(hole, 2 * page, MADV_WILLNEED), ENOMEM, "madvise of an unmapped range is ENOMEM");
}

int main(void)
{
	page = sysconf(_SC_PAGESIZE);
	REQUIRE(page == 4096, "page size is 4096");

	test_mprotect();
	test_file();
	test_msync();
	test_madvise();
	return check_done();
}
