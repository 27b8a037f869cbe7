package kernel

import "golang.org/x/sys/unix"

var (
	errAgain = unix.EAGAIN
	errPerm  = unix.EPERM
)
