// Package platform defines how the sentry runs application code: an
// AddressSpace maps ranges of the memory file at fixed addresses, and a
// Context runs one application thread until it makes a system call, faults
// or is interrupted.
//
// A platform knows nothing about tasks or files: it moves registers and
// maps memory. Implementations live in subpackages (ptrace first).
package platform

import (
	"errors"
	"fmt"

	"palisade.dev/sentry/arch"
)

// AccessType is a set of memory access permissions.
type AccessType struct {
	Read, Write, Execute bool
}

// Common access types.
var (
	NoAccess  = AccessType{}
	Read      = AccessType{Read: true}
	ReadWrite = AccessType{Read: true, Write: true}
	AnyAccess = AccessType{Read: true, Write: true, Execute: true}
)

// Any reports whether any access is permitted.
func (a AccessType) Any() bool { return a.Read || a.Write || a.Execute }

// SupersetOf reports whether a permits every access b does.
func (a AccessType) SupersetOf(b AccessType) bool {
	return (a.Read || !b.Read) && (a.Write || !b.Write) && (a.Execute || !b.Execute)
}

// Intersect returns the accesses permitted by both a and b.
func (a AccessType) Intersect(b AccessType) AccessType {
	return AccessType{a.Read && b.Read, a.Write && b.Write, a.Execute && b.Execute}
}

// Prot returns a as mmap(2) PROT_* bits.
func (a AccessType) Prot() int {
	p := 0
	if a.Read {
		p |= 1
	}
	if a.Write {
		p |= 2
	}
	if a.Execute {
		p |= 4
	}
	return p
}

// ProtToAccessType converts PROT_* bits.
func ProtToAccessType(prot int) AccessType {
	return AccessType{Read: prot&1 != 0, Write: prot&2 != 0, Execute: prot&4 != 0}
}

// String renders a as "rwx" with dashes, as /proc/[pid]/maps does.
func (a AccessType) String() string {
	b := []byte("---")
	if a.Read {
		b[0] = 'r'
	}
	if a.Write {
		b[1] = 'w'
	}
	if a.Execute {
		b[2] = 'x'
	}
	return string(b)
}

// Platform creates address spaces and contexts.
type Platform interface {
	// NewAddressSpace returns an empty address space.
	NewAddressSpace() (AddressSpace, error)

	// NewContext returns a context to run application threads on. A
	// context is used by one goroutine at a time (the task goroutine) and
	// that goroutine must stay locked to its OS thread
	// (runtime.LockOSThread) for as long as it uses the context.
	NewContext() Context

	// MinUserAddress and MaxUserAddress bound the application's addresses.
	MinUserAddress() uintptr
	MaxUserAddress() uintptr

	// FPStateSize is the size of arch.FPState.Data on this machine.
	FPStateSize() int
}

// AddressSpace is an application address space. Its mappings are always
// of the memory file the platform was created with.
type AddressSpace interface {
	// MapFile maps length bytes of the memory file at fileOffset to addr
	// with the given permissions, replacing whatever was mapped there.
	// addr, fileOffset and length are page-aligned.
	MapFile(addr uintptr, fileOffset uint64, length uintptr, at AccessType) error

	// Protect changes the permissions of mapped pages in [addr, addr+length).
	Protect(addr, length uintptr, at AccessType) error

	// Unmap removes all mappings in [addr, addr+length).
	Unmap(addr, length uintptr)

	// Release frees the address space. It must not be used afterwards.
	Release()
}

// Event says why Switch returned.
type Event int

// Switch results.
const (
	// EventSyscall: the thread made a system call; the registers say which.
	EventSyscall Event = iota
	// EventFault: the thread took a fault; Fault describes it.
	EventFault
	// EventInterrupt: Interrupt was called, or the host interrupted the
	// thread for a reason the sentry doesn't care about. Nothing happened
	// to the application.
	EventInterrupt
)

// FaultKind names the hardware exception behind an EventFault.
type FaultKind int

// Fault kinds, named after the signal Linux would send.
const (
	FaultSegv FaultKind = iota // page fault or general protection
	FaultBus
	FaultFPE
	FaultIll
	FaultTrap
)

// Fault describes an EventFault.
type Fault struct {
	Kind FaultKind
	// Signo is the host signal number and Code its si_code.
	Signo int
	Code  int32
	// Addr is the faulting address (si_addr).
	Addr uintptr
	// Mapped is true for a page fault on an address the host had mapped
	// (SEGV_ACCERR): the access violated the mapping's permissions. It is
	// false when nothing was mapped there (SEGV_MAPERR).
	Mapped bool
	// Access is the access that faulted, as far as the platform can tell.
	// Under ptrace the hardware error code is not visible: a fault at the
	// instruction pointer is an instruction fetch (Execute); any other is
	// reported as Read|Write, and mm tells the two apart from the state of
	// the page (a fault on a mapped copy-on-write page is a write).
	Access AccessType
}

func (f *Fault) String() string {
	return fmt.Sprintf("fault kind=%d signo=%d code=%d addr=%#x mapped=%v", f.Kind, f.Signo, f.Code, f.Addr, f.Mapped)
}

// Context runs one application thread at a time.
type Context interface {
	// Switch runs the thread described by ac in as until it makes a system
	// call, faults or is interrupted, then stores its registers back in ac.
	// A non-nil error means the platform failed (the thread can't run any
	// more), not that the application did something wrong.
	Switch(as AddressSpace, ac *arch.Context) (Event, *Fault, error)

	// PullFPState loads the thread's FPU state into ac.FP if it is not
	// loaded yet. Only the goroutine that calls Switch may call it.
	PullFPState(as AddressSpace, ac *arch.Context) error

	// FaultDetails returns what the hardware reported for the fault the
	// last Switch returned (x86 vector, error code and fault address, as
	// a signal frame's sigcontext holds them). The thread's registers in
	// ac are unchanged; its FPU state is preserved. Only the goroutine
	// that calls Switch may call it, before the next Switch.
	FaultDetails(as AddressSpace, ac *arch.Context) (trapno, errCode, cr2 uint64, err error)

	// Interrupt makes a concurrent or the next Switch return
	// EventInterrupt promptly. It may be called from any goroutine.
	Interrupt()

	// Release frees the context's host resources.
	Release()
}

// ErrContextDead is returned by Switch when the host thread behind the
// context disappeared (the stub was killed).
var ErrContextDead = errors.New("platform: application thread died")
