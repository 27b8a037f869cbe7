/*
 * signal.c checks signal delivery against the Linux man pages: sigaction(2)
 * flags (SA_SIGINFO, SA_RESETHAND, SA_NODEFER, SA_RESTART, SA_ONSTACK) and
 * sa_mask, the siginfo of kill(2), tgkill(2), sigqueue(3) and
 * rt_sigqueueinfo(2), sigaltstack(2), sigprocmask(2) and sigpending(2),
 * sigsuspend(2), sigtimedwait(2) and sigwaitinfo(2), pause(2), the error
 * cases of kill and sigaction, default actions (in children), changing the
 * interrupted context from a handler, queueing of real-time signals versus
 * standard ones, delivery order, and the FPU/SSE/AVX state across a handler.
 *
 * Everything whose outcome is a default action runs in a child: in the
 * sandbox this program is PID 1, which ignores default-action signals.
 */
#include "check.h"

#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/ucontext.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31) /* from the kernel's uapi signal.h */
#endif

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* reap waits for pid and returns its wait status (-1 if waitpid failed). */
static int reap(pid_t pid)
{
	int status;
	pid_t got;

	do
		got = waitpid(pid, &status, 0);
	while (got == -1 && errno == EINTR);
	return got == pid ? status : -1;
}

static pid_t gettid_(void)
{
	return syscall(SYS_gettid);
}

static int handle(int sig, void (*fn)(int, siginfo_t *, void *), int flags, const sigset_t *mask)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fn;
	sa.sa_flags = flags | SA_SIGINFO;
	if (mask)
		sa.sa_mask = *mask;
	else
		sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL);
}

static void set_default(int sig)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(sig, &sa, NULL);
}

static void block(int sig)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, sig);
	sigprocmask(SIG_BLOCK, &s, NULL);
}

static void unblock(int sig)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, sig);
	sigprocmask(SIG_UNBLOCK, &s, NULL);
}

static int is_blocked(int sig)
{
	sigset_t s;

	sigprocmask(SIG_SETMASK, NULL, &s);
	return sigismember(&s, sig);
}

static int is_pending(int sig)
{
	sigset_t s;

	sigpending(&s);
	return sigismember(&s, sig);
}

/* The last delivery seen by record(). */
static volatile int rec_count;
static siginfo_t rec_info;
static volatile int rec_usr1_blocked, rec_usr2_blocked;
static volatile int rec_mask_had_usr1;

static void record(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;

	(void)sig;
	rec_info = *si;
	rec_usr1_blocked = is_blocked(SIGUSR1);
	rec_usr2_blocked = is_blocked(SIGUSR2);
	rec_mask_had_usr1 = sigismember(&uc->uc_sigmask, SIGUSR1);
	rec_count++;
}

static void test_siginfo(void)
{
	REQUIRE(handle(SIGUSR1, record, 0, NULL) == 0, "install a SA_SIGINFO handler");

	rec_count = 0;
	CHECK_EQ(kill(getpid(), SIGUSR1), 0, "kill(getpid(), SIGUSR1)");
	CHECK_EQ(rec_count, 1, "the handler ran before kill returned");
	CHECK_EQ(rec_info.si_signo, SIGUSR1, "kill: si_signo");
	CHECK_EQ(rec_info.si_code, SI_USER, "kill: si_code is SI_USER");
	CHECK_EQ(rec_info.si_pid, getpid(), "kill: si_pid is the sender");
	CHECK_EQ(rec_info.si_uid, getuid(), "kill: si_uid is the sender's real uid");

	rec_count = 0;
	CHECK_EQ(syscall(SYS_tgkill, getpid(), gettid_(), SIGUSR1), 0, "tgkill to this thread");
	CHECK_EQ(rec_count, 1, "the tgkill handler ran before tgkill returned");
	CHECK_EQ(rec_info.si_code, SI_TKILL, "tgkill: si_code is SI_TKILL");
	CHECK_EQ(rec_info.si_pid, getpid(), "tgkill: si_pid is the sender");

	rec_count = 0;
	CHECK_EQ(raise(SIGUSR1), 0, "raise");
	CHECK(rec_count == 1 && rec_info.si_code == SI_TKILL, "raise delivers with si_code SI_TKILL");

	rec_count = 0;
	union sigval v = { .sival_int = 77 };
	CHECK_EQ(sigqueue(getpid(), SIGUSR1, v), 0, "sigqueue");
	CHECK_EQ(rec_count, 1, "the sigqueue handler ran");
	CHECK_EQ(rec_info.si_code, SI_QUEUE, "sigqueue: si_code is SI_QUEUE");
	CHECK_EQ(rec_info.si_value.sival_int, 77, "sigqueue: si_value is passed");
	CHECK_EQ(rec_info.si_pid, getpid(), "sigqueue: si_pid is the sender");

	siginfo_t si;
	memset(&si, 0, sizeof(si));
	si.si_signo = SIGUSR1;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_ptr = (void *)0x1234;
	rec_count = 0;
	CHECK_EQ(syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, &si), 0, "rt_sigqueueinfo to ourselves");
	CHECK(rec_count == 1 && rec_info.si_code == SI_QUEUE && rec_info.si_value.sival_ptr == (void *)0x1234,
	      "rt_sigqueueinfo delivers its siginfo (si_code SI_QUEUE, si_value)");
	si.si_code = -42;
	rec_count = 0;
	CHECK_EQ(syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid_(), SIGUSR1, &si), 0,
		 "rt_tgsigqueueinfo to this thread");
	CHECK(rec_count == 1 && rec_info.si_code == -42, "rt_tgsigqueueinfo delivers a negative si_code unchanged");

	/* A signal sent by a child carries the child's pid. */
	pid_t parent = getpid();
	block(SIGUSR1);
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0)
		_exit(kill(parent, SIGUSR1) == 0 ? 0 : 1);
	reap(pid);
	rec_count = 0;
	unblock(SIGUSR1);
	CHECK(rec_count == 1 && rec_info.si_pid == pid && rec_info.si_code == SI_USER,
	      "a signal from a child carries the child's pid in si_pid");

	/* Only the kernel, kill and tgkill may use si_code >= 0 or SI_TKILL towards another process. */
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		for (;;)
			pause();
	}
	si.si_code = SI_USER;
	CHECK_ERR(syscall(SYS_rt_sigqueueinfo, pid, SIGUSR1, &si), EPERM,
		  "rt_sigqueueinfo with si_code SI_USER to another process is EPERM");
	si.si_code = SI_TKILL;
	CHECK_ERR(syscall(SYS_rt_sigqueueinfo, pid, SIGUSR1, &si), EPERM,
		  "rt_sigqueueinfo with si_code SI_TKILL to another process is EPERM");
	si.si_code = SI_KERNEL;
	CHECK_ERR(syscall(SYS_rt_sigqueueinfo, pid, SIGUSR1, &si), EPERM,
		  "rt_sigqueueinfo with si_code SI_KERNEL to another process is EPERM");
	kill(pid, SIGKILL);
	reap(pid);
}

static void test_masks(void)
{
	sigset_t usr2;

	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);

	REQUIRE(handle(SIGUSR1, record, 0, NULL) == 0, "install a handler without SA_NODEFER");
	rec_count = 0;
	raise(SIGUSR1);
	CHECK(rec_count == 1 && rec_usr1_blocked, "without SA_NODEFER the signal is blocked during its handler");
	CHECK(!rec_mask_had_usr1, "uc_sigmask is the mask before delivery");
	CHECK(!is_blocked(SIGUSR1), "the mask is restored when the handler returns");

	REQUIRE(handle(SIGUSR1, record, SA_NODEFER, NULL) == 0, "install a handler with SA_NODEFER");
	rec_count = 0;
	raise(SIGUSR1);
	CHECK(rec_count == 1 && !rec_usr1_blocked, "with SA_NODEFER the signal is not blocked during its handler");

	REQUIRE(handle(SIGUSR1, record, 0, &usr2) == 0, "install a handler with SIGUSR2 in sa_mask");
	rec_count = 0;
	raise(SIGUSR1);
	CHECK(rec_count == 1 && rec_usr2_blocked, "sa_mask signals are blocked during the handler");
	CHECK(!is_blocked(SIGUSR2), "sa_mask signals are unblocked again after the handler");

	struct sigaction old;
	CHECK_EQ(sigaction(SIGUSR1, NULL, &old), 0, "sigaction query");
	CHECK(old.sa_sigaction == record && (old.sa_flags & SA_SIGINFO) && sigismember(&old.sa_mask, SIGUSR2),
	      "sigaction returns the installed action, flags and mask");
}

static volatile int depth, max_depth, nest_count;

static void nest(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	depth++;
	nest_count++;
	if (depth > max_depth)
		max_depth = depth;
	if (nest_count == 1)
		raise(sig);
	depth--;
}

static void test_nesting(void)
{
	REQUIRE(handle(SIGUSR1, nest, SA_NODEFER, NULL) == 0, "install a SA_NODEFER handler");
	depth = max_depth = nest_count = 0;
	raise(SIGUSR1);
	CHECK(nest_count == 2 && max_depth == 2,
	      "SA_NODEFER: raising the signal in its handler nests a second handler");

	REQUIRE(handle(SIGUSR1, nest, 0, NULL) == 0, "install a handler without SA_NODEFER");
	depth = max_depth = nest_count = 0;
	raise(SIGUSR1);
	CHECK(nest_count == 2 && max_depth == 1,
	      "without SA_NODEFER the signal raised in its handler is delivered after it returns");
}

static void test_resethand(void)
{
	struct sigaction old;

	REQUIRE(handle(SIGUSR2, record, SA_RESETHAND, NULL) == 0, "install a SA_RESETHAND handler");
	rec_count = 0;
	raise(SIGUSR2);
	CHECK_EQ(rec_count, 1, "SA_RESETHAND: the handler runs once");
	CHECK_EQ(sigaction(SIGUSR2, NULL, &old), 0, "sigaction query");
	CHECK(old.sa_handler == SIG_DFL, "SA_RESETHAND: the action is SIG_DFL after the first delivery");

	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		handle(SIGUSR2, record, SA_RESETHAND, NULL);
		rec_count = 0;
		raise(SIGUSR2);
		if (rec_count != 1)
			_exit(1);
		raise(SIGUSR2);
		_exit(2);
	}
	int status = reap(pid);
	CHECK(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGUSR2,
	      "SA_RESETHAND: the second delivery takes the default action (terminate)");
}

static int alarm_pipe = -1;
static volatile int alarm_count;

static void on_alarm(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	alarm_count++;
	if (alarm_pipe >= 0 && write(alarm_pipe, "x", 1) != 1)
		_exit(99);
}

static void itimer_ms(long first, long interval)
{
	struct itimerval it = { { interval / 1000, (interval % 1000) * 1000 },
				{ first / 1000, (first % 1000) * 1000 } };

	setitimer(ITIMER_REAL, &it, NULL);
}

static void test_restart(void)
{
	int fds[2];
	char c = 0;

	REQUIRE(pipe(fds) == 0, "pipe");
	REQUIRE(handle(SIGALRM, on_alarm, SA_RESTART, NULL) == 0, "install a SA_RESTART SIGALRM handler");
	alarm_pipe = fds[1];
	alarm_count = 0;
	itimer_ms(100, 0);
	ssize_t n = read(fds[0], &c, 1);
	CHECK(n == 1 && c == 'x' && alarm_count == 1,
	      "SA_RESTART: a pipe read interrupted by the handler restarts and reads what it wrote");

	REQUIRE(handle(SIGALRM, on_alarm, 0, NULL) == 0, "install a SIGALRM handler without SA_RESTART");
	alarm_pipe = -1;
	alarm_count = 0;
	itimer_ms(100, 100); /* repeats, in case the first fires before read blocks */
	n = read(fds[0], &c, 1);
	int err = errno;
	itimer_ms(0, 0);
	CHECK(n == -1 && err == EINTR && alarm_count >= 1,
	      "without SA_RESTART the interrupted pipe read fails with EINTR");
	set_default(SIGALRM);
	close(fds[0]);
	close(fds[1]);
}

static char *alt_base;
static size_t alt_size = 64 * 1024;
static volatile uintptr_t local_addr;
static volatile int alt_flags_in_handler, alt_change_errno, alt_try_change;

static void on_alt(int sig, siginfo_t *si, void *uc)
{
	volatile int local = 0;
	stack_t ss, other = { .ss_sp = alt_base, .ss_size = alt_size, .ss_flags = 0 };

	(void)sig;
	(void)si;
	(void)uc;
	local_addr = (uintptr_t)&local;
	sigaltstack(NULL, &ss);
	alt_flags_in_handler = ss.ss_flags;
	alt_change_errno = -1;
	if (alt_try_change)
		alt_change_errno = sigaltstack(&other, NULL) == -1 ? errno : 0;
	rec_count++;
}

static int on_alt_stack(uintptr_t a)
{
	return a >= (uintptr_t)alt_base && a < (uintptr_t)alt_base + alt_size;
}

static void test_altstack(void)
{
	stack_t ss, old;

	alt_base = mmap(NULL, alt_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(alt_base != MAP_FAILED, "mmap an alternate stack");

	CHECK_EQ(sigaltstack(NULL, &old), 0, "sigaltstack query");
	CHECK_EQ(old.ss_flags, SS_DISABLE, "no alternate stack at start: SS_DISABLE");

	ss.ss_sp = alt_base;
	ss.ss_size = 1024;
	ss.ss_flags = 0;
	CHECK_ERR(sigaltstack(&ss, NULL), ENOMEM, "sigaltstack smaller than MINSIGSTKSZ is ENOMEM");
	ss.ss_size = alt_size;
	ss.ss_flags = 0x8;
	CHECK_ERR(sigaltstack(&ss, NULL), EINVAL, "sigaltstack with unknown flags is EINVAL");
	ss.ss_flags = 0;
	CHECK_EQ(sigaltstack(&ss, NULL), 0, "sigaltstack sets a 64 KiB stack");
	CHECK_EQ(sigaltstack(NULL, &old), 0, "sigaltstack query");
	CHECK(old.ss_sp == alt_base && old.ss_size == alt_size && old.ss_flags == 0,
	      "sigaltstack reports the stack, its size and flags 0 outside a handler");

	REQUIRE(handle(SIGUSR1, on_alt, SA_ONSTACK, NULL) == 0, "install a SA_ONSTACK handler");
	rec_count = 0;
	alt_try_change = 1;
	raise(SIGUSR1);
	CHECK_EQ(rec_count, 1, "the SA_ONSTACK handler ran");
	CHECK(on_alt_stack(local_addr), "SA_ONSTACK: the handler's locals are on the alternate stack");
	CHECK_EQ(alt_flags_in_handler, SS_ONSTACK, "sigaltstack in the handler reports SS_ONSTACK");
	CHECK_EQ(alt_change_errno, EPERM, "changing the alternate stack while running on it is EPERM");

	REQUIRE(handle(SIGUSR1, on_alt, 0, NULL) == 0, "install a handler without SA_ONSTACK");
	rec_count = 0;
	raise(SIGUSR1);
	CHECK(rec_count == 1 && !on_alt_stack(local_addr), "without SA_ONSTACK the handler runs on the normal stack");
	CHECK_EQ(alt_flags_in_handler, 0, "off the alternate stack, sigaltstack reports flags 0");
	CHECK_EQ(alt_change_errno, 0, "sigaltstack can be changed while not on it");

	ss.ss_flags = SS_AUTODISARM;
	CHECK_EQ(sigaltstack(&ss, NULL), 0, "sigaltstack with SS_AUTODISARM");
	REQUIRE(handle(SIGUSR1, on_alt, SA_ONSTACK, NULL) == 0, "install a SA_ONSTACK handler");
	rec_count = 0;
	alt_try_change = 0;
	raise(SIGUSR1);
	CHECK(rec_count == 1 && on_alt_stack(local_addr),
	      "SS_AUTODISARM: the handler still runs on the alternate stack");
	CHECK_EQ(alt_flags_in_handler, SS_DISABLE, "SS_AUTODISARM: the stack is disarmed inside the handler");
	CHECK_EQ(sigaltstack(NULL, &old), 0, "sigaltstack query");
	CHECK(old.ss_sp == alt_base && old.ss_size == alt_size && old.ss_flags == SS_AUTODISARM,
	      "SS_AUTODISARM: the stack is restored when the handler returns");

	ss.ss_flags = SS_DISABLE;
	CHECK_EQ(sigaltstack(&ss, NULL), 0, "sigaltstack SS_DISABLE");
	CHECK_EQ(sigaltstack(NULL, &old), 0, "sigaltstack query");
	CHECK_EQ(old.ss_flags, SS_DISABLE, "the alternate stack is disabled");
	set_default(SIGUSR1);
}

static void test_procmask(void)
{
	sigset_t set, old, pend;

	REQUIRE(handle(SIGUSR1, record, 0, NULL) == 0, "install a handler");
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	CHECK_EQ(sigprocmask(SIG_BLOCK, &set, &old), 0, "sigprocmask SIG_BLOCK SIGUSR1");
	CHECK(!sigismember(&old, SIGUSR1), "sigprocmask returns the previous mask");
	rec_count = 0;
	CHECK_EQ(kill(getpid(), SIGUSR1), 0, "kill a blocked signal to ourselves");
	CHECK_EQ(rec_count, 0, "a blocked signal is not delivered");
	CHECK(is_pending(SIGUSR1), "sigpending shows the blocked signal");
	uint64_t raw = 0;
	CHECK_EQ(syscall(SYS_rt_sigpending, &raw, 8), 0, "raw rt_sigpending");
	CHECK(raw & (1ULL << (SIGUSR1 - 1)), "rt_sigpending shows the blocked signal");
	CHECK_ERR(syscall(SYS_rt_sigpending, &raw, 16), EINVAL, "rt_sigpending with a sigsetsize above 8 is EINVAL");
	CHECK_EQ(sigprocmask(SIG_UNBLOCK, &set, NULL), 0, "sigprocmask SIG_UNBLOCK");
	CHECK_EQ(rec_count, 1, "the pending signal is delivered when unblocked, before sigprocmask returns");
	CHECK(!is_pending(SIGUSR1), "the delivered signal is no longer pending");

	sigfillset(&set);
	CHECK_EQ(sigprocmask(SIG_SETMASK, &set, &old), 0, "sigprocmask SIG_SETMASK everything");
	CHECK_EQ(syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &raw, 8), 0, "raw rt_sigprocmask query");
	CHECK(!(raw & (1ULL << (SIGKILL - 1))) && !(raw & (1ULL << (SIGSTOP - 1))),
	      "SIGKILL and SIGSTOP cannot be blocked");
	CHECK(raw & (1ULL << (SIGTERM - 1)), "other signals are blocked");
	CHECK_EQ(sigprocmask(SIG_SETMASK, &old, NULL), 0, "restore the mask");
	CHECK_ERR(sigprocmask(42, &set, NULL), EINVAL, "sigprocmask with an invalid how is EINVAL");
	CHECK_ERR(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &raw, NULL, 4), EINVAL,
		  "rt_sigprocmask with a sigsetsize other than 8 is EINVAL");
	CHECK_EQ(sigpending(&pend), 0, "sigpending");
	CHECK(sigisemptyset(&pend), "nothing is pending");
}

static void test_suspend_wait(void)
{
	sigset_t set, empty;

	REQUIRE(handle(SIGUSR1, record, 0, NULL) == 0, "install a handler");
	block(SIGUSR1);
	raise(SIGUSR1);
	rec_count = 0;
	sigemptyset(&empty);
	CHECK_ERR(sigsuspend(&empty), EINTR, "sigsuspend returns -1 EINTR after a handler runs");
	CHECK_EQ(rec_count, 1, "the pending signal was handled inside sigsuspend");
	CHECK(is_blocked(SIGUSR1), "sigsuspend restores the previous mask");
	CHECK_ERR(syscall(SYS_rt_sigsuspend, &empty, 4), EINVAL,
		  "rt_sigsuspend with a sigsetsize other than 8 is EINVAL");
	unblock(SIGUSR1);

	siginfo_t si;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	REQUIRE(handle(SIGUSR2, record, 0, NULL) == 0, "install a SIGUSR2 handler");
	block(SIGUSR2);
	union sigval v = { .sival_int = 55 };
	rec_count = 0;
	sigqueue(getpid(), SIGUSR2, v);
	memset(&si, 0, sizeof(si));
	CHECK_EQ(sigwaitinfo(&set, &si), SIGUSR2, "sigwaitinfo returns the pending blocked signal");
	CHECK(si.si_signo == SIGUSR2 && si.si_code == SI_QUEUE && si.si_value.sival_int == 55 && si.si_pid == getpid(),
	      "sigwaitinfo fills in the siginfo (si_code SI_QUEUE, si_value, si_pid)");
	CHECK(rec_count == 0 && !is_pending(SIGUSR2), "sigwaitinfo consumed the signal without running the handler");

	struct timespec zero = { 0, 0 }, t100 = { 0, 100000000 }, bad = { 0, 1000000000 };
	CHECK_ERR(sigtimedwait(&set, &si, &zero), EAGAIN,
		  "sigtimedwait with a zero timeout and nothing pending is EAGAIN");
	long long start = mono_ms();
	CHECK_ERR(sigtimedwait(&set, &si, &t100), EAGAIN, "sigtimedwait times out with EAGAIN");
	long long took = mono_ms() - start;
	CHECK(took >= 100 && took < 2000, "sigtimedwait waited at least its 100 ms timeout");
	CHECK_ERR(sigtimedwait(&set, &si, &bad), EINVAL, "sigtimedwait with tv_nsec of 1e9 is EINVAL");

	pid_t parent = getpid();
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		struct timespec d = { 0, 100000000 };
		nanosleep(&d, NULL);
		_exit(kill(parent, SIGUSR2) == 0 ? 0 : 1);
	}
	struct timespec t5 = { 5, 0 };
	memset(&si, 0, sizeof(si));
	CHECK_EQ(sigtimedwait(&set, &si, &t5), SIGUSR2, "sigtimedwait wakes up for a signal sent later by a child");
	CHECK(si.si_pid == pid && si.si_code == SI_USER, "the signal from the child has its pid and SI_USER");
	reap(pid);

	/* A handled signal outside the set interrupts the wait. */
	REQUIRE(handle(SIGALRM, on_alarm, SA_RESTART, NULL) == 0, "install a SIGALRM handler");
	alarm_pipe = -1;
	alarm_count = 0;
	itimer_ms(100, 100);
	CHECK_ERR(sigtimedwait(&set, &si, &t5), EINTR,
		  "a handled signal outside the set interrupts sigtimedwait with EINTR");
	itimer_ms(0, 0);
	CHECK(alarm_count >= 1, "the SIGALRM handler ran");

	alarm_count = 0;
	itimer_ms(100, 100);
	CHECK_ERR(pause(), EINTR, "pause returns -1 EINTR after a handler runs");
	itimer_ms(0, 0);
	CHECK(alarm_count >= 1, "pause: the handler ran");
	set_default(SIGALRM);
	unblock(SIGUSR2);
}

static void test_kill_errors(void)
{
	CHECK_EQ(kill(getpid(), 0), 0, "kill(getpid(), 0) checks existence");
	CHECK_ERR(kill(getpid(), 65), EINVAL, "kill with signal 65 is EINVAL");
	CHECK_ERR(kill(getpid(), -1), EINVAL, "kill with a negative signal is EINVAL");
	CHECK_ERR(kill(0x3fffffff, 0), ESRCH, "kill of a pid that does not exist is ESRCH");
	CHECK_ERR(syscall(SYS_tgkill, getpid(), gettid_(), 65), EINVAL, "tgkill with signal 65 is EINVAL");
	CHECK_ERR(syscall(SYS_tgkill, 0, gettid_(), 0), EINVAL, "tgkill with tgid 0 is EINVAL");
	CHECK_ERR(syscall(SYS_tkill, -1, 0), EINVAL, "tkill with a negative tid is EINVAL");

	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		for (;;)
			pause();
	}
	CHECK_EQ(kill(pid, 0), 0, "kill(child, 0) succeeds while the child lives");
	CHECK_ERR(syscall(SYS_tgkill, getpid(), pid, 0), ESRCH, "tgkill of a tid outside the thread group is ESRCH");
	kill(pid, SIGKILL);
	reap(pid);
	CHECK_ERR(kill(pid, 0), ESRCH, "kill of a reaped child is ESRCH");

	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	CHECK_ERR(sigaction(SIGKILL, &sa, NULL), EINVAL, "SIGKILL cannot be ignored");
	CHECK_ERR(sigaction(SIGSTOP, &sa, NULL), EINVAL, "SIGSTOP cannot be ignored");
	sa.sa_sigaction = record;
	sa.sa_flags = SA_SIGINFO;
	CHECK_ERR(sigaction(SIGKILL, &sa, NULL), EINVAL, "SIGKILL cannot be caught");
	CHECK_ERR(sigaction(SIGSTOP, &sa, NULL), EINVAL, "SIGSTOP cannot be caught");
	CHECK_ERR(sigaction(0, &sa, NULL), EINVAL, "sigaction of signal 0 is EINVAL");
	CHECK_ERR(sigaction(65, &sa, NULL), EINVAL, "sigaction of signal 65 is EINVAL");
	CHECK_EQ(sigaction(SIGKILL, NULL, &old), 0, "the action of SIGKILL can be queried");
	CHECK(old.sa_handler == SIG_DFL, "SIGKILL's action is SIG_DFL");
	CHECK_ERR(syscall(SYS_rt_sigaction, SIGUSR1, NULL, &old, 4), EINVAL,
		  "rt_sigaction with a sigsetsize other than 8 is EINVAL");
}

/* child_status forks a child that runs fn and returns its wait status. */
static int child_status(void (*fn)(int), int arg)
{
	pid_t pid = fork();

	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		struct rlimit rl = { 0, 0 };
		setrlimit(RLIMIT_CORE, &rl);
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
		fn(arg);
		_exit(0);
	}
	return reap(pid);
}

static void raise_it(int sig)
{
	set_default(sig);
	raise(sig);
}

static void raise_blocked_kill(int sig)
{
	sigset_t all;

	(void)sig;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	kill(getpid(), SIGKILL);
}

/* signame returns "SIGTERM" and the like (glibc has no abbreviation for real-time signals). */
static const char *signame(int sig)
{
	static char buf[32];
	const char *abbrev = sigabbrev_np(sig);

	if (abbrev)
		snprintf(buf, sizeof(buf), "SIG%s", abbrev);
	else if (sig == SIGRTMIN)
		snprintf(buf, sizeof(buf), "SIGRTMIN");
	else
		snprintf(buf, sizeof(buf), "SIGRTMIN+%d", sig - SIGRTMIN);
	return buf;
}

static void test_defaults(void)
{
	const int terminate[] = { SIGTERM, SIGHUP,  SIGINT,  SIGUSR1, SIGPIPE, SIGALRM,
				  SIGQUIT, SIGABRT, SIGSEGV, SIGKILL, SIGRTMIN };
	const int ignore[] = { SIGCHLD, SIGURG, SIGWINCH, SIGCONT };
	char what[160];

	for (size_t i = 0; i < sizeof(terminate) / sizeof(terminate[0]); i++) {
		int sig = terminate[i];
		int status = child_status(raise_it, sig);
		snprintf(what, sizeof(what), "the default action of %s terminates the process", signame(sig));
		CHECK(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == sig, what);
		if (sig == SIGTERM || sig == SIGKILL) {
			snprintf(what, sizeof(what), "%s does not dump core", signame(sig));
			CHECK(!WCOREDUMP(status), what);
		}
	}
	for (size_t i = 0; i < sizeof(ignore) / sizeof(ignore[0]); i++) {
		int status = child_status(raise_it, ignore[i]);
		snprintf(what, sizeof(what), "the default action of %s is to ignore it", signame(ignore[i]));
		CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0, what);
	}
	int status = child_status(raise_blocked_kill, 0);
	CHECK(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	      "SIGKILL kills even with all signals blocked");

	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		raise(SIGSTOP);
		_exit(3);
	}
	CHECK_EQ(waitpid(pid, &status, WUNTRACED), pid, "waitpid WUNTRACED");
	CHECK(WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP, "the default action of SIGSTOP stops the process");
	kill(pid, SIGCONT);
	status = reap(pid);
	CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 3, "SIGCONT resumes the stopped process");

	/* A signal ignored with SIG_IGN is discarded, even when it was pending. */
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		block(SIGTERM);
		raise(SIGTERM);
		sa.sa_handler = SIG_IGN;
		sigaction(SIGTERM, &sa, NULL);
		int was = is_pending(SIGTERM);
		unblock(SIGTERM);
		_exit(was ? 1 : 0);
	}
	status = reap(pid);
	CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "setting SIG_IGN discards a pending signal");
}

/* fault_skip loads from addr; the SIGSEGV handler skips the load and sets rax. */
extern char sig_fault_insn[], sig_fault_after[];

__attribute__((noinline)) static long fault_skip(long *addr)
{
	long v;

	asm volatile(".globl sig_fault_insn\n"
		     "sig_fault_insn:\n\t"
		     "movq (%1), %0\n\t"
		     ".globl sig_fault_after\n"
		     "sig_fault_after:\n\t"
		     : "=a"(v)
		     : "r"(addr)
		     : "memory");
	return v;
}

static volatile uintptr_t segv_rip, segv_addr;

static void on_segv(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;

	(void)sig;
	segv_rip = uc->uc_mcontext.gregs[REG_RIP];
	segv_addr = (uintptr_t)si->si_addr;
	if (segv_rip == (uintptr_t)sig_fault_insn) {
		uc->uc_mcontext.gregs[REG_RIP] = (greg_t)sig_fault_after;
		uc->uc_mcontext.gregs[REG_RAX] = 4242;
	}
	rec_count++;
}

static void test_ucontext(void)
{
	REQUIRE(handle(SIGSEGV, on_segv, 0, NULL) == 0, "install a SIGSEGV handler");
	rec_count = 0;
	long v = fault_skip((long *)16);
	CHECK_EQ(rec_count, 1, "the SIGSEGV handler ran once");
	CHECK_EQ(segv_rip, (uintptr_t)sig_fault_insn, "the handler's REG_RIP is the faulting instruction");
	CHECK_EQ(segv_addr, 16, "si_addr is the faulting address");
	CHECK_EQ(v, 4242, "advancing REG_RIP and setting REG_RAX in the handler takes effect on return");
	set_default(SIGSEGV);
}

static volatile int rt_count, rt_values[8];
static volatile int order[8], order_n;

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (rt_count < 8)
		rt_values[rt_count] = si->si_value.sival_int;
	rt_count++;
}

static void on_order(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	if (order_n < 8)
		order[order_n] = sig;
	order_n++;
}

static void test_queueing(void)
{
	sigset_t all;

	REQUIRE(handle(SIGRTMIN, on_rt, 0, NULL) == 0, "install a SIGRTMIN handler");
	block(SIGRTMIN);
	rt_count = 0;
	for (int i = 1; i <= 3; i++) {
		union sigval v = { .sival_int = i };
		sigqueue(getpid(), SIGRTMIN, v);
	}
	CHECK_EQ(rt_count, 0, "blocked real-time signals wait");
	unblock(SIGRTMIN);
	CHECK_EQ(rt_count, 3, "a real-time signal sent 3 times while blocked is delivered 3 times");
	CHECK(rt_values[0] == 1 && rt_values[1] == 2 && rt_values[2] == 3,
	      "queued real-time signals are delivered in the order sent, with their values");

	REQUIRE(handle(SIGUSR1, on_rt, 0, NULL) == 0, "install a SIGUSR1 handler");
	block(SIGUSR1);
	rt_count = 0;
	for (int i = 0; i < 3; i++)
		kill(getpid(), SIGUSR1);
	unblock(SIGUSR1);
	CHECK_EQ(rt_count, 1, "a standard signal sent 3 times while blocked is delivered once");

	/* Delivery order: standard signals first, then real-time ones lowest first. */
	sigfillset(&all);
	REQUIRE(handle(SIGRTMIN + 1, on_order, 0, &all) == 0, "install SIGRTMIN+1 handler");
	REQUIRE(handle(SIGRTMIN, on_order, 0, &all) == 0, "install SIGRTMIN handler");
	REQUIRE(handle(SIGUSR2, on_order, 0, &all) == 0, "install SIGUSR2 handler");
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 1);
	sigaddset(&set, SIGRTMIN);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, &old);
	order_n = 0;
	raise(SIGRTMIN + 1);
	raise(SIGRTMIN);
	raise(SIGUSR2);
	sigprocmask(SIG_SETMASK, &old, NULL);
	CHECK(order_n == 3 && order[0] == SIGUSR2 && order[1] == SIGRTMIN && order[2] == SIGRTMIN + 1,
	      "pending signals are delivered standard first, then real-time in increasing number");

	sigprocmask(SIG_BLOCK, &set, &old);
	raise(SIGRTMIN + 1);
	raise(SIGUSR2);
	raise(SIGRTMIN);
	siginfo_t si;
	int a = sigwaitinfo(&set, &si), b = sigwaitinfo(&set, &si), c = sigwaitinfo(&set, &si);
	CHECK(a == SIGUSR2 && b == SIGRTMIN && c == SIGRTMIN + 1,
	      "sigwaitinfo takes pending signals in the same order");
	sigprocmask(SIG_SETMASK, &old, NULL);
	set_default(SIGRTMIN);
	set_default(SIGRTMIN + 1);
	set_default(SIGUSR1);
	set_default(SIGUSR2);
}

/* FPU state: the handler clobbers every vector register and the control words. */
static volatile uint32_t handler_mxcsr, handler_fpucw, handler_xmm0[4], handler_frame_mxcsr;
static volatile int fpu_count;

static void on_fpu(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	uint32_t mx = 0;
	uint16_t cw = 0;
	static const uint32_t junk[4] = { 0xdeadbeef, 0xdeadbeef, 0xdeadbeef, 0xdeadbeef };
	uint32_t newmx = 0x7f80;
	uint16_t newcw = 0x0c7f;

	(void)sig;
	(void)si;
	asm volatile("stmxcsr %0" : "=m"(mx));
	asm volatile("fnstcw %0" : "=m"(cw));
	handler_mxcsr = mx;
	handler_fpucw = cw;
	if (uc->uc_mcontext.fpregs) {
		for (int i = 0; i < 4; i++)
			handler_xmm0[i] = uc->uc_mcontext.fpregs->_xmm[0].element[i];
		handler_frame_mxcsr = uc->uc_mcontext.fpregs->mxcsr;
	}
	asm volatile("movdqu %0, %%xmm0\n\tmovdqa %%xmm0, %%xmm1\n\tmovdqa %%xmm0, %%xmm2\n\t"
		     "movdqa %%xmm0, %%xmm3\n\tmovdqa %%xmm0, %%xmm4\n\tmovdqa %%xmm0, %%xmm5\n\t"
		     "movdqa %%xmm0, %%xmm6\n\tmovdqa %%xmm0, %%xmm7\n\tmovdqa %%xmm0, %%xmm8\n\t"
		     "movdqa %%xmm0, %%xmm9\n\tmovdqa %%xmm0, %%xmm10\n\tmovdqa %%xmm0, %%xmm11\n\t"
		     "movdqa %%xmm0, %%xmm12\n\tmovdqa %%xmm0, %%xmm13\n\tmovdqa %%xmm0, %%xmm14\n\t"
		     "movdqa %%xmm0, %%xmm15\n\t"
		     "ldmxcsr %1\n\tfldcw %2"
		     :
		     : "m"(junk), "m"(newmx), "m"(newcw)
		     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
		       "xmm12", "xmm13", "xmm14", "xmm15");
	if (__builtin_cpu_supports("avx"))
		asm volatile("vpcmpeqd %%ymm0, %%ymm0, %%ymm0\n\tvmovdqa %%ymm0, %%ymm1\n\tvmovdqa %%ymm0, %%ymm7\n\t"
			     "vmovdqa %%ymm0, %%ymm8\n\tvmovdqa %%ymm0, %%ymm15\n\t" ::
				     : "xmm0", "xmm1", "xmm7", "xmm8", "xmm15");
	fpu_count++;
}

/* sse_roundtrip loads xmm0-15 from in, sends SIGUSR1 to pid with a raw syscall, stores xmm0-15 to out. */
__attribute__((noinline)) static void sse_roundtrip(const uint64_t *in, uint64_t *out, long pid)
{
	asm volatile("movdqu 0(%0), %%xmm0\n\tmovdqu 16(%0), %%xmm1\n\tmovdqu 32(%0), %%xmm2\n\t"
		     "movdqu 48(%0), %%xmm3\n\tmovdqu 64(%0), %%xmm4\n\tmovdqu 80(%0), %%xmm5\n\t"
		     "movdqu 96(%0), %%xmm6\n\tmovdqu 112(%0), %%xmm7\n\tmovdqu 128(%0), %%xmm8\n\t"
		     "movdqu 144(%0), %%xmm9\n\tmovdqu 160(%0), %%xmm10\n\tmovdqu 176(%0), %%xmm11\n\t"
		     "movdqu 192(%0), %%xmm12\n\tmovdqu 208(%0), %%xmm13\n\tmovdqu 224(%0), %%xmm14\n\t"
		     "movdqu 240(%0), %%xmm15\n\t"
		     "movq %2, %%rdi\n\tmovl $10, %%esi\n\tmovl $62, %%eax\n\tsyscall\n\t"
		     "movdqu %%xmm0, 0(%1)\n\tmovdqu %%xmm1, 16(%1)\n\tmovdqu %%xmm2, 32(%1)\n\t"
		     "movdqu %%xmm3, 48(%1)\n\tmovdqu %%xmm4, 64(%1)\n\tmovdqu %%xmm5, 80(%1)\n\t"
		     "movdqu %%xmm6, 96(%1)\n\tmovdqu %%xmm7, 112(%1)\n\tmovdqu %%xmm8, 128(%1)\n\t"
		     "movdqu %%xmm9, 144(%1)\n\tmovdqu %%xmm10, 160(%1)\n\tmovdqu %%xmm11, 176(%1)\n\t"
		     "movdqu %%xmm12, 192(%1)\n\tmovdqu %%xmm13, 208(%1)\n\tmovdqu %%xmm14, 224(%1)\n\t"
		     "movdqu %%xmm15, 240(%1)\n\t"
		     :
		     : "r"(in), "r"(out), "r"(pid)
		     : "rax", "rdi", "rsi", "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",
		       "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

/* avx_roundtrip does the same with the full 256-bit ymm0-15. */
__attribute__((noinline)) static void avx_roundtrip(const uint64_t *in, uint64_t *out, long pid)
{
	asm volatile("vmovdqu 0(%0), %%ymm0\n\tvmovdqu 32(%0), %%ymm1\n\tvmovdqu 64(%0), %%ymm2\n\t"
		     "vmovdqu 96(%0), %%ymm3\n\tvmovdqu 128(%0), %%ymm4\n\tvmovdqu 160(%0), %%ymm5\n\t"
		     "vmovdqu 192(%0), %%ymm6\n\tvmovdqu 224(%0), %%ymm7\n\tvmovdqu 256(%0), %%ymm8\n\t"
		     "vmovdqu 288(%0), %%ymm9\n\tvmovdqu 320(%0), %%ymm10\n\tvmovdqu 352(%0), %%ymm11\n\t"
		     "vmovdqu 384(%0), %%ymm12\n\tvmovdqu 416(%0), %%ymm13\n\tvmovdqu 448(%0), %%ymm14\n\t"
		     "vmovdqu 480(%0), %%ymm15\n\t"
		     "movq %2, %%rdi\n\tmovl $10, %%esi\n\tmovl $62, %%eax\n\tsyscall\n\t"
		     "vmovdqu %%ymm0, 0(%1)\n\tvmovdqu %%ymm1, 32(%1)\n\tvmovdqu %%ymm2, 64(%1)\n\t"
		     "vmovdqu %%ymm3, 96(%1)\n\tvmovdqu %%ymm4, 128(%1)\n\tvmovdqu %%ymm5, 160(%1)\n\t"
		     "vmovdqu %%ymm6, 192(%1)\n\tvmovdqu %%ymm7, 224(%1)\n\tvmovdqu %%ymm8, 256(%1)\n\t"
		     "vmovdqu %%ymm9, 288(%1)\n\tvmovdqu %%ymm10, 320(%1)\n\tvmovdqu %%ymm11, 352(%1)\n\t"
		     "vmovdqu %%ymm12, 384(%1)\n\tvmovdqu %%ymm13, 416(%1)\n\tvmovdqu %%ymm14, 448(%1)\n\t"
		     "vmovdqu %%ymm15, 480(%1)\n\tvzeroupper\n\t"
		     :
		     : "r"(in), "r"(out), "r"(pid)
		     : "rax", "rdi", "rsi", "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",
		       "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

static void test_fpu(void)
{
	uint64_t in[64], out[64];
	uint32_t mx = 0x7fc0, mx_after = 0, mx_default = 0x1f80;
	uint16_t cw = 0x027f, cw_after = 0, cw_default = 0x037f;

	for (int i = 0; i < 64; i++) {
		in[i] = 0x0101010101010101ULL * (uint64_t)(i + 1) ^ 0x8000000000000000ULL;
		out[i] = 0;
	}
	REQUIRE(handle(SIGUSR1, on_fpu, 0, NULL) == 0, "install a handler that clobbers FPU state");
	fpu_count = 0;
	asm volatile("ldmxcsr %0\n\tfldcw %1" : : "m"(mx), "m"(cw));
	sse_roundtrip(in, out, getpid());
	asm volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(mx_after), "=m"(cw_after));
	asm volatile("ldmxcsr %0\n\tfldcw %1" : : "m"(mx_default), "m"(cw_default));
	CHECK_EQ(fpu_count, 1, "the FPU-clobbering handler ran during the raw kill");
	CHECK(memcmp(in, out, 256) == 0, "xmm0-xmm15 are preserved across a handler that clobbers them");
	CHECK_EQ(mx_after, mx, "MXCSR is preserved across a handler that changes it");
	CHECK_EQ(cw_after, cw, "the x87 control word is preserved across a handler that changes it");
	CHECK_EQ(handler_mxcsr, 0x1f80, "a handler starts with the default MXCSR");
	CHECK_EQ(handler_fpucw, 0x037f, "a handler starts with the default x87 control word");
	CHECK_EQ(handler_frame_mxcsr, mx, "the signal frame's fpregs hold the interrupted MXCSR");
	CHECK(handler_xmm0[0] == (uint32_t)in[0] && handler_xmm0[1] == (uint32_t)(in[0] >> 32) &&
		      handler_xmm0[2] == (uint32_t)in[1] && handler_xmm0[3] == (uint32_t)(in[1] >> 32),
	      "the signal frame's fpregs hold the interrupted xmm0");

	if (__builtin_cpu_supports("avx")) {
		memset(out, 0, sizeof(out));
		fpu_count = 0;
		avx_roundtrip(in, out, getpid());
		CHECK_EQ(fpu_count, 1, "the handler ran during the AVX round trip");
		CHECK(memcmp(in, out, 512) == 0, "ymm0-ymm15 (upper halves too) are preserved across a handler");
	} else {
		printf("# no AVX: ymm preservation not tested\n");
	}
	set_default(SIGUSR1);
}

int main(void)
{
	test_siginfo();
	test_masks();
	test_nesting();
	test_resethand();
	test_restart();
	test_altstack();
	test_procmask();
	test_suspend_wait();
	test_kill_errors();
	test_defaults();
	test_ucontext();
	test_queueing();
	test_fpu();
	return check_done();
}
