package ptrace

import (
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/platform"
	"palisade.dev/sentry/arch"
)

// newTestPlatform returns a platform over a fresh memory file and a sentry
// mapping of its first page.
func newTestPlatform(t *testing.T) (*Platform, []byte) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root for ptrace of stub processes in some setups")
	}
	fd, err := unix.MemfdCreate("test-mem", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Ftruncate(fd, 1<<20); err != nil {
		t.Fatal(err)
	}
	mem, err := unix.Mmap(fd, 0, 1<<20, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(fd)
	if err != nil {
		t.Fatal(err)
	}
	return p, mem
}

const codeAddr = 0x400000

func run(t *testing.T, p *Platform, code []byte, mem []byte, fn func(as platform.AddressSpace, c platform.Context, ac *arch.Context)) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	copy(mem, code)
	as, err := p.NewAddressSpace()
	if err != nil {
		t.Fatal(err)
	}
	defer as.Release()
	if err := as.MapFile(codeAddr, 0, 0x1000, platform.AccessType{Read: true, Execute: true}); err != nil {
		t.Fatalf("MapFile: %v", err)
	}
	c := p.NewContext()
	defer c.Release()
	var ac arch.Context
	ac.ResetForExec(codeAddr, 0)
	fn(as, c, &ac)
}

func TestSyscallsAreIntercepted(t *testing.T) {
	p, mem := newTestPlatform(t)
	// mov $39, %eax; syscall; mov $39,%eax; syscall; jmp back to start
	code := []byte{0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7}
	run(t, p, code, mem, func(as platform.AddressSpace, c platform.Context, ac *arch.Context) {
		for i := 0; i < 1000; i++ {
			ev, _, err := c.Switch(as, ac)
			if err != nil {
				t.Fatalf("Switch: %v", err)
			}
			if ev != platform.EventSyscall {
				t.Fatalf("event = %v, want syscall", ev)
			}
			if got := ac.SyscallNo(); got != 39 {
				t.Fatalf("syscall = %d, want 39 (getpid)", got)
			}
			ac.SetReturn(uintptr(i))
		}
	})
}

func TestFaultReportsAddress(t *testing.T) {
	p, mem := newTestPlatform(t)
	// mov $0x12345678, %eax; mov (%rax), %eax
	code := []byte{0xb8, 0x78, 0x56, 0x34, 0x12, 0x8b, 0x00}
	run(t, p, code, mem, func(as platform.AddressSpace, c platform.Context, ac *arch.Context) {
		ev, f, err := c.Switch(as, ac)
		if err != nil {
			t.Fatal(err)
		}
		if ev != platform.EventFault || f.Kind != platform.FaultSegv || f.Addr != 0x12345678 || f.Mapped || f.Access.Execute {
			t.Fatalf("got event %v fault %v, want unmapped data SEGV at 0x12345678", ev, f)
		}
		// Now map it read-only and write to it: an access error.
		as.MapFile(0x12345000, 0x1000, 0x1000, platform.Read)
		// mov %eax, (%rax) with rax=0x12345678
		copy(mem[5:], []byte{0x89, 0x00})
		ac.Regs.Rip = codeAddr
		ev, f, err = c.Switch(as, ac)
		if err != nil {
			t.Fatal(err)
		}
		if ev != platform.EventFault || f.Addr != 0x12345678 || !f.Mapped {
			t.Fatalf("got event %v fault %v, want mapped SEGV at 0x12345678", ev, f)
		}
	})
}

func TestFaultOnInstructionFetch(t *testing.T) {
	p, mem := newTestPlatform(t)
	// mov $0x600000, %eax; jmp *%rax (nothing is mapped there)
	code := []byte{0xb8, 0x00, 0x00, 0x60, 0x00, 0xff, 0xe0}
	run(t, p, code, mem, func(as platform.AddressSpace, c platform.Context, ac *arch.Context) {
		ev, f, err := c.Switch(as, ac)
		if err != nil {
			t.Fatal(err)
		}
		if ev != platform.EventFault || f.Addr != 0x600000 || !f.Access.Execute || f.Access.Write {
			t.Fatalf("got event %v fault %+v, want an execute fault at 0x600000", ev, f)
		}
	})
}

func TestInterrupt(t *testing.T) {
	p, mem := newTestPlatform(t)
	code := []byte{0xeb, 0xfe} // jmp .
	run(t, p, code, mem, func(as platform.AddressSpace, c platform.Context, ac *arch.Context) {
		go func() {
			time.Sleep(50 * time.Millisecond)
			c.Interrupt()
		}()
		ev, _, err := c.Switch(as, ac)
		if err != nil {
			t.Fatal(err)
		}
		if ev != platform.EventInterrupt {
			t.Fatalf("event = %v, want interrupt", ev)
		}
	})
}

func TestFPStateRoundTrip(t *testing.T) {
	p, mem := newTestPlatform(t)
	// movq %rax, %xmm0; movq %xmm0, %rbx; mov $39,%eax; syscall
	code := []byte{0x66, 0x48, 0x0f, 0x6e, 0xc0, 0x66, 0x48, 0x0f, 0x7e, 0xc3, 0xb8, 39, 0, 0, 0, 0x0f, 0x05}
	run(t, p, code, mem, func(as platform.AddressSpace, c platform.Context, ac *arch.Context) {
		ac.Regs.Rax = 0xdeadbeefcafe
		if _, _, err := c.Switch(as, ac); err != nil {
			t.Fatal(err)
		}
		if ac.Regs.Rbx != 0xdeadbeefcafe {
			t.Fatalf("rbx = %#x", ac.Regs.Rbx)
		}
		if err := c.PullFPState(as, ac); err != nil {
			t.Fatal(err)
		}
		// XMM0 lives at offset 160 of the FXSAVE area.
		got := uint64(0)
		for i := 7; i >= 0; i-- {
			got = got<<8 | uint64(ac.FP.Data[160+i])
		}
		if got != 0xdeadbeefcafe {
			t.Fatalf("xmm0 = %#x, want 0xdeadbeefcafe", got)
		}
	})
}

func TestStubKilledByHostSyscall(t *testing.T) {
	// The stub's seccomp filter must kill it if an application system
	// call were ever executed by the host. Simulate a platform bug by
	// resuming with PTRACE_CONT instead of PTRACE_SYSEMU.
	p, mem := newTestPlatform(t)
	code := []byte{0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xfe}
	run(t, p, code, mem, func(as platform.AddressSpace, c platform.Context, ac *arch.Context) {
		th, err := c.(*context).threadIn(as.(*subprocess))
		if err != nil {
			t.Fatal(err)
		}
		regs := ac.Regs
		if err := th.setRegs(&regs); err != nil {
			t.Fatal(err)
		}
		if err := ptrace(unix.PTRACE_CONT, th.tid, 0, 0); err != nil {
			t.Fatal(err)
		}
		ws, err := th.wait()
		if err != nil {
			t.Fatal(err)
		}
		if !ws.Signaled() || ws.Signal() != unix.SIGSYS {
			t.Fatalf("stub %s, want killed by SIGSYS", describeStatus(ws))
		}
		c.(*context).dead(as.(*subprocess), th, nil)
	})
}

func TestFaultDetails(t *testing.T) {
	p, mem := newTestPlatform(t)
	// mov $0x12345678, %eax; movl $1, (%rax): a write to an unmapped page.
	code := []byte{0xb8, 0x78, 0x56, 0x34, 0x12, 0xc7, 0x00, 0x01, 0x00, 0x00, 0x00}
	run(t, p, code, mem, func(as platform.AddressSpace, c platform.Context, ac *arch.Context) {
		ac.Regs.Rbx = 0x1122334455667788
		ev, f, err := c.Switch(as, ac)
		if err != nil || ev != platform.EventFault {
			t.Fatalf("Switch: %v %v", ev, err)
		}
		before := ac.Regs
		trapno, code, cr2, err := c.FaultDetails(as, ac)
		if err != nil {
			t.Fatalf("FaultDetails: %v", err)
		}
		// #PF, user-mode write to a not-present page.
		if trapno != 14 || code != 6 || cr2 != 0x12345678 {
			t.Errorf("FaultDetails = trapno %d err %#x cr2 %#x, want 14, 0x6, 0x12345678 (fault %v)", trapno, code, cr2, f)
		}
		if ac.Regs != before {
			t.Errorf("FaultDetails changed the registers")
		}
		// The thread can go on: skip the instruction and make a syscall.
		copy(mem[11:], []byte{0xb8, 39, 0, 0, 0, 0x0f, 0x05})
		ac.Regs.Rip = codeAddr + 11
		ev, _, err = c.Switch(as, ac)
		if err != nil || ev != platform.EventSyscall || ac.Regs.Rbx != 0x1122334455667788 {
			t.Fatalf("after FaultDetails: event %v err %v rbx %#x", ev, err, ac.Regs.Rbx)
		}
	})
}
