/* mremap.c checks mremap(2) against the Linux man page. */
#include "check.h"

#include <sys/mman.h>

static long page;

static char *anon(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	REQUIRE(p != MAP_FAILED, "anonymous mmap for the test");
	return p;
}

static int mapped(void *addr)
{
	unsigned char vec;

	return mincore(addr, page, &vec) == 0;
}

/* fill writes a pattern that depends on the offset and on seed. */
static void fill(char *p, size_t len, int seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (char)(i / 7 + seed);
}

static int filled(const char *p, size_t len, int seed)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != (char)(i / 7 + seed))
			return 0;
	return 1;
}

static int all_zero(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

static void test_grow_in_place(void)
{
	char *p = anon(4 * page);

	REQUIRE(munmap(p + 2 * page, 2 * page) == 0, "munmap the upper half to leave room");
	fill(p, 2 * page, 1);
	char *q = mremap(p, 2 * page, 4 * page, 0);
	CHECK_EQ(q, p, "grow in place without MREMAP_MAYMOVE keeps the address");
	if (q == MAP_FAILED)
		return;
	CHECK(filled(p, 2 * page, 1), "grow in place keeps the contents");
	CHECK(all_zero(p + 2 * page, 2 * page), "grown pages are zero-filled");
	p[4 * page - 1] = 1;
	CHECK_EQ(p[4 * page - 1], 1, "grown pages are writable");
	munmap(p, 4 * page);
}

static void test_grow_move(void)
{
	/* The third page blocks growing the first two in place. */
	char *p = anon(3 * page);

	fill(p, 2 * page, 2);
	CHECK_ERR((long)mremap(p, 2 * page, 8 * page, 0), ENOMEM,
		  "grow without room and without MREMAP_MAYMOVE is ENOMEM");
	CHECK(filled(p, 2 * page, 2), "failed grow leaves the contents");

	char *q = mremap(p, 2 * page, 8 * page, MREMAP_MAYMOVE);
	if (!CHECK(q != MAP_FAILED, "grow with MREMAP_MAYMOVE succeeds"))
		return;
	CHECK(q != p, "grow with MREMAP_MAYMOVE moved the mapping");
	CHECK(filled(q, 2 * page, 2), "moved mapping keeps the contents");
	CHECK(all_zero(q + 2 * page, 6 * page), "moved mapping's new pages are zero-filled");
	CHECK(!mapped(p) && !mapped(p + page), "old range is unmapped after the move");
	CHECK(mapped(p + 2 * page), "page after the old range is untouched");
	munmap(q, 8 * page);
	munmap(p + 2 * page, page);
}

static void test_shrink(void)
{
	char *p = anon(4 * page);

	fill(p, 4 * page, 3);
	char *q = mremap(p, 4 * page, page, 0);
	CHECK_EQ(q, p, "shrink keeps the address");
	CHECK(filled(p, page, 3), "shrink keeps the remaining contents");
	CHECK(!mapped(p + page) && !mapped(p + 3 * page), "shrink unmaps the tail");
	munmap(p, page);
}

static void test_fixed(void)
{
	char *src = anon(2 * page);
	char *dst = anon(4 * page);

	fill(src, 2 * page, 4);
	memset(dst, 0x99, 4 * page);
	char *q = mremap(src, 2 * page, 2 * page, MREMAP_MAYMOVE | MREMAP_FIXED, dst + page);
	CHECK_EQ(q, dst + page, "MREMAP_FIXED moves to the chosen address");
	CHECK(filled(dst + page, 2 * page, 4), "MREMAP_FIXED carries the contents");
	CHECK(dst[0] == (char)0x99 && dst[3 * page] == (char)0x99,
	      "MREMAP_FIXED leaves mappings around the target");
	CHECK(!mapped(src) && !mapped(src + page), "MREMAP_FIXED unmaps the source");
	munmap(dst, 4 * page);

	src = anon(2 * page);
	dst = anon(2 * page);
	CHECK_ERR((long)mremap(src, 2 * page, 2 * page, MREMAP_FIXED, dst), EINVAL,
		  "MREMAP_FIXED without MREMAP_MAYMOVE is EINVAL");
	CHECK_ERR((long)mremap(src, 2 * page, 2 * page, MREMAP_MAYMOVE | MREMAP_FIXED, src + page), EINVAL,
		  "MREMAP_FIXED onto an overlapping range is EINVAL");
	CHECK_ERR((long)mremap(src, 2 * page, 2 * page, MREMAP_MAYMOVE | MREMAP_FIXED, dst + 1), EINVAL,
		  "MREMAP_FIXED to an unaligned address is EINVAL");
	munmap(src, 2 * page);
	munmap(dst, 2 * page);
}

static void test_errors(void)
{
	char *p = anon(2 * page);

	CHECK_ERR((long)mremap(p + 1, page, 2 * page, MREMAP_MAYMOVE), EINVAL,
		  "unaligned old address is EINVAL");
	CHECK_ERR((long)mremap(p, page, 0, MREMAP_MAYMOVE), EINVAL, "new_size 0 is EINVAL");
	CHECK_ERR((long)mremap(p, page, 2 * page, 0x80), EINVAL, "unknown flags are EINVAL");
	CHECK(mapped(p), "failed mremap leaves the mapping");
	munmap(p, 2 * page);
	CHECK_ERR((long)mremap(p, page, 2 * page, MREMAP_MAYMOVE), EFAULT,
		  "old range not mapped is EFAULT");
}

int main(void)
{
	page = sysconf(_SC_PAGESIZE);
	REQUIRE(page == 4096, "page size is 4096");

	test_grow_in_place();
	test_grow_move();
	test_shrink();
	test_fixed();
	test_errors();
	return check_done();
}
