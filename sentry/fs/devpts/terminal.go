package devpts

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/sentry/kernel"
	"palisade.dev/sentry/vfs"
	"palisade.dev/sentry/waiter"
)

// Terminal is one pseudo-terminal pair. Its slave side is what
// package kernel knows as a kernel.TTY.
type Terminal struct {
	fs    *FS
	index uint32
	// k is the kernel of the process that opened the master (nil in unit
	// tests): it sends the terminal's signals and keeps its session.
	k *kernel.Kernel
	// node is the slave's pts/N; mount the devpts mount the master was
	// opened through (for TIOCGPTPEER). Both are set before the master's
	// description exists and never change.
	node  *slaveDentry
	mount *vfs.Mount
	// signalHook, if set, receives the signals the terminal sends instead
	// of the kernel (for tests).
	signalHook func(sig int)

	masterQ, slaveQ waiter.Queue

	// mu protects the fields below and the slave node's attributes.
	mu      sync.Mutex
	ld      ldisc
	winsize Winsize
	// locked is the slave lock unlockpt(3) clears (TIOCSPTLCK).
	locked bool
	// excl is TIOCEXCL: further opens of the slave need CAP_SYS_ADMIN.
	excl bool
	// slaveOpens counts the slave's open files; slaveClosed is set when
	// the last one is closed (the master then reads EIO and polls HUP)
	// and cleared by the next open.
	slaveOpens  int
	slaveClosed bool
	// hungUp is set when the master is closed: the slave's files read
	// end of file, and fail writes and ioctls with EIO.
	hungUp bool
}

// Check that Terminal is what the kernel expects of a controlling
// terminal.
var _ kernel.TTY = (*Terminal)(nil)

func newTerminal(fs *FS, index uint32, k *kernel.Kernel) *Terminal {
	return &Terminal{fs: fs, index: index, k: k, ld: newLdisc(), locked: true}
}

// Index returns the pair's number (the N of /dev/pts/N).
func (tm *Terminal) Index() uint32 { return tm.index }

// OpenTTY implements kernel.TTY.OpenTTY: a new description of the slave,
// for /dev/tty.
func (tm *Terminal) OpenTTY(ctx context.Context, vd vfs.VirtualDentry, flags uint32) (*vfs.FileDescription, error) {
	return tm.openSlave(ctx, vd, flags, false)
}

func (tm *Terminal) masterClosed() bool {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.hungUp
}

// notify wakes waiters on both sides: most changes concern both.
func (tm *Terminal) notify() {
	tm.masterQ.Notify(waiter.ReadableEvents | waiter.WritableEvents | waiter.EventPri)
	tm.slaveQ.Notify(waiter.ReadableEvents | waiter.WritableEvents)
}

// signal sends sig to the slave's foreground process group.
func (tm *Terminal) signal(sig int) {
	switch {
	case tm.signalHook != nil:
		tm.signalHook(sig)
	case tm.k != nil:
		tm.k.SignalTTYForeground(tm, sig)
	}
}

// unlockAndSignal drops tm.mu, then sends the signals input raised and
// wakes waiters.
//
// Preconditions: tm.mu is held.
func (tm *Terminal) unlockAndSignal() {
	sigs := tm.ld.takeSignals()
	tm.mu.Unlock()
	for _, s := range sigs {
		tm.signal(s)
	}
	tm.notify()
}

// openSlave opens the slave (EIO while locked or after the master is
// closed). Unless acquire is false or flags has O_NOCTTY, a session
// leader without a controlling terminal gets this one.
func (tm *Terminal) openSlave(ctx context.Context, vd vfs.VirtualDentry, flags uint32, acquire bool) (*vfs.FileDescription, error) {
	t := kernel.TaskFromContext(ctx)
	admin := t != nil && t.Credentials().HasCapability(unix.CAP_SYS_ADMIN)
	tm.mu.Lock()
	switch {
	case tm.hungUp, tm.locked:
		tm.mu.Unlock()
		return nil, unix.EIO
	case tm.excl && !admin:
		tm.mu.Unlock()
		return nil, unix.EBUSY
	}
	tm.slaveOpens++
	tm.slaveClosed = false
	tm.mu.Unlock()
	f := &slaveFile{tm: tm}
	f.fd = vfs.NewFileDescription(f, vd, flags)
	if acquire && flags&unix.O_NOCTTY == 0 && t != nil {
		t.AcquireTTYOnOpen(tm)
	}
	tm.notify()
	return f.fd, nil
}

// masterFile is the master side, the file opening ptmx returned.
type masterFile struct {
	vfs.FileDefaults
	tm *Terminal
	fd *vfs.FileDescription
}

var (
	_ vfs.FileImpl    = (*masterFile)(nil)
	_ waiter.Waitable = (*masterFile)(nil)
	_ vfs.FileImpl    = (*slaveFile)(nil)
	_ waiter.Waitable = (*slaveFile)(nil)
)

// Fasync implements vfs.Fasyncer: with O_ASYNC, input arriving signals
// the owner.
func (f *masterFile) Fasync() {}

// Release implements vfs.FileImpl.Release: closing the master hangs up
// the slave, removes its node, and tells the session it controls.
func (f *masterFile) Release() {
	tm := f.tm
	tm.mu.Lock()
	tm.hungUp = true
	tm.ld = ldisc{termios: tm.ld.termios}
	free := tm.slaveOpens == 0
	tm.mu.Unlock()
	if tm.k != nil {
		tm.k.HangupTTY(tm)
	}
	if free {
		tm.fs.release(tm)
	}
	tm.slaveQ.Notify(waiter.ReadableEvents | waiter.WritableEvents | waiter.EventHUp | waiter.EventErr)
}

// Read implements vfs.FileImpl.Read: the slave's output. Once the slave's
// last file is closed and nothing is left, EIO.
func (f *masterFile) Read(_ context.Context, dst []byte) (int, error) {
	tm := f.tm
	tm.mu.Lock()
	n := tm.ld.masterRead(dst)
	closed := tm.slaveClosed
	tm.mu.Unlock()
	if n > 0 {
		tm.notify()
		return n, nil
	}
	if len(dst) == 0 {
		return 0, nil
	}
	if closed {
		return 0, unix.EIO
	}
	return 0, unix.EAGAIN
}

// Write implements vfs.FileImpl.Write: input for the slave, through the
// line discipline.
func (f *masterFile) Write(_ context.Context, src []byte) (int, error) {
	if len(src) == 0 {
		return 0, nil
	}
	tm := f.tm
	tm.mu.Lock()
	n := tm.ld.masterWrite(src)
	tm.unlockAndSignal()
	if n == 0 {
		return 0, unix.EAGAIN
	}
	return n, nil
}

// Readiness implements waiter.Waitable.Readiness.
func (f *masterFile) Readiness(mask waiter.EventMask) waiter.EventMask {
	tm := f.tm
	tm.mu.Lock()
	defer tm.mu.Unlock()
	var ev waiter.EventMask
	if tm.ld.masterReadable() {
		ev |= waiter.ReadableEvents
		if tm.ld.packet && tm.ld.pktStatus != 0 {
			ev |= waiter.EventPri
		}
	}
	if tm.ld.masterWritable() {
		ev |= waiter.WritableEvents
	}
	if tm.slaveClosed {
		ev |= waiter.EventHUp
	}
	return ev & (mask | waiter.EventHUp | waiter.EventErr)
}

// EventRegister implements waiter.Waitable.EventRegister.
func (f *masterFile) EventRegister(e *waiter.Entry) { f.tm.masterQ.EventRegister(e) }

// EventUnregister implements waiter.Waitable.EventUnregister.
func (f *masterFile) EventUnregister(e *waiter.Entry) { f.tm.masterQ.EventUnregister(e) }

// Ioctl implements vfs.FileImpl.Ioctl.
func (f *masterFile) Ioctl(ctx context.Context, mem vfs.UserMemory, cmd uint32, arg uintptr) (uintptr, error) {
	return f.tm.ioctl(ctx, mem, cmd, arg, true, f.fd)
}

// slaveFile is an open file of the slave side.
type slaveFile struct {
	vfs.FileDefaults
	tm *Terminal
	fd *vfs.FileDescription
}

// Fasync implements vfs.Fasyncer.
func (f *slaveFile) Fasync() {}

// Release implements vfs.FileImpl.Release.
func (f *slaveFile) Release() {
	tm := f.tm
	tm.mu.Lock()
	tm.slaveOpens--
	last := tm.slaveOpens == 0
	if last {
		tm.slaveClosed = true
	}
	free := last && tm.hungUp
	tm.mu.Unlock()
	if free {
		tm.fs.release(tm)
	}
	tm.masterQ.Notify(waiter.ReadableEvents | waiter.EventHUp)
}

// Read implements vfs.FileImpl.Read: a line in canonical mode, else what
// VMIN and VTIME ask for. Unlike most files it waits itself (VTIME's
// timers need it), and so is interruptible here; a background process
// reading its controlling terminal gets SIGTTIN first.
func (f *slaveFile) Read(ctx context.Context, dst []byte) (int, error) {
	tm := f.tm
	if len(dst) == 0 {
		return 0, nil
	}
	t := kernel.TaskFromContext(ctx)
	if t != nil {
		if err := t.CheckTTYJobControl(tm, kernel.SIGTTIN); err != nil {
			return 0, err
		}
	}
	total := 0
	var deadline time.Time
	waited := false
	for {
		tm.mu.Lock()
		if tm.hungUp {
			tm.mu.Unlock()
			// A read that was waiting when the master went fails; later
			// ones find end of file.
			if waited && total == 0 {
				return 0, unix.EIO
			}
			return total, nil
		}
		l := &tm.ld
		vmin, vtime := int(l.termios.CC[unix.VMIN]), time.Duration(l.termios.CC[unix.VTIME])*100*time.Millisecond
		if l.slaveReadable(false) {
			n := l.slaveRead(dst[total:])
			total += n
			tm.node.atime = now()
			canon := l.canonical()
			tm.unlockAndSignal()
			if canon || vmin == 0 || total >= vmin || total == len(dst) {
				return total, nil
			}
			if vtime > 0 {
				deadline = time.Now().Add(vtime) // the timer between bytes
			}
			continue
		}
		if !l.canonical() {
			if vmin == 0 && vtime == 0 {
				tm.mu.Unlock()
				return total, nil
			}
			if vmin == 0 && deadline.IsZero() {
				deadline = time.Now().Add(vtime)
			}
		}
		if t == nil || f.fd.Flags()&unix.O_NONBLOCK != 0 {
			tm.mu.Unlock()
			if total > 0 {
				return total, nil
			}
			return 0, unix.EAGAIN
		}
		e, ch := waiter.NewEntry(waiter.ReadableEvents)
		tm.slaveQ.EventRegister(e)
		tm.mu.Unlock()
		err := t.Block(ch, deadline)
		tm.slaveQ.EventUnregister(e)
		waited = true
		switch {
		case err == unix.ETIMEDOUT:
			return total, nil
		case err == kernel.ErrInterrupted:
			if total > 0 {
				return total, nil
			}
			if tm.masterClosed() {
				return 0, unix.EIO
			}
			return 0, linux.ERESTARTSYS
		case err != nil:
			return total, err
		}
	}
}

// Write implements vfs.FileImpl.Write: output for the master, through
// output processing. With TOSTOP a background process writing its
// controlling terminal gets SIGTTOU first.
func (f *slaveFile) Write(ctx context.Context, src []byte) (int, error) {
	tm := f.tm
	tm.mu.Lock()
	hung, tostop := tm.hungUp, tm.ld.termios.lflag(unix.TOSTOP)
	tm.mu.Unlock()
	if hung {
		return 0, unix.EIO
	}
	if t := kernel.TaskFromContext(ctx); t != nil && tostop {
		if err := t.CheckTTYJobControl(tm, kernel.SIGTTOU); err != nil {
			return 0, err
		}
	}
	if len(src) == 0 {
		return 0, nil
	}
	tm.mu.Lock()
	if tm.hungUp {
		tm.mu.Unlock()
		return 0, unix.EIO
	}
	n := 0
	if !tm.ld.stopped {
		n = tm.ld.slaveWrite(src)
	}
	if n > 0 {
		tm.node.mtime = now()
	}
	tm.mu.Unlock()
	if n == 0 {
		return 0, unix.EAGAIN
	}
	tm.notify()
	return n, nil
}

// Readiness implements waiter.Waitable.Readiness. A hung-up slave is
// ready for everything, with an error and a hang-up.
func (f *slaveFile) Readiness(mask waiter.EventMask) waiter.EventMask {
	tm := f.tm
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if tm.hungUp {
		return (waiter.ReadableEvents|waiter.WritableEvents)&mask | waiter.EventErr | waiter.EventHUp
	}
	var ev waiter.EventMask
	if tm.ld.slaveReadable(true) {
		ev |= waiter.ReadableEvents
	}
	if tm.ld.slaveWritable() {
		ev |= waiter.WritableEvents
	}
	return ev & mask
}

// EventRegister implements waiter.Waitable.EventRegister.
func (f *slaveFile) EventRegister(e *waiter.Entry) { f.tm.slaveQ.EventRegister(e) }

// EventUnregister implements waiter.Waitable.EventUnregister.
func (f *slaveFile) EventUnregister(e *waiter.Entry) { f.tm.slaveQ.EventUnregister(e) }

// Ioctl implements vfs.FileImpl.Ioctl.
func (f *slaveFile) Ioctl(ctx context.Context, mem vfs.UserMemory, cmd uint32, arg uintptr) (uintptr, error) {
	return f.tm.ioctl(ctx, mem, cmd, arg, false, f.fd)
}
