package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/fs/signalfd"
	"palisade.dev/sentry/kernel"
	. "palisade.dev/sentry/strace"
)

func init() {
	full(unix.SYS_SIGNALFD, Signalfd, Int, Ptr, Int)
	full(unix.SYS_SIGNALFD4, Signalfd4, Int, Ptr, Int, Hex)
}

// Signalfd implements signalfd(2).
func Signalfd(t *kernel.Task, a args) (uintptr, error) {
	return doSignalfd(t, a[0].Int(), a[1].Pointer(), a[2].SizeT(), 0)
}

// Signalfd4 implements signalfd4(2).
func Signalfd4(t *kernel.Task, a args) (uintptr, error) {
	return doSignalfd(t, a[0].Int(), a[1].Pointer(), a[2].SizeT(), a[3].Uint())
}

// doSignalfd makes a signalfd for the signals of the set at maskAddr, or
// with fd != -1 changes the set of the signalfd fd. SIGKILL and SIGSTOP
// are quietly left out of the set.
func doSignalfd(t *kernel.Task, fd int32, maskAddr uintptr, size uint, flags uint32) (uintptr, error) {
	if flags&^(signalfd.SFD_CLOEXEC|signalfd.SFD_NONBLOCK) != 0 || size != sigsetSize {
		return 0, unix.EINVAL
	}
	var b [sigsetSize]byte
	if _, err := t.CopyIn(maskAddr, b[:]); err != nil {
		return 0, err
	}
	mask := binary.LittleEndian.Uint64(b[:]) &^ (1<<(kernel.SIGKILL-1) | 1<<(kernel.SIGSTOP-1))
	if fd != -1 {
		f, err := getFile(t, fd)
		if err != nil {
			return 0, err
		}
		defer f.DecRef()
		s, ok := f.Impl().(*signalfd.SignalFD)
		if !ok {
			return 0, unix.EINVAL
		}
		s.SetMask(mask)
		return uintptr(fd), nil
	}
	f := signalfd.New(t, mask, flags&signalfd.SFD_NONBLOCK)
	defer f.DecRef()
	nfd, err := t.FDTable().NewFD(0, f, flags&signalfd.SFD_CLOEXEC != 0, nofile(t))
	return uintptr(nfd), err
}
