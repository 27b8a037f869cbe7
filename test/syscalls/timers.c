/*
 * timers.c checks sleeping and timers against the Linux man pages:
 * nanosleep(2) and clock_nanosleep(2) (relative, TIMER_ABSTIME, interrupted
 * by a handler, never restarted by SA_RESTART), alarm(2), setitimer(2) and
 * getitimer(2) for ITIMER_REAL, ITIMER_VIRTUAL and ITIMER_PROF, the POSIX
 * timers timer_create(2) (SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD_ID, the
 * default sigevent, CPU-time clocks), timer_settime(2), timer_gettime(2),
 * timer_getoverrun(2) and timer_delete(2), times(2), getrusage(2), and the
 * process and thread CPU-time clocks.
 *
 * The timer_* calls are made raw so that the kernel's timer ids are seen.
 */
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>

#define MS 1000000LL
#define SEC 1000000000LL

static long long ns_of(struct timespec t)
{
	return t.tv_sec * SEC + t.tv_nsec;
}

static struct timespec ts_of(long long ns)
{
	struct timespec t = { ns / SEC, ns % SEC };
	return t;
}

static long long now(clockid_t c)
{
	struct timespec t;

	clock_gettime(c, &t);
	return ns_of(t);
}

static long long tv_ns(struct timeval tv)
{
	return tv.tv_sec * SEC + tv.tv_usec * 1000LL;
}

/* spin burns CPU in user space until this thread has used ms of CPU time. */
static void spin(long ms)
{
	long long start = now(CLOCK_THREAD_CPUTIME_ID);

	while (now(CLOCK_THREAD_CPUTIME_ID) - start < ms * MS)
		;
}

static void msleep(long ms)
{
	struct timespec ts = ts_of(ms * MS);

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

static volatile int sig_count[65];
static siginfo_t last_info;
static volatile pid_t last_tid;

static void on_sig(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	sig_count[sig]++;
	last_info = *si;
	last_tid = syscall(SYS_gettid);
}

static void install(int sig, int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sig;
	sa.sa_flags = SA_SIGINFO | flags;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void set_default(int sig)
{
	signal(sig, SIG_DFL);
}

static void block(int sig, int how)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, sig);
	sigprocmask(how, &s, NULL);
}

static void itimer_ms(int which, long first, long interval)
{
	struct itimerval it = { { interval / 1000, (interval % 1000) * 1000 },
				{ first / 1000, (first % 1000) * 1000 } };

	setitimer(which, &it, NULL);
}

static void test_sleep(void)
{
	struct timespec d = ts_of(100 * MS), bad = { 0, SEC }, neg = { -1, 0 };

	long long t0 = now(CLOCK_MONOTONIC);
	CHECK_EQ(nanosleep(&d, NULL), 0, "nanosleep 100 ms");
	long long took = now(CLOCK_MONOTONIC) - t0;
	CHECK(took >= 100 * MS && took < 2 * SEC, "nanosleep slept at least 100 ms and less than 2 s");
	CHECK_ERR(nanosleep(&bad, NULL), EINVAL, "nanosleep with tv_nsec of 1e9 is EINVAL");
	CHECK_ERR(nanosleep(&neg, NULL), EINVAL, "nanosleep with a negative tv_sec is EINVAL");

	t0 = now(CLOCK_MONOTONIC);
	CHECK_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &d, NULL), 0, "clock_nanosleep CLOCK_MONOTONIC relative");
	took = now(CLOCK_MONOTONIC) - t0;
	CHECK(took >= 100 * MS && took < 2 * SEC, "relative CLOCK_MONOTONIC sleep lasted at least 100 ms");
	t0 = now(CLOCK_REALTIME);
	CHECK_EQ(clock_nanosleep(CLOCK_REALTIME, 0, &d, NULL), 0, "clock_nanosleep CLOCK_REALTIME relative");
	took = now(CLOCK_REALTIME) - t0;
	CHECK(took >= 100 * MS && took < 2 * SEC, "relative CLOCK_REALTIME sleep lasted at least 100 ms");

	long long deadline = now(CLOCK_MONOTONIC) + 100 * MS;
	struct timespec abs = ts_of(deadline);
	CHECK_EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL), 0,
		 "clock_nanosleep CLOCK_MONOTONIC TIMER_ABSTIME");
	long long after = now(CLOCK_MONOTONIC);
	CHECK(after >= deadline && after - deadline < 2 * SEC,
	      "an absolute CLOCK_MONOTONIC sleep ends at or after its deadline");
	deadline = now(CLOCK_REALTIME) + 100 * MS;
	abs = ts_of(deadline);
	CHECK_EQ(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &abs, NULL), 0,
		 "clock_nanosleep CLOCK_REALTIME TIMER_ABSTIME");
	after = now(CLOCK_REALTIME);
	CHECK(after >= deadline && after - deadline < 2 * SEC,
	      "an absolute CLOCK_REALTIME sleep ends at or after its deadline");
	abs = ts_of(SEC);
	t0 = now(CLOCK_MONOTONIC);
	CHECK_EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL), 0,
		 "an absolute sleep until the past returns 0");
	CHECK(now(CLOCK_MONOTONIC) - t0 < SEC, "an absolute sleep until the past returns at once");

	CHECK_EQ(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &d, NULL), EINVAL,
		 "clock_nanosleep on CLOCK_THREAD_CPUTIME_ID returns EINVAL");
	CHECK_EQ(clock_nanosleep(1234, 0, &d, NULL), EINVAL, "clock_nanosleep on an unknown clock returns EINVAL");
	CHECK_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, NULL), EINVAL,
		 "clock_nanosleep with tv_nsec of 1e9 returns EINVAL");
	CHECK_ERR(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &bad, NULL), EINVAL,
		  "raw clock_nanosleep reports errors as -1 and errno");
}

static void test_interrupted(void)
{
	struct timespec d = ts_of(2 * SEC), rem = { -1, -1 };

	install(SIGALRM, SA_RESTART);
	sig_count[SIGALRM] = 0;
	itimer_ms(ITIMER_REAL, 100, 0);
	CHECK_ERR(nanosleep(&d, &rem), EINTR, "nanosleep interrupted by a SA_RESTART handler still fails with EINTR");
	CHECK_EQ(sig_count[SIGALRM], 1, "the SIGALRM handler ran");
	CHECK(ns_of(rem) > 500 * MS && ns_of(rem) < 2 * SEC,
	      "nanosleep fills in the remaining time (between 0.5 and 2 s)");

	rem.tv_sec = rem.tv_nsec = -1;
	itimer_ms(ITIMER_REAL, 100, 0);
	CHECK_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &d, &rem), EINTR,
		 "a relative clock_nanosleep interrupted returns EINTR");
	CHECK(ns_of(rem) > 500 * MS && ns_of(rem) < 2 * SEC, "relative clock_nanosleep fills in the remaining time");

	struct timespec abs = ts_of(now(CLOCK_MONOTONIC) + 2 * SEC);
	rem.tv_sec = 77;
	rem.tv_nsec = 77;
	itimer_ms(ITIMER_REAL, 100, 0);
	CHECK_EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, &rem), EINTR,
		 "an absolute clock_nanosleep interrupted returns EINTR");
	CHECK(rem.tv_sec == 77 && rem.tv_nsec == 77, "an absolute clock_nanosleep leaves the remaining time alone");
	set_default(SIGALRM);
}

static void test_alarm(void)
{
	sigset_t empty;

	install(SIGALRM, 0);
	CHECK_EQ(alarm(5), 0, "alarm with none pending returns 0");
	CHECK_EQ(alarm(3), 5, "alarm returns the seconds left on the previous alarm");
	CHECK_EQ(alarm(0), 3, "alarm(0) cancels and returns the seconds left");
	CHECK_EQ(alarm(0), 0, "no alarm is left");

	sig_count[SIGALRM] = 0;
	sigemptyset(&empty);
	block(SIGALRM, SIG_BLOCK);
	long long t0 = now(CLOCK_MONOTONIC);
	alarm(1);
	while (sig_count[SIGALRM] == 0)
		sigsuspend(&empty);
	long long took = now(CLOCK_MONOTONIC) - t0;
	block(SIGALRM, SIG_UNBLOCK);
	CHECK_EQ(sig_count[SIGALRM], 1, "alarm(1) delivers SIGALRM");
	CHECK(took >= SEC && took < 3 * SEC, "alarm(1) fired after at least 1 s");
	CHECK_EQ(last_info.si_code, SI_KERNEL, "the alarm's SIGALRM has si_code SI_KERNEL");
	CHECK_EQ(alarm(0), 0, "the alarm is gone once it fired");
	set_default(SIGALRM);
}

static void test_itimer(void)
{
	struct itimerval it, old;
	sigset_t empty;

	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = 10;
	it.it_interval.tv_usec = 250000;
	CHECK_EQ(setitimer(ITIMER_REAL, &it, NULL), 0, "setitimer ITIMER_REAL 10 s");
	CHECK_EQ(getitimer(ITIMER_REAL, &old), 0, "getitimer ITIMER_REAL");
	CHECK(tv_ns(old.it_value) > 9 * SEC && tv_ns(old.it_value) <= 10 * SEC,
	      "getitimer shows the value counting down from 10 s");
	CHECK_EQ(tv_ns(old.it_interval), 250 * MS, "getitimer shows the interval as set");
	memset(&it, 0, sizeof(it));
	CHECK_EQ(setitimer(ITIMER_REAL, &it, &old), 0, "setitimer to zero disarms");
	CHECK(tv_ns(old.it_value) > 9 * SEC, "setitimer returns the old value");
	CHECK_EQ(getitimer(ITIMER_REAL, &old), 0, "getitimer");
	CHECK(old.it_value.tv_sec == 0 && old.it_value.tv_usec == 0, "the disarmed timer reads as zero");
	CHECK_ERR(setitimer(42, &it, NULL), EINVAL, "setitimer with an unknown timer is EINVAL");
	CHECK_ERR(getitimer(42, &old), EINVAL, "getitimer with an unknown timer is EINVAL");
	it.it_value.tv_usec = 1000000;
	CHECK_ERR(setitimer(ITIMER_REAL, &it, NULL), EINVAL, "setitimer with tv_usec of 1e6 is EINVAL");

	install(SIGALRM, 0);
	block(SIGALRM, SIG_BLOCK);
	sigemptyset(&empty);
	sig_count[SIGALRM] = 0;
	long long t0 = now(CLOCK_MONOTONIC);
	itimer_ms(ITIMER_REAL, 50, 50);
	while (sig_count[SIGALRM] < 3)
		sigsuspend(&empty);
	long long took = now(CLOCK_MONOTONIC) - t0;
	itimer_ms(ITIMER_REAL, 0, 0);
	block(SIGALRM, SIG_UNBLOCK);
	CHECK(took >= 150 * MS && took < 3 * SEC,
	      "an ITIMER_REAL with a 50 ms interval fires 3 times in at least 150 ms");
	set_default(SIGALRM);

	/* ITIMER_VIRTUAL counts user CPU time only: sleeping does not use it up. */
	itimer_ms(ITIMER_VIRTUAL, 1000, 0);
	msleep(200);
	getitimer(ITIMER_VIRTUAL, &old);
	CHECK(tv_ns(old.it_value) > 900 * MS, "ITIMER_VIRTUAL does not count down while sleeping");
	itimer_ms(ITIMER_VIRTUAL, 0, 0);

	/*
	 * These timers run on CPU time sampled at scheduler ticks, so they may
	 * fire up to a tick before the precise CPU clock reaches the interval:
	 * three 20 ms expiries must take at least 50 ms of CPU time.
	 */
	static const struct {
		int which, sig;
		const char *name;
	} cpu[] = { { ITIMER_VIRTUAL, SIGVTALRM, "ITIMER_VIRTUAL delivers SIGVTALRM every 20 ms of CPU time" },
		    { ITIMER_PROF, SIGPROF, "ITIMER_PROF delivers SIGPROF every 20 ms of CPU time" } };
	for (int i = 0; i < 2; i++) {
		install(cpu[i].sig, SA_RESTART);
		sig_count[cpu[i].sig] = 0;
		long long c0 = now(CLOCK_PROCESS_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
		itimer_ms(cpu[i].which, 20, 20);
		while (sig_count[cpu[i].sig] < 3 && now(CLOCK_MONOTONIC) - w0 < 10 * SEC)
			;
		long long used = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
		itimer_ms(cpu[i].which, 0, 0);
		CHECK(sig_count[cpu[i].sig] >= 3 && used >= 50 * MS && used < 5 * SEC, cpu[i].name);
		set_default(cpu[i].sig);
	}
}

/* Raw POSIX timer calls, with the kernel's int timer ids. */
static long timer_create_(clockid_t c, struct sigevent *sev, int *id)
{
	return syscall(SYS_timer_create, c, sev, id);
}

static long timer_settime_(int id, int flags, long long first, long long interval, struct itimerspec *old)
{
	struct itimerspec its = { ts_of(interval), ts_of(first) };

	return syscall(SYS_timer_settime, id, flags, &its, old);
}

static long timer_gettime_(int id, struct itimerspec *cur)
{
	return syscall(SYS_timer_gettime, id, cur);
}

static void test_posix_timers(void)
{
	struct sigevent sev;
	struct itimerspec cur;
	siginfo_t si;
	sigset_t set;
	int id = -1;
	struct timespec t5 = ts_of(5 * SEC);
	int rt = SIGRTMIN;

	sigemptyset(&set);
	sigaddset(&set, rt);
	sigprocmask(SIG_BLOCK, &set, NULL);

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = rt;
	sev.sigev_value.sival_int = 1234;
	CHECK_EQ(timer_create_(CLOCK_MONOTONIC, &sev, &id), 0, "timer_create CLOCK_MONOTONIC SIGEV_SIGNAL");
	long long t0 = now(CLOCK_MONOTONIC);
	CHECK_EQ(timer_settime_(id, 0, 50 * MS, 0, NULL), 0, "timer_settime 50 ms one-shot");
	memset(&si, 0, sizeof(si));
	CHECK_EQ(sigtimedwait(&set, &si, &t5), rt, "the timer's signal arrives");
	CHECK(now(CLOCK_MONOTONIC) - t0 >= 50 * MS, "the timer fired no earlier than 50 ms");
	CHECK_EQ(si.si_code, SI_TIMER, "timer signal: si_code is SI_TIMER");
	CHECK_EQ(si.si_value.sival_int, 1234, "timer signal: si_value is sigev_value");
	CHECK_EQ(si.si_timerid, id, "timer signal: si_timerid is the timer id");
	CHECK_EQ(si.si_overrun, 0, "timer signal: no overrun for a one-shot timer");
	CHECK_EQ(timer_gettime_(id, &cur), 0, "timer_gettime");
	CHECK(ns_of(cur.it_value) == 0 && ns_of(cur.it_interval) == 0, "an expired one-shot timer reads as disarmed");

	/* Overruns: a 10 ms periodic timer whose signal stays blocked for 200 ms. */
	CHECK_EQ(timer_settime_(id, 0, 10 * MS, 10 * MS, NULL), 0, "timer_settime 10 ms periodic");
	msleep(200);
	memset(&si, 0, sizeof(si));
	CHECK_EQ(sigtimedwait(&set, &si, &t5), rt, "the periodic timer's signal is pending");
	CHECK(si.si_overrun >= 5, "si_overrun counts the expirations while the signal was pending");
	CHECK_EQ(syscall(SYS_timer_getoverrun, id), si.si_overrun,
		 "timer_getoverrun matches si_overrun of the delivered signal");
	struct itimerspec old;
	CHECK_EQ(timer_settime_(id, 0, 0, 0, &old), 0, "timer_settime 0 disarms");
	CHECK(ns_of(old.it_interval) == 10 * MS && ns_of(old.it_value) > 0 && ns_of(old.it_value) <= 10 * MS,
	      "timer_settime returns the old value and interval");
	sigtimedwait(&set, &si, &(struct timespec){ 0, 0 }); /* drop a signal queued meanwhile */

	/* TIMER_ABSTIME */
	long long deadline = now(CLOCK_MONOTONIC) + 100 * MS;
	CHECK_EQ(timer_settime_(id, TIMER_ABSTIME, deadline, 0, NULL), 0, "timer_settime TIMER_ABSTIME");
	CHECK_EQ(sigtimedwait(&set, &si, &t5), rt, "the absolute timer fires");
	CHECK(now(CLOCK_MONOTONIC) >= deadline, "the absolute timer fired at or after its deadline");

	CHECK_EQ(syscall(SYS_timer_delete, id), 0, "timer_delete");
	CHECK_ERR(timer_gettime_(id, &cur), EINVAL, "timer_gettime of a deleted timer is EINVAL");
	CHECK_ERR(syscall(SYS_timer_delete, id), EINVAL, "timer_delete of a deleted timer is EINVAL");
	CHECK_ERR(timer_settime_(id, 0, MS, 0, NULL), EINVAL, "timer_settime of a deleted timer is EINVAL");
	CHECK_ERR(syscall(SYS_timer_getoverrun, id), EINVAL, "timer_getoverrun of a deleted timer is EINVAL");

	/* SIGEV_NONE: nothing is delivered, but the timer counts down. */
	sev.sigev_notify = SIGEV_NONE;
	CHECK_EQ(timer_create_(CLOCK_MONOTONIC, &sev, &id), 0, "timer_create SIGEV_NONE");
	CHECK_EQ(timer_settime_(id, 0, 10 * SEC, SEC, NULL), 0, "timer_settime 10 s");
	timer_gettime_(id, &cur);
	long long v1 = ns_of(cur.it_value);
	CHECK(v1 > 9 * SEC && v1 <= 10 * SEC && ns_of(cur.it_interval) == SEC,
	      "timer_gettime shows value and interval");
	msleep(100);
	timer_gettime_(id, &cur);
	CHECK(v1 - ns_of(cur.it_value) >= 100 * MS, "the SIGEV_NONE timer counts down");
	struct timespec bad[2] = { { 0, 0 }, { 0, SEC } };
	CHECK_ERR(syscall(SYS_timer_settime, id, 0, bad, NULL), EINVAL, "timer_settime with tv_nsec of 1e9 is EINVAL");
	syscall(SYS_timer_delete, id);

	/* The default sigevent: SIGEV_SIGNAL, SIGALRM, sival_int the timer id. */
	block(SIGALRM, SIG_BLOCK);
	CHECK_EQ(timer_create_(CLOCK_MONOTONIC, NULL, &id), 0, "timer_create with a NULL sigevent");
	timer_settime_(id, 0, 10 * MS, 0, NULL);
	sigset_t alrm;
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	memset(&si, 0, sizeof(si));
	CHECK_EQ(sigtimedwait(&alrm, &si, &t5), SIGALRM, "a default timer sends SIGALRM");
	CHECK_EQ(si.si_value.sival_int, id, "a default timer's si_value is its timer id");
	syscall(SYS_timer_delete, id);
	block(SIGALRM, SIG_UNBLOCK);

	/* A timer on the process CPU-time clock. */
	sev.sigev_notify = SIGEV_SIGNAL;
	CHECK_EQ(timer_create_(CLOCK_PROCESS_CPUTIME_ID, &sev, &id), 0, "timer_create CLOCK_PROCESS_CPUTIME_ID");
	struct timespec zero = { 0, 0 };
	long long c0 = now(CLOCK_PROCESS_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
	timer_settime_(id, 0, 30 * MS, 0, NULL);
	int got = 0;
	while (!got && now(CLOCK_MONOTONIC) - w0 < 10 * SEC)
		got = sigtimedwait(&set, &si, &zero) == rt;
	CHECK(got && now(CLOCK_PROCESS_CPUTIME_ID) - c0 >= 30 * MS, "a CPU-time timer fires after 30 ms of CPU time");
	syscall(SYS_timer_delete, id);

	CHECK_ERR(timer_create_(1234, &sev, &id), EINVAL, "timer_create on an unknown clock is EINVAL");
	sev.sigev_notify = 99;
	CHECK_ERR(timer_create_(CLOCK_MONOTONIC, &sev, &id), EINVAL,
		  "timer_create with an unknown sigev_notify is EINVAL");
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = 65;
	CHECK_ERR(timer_create_(CLOCK_MONOTONIC, &sev, &id), EINVAL, "timer_create with signal 65 is EINVAL");
	sev.sigev_signo = 0;
	CHECK_ERR(timer_create_(CLOCK_MONOTONIC, &sev, &id), EINVAL, "timer_create with signal 0 is EINVAL");
	CHECK_ERR(timer_gettime_(0x7fff, &cur), EINVAL, "timer_gettime of a timer id never created is EINVAL");
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

struct target {
	int sig;
	volatile pid_t tid;
	volatile int ready;
	int got;
	siginfo_t si;
};

static void *target_thread(void *arg)
{
	struct target *t = arg;
	sigset_t set;
	struct timespec t5 = ts_of(5 * SEC);

	sigemptyset(&set);
	sigaddset(&set, t->sig);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	t->tid = syscall(SYS_gettid);
	__atomic_store_n(&t->ready, 1, __ATOMIC_SEQ_CST);
	t->got = sigtimedwait(&set, &t->si, &t5);
	return NULL;
}

static void test_thread_id(void)
{
	struct target t;
	pthread_t th;
	struct sigevent sev;
	int id = -1;
	int rt = SIGRTMIN + 1;

	memset(&t, 0, sizeof(t));
	t.sig = rt;
	install(rt, 0); /* the main thread does not block it: a process-directed signal would run this */
	sig_count[rt] = 0;
	REQUIRE(pthread_create(&th, NULL, target_thread, &t) == 0, "pthread_create");
	while (!__atomic_load_n(&t.ready, __ATOMIC_SEQ_CST))
		msleep(1);
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = rt;
	sev.sigev_value.sival_int = 99;
	sev._sigev_un._tid = t.tid;
	CHECK_EQ(timer_create_(CLOCK_MONOTONIC, &sev, &id), 0, "timer_create SIGEV_THREAD_ID");
	timer_settime_(id, 0, 50 * MS, 0, NULL);
	pthread_join(th, NULL);
	CHECK_EQ(t.got, rt, "SIGEV_THREAD_ID: the target thread receives the timer signal");
	CHECK(t.si.si_code == SI_TIMER && t.si.si_value.sival_int == 99,
	      "SIGEV_THREAD_ID: si_code SI_TIMER and si_value");
	CHECK_EQ(sig_count[rt], 0, "SIGEV_THREAD_ID: the signal is not delivered to the other thread");
	syscall(SYS_timer_delete, id);

	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		pause();
		_exit(0);
	}
	sev._sigev_un._tid = pid;
	CHECK_ERR(timer_create_(CLOCK_MONOTONIC, &sev, &id), EINVAL,
		  "SIGEV_THREAD_ID naming a thread of another process is EINVAL");
	kill(pid, SIGKILL);
	reap(pid);
	set_default(rt);
}

static void test_accounting(void)
{
	struct tms a, b;
	struct rusage ra, rb;
	long tick = sysconf(_SC_CLK_TCK);

	REQUIRE(tick > 0, "sysconf(_SC_CLK_TCK)");
	clock_t r0 = times(&a);
	CHECK_EQ(getrusage(RUSAGE_SELF, &ra), 0, "getrusage RUSAGE_SELF");
	spin(300);
	clock_t r1 = times(&b);
	CHECK_EQ(getrusage(RUSAGE_SELF, &rb), 0, "getrusage RUSAGE_SELF again");
	long ticks = (b.tms_utime + b.tms_stime) - (a.tms_utime + a.tms_stime);
	CHECK(ticks >= tick / 5, "times: user+system time grows by at least 200 ms over 300 ms of spinning");
	CHECK(r1 - r0 >= tick / 5, "times returns elapsed clock ticks");
	long long used = tv_ns(rb.ru_utime) + tv_ns(rb.ru_stime) - tv_ns(ra.ru_utime) - tv_ns(ra.ru_stime);
	CHECK(used >= 200 * MS, "getrusage RUSAGE_SELF grows by at least 200 ms over 300 ms of spinning");
	CHECK_EQ(getrusage(RUSAGE_THREAD, &ra), 0, "getrusage RUSAGE_THREAD");
	CHECK_ERR(getrusage(42, &ra), EINVAL, "getrusage with an unknown who is EINVAL");

	CHECK_EQ(getrusage(RUSAGE_CHILDREN, &ra), 0, "getrusage RUSAGE_CHILDREN");
	times(&a);
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		spin(300);
		_exit(0);
	}
	clockid_t child_clock;
	CHECK_EQ(clock_getcpuclockid(pid, &child_clock), 0, "clock_getcpuclockid of a child");
	struct timespec ts;
	CHECK_EQ(clock_gettime(child_clock, &ts), 0, "clock_gettime of a child's CPU clock");
	CHECK(times(&b) != (clock_t)-1 && b.tms_cutime == a.tms_cutime, "a running child is not yet in tms_cutime");
	reap(pid);
	CHECK_ERR(clock_gettime(child_clock, &ts), EINVAL, "clock_gettime of a reaped process's CPU clock is EINVAL");
	times(&b);
	getrusage(RUSAGE_CHILDREN, &rb);
	ticks = (b.tms_cutime + b.tms_cstime) - (a.tms_cutime + a.tms_cstime);
	CHECK(ticks >= tick / 5, "times: the reaped child's 300 ms appear in tms_cutime+tms_cstime");
	used = tv_ns(rb.ru_utime) + tv_ns(rb.ru_stime) - tv_ns(ra.ru_utime) - tv_ns(ra.ru_stime);
	CHECK(used >= 200 * MS, "getrusage RUSAGE_CHILDREN grows by the reaped child's CPU time");
}

static void *spin_thread(void *arg)
{
	(void)arg;
	spin(300);
	return NULL;
}

static void test_cpu_clocks(void)
{
	long long p0 = now(CLOCK_PROCESS_CPUTIME_ID), t0 = now(CLOCK_THREAD_CPUTIME_ID);
	spin(200);
	long long t1 = now(CLOCK_THREAD_CPUTIME_ID), p1 = now(CLOCK_PROCESS_CPUTIME_ID);
	CHECK(t1 - t0 >= 200 * MS, "CLOCK_THREAD_CPUTIME_ID advances while spinning");
	CHECK(p1 - p0 >= t1 - t0,
	      "CLOCK_PROCESS_CPUTIME_ID advances at least as much as the thread's over a wider interval");

	msleep(200);
	long long p2 = now(CLOCK_PROCESS_CPUTIME_ID), t2 = now(CLOCK_THREAD_CPUTIME_ID);
	CHECK(p2 - p1 < 50 * MS, "CLOCK_PROCESS_CPUTIME_ID barely moves during a 200 ms sleep");
	CHECK(t2 - t1 < 50 * MS, "CLOCK_THREAD_CPUTIME_ID barely moves during a 200 ms sleep");

	pthread_t th;
	clockid_t th_clock;
	REQUIRE(pthread_create(&th, NULL, spin_thread, NULL) == 0, "pthread_create");
	CHECK_EQ(pthread_getcpuclockid(th, &th_clock), 0, "pthread_getcpuclockid");
	msleep(50);
	struct timespec ts;
	CHECK_EQ(clock_gettime(th_clock, &ts), 0, "clock_gettime of another thread's CPU clock");
	pthread_join(th, NULL);
	long long p3 = now(CLOCK_PROCESS_CPUTIME_ID), t3 = now(CLOCK_THREAD_CPUTIME_ID);
	CHECK(p3 - p2 >= 300 * MS, "CLOCK_PROCESS_CPUTIME_ID includes another thread's 300 ms of spinning");
	CHECK(t3 - t2 < 50 * MS, "CLOCK_THREAD_CPUTIME_ID does not include another thread's CPU time");

	clockid_t self;
	CHECK_EQ(clock_getcpuclockid(0, &self), 0, "clock_getcpuclockid(0)");
	CHECK_EQ(clock_gettime(self, &ts), 0, "clock_gettime of our own process CPU clock id");
	CHECK(ns_of(ts) >= p3, "our process CPU clock id reads the process CPU time");
	CHECK_EQ(syscall(SYS_clock_getres, CLOCK_PROCESS_CPUTIME_ID, &ts), 0, "clock_getres CLOCK_PROCESS_CPUTIME_ID");
	CHECK(ns_of(ts) > 0 && ns_of(ts) <= MS, "CPU-time clocks have a resolution of at most 1 ms");
}

int main(void)
{
	test_sleep();
	test_interrupted();
	test_alarm();
	test_itimer();
	test_posix_timers();
	test_thread_id();
	test_accounting();
	test_cpu_clocks();
	return check_done();
}
