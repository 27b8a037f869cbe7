package host

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hostIoctl runs one of the whitelisted terminal ioctls on the sentry's
// own host FD with buf as its argument.
func hostIoctl(fd int, cmd uint32, buf []byte) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(cmd), uintptr(unsafe.Pointer(&buf[0])))
	if e != 0 {
		return e
	}
	return nil
}
