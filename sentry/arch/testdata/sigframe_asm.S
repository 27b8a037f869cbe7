/*
 * Register loading and capture for sigframe.c: rr_int3, rr_syscall and
 * rr_store load every general register, the flags, MXCSR, the x87 control
 * word and xmm0-15 (with the upper halves of ymm0-3 when AVX is present)
 * from rr_in, then raise a signal with int3, a syscall instruction, or a
 * store through %rbx. When the handler returns, the registers as sigreturn
 * left them are stored to rr_out, with rr_out.which = 1 if execution
 * resumed after the raising instruction and 2 if it resumed at
 * rr_resume_alt (the handler changed the saved rip), and the whole XSAVE
 * state to rr_out_xsave.
 *
 * struct rr layout (see sigframe.c):
 *   0   rax rbx rcx rdx rsi rdi rbp rsp r8 r9 r10 r11 r12 r13 r14 r15
 *   128 rflags, 136 which, 144 mxcsr (u32), 148 fcw (u16),
 *   152 use_avx, 160 xmm0-15, 416 upper halves of ymm0-3
 */

	.macro LOAD
	push %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, rr_saved_rsp(%rip)
	lea rr_in(%rip), %rdi
	fldcw 148(%rdi)
	ldmxcsr 144(%rdi)
	cmpq $0, 152(%rdi)
	je 1f
	vmovdqu 160(%rdi), %xmm0
	vinsertf128 $1, 416(%rdi), %ymm0, %ymm0
	vmovdqu 176(%rdi), %xmm1
	vinsertf128 $1, 432(%rdi), %ymm1, %ymm1
	vmovdqu 192(%rdi), %xmm2
	vinsertf128 $1, 448(%rdi), %ymm2, %ymm2
	vmovdqu 208(%rdi), %xmm3
	vinsertf128 $1, 464(%rdi), %ymm3, %ymm3
	vmovdqu 224(%rdi), %xmm4
	vmovdqu 240(%rdi), %xmm5
	vmovdqu 256(%rdi), %xmm6
	vmovdqu 272(%rdi), %xmm7
	vmovdqu 288(%rdi), %xmm8
	vmovdqu 304(%rdi), %xmm9
	vmovdqu 320(%rdi), %xmm10
	vmovdqu 336(%rdi), %xmm11
	vmovdqu 352(%rdi), %xmm12
	vmovdqu 368(%rdi), %xmm13
	vmovdqu 384(%rdi), %xmm14
	vmovdqu 400(%rdi), %xmm15
	jmp 2f
1:
	movdqu 160(%rdi), %xmm0
	movdqu 176(%rdi), %xmm1
	movdqu 192(%rdi), %xmm2
	movdqu 208(%rdi), %xmm3
	movdqu 224(%rdi), %xmm4
	movdqu 240(%rdi), %xmm5
	movdqu 256(%rdi), %xmm6
	movdqu 272(%rdi), %xmm7
	movdqu 288(%rdi), %xmm8
	movdqu 304(%rdi), %xmm9
	movdqu 320(%rdi), %xmm10
	movdqu 336(%rdi), %xmm11
	movdqu 352(%rdi), %xmm12
	movdqu 368(%rdi), %xmm13
	movdqu 384(%rdi), %xmm14
	movdqu 400(%rdi), %xmm15
2:
	pushq 128(%rdi)
	popfq
	mov 0(%rdi), %rax
	mov 8(%rdi), %rbx
	mov 16(%rdi), %rcx
	mov 24(%rdi), %rdx
	mov 32(%rdi), %rsi
	mov 48(%rdi), %rbp
	mov 56(%rdi), %rsp
	mov 64(%rdi), %r8
	mov 72(%rdi), %r9
	mov 80(%rdi), %r10
	mov 88(%rdi), %r11
	mov 96(%rdi), %r12
	mov 104(%rdi), %r13
	mov 112(%rdi), %r14
	mov 120(%rdi), %r15
	mov 40(%rdi), %rdi
	.endm

	.macro CAPTURE which
	mov %rax, rr_out+0(%rip)
	mov %rbx, rr_out+8(%rip)
	mov %rcx, rr_out+16(%rip)
	mov %rdx, rr_out+24(%rip)
	mov %rsi, rr_out+32(%rip)
	mov %rdi, rr_out+40(%rip)
	mov %rbp, rr_out+48(%rip)
	mov %rsp, rr_out+56(%rip)
	mov %r8, rr_out+64(%rip)
	mov %r9, rr_out+72(%rip)
	mov %r10, rr_out+80(%rip)
	mov %r11, rr_out+88(%rip)
	mov %r12, rr_out+96(%rip)
	mov %r13, rr_out+104(%rip)
	mov %r14, rr_out+112(%rip)
	mov %r15, rr_out+120(%rip)
	pushfq
	popq rr_out+128(%rip)
	movq $\which, rr_out+136(%rip)
	stmxcsr rr_out+144(%rip)
	fnstcw rr_out+148(%rip)
	movdqu %xmm0, rr_out+160(%rip)
	movdqu %xmm1, rr_out+176(%rip)
	movdqu %xmm2, rr_out+192(%rip)
	movdqu %xmm3, rr_out+208(%rip)
	mov $-1, %eax
	mov $-1, %edx
	xsave64 rr_out_xsave(%rip)
	cmpq $0, rr_in+152(%rip)
	je 1f
	vextractf128 $1, %ymm0, rr_out+416(%rip)
	vextractf128 $1, %ymm1, rr_out+432(%rip)
	vextractf128 $1, %ymm2, rr_out+448(%rip)
	vextractf128 $1, %ymm3, rr_out+464(%rip)
	vzeroupper
1:
	cld
	mov rr_saved_rsp(%rip), %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	pop %rbp
	ret
	.endm

	.text
	.globl rr_int3, rr_after_int3, rr_syscall, rr_after_syscall
	.globl rr_store, rr_fault_ip, rr_resume_alt, rr_handler

rr_int3:
	LOAD
	int3
rr_after_int3:
	CAPTURE 1

rr_syscall:
	LOAD
	syscall
rr_after_syscall:
	CAPTURE 1

rr_store:
	LOAD
rr_fault_ip:
	movq %rax, (%rbx)
	CAPTURE 1

rr_resume_alt:
	CAPTURE 2

/*
 * rr_handler is the signal handler: it records the registers the kernel
 * set for the handler, then continues in the C handler with the stack
 * untouched.
 */
rr_handler:
	mov %rsp, rr_entry+0(%rip)
	mov %rdi, rr_entry+8(%rip)
	mov %rsi, rr_entry+16(%rip)
	mov %rdx, rr_entry+24(%rip)
	mov %rax, rr_entry+32(%rip)
	pushfq
	popq rr_entry+40(%rip)
	stmxcsr rr_entry+48(%rip)
	fnstcw rr_entry+52(%rip)
	movdqu %xmm0, rr_entry+64(%rip)
	movdqu %xmm1, rr_entry+80(%rip)
	jmp c_handler

	.section .note.GNU-stack,"",@progbits
