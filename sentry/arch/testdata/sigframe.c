/*
 * sigframe: records, for one scenario, the x86-64 rt signal frame the host
 * kernel builds and what its rt_sigreturn restores, so that the Go tests
 * can build the same frame with arch.Context.SignalSetup and compare.
 *
 * Usage: sigframe SCENARIO
 *
 * The program maps two 64 KiB regions (an alternate signal stack and a
 * stack the interrupted code runs on), fills them with a pattern that
 * depends on the address, loads known values into every register (see
 * sigframe_asm.S) and raises a signal. The handler dumps the memory from
 * its stack pointer at entry to the end of the region holding the frame,
 * optionally edits the ucontext, and returns. Output lines are
 * "key value..." with numbers in hex; see the Go test for the keys.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

struct rr {
	uint64_t gpr[16]; /* rax rbx rcx rdx rsi rdi rbp rsp r8..r15 */
	uint64_t rflags;
	uint64_t which;
	uint32_t mxcsr;
	uint16_t fcw;
	uint16_t pad;
	uint64_t use_avx;
	uint8_t xmm[16][16];
	uint8_t ymmhi[4][16];
};

struct rr rr_in, rr_out;
uint64_t rr_saved_rsp;
/* XSAVE of every enabled component after rt_sigreturn. */
uint8_t rr_out_xsave[16384] __attribute__((aligned(64)));
/* rsp rdi rsi rdx rax rflags mxcsr(u32) fcw(u16) pad xmm0 xmm1 */
uint64_t rr_entry[12] __attribute__((aligned(16)));

extern char rr_int3[], rr_after_int3[], rr_syscall[], rr_after_syscall[];
extern char rr_store[], rr_fault_ip[], rr_resume_alt[], rr_handler[];

#define REGION 0x10000

static uint8_t *alt_region, *stk_region;
static const char *scenario;
static int handled;

/* The pattern the Go test recreates: a byte that depends on the address. */
static uint8_t pat(uint64_t a) { return (uint8_t)((a * 0x9E3779B1ull) >> 24); }

static void fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = pat((uint64_t)(uintptr_t)(p + i));
}

static int is(const char *s) { return strcmp(scenario, s) == 0; }

static void dump(const char *key, const uint8_t *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char *buf = malloc(2 * n + 64);
	int k = sprintf(buf, "%s %lx ", key, (unsigned long)(uintptr_t)p);
	for (size_t i = 0; i < n; i++) {
		buf[k++] = hex[p[i] >> 4];
		buf[k++] = hex[p[i] & 15];
	}
	buf[k++] = '\n';
	fflush(stdout);
	if (write(1, buf, k) != k)
		abort();
	free(buf);
}

static uint8_t *region_end(uint64_t a)
{
	if (a >= (uint64_t)(uintptr_t)alt_region && a < (uint64_t)(uintptr_t)alt_region + REGION)
		return alt_region + REGION;
	if (a >= (uint64_t)(uintptr_t)stk_region && a < (uint64_t)(uintptr_t)stk_region + REGION)
		return stk_region + REGION;
	printf("error frame %lx outside the regions\n", (unsigned long)a);
	exit(3);
}

/* Values the handler writes into the frame; the Go test writes the same. */
static const uint8_t new_xmm0[16] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
static const uint8_t new_ymm0hi[16] = {0xca, 0xfe, 0xf0, 0x0d, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144};

void c_handler(int sig, siginfo_t *info, void *ucv)
{
	ucontext_t *uc = ucv;
	uint64_t rsp = rr_entry[0];
	handled++;
	(void)sig;
	(void)info;
	dump("frame", (uint8_t *)(uintptr_t)rsp, region_end(rsp) - (uint8_t *)(uintptr_t)rsp);
	printf("entry rsp %lx rdi %lx rsi %lx rdx %lx rax %lx rflags %lx mxcsr %x fcw %x\n",
	       rr_entry[0], rr_entry[1], rr_entry[2], rr_entry[3], rr_entry[4], rr_entry[5],
	       (unsigned)(rr_entry[6] & 0xffffffff), (unsigned)(rr_entry[6] >> 32) & 0xffff);
	dump("entryxmm", (uint8_t *)&rr_entry[8], 32);

	/* The edits (mirrored by the Go test's edit function). */
	greg_t *g = uc->uc_mcontext.gregs;
	uint8_t *fp = (uint8_t *)uc->uc_mcontext.fpregs;
	g[REG_RIP] = (greg_t)(uintptr_t)rr_resume_alt;
	g[REG_R12] ^= 0x5a5a;
	g[REG_RAX] = 0x7777;
	/* CF and OF flip; IOPL and ID are not restorable and must not stick. */
	g[REG_EFL] ^= 0x801 | 0x3000 | 0x200000;
	((uint64_t *)&uc->uc_sigmask)[0] = (1ull << (15 - 1)) | (1ull << (9 - 1)) | (1ull << (40 - 1));
	memcpy(fp + 160, new_xmm0, 16);
	memcpy(fp + 576, new_ymm0hi, 16);
	if (is("badmagic"))
		*(uint32_t *)(fp + 464) = 0;
	if (is("nullfp"))
		uc->uc_mcontext.fpregs = NULL;
	if (is("fp64"))
		uc->uc_mcontext.fpregs = (void *)(fp + 64);
	if (is("fp16"))
		uc->uc_mcontext.fpregs = (void *)(fp + 16);
	if (is("fp8"))
		uc->uc_mcontext.fpregs = (void *)(fp + 8);
	if (is("badbv"))
		*(uint64_t *)(fp + 512) |= 1ull << 63;
	if (is("badmxcsr"))
		*(uint32_t *)(fp + 24) |= 1u << 20;
	if (is("x87junk") || is("x87junkes")) {
		/* Junk in every x87 field, to see what the CPU keeps of it. */
		*(uint16_t *)(fp + 0) = is("x87junkes") ? 0xf03e : 0xf03f; /* FCW */
		*(uint16_t *)(fp + 2) = is("x87junkes") ? 0x8081 : 0x3801; /* FSW */
		fp[4] = 0xa5;                                            /* FTW */
		fp[5] = 0xff;                                            /* reserved */
		*(uint16_t *)(fp + 6) = 0xffff;                          /* FOP */
		*(uint64_t *)(fp + 8) = 0x00007f1122334455ull;           /* FIP */
		*(uint64_t *)(fp + 16) = 0xffff805566778899ull;          /* FDP */
		for (int i = 0; i < 8; i++) {
			memset(fp + 32 + 16 * i, 0x11 * (i + 1), 10);
			memset(fp + 42 + 16 * i, 0xee, 6);
		}
	}
	if (is("sseinit")) {
		*(uint64_t *)(fp + 512) &= ~7ull;
		*(uint32_t *)(fp + 24) = 0x7f80;
	}
	fflush(stdout);
}

struct ksigaction {
	uint64_t handler, flags, restorer, mask;
};

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: sigframe SCENARIO\n");
		return 2;
	}
	scenario = argv[1];
	setvbuf(stdout, NULL, _IOFBF, 1 << 20);

	unsigned a = 0, b = 0, c = 0, d = 0;
	__get_cpuid_count(0xd, 0, &a, &b, &c, &d);
	uint32_t lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	printf("xsave size %x xcr0 %lx\n", b, (unsigned long)lo | (unsigned long)hi << 32);

	alt_region = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	stk_region = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (alt_region == MAP_FAILED || stk_region == MAP_FAILED)
		return 3;
	fill(alt_region, REGION);
	fill(stk_region, REGION);
	printf("region %lx %x\nregion %lx %x\n", (unsigned long)(uintptr_t)alt_region, REGION,
	       (unsigned long)(uintptr_t)stk_region, REGION);

	/* The alternate stack, deliberately misaligned at both ends. */
	stack_t ss = {.ss_sp = alt_region + 0x1000 + 13, .ss_size = 0x8000 + 5, .ss_flags = 0};
	if (is("autodisarm"))
		ss.ss_flags = SS_AUTODISARM;
	if (is("disabled")) {
		ss.ss_flags = SS_DISABLE;
	}
	if (is("overflow"))
		ss.ss_size = 2048; /* the kernel's MINSIGSTKSZ */
	if (sigaltstack(&ss, NULL) != 0) {
		perror("sigaltstack");
		return 3;
	}
	stack_t cur;
	sigaltstack(NULL, &cur);
	printf("altstack %lx %x %lx\n", (unsigned long)(uintptr_t)cur.ss_sp, (unsigned)cur.ss_flags,
	       (unsigned long)cur.ss_size);

	int sig = SIGUSR1;
	void (*raise_fn)(void) = (void (*)(void))rr_syscall;
	if (is("int3") || is("autodisarm") || is("nested")) {
		sig = SIGTRAP;
		raise_fn = (void (*)(void))rr_int3;
	}
	if (is("segv") || is("segvkernel")) {
		sig = SIGSEGV;
		raise_fn = (void (*)(void))rr_store;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = (void (*)(int, siginfo_t *, void *))rr_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	if (is("main"))
		sa.sa_flags = SA_SIGINFO;
	if (is("nosiginfo"))
		sa.sa_flags = SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	if (sigaction(sig, &sa, NULL) != 0) {
		perror("sigaction");
		return 3;
	}
	struct ksigaction ksa;
	syscall(SYS_rt_sigaction, sig, NULL, &ksa, 8);
	if (is("norestorer")) {
		ksa.flags &= ~0x04000000ull; /* SA_RESTORER */
		ksa.restorer = 0;
		syscall(SYS_rt_sigaction, sig, &ksa, NULL, 8);
		syscall(SYS_rt_sigaction, sig, NULL, &ksa, 8);
	}
	printf("sigaction %x %lx %lx %lx %lx\n", sig, ksa.handler, ksa.flags, ksa.restorer, ksa.mask);

	/* A known blocked mask at the time of the signal. */
	uint64_t mask = (1ull << (SIGWINCH - 1)) | (1ull << (SIGUSR2 - 1)) | (1ull << (45 - 1));
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask, NULL, 8);
	printf("blocked %lx\n", (unsigned long)mask);

	rr_in.use_avx = __builtin_cpu_supports("avx");
	for (int i = 0; i < 16; i++)
		rr_in.gpr[i] = 0x1010101010101010ull * (i + 1) + 0x0123;
	rr_in.gpr[7] = (uint64_t)(uintptr_t)stk_region + 0xc000 - 3; /* rsp */
	if (is("nested") || is("autodisarm"))
		rr_in.gpr[7] = (uint64_t)(uintptr_t)ss.ss_sp + 0x6003;
	rr_in.rflags = 0x202 | 0x1 | 0x4 | 0x40 | 0x80 | 0x400; /* IF CF PF ZF SF DF */
	rr_in.mxcsr = 0x1f80 | 0x8000 | 0x6000;
	rr_in.fcw = 0x27f;
	for (int i = 0; i < 16; i++)
		for (int j = 0; j < 16; j++)
			rr_in.xmm[i][j] = (uint8_t)(0x40 + i * 16 + j);
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 16; j++)
			rr_in.ymmhi[i][j] = (uint8_t)(0xc0 ^ (i * 16 + j));
	if (sig == SIGUSR1) {
		rr_in.gpr[0] = SYS_kill;
		rr_in.gpr[5] = getpid();
		rr_in.gpr[4] = SIGUSR1;
	}
	if (is("segv"))
		rr_in.gpr[1] = 0x1ff8;
	if (is("segvkernel"))
		rr_in.gpr[1] = 0xffff800000001000ull;

	printf("ids %x %x\n", getpid(), getuid());
	printf("labels %lx %lx %lx %lx %lx\n", (unsigned long)(uintptr_t)rr_after_int3,
	       (unsigned long)(uintptr_t)rr_after_syscall, (unsigned long)(uintptr_t)rr_fault_ip,
	       (unsigned long)(uintptr_t)rr_resume_alt, (unsigned long)(uintptr_t)rr_handler);
	dump("in", (uint8_t *)&rr_in, sizeof(rr_in));
	fflush(stdout);

	raise_fn();

	dump("out", (uint8_t *)&rr_out, sizeof(rr_out));
	dump("outxsave", rr_out_xsave, b);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, NULL, &mask, 8);
	sigaltstack(NULL, &cur);
	printf("after mask %lx altstack %lx %x %lx handled %d\n", (unsigned long)mask,
	       (unsigned long)(uintptr_t)cur.ss_sp, (unsigned)cur.ss_flags, (unsigned long)cur.ss_size,
	       handled);
	return 0;
}
