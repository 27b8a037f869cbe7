// Package strace formats system calls for --strace logs: the name, the
// arguments decoded by kind (paths and buffers read from application
// memory), and the result.
package strace

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
)

// Arg is how to show one argument.
type Arg int

// Argument kinds.
const (
	Hex    Arg = iota // 0x1f
	Int               // signed decimal
	Oct               // 0644
	FD                // file descriptor (AT_FDCWD shown by name)
	Path              // NUL-terminated string
	InBuf             // buffer the call reads; its length is the next argument
	OutBuf            // buffer the call fills; its length is the return value
	Ptr               // pointer, shown in hex or NULL
	StrVec            // NULL-terminated array of strings (argv)
)

// Memory is what strace reads application memory with.
type Memory interface {
	CopyIn(addr uintptr, dst []byte) (int, error)
	CopyInString(addr uintptr, maxLen int) (string, error)
	CopyInUint64(addr uintptr) (uint64, error)
}

const maxShown = 64

// FormatArgs renders the arguments.
func FormatArgs(mem Memory, kinds []Arg, args [6]uintptr, ret uintptr, failed bool) string {
	var b strings.Builder
	for i, k := range kinds {
		if i > 0 {
			b.WriteString(", ")
		}
		a := args[i]
		switch k {
		case Int:
			b.WriteString(strconv.FormatInt(int64(a), 10))
		case Oct:
			b.WriteString("0" + strconv.FormatUint(uint64(a), 8))
		case FD:
			if int32(a) == -100 {
				b.WriteString("AT_FDCWD")
			} else {
				b.WriteString(strconv.FormatInt(int64(int32(a)), 10))
			}
		case Path:
			s, err := mem.CopyInString(a, 4096)
			if err != nil {
				fmt.Fprintf(&b, "%#x", a)
			} else {
				b.WriteString(strconv.Quote(s))
			}
		case InBuf:
			n := uintptr(0)
			if i+1 < len(args) {
				n = args[i+1]
			}
			b.WriteString(buf(mem, a, n))
		case OutBuf:
			if failed {
				fmt.Fprintf(&b, "%#x", a)
			} else {
				b.WriteString(buf(mem, a, ret))
			}
		case Ptr:
			if a == 0 {
				b.WriteString("NULL")
			} else {
				fmt.Fprintf(&b, "%#x", a)
			}
		case StrVec:
			b.WriteString(strvec(mem, a))
		default:
			fmt.Fprintf(&b, "%#x", a)
		}
	}
	return b.String()
}

func buf(mem Memory, addr, n uintptr) string {
	if addr == 0 {
		return "NULL"
	}
	show := min(n, maxShown)
	data := make([]byte, show)
	got, _ := mem.CopyIn(addr, data)
	s := strconv.Quote(string(data[:got]))
	if n > show {
		s += "..."
	}
	return s
}

func strvec(mem Memory, addr uintptr) string {
	if addr == 0 {
		return "NULL"
	}
	var parts []string
	for i := 0; i < 32; i++ {
		p, err := mem.CopyInUint64(addr + uintptr(8*i))
		if err != nil {
			return fmt.Sprintf("%#x", addr)
		}
		if p == 0 {
			return "[" + strings.Join(parts, ", ") + "]"
		}
		s, err := mem.CopyInString(uintptr(p), 4096)
		if err != nil {
			s = fmt.Sprintf("%#x", p)
		} else {
			s = strconv.Quote(s)
		}
		parts = append(parts, s)
	}
	return "[" + strings.Join(parts, ", ") + ", ...]"
}

// FormatResult renders a return value or error.
func FormatResult(ret uintptr, errno syscall.Errno) string {
	if errno != 0 {
		return fmt.Sprintf("-1 %s (%s)", errnoName(errno), errno.Error())
	}
	if ret > 0xffff {
		return fmt.Sprintf("%#x", ret)
	}
	return strconv.FormatUint(uint64(ret), 10)
}

func errnoName(e syscall.Errno) string {
	if n, ok := errnoNames[e]; ok {
		return n
	}
	return "E" + strconv.Itoa(int(e))
}

var errnoNames = map[syscall.Errno]string{
	syscall.EPERM: "EPERM", syscall.ENOENT: "ENOENT", syscall.ESRCH: "ESRCH", syscall.EINTR: "EINTR",
	syscall.EIO: "EIO", syscall.ENXIO: "ENXIO", syscall.E2BIG: "E2BIG", syscall.ENOEXEC: "ENOEXEC",
	syscall.EBADF: "EBADF", syscall.ECHILD: "ECHILD", syscall.EAGAIN: "EAGAIN", syscall.ENOMEM: "ENOMEM",
	syscall.EACCES: "EACCES", syscall.EFAULT: "EFAULT", syscall.EBUSY: "EBUSY", syscall.EEXIST: "EEXIST",
	syscall.EXDEV: "EXDEV", syscall.ENODEV: "ENODEV", syscall.ENOTDIR: "ENOTDIR", syscall.EISDIR: "EISDIR",
	syscall.EINVAL: "EINVAL", syscall.ENFILE: "ENFILE", syscall.EMFILE: "EMFILE", syscall.ENOTTY: "ENOTTY",
	syscall.EFBIG: "EFBIG", syscall.ENOSPC: "ENOSPC", syscall.ESPIPE: "ESPIPE", syscall.EROFS: "EROFS",
	syscall.EMLINK: "EMLINK", syscall.EPIPE: "EPIPE", syscall.ERANGE: "ERANGE", syscall.ENAMETOOLONG: "ENAMETOOLONG",
	syscall.ENOSYS: "ENOSYS", syscall.ENOTEMPTY: "ENOTEMPTY", syscall.ELOOP: "ELOOP", syscall.ENODATA: "ENODATA",
	syscall.EOVERFLOW: "EOVERFLOW", syscall.ENOTSUP: "EOPNOTSUPP", syscall.ENOTSOCK: "ENOTSOCK",
}
