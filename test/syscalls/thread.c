/*
 * thread.c checks threads against the Linux man pages (clone(2), clone3(2),
 * gettid(2), tgkill(2), pthreads(7), signal(7)): threads computing and
 * joining, thread and process ids, TLS, caller-supplied stacks, the signal
 * mask and alternate stack of a new thread, thread-directed versus
 * process-directed signals, per-thread names, exit() and a fault in one
 * thread ending the process, pthread_exit of the main thread leaving the
 * others running, and clone3 creating both a process and a thread.
 */
#include "check.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#define NTHREADS 8

static pid_t gettid_(void)
{
	return syscall(SYS_gettid);
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

static __thread int tls_var = 7;
static pthread_barrier_t barrier;

struct worker {
	int idx;
	long sum;
	pid_t tid, pid, ppid;
	int tls_initial, tls_final;
	int *tls_addr;
	pthread_t t;
};

static void *work(void *arg)
{
	struct worker *w = arg;

	w->tid = gettid_();
	w->pid = getpid();
	w->ppid = getppid();
	w->tls_initial = tls_var;
	w->tls_addr = &tls_var;
	tls_var = 100 + w->idx;
	for (long i = w->idx * 100000L; i < (w->idx + 1) * 100000L; i++)
		w->sum += i;
	pthread_barrier_wait(&barrier); /* every thread has set its tls_var */
	w->tls_final = tls_var;
	return (void *)(intptr_t)(w->idx + 1);
}

static void test_workers(void)
{
	struct worker w[NTHREADS];
	int created = 0;

	REQUIRE(pthread_barrier_init(&barrier, NULL, NTHREADS) == 0, "pthread_barrier_init");
	tls_var = 1;
	for (int i = 0; i < NTHREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].idx = i;
		if (pthread_create(&w[i].t, NULL, work, &w[i]) == 0)
			created++;
	}
	CHECK_EQ(created, NTHREADS, "pthread_create 8 threads");
	int joined = 0;
	long total = 0;
	for (int i = 0; i < created; i++) {
		void *ret = NULL;
		if (pthread_join(w[i].t, &ret) == 0 && ret == (void *)(intptr_t)(i + 1))
			joined++;
		total += w[i].sum;
	}
	CHECK_EQ(joined, NTHREADS, "pthread_join returns each thread's result");
	long n = NTHREADS * 100000L;
	CHECK_EQ(total, n * (n - 1) / 2, "the threads' partial sums add up");

	int distinct = 1, same_pid = 1, same_ppid = 1, tls_ok = 1;
	for (int i = 0; i < NTHREADS; i++) {
		if (w[i].tid == getpid() || w[i].tid <= 0)
			distinct = 0;
		for (int j = 0; j < i; j++)
			if (w[i].tid == w[j].tid || w[i].tls_addr == w[j].tls_addr)
				distinct = 0;
		if (w[i].pid != getpid())
			same_pid = 0;
		if (w[i].ppid != getppid())
			same_ppid = 0;
		if (w[i].tls_initial != 7 || w[i].tls_final != 100 + i || w[i].tls_addr == &tls_var)
			tls_ok = 0;
	}
	CHECK_EQ(gettid_(), getpid(), "the main thread's tid is the pid");
	CHECK(distinct, "every thread has its own tid, distinct from the pid, and its own TLS");
	CHECK(same_pid, "getpid is the same in every thread");
	CHECK(same_ppid, "getppid is the same in every thread");
	CHECK(tls_ok, "__thread variables start from their initializer and are private to each thread");
	CHECK_EQ(tls_var, 1, "the main thread's __thread variable is untouched by the others");
	pthread_barrier_destroy(&barrier);
}

static void *stack_probe(void *arg)
{
	volatile int local = 0;

	*(uintptr_t *)arg = (uintptr_t)&local;
	return NULL;
}

static void test_stack(void)
{
	size_t size = 256 * 1024;
	char *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	pthread_attr_t attr;
	pthread_t t;
	uintptr_t local = 0;

	REQUIRE(mem != MAP_FAILED, "mmap a thread stack");
	pthread_attr_init(&attr);
	REQUIRE(pthread_attr_setstack(&attr, mem, size) == 0, "pthread_attr_setstack");
	CHECK_EQ(pthread_create(&t, &attr, stack_probe, &local), 0, "pthread_create on a caller-supplied stack");
	pthread_join(t, NULL);
	CHECK(local >= (uintptr_t)mem && local < (uintptr_t)mem + size, "the thread runs on the mmap'd stack");
	pthread_attr_destroy(&attr);
	munmap(mem, size);
}

static volatile pid_t handled_tid;
static volatile int handled;

static void on_sig(int sig)
{
	(void)sig;
	handled_tid = gettid_();
	handled++;
}

static void install(int sig, void (*fn)(int), int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void mask(int how, int sig)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, sig);
	pthread_sigmask(how, &s, NULL);
}

struct sigthread {
	int sig;
	volatile pid_t tid;
	volatile int ready;
	volatile int inherited_block, inherited_pending;
	volatile int saw_pending;
	volatile int stop;
	pthread_t t;
};

/* waiter blocks its signal, reports ready, then sleeps in sigsuspend until handled. */
static void *waiter(void *arg)
{
	struct sigthread *s = arg;
	sigset_t cur, empty;

	pthread_sigmask(SIG_SETMASK, NULL, &cur);
	s->inherited_block = sigismember(&cur, SIGUSR2);
	sigpending(&cur);
	s->inherited_pending = sigismember(&cur, SIGUSR2);
	mask(SIG_BLOCK, s->sig);
	s->tid = gettid_();
	__atomic_store_n(&s->ready, 1, __ATOMIC_SEQ_CST);
	sigemptyset(&empty);
	while (!handled && !s->stop)
		sigsuspend(&empty);
	return NULL;
}

/* holder keeps every signal blocked and waits until told to stop. */
static void *holder(void *arg)
{
	struct sigthread *s = arg;
	sigset_t pend, all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	s->tid = gettid_();
	__atomic_store_n(&s->ready, 1, __ATOMIC_SEQ_CST);
	while (!s->stop) {
		sigpending(&pend);
		if (sigismember(&pend, SIGUSR1))
			s->saw_pending = 1;
		msleep(1);
	}
	return NULL;
}

static void wait_ready(struct sigthread *s)
{
	while (!__atomic_load_n(&s->ready, __ATOMIC_SEQ_CST))
		msleep(1);
}

static void test_signals(void)
{
	struct sigthread a, b;
	sigset_t pend;

	install(SIGUSR1, on_sig, 0);
	install(SIGUSR2, on_sig, 0);

	/* Thread-directed: tgkill to a thread runs the handler on that thread. */
	memset(&a, 0, sizeof(a));
	a.sig = SIGUSR1;
	handled = 0;
	REQUIRE(pthread_create(&a.t, NULL, waiter, &a) == 0, "pthread_create");
	wait_ready(&a);
	CHECK_EQ(syscall(SYS_tgkill, getpid(), a.tid, SIGUSR1), 0, "tgkill to the second thread");
	pthread_join(a.t, NULL);
	CHECK_EQ(handled, 1, "the tgkill'd signal was handled once");
	CHECK_EQ(handled_tid, a.tid, "tgkill: the handler ran on the target thread");

	/* Process-directed: blocked in all threads but one, it goes to that one. */
	mask(SIG_BLOCK, SIGUSR2);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.sig = SIGUSR1; /* a blocks SIGUSR1 only: SIGUSR2 is unblocked in its sigsuspend */
	handled = 0;
	REQUIRE(pthread_create(&b.t, NULL, holder, &b) == 0, "pthread_create");
	REQUIRE(pthread_create(&a.t, NULL, waiter, &a) == 0, "pthread_create");
	wait_ready(&a);
	wait_ready(&b);
	CHECK(a.inherited_block, "a new thread inherits the creator's signal mask");
	CHECK(!a.inherited_pending, "a new thread starts with nothing pending");
	CHECK_EQ(kill(getpid(), SIGUSR2), 0, "kill(getpid(), SIGUSR2)");
	pthread_join(a.t, NULL);
	CHECK_EQ(handled_tid, a.tid, "a process-directed signal goes to the one thread not blocking it");

	/* Pending sets: a thread-directed signal is pending only for its thread. */
	CHECK_EQ(syscall(SYS_tgkill, getpid(), b.tid, SIGUSR1), 0, "tgkill to a thread that blocks the signal");
	for (int i = 0; i < 5000 && !b.saw_pending; i++)
		msleep(1);
	CHECK(b.saw_pending, "sigpending in the target thread shows the thread-directed signal");
	sigpending(&pend);
	CHECK(!sigismember(&pend, SIGUSR1), "sigpending in another thread does not show it");

	/* A process-directed signal blocked everywhere is pending for every thread. */
	handled = 0;
	CHECK_EQ(kill(getpid(), SIGUSR2), 0, "kill(getpid(), SIGUSR2) while every thread blocks it");
	sigpending(&pend);
	CHECK(sigismember(&pend, SIGUSR2) && handled == 0, "the process-directed signal is pending, not delivered");
	mask(SIG_UNBLOCK, SIGUSR2);
	CHECK(handled == 1 && handled_tid == getpid(), "the thread that unblocks it takes it");
	b.stop = 1;
	pthread_join(b.t, NULL);
	install(SIGUSR1, SIG_DFL, 0);
	install(SIGUSR2, SIG_DFL, 0);
}

static char *alt_main, *alt_thread;
static size_t alt_size = 64 * 1024;
static volatile uintptr_t alt_local;

static void on_alt(int sig)
{
	volatile char local;

	(void)sig;
	alt_local = (uintptr_t)&local;
}

static void *altstack_thread(void *arg)
{
	stack_t ss = { 0 };
	int *r = arg;

	sigaltstack(NULL, &ss);
	r[0] = ss.ss_flags == SS_DISABLE;
	ss.ss_sp = alt_thread;
	ss.ss_size = alt_size;
	ss.ss_flags = 0;
	r[1] = sigaltstack(&ss, NULL) == 0;
	raise(SIGUSR1);
	r[2] = alt_local >= (uintptr_t)alt_thread && alt_local < (uintptr_t)alt_thread + alt_size;
	return NULL;
}

static void test_altstack(void)
{
	stack_t ss = { 0 }, cur;
	int r[3] = { 0, 0, 0 };
	pthread_t t;

	alt_main = mmap(NULL, alt_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	alt_thread = mmap(NULL, alt_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(alt_main != MAP_FAILED && alt_thread != MAP_FAILED, "mmap alternate stacks");
	ss.ss_sp = alt_main;
	ss.ss_size = alt_size;
	REQUIRE(sigaltstack(&ss, NULL) == 0, "sigaltstack in the main thread");
	install(SIGUSR1, on_alt, SA_ONSTACK);
	REQUIRE(pthread_create(&t, NULL, altstack_thread, r) == 0, "pthread_create");
	pthread_join(t, NULL);
	CHECK(r[0], "a new thread has no alternate signal stack (SS_DISABLE)");
	CHECK(r[1], "the new thread sets its own alternate stack");
	CHECK(r[2], "the thread's SA_ONSTACK handler runs on the thread's own alternate stack");
	CHECK_EQ(sigaltstack(NULL, &cur), 0, "sigaltstack query in the main thread");
	CHECK(cur.ss_sp == alt_main && cur.ss_flags == 0, "the main thread's alternate stack is unchanged");
	raise(SIGUSR1);
	CHECK(alt_local >= (uintptr_t)alt_main && alt_local < (uintptr_t)alt_main + alt_size,
	      "the main thread's handler runs on the main thread's alternate stack");
	ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, NULL);
	install(SIGUSR1, SIG_DFL, 0);
}

static void *name_thread(void *arg)
{
	char *got = arg;

	prctl(PR_SET_NAME, "worker-thread", 0, 0, 0);
	prctl(PR_GET_NAME, got, 0, 0, 0);
	return NULL;
}

static void test_names(void)
{
	char before[16] = { 0 }, after[16] = { 0 }, in_thread[16] = { 0 };
	pthread_t t;

	REQUIRE(prctl(PR_SET_NAME, "main-thread", 0, 0, 0) == 0, "PR_SET_NAME in the main thread");
	prctl(PR_GET_NAME, before, 0, 0, 0);
	REQUIRE(pthread_create(&t, NULL, name_thread, in_thread) == 0, "pthread_create");
	pthread_join(t, NULL);
	prctl(PR_GET_NAME, after, 0, 0, 0);
	CHECK_STR(in_thread, "worker-thread", "PR_SET_NAME names the calling thread");
	CHECK_STR(after, "main-thread", "another thread's PR_SET_NAME leaves the main thread's name alone");
}

static void *exit_42(void *arg)
{
	(void)arg;
	msleep(50);
	exit(42);
}

static void *crash(void *arg)
{
	(void)arg;
	msleep(50);
	*(volatile int *)0 = 1;
	return NULL;
}

static int pipe_w = -1;

static void *outlive_main(void *arg)
{
	pthread_t main_thread = *(pthread_t *)arg;
	void *ret = NULL;

	/* Joining the main thread returns once it has really exited. */
	if (pthread_join(main_thread, &ret) != 0 || ret != (void *)42)
		_exit(3);
	msleep(50);
	if (write(pipe_w, "alive", 5) != 5)
		_exit(4);
	return NULL; /* the last thread to end ends the process with status 0 */
}

static void test_process_exit(void)
{
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		pthread_t t;
		if (pthread_create(&t, NULL, exit_42, NULL) != 0)
			_exit(1);
		for (;;)
			pause();
	}
	int status = reap(pid);
	CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 42,
	      "exit() in a second thread ends the whole process with its status");

	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		struct rlimit rl = { 0, 0 };
		pthread_t t;
		setrlimit(RLIMIT_CORE, &rl);
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
		if (pthread_create(&t, NULL, crash, NULL) != 0)
			_exit(1);
		for (;;)
			pause();
	}
	status = reap(pid);
	CHECK(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
	      "a fault in one thread kills the whole process");

	int fds[2];
	REQUIRE(pipe(fds) == 0, "pipe");
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		static pthread_t self, t;
		close(fds[0]);
		pipe_w = fds[1];
		self = pthread_self();
		if (pthread_create(&t, NULL, outlive_main, &self) != 0)
			_exit(1);
		pthread_exit((void *)42);
	}
	close(fds[1]);
	char buf[8] = { 0 };
	ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
	CHECK(n == 5 && strcmp(buf, "alive") == 0,
	      "after pthread_exit of the main thread, another thread joins it and keeps running");
	status = reap(pid);
	CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "the process ends with status 0 when its last thread returns");
	close(fds[0]);
}

/* clone_args is the clone3 argument block (linux/sched.h, version 2). */
struct clone_args_v2 {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size,
		cgroup;
};

/*
 * raw_clone3(args, size, fn) calls clone3; the child calls fn on its new
 * stack and exits the thread with fn's result. Returns the child's tid (or
 * -errno) in the parent.
 */
long raw_clone3(struct clone_args_v2 *args, size_t size, int (*fn)(void));
asm(".text\n"
    ".globl raw_clone3\n"
    ".type raw_clone3, @function\n"
    "raw_clone3:\n\t"
    "movq %rdx, %r8\n\t"
    "movl $435, %eax\n\t"
    "syscall\n\t"
    "testq %rax, %rax\n\t"
    "jnz 1f\n\t"
    "xorl %ebp, %ebp\n\t"
    "andq $-16, %rsp\n\t"
    "callq *%r8\n\t"
    "movl %eax, %edi\n\t"
    "movl $60, %eax\n\t"
    "syscall\n\t"
    "ud2\n"
    "1:\n\t"
    "ret\n"
    ".size raw_clone3, .-raw_clone3\n");

static volatile int c3_ctid, c3_ptid;
static volatile pid_t c3_tid, c3_pid;

static int clone3_thread_fn(void)
{
	c3_tid = syscall(SYS_gettid);
	c3_pid = syscall(SYS_getpid);
	return 0;
}

static void test_clone3(void)
{
	struct clone_args_v2 args;
	int ptid = 0;

	memset(&args, 0, sizeof(args));
	args.flags = CLONE_PARENT_SETTID;
	args.parent_tid = (uintptr_t)&ptid;
	args.exit_signal = SIGCHLD;
	long pid = syscall(SYS_clone3, &args, 64);
	if (pid == 0)
		_exit(3);
	if (CHECK(pid > 0, "clone3 with exit_signal SIGCHLD creates a child process")) {
		CHECK_EQ(ptid, pid, "clone3 CLONE_PARENT_SETTID stores the child's pid");
		int status = reap((pid_t)pid);
		CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 3,
		      "waitpid reports the clone3 child's exit");
	}

	memset(&args, 0, sizeof(args));
	args.exit_signal = SIGCHLD;
	CHECK_ERR(syscall(SYS_clone3, &args, 32), EINVAL, "clone3 with a size below the first version is EINVAL");
	struct {
		struct clone_args_v2 a;
		uint64_t extra;
	} big;
	memset(&big, 0, sizeof(big));
	big.a.exit_signal = SIGCHLD;
	big.extra = 1;
	CHECK_ERR(syscall(SYS_clone3, &big, sizeof(big)), E2BIG,
		  "clone3 with unknown nonzero trailing fields is E2BIG");
	args.flags = CLONE_THREAD;
	args.exit_signal = 0;
	CHECK_ERR(syscall(SYS_clone3, &args, sizeof(args)), EINVAL,
		  "clone3 CLONE_THREAD without CLONE_SIGHAND is EINVAL");
	args.flags = CLONE_SIGHAND;
	CHECK_ERR(syscall(SYS_clone3, &args, sizeof(args)), EINVAL, "clone3 CLONE_SIGHAND without CLONE_VM is EINVAL");
	args.flags = 0;
	args.exit_signal = 65;
	CHECK_ERR(syscall(SYS_clone3, &args, sizeof(args)), EINVAL, "clone3 with an invalid exit_signal is EINVAL");

	/* A thread: CLONE_VM|CLONE_THREAD|... on a new stack, joined through CLONE_CHILD_CLEARTID. */
	size_t size = 64 * 1024;
	char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	REQUIRE(stack != MAP_FAILED, "mmap a stack");
	memset(&args, 0, sizeof(args));
	args.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
		     CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
	args.parent_tid = (uintptr_t)&c3_ptid;
	args.child_tid = (uintptr_t)&c3_ctid;
	args.stack = (uintptr_t)stack;
	args.stack_size = size;
	c3_ctid = -1;
	long tid = raw_clone3(&args, sizeof(args), clone3_thread_fn);
	if (!CHECK(tid > 0, "clone3 creates a thread on a caller-supplied stack")) {
		munmap(stack, size);
		return;
	}
	CHECK_EQ(c3_ptid, tid, "clone3 CLONE_PARENT_SETTID stores the thread's tid");
	int v, timedout = 0;
	while ((v = c3_ctid) != 0) {
		struct timespec t = { 5, 0 };
		if (syscall(SYS_futex, &c3_ctid, FUTEX_WAIT, v, &t, NULL, 0) == -1 && errno == ETIMEDOUT) {
			timedout = 1;
			break;
		}
	}
	CHECK(!timedout, "the clone3 thread exits and CLONE_CHILD_CLEARTID wakes the waiter");
	CHECK_EQ(c3_tid, tid, "the clone3 thread's gettid is the returned tid");
	CHECK_EQ(c3_pid, getpid(), "the clone3 thread is in our thread group (same getpid)");
	munmap(stack, size);
}

int main(void)
{
	test_workers();
	test_stack();
	test_signals();
	test_altstack();
	test_names();
	test_process_exit();
	test_clone3();
	return check_done();
}
