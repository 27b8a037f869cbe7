package ptrace

import (
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"

	"palisade.dev/platform"
)

// request is work for a subprocess's owner goroutine.
type request struct {
	fn    func(first *thread)
	reply chan struct{}
}

// subprocess is an address space: a stub process. It implements
// platform.AddressSpace.
type subprocess struct {
	p        *Platform
	pid      int32
	requests chan request
	done     chan struct{} // closed by Release

	mu       sync.Mutex
	threads  map[int32]*thread // by tracer OS thread id
	released bool
	// Alternate signal stack slots of application threads.
	freeSlots []int
	nextSlot  int
}

func (s *subprocess) allocSlot() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.freeSlots); n > 0 {
		slot := s.freeSlots[n-1]
		s.freeSlots = s.freeSlots[:n-1]
		return slot, nil
	}
	if s.nextSlot >= maxAltSlots {
		return 0, unix.EAGAIN
	}
	s.nextSlot++
	return s.nextSlot - 1, nil
}

func (s *subprocess) freeSlot(slot int) {
	if slot < 0 {
		return
	}
	s.mu.Lock()
	s.freeSlots = append(s.freeSlots, slot)
	s.mu.Unlock()
}

var _ platform.AddressSpace = (*subprocess)(nil)

// newSubprocess starts an owner goroutine that runs create on its locked OS
// thread to get the process's first thread, then serves requests with it.
func newSubprocess(p *Platform, create func() (*thread, error)) (*subprocess, error) {
	s := &subprocess{p: p, requests: make(chan request), done: make(chan struct{}), threads: make(map[int32]*thread)}
	errc := make(chan error, 1)
	go func() {
		// The goroutine never unlocks: when it returns, Go ends the OS
		// thread, and PTRACE_O_EXITKILL kills anything it still traces.
		runtime.LockOSThread()
		cpu := p.pinThread()
		first, err := create()
		if err != nil {
			errc <- err
			return
		}
		s.pid = first.tgid
		errc <- nil
		for {
			select {
			case req := <-s.requests:
				first.bind(cpu)
				req.fn(first)
				close(req.reply)
				continue
			case <-s.done:
			}
			break
		}
		// Released: the process was killed; reap the first thread, which
		// as the group leader is reported only once every other thread is.
		first.reap()
	}()
	if err := <-errc; err != nil {
		return nil, err
	}
	return s, nil
}

// do runs fn on the owner goroutine with the first thread. It returns
// false, without running fn, if the subprocess was released.
func (s *subprocess) do(fn func(first *thread)) bool {
	reply := make(chan struct{})
	select {
	case s.requests <- request{fn: fn, reply: reply}:
		<-reply
		return true
	case <-s.done:
		return false
	}
}

// cloneThread makes a new thread in the process, waiting in pause(2) to be
// seized, and returns its tid.
func (s *subprocess) cloneThread() (int32, error) {
	var tid uintptr
	err := error(platform.ErrContextDead)
	s.do(func(first *thread) {
		const flags = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
			unix.CLONE_THREAD | unix.CLONE_SYSVSEM
		tid, err = first.syscallAt(cloneEntryAddr, unix.SYS_CLONE, flags, 0, 0, 0, 0)
	})
	return int32(tid), err
}

// cloneProcess forks a new stub process from this one (used on the master)
// and returns its pid. The child waits in pause(2) to be seized.
func (s *subprocess) cloneProcess() (int32, error) {
	var pid uintptr
	err := error(platform.ErrContextDead)
	s.do(func(first *thread) {
		pid, err = first.syscallAt(cloneEntryAddr, unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0)
	})
	return int32(pid), err
}

// threadFor returns the stub thread traced by the OS thread tracer, or nil.
func (s *subprocess) threadFor(tracer int32) *thread {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.threads[tracer]
}

// newThreadFor creates a stub thread traced by the calling OS thread, whose
// id is tracer.
//
// Preconditions: the caller is locked to its OS thread.
func (s *subprocess) newThreadFor(tracer int32) (*thread, error) {
	tid, err := s.cloneThread()
	if err != nil {
		return nil, fmt.Errorf("clone stub thread: %w", err)
	}
	t, err := seize(s.pid, tid, &s.p.initRegs)
	if err != nil {
		unix.Tgkill(int(s.pid), int(tid), unix.SIGKILL)
		return nil, err
	}
	slot, err := s.allocSlot()
	if err == nil {
		if err = t.setupAltStack(slot); err != nil {
			s.freeSlot(slot)
		}
	}
	if err != nil {
		t.exit()
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released {
		t.reap()
		return nil, platform.ErrContextDead
	}
	s.threads[tracer] = t
	return t, nil
}

// forgetThread removes the tracer's thread from the table and frees its
// signal stack slot.
func (s *subprocess) forgetThread(tracer int32) {
	s.mu.Lock()
	t := s.threads[tracer]
	delete(s.threads, tracer)
	s.mu.Unlock()
	if t != nil {
		s.freeSlot(t.slot)
	}
}

// syscall runs a system call in the process: on the calling OS thread's
// own stub thread when it has one, else on the owner's.
func (s *subprocess) syscall(sysno uintptr, args ...uintptr) (uintptr, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if t := s.threadFor(int32(unix.Gettid())); t != nil {
		// The caller's own thread: its context bound it to this CPU.
		return t.syscall(sysno, args...)
	}
	var r uintptr
	err := error(platform.ErrContextDead)
	s.do(func(first *thread) {
		r, err = first.syscall(sysno, args...)
	})
	return r, err
}

// MapFile implements platform.AddressSpace.MapFile.
func (s *subprocess) MapFile(addr uintptr, off uint64, length uintptr, at platform.AccessType) error {
	_, err := s.syscall(unix.SYS_MMAP, addr, length, uintptr(at.Prot()),
		unix.MAP_SHARED|unix.MAP_FIXED, stubMemFD, uintptr(off))
	return err
}

// Protect implements platform.AddressSpace.Protect.
func (s *subprocess) Protect(addr, length uintptr, at platform.AccessType) error {
	_, err := s.syscall(unix.SYS_MPROTECT, addr, length, uintptr(at.Prot()))
	if err == unix.ENOMEM {
		// Some pages were never mapped: nothing to change there.
		return nil
	}
	return err
}

// Unmap implements platform.AddressSpace.Unmap.
func (s *subprocess) Unmap(addr, length uintptr) {
	s.syscall(unix.SYS_MUNMAP, addr, length)
}

// Release implements platform.AddressSpace.Release: it kills the process.
// The calling OS thread reaps its own stub thread; the owner reaps the
// first; other tracers reap theirs when they next switch.
func (s *subprocess) Release() {
	s.mu.Lock()
	if s.released {
		s.mu.Unlock()
		return
	}
	s.released = true
	s.mu.Unlock()

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	unix.Kill(int(s.pid), unix.SIGKILL)
	tracer := int32(unix.Gettid())
	if t := s.threadFor(tracer); t != nil {
		t.reap()
		s.forgetThread(tracer)
	}
	close(s.done)
}
