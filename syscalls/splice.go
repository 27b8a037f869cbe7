package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/fs/pipe"
	"palisade.dev/sentry/kernel"
	. "palisade.dev/sentry/strace"
	"palisade.dev/sentry/vfs"
	"palisade.dev/sentry/waiter"
)

func init() {
	full(unix.SYS_SENDFILE, Sendfile, FD, FD, Ptr, Int)
	full(unix.SYS_SPLICE, Splice, FD, Ptr, FD, Ptr, Int, Hex)
	full(unix.SYS_TEE, Tee, FD, FD, Int, Hex)
	full(unix.SYS_VMSPLICE, Vmsplice, FD, Ptr, Int, Hex)
	full(unix.SYS_COPY_FILE_RANGE, CopyFileRange, FD, Ptr, FD, Ptr, Int, Hex)
}

// splice(2) flags.
const (
	spliceMove     = 1
	spliceNonblock = 2
	spliceMore     = 4
	spliceGift     = 8
)

// spliceChunk is how much one step of a transfer moves at most.
const spliceChunk = 64 << 10

// pipeOf returns the pipe f is an end of (a pipe or a FIFO), or nil.
func pipeOf(f *vfs.FileDescription) *pipe.Pipe {
	if p, ok := f.Impl().(interface{ Pipe() *pipe.Pipe }); ok {
		return p.Pipe()
	}
	return nil
}

// endpoint is one side of a transfer: a file and, for positional I/O, an
// offset that the transfer advances instead of the file's own.
type endpoint struct {
	f   *vfs.FileDescription
	off *int64
	p   *pipe.Pipe
}

// transfer moves up to n bytes from in to out without losing any: a pipe
// source is peeked and only what out took is consumed; a pipe destination
// is never offered more than it has room for. It blocks (interruptibly)
// only before the first byte, unless nonblock; after that it returns what
// it moved.
func transfer(t *kernel.Task, in, out endpoint, n int64, nonblock bool) (int64, error) {
	var buf []byte
	var done int64
	for done < n {
		chunk := int(min(n-done, spliceChunk))
		if out.p != nil {
			room, err := out.p.Room()
			if err != nil {
				if done > 0 {
					return done, nil
				}
				return 0, epipe(t, err)
			}
			if room == 0 {
				if done > 0 {
					return done, nil
				}
				if err := waitSplice(t, out.f, waiter.WritableEvents, nonblock); err != nil {
					return 0, err
				}
				continue
			}
			chunk = min(chunk, room)
		}
		if buf == nil {
			buf = make([]byte, min(n, spliceChunk))
		}
		k, more, err := transferChunk(t, in, out, buf[:chunk])
		if err == unix.EAGAIN && in.p != nil && done == 0 {
			if err := waitSplice(t, in.f, waiter.ReadableEvents, nonblock); err != nil {
				return 0, err
			}
			continue
		}
		done += int64(k)
		if err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		if !more {
			return done, nil
		}
	}
	return done, nil
}

// transferChunk moves up to len(buf) bytes once. more is false when the
// source ended or the destination took less than offered.
func transferChunk(t *kernel.Task, in, out endpoint, buf []byte) (moved int, more bool, err error) {
	var k int
	switch {
	case in.p != nil:
		in.p.LockRead()
		defer in.p.UnlockRead()
		k, err = in.p.Peek(buf)
	case in.off != nil:
		k, err = in.f.PRead(t, buf, *in.off)
	default:
		k, err = in.f.Read(t, buf)
	}
	if err != nil || k == 0 {
		return 0, false, err
	}
	var w int
	if out.off != nil {
		w, err = out.f.PWrite(t, buf[:k], *out.off)
		if w > 0 {
			*out.off += int64(w)
		}
	} else {
		w, err = out.f.Write(t, buf[:k])
	}
	if err == unix.EPIPE {
		err = epipe(t, err)
	}
	switch {
	case in.p != nil:
		in.p.Consume(w)
	case in.off != nil:
		*in.off += int64(w)
	case w < k:
		// A stream source that already gave more than out took: the
		// rest is lost, as it would be with read and write. Only
		// non-pipe streams (devices, eventfd) get here.
	}
	return w, err == nil && w == k && k == len(buf), err
}

// waitSplice waits for f to become ready, or says EAGAIN when the caller
// must not block.
func waitSplice(t *kernel.Task, f *vfs.FileDescription, mask waiter.EventMask, nonblock bool) error {
	if nonblock {
		return unix.EAGAIN
	}
	return waitReady(t, f, mask)
}

// copyInOffset reads a loff_t argument.
func copyInOffset(t *kernel.Task, addr uintptr) (int64, error) {
	v, err := t.CopyInUint64(addr)
	if err != nil {
		return 0, unix.EFAULT
	}
	return int64(v), nil
}

func copyOutOffset(t *kernel.Task, addr uintptr, off int64) error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(off))
	if _, err := t.CopyOut(addr, b[:]); err != nil {
		return unix.EFAULT
	}
	return nil
}

// seekable reports whether f takes positional I/O: regular files do;
// pipes, sockets and devices are streams here.
func seekable(t *kernel.Task, f *vfs.FileDescription) bool {
	d := f.Dentry()
	return d != nil && d.Mode()&vfs.S_IFMT == vfs.S_IFREG
}

// Sendfile implements sendfile(2).
func Sendfile(t *kernel.Task, a args) (uintptr, error) {
	out, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer out.DecRef()
	in, err := getFile(t, a[1].Int())
	if err != nil {
		return 0, err
	}
	defer in.DecRef()
	offAddr, count := a[2].Pointer(), int64(a[3].Uint64())
	if !in.Readable() || !out.Writable() {
		return 0, unix.EBADF
	}
	if out.Flags()&unix.O_APPEND != 0 {
		return 0, unix.EINVAL
	}
	if in.Dentry() != nil && in.Dentry().Mode()&vfs.S_IFMT == vfs.S_IFDIR {
		return 0, unix.EINVAL
	}
	if count < 0 {
		return 0, unix.EINVAL
	}
	count = min(count, maxRW)
	src := endpoint{f: in, p: pipeOf(in)}
	dst := endpoint{f: out, p: pipeOf(out)}
	var off int64
	if offAddr != 0 {
		if src.p != nil || !seekable(t, in) {
			return 0, unix.ESPIPE
		}
		if off, err = copyInOffset(t, offAddr); err != nil {
			return 0, err
		}
		if off < 0 {
			return 0, unix.EINVAL
		}
		src.off = &off
	} else if src.p == nil && seekable(t, in) {
		// Read at the file offset and move it by what was sent.
		pos, _ := in.Seek(t, 0, unix.SEEK_CUR)
		off = pos
		src.off = &off
		defer func() { in.Seek(t, off, unix.SEEK_SET) }()
	}
	if count == 0 {
		return 0, nil
	}
	nonblock := out.Flags()&unix.O_NONBLOCK != 0
	n, err := transfer(t, src, dst, count, nonblock)
	if offAddr != 0 && n > 0 {
		if err := copyOutOffset(t, offAddr, off); err != nil {
			return 0, err
		}
	}
	return uintptr(n), err
}

// Splice implements splice(2).
func Splice(t *kernel.Task, a args) (uintptr, error) {
	inFD, inOffAddr, outFD, outOffAddr := a[0].Int(), a[1].Pointer(), a[2].Int(), a[3].Pointer()
	count, flags := int64(min(a[4].Uint64(), maxRW)), a[5].Uint()
	if flags&^(spliceMove|spliceNonblock|spliceMore|spliceGift) != 0 {
		return 0, unix.EINVAL
	}
	in, err := getFile(t, inFD)
	if err != nil {
		return 0, err
	}
	defer in.DecRef()
	out, err := getFile(t, outFD)
	if err != nil {
		return 0, err
	}
	defer out.DecRef()
	if !in.Readable() || !out.Writable() {
		return 0, unix.EBADF
	}
	src := endpoint{f: in, p: pipeOf(in)}
	dst := endpoint{f: out, p: pipeOf(out)}
	if src.p == nil && dst.p == nil {
		return 0, unix.EINVAL
	}
	if src.p != nil && src.p == dst.p {
		return 0, unix.EINVAL
	}
	if out.Flags()&unix.O_APPEND != 0 && dst.p == nil {
		return 0, unix.EINVAL
	}
	var inOff, outOff int64
	for _, e := range []struct {
		addr uintptr
		ep   *endpoint
		off  *int64
	}{{inOffAddr, &src, &inOff}, {outOffAddr, &dst, &outOff}} {
		if e.addr == 0 {
			continue
		}
		if e.ep.p != nil || !seekable(t, e.ep.f) {
			return 0, unix.ESPIPE
		}
		v, err := copyInOffset(t, e.addr)
		if err != nil {
			return 0, err
		}
		if v < 0 {
			return 0, unix.EINVAL
		}
		*e.off = v
		e.ep.off = e.off
	}
	if count == 0 {
		return 0, nil
	}
	nonblock := flags&spliceNonblock != 0 || (in.Flags()|out.Flags())&unix.O_NONBLOCK != 0
	n, err := transfer(t, src, dst, count, nonblock)
	if n > 0 {
		if inOffAddr != 0 {
			if err := copyOutOffset(t, inOffAddr, inOff); err != nil {
				return 0, err
			}
		}
		if outOffAddr != 0 {
			if err := copyOutOffset(t, outOffAddr, outOff); err != nil {
				return 0, err
			}
		}
	}
	return uintptr(n), err
}

// Tee implements tee(2): it copies from one pipe to another without
// consuming.
func Tee(t *kernel.Task, a args) (uintptr, error) {
	count, flags := int64(min(a[2].Uint64(), maxRW)), a[3].Uint()
	if flags&^(spliceMove|spliceNonblock|spliceMore|spliceGift) != 0 {
		return 0, unix.EINVAL
	}
	in, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer in.DecRef()
	out, err := getFile(t, a[1].Int())
	if err != nil {
		return 0, err
	}
	defer out.DecRef()
	if !in.Readable() || !out.Writable() {
		return 0, unix.EBADF
	}
	src, dst := pipeOf(in), pipeOf(out)
	if src == nil || dst == nil || src == dst {
		return 0, unix.EINVAL
	}
	if count == 0 {
		return 0, nil
	}
	nonblock := flags&spliceNonblock != 0 || (in.Flags()|out.Flags())&unix.O_NONBLOCK != 0
	for {
		room, err := dst.Room()
		if err != nil {
			return 0, epipe(t, err)
		}
		if room > 0 {
			buf := make([]byte, min(count, int64(room), spliceChunk))
			src.LockRead()
			k, err := src.Peek(buf)
			src.UnlockRead()
			if err == unix.EAGAIN {
				if err := waitSplice(t, in, waiter.ReadableEvents, nonblock); err != nil {
					return 0, err
				}
				continue
			}
			if err != nil || k == 0 {
				return 0, err
			}
			w, err := out.Write(t, buf[:k])
			if w > 0 {
				return uintptr(w), nil
			}
			return 0, epipe(t, err)
		}
		if err := waitSplice(t, out, waiter.WritableEvents, nonblock); err != nil {
			return 0, err
		}
	}
}

// Vmsplice implements vmsplice(2) by copying: into a pipe's write end
// from the iovecs, or out of a read end into them.
func Vmsplice(t *kernel.Task, a args) (uintptr, error) {
	fd, iov, nr, flags := a[0].Int(), a[1].Pointer(), a[2].Int(), a[3].Uint()
	if flags&^(spliceMove|spliceNonblock|spliceMore|spliceGift) != 0 {
		return 0, unix.EINVAL
	}
	f, err := getFile(t, fd)
	if err != nil {
		return 0, err
	}
	p := pipeOf(f)
	write := f.Writable()
	f.DecRef()
	if p == nil {
		return 0, unix.EBADF
	}
	if flags&spliceNonblock != 0 {
		// The copy honours the description's O_NONBLOCK; SPLICE_F_NONBLOCK
		// on a blocking pipe is treated the same way for a full or empty
		// pipe.
		room, err := p.Room()
		if write && err == nil && room == 0 {
			return 0, unix.EAGAIN
		}
		if !write && p.Unread() == 0 {
			return 0, unix.EAGAIN
		}
	}
	return vectored(t, fd, iov, nr, -1, write)
}

// CopyFileRange implements copy_file_range(2) between regular files.
func CopyFileRange(t *kernel.Task, a args) (uintptr, error) {
	inOffAddr, outOffAddr := a[1].Pointer(), a[3].Pointer()
	count, flags := int64(min(a[4].Uint64(), maxRW)), a[5].Uint()
	if flags != 0 {
		return 0, unix.EINVAL
	}
	in, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer in.DecRef()
	out, err := getFile(t, a[2].Int())
	if err != nil {
		return 0, err
	}
	defer out.DecRef()
	if !in.Readable() || !out.Writable() || out.Flags()&unix.O_APPEND != 0 {
		return 0, unix.EBADF
	}
	for _, f := range []*vfs.FileDescription{in, out} {
		switch f.Dentry().Mode() & vfs.S_IFMT {
		case vfs.S_IFREG:
		case vfs.S_IFDIR:
			return 0, unix.EISDIR
		default:
			return 0, unix.EINVAL
		}
	}
	var inOff, outOff int64
	if inOffAddr != 0 {
		if inOff, err = copyInOffset(t, inOffAddr); err != nil {
			return 0, err
		}
	} else {
		inOff, _ = in.Seek(t, 0, unix.SEEK_CUR)
	}
	if outOffAddr != 0 {
		if outOff, err = copyInOffset(t, outOffAddr); err != nil {
			return 0, err
		}
	} else {
		outOff, _ = out.Seek(t, 0, unix.SEEK_CUR)
	}
	if inOff < 0 || outOff < 0 {
		return 0, unix.EINVAL
	}
	if in.Dentry() == out.Dentry() && inOff < outOff+count && outOff < inOff+count {
		return 0, unix.EINVAL
	}
	if count == 0 {
		return 0, nil
	}
	n, err := transfer(t, endpoint{f: in, off: &inOff}, endpoint{f: out, off: &outOff}, count, true)
	if n > 0 {
		if inOffAddr != 0 {
			if err := copyOutOffset(t, inOffAddr, inOff); err != nil {
				return 0, err
			}
		} else {
			in.Seek(t, inOff, unix.SEEK_SET)
		}
		if outOffAddr != 0 {
			if err := copyOutOffset(t, outOffAddr, outOff); err != nil {
				return 0, err
			}
		} else {
			out.Seek(t, outOff, unix.SEEK_SET)
		}
	}
	return uintptr(n), err
}
