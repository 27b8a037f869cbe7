/*
 * brk.c checks the raw brk(2) system call, which (unlike the glibc wrapper)
 * returns the new program break on success and the old one on failure.
 *
 * Nothing here may call malloc while the break is moved: glibc's malloc
 * caches the break and would get confused. check.h keeps stdout unbuffered
 * so that printing does not allocate.
 */
#include "check.h"

#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define MiB (1UL << 20)

static int in_data = 42;

static uintptr_t sys_brk(uintptr_t addr)
{
	return (uintptr_t)syscall(SYS_brk, addr);
}

static int all_zero(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

int main(void)
{
	long page = sysconf(_SC_PAGESIZE);
	uintptr_t start = sys_brk(0);
	int on_stack = 0;

	REQUIRE(start != 0 && start != (uintptr_t)-1, "brk(0) returns the current break");
	CHECK_EQ(sys_brk(0), start, "brk(0) is stable");
	CHECK((uintptr_t)&in_data < start, "the break is above the data segment");

	/* Grow by 1 MiB. The page holding the old break may be in use. */
	uintptr_t want = start + MiB;
	CHECK_EQ(sys_brk(want), want, "growing the break by 1 MiB returns the new break");
	CHECK_EQ(sys_brk(0), want, "brk(0) reports the grown break");
	char *lo = (char *)((start + page - 1) & ~(uintptr_t)(page - 1));
	char *hi = (char *)want;
	CHECK(all_zero(lo, hi - lo), "new break memory is zero-filled");
	memset(lo, 0x6b, hi - lo);
	int ok = 1;
	for (char *c = lo; c < hi; c++)
		ok &= *c == 0x6b;
	CHECK(ok, "new break memory is writable");

	/* A break that is not page aligned is returned exactly. */
	want = start + MiB + 123;
	CHECK_EQ(sys_brk(want), want, "unaligned break is returned as given");

	/* Shrink back; the freed pages are unmapped. */
	CHECK_EQ(sys_brk(start + page), start + page, "shrinking the break returns the new break");
	unsigned char vec;
	CHECK_ERR(mincore((char *)((uintptr_t)lo + 2 * page), page, &vec), ENOMEM,
		  "memory above a shrunk break is unmapped");
	want = start + 2 * MiB;
	CHECK_EQ(sys_brk(want), want, "growing again after shrinking");
	CHECK(all_zero(lo + 2 * page, (char *)want - (lo + 2 * page)),
	      "memory regained after a shrink is zero again");

	/* Refused requests return the current break and change nothing. */
	uintptr_t cur = sys_brk(0);
	CHECK_EQ(sys_brk((uintptr_t)&in_data), cur, "brk below the initial break returns the old break");
	CHECK_EQ(sys_brk(0), cur, "break unchanged after refused brk below start");
	CHECK_EQ(in_data, 42, "data segment intact after refused brk");
	uintptr_t huge = ((uintptr_t)&on_stack + MiB) & ~(uintptr_t)(page - 1);
	CHECK_EQ(sys_brk(huge), cur, "huge brk across the stack returns the old break");
	CHECK_EQ(sys_brk(0), cur, "break unchanged after refused huge brk");
	CHECK_EQ(sys_brk(cur + (1UL << 47)), cur, "brk beyond the user address space returns the old break");

	/* Put the break back where glibc left it. */
	CHECK_EQ(sys_brk(start), start, "restoring the initial break");
	return check_done();
}
