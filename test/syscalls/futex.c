/*
 * futex.c checks futex(2) against the Linux man page: FUTEX_WAIT (value
 * mismatch, relative timeouts), FUTEX_WAIT_BITSET with absolute
 * CLOCK_MONOTONIC and CLOCK_REALTIME deadlines, FUTEX_WAKE counts,
 * FUTEX_REQUEUE and FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP, bitset masks, private
 * and shared futexes across fork, robust futexes (set/get_robust_list, the
 * kernel marking a dead owner, pthread robust mutexes), CLONE_CHILD_CLEARTID
 * waking a joiner, and the error cases.
 *
 * To know that waiter threads are really blocked in the kernel, the checks
 * count them with FUTEX_CMP_REQUEUE (nr_wake 0), which returns how many
 * waiters it moved, and then move them back.
 *
 * Not covered: FUTEX_CLOCK_REALTIME with plain FUTEX_WAIT, which the man page
 * allows since Linux 4.5 but current kernels reject with ENOSYS.
 */
#include "check.h"

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

static long futex(volatile int *uaddr, int op, int val, const void *timeout_or_val2, volatile int *uaddr2, int val3)
{
	return syscall(SYS_futex, uaddr, op, val, timeout_or_val2, uaddr2, val3);
}

#define VAL2(n) ((const void *)(uintptr_t)(n))

static long long now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int reap(pid_t pid)
{
	int status;
	pid_t got;

	do
		got = waitpid(pid, &status, 0);
	while (got == -1 && errno == EINTR);
	return got == pid ? status : -1;
}

/*
 * parked returns whether exactly n waiters are blocked on f: it moves them
 * all to tmp with FUTEX_CMP_REQUEUE until n have been counted (or 5 s pass)
 * and then moves them back. flags is 0 or FUTEX_PRIVATE_FLAG.
 */
static int parked(volatile int *f, volatile int *tmp, int n, int flags)
{
	long total = 0;

	for (int i = 0; i < 5000 && total < n; i++) {
		long r = futex(f, FUTEX_CMP_REQUEUE | flags, 0, VAL2(INT_MAX), tmp, *f);
		if (r > 0)
			total += r;
		if (total < n)
			msleep(1);
	}
	long back = futex(tmp, FUTEX_CMP_REQUEUE | flags, 0, VAL2(INT_MAX), f, *tmp);
	return total == n && back == n;
}

struct waiter {
	volatile int *addr;
	int op;
	int val;
	int bitset;
	long ret;
	int err;
	volatile int done;
	pthread_t t;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;

	w->ret = futex(w->addr, w->op, w->val, NULL, NULL, w->bitset);
	w->err = errno;
	__atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void start(struct waiter *w, volatile int *addr, int op, int val, int bitset)
{
	memset(w, 0, sizeof(*w));
	w->addr = addr;
	w->op = op;
	w->val = val;
	w->bitset = bitset;
	REQUIRE(pthread_create(&w->t, NULL, wait_thread, w) == 0, "pthread_create a waiter");
}

/* finish joins the waiters and returns whether all of them returned 0 (woken). */
static int finish(struct waiter *w, int n)
{
	int ok = 1;

	for (int i = 0; i < n; i++) {
		pthread_join(w[i].t, NULL);
		if (w[i].ret != 0)
			ok = 0;
	}
	return ok;
}

static int count_done(struct waiter *w, int n)
{
	int c = 0;

	for (int i = 0; i < n; i++)
		c += __atomic_load_n(&w[i].done, __ATOMIC_SEQ_CST);
	return c;
}

/* settle waits until m of the n waiters have returned (at most 5 s). */
static int settle(struct waiter *w, int n, int m)
{
	for (int i = 0; i < 5000 && count_done(w, n) < m; i++)
		msleep(1);
	return count_done(w, n);
}

static void test_wait_timeouts(void)
{
	volatile int word = 1;
	struct timespec rel = { 0, 100000000 }, bad = { 0, 1000000000 }, neg = { -1, 0 };

	CHECK_ERR(futex(&word, FUTEX_WAIT, 0, NULL, NULL, 0), EAGAIN, "FUTEX_WAIT with a mismatched value is EAGAIN");
	CHECK_ERR(futex(&word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0), EAGAIN,
		  "FUTEX_WAIT_PRIVATE with a mismatched value is EAGAIN");

	long long t0 = now_ns(CLOCK_MONOTONIC);
	CHECK_ERR(futex(&word, FUTEX_WAIT_PRIVATE, 1, &rel, NULL, 0), ETIMEDOUT,
		  "FUTEX_WAIT with a relative timeout is ETIMEDOUT");
	long long took = now_ns(CLOCK_MONOTONIC) - t0;
	CHECK(took >= 100000000LL && took < 2000000000LL, "FUTEX_WAIT waited at least its 100 ms timeout");

	long long deadline = now_ns(CLOCK_MONOTONIC) + 100000000LL;
	struct timespec abs = { deadline / 1000000000LL, deadline % 1000000000LL };
	CHECK_ERR(futex(&word, FUTEX_WAIT_BITSET_PRIVATE, 1, &abs, NULL, FUTEX_BITSET_MATCH_ANY), ETIMEDOUT,
		  "FUTEX_WAIT_BITSET with an absolute CLOCK_MONOTONIC deadline is ETIMEDOUT");
	long long after = now_ns(CLOCK_MONOTONIC);
	CHECK(after >= deadline && after - deadline < 2000000000LL,
	      "FUTEX_WAIT_BITSET returned at or after its CLOCK_MONOTONIC deadline");

	deadline = now_ns(CLOCK_REALTIME) + 100000000LL;
	abs.tv_sec = deadline / 1000000000LL;
	abs.tv_nsec = deadline % 1000000000LL;
	t0 = now_ns(CLOCK_MONOTONIC);
	CHECK_ERR(futex(&word, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 1, &abs, NULL, FUTEX_BITSET_MATCH_ANY),
		  ETIMEDOUT, "FUTEX_WAIT_BITSET|FUTEX_CLOCK_REALTIME with an absolute deadline is ETIMEDOUT");
	after = now_ns(CLOCK_REALTIME);
	took = now_ns(CLOCK_MONOTONIC) - t0;
	CHECK(after >= deadline && took < 2000000000LL,
	      "FUTEX_WAIT_BITSET returned at or after its CLOCK_REALTIME deadline");

	abs.tv_sec = 1;
	abs.tv_nsec = 0;
	t0 = now_ns(CLOCK_MONOTONIC);
	CHECK_ERR(futex(&word, FUTEX_WAIT_BITSET_PRIVATE, 1, &abs, NULL, FUTEX_BITSET_MATCH_ANY), ETIMEDOUT,
		  "FUTEX_WAIT_BITSET with a deadline in the past is ETIMEDOUT");
	CHECK(now_ns(CLOCK_MONOTONIC) - t0 < 1000000000LL, "a deadline in the past returns at once");

	CHECK_ERR(futex(&word, FUTEX_WAIT_PRIVATE, 1, &bad, NULL, 0), EINVAL,
		  "FUTEX_WAIT with tv_nsec of 1e9 is EINVAL");
	CHECK_ERR(futex(&word, FUTEX_WAIT_PRIVATE, 1, &neg, NULL, 0), EINVAL,
		  "FUTEX_WAIT with a negative timeout is EINVAL");
}

static void test_errors(void)
{
	static int words[2];
	volatile int *unaligned = (volatile int *)((char *)words + 1);

	CHECK_ERR(futex(&words[0], 99, 0, NULL, NULL, 0), ENOSYS, "an unknown futex op is ENOSYS");
	CHECK_ERR(futex(unaligned, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0), EINVAL,
		  "FUTEX_WAIT on an unaligned address is EINVAL");
	CHECK_ERR(futex(unaligned, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), EINVAL,
		  "FUTEX_WAKE on an unaligned address is EINVAL");
	CHECK_ERR(futex(&words[0], FUTEX_WAKE | FUTEX_CLOCK_REALTIME, 1, NULL, NULL, 0), ENOSYS,
		  "FUTEX_CLOCK_REALTIME with FUTEX_WAKE is ENOSYS");
	CHECK_ERR(futex(&words[0], FUTEX_WAIT_BITSET_PRIVATE, 0, NULL, NULL, 0), EINVAL,
		  "FUTEX_WAIT_BITSET with bitset 0 is EINVAL");
	CHECK_ERR(futex(&words[0], FUTEX_WAKE_BITSET_PRIVATE, 1, NULL, NULL, 0), EINVAL,
		  "FUTEX_WAKE_BITSET with bitset 0 is EINVAL");
	CHECK_EQ(futex(&words[0], FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 0, "FUTEX_WAKE with no waiters returns 0");

	char *hole = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(hole != MAP_FAILED && munmap(hole, 4096) == 0, "make a hole");
	CHECK_ERR(futex((volatile int *)hole, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0), EFAULT,
		  "FUTEX_WAIT on an unmapped address is EFAULT");
}

static void test_wake_requeue(void)
{
	static volatile int f1, f2, f3, tmp;
	struct waiter w[5];

	f1 = f2 = f3 = tmp = 0;
	for (int i = 0; i < 5; i++)
		start(&w[i], &f1, FUTEX_WAIT_PRIVATE, 0, 0);
	CHECK(parked(&f1, &tmp, 5, FUTEX_PRIVATE_FLAG), "five threads block in FUTEX_WAIT");
	CHECK_EQ(futex(&f1, FUTEX_WAKE_PRIVATE, 2, NULL, NULL, 0), 2, "FUTEX_WAKE 2 with five waiters wakes 2");
	CHECK_EQ(settle(w, 5, 2), 2, "exactly two waiters returned");
	CHECK_ERR(futex(&f1, FUTEX_CMP_REQUEUE_PRIVATE, 1, VAL2(1), &f2, 1), EAGAIN,
		  "FUTEX_CMP_REQUEUE with a mismatched val3 is EAGAIN");
	CHECK_EQ(futex(&f1, FUTEX_CMP_REQUEUE_PRIVATE, 1, VAL2(1), &f2, 0), 2,
		 "FUTEX_CMP_REQUEUE waking 1 and requeueing 1 returns 2");
	CHECK_EQ(settle(w, 5, 3), 3, "FUTEX_CMP_REQUEUE woke one waiter");
	CHECK_EQ(futex(&f1, FUTEX_REQUEUE_PRIVATE, 0, VAL2(INT_MAX), &f3, 0), 1,
		 "FUTEX_REQUEUE moves the last waiter and counts it");
	CHECK_EQ(futex(&f1, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 0, "no waiters are left on the first futex");
	CHECK_EQ(futex(&f2, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 1,
		 "the waiter requeued by FUTEX_CMP_REQUEUE wakes from the second futex");
	CHECK_EQ(futex(&f3, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 1,
		 "the waiter requeued by FUTEX_REQUEUE wakes from the third futex");
	CHECK(finish(w, 5), "every woken FUTEX_WAIT returned 0");
}

static void test_wake_op(void)
{
	static volatile int fa, fb, tmp;
	struct waiter w[4];

	fa = 0;
	fb = 5;
	tmp = 0;
	start(&w[0], &fa, FUTEX_WAIT_PRIVATE, 0, 0);
	start(&w[1], &fa, FUTEX_WAIT_PRIVATE, 0, 0);
	start(&w[2], &fb, FUTEX_WAIT_PRIVATE, 5, 0);
	start(&w[3], &fb, FUTEX_WAIT_PRIVATE, 5, 0);
	CHECK(parked(&fa, &tmp, 2, FUTEX_PRIVATE_FLAG) && parked(&fb, &tmp, 2, FUTEX_PRIVATE_FLAG),
	      "two threads block on each of two futexes");
	CHECK_EQ(futex(&fa, FUTEX_WAKE_OP_PRIVATE, 1, VAL2(1), &fb, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 5)), 2,
		 "FUTEX_WAKE_OP (add 1, old == 5 true) wakes one on each futex");
	CHECK_EQ(fb, 6, "FUTEX_WAKE_OP added 1 to the second word");
	CHECK_EQ(futex(&fa, FUTEX_WAKE_OP_PRIVATE, 1, VAL2(1), &fb, FUTEX_OP(FUTEX_OP_SET, 0, FUTEX_OP_CMP_GT, 100)), 1,
		 "FUTEX_WAKE_OP (set 0, old > 100 false) wakes only on the first futex");
	CHECK_EQ(fb, 0, "FUTEX_WAKE_OP set the second word to 0");
	CHECK_EQ(futex(&fb, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 1,
		 "the false comparison left the second waiter asleep");
	CHECK(finish(w, 4), "every FUTEX_WAKE_OP waiter returned 0");

	fb = 1;
	CHECK_EQ(futex(&fa, FUTEX_WAKE_OP_PRIVATE, 0, VAL2(0), &fb,
		       FUTEX_OP((FUTEX_OP_OR | FUTEX_OP_OPARG_SHIFT), 4, FUTEX_OP_CMP_EQ, 0)),
		 0, "FUTEX_WAKE_OP with no waiters returns 0");
	CHECK_EQ(fb, 17, "FUTEX_OP_OR with FUTEX_OP_OPARG_SHIFT ors in 1 << oparg");
	futex(&fa, FUTEX_WAKE_OP_PRIVATE, 0, VAL2(0), &fb, FUTEX_OP(FUTEX_OP_ANDN, 1, FUTEX_OP_CMP_EQ, 0));
	CHECK_EQ(fb, 16, "FUTEX_OP_ANDN clears the oparg bits");
	futex(&fa, FUTEX_WAKE_OP_PRIVATE, 0, VAL2(0), &fb, FUTEX_OP(FUTEX_OP_XOR, 0xf, FUTEX_OP_CMP_EQ, 0));
	CHECK_EQ(fb, 31, "FUTEX_OP_XOR xors in oparg");
	CHECK_ERR(futex(&fa, FUTEX_WAKE_OP_PRIVATE, 0, VAL2(0), &fb, FUTEX_OP(7, 0, FUTEX_OP_CMP_EQ, 0)), ENOSYS,
		  "FUTEX_WAKE_OP with an unknown operation is ENOSYS");
}

static void test_bitset(void)
{
	static volatile int fw, tmp;
	struct waiter w[4];

	fw = tmp = 0;
	start(&w[0], &fw, FUTEX_WAIT_BITSET_PRIVATE, 0, 0x1);
	start(&w[1], &fw, FUTEX_WAIT_BITSET_PRIVATE, 0, 0x2);
	start(&w[2], &fw, FUTEX_WAIT_BITSET_PRIVATE, 0, 0x6);
	start(&w[3], &fw, FUTEX_WAIT_PRIVATE, 0, 0);
	CHECK(parked(&fw, &tmp, 4, FUTEX_PRIVATE_FLAG), "four threads block with different bitsets");
	CHECK_EQ(futex(&fw, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, NULL, 0x10), 1,
		 "FUTEX_WAKE_BITSET with an unused bit wakes only the plain FUTEX_WAIT (bitset all ones)");
	CHECK_EQ(settle(w, 4, 1), 1, "one waiter returned");
	CHECK(__atomic_load_n(&w[3].done, __ATOMIC_SEQ_CST), "it was the plain FUTEX_WAIT waiter");
	CHECK_EQ(futex(&fw, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, NULL, 0x8), 0,
		 "FUTEX_WAKE_BITSET with a mask nobody waits for wakes none");
	CHECK_EQ(futex(&fw, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, NULL, 0x2), 2,
		 "FUTEX_WAKE_BITSET mask 0x2 wakes the waiters with bitsets 0x2 and 0x6");
	CHECK_EQ(settle(w, 4, 3), 3, "three waiters returned");
	CHECK(!__atomic_load_n(&w[0].done, __ATOMIC_SEQ_CST), "the waiter with bitset 0x1 still sleeps");
	CHECK_EQ(futex(&fw, FUTEX_WAKE, INT_MAX, NULL, NULL, 0), 0,
		 "a shared FUTEX_WAKE does not wake a private waiter");
	CHECK_EQ(futex(&fw, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 1, "plain FUTEX_WAKE wakes a bitset waiter");
	CHECK(finish(w, 4), "every bitset waiter returned 0");
}

static void test_fork_shared(void)
{
	volatile int *shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int ready[2];

	REQUIRE(shm != MAP_FAILED, "shared anonymous mmap");
	REQUIRE(pipe(ready) == 0, "pipe");
	shm[0] = 0;
	shm[1] = 0;
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		struct timespec t = { 10, 0 };
		_exit(futex(&shm[0], FUTEX_WAIT, 0, &t, NULL, 0) == 0 ? 0 : 1);
	}
	CHECK(parked(&shm[0], &shm[1], 1, 0), "a child blocks in a shared FUTEX_WAIT on MAP_SHARED memory");
	CHECK_EQ(futex(&shm[0], FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 0,
		 "a private FUTEX_WAKE does not wake a shared waiter in another process");
	CHECK_EQ(futex(&shm[0], FUTEX_WAKE, 1, NULL, NULL, 0), 1, "a shared FUTEX_WAKE wakes the waiter in the child");
	int status = reap(pid);
	CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child's FUTEX_WAIT returned 0");

	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		struct timespec t = { 0, 300000000 };
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		long r = futex(&shm[0], FUTEX_WAIT_PRIVATE, 0, &t, NULL, 0);
		_exit(r == -1 && errno == ETIMEDOUT ? 0 : 1);
	}
	char c;
	REQUIRE(read(ready[0], &c, 1) == 1, "the child is about to wait");
	msleep(50);
	CHECK_EQ(futex(&shm[0], FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 0,
		 "a private FUTEX_WAKE from another process finds no waiter");
	CHECK_EQ(futex(&shm[0], FUTEX_WAKE, 1, NULL, NULL, 0), 0,
		 "a shared FUTEX_WAKE does not wake a private waiter in another process");
	status = reap(pid);
	CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "the child's private FUTEX_WAIT timed out instead of being woken");
	munmap((void *)shm, 4096);
	close(ready[0]);
	close(ready[1]);
}

/* The kernel's robust list ABI (linux/futex.h). */
static struct robust_list_head *shared_head;

static void test_robust_raw(void)
{
	struct robust_list_head *head = NULL;
	size_t len = 0;

	CHECK_EQ(syscall(SYS_get_robust_list, 0, &head, &len), 0, "get_robust_list of this thread");
	CHECK_EQ(len, sizeof(struct robust_list_head), "get_robust_list reports the head size glibc registered");
	CHECK(head != NULL, "glibc registered a robust list head");
	CHECK_ERR(syscall(SYS_set_robust_list, head, sizeof(*head) - 1), EINVAL,
		  "set_robust_list with a wrong size is EINVAL");
	CHECK_ERR(syscall(SYS_get_robust_list, 0x3fffffff, &head, &len), ESRCH,
		  "get_robust_list of a missing thread is ESRCH");

	/* A child registers a robust list in shared memory, holds a lock word and dies. */
	char *shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	REQUIRE(shm != MAP_FAILED, "shared anonymous mmap");
	shared_head = (struct robust_list_head *)shm;
	struct robust_list *entry = (struct robust_list *)(shm + 64);
	volatile int *word = (volatile int *)(shm + 128);
	volatile int *tmp = (volatile int *)(shm + 256);
	int go[2], ready[2];
	REQUIRE(pipe(go) == 0 && pipe(ready) == 0, "pipes");
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		shared_head->list.next = entry;
		shared_head->futex_offset = (char *)word - (char *)entry;
		shared_head->list_op_pending = NULL;
		entry->next = &shared_head->list;
		*word = syscall(SYS_gettid);
		if (syscall(SYS_set_robust_list, shared_head, sizeof(*shared_head)) != 0)
			_exit(1);
		char c;
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		_exit(0);
	}
	char c;
	REQUIRE(read(ready[0], &c, 1) == 1, "the child holds the robust lock");
	int owner = *word;
	CHECK_EQ(owner, pid, "the lock word holds the owner's tid");
	__atomic_or_fetch(word, FUTEX_WAITERS, __ATOMIC_SEQ_CST);
	struct waiter w;
	start(&w, word, FUTEX_WAIT, owner | FUTEX_WAITERS, 0);
	CHECK(parked(word, tmp, 1, 0), "a thread waits on the robust lock word");
	REQUIRE(write(go[1], "g", 1) == 1, "let the owner exit");
	int status = reap(pid);
	CHECK(status != -1 && WIFEXITED(status), "the owner exited");
	CHECK(finish(&w, 1), "the owner's death woke the waiter");
	CHECK_EQ((unsigned int)*word, FUTEX_WAITERS | FUTEX_OWNER_DIED,
		 "the kernel set FUTEX_OWNER_DIED and kept FUTEX_WAITERS in the dead owner's lock word");
	munmap(shm, 4096);
	close(go[0]);
	close(go[1]);
	close(ready[0]);
	close(ready[1]);
}

static pthread_mutex_t robust_mutex;

static void *lock_and_die(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&robust_mutex);
	return NULL; /* the thread ends holding the lock */
}

static void test_robust_mutex(void)
{
	pthread_mutexattr_t attr;
	pthread_t t;

	pthread_mutexattr_init(&attr);
	REQUIRE(pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) == 0, "pthread_mutexattr_setrobust");
	REQUIRE(pthread_mutex_init(&robust_mutex, &attr) == 0, "pthread_mutex_init");
	REQUIRE(pthread_create(&t, NULL, lock_and_die, NULL) == 0, "pthread_create");
	pthread_join(t, NULL);
	CHECK_EQ(pthread_mutex_lock(&robust_mutex), EOWNERDEAD,
		 "locking a robust mutex whose owner thread died returns EOWNERDEAD");
	CHECK_EQ(pthread_mutex_consistent(&robust_mutex), 0, "pthread_mutex_consistent");
	CHECK_EQ(pthread_mutex_unlock(&robust_mutex), 0, "unlock the recovered mutex");
	CHECK_EQ(pthread_mutex_lock(&robust_mutex), 0, "the recovered mutex locks normally");
	pthread_mutex_unlock(&robust_mutex);

	/* Process-shared, in shared memory: the owner is a child process. */
	pthread_mutex_t *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	REQUIRE(m != MAP_FAILED, "shared anonymous mmap");
	REQUIRE(pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) == 0, "pthread_mutexattr_setpshared");
	REQUIRE(pthread_mutex_init(m, &attr) == 0, "pthread_mutex_init process-shared");
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0)
		_exit(pthread_mutex_lock(m) == 0 ? 0 : 1);
	int status = reap(pid);
	CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "a child locked the shared mutex and exited");
	CHECK_EQ(pthread_mutex_lock(m), EOWNERDEAD,
		 "locking a robust mutex whose owner process died returns EOWNERDEAD");
	CHECK_EQ(pthread_mutex_consistent(m), 0, "pthread_mutex_consistent");
	CHECK_EQ(pthread_mutex_unlock(m), 0, "unlock");
	pthread_mutexattr_destroy(&attr);
	munmap(m, 4096);
}

static volatile int ctid, ptid;
static volatile int child_tid, child_saw_ctid;

static int cleartid_fn(void *arg)
{
	(void)arg;
	child_tid = syscall(SYS_gettid);
	child_saw_ctid = ctid;
	struct timespec t = { 0, 100000000 };
	syscall(SYS_nanosleep, &t, NULL);
	return 0;
}

static void *join_me(void *arg)
{
	msleep(50);
	return arg;
}

static void test_cleartid(void)
{
	size_t size = 64 * 1024;
	char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
		    CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;

	REQUIRE(stack != MAP_FAILED, "mmap a thread stack");
	ctid = ptid = -1;
	int tid = clone(cleartid_fn, stack + size, flags, NULL, &ptid, NULL, &ctid);
	REQUIRE(tid > 0, "clone a raw thread with CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID");
	CHECK_EQ(ptid, tid, "CLONE_PARENT_SETTID stored the new tid before clone returned");
	int timedout = 0, v;
	while ((v = ctid) != 0) {
		struct timespec t = { 5, 0 };
		if (futex(&ctid, FUTEX_WAIT, v, &t, NULL, 0) == -1 && errno == ETIMEDOUT) {
			timedout = 1;
			break;
		}
	}
	CHECK(!timedout && ctid == 0,
	      "CLONE_CHILD_CLEARTID zeroes the tid word and wakes a FUTEX_WAIT on it at thread exit");
	CHECK_EQ(child_tid, tid, "the thread's gettid is the tid clone returned");
	CHECK_EQ(child_saw_ctid, tid, "CLONE_CHILD_SETTID stored the tid before the thread ran");
	munmap(stack, size);

	pthread_t t;
	void *ret = NULL;
	REQUIRE(pthread_create(&t, NULL, join_me, (void *)0x77) == 0, "pthread_create");
	CHECK_EQ(pthread_join(t, &ret), 0, "pthread_join (woken through CLONE_CHILD_CLEARTID)");
	CHECK_EQ(ret, 0x77, "pthread_join returns the thread's result");
}

int main(void)
{
	test_wait_timeouts();
	test_errors();
	test_wake_requeue();
	test_wake_op();
	test_bitset();
	test_fork_shared();
	test_robust_raw();
	test_robust_mutex();
	test_cleartid();
	return check_done();
}
