/*
 * fault.c checks the signals the kernel sends for hardware faults against the
 * Linux man pages (sigaction(2), signal(7)) and the x86-64 signal frame:
 * SIGSEGV with SEGV_MAPERR and SEGV_ACCERR and the exact si_addr for reads,
 * writes and instruction fetches, SIGSEGV for a non-canonical address,
 * SIGBUS BUS_ADRERR beyond the end of a mapped file, SIGFPE FPE_INTDIV,
 * SIGILL ILL_ILLOPN for ud2, SIGTRAP from int3, the trap number, error code
 * and cr2 in the signal context, handlers on an alternate stack (also for a
 * stack overflow), and that a fault with its signal blocked or ignored kills.
 */
#include "check.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/ucontext.h>
#include <sys/wait.h>
#include <ucontext.h>

#define GPL3 "/usr/share/common-licenses/GPL-3"

/* x86 page fault error code bits (the kernel's X86_PF_*). */
#define PF_PROT 0x1
#define PF_WRITE 0x2
#define PF_USER 0x4
#define PF_INSTR 0x10

#define TRAP_DE 0
#define TRAP_BP 3
#define TRAP_UD 6
#define TRAP_GP 13
#define TRAP_PF 14

static long page;
static char *alt_base;
static size_t alt_size = 64 * 1024;
static sigjmp_buf jb;

/* fault is what the handler saw. */
static volatile struct {
	int count;
	int signo, code;
	uintptr_t addr, rip, trapno, err, cr2;
	int on_alt;
} f;
static volatile int jump_back;

static void on_fault(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	volatile char local;

	f.count++;
	f.signo = sig;
	f.code = si->si_code;
	f.addr = (uintptr_t)si->si_addr;
	f.rip = uc->uc_mcontext.gregs[REG_RIP];
	f.trapno = uc->uc_mcontext.gregs[REG_TRAPNO];
	f.err = uc->uc_mcontext.gregs[REG_ERR];
	f.cr2 = uc->uc_mcontext.gregs[REG_CR2];
	f.on_alt = (uintptr_t)&local >= (uintptr_t)alt_base && (uintptr_t)&local < (uintptr_t)alt_base + alt_size;
	if (jump_back)
		siglongjmp(jb, 1);
}

static void install(int sig)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	REQUIRE(sigaction(sig, &sa, NULL) == 0, "install a fault handler");
}

static void reset(void)
{
	memset((void *)&f, 0, sizeof(f));
	jump_back = 1;
}

/* unmapped returns a page-aligned address with nothing mapped there. */
static char *unmapped(void)
{
	char *p = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	REQUIRE(p != MAP_FAILED && munmap(p, page) == 0, "make a hole in the address space");
	return p;
}

static void test_segv(void)
{
	char *hole = unmapped();

	reset();
	if (sigsetjmp(jb, 1) == 0)
		(void)*(volatile char *)(hole + 123);
	CHECK_EQ(f.count, 1, "a read of an unmapped address raises one signal");
	CHECK_EQ(f.signo, SIGSEGV, "a read of an unmapped address raises SIGSEGV");
	CHECK_EQ(f.code, SEGV_MAPERR, "unmapped read: si_code is SEGV_MAPERR");
	CHECK_EQ(f.addr, (uintptr_t)(hole + 123), "unmapped read: si_addr is the faulting address");
	CHECK(f.on_alt, "the SA_ONSTACK fault handler runs on the alternate stack");
	CHECK_EQ(f.trapno, TRAP_PF, "unmapped read: the context's trapno is 14 (page fault)");
	CHECK_EQ(f.cr2, (uintptr_t)(hole + 123), "unmapped read: the context's cr2 is the faulting address");
	CHECK((f.err & PF_USER) && !(f.err & PF_WRITE) && !(f.err & PF_PROT),
	      "unmapped read: the error code says user-mode read of a not-present page");

	reset();
	if (sigsetjmp(jb, 1) == 0)
		*(volatile char *)(hole + 7) = 1;
	CHECK(f.signo == SIGSEGV && f.code == SEGV_MAPERR && f.addr == (uintptr_t)(hole + 7),
	      "a write to an unmapped address: SIGSEGV, SEGV_MAPERR, exact si_addr");
	CHECK((f.err & PF_USER) && (f.err & PF_WRITE), "unmapped write: the error code has the write bit");

	reset();
	if (sigsetjmp(jb, 1) == 0)
		(void)*(volatile int *)0;
	CHECK(f.signo == SIGSEGV && f.code == SEGV_MAPERR && f.addr == 0,
	      "a NULL read: SIGSEGV, SEGV_MAPERR, si_addr 0");

	char *ro = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(ro != MAP_FAILED, "mmap PROT_READ");
	reset();
	if (sigsetjmp(jb, 1) == 0)
		*(volatile char *)(ro + 5) = 1;
	CHECK_EQ(f.signo, SIGSEGV, "a write to a PROT_READ page raises SIGSEGV");
	CHECK_EQ(f.code, SEGV_ACCERR, "PROT_READ write: si_code is SEGV_ACCERR");
	CHECK_EQ(f.addr, (uintptr_t)(ro + 5), "PROT_READ write: si_addr is the faulting address");
	CHECK((f.err & PF_USER) && (f.err & PF_WRITE), "PROT_READ write: the error code has the write bit");
	CHECK_EQ(*(volatile char *)(ro + 5), 0, "the failed write changed nothing");

	char *none = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(none != MAP_FAILED, "mmap PROT_NONE");
	reset();
	if (sigsetjmp(jb, 1) == 0)
		(void)*(volatile char *)(none + 99);
	CHECK(f.signo == SIGSEGV && f.code == SEGV_ACCERR && f.addr == (uintptr_t)(none + 99),
	      "a read of a PROT_NONE page: SIGSEGV, SEGV_ACCERR, exact si_addr");

	/* Instruction fetches: from a mapped but non-executable page, and from nothing. */
	char *rw = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(rw != MAP_FAILED, "mmap PROT_READ|PROT_WRITE");
	rw[0] = (char)0xc3; /* ret */
	reset();
	if (sigsetjmp(jb, 1) == 0)
		((void (*)(void))rw)();
	CHECK(f.signo == SIGSEGV && f.code == SEGV_ACCERR, "a jump to a non-executable page: SIGSEGV, SEGV_ACCERR");
	CHECK(f.addr == (uintptr_t)rw && f.rip == (uintptr_t)rw,
	      "non-executable jump: si_addr and REG_RIP are the target");
	CHECK(f.err & PF_INSTR, "non-executable jump: the error code says instruction fetch");
	hole = unmapped(); /* the earlier hole may have been reused by the mmaps since */
	reset();
	if (sigsetjmp(jb, 1) == 0)
		((void (*)(void))(hole + 16))();
	CHECK(f.signo == SIGSEGV && f.code == SEGV_MAPERR && f.addr == (uintptr_t)(hole + 16) &&
		      f.rip == (uintptr_t)(hole + 16),
	      "a jump to an unmapped address: SEGV_MAPERR with si_addr and REG_RIP the target");

	/* A non-canonical address is a general protection fault, not a page fault. */
	reset();
	if (sigsetjmp(jb, 1) == 0)
		(void)*(volatile char *)0x8000000000000000ULL;
	CHECK_EQ(f.signo, SIGSEGV, "a read of a non-canonical address raises SIGSEGV");
	CHECK_EQ(f.code, SI_KERNEL, "non-canonical read: si_code is SI_KERNEL");
	CHECK_EQ(f.addr, 0, "non-canonical read: si_addr is 0");
	CHECK_EQ(f.trapno, TRAP_GP, "non-canonical read: trapno is 13 (general protection)");

	sigset_t cur;
	sigprocmask(SIG_SETMASK, NULL, &cur);
	CHECK(!sigismember(&cur, SIGSEGV), "the signal mask is restored by siglongjmp out of the handler");
	munmap(ro, page);
	munmap(none, page);
	munmap(rw, page);
}

static void test_sigbus(void)
{
	int fd = open(GPL3, O_RDONLY);

	REQUIRE(fd >= 0, "open " GPL3);
	off_t size = lseek(fd, 0, SEEK_END);
	REQUIRE(size > 0 && size % page != 0, "GPL-3 does not end on a page boundary");
	size_t pages = size / page + 3;
	char *p = mmap(NULL, pages * page, PROT_READ, MAP_PRIVATE, fd, 0);
	REQUIRE(p != MAP_FAILED, "map GPL-3 with a length beyond its end");
	close(fd);

	reset();
	char tail = 1;
	if (sigsetjmp(jb, 1) == 0)
		tail = *(volatile char *)(p + size);
	CHECK(f.count == 0 && tail == 0, "the rest of the page holding end of file reads as zeros");

	char *beyond = p + (size / page + 1) * page + 100;
	reset();
	if (sigsetjmp(jb, 1) == 0)
		(void)*(volatile char *)beyond;
	CHECK_EQ(f.signo, SIGBUS, "a read of a page wholly beyond end of file raises SIGBUS");
	CHECK_EQ(f.code, BUS_ADRERR, "beyond end of file: si_code is BUS_ADRERR");
	CHECK_EQ(f.addr, (uintptr_t)beyond, "beyond end of file: si_addr is the faulting address");
	munmap(p, pages * page);
}

extern char fault_div_insn[], fault_div2_insn[], fault_ud2_insn[], fault_int3_insn[], fault_int3_after[];

__attribute__((noinline)) static int divide(int a, int b)
{
	int q;

	asm volatile("cltd\n"
		     ".globl fault_div_insn\n"
		     "fault_div_insn:\n\t"
		     "idivl %2\n\t"
		     : "=a"(q)
		     : "a"(a), "r"(b)
		     : "rdx");
	return q;
}

__attribute__((noinline)) static int divide2(int a, int b)
{
	int q;

	asm volatile("cltd\n"
		     ".globl fault_div2_insn\n"
		     "fault_div2_insn:\n\t"
		     "idivl %2\n\t"
		     : "=a"(q)
		     : "a"(a), "r"(b)
		     : "rdx");
	return q;
}

__attribute__((noinline)) static void undefined_insn(void)
{
	asm volatile(".globl fault_ud2_insn\n"
		     "fault_ud2_insn:\n\t"
		     "ud2\n\t");
}

__attribute__((noinline)) static void breakpoint(void)
{
	asm volatile(".globl fault_int3_insn\n"
		     "fault_int3_insn:\n\t"
		     "int3\n"
		     ".globl fault_int3_after\n"
		     "fault_int3_after:\n\t");
}

static void test_traps(void)
{
	reset();
	if (sigsetjmp(jb, 1) == 0)
		divide(7, 0);
	CHECK_EQ(f.signo, SIGFPE, "integer division by zero raises SIGFPE");
	CHECK_EQ(f.code, FPE_INTDIV, "division by zero: si_code is FPE_INTDIV");
	CHECK_EQ(f.addr, (uintptr_t)fault_div_insn, "division by zero: si_addr is the faulting instruction");
	CHECK_EQ(f.rip, (uintptr_t)fault_div_insn, "division by zero: REG_RIP is the faulting instruction");
	CHECK_EQ(f.trapno, TRAP_DE, "division by zero: trapno is 0 (divide error)");

	reset();
	if (sigsetjmp(jb, 1) == 0)
		divide2(INT32_MIN, -1);
	CHECK(f.signo == SIGFPE && f.code == FPE_INTDIV && f.addr == (uintptr_t)fault_div2_insn,
	      "INT_MIN / -1 overflows: SIGFPE, FPE_INTDIV, si_addr the instruction");

	reset();
	if (sigsetjmp(jb, 1) == 0)
		undefined_insn();
	CHECK_EQ(f.signo, SIGILL, "ud2 raises SIGILL");
	CHECK_EQ(f.code, ILL_ILLOPN, "ud2: si_code is ILL_ILLOPN");
	CHECK_EQ(f.addr, (uintptr_t)fault_ud2_insn, "ud2: si_addr is the instruction");
	CHECK_EQ(f.rip, (uintptr_t)fault_ud2_insn, "ud2: REG_RIP is the instruction");
	CHECK_EQ(f.trapno, TRAP_UD, "ud2: trapno is 6 (invalid opcode)");

	reset();
	jump_back = 0; /* the handler returns; execution goes on after the int3 */
	breakpoint();
	CHECK_EQ(f.count, 1, "int3 raises one signal and execution continues after the handler returns");
	CHECK_EQ(f.signo, SIGTRAP, "int3 raises SIGTRAP");
	CHECK_EQ(f.code, SI_KERNEL, "int3: si_code is SI_KERNEL");
	CHECK_EQ(f.rip, (uintptr_t)fault_int3_after, "int3: REG_RIP is the instruction after the int3");
	CHECK_EQ((uintptr_t)fault_int3_after - (uintptr_t)fault_int3_insn, 1, "int3 is one byte");
	CHECK_EQ(f.trapno, TRAP_BP, "int3: trapno is 3 (breakpoint)");
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

static void nocore(void)
{
	struct rlimit rl = { 0, 0 };

	setrlimit(RLIMIT_CORE, &rl);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static void overflow_handler(int sig, siginfo_t *si, void *uc)
{
	volatile char local;
	int on_alt = (uintptr_t)&local >= (uintptr_t)alt_base && (uintptr_t)&local < (uintptr_t)alt_base + alt_size;

	(void)si;
	(void)uc;
	_exit(sig == SIGSEGV && on_alt ? 42 : 43);
}

static volatile long recurse_limit = 1L << 40; /* never reached: the stack runs out first */

__attribute__((noinline)) static long recurse(long depth)
{
	volatile char buf[4096];

	buf[0] = (char)depth;
	if (depth >= recurse_limit)
		return buf[0];
	return recurse(depth + 1) + buf[1];
}

static void test_kills(void)
{
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		sigset_t s;
		nocore();
		sigemptyset(&s);
		sigaddset(&s, SIGSEGV);
		sigprocmask(SIG_BLOCK, &s, NULL);
		(void)*(volatile int *)0;
		_exit(0);
	}
	int status = reap(pid);
	CHECK(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
	      "a fault while SIGSEGV is blocked kills the process with SIGSEGV");

	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		nocore();
		signal(SIGSEGV, SIG_IGN);
		(void)*(volatile int *)0;
		_exit(0);
	}
	status = reap(pid);
	CHECK(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
	      "a fault while SIGSEGV is ignored kills the process with SIGSEGV");

	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		struct sigaction sa;
		struct rlimit rl = { 1 << 20, 1 << 20 };
		nocore();
		setrlimit(RLIMIT_STACK, &rl);
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = overflow_handler;
		sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
		sigaction(SIGSEGV, &sa, NULL);
		recurse(0);
		_exit(44);
	}
	status = reap(pid);
	CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 42,
	      "a stack overflow raises SIGSEGV, handled on the alternate stack");
}

int main(void)
{
	page = sysconf(_SC_PAGESIZE);
	REQUIRE(page == 4096, "page size is 4096");

	alt_base = mmap(NULL, alt_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(alt_base != MAP_FAILED, "mmap an alternate stack");
	stack_t ss = { .ss_sp = alt_base, .ss_size = alt_size, .ss_flags = 0 };
	REQUIRE(sigaltstack(&ss, NULL) == 0, "sigaltstack");
	install(SIGSEGV);
	install(SIGBUS);
	install(SIGFPE);
	install(SIGILL);
	install(SIGTRAP);

	test_segv();
	test_sigbus();
	test_traps();
	test_kills();
	return check_done();
}
