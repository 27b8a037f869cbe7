package ptrace

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// The stub occupies one page at stubAddr, above every application address.
// It is an ET_EXEC image so it lands at a fixed address; the master stub is
// exec'd with ADDR_NO_RANDOMIZE, and stubAddr lies below the lowest address
// the host could pick for the initial stack even with randomisation on.
const (
	stubAddr = 0x7ffa00000000
	stubSize = 0x1000
	// hostTaskSize is the end of the host's user address space (47 bits).
	hostTaskSize = 0x7ffffffff000

	// stubMemFD is the memory file's descriptor number in every stub.
	stubMemFD = 3

	codeOffset     = 0x100
	nameOffset     = 0x170
	capHdrOffset   = 0x800 // struct __user_cap_header_struct
	capDataOffset  = 0x810 // struct __user_cap_data_struct[2], all zero
	faultActOffset = 0x840 // struct kernel_sigaction for fault signals
	handlerOffset  = 0x900
	handlerAddr    = stubAddr + handlerOffset

	// faultReportSyscall is the number the fault handler's system call
	// carries: no real system call has it.
	faultReportSyscall = 0x7fffffff

	// Each application stub thread gets an alternate signal stack for the
	// fault handler, in a slot above the stub page.
	altStackBase   = stubAddr + 0x100000
	altSlotSize    = 64 << 10
	maxAltSlots    = 4096
	sigactOffset   = 0x180
	fprogOffset    = 0x1a0
	filterOffset   = 0x1c0
	stubEntry      = stubAddr + codeOffset
	injectAddr     = stubAddr + codeOffset + 1
	cloneEntryAddr = stubAddr + codeOffset + 4
)

// StubName is the name (comm) of every stub process on the host.
const StubName = "palisade-stub"

// stubCode is the stub's machine code. Its source (AT&T syntax):
//
//	_start:      int3                 # never reached: the tracer sets rip
//	inject:      syscall              # tracer-injected system call
//	             int3                 # report the result
//	clone_entry: syscall              # injected clone
//	             test %rax, %rax
//	             jnz 1f               # parent (or error): report
//	2:           mov $34, %eax        # child: pause() until seized
//	             syscall
//	             jmp 2b
//	1:           int3
//
// faultHandler runs when the platform lets the host deliver a fault
// signal to a stub thread: it reports the hardware's error code, vector
// and fault address (ucontext's sigcontext err, trapno and cr2) in rdi,
// rsi and rdx through a system call that PTRACE_SYSEMU stops:
//
//	mov 192(%rdx), %rdi   # err
//	mov 200(%rdx), %rsi   # trapno
//	mov 216(%rdx), %rdx   # cr2
//	mov $0x7fffffff, %eax
//	syscall
//	ud2
var faultHandler = []byte{
	0x48, 0x8b, 0xba, 0xc0, 0x00, 0x00, 0x00,
	0x48, 0x8b, 0xb2, 0xc8, 0x00, 0x00, 0x00,
	0x48, 0x8b, 0x92, 0xd8, 0x00, 0x00, 0x00,
	0xb8, 0xff, 0xff, 0xff, 0x7f,
	0x0f, 0x05,
	0x0f, 0x0b,
}

// faultSignals are the signals the handler is installed for.
var faultSignals = []int{int(unix.SIGSEGV), int(unix.SIGBUS), int(unix.SIGFPE), int(unix.SIGILL), int(unix.SIGTRAP)}

var stubCode = []byte{
	0xcc,
	0x0f, 0x05,
	0xcc,
	0x0f, 0x05,
	0x48, 0x85, 0xc0,
	0x75, 0x09,
	0xb8, 0x22, 0x00, 0x00, 0x00,
	0x0f, 0x05,
	0xeb, 0xf7,
	0xcc,
}

// stubSyscalls are the only host system calls a stub may make: the ones
// the platform injects. Anything else kills the stub.
var stubSyscalls = []uint32{
	unix.SYS_MMAP,
	unix.SYS_MPROTECT,
	unix.SYS_MUNMAP,
	unix.SYS_CLONE,
	unix.SYS_EXIT,
	unix.SYS_PAUSE,
	unix.SYS_SIGALTSTACK,
}

// Classic BPF opcodes and seccomp return values used by the filter.
const (
	bpfLdWAbs  = 0x20 // BPF_LD | BPF_W | BPF_ABS
	bpfJeqK    = 0x15 // BPF_JMP | BPF_JEQ | BPF_K
	bpfRetK    = 0x06 // BPF_RET | BPF_K
	auditArch  = 0xc000003e
	retKillAll = 0x80000000 // SECCOMP_RET_KILL_PROCESS
	retAllow   = 0x7fff0000 // SECCOMP_RET_ALLOW
)

type bpfInsn struct {
	code   uint16
	jt, jf uint8
	k      uint32
}

// stubFilter returns the stub's seccomp program.
func stubFilter() []bpfInsn {
	n := len(stubSyscalls)
	kill := 3 + n
	allow := kill + 1
	p := []bpfInsn{
		{bpfLdWAbs, 0, 0, 4}, // seccomp_data.arch
		{bpfJeqK, 0, uint8(kill - 2), auditArch},
		{bpfLdWAbs, 0, 0, 0}, // seccomp_data.nr
	}
	for i, nr := range stubSyscalls {
		p = append(p, bpfInsn{bpfJeqK, uint8(allow - (3 + i) - 1), 0, nr})
	}
	p = append(p, bpfInsn{bpfRetK, 0, 0, retKillAll}, bpfInsn{bpfRetK, 0, 0, retAllow})
	return p
}

// stubImage returns the stub ELF: one PT_LOAD segment of one page mapping
// the whole file read+execute at stubAddr. The page also holds the data the
// setup system calls read (a sigaction and the seccomp program).
func stubImage() []byte {
	img := make([]byte, stubSize)
	le := binary.LittleEndian

	// ELF header.
	copy(img[0:], []byte{0x7f, 'E', 'L', 'F', 2 /* 64-bit */, 1 /* LE */, 1 /* version */})
	le.PutUint16(img[16:], 2)  // ET_EXEC
	le.PutUint16(img[18:], 62) // EM_X86_64
	le.PutUint32(img[20:], 1)  // EV_CURRENT
	le.PutUint64(img[24:], stubEntry)
	le.PutUint64(img[32:], 64) // e_phoff
	le.PutUint64(img[40:], 0)  // e_shoff
	le.PutUint32(img[48:], 0)  // e_flags
	le.PutUint16(img[52:], 64) // e_ehsize
	le.PutUint16(img[54:], 56) // e_phentsize
	le.PutUint16(img[56:], 1)  // e_phnum
	le.PutUint16(img[58:], 64) // e_shentsize
	le.PutUint16(img[60:], 0)  // e_shnum
	le.PutUint16(img[62:], 0)  // e_shstrndx

	// Program header: PT_LOAD, R+X.
	ph := img[64:]
	le.PutUint32(ph[0:], 1)         // PT_LOAD
	le.PutUint32(ph[4:], 5)         // PF_R | PF_X
	le.PutUint64(ph[8:], 0)         // p_offset
	le.PutUint64(ph[16:], stubAddr) // p_vaddr
	le.PutUint64(ph[24:], stubAddr) // p_paddr
	le.PutUint64(ph[32:], stubSize) // p_filesz
	le.PutUint64(ph[40:], stubSize) // p_memsz
	le.PutUint64(ph[48:], 0x1000)   // p_align

	copy(img[codeOffset:], stubCode)
	copy(img[nameOffset:], StubName+"\x00")

	copy(img[handlerOffset:], faultHandler)
	// The fault handler's disposition: SA_SIGINFO|SA_ONSTACK|SA_NODEFER|
	// SA_RESTORER (never returned through), empty mask.
	le.PutUint64(img[faultActOffset:], handlerAddr)
	le.PutUint64(img[faultActOffset+8:], 0x4|0x08000000|0x40000000|0x04000000)
	le.PutUint64(img[faultActOffset+16:], handlerAddr+uint64(len(faultHandler))-2)

	// capset(2) header for _LINUX_CAPABILITY_VERSION_3 and pid 0 (self);
	// the data that follows it is all zero: no capabilities.
	le.PutUint32(img[capHdrOffset:], 0x20080522)

	// struct kernel_sigaction for SIGCHLD: handler SIG_IGN, no flags,
	// no restorer, empty mask.
	le.PutUint64(img[sigactOffset:], 1)

	// struct sock_fprog { unsigned short len; struct sock_filter *filter; }
	filter := stubFilter()
	le.PutUint16(img[fprogOffset:], uint16(len(filter)))
	le.PutUint64(img[fprogOffset+8:], stubAddr+filterOffset)
	for i, in := range filter {
		o := filterOffset + 8*i
		le.PutUint16(img[o:], in.code)
		img[o+2] = in.jt
		img[o+3] = in.jf
		le.PutUint32(img[o+4:], in.k)
	}
	return img
}
