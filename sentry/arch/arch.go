// Package arch holds the amd64 architectural state of an application
// thread: general registers, FPU/vector state, the system call ABI, and (in
// later issues) signal frames.
//
// It has no locks: a Context belongs to one task and is only touched by that
// task's goroutine.
package arch

import (
	"golang.org/x/sys/unix"
)

// Registers is the x86-64 general register file in the layout of the
// kernel's user_regs_struct, as PTRACE_GETREGS returns it.
type Registers = unix.PtraceRegs

// SyscallArgument is one system call argument.
type SyscallArgument struct {
	Value uintptr
}

// Int returns the argument as a C int.
func (a SyscallArgument) Int() int32 { return int32(a.Value) }

// Uint returns the argument as a C unsigned int.
func (a SyscallArgument) Uint() uint32 { return uint32(a.Value) }

// Int64 returns the argument as a 64-bit signed value.
func (a SyscallArgument) Int64() int64 { return int64(a.Value) }

// Uint64 returns the argument as a 64-bit unsigned value.
func (a SyscallArgument) Uint64() uint64 { return uint64(a.Value) }

// Pointer returns the argument as an application address.
func (a SyscallArgument) Pointer() uintptr { return a.Value }

// SizeT returns the argument as a size_t.
func (a SyscallArgument) SizeT() uint { return uint(a.Value) }

// SyscallArguments are the six arguments of a system call.
type SyscallArguments [6]SyscallArgument

// Context is the architectural state of one application thread.
type Context struct {
	Regs Registers
	FP   FPState
}

// SyscallNo returns the number of the system call the thread just made.
func (c *Context) SyscallNo() uintptr { return uintptr(c.Regs.Orig_rax) }

// SyscallArgs returns the arguments of the system call the thread just made,
// in the x86-64 order rdi, rsi, rdx, r10, r8, r9.
func (c *Context) SyscallArgs() SyscallArguments {
	return SyscallArguments{
		{uintptr(c.Regs.Rdi)}, {uintptr(c.Regs.Rsi)}, {uintptr(c.Regs.Rdx)},
		{uintptr(c.Regs.R10)}, {uintptr(c.Regs.R8)}, {uintptr(c.Regs.R9)},
	}
}

// SetReturn sets the value the current system call returns.
func (c *Context) SetReturn(v uintptr) { c.Regs.Rax = uint64(v) }

// IP returns the instruction pointer.
func (c *Context) IP() uintptr { return uintptr(c.Regs.Rip) }

// SetIP sets the instruction pointer.
func (c *Context) SetIP(v uintptr) { c.Regs.Rip = uint64(v) }

// Stack returns the stack pointer.
func (c *Context) Stack() uintptr { return uintptr(c.Regs.Rsp) }

// SetStack sets the stack pointer.
func (c *Context) SetStack(v uintptr) { c.Regs.Rsp = uint64(v) }

// TLS returns the FS base.
func (c *Context) TLS() uintptr { return uintptr(c.Regs.Fs_base) }

// SetTLS sets the FS base, as arch_prctl(ARCH_SET_FS) does. It reports
// whether the address is acceptable (canonical and in the user half).
func (c *Context) SetTLS(v uintptr) bool {
	if v >= 0x0000800000000000 {
		return false
	}
	c.Regs.Fs_base = uint64(v)
	return true
}

// Selector values of the x86-64 Linux user code and data segments.
const (
	userCS = 0x33
	userDS = 0x2b
	// rflags bit 1 is reserved and always set; IF (bit 9) is set in user mode.
	initialRflags = 0x202
)

// ResetForExec sets up a fresh register file for a new program image
// starting at entry with the given stack pointer, as execve(2) does: all
// general registers zero, flags initial, FS/GS base zero, and FPU state
// reset to the processor's initial state.
func (c *Context) ResetForExec(entry, stack uintptr) {
	c.Regs = Registers{
		Rip:    uint64(entry),
		Rsp:    uint64(stack),
		Cs:     userCS,
		Ss:     userDS,
		Ds:     0,
		Es:     0,
		Eflags: initialRflags,
	}
	// Orig_rax of -1 tells the host kernel there is no system call in
	// progress, so it never applies restart fix-ups to this state.
	c.Regs.Orig_rax = ^uint64(0)
	c.FP.Reset()
}
