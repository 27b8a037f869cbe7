/*
 * check.h is the whole test framework of the syscall conformance programs.
 *
 * Each check prints one line, "ok - <what>" or
 * "not ok - <what>: got X want Y (errno NAME)", and main ends with
 * "return check_done();", which prints the counts and returns the exit
 * status (1 if any check failed).
 *
 * Every macro clears errno before evaluating its expression, so the errno
 * printed on failure is the one that expression set.
 *
 * stdout is made unbuffered before main so that output written before a
 * crash is not lost and so that printing never calls malloc (brk.c moves the
 * program break behind glibc's back).
 */
#ifndef PALISADE_TEST_SYSCALLS_CHECK_H
#define PALISADE_TEST_SYSCALLS_CHECK_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int check_total;
static int check_failed;

__attribute__((constructor)) static void check_init(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
}

/* check_errname returns the symbolic name of errno value e ("0" for none). */
static inline const char *check_errname(int e)
{
	const char *name;

	if (e == 0)
		return "0";
	name = strerrorname_np(e);
	return name ? name : "unknown errno";
}

/* check_pass counts a check and prints its "ok" line when it passed. */
static inline int check_pass(int pass, const char *what)
{
	check_total++;
	if (pass) {
		printf("ok - %s\n", what);
		return 1;
	}
	check_failed++;
	return 0;
}

/* check_int reports a comparison of two integers (or addresses). */
static inline int check_int(int pass, const char *what, long long got,
			    long long want, int err)
{
	if (check_pass(pass, what))
		return 1;
	if (got > 0xffff || want > 0xffff) /* most likely addresses */
		printf("not ok - %s: got %#llx want %#llx (errno %s)\n", what,
		       got, want, check_errname(err));
	else
		printf("not ok - %s: got %lld want %lld (errno %s)\n", what,
		       got, want, check_errname(err));
	return 0;
}

/* check_words reports a check whose outcome is described in words. */
static inline int check_words(int pass, const char *what, const char *got,
			      const char *want, int err)
{
	if (check_pass(pass, what))
		return 1;
	printf("not ok - %s: got %s want %s (errno %s)\n", what, got, want,
	       check_errname(err));
	return 0;
}

/* check_err reports a call that should have failed with want_err. */
static inline int check_err(const char *what, long long got, int err,
			    int want_err)
{
	if (check_pass(got == -1 && err == want_err, what))
		return 1;
	printf("not ok - %s: got %lld (errno %s) want -1 (errno %s)\n", what,
	       got, check_errname(err), check_errname(want_err));
	return 0;
}

/* check_str reports a comparison of two strings. */
static inline int check_str(const char *what, const char *got,
			    const char *want)
{
	if (check_pass(strcmp(got, want) == 0, what))
		return 1;
	printf("not ok - %s: got \"%s\" want \"%s\"\n", what, got, want);
	return 0;
}

/* check_done prints the totals and returns the exit status for main. */
static inline int check_done(void)
{
	printf("# %d checks, %d failed\n", check_total, check_failed);
	return check_failed ? 1 : 0;
}

/* CHECK passes if cond is true. */
#define CHECK(cond, what)                                                     \
	({                                                                    \
		errno = 0;                                                    \
		int check_c_ = !!(cond);                                      \
		check_words(check_c_, (what), "false", "true", errno);        \
	})

/* CHECK_EQ passes if got == want, both taken as integers or pointers. */
#define CHECK_EQ(got, want, what)                                             \
	({                                                                    \
		errno = 0;                                                    \
		long long check_g_ = (long long)(got);                        \
		int check_e_ = errno;                                         \
		long long check_w_ = (long long)(want);                       \
		check_int(check_g_ == check_w_, (what), check_g_, check_w_,   \
			  check_e_);                                          \
	})

/*
 * CHECK_OK passes if expr (a syscall-style result) is not -1. Its value is
 * the result, so that it can be kept: int fd = CHECK_OK(open(...), "open").
 */
#define CHECK_OK(expr, what)                                                  \
	({                                                                    \
		errno = 0;                                                    \
		long long check_g_ = (long long)(expr);                       \
		int check_e_ = errno;                                         \
		check_words(check_g_ != -1, (what), "-1", "success",          \
			    check_e_);                                        \
		check_g_;                                                     \
	})

/* CHECK_ERR passes if expr returns -1 and sets errno to want_errno. */
#define CHECK_ERR(expr, want_errno, what)                                     \
	({                                                                    \
		errno = 0;                                                    \
		long long check_g_ = (long long)(expr);                       \
		int check_e_ = errno;                                         \
		check_err((what), check_g_, check_e_, (want_errno));          \
	})

/* CHECK_STR passes if the NUL-terminated strings got and want are equal. */
#define CHECK_STR(got, want, what) check_str((what), (got), (want))

/*
 * REQUIRE states a precondition: on success it prints and counts nothing;
 * on failure the rest of the program cannot run meaningfully, so it reports
 * a failed check and exits with the counts so far.
 */
#define REQUIRE(cond, what)                                                   \
	do {                                                                  \
		errno = 0;                                                    \
		if (!(cond)) {                                                \
			check_words(0, (what), "false", "true", errno);       \
			printf("# stopping: precondition failed\n");          \
			exit(check_done());                                   \
		}                                                             \
	} while (0)

/*
 * check_in_child runs fn(arg) in a child process, for checks that change
 * what the process is (credentials, capabilities, its working directory),
 * and adds the child's check counts to this process's. A child that does
 * not run to completion is a failed check named after name.
 */
static inline void check_in_child(void (*fn)(const char *), const char *arg, const char *name)
{
	static int *counts;
	char what[300];
	int status = -1;
	pid_t pid;

	if (!counts) {
		counts = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		REQUIRE(counts != MAP_FAILED, "mmap a page shared with children");
	}
	counts[0] = counts[1] = 0;
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		check_total = check_failed = 0;
		fn(arg);
		counts[0] = check_total;
		counts[1] = check_failed;
		_exit(0);
	}
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	check_total += counts[0];
	check_failed += counts[1];
	snprintf(what, sizeof(what), "%.256s: the child ran to completion", name);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, what);
}

#endif
