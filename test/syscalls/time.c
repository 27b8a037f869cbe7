/*
 * time.c checks clock_gettime(2), clock_getres(2), gettimeofday(2), time(2),
 * nanosleep(2) and clock_nanosleep(2). glibc answers the first ones from the
 * vDSO without entering the kernel, so each is also made as a raw syscall.
 */
#include "check.h"

#include <stdint.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#define NSEC 1000000000LL

static int64_t ns(struct timespec t)
{
	return t.tv_sec * NSEC + t.tv_nsec;
}

static long raw_gettime(clockid_t id, struct timespec *t)
{
	return syscall(SYS_clock_gettime, id, t);
}

static int valid(struct timespec t)
{
	return t.tv_sec >= 0 && t.tv_nsec >= 0 && t.tv_nsec < NSEC;
}

static const struct {
	clockid_t id;
	const char *name;
	int monotonic;
} clocks[] = {
	{ CLOCK_REALTIME, "CLOCK_REALTIME", 0 },
	{ CLOCK_MONOTONIC, "CLOCK_MONOTONIC", 1 },
	{ CLOCK_MONOTONIC_RAW, "CLOCK_MONOTONIC_RAW", 1 },
	{ CLOCK_BOOTTIME, "CLOCK_BOOTTIME", 1 },
	{ CLOCK_REALTIME_COARSE, "CLOCK_REALTIME_COARSE", 0 },
	{ CLOCK_MONOTONIC_COARSE, "CLOCK_MONOTONIC_COARSE", 1 },
	{ CLOCK_PROCESS_CPUTIME_ID, "CLOCK_PROCESS_CPUTIME_ID", 1 },
	{ CLOCK_THREAD_CPUTIME_ID, "CLOCK_THREAD_CPUTIME_ID", 1 },
};

static void test_clocks(void)
{
	char what[160];

	for (size_t i = 0; i < sizeof(clocks) / sizeof(clocks[0]); i++) {
		struct timespec a = { -1, -1 }, b = { -1, -1 };
		const char *name = clocks[i].name;

		snprintf(what, sizeof(what), "clock_gettime %s", name);
		CHECK_EQ(clock_gettime(clocks[i].id, &a), 0, what);
		snprintf(what, sizeof(what), "raw clock_gettime %s", name);
		CHECK_EQ(raw_gettime(clocks[i].id, &b), 0, what);
		snprintf(what, sizeof(what), "%s values are normalised timespecs", name);
		CHECK(valid(a) && valid(b), what);
		snprintf(what, sizeof(what), "clock_getres %s", name);
		CHECK_EQ(syscall(SYS_clock_getres, clocks[i].id, &a), 0, what);
		snprintf(what, sizeof(what), "%s resolution is positive", name);
		CHECK(valid(a) && ns(a) > 0, what);
		if (!clocks[i].monotonic)
			continue;

		/* Alternate libc (vDSO) and raw reads: neither may go backwards. */
		int64_t prev = 0, bad = 0;
		for (int n = 0; n < 1000; n++) {
			if (n % 2)
				clock_gettime(clocks[i].id, &a);
			else
				raw_gettime(clocks[i].id, &a);
			if (ns(a) < prev)
				bad++;
			prev = ns(a);
		}
		snprintf(what, sizeof(what), "%s does not go backwards over 1000 reads", name);
		CHECK_EQ(bad, 0, what);
	}

	struct timespec res;
	CHECK_EQ(clock_getres(CLOCK_MONOTONIC, &res), 0, "libc clock_getres CLOCK_MONOTONIC");
	CHECK(ns(res) > 0 && ns(res) <= 1000000, "CLOCK_MONOTONIC resolution is at most 1ms");
	CHECK_EQ(syscall(SYS_clock_getres, CLOCK_MONOTONIC, NULL), 0, "clock_getres with a NULL res");

	struct timespec mono, boot;
	CHECK_EQ(raw_gettime(CLOCK_MONOTONIC, &mono), 0, "raw CLOCK_MONOTONIC");
	CHECK_EQ(raw_gettime(CLOCK_BOOTTIME, &boot), 0, "raw CLOCK_BOOTTIME");
	CHECK(ns(boot) >= ns(mono), "CLOCK_BOOTTIME is not behind CLOCK_MONOTONIC");

	struct timespec t;
	CHECK_ERR(raw_gettime(1000, &t), EINVAL, "raw clock_gettime of an invalid clock is EINVAL");
	CHECK_ERR(clock_gettime(1000, &t), EINVAL, "clock_gettime of an invalid clock is EINVAL");
	CHECK_ERR(syscall(SYS_clock_getres, 1000, &t), EINVAL, "clock_getres of an invalid clock is EINVAL");
}

static int64_t diff_abs(int64_t a, int64_t b)
{
	return a > b ? a - b : b - a;
}

static void test_wallclock(void)
{
	struct timespec rt;
	struct timeval tv;

	CHECK_EQ(clock_gettime(CLOCK_REALTIME, &rt), 0, "clock_gettime CLOCK_REALTIME");
	CHECK(rt.tv_sec > 1577836800, "CLOCK_REALTIME is after 2020");
	CHECK_EQ(gettimeofday(&tv, NULL), 0, "gettimeofday");
	CHECK(tv.tv_usec >= 0 && tv.tv_usec < 1000000, "gettimeofday tv_usec is in range");
	CHECK(diff_abs(tv.tv_sec * NSEC + tv.tv_usec * 1000LL, ns(rt)) < NSEC,
	      "gettimeofday is within 1s of CLOCK_REALTIME");
	CHECK_EQ(syscall(SYS_gettimeofday, &tv, NULL), 0, "raw gettimeofday");
	CHECK(diff_abs(tv.tv_sec * NSEC + tv.tv_usec * 1000LL, ns(rt)) < NSEC,
	      "raw gettimeofday is within 1s of CLOCK_REALTIME");
	CHECK(diff_abs(time(NULL), rt.tv_sec) <= 1, "time(NULL) is within 1s of CLOCK_REALTIME");
	time_t t = 0;
	long r = syscall(SYS_time, &t);
	CHECK(diff_abs(r, rt.tv_sec) <= 1, "raw time is within 1s of CLOCK_REALTIME");
	CHECK_EQ(t, r, "raw time stores its result");
}

/* measure runs a sleep request and returns how long it took by CLOCK_MONOTONIC. */
static int64_t measure(long (*sleep_fn)(void), long *ret)
{
	struct timespec a, b;

	raw_gettime(CLOCK_MONOTONIC, &a);
	*ret = sleep_fn();
	raw_gettime(CLOCK_MONOTONIC, &b);
	return ns(b) - ns(a);
}

static const struct timespec fifty_ms = { 0, 50000000 };

static long libc_nanosleep(void)
{
	return nanosleep(&fifty_ms, NULL);
}

static long raw_nanosleep(void)
{
	return syscall(SYS_nanosleep, &fifty_ms, NULL);
}

static long raw_clock_nanosleep_rel(void)
{
	return syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &fifty_ms, NULL);
}

static long raw_clock_nanosleep_abs(void)
{
	struct timespec t;

	raw_gettime(CLOCK_MONOTONIC, &t);
	t.tv_nsec += fifty_ms.tv_nsec;
	if (t.tv_nsec >= NSEC) {
		t.tv_nsec -= NSEC;
		t.tv_sec++;
	}
	return syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
}

static void test_sleep(void)
{
	static const struct {
		long (*fn)(void);
		const char *name;
	} sleeps[] = {
		{ libc_nanosleep, "nanosleep" },
		{ raw_nanosleep, "raw nanosleep" },
		{ raw_clock_nanosleep_rel, "raw clock_nanosleep CLOCK_MONOTONIC" },
		{ raw_clock_nanosleep_abs, "raw clock_nanosleep TIMER_ABSTIME" },
	};
	char what[160];

	for (size_t i = 0; i < sizeof(sleeps) / sizeof(sleeps[0]); i++) {
		long ret;
		int64_t took = measure(sleeps[i].fn, &ret);

		snprintf(what, sizeof(what), "%s(50ms) returns 0", sleeps[i].name);
		CHECK_EQ(ret, 0, what);
		snprintf(what, sizeof(what), "%s(50ms) sleeps at least 50ms", sleeps[i].name);
		CHECK_EQ(took >= 50000000 ? 1 : took, 1, what);
		snprintf(what, sizeof(what), "%s(50ms) sleeps less than 2s", sleeps[i].name);
		CHECK_EQ(took < 2 * NSEC ? 1 : took, 1, what);
	}

	struct timespec past = { 0, 1 };
	int64_t start;
	struct timespec a;
	raw_gettime(CLOCK_MONOTONIC, &a);
	start = ns(a);
	CHECK_EQ(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &past, NULL), 0,
		 "clock_nanosleep to an absolute time in the past returns 0");
	raw_gettime(CLOCK_MONOTONIC, &a);
	CHECK(ns(a) - start < NSEC / 2, "clock_nanosleep to the past returns at once");

	struct timespec bad = { 0, NSEC };
	CHECK_ERR(syscall(SYS_nanosleep, &bad, NULL), EINVAL, "nanosleep with tv_nsec = 1e9 is EINVAL");
	CHECK_ERR(nanosleep(&bad, NULL), EINVAL, "libc nanosleep with tv_nsec = 1e9 is EINVAL");
	bad = (struct timespec){ 0, -1 };
	CHECK_ERR(syscall(SYS_nanosleep, &bad, NULL), EINVAL, "nanosleep with negative tv_nsec is EINVAL");
	bad = (struct timespec){ -1, 0 };
	CHECK_ERR(syscall(SYS_nanosleep, &bad, NULL), EINVAL, "nanosleep with negative tv_sec is EINVAL");
	bad = (struct timespec){ 0, NSEC };
	CHECK_ERR(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &bad, NULL), EINVAL,
		  "clock_nanosleep with tv_nsec = 1e9 is EINVAL");
	CHECK_ERR(syscall(SYS_clock_nanosleep, 1000, 0, &fifty_ms, NULL), EINVAL,
		  "clock_nanosleep of an invalid clock is EINVAL");
	struct timespec zero = { 0, 0 };
	CHECK_EQ(syscall(SYS_nanosleep, &zero, NULL), 0, "nanosleep of zero returns 0");
}

int main(void)
{
	test_clocks();
	test_wallclock();
	test_sleep();
	return check_done();
}
