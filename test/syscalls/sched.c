/*
 * sched.c checks scheduling calls against the Linux man pages (sched(7),
 * sched_yield(2), sched_setaffinity(2), getcpu(2), sched_setscheduler(2),
 * sched_setparam(2), sched_get_priority_max(2), sched_rr_get_interval(2),
 * getpriority(2)): CPU affinity (moving to each allowed CPU and back, getcpu
 * following it, inheritance, errors), scheduling policies and priorities
 * including SCHED_FIFO, SCHED_RR and SCHED_RESET_ON_FORK as root, the
 * priority ranges, nice values with their clamping and permission rules,
 * and round-robin intervals.
 *
 * The program must run as root, but it may hold any capability set and any
 * RLIMIT_NICE and RLIMIT_RTPRIO: full root natively, the container default
 * set (no CAP_SYS_NICE) in a sandbox. main reads them (capget, getrlimit) and
 * every check whose outcome depends on them expects what Linux does: the
 * privileged path where CAP_SYS_NICE is held, the exact error and nothing
 * changed where it is not. The unprivileged rules are also checked on
 * purpose, after dropping CAP_SYS_NICE or root.
 *
 * Scenarios that change the policy, nice value, limits or credentials run in
 * a child; the child's checks are added to the totals.
 */
#include "check.h"

#include <linux/capability.h>
#include <sched.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

static int *child_counts;

/* in_child runs fn in a child and adds the child's check counts to ours. */
static void in_child(void (*fn)(void), const char *name)
{
	char what[160];
	int status = -1;

	child_counts[0] = child_counts[1] = 0;
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		check_total = check_failed = 0;
		fn();
		child_counts[0] = check_total;
		child_counts[1] = check_failed;
		_exit(0);
	}
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	check_total += child_counts[0];
	check_failed += child_counts[1];
	snprintf(what, sizeof(what), "%s: the child ran to completion", name);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, what);
}

/* child_result forks, runs fn in the child and returns its exit status (or -1). */
static int child_result(int (*fn)(void))
{
	int status = -1;
	pid_t pid = fork();

	if (pid == 0)
		_exit(fn());
	if (pid < 0)
		return -1;
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#define BIT(c) (1ULL << (c))

/* What the program started with (read by main before any child runs). */
static uint64_t cap_eff, cap_perm, cap_inh;
static struct rlimit start_nice_rl, start_rtprio_rl;

static int capget_(uint64_t *eff, uint64_t *perm, uint64_t *inh)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) != 0)
		return -1;
	*eff = d[0].effective | (uint64_t)d[1].effective << 32;
	*perm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	*inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
	return 0;
}

static int capset_(uint64_t eff, uint64_t perm, uint64_t inh)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = {
		{ (uint32_t)eff, (uint32_t)perm, (uint32_t)inh },
		{ (uint32_t)(eff >> 32), (uint32_t)(perm >> 32), (uint32_t)(inh >> 32) },
	};

	return syscall(SYS_capset, &h, d);
}

/* held says whether the program started with capability c effective. */
static int held(int c)
{
	return (cap_eff & BIT(c)) != 0;
}

/*
 * nice_allowed says whether RLIMIT_NICE (soft limit lim) lets a process
 * without CAP_SYS_NICE take nice value nice: 20 - nice must not exceed it.
 */
static int nice_allowed(int nice, rlim_t lim)
{
	return lim == RLIM_INFINITY || (rlim_t)(20 - nice) <= lim;
}

/*
 * drop_sys_nice removes CAP_SYS_NICE from the effective set (a no-op when it
 * is not there) to reach the unprivileged rules on purpose.
 */
static void drop_sys_nice(void)
{
	REQUIRE(capset_(cap_eff & ~BIT(CAP_SYS_NICE), cap_perm, cap_inh) == 0,
		"capset drops CAP_SYS_NICE from the effective set");
}

static void test_yield(void)
{
	CHECK_EQ(sched_yield(), 0, "sched_yield");
	CHECK_EQ(syscall(SYS_sched_yield), 0, "raw sched_yield");
}

static int only_cpu = -1;

static int child_affinity(void)
{
	cpu_set_t s;

	if (sched_getaffinity(0, sizeof(s), &s) != 0)
		return 1;
	return CPU_COUNT(&s) == 1 && CPU_ISSET(only_cpu, &s) ? 0 : 2;
}

static void test_affinity(void)
{
	cpu_set_t orig, s;
	char what[160];

	CHECK_EQ(sched_getaffinity(0, sizeof(orig), &orig), 0, "sched_getaffinity");
	int n = CPU_COUNT(&orig);
	CHECK(n >= 1, "the affinity mask has at least one CPU");
	unsigned long raw[16];
	long size = syscall(SYS_sched_getaffinity, 0, sizeof(raw), raw);
	CHECK(size > 0 && size % sizeof(long) == 0 && size <= (long)sizeof(raw),
	      "raw sched_getaffinity returns the kernel mask size in bytes, a multiple of sizeof(long)");
	CHECK_ERR(syscall(SYS_sched_getaffinity, 0, 4, raw), EINVAL,
		  "sched_getaffinity with a size not a multiple of sizeof(long) is EINVAL");

	int moved = 0, tried = 0, first = -1;
	for (int cpu = 0; cpu < CPU_SETSIZE && tried < 8; cpu++) {
		if (!CPU_ISSET(cpu, &orig))
			continue;
		if (first < 0)
			first = cpu;
		tried++;
		CPU_ZERO(&s);
		CPU_SET(cpu, &s);
		if (sched_setaffinity(0, sizeof(s), &s) != 0)
			continue;
		cpu_set_t got;
		unsigned int c = 99999, node = 99999;
		if (sched_getaffinity(0, sizeof(got), &got) == 0 && CPU_COUNT(&got) == 1 && CPU_ISSET(cpu, &got) &&
		    sched_getcpu() == cpu && syscall(SYS_getcpu, &c, &node, NULL) == 0 && c == (unsigned)cpu &&
		    node < 4096)
			moved++;
	}
	snprintf(what, sizeof(what), "pinned to each of %d allowed CPUs in turn, getaffinity and getcpu follow", tried);
	CHECK_EQ(moved, tried, what);

	CPU_ZERO(&s);
	CPU_SET(first, &s);
	REQUIRE(sched_setaffinity(0, sizeof(s), &s) == 0, "pin to the first CPU");
	only_cpu = first;
	CHECK_EQ(child_result(child_affinity), 0, "a child of fork inherits the affinity mask");
	CHECK_EQ(sched_setaffinity(0, sizeof(orig), &orig), 0, "restore the original affinity");
	CHECK_EQ(sched_getaffinity(0, sizeof(s), &s), 0, "sched_getaffinity");
	CHECK(CPU_EQUAL(&s, &orig), "the original mask is back");

	CPU_ZERO(&s);
	CHECK_ERR(sched_setaffinity(0, sizeof(s), &s), EINVAL, "sched_setaffinity with an empty mask is EINVAL");
	CPU_SET(CPU_SETSIZE - 1, &s);
	CHECK_ERR(sched_setaffinity(0, sizeof(s), &s), EINVAL,
		  "sched_setaffinity with only a nonexistent CPU is EINVAL");
	CHECK_ERR(sched_setaffinity(0x3fffffff, sizeof(orig), &orig), ESRCH,
		  "sched_setaffinity of a missing process is ESRCH");
	CHECK_ERR(sched_getaffinity(0x3fffffff, sizeof(s), &s), ESRCH,
		  "sched_getaffinity of a missing process is ESRCH");

	unsigned int c = 99999;
	CHECK_EQ(syscall(SYS_getcpu, &c, NULL, NULL), 0, "getcpu with a NULL node");
	CHECK(c < CPU_SETSIZE && CPU_ISSET(c, &orig), "getcpu returns a CPU in the affinity mask");
}

static void test_priority_ranges(void)
{
	CHECK(sched_get_priority_min(SCHED_FIFO) == 1 && sched_get_priority_max(SCHED_FIFO) == 99,
	      "SCHED_FIFO priorities are 1 to 99");
	CHECK(sched_get_priority_min(SCHED_RR) == 1 && sched_get_priority_max(SCHED_RR) == 99,
	      "SCHED_RR priorities are 1 to 99");
	CHECK(sched_get_priority_min(SCHED_OTHER) == 0 && sched_get_priority_max(SCHED_OTHER) == 0,
	      "SCHED_OTHER priority is 0");
	CHECK(sched_get_priority_min(SCHED_BATCH) == 0 && sched_get_priority_max(SCHED_BATCH) == 0,
	      "SCHED_BATCH priority is 0");
	CHECK(sched_get_priority_min(SCHED_IDLE) == 0 && sched_get_priority_max(SCHED_IDLE) == 0,
	      "SCHED_IDLE priority is 0");
	CHECK_ERR(sched_get_priority_max(42), EINVAL, "sched_get_priority_max of an unknown policy is EINVAL");
	CHECK_ERR(sched_get_priority_min(-1), EINVAL, "sched_get_priority_min of an unknown policy is EINVAL");

	struct sched_param p;
	CHECK_EQ(sched_getparam(0, &p), 0, "sched_getparam");
	CHECK_ERR(sched_getparam(0x3fffffff, &p), ESRCH, "sched_getparam of a missing process is ESRCH");
	CHECK_ERR(sched_getparam(-1, &p), EINVAL, "sched_getparam of a negative pid is EINVAL");
	CHECK_ERR(sched_getscheduler(-1), EINVAL, "sched_getscheduler of a negative pid is EINVAL");
	CHECK_ERR(sched_getscheduler(0x3fffffff), ESRCH, "sched_getscheduler of a missing process is ESRCH");
	struct timespec ts = { -1, -1 };
	CHECK_EQ(sched_rr_get_interval(0, &ts), 0, "sched_rr_get_interval of a SCHED_OTHER process");
	CHECK(ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000, "it returns a valid timespec");
	CHECK_ERR(sched_rr_get_interval(0x3fffffff, &ts), ESRCH, "sched_rr_get_interval of a missing process is ESRCH");
	CHECK_ERR(sched_rr_get_interval(-1, &ts), EINVAL, "sched_rr_get_interval of a negative pid is EINVAL");
}

static int policy_of_child(void)
{
	struct sched_param p = { -1 };

	sched_getparam(0, &p);
	return sched_getscheduler(0) * 10 + p.sched_priority;
}

static int set_policy(int policy, int prio)
{
	struct sched_param p = { prio };

	return sched_setscheduler(0, policy, &p);
}

static int prio(void)
{
	struct sched_param p = { -1 };

	sched_getparam(0, &p);
	return p.sched_priority;
}

static void policies(void)
{
	struct sched_param p = { 0 };

	CHECK_EQ(sched_getscheduler(0), SCHED_OTHER, "a process starts as SCHED_OTHER");
	CHECK_EQ(prio(), 0, "with static priority 0");

	/* Argument errors come before any permission check. */
	CHECK_ERR(set_policy(SCHED_FIFO, 0), EINVAL, "SCHED_FIFO with priority 0 is EINVAL");
	CHECK_ERR(set_policy(SCHED_FIFO, 100), EINVAL, "SCHED_FIFO with priority 100 is EINVAL");
	CHECK_ERR(set_policy(SCHED_OTHER, 5), EINVAL, "SCHED_OTHER with a nonzero priority is EINVAL");
	CHECK_ERR(set_policy(42, 0), EINVAL, "an unknown policy is EINVAL");
	CHECK_ERR(syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, NULL), EINVAL,
		  "sched_setscheduler with a NULL param is EINVAL");
	CHECK_ERR(sched_setscheduler(0x3fffffff, SCHED_OTHER, &p), ESRCH,
		  "sched_setscheduler of a missing process is ESRCH");
	CHECK_ERR(sched_setscheduler(-1, SCHED_OTHER, &p), EINVAL, "sched_setscheduler of a negative pid is EINVAL");
	CHECK_ERR(sched_setparam(0, &(struct sched_param){ 3 }), EINVAL,
		  "sched_setparam of priority 3 under SCHED_OTHER is EINVAL");
	CHECK(sched_getscheduler(0) == SCHED_OTHER && prio() == 0, "the refused calls changed nothing");

	CHECK_EQ(set_policy(SCHED_BATCH, 0), 0, "sched_setscheduler SCHED_BATCH");
	CHECK_EQ(sched_getscheduler(0), SCHED_BATCH, "sched_getscheduler reads back SCHED_BATCH");
	CHECK_EQ(set_policy(SCHED_IDLE, 0), 0, "sched_setscheduler SCHED_IDLE");
	CHECK_EQ(sched_getscheduler(0), SCHED_IDLE, "sched_getscheduler reads back SCHED_IDLE");

	/*
	 * Leaving SCHED_IDLE (treated as nice 20) needs CAP_SYS_NICE or an
	 * RLIMIT_NICE that allows the process's nice value.
	 */
	errno = 0;
	int nice = getpriority(PRIO_PROCESS, 0);
	if (held(CAP_SYS_NICE) || nice_allowed(nice, start_nice_rl.rlim_cur)) {
		CHECK_EQ(set_policy(SCHED_OTHER, 0), 0, "sched_setscheduler back to SCHED_OTHER");
		CHECK_EQ(sched_getscheduler(0), SCHED_OTHER, "sched_getscheduler reads back SCHED_OTHER");
	} else {
		CHECK_ERR(set_policy(SCHED_OTHER, 0), EPERM,
			  "without CAP_SYS_NICE, leaving SCHED_IDLE is EPERM while RLIMIT_NICE is below 20 - nice");
		CHECK_EQ(sched_getscheduler(0), SCHED_IDLE, "the policy stays SCHED_IDLE");
		CHECK_ERR(set_policy(SCHED_BATCH, 0), EPERM, "so is leaving it for SCHED_BATCH");
	}

	/* On purpose: without CAP_SYS_NICE and with RLIMIT_NICE 0, SCHED_IDLE is a one-way street. */
	if (sched_getscheduler(0) != SCHED_OTHER)
		return;
	drop_sys_nice();
	struct rlimit rl = { 0, 0 };
	REQUIRE(setrlimit(RLIMIT_NICE, &rl) == 0, "RLIMIT_NICE 0");
	CHECK_EQ(set_policy(SCHED_IDLE, 0), 0, "without CAP_SYS_NICE, entering SCHED_IDLE is allowed");
	CHECK_ERR(set_policy(SCHED_OTHER, 0), EPERM,
		  "without CAP_SYS_NICE and with RLIMIT_NICE 0, leaving SCHED_IDLE is EPERM");
	CHECK_EQ(sched_getscheduler(0), SCHED_IDLE, "the policy stays SCHED_IDLE");
}

static void rt_policies(void)
{
	struct sched_param p = { 0 };
	struct timespec ts;

	if (held(CAP_SYS_NICE)) {
		CHECK_EQ(set_policy(SCHED_FIFO, 10), 0, "sched_setscheduler SCHED_FIFO priority 10 as root");
		CHECK_EQ(sched_getscheduler(0), SCHED_FIFO, "sched_getscheduler reads back SCHED_FIFO");
		CHECK_EQ(prio(), 10, "sched_getparam reads back priority 10");
		CHECK_EQ(sched_rr_get_interval(0, &ts), 0, "sched_rr_get_interval of a SCHED_FIFO process");
		CHECK(ts.tv_sec == 0 && ts.tv_nsec == 0, "a SCHED_FIFO process has an infinite (0) time slice");
		p.sched_priority = 20;
		CHECK_EQ(sched_setparam(0, &p), 0, "sched_setparam priority 20");
		CHECK_EQ(prio(), 20, "sched_getparam reads back priority 20");
		CHECK_EQ(child_result(policy_of_child), SCHED_FIFO * 10 + 20,
			 "a child of fork inherits SCHED_FIFO and its priority");

		CHECK_EQ(set_policy(SCHED_RR, 5), 0, "sched_setscheduler SCHED_RR priority 5");
		CHECK(sched_getscheduler(0) == SCHED_RR && prio() == 5, "SCHED_RR with priority 5 reads back");
		CHECK_EQ(sched_rr_get_interval(0, &ts), 0, "sched_rr_get_interval of a SCHED_RR process");
		CHECK(ts.tv_sec > 0 || ts.tv_nsec > 0, "a SCHED_RR process has a nonzero time slice");

		CHECK_EQ(set_policy(SCHED_FIFO | SCHED_RESET_ON_FORK, 10), 0,
			 "sched_setscheduler SCHED_FIFO|SCHED_RESET_ON_FORK");
		CHECK_EQ(sched_getscheduler(0), SCHED_FIFO | SCHED_RESET_ON_FORK,
			 "sched_getscheduler shows SCHED_RESET_ON_FORK");
		CHECK_EQ(child_result(policy_of_child), SCHED_OTHER * 10 + 0,
			 "SCHED_RESET_ON_FORK: the child starts as SCHED_OTHER, priority 0");
		CHECK_ERR(set_policy(SCHED_FIFO, 0), EINVAL, "SCHED_FIFO with priority 0 is EINVAL under SCHED_FIFO too");
		CHECK_EQ(set_policy(SCHED_OTHER, 0), 0, "with CAP_SYS_NICE, back to SCHED_OTHER clearing SCHED_RESET_ON_FORK");
		CHECK_EQ(sched_getscheduler(0), SCHED_OTHER, "sched_getscheduler reads back SCHED_OTHER");
	}

	/*
	 * Without CAP_SYS_NICE (dropped here on purpose if held), real-time
	 * policies need RLIMIT_RTPRIO: with soft limit 0 (lowering it needs no
	 * privilege) they are refused.
	 */
	drop_sys_nice();
	struct rlimit rl = { 0, start_rtprio_rl.rlim_max };
	REQUIRE(setrlimit(RLIMIT_RTPRIO, &rl) == 0, "RLIMIT_RTPRIO soft limit 0");
	CHECK_ERR(set_policy(SCHED_FIFO, 10), EPERM, "SCHED_FIFO without CAP_SYS_NICE and with RLIMIT_RTPRIO 0 is EPERM");
	CHECK_ERR(set_policy(SCHED_RR, 5), EPERM, "SCHED_RR without CAP_SYS_NICE and with RLIMIT_RTPRIO 0 is EPERM");
	CHECK_ERR(set_policy(SCHED_FIFO | SCHED_RESET_ON_FORK, 10), EPERM,
		  "SCHED_FIFO|SCHED_RESET_ON_FORK without CAP_SYS_NICE and with RLIMIT_RTPRIO 0 is EPERM");
	CHECK(sched_getscheduler(0) == SCHED_OTHER && prio() == 0, "the policy and priority are unchanged");

	/* SCHED_RESET_ON_FORK may be set without privilege but not cleared. */
	CHECK_EQ(set_policy(SCHED_OTHER | SCHED_RESET_ON_FORK, 0), 0,
		 "without CAP_SYS_NICE, SCHED_OTHER|SCHED_RESET_ON_FORK is allowed");
	CHECK_EQ(sched_getscheduler(0), SCHED_OTHER | SCHED_RESET_ON_FORK, "sched_getscheduler shows SCHED_RESET_ON_FORK");
	CHECK_EQ(child_result(policy_of_child), SCHED_OTHER * 10 + 0,
		 "SCHED_RESET_ON_FORK is not inherited: the child's policy is plain SCHED_OTHER");
	CHECK_ERR(set_policy(SCHED_OTHER, 0), EPERM, "without CAP_SYS_NICE, SCHED_RESET_ON_FORK cannot be cleared");
	CHECK_EQ(sched_getscheduler(0), SCHED_OTHER | SCHED_RESET_ON_FORK, "the flag stays set");
}

static int nice_of_child(void)
{
	errno = 0;
	return getpriority(PRIO_PROCESS, 0) + 20;
}

static int clamp_child(void)
{
	if (setpriority(PRIO_PROCESS, 0, 30) != 0)
		return 0;
	return getpriority(PRIO_PROCESS, 0) + 20;
}

static void nice_values(void)
{
	errno = 0;
	int base = getpriority(PRIO_PROCESS, 0);
	int err = errno;
	CHECK(err == 0 && base >= -20 && base <= 19, "getpriority returns a nice value");
	CHECK_EQ(syscall(SYS_getpriority, PRIO_PROCESS, 0), 20 - base, "raw getpriority returns 20 - nice");

	struct rlimit rl = { 0, 0 };
	if (held(CAP_SYS_NICE)) {
		CHECK_EQ(setpriority(PRIO_PROCESS, 0, 5), 0, "setpriority nice 5");
		CHECK_EQ(getpriority(PRIO_PROCESS, 0), 5, "getpriority reads back 5");
		CHECK_EQ(setpriority(PRIO_PROCESS, 0, 30), 0, "setpriority nice 30");
		CHECK_EQ(getpriority(PRIO_PROCESS, 0), 19, "nice values above 19 are clamped to 19");
		CHECK_EQ(setpriority(PRIO_PROCESS, 0, -5), 0, "setpriority nice -5 as root");
		CHECK_EQ(getpriority(PRIO_PROCESS, getpid()), -5, "getpriority by pid reads back -5");
		CHECK_EQ(setpriority(PRIO_PROCESS, 0, -30), 0, "setpriority nice -30 as root");
		CHECK_EQ(getpriority(PRIO_PROCESS, 0), -20, "nice values below -20 are clamped to -20");
		CHECK_EQ(setpriority(PRIO_PROCESS, 0, 3), 0, "setpriority nice 3");
		CHECK_EQ(child_result(nice_of_child), 23, "a child of fork inherits the nice value");

		CHECK_EQ(setpgid(0, 0), 0, "lead a new process group");
		CHECK_EQ(setpriority(PRIO_PGRP, 0, 7), 0, "setpriority PRIO_PGRP");
		CHECK_EQ(getpriority(PRIO_PROCESS, 0), 7, "PRIO_PGRP set our nice value");
		CHECK_EQ(getpriority(PRIO_PGRP, 0), 7, "getpriority PRIO_PGRP");
	} else {
		/*
		 * Without CAP_SYS_NICE, lowering the nice value needs RLIMIT_NICE
		 * (20 - nice); lowering the limit to 0 needs no privilege and
		 * makes every lowering EACCES. The values assume a start at nice 5
		 * or below, as the privileged path does.
		 */
		REQUIRE(setrlimit(RLIMIT_NICE, &rl) == 0, "RLIMIT_NICE 0");
		CHECK_EQ(setpriority(PRIO_PROCESS, 0, 5), 0, "setpriority nice 5 (raising it)");
		CHECK_EQ(getpriority(PRIO_PROCESS, 0), 5, "getpriority reads back 5");
		CHECK_ERR(setpriority(PRIO_PROCESS, 0, -5), EACCES,
			  "setpriority nice -5 without CAP_SYS_NICE and with RLIMIT_NICE 0 is EACCES");
		CHECK_EQ(getpriority(PRIO_PROCESS, getpid()), 5, "the nice value stays 5");
		CHECK_ERR(setpriority(PRIO_PROCESS, 0, -30), EACCES,
			  "setpriority nice -30 without CAP_SYS_NICE and with RLIMIT_NICE 0 is EACCES");
		CHECK_ERR(setpriority(PRIO_PROCESS, 0, 4), EACCES,
			  "lowering the nice value by one without CAP_SYS_NICE and with RLIMIT_NICE 0 is EACCES");
		CHECK_EQ(getpriority(PRIO_PROCESS, 0), 5, "the nice value stays 5");
		CHECK_EQ(child_result(clamp_child), 39, "nice values above 19 are clamped to 19 (in a child)");
		CHECK_EQ(child_result(nice_of_child), 25, "a child of fork inherits the nice value");

		CHECK_EQ(setpgid(0, 0), 0, "lead a new process group");
		CHECK_EQ(setpriority(PRIO_PGRP, 0, 7), 0, "setpriority PRIO_PGRP (raising the nice value)");
		CHECK_EQ(getpriority(PRIO_PROCESS, 0), 7, "PRIO_PGRP set our nice value");
		CHECK_EQ(getpriority(PRIO_PGRP, 0), 7, "getpriority PRIO_PGRP");
		CHECK_ERR(setpriority(PRIO_PGRP, 0, 6), EACCES,
			  "setpriority PRIO_PGRP lowering the nice value without CAP_SYS_NICE is EACCES");
		CHECK_EQ(getpriority(PRIO_PGRP, 0), 7, "the group's nice value stays 7");
	}

	CHECK_ERR(getpriority(42, 0), EINVAL, "getpriority with an unknown which is EINVAL");
	CHECK_ERR(setpriority(42, 0, 0), EINVAL, "setpriority with an unknown which is EINVAL");
	CHECK_ERR(getpriority(PRIO_PROCESS, 0x3fffffff), ESRCH, "getpriority of a missing process is ESRCH");
	CHECK_ERR(setpriority(PRIO_PROCESS, 0x3fffffff, 0), ESRCH, "setpriority of a missing process is ESRCH");

	/*
	 * Unprivileged, with RLIMIT_NICE and RLIMIT_RTPRIO 0: raising nice is
	 * allowed, lowering is not, nor are real-time policies.
	 */
	REQUIRE(setrlimit(RLIMIT_NICE, &rl) == 0, "RLIMIT_NICE 0");
	REQUIRE(setrlimit(RLIMIT_RTPRIO, &rl) == 0, "RLIMIT_RTPRIO 0");
	if (!held(CAP_SETUID)) {
		printf("# note: without CAP_SETUID the program cannot drop root; the checks as uid 1000 are left out\n");
		CHECK_ERR(setresuid(1000, 1000, 1000), EPERM, "setresuid to new uids without CAP_SETUID is EPERM");
		return;
	}
	REQUIRE(setresuid(1000, 1000, 1000) == 0, "drop root");
	CHECK_EQ(setpriority(PRIO_PROCESS, 0, 10), 0, "an unprivileged process may raise its nice value");
	CHECK_EQ(getpriority(PRIO_PROCESS, 0), 10, "nice is 10");
	CHECK_ERR(setpriority(PRIO_PROCESS, 0, 9), EACCES, "lowering the nice value without CAP_SYS_NICE is EACCES");
	errno = 0;
	int parent_nice = getpriority(PRIO_PROCESS, getppid());
	CHECK_ERR(setpriority(PRIO_PROCESS, getppid(), parent_nice), EPERM,
		  "setpriority of a process with another effective uid is EPERM");
	struct sched_param p = { 10 };
	CHECK_ERR(sched_setscheduler(0, SCHED_FIFO, &p), EPERM,
		  "SCHED_FIFO without privilege or RLIMIT_RTPRIO is EPERM");
}

int main(void)
{
	REQUIRE(geteuid() == 0, "the program runs as root");
	child_counts = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	REQUIRE(child_counts != MAP_FAILED, "shared anonymous mmap");

	/* The capabilities and limits held decide which path each check expects. */
	REQUIRE(capget_(&cap_eff, &cap_perm, &cap_inh) == 0, "capget of the starting capabilities");
	REQUIRE(getrlimit(RLIMIT_NICE, &start_nice_rl) == 0, "getrlimit RLIMIT_NICE");
	REQUIRE(getrlimit(RLIMIT_RTPRIO, &start_rtprio_rl) == 0, "getrlimit RLIMIT_RTPRIO");
	printf("# note: capabilities at start: effective %#llx, permitted %#llx; CAP_SYS_NICE %s, CAP_SETUID %s\n",
	       (unsigned long long)cap_eff, (unsigned long long)cap_perm, held(CAP_SYS_NICE) ? "held" : "NOT held",
	       held(CAP_SETUID) ? "held" : "NOT held");
	printf("# note: RLIMIT_NICE %lld (max %lld), RLIMIT_RTPRIO %lld (max %lld); -1 is unlimited\n",
	       (long long)start_nice_rl.rlim_cur, (long long)start_nice_rl.rlim_max,
	       (long long)start_rtprio_rl.rlim_cur, (long long)start_rtprio_rl.rlim_max);

	test_yield();
	test_affinity();
	test_priority_ranges();
	in_child(policies, "scheduling policies");
	in_child(rt_policies, "real-time policies");
	in_child(nice_values, "nice values");
	return check_done();
}
