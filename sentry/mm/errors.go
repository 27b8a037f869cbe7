package mm

import "golang.org/x/sys/unix"

var (
	errInval    = unix.EINVAL
	errNoMem    = unix.ENOMEM
	errExist    = unix.EEXIST
	errAcces    = unix.EACCES
	errFault    = unix.EFAULT
	errOverflow = unix.EOVERFLOW
)
