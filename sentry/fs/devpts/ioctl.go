package devpts

import (
	"context"
	"encoding/binary"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/kernel"
	"palisade.dev/sentry/vfs"
)

// Arguments of TCFLSH and TCXONC.
const (
	tciflush  = 0
	tcoflush  = 1
	tcioflush = 2

	tcooff = 0
	tcoon  = 1
	tcioff = 2
	tcion  = 3
)

func copyOutUint32(mem vfs.UserMemory, addr uintptr, v uint32) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	_, err := mem.CopyOut(addr, b[:])
	return err
}

func copyInUint32(mem vfs.UserMemory, addr uintptr) (uint32, error) {
	var b [4]byte
	if _, err := mem.CopyIn(addr, b[:]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

// checkChange applies job control to a change of the terminal's state by
// a background process (SIGTTOU), as tcsetattr(3) and friends get it.
func (tm *Terminal) checkChange(t *kernel.Task) error {
	if t == nil {
		return nil
	}
	return t.CheckTTYJobControl(tm, kernel.SIGTTOU)
}

// ioctl implements the terminal ioctls (tty_ioctl(4), pty(7)) for either
// side: the termios, window size and session ones act on the slave
// whichever side they are made on. fd is the description the call is
// made on.
func (tm *Terminal) ioctl(ctx context.Context, mem vfs.UserMemory, cmd uint32, arg uintptr, master bool, fd *vfs.FileDescription) (uintptr, error) {
	t := kernel.TaskFromContext(ctx)
	if !master && tm.masterClosed() {
		// A hung-up slave answers nothing.
		if cmd == unix.TIOCSPGRP {
			return 0, unix.ENOTTY
		}
		return 0, unix.EIO
	}
	switch cmd {
	case unix.TCGETS, unix.TCGETS2:
		size := termiosSize
		if cmd == unix.TCGETS2 {
			size = termios2Size
		}
		tm.mu.Lock()
		b := tm.ld.termios.marshal(size)
		tm.mu.Unlock()
		_, err := mem.CopyOut(arg, b)
		return 0, err

	case unix.TCSETS, unix.TCSETSW, unix.TCSETSF, unix.TCSETS2, unix.TCSETSW2, unix.TCSETSF2:
		if err := tm.checkChange(t); err != nil {
			return 0, err
		}
		size := termiosSize
		if cmd == unix.TCSETS2 || cmd == unix.TCSETSW2 || cmd == unix.TCSETSF2 {
			size = termios2Size
		}
		b := make([]byte, size)
		if _, err := mem.CopyIn(arg, b); err != nil {
			return 0, err
		}
		// TCSETSW would wait for output to drain: a pseudo-terminal's
		// output is always drained (it is the master's to read).
		tm.mu.Lock()
		if cmd == unix.TCSETSF || cmd == unix.TCSETSF2 {
			tm.ld.flushInput()
			tm.ld.pending = tm.ld.pending[:0]
		}
		tm.ld.setTermios(unmarshalTermios(b, tm.ld.termios))
		tm.unlockAndSignal()
		return 0, nil

	case unix.TIOCGWINSZ:
		tm.mu.Lock()
		b := tm.winsize.marshal()
		tm.mu.Unlock()
		_, err := mem.CopyOut(arg, b)
		return 0, err

	case unix.TIOCSWINSZ:
		b := make([]byte, winsizeSize)
		if _, err := mem.CopyIn(arg, b); err != nil {
			return 0, err
		}
		ws := unmarshalWinsize(b)
		tm.mu.Lock()
		changed := ws != tm.winsize
		tm.winsize = ws
		tm.mu.Unlock()
		if changed {
			tm.signal(kernel.SIGWINCH)
		}
		return 0, nil

	case unix.TIOCINQ: // FIONREAD
		tm.mu.Lock()
		n := tm.ld.inq()
		if master {
			n = len(tm.ld.out)
		}
		tm.mu.Unlock()
		return 0, copyOutUint32(mem, arg, uint32(n))

	case unix.TIOCOUTQ:
		// Output goes straight to the other side's input: nothing waits
		// in a driver, as Linux reports for ptys.
		return 0, copyOutUint32(mem, arg, 0)

	case unix.TCFLSH:
		if err := tm.checkChange(t); err != nil {
			return 0, err
		}
		if arg > tcioflush {
			return 0, unix.EINVAL
		}
		in, out := arg == tciflush || arg == tcioflush, arg == tcoflush || arg == tcioflush
		tm.mu.Lock()
		if master {
			// The master's input is the slave's output, and its output
			// the slave's input not yet taken in.
			if in {
				tm.ld.out = tm.ld.out[:0]
			}
			if out {
				tm.ld.pending = tm.ld.pending[:0]
			}
		} else {
			if in {
				tm.ld.flushInput()
				tm.ld.pending = tm.ld.pending[:0]
			}
			if out {
				tm.ld.flushOutput()
			}
		}
		tm.unlockAndSignal()
		return 0, nil

	case unix.TCXONC:
		if err := tm.checkChange(t); err != nil {
			return 0, err
		}
		if arg > tcion {
			return 0, unix.EINVAL
		}
		if master {
			return 0, nil
		}
		tm.mu.Lock()
		l := &tm.ld
		switch arg {
		case tcooff:
			if !l.tcoStopped {
				l.tcoStopped = true
				l.stopOutput()
			}
		case tcoon:
			if l.tcoStopped {
				l.tcoStopped = false
				l.startOutput()
			}
		case tcioff, tcion:
			// Transmit a STOP or START character: the master reads it.
			c := l.termios.CC[unix.VSTOP]
			if arg == tcion {
				c = l.termios.CC[unix.VSTART]
			}
			if c != 0 {
				l.out = append(l.out, c)
			}
		}
		tm.unlockAndSignal()
		return 0, nil

	case unix.TCSBRK, unix.TCSBRKP:
		// tcdrain(3) and tcsendbreak(3): output is always drained, and
		// a pseudo-terminal has no line to send a break on.
		return 0, tm.checkChange(t)

	case unix.TIOCSTI:
		if t == nil || (t.ControllingTTY() != kernel.TTY(tm) && !t.Credentials().HasCapability(unix.CAP_SYS_ADMIN)) {
			return 0, unix.EPERM
		}
		var b [1]byte
		if _, err := mem.CopyIn(arg, b[:]); err != nil {
			return 0, err
		}
		tm.mu.Lock()
		if master {
			tm.ld.out = append(tm.ld.out, b[0])
		} else {
			tm.ld.masterWrite(b[:])
		}
		tm.unlockAndSignal()
		return 0, nil

	case unix.TIOCSCTTY:
		if t == nil {
			return 0, unix.EPERM
		}
		if !fd.Readable() && !t.Credentials().HasCapability(unix.CAP_SYS_ADMIN) {
			return 0, unix.EPERM
		}
		return 0, t.SetControllingTTY(tm, arg == 1)

	case unix.TIOCNOTTY:
		if master || t == nil {
			return 0, unix.ENOTTY
		}
		return 0, t.DisassociateTTY(tm)

	case unix.TIOCGPGRP, unix.TIOCGSID:
		if t == nil {
			return 0, unix.ENOTTY
		}
		var id int32
		var err error
		if cmd == unix.TIOCGPGRP {
			id, err = t.TTYForegroundGroup(tm, master)
		} else {
			id, err = t.TTYSession(tm, master)
		}
		if err != nil {
			return 0, err
		}
		return 0, copyOutUint32(mem, arg, uint32(id))

	case unix.TIOCSPGRP:
		if t == nil {
			return 0, unix.ENOTTY
		}
		pgid, err := copyInUint32(mem, arg)
		if err != nil {
			return 0, err
		}
		return 0, t.SetTTYForegroundGroup(tm, int32(pgid))

	case unix.TIOCEXCL, unix.TIOCNXCL:
		tm.mu.Lock()
		tm.excl = cmd == unix.TIOCEXCL
		tm.mu.Unlock()
		return 0, nil

	case unix.TIOCGEXCL:
		tm.mu.Lock()
		excl := tm.excl
		tm.mu.Unlock()
		return 0, copyOutUint32(mem, arg, b2u(excl))

	case unix.TIOCGETD:
		return 0, copyOutUint32(mem, arg, 0) // N_TTY

	case unix.TIOCSETD:
		d, err := copyInUint32(mem, arg)
		if err != nil {
			return 0, err
		}
		if d != 0 {
			return 0, unix.EINVAL // only N_TTY
		}
		return 0, nil

	case unix.TIOCGDEV:
		// The slave's device number, as new_encode_dev encodes it.
		m := tm.index
		return 0, copyOutUint32(mem, arg, m&0xff|slaveMajor<<8|(m&^0xff)<<12)
	}

	if !master {
		return 0, unix.ENOTTY
	}
	switch cmd {
	case unix.TIOCGPTN:
		return 0, copyOutUint32(mem, arg, tm.index)

	case unix.TIOCSPTLCK:
		v, err := copyInUint32(mem, arg)
		if err != nil {
			return 0, err
		}
		tm.mu.Lock()
		tm.locked = v != 0
		tm.mu.Unlock()
		return 0, nil

	case unix.TIOCGPTLCK:
		tm.mu.Lock()
		locked := tm.locked
		tm.mu.Unlock()
		return 0, copyOutUint32(mem, arg, b2u(locked))

	case unix.TIOCPKT:
		v, err := copyInUint32(mem, arg)
		if err != nil {
			return 0, err
		}
		tm.mu.Lock()
		if v != 0 && !tm.ld.packet {
			tm.ld.pktStatus = 0
			tm.ld.packet = true
		} else if v == 0 {
			tm.ld.packet = false
		}
		tm.unlockAndSignal()
		return 0, nil

	case unix.TIOCGPKT:
		tm.mu.Lock()
		p := tm.ld.packet
		tm.mu.Unlock()
		return 0, copyOutUint32(mem, arg, b2u(p))

	case unix.TIOCSIG:
		switch int(arg) {
		case kernel.SIGINT, kernel.SIGQUIT, kernel.SIGTSTP:
			tm.signal(int(arg))
			return 0, nil
		}
		return 0, unix.EINVAL

	case unix.TIOCGPTPEER:
		// Open the slave without going through a path (openpty(3)).
		if t == nil {
			return 0, unix.EINVAL
		}
		flags := uint32(arg) & (unix.O_ACCMODE | unix.O_NOCTTY | unix.O_NONBLOCK | unix.O_CLOEXEC | unix.O_APPEND)
		f, err := tm.openSlave(ctx, vfs.VirtualDentry{Mount: tm.mount, Dentry: tm.node}, flags|unix.O_LARGEFILE, true)
		if err != nil {
			return 0, err
		}
		defer f.DecRef()
		limit := int(t.ThreadGroup().Limits().Get(kernel.RLIMIT_NOFILE).Cur)
		n, err := t.FDTable().NewFD(0, f, flags&unix.O_CLOEXEC != 0, limit)
		return uintptr(n), err
	}
	return 0, unix.ENOTTY
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}
