package syscalls

import (
	"golang.org/x/sys/unix"

	"palisade.dev/sentry/kernel"
	. "palisade.dev/sentry/strace"
	"palisade.dev/sentry/vfs"
)

// Sockets don't exist in the sandbox yet: socket(2) itself is
// unimplemented (ENOSYS, logged). The calls that take a socket descriptor
// answer for the descriptors that do exist, none of which is a socket.
func init() {
	const note = "no sockets exist yet: non-socket descriptors get ENOTSOCK"
	for _, nr := range []uintptr{
		unix.SYS_CONNECT, unix.SYS_ACCEPT, unix.SYS_ACCEPT4, unix.SYS_SENDTO, unix.SYS_RECVFROM,
		unix.SYS_SENDMSG, unix.SYS_RECVMSG, unix.SYS_SHUTDOWN, unix.SYS_BIND, unix.SYS_LISTEN,
		unix.SYS_GETSOCKNAME, unix.SYS_GETPEERNAME, unix.SYS_SETSOCKOPT, unix.SYS_GETSOCKOPT,
		unix.SYS_SENDMMSG, unix.SYS_RECVMMSG,
	} {
		partial(nr, notSocket(nr), note, FD, Ptr, Hex)
	}
}

// notSocket returns a handler that fails with EBADF or ENOTSOCK, or with a
// logged ENOSYS for a host socket (one the container was given as stdio).
func notSocket(nr uintptr) kernel.SyscallFn {
	return func(t *kernel.Task, a args) (uintptr, error) {
		f, err := getFile(t, a[0].Int())
		if err != nil {
			return 0, err
		}
		defer f.DecRef()
		if f.Dentry().Mode()&vfs.S_IFMT == vfs.S_IFSOCK {
			t.Kernel().LogUnimplemented(t, nr, names[nr]+" on a host socket", false)
			return 0, unix.ENOSYS
		}
		return 0, unix.ENOTSOCK
	}
}
