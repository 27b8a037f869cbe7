package syscalls

import (
	"context"
	"encoding/binary"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/sentry/kernel"
	"palisade.dev/sentry/kernel/auth"
	"palisade.dev/sentry/mm"
	. "palisade.dev/sentry/strace"
	"palisade.dev/sentry/vfs"
	"palisade.dev/sentry/waiter"
)

func init() {
	full(unix.SYS_READ, Read, FD, OutBuf, Int)
	full(unix.SYS_WRITE, Write, FD, InBuf, Int)
	full(unix.SYS_PREAD64, Pread64, FD, OutBuf, Int, Int)
	full(unix.SYS_PWRITE64, Pwrite64, FD, InBuf, Int, Int)
	full(unix.SYS_READV, Readv, FD, Ptr, Int)
	full(unix.SYS_WRITEV, Writev, FD, Ptr, Int)
	full(unix.SYS_PREADV, Preadv, FD, Ptr, Int, Int)
	full(unix.SYS_PWRITEV, Pwritev, FD, Ptr, Int, Int)
	partial(unix.SYS_PREADV2, Preadv2, "RWF_NOWAIT and RWF_APPEND act; RWF_HIPRI, RWF_DSYNC and RWF_SYNC are accepted and ignored", FD, Ptr, Int, Int, Int, Hex)
	partial(unix.SYS_PWRITEV2, Pwritev2, "RWF_NOWAIT and RWF_APPEND act; RWF_HIPRI, RWF_DSYNC and RWF_SYNC are accepted and ignored", FD, Ptr, Int, Int, Int, Hex)
	partial(unix.SYS_OPEN, Open, "O_TMPFILE only on tmpfs", Path, Hex, Oct)
	partial(unix.SYS_OPENAT, Openat, "O_TMPFILE only on tmpfs", FD, Path, Hex, Oct)
	partial(unix.SYS_OPENAT2, Openat2, "O_TMPFILE only on tmpfs; RESOLVE_CACHED always fails with EAGAIN", FD, Path, Ptr, Int)
	full(unix.SYS_CREAT, Creat, Path, Oct)
	full(unix.SYS_CLOSE, Close, FD)
	full(unix.SYS_CLOSE_RANGE, CloseRange, Int, Int, Hex)
	full(unix.SYS_STAT, Stat, Path, Ptr)
	full(unix.SYS_LSTAT, Lstat, Path, Ptr)
	full(unix.SYS_FSTAT, Fstat, FD, Ptr)
	full(unix.SYS_NEWFSTATAT, Newfstatat, FD, Path, Ptr, Hex)
	full(unix.SYS_STATX, Statx, FD, Path, Hex, Hex, Ptr)
	full(unix.SYS_LSEEK, Lseek, FD, Int, Int)
	full(unix.SYS_GETDENTS, Getdents, FD, Ptr, Int)
	full(unix.SYS_GETDENTS64, Getdents64, FD, Ptr, Int)
	full(unix.SYS_READLINK, Readlink, Path, OutBuf, Int)
	full(unix.SYS_READLINKAT, Readlinkat, FD, Path, OutBuf, Int)
	partial(unix.SYS_ACCESS, Access, "permission bits checked against real IDs; no ACLs", Path, Oct)
	partial(unix.SYS_FACCESSAT, Faccessat, "permission bits checked against real IDs; no ACLs", FD, Path, Oct)
	partial(unix.SYS_FACCESSAT2, Faccessat2, "permission bits checked; no ACLs", FD, Path, Oct, Hex)
	full(unix.SYS_GETCWD, Getcwd, OutBuf, Int)
	full(unix.SYS_CHDIR, Chdir, Path)
	full(unix.SYS_FCHDIR, Fchdir, FD)
	full(unix.SYS_CHROOT, Chroot, Path)
	full(unix.SYS_DUP, Dup, FD)
	full(unix.SYS_DUP2, Dup2, FD, FD)
	full(unix.SYS_DUP3, Dup3, FD, FD, Hex)
	partial(unix.SYS_FCNTL, Fcntl, "O_ASYNC sends SIGIO (or F_SETSIG's signal) for pipes, FIFOs, terminals and inotify; no SIGURG, leases or F_NOTIFY", FD, Int, Hex)
	partial(unix.SYS_IOCTL, Ioctl, "FIOCLEX/FIONCLEX/FIONBIO, and terminal TCGETS/TCSETS*/TIOCGWINSZ/TIOCSWINSZ on host TTYs", FD, Hex, Hex)
	full(unix.SYS_STATFS, Statfs, Path, Ptr)
	full(unix.SYS_FSTATFS, Fstatfs, FD, Ptr)
	full(unix.SYS_UMASK, Umask, Oct)
	partial(unix.SYS_FADVISE64, Fadvise64, "advice is validated and ignored", FD, Int, Int, Int)
}

const ioChunk = 64 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, ioChunk); return &b }}

// getFile returns the file at fd with a reference, or EBADF.
func getFile(t *kernel.Task, fd int32) (*vfs.FileDescription, error) {
	f, _ := t.FDTable().Get(int(fd))
	if f == nil {
		return nil, unix.EBADF
	}
	return f, nil
}

func isRegular(f *vfs.FileDescription) bool {
	return f.Dentry().Mode()&vfs.S_IFMT == vfs.S_IFREG
}

// readInto reads up to count bytes from f (at off, or at the file offset if
// off < 0) into application memory at addr.
func readInto(t *kernel.Task, f *vfs.FileDescription, addr uintptr, count int, off int64) (int, error) {
	return readIntoFlags(t, f, addr, count, off, false)
}

// readIntoFlags is readInto; with nowait, a file with nothing to read
// says EAGAIN at once, as if the description were non-blocking
// (preadv2's RWF_NOWAIT).
func readIntoFlags(t *kernel.Task, f *vfs.FileDescription, addr uintptr, count int, off int64, nowait bool) (int, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	if !isRegular(f) && count > len(buf) {
		// A stream must be read with one call: a second could block
		// after data has already been returned.
		buf = make([]byte, min(count, 1<<20))
	}
	total := 0
	for total < count {
		n := min(count-total, len(buf))
		var got int
		var err error
		for {
			if off >= 0 {
				got, err = f.PRead(t, buf[:n], off+int64(total))
			} else {
				got, err = f.Read(t, buf[:n])
			}
			if err != unix.EAGAIN || total > 0 || nowait {
				break
			}
			if err = waitReady(t, f, waiter.ReadableEvents); err != nil {
				break
			}
		}
		if got > 0 {
			c, cerr := t.CopyOut(addr+uintptr(total), buf[:got])
			total += c
			if cerr != nil {
				if total == 0 {
					return 0, cerr
				}
				return total, nil
			}
		}
		if err != nil {
			if total > 0 {
				return total, nil
			}
			return 0, err
		}
		if got < n || !isRegular(f) {
			break
		}
	}
	if total > 0 {
		vfs.NotifyFile(f.Dentry(), vfs.InAccess)
	}
	return total, nil
}

// writeFrom writes count bytes of application memory at addr to f.
func writeFrom(t *kernel.Task, f *vfs.FileDescription, addr uintptr, count int, off int64) (int, error) {
	return writeFromFlags(t, f, addr, count, off, false)
}

// writeFromFlags is writeFrom; with nowait, a file with no room returns
// what was written, or EAGAIN, at once (pwritev2's RWF_NOWAIT).
func writeFromFlags(t *kernel.Task, f *vfs.FileDescription, addr uintptr, count int, off int64, nowait bool) (int, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	total := 0
	for total < count {
		n := min(count-total, len(buf))
		c, cerr := t.CopyIn(addr+uintptr(total), buf[:n])
		if c == 0 && cerr != nil {
			if total == 0 {
				return 0, cerr
			}
			return total, nil
		}
		var w int
		var err error
		for done := 0; ; {
			if off >= 0 {
				w, err = f.PWrite(t, buf[done:c], off+int64(total+done))
			} else {
				w, err = f.Write(t, buf[done:c])
			}
			done += w
			if (err != nil && err != unix.EAGAIN) || done == c || nowait {
				w = done
				break
			}
			// A blocking write waits until it has written everything.
			if werr := waitReady(t, f, waiter.WritableEvents); werr != nil {
				w, err = done, werr
				break
			}
		}
		total += w
		if err != nil {
			if total > 0 {
				return total, nil
			}
			return 0, err
		}
		if w < c || cerr != nil {
			break
		}
	}
	if total > 0 {
		vfs.NotifyFile(f.Dentry(), vfs.InModify)
	}
	return total, nil
}

// epipe raises SIGPIPE for a write that failed with EPIPE, as Linux does.
func epipe(t *kernel.Task, err error) error {
	if err == unix.EPIPE {
		t.SendSignalSelf(kernel.SIGPIPE)
	}
	return err
}

// waitReady blocks until f may be ready for the events in mask, for a
// file that said EAGAIN. A non-blocking description, or a file that can't
// be waited for, keeps the EAGAIN; an interrupted wait becomes
// ERESTARTSYS (the call restarts, or fails with EINTR if a handler runs
// without SA_RESTART).
func waitReady(t *kernel.Task, f *vfs.FileDescription, mask waiter.EventMask) error {
	w, ok := f.Impl().(waiter.Waitable)
	if !ok || f.Flags()&unix.O_NONBLOCK != 0 {
		return unix.EAGAIN
	}
	if err := t.BlockOn(w, mask, time.Time{}); err != nil {
		if err == kernel.ErrInterrupted {
			return linux.ERESTARTSYS
		}
		return err
	}
	return nil
}

// maxRW is MAX_RW_COUNT: Linux caps a single transfer just below 2 GiB.
const maxRW = 0x7ffff000

func clampCount(c uint) int { return int(min(c, maxRW)) }

// Read implements read(2).
func Read(t *kernel.Task, a args) (uintptr, error) {
	f, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if !f.Readable() {
		return 0, unix.EBADF
	}
	if a[2].Int64() < 0 {
		return 0, unix.EINVAL
	}
	n, err := readInto(t, f, a[1].Pointer(), clampCount(a[2].SizeT()), -1)
	return uintptr(n), err
}

// Write implements write(2).
func Write(t *kernel.Task, a args) (uintptr, error) {
	f, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if !f.Writable() {
		return 0, unix.EBADF
	}
	if a[2].Int64() < 0 {
		return 0, unix.EINVAL
	}
	n, err := writeFrom(t, f, a[1].Pointer(), clampCount(a[2].SizeT()), -1)
	return uintptr(n), epipe(t, err)
}

// Pread64 implements pread64(2).
func Pread64(t *kernel.Task, a args) (uintptr, error) {
	f, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if !f.Readable() {
		return 0, unix.EBADF
	}
	if a[3].Int64() < 0 || a[2].Int64() < 0 {
		return 0, unix.EINVAL
	}
	n, err := readInto(t, f, a[1].Pointer(), clampCount(a[2].SizeT()), a[3].Int64())
	return uintptr(n), err
}

// Pwrite64 implements pwrite64(2).
func Pwrite64(t *kernel.Task, a args) (uintptr, error) {
	f, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if !f.Writable() {
		return 0, unix.EBADF
	}
	if a[3].Int64() < 0 || a[2].Int64() < 0 {
		return 0, unix.EINVAL
	}
	n, err := writeFrom(t, f, a[1].Pointer(), clampCount(a[2].SizeT()), a[3].Int64())
	return uintptr(n), epipe(t, err)
}

// vectored does readv/writev-family transfers.
func vectored(t *kernel.Task, fd int32, iovAddr uintptr, iovcnt int32, off int64, write bool) (uintptr, error) {
	return vectoredFlags(t, fd, iovAddr, iovcnt, off, write, 0)
}

// RWF_* flags of preadv2 and pwritev2 that change the transfer.
const (
	rwfNowait = 0x8
	rwfAppend = 0x10
)

// vectoredFlags is vectored with preadv2/pwritev2 flags: RWF_NOWAIT
// does not wait for a file to be ready (EAGAIN if nothing could be
// moved); RWF_APPEND writes a regular file at its end whatever off says,
// and with off -1 leaves the file offset at the new end. (Without an
// O_APPEND description the end is read before the write: appenders
// racing through other descriptions may interleave.)
func vectoredFlags(t *kernel.Task, fd int32, iovAddr uintptr, iovcnt int32, off int64, write bool, flags uint32) (uintptr, error) {
	f, err := getFile(t, fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if (write && !f.Writable()) || (!write && !f.Readable()) {
		return 0, unix.EBADF
	}
	if iovcnt < 0 || iovcnt > mm.MaxIOVecs {
		return 0, unix.EINVAL
	}
	iovs, err := t.MemoryManager().CopyInIOVecs(iovAddr, int(iovcnt))
	if err != nil {
		return 0, err
	}
	nowait := flags&rwfNowait != 0
	appendOff := int64(-1)
	if write && flags&rwfAppend != 0 && isRegular(f) && f.Flags()&unix.O_APPEND == 0 {
		st, err := f.Stat(t)
		if err != nil {
			return 0, err
		}
		appendOff = int64(st.Size)
		if off == -1 {
			defer func() {
				if appendOff >= 0 {
					f.Seek(t, appendOff, unix.SEEK_SET)
				}
			}()
		}
		off = appendOff
	}
	total := 0
	for _, v := range iovs {
		if v.Len == 0 {
			continue
		}
		cur := int64(-1)
		if off >= 0 {
			cur = off + int64(total)
		}
		var n int
		if write {
			n, err = writeFromFlags(t, f, v.Base, clampCount(uint(v.Len)), cur, nowait)
			if appendOff >= 0 {
				appendOff += int64(n)
			}
		} else {
			n, err = readIntoFlags(t, f, v.Base, clampCount(uint(v.Len)), cur, nowait)
		}
		total += n
		if err != nil {
			if total > 0 {
				return uintptr(total), nil
			}
			if write {
				return 0, epipe(t, err)
			}
			return 0, err
		}
		if uint64(n) < v.Len {
			break
		}
	}
	return uintptr(total), nil
}

// Readv implements readv(2).
func Readv(t *kernel.Task, a args) (uintptr, error) {
	return vectored(t, a[0].Int(), a[1].Pointer(), a[2].Int(), -1, false)
}

// Writev implements writev(2).
func Writev(t *kernel.Task, a args) (uintptr, error) {
	return vectored(t, a[0].Int(), a[1].Pointer(), a[2].Int(), -1, true)
}

// Preadv implements preadv(2).
func Preadv(t *kernel.Task, a args) (uintptr, error) {
	if a[3].Int64() < 0 {
		return 0, unix.EINVAL
	}
	return vectored(t, a[0].Int(), a[1].Pointer(), a[2].Int(), a[3].Int64(), false)
}

// Pwritev implements pwritev(2).
func Pwritev(t *kernel.Task, a args) (uintptr, error) {
	if a[3].Int64() < 0 {
		return 0, unix.EINVAL
	}
	return vectored(t, a[0].Int(), a[1].Pointer(), a[2].Int(), a[3].Int64(), true)
}

const rwfSupported = 0x1f // RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_NOWAIT | RWF_APPEND

// Preadv2 implements preadv2(2): an offset of -1 uses the file offset.
func Preadv2(t *kernel.Task, a args) (uintptr, error) {
	if a[5].Int()&^rwfSupported != 0 {
		return 0, unix.EOPNOTSUPP
	}
	off := a[3].Int64()
	if off < -1 {
		return 0, unix.EINVAL
	}
	return vectoredFlags(t, a[0].Int(), a[1].Pointer(), a[2].Int(), off, false, a[5].Uint())
}

// Pwritev2 implements pwritev2(2).
func Pwritev2(t *kernel.Task, a args) (uintptr, error) {
	if a[5].Int()&^rwfSupported != 0 {
		return 0, unix.EOPNOTSUPP
	}
	off := a[3].Int64()
	if off < -1 {
		return 0, unix.EINVAL
	}
	return vectoredFlags(t, a[0].Int(), a[1].Pointer(), a[2].Int(), off, true, a[5].Uint())
}

func copyInPath(t *kernel.Task, addr uintptr) (string, error) {
	p, err := t.CopyInString(addr, vfs.PathMax-1)
	if err == unix.ENAMETOOLONG {
		return "", unix.ENAMETOOLONG
	}
	return p, err
}

// Open implements open(2).
func Open(t *kernel.Task, a args) (uintptr, error) {
	return openat(t, unix.AT_FDCWD, a[0].Pointer(), uint32(a[1].Uint()), a[2].Uint())
}

// Openat implements openat(2).
func Openat(t *kernel.Task, a args) (uintptr, error) {
	return openat(t, a[0].Int(), a[1].Pointer(), uint32(a[2].Uint()), a[3].Uint())
}

// Creat implements creat(2).
func Creat(t *kernel.Task, a args) (uintptr, error) {
	return openat(t, unix.AT_FDCWD, a[0].Pointer(), unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, a[1].Uint())
}

// Openat2 implements openat2(2): openat with struct open_how, whose
// RESOLVE_* flags restrict the walk. RESOLVE_CACHED always fails with
// EAGAIN, which the man page allows whenever the lookup cannot be done
// from the cache alone: the sentry's filesystems do not say whether a
// lookup would hit their dentry caches, and callers retry without the
// flag.
func Openat2(t *kernel.Task, a args) (uintptr, error) {
	dirfd, pathAddr, howAddr, size := a[0].Int(), a[1].Pointer(), a[2].Pointer(), a[3].Uint64()
	if err := vfs.CheckOpenHowSize(size); err != nil {
		return 0, err
	}
	b := make([]byte, size)
	if _, err := t.CopyIn(howAddr, b); err != nil {
		return 0, unix.EFAULT
	}
	how, err := vfs.ParseOpenHow(b)
	if err != nil {
		return 0, err
	}
	if err := how.Validate(); err != nil {
		return 0, err
	}
	path, err := copyInPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	if how.Resolve&vfs.ResolveCached != 0 && path != "" {
		return 0, unix.EAGAIN
	}
	return openPath(t, dirfd, path, uint32(how.Flags), uint32(how.Mode), how.Resolve)
}

// pathFile is an O_PATH description: it names a file but does no I/O.
type pathFile struct{ vfs.FileDefaults }

func openat(t *kernel.Task, dirfd int32, pathAddr uintptr, flags uint32, mode uint32) (uintptr, error) {
	path, err := copyInPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	return openPath(t, dirfd, path, flags, mode, 0)
}

// openResolveOpts returns how the open family walks path from dirfd
// under openat2's resolve flags: RESOLVE_IN_ROOT starts even an absolute
// path at dirfd.
func openResolveOpts(t *kernel.Task, dirfd int32, path string, resolve uint64) (vfs.ResolveOpts, error) {
	o := vfs.ResolveOpts{Root: t.FSContext().Root(), Resolve: resolve}
	if resolve&unix.RESOLVE_IN_ROOT != 0 && strings.HasPrefix(path, "/") && dirfd != unix.AT_FDCWD {
		f, err := getFile(t, dirfd)
		if err != nil {
			return o, err
		}
		o.Start = f.VirtualDentry()
		f.DecRef()
		if o.Start.Dentry.Mode()&vfs.S_IFMT != vfs.S_IFDIR {
			return o, unix.ENOTDIR
		}
		return o, nil
	}
	start, err := t.StartDir(dirfd, path)
	o.Start = start
	return o, err
}

// openPath opens path relative to dirfd as openat(2) does, with
// openat2(2)'s resolve flags.
func openPath(t *kernel.Task, dirfd int32, path string, flags, mode uint32, resolve uint64) (uintptr, error) {
	if flags&unix.O_ACCMODE == unix.O_ACCMODE && flags&unix.O_PATH == 0 {
		return 0, unix.EINVAL
	}
	if flags&unix.O_TMPFILE == unix.O_TMPFILE {
		return openTmpfile(t, dirfd, path, flags, mode, resolve)
	}
	o, err := openResolveOpts(t, dirfd, path, resolve)
	if err != nil {
		return 0, err
	}
	o.FollowFinal = flags&unix.O_NOFOLLOW == 0
	if flags&(unix.O_CREAT|unix.O_EXCL) == unix.O_CREAT|unix.O_EXCL {
		o.FollowFinal = false
	}
	ns := t.Kernel().MountNS
	created := false
	var vd vfs.VirtualDentry
	if flags&unix.O_CREAT != 0 && flags&unix.O_PATH == 0 {
		for tries := 0; ; tries++ {
			var parent vfs.VirtualDentry
			var name string
			vd, parent, name, err = ns.ResolveCreate(t, path, o)
			if err != unix.ENOENT || !parent.Ok() {
				break
			}
			vd, err = createFile(t, parent, name, mode)
			// Another task may have made the name since the
			// walk: without O_EXCL, open what it made.
			if err == unix.EEXIST && flags&unix.O_EXCL == 0 && tries < 2 {
				continue
			}
			if err != nil {
				return 0, err
			}
			created = true
			break
		}
	} else {
		vd, err = ns.Resolve(t, path, o)
	}
	if err != nil {
		return 0, err
	}
	if !created && flags&(unix.O_CREAT|unix.O_EXCL) == unix.O_CREAT|unix.O_EXCL && flags&unix.O_PATH == 0 {
		return 0, unix.EEXIST
	}
	ft := vd.Dentry.Mode() & vfs.S_IFMT
	var f *vfs.FileDescription
	if flags&unix.O_PATH != 0 {
		if flags&unix.O_DIRECTORY != 0 && ft != vfs.S_IFDIR {
			return 0, unix.ENOTDIR
		}
		f = vfs.NewFileDescription(pathFile{}, vd, unix.O_PATH|flags&unix.O_DIRECTORY)
	} else {
		write := flags&unix.O_ACCMODE != unix.O_RDONLY
		switch {
		case ft == vfs.S_IFLNK:
			return 0, unix.ELOOP
		case flags&unix.O_DIRECTORY != 0 && ft != vfs.S_IFDIR:
			return 0, unix.ENOTDIR
		case ft == vfs.S_IFDIR && (write || flags&(unix.O_TRUNC|unix.O_CREAT) != 0):
			return 0, unix.EISDIR
		case (write || flags&unix.O_TRUNC != 0) && vd.Mount.ReadOnly && ft == vfs.S_IFREG:
			return 0, unix.EROFS
		case (ft == vfs.S_IFCHR || ft == vfs.S_IFBLK) && vd.Mount.Flags()&vfs.MountNoDev != 0:
			// Device nodes on a nodev mount don't open.
			return 0, unix.EACCES
		}
		if !created {
			// Permission to open as asked (the creator of a new file
			// may open it whatever its mode).
			st, err := vd.Dentry.Stat(t)
			if err != nil {
				return 0, err
			}
			want := uint32(0)
			if flags&unix.O_ACCMODE != unix.O_WRONLY {
				want |= 4
			}
			if write || flags&unix.O_TRUNC != 0 {
				want |= 2
			}
			if !mayAccessAs(t, st, want) {
				return 0, unix.EACCES
			}
			if flags&unix.O_TRUNC != 0 && ft == vfs.S_IFREG && st.Size != 0 {
				if err := truncateVD(t, vd, 0); err != nil {
					return 0, err
				}
			}
		}
		if f, err = vd.Dentry.Open(t, vd, flags|unix.O_LARGEFILE); err != nil {
			return 0, err
		}
		vfs.NotifyFile(vd.Dentry, vfs.InOpen)
	}
	defer f.DecRef()
	limit := int(t.ThreadGroup().Limits().Get(kernel.RLIMIT_NOFILE).Cur)
	fd, err := t.FDTable().NewFD(0, f, flags&unix.O_CLOEXEC != 0, limit)
	return uintptr(fd), err
}

// tmpfiler is a directory that can make unnamed files (O_TMPFILE).
type tmpfiler interface {
	Tmpfile(ctx context.Context, mnt *vfs.Mount, flags uint32, o vfs.CreateOptions) (*vfs.FileDescription, error)
}

// openTmpfile implements open(2) with O_TMPFILE: an unnamed regular file
// in the directory path names, which linkat(2) may later name unless
// O_EXCL was given.
func openTmpfile(t *kernel.Task, dirfd int32, path string, flags, mode uint32, resolve uint64) (uintptr, error) {
	if acc := flags & unix.O_ACCMODE; acc != unix.O_WRONLY && acc != unix.O_RDWR {
		return 0, unix.EINVAL
	}
	if flags&unix.O_CREAT != 0 {
		return 0, unix.EINVAL
	}
	o, err := openResolveOpts(t, dirfd, path, resolve)
	if err != nil {
		return 0, err
	}
	o.FollowFinal = true
	vd, err := t.Kernel().MountNS.Resolve(t, path, o)
	if err != nil {
		return 0, err
	}
	if vd.Dentry.Mode()&vfs.S_IFMT != vfs.S_IFDIR {
		return 0, unix.ENOTDIR
	}
	if _, err := writableDir(t, vd); err != nil {
		return 0, err
	}
	tf, ok := vd.Dentry.(tmpfiler)
	if !ok {
		return 0, unix.EOPNOTSUPP
	}
	f, err := tf.Tmpfile(t, vd.Mount, flags|unix.O_LARGEFILE, createOpts(t, vfs.S_IFREG|mode&0o7777, 0))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	fd, err := t.FDTable().NewFD(0, f, flags&unix.O_CLOEXEC != 0, nofile(t))
	return uintptr(fd), err
}

// createFile creates the regular file name in parent for open(O_CREAT).
func createFile(t *kernel.Task, parent vfs.VirtualDentry, name string, mode uint32) (vfs.VirtualDentry, error) {
	dw, err := writableDir(t, parent)
	if err != nil {
		return vfs.VirtualDentry{}, err
	}
	d, err := dw.Create(t, name, createOpts(t, vfs.S_IFREG|mode&0o7777, 0))
	if err != nil {
		return vfs.VirtualDentry{}, err
	}
	vfs.NotifyChild(parent.Dentry, vfs.InCreate, name, d)
	return vfs.VirtualDentry{Mount: parent.Mount, Dentry: d}, nil
}

// Close implements close(2).
func Close(t *kernel.Task, a args) (uintptr, error) {
	f := t.FDTable().Remove(int(a[0].Int()))
	if f == nil {
		return 0, unix.EBADF
	}
	f.DecRef()
	return 0, nil
}

// CloseRange implements close_range(2).
func CloseRange(t *kernel.Task, a args) (uintptr, error) {
	first, last, flags := a[0].Uint(), a[1].Uint(), a[2].Uint()
	const cloexec, unshare = 4, 2
	if flags&^(cloexec|unshare) != 0 || first > last {
		return 0, unix.EINVAL
	}
	for _, fd := range t.FDTable().FDs() {
		if uint32(fd) < first || uint32(fd) > last {
			continue
		}
		if flags&cloexec != 0 {
			t.FDTable().SetCloexec(fd, true)
		} else if f := t.FDTable().Remove(fd); f != nil {
			f.DecRef()
		}
	}
	return 0, nil
}

// statAt resolves dirfd+path as the stat family does.
func statAt(t *kernel.Task, dirfd int32, pathAddr uintptr, flags uint32) (vfs.Statx, error) {
	path, err := copyInPath(t, pathAddr)
	if err != nil {
		return vfs.Statx{}, err
	}
	if path == "" {
		if flags&unix.AT_EMPTY_PATH == 0 {
			return vfs.Statx{}, unix.ENOENT
		}
		if dirfd == unix.AT_FDCWD {
			return t.FSContext().Cwd().Dentry.Stat(t)
		}
		f, err := getFile(t, dirfd)
		if err != nil {
			return vfs.Statx{}, err
		}
		defer f.DecRef()
		return f.Stat(t)
	}
	vd, err := t.Resolve(dirfd, path, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
	if err != nil {
		return vfs.Statx{}, err
	}
	return vd.Dentry.Stat(t)
}

func copyOutStat(t *kernel.Task, addr uintptr, st vfs.Statx, err error) (uintptr, error) {
	if err != nil {
		return 0, err
	}
	_, err = t.CopyOut(addr, st.MarshalStat())
	return 0, err
}

// Stat implements stat(2).
func Stat(t *kernel.Task, a args) (uintptr, error) {
	st, err := statAt(t, unix.AT_FDCWD, a[0].Pointer(), 0)
	return copyOutStat(t, a[1].Pointer(), st, err)
}

// Lstat implements lstat(2).
func Lstat(t *kernel.Task, a args) (uintptr, error) {
	st, err := statAt(t, unix.AT_FDCWD, a[0].Pointer(), unix.AT_SYMLINK_NOFOLLOW)
	return copyOutStat(t, a[1].Pointer(), st, err)
}

// Fstat implements fstat(2).
func Fstat(t *kernel.Task, a args) (uintptr, error) {
	f, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	st, err := f.Stat(t)
	return copyOutStat(t, a[1].Pointer(), st, err)
}

// Newfstatat implements newfstatat(2).
func Newfstatat(t *kernel.Task, a args) (uintptr, error) {
	flags := a[3].Uint()
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH|unix.AT_NO_AUTOMOUNT) != 0 {
		return 0, unix.EINVAL
	}
	st, err := statAt(t, a[0].Int(), a[1].Pointer(), flags)
	return copyOutStat(t, a[2].Pointer(), st, err)
}

// Statx implements statx(2).
func Statx(t *kernel.Task, a args) (uintptr, error) {
	flags := a[2].Uint()
	const syncType = 0x6000 // AT_STATX_SYNC_TYPE
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH|unix.AT_NO_AUTOMOUNT|syncType) != 0 ||
		flags&syncType == syncType {
		return 0, unix.EINVAL
	}
	if a[3].Uint()&0x80000000 != 0 { // STATX__RESERVED
		return 0, unix.EINVAL
	}
	st, err := statAt(t, a[0].Int(), a[1].Pointer(), flags)
	if err != nil {
		return 0, err
	}
	_, err = t.CopyOut(a[4].Pointer(), st.MarshalStatx())
	return 0, err
}

// Lseek implements lseek(2).
func Lseek(t *kernel.Task, a args) (uintptr, error) {
	f, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	whence := int(a[2].Int())
	if whence < unix.SEEK_SET || whence > unix.SEEK_HOLE {
		return 0, unix.EINVAL
	}
	off, err := f.Seek(t, a[1].Int64(), whence)
	return uintptr(off), err
}

// getdents serialises directory entries in the old or the 64-bit format.
func getdents(t *kernel.Task, a args, is64 bool) (uintptr, error) {
	f, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	size := int(min(a[2].Uint(), 1<<20))
	out := make([]byte, 0, size)
	le := binary.LittleEndian
	err = f.IterDirents(t, func(d vfs.Dirent) bool {
		var rec []byte
		if is64 {
			reclen := (19 + len(d.Name) + 1 + 7) &^ 7
			rec = make([]byte, reclen)
			le.PutUint64(rec[0:], d.Ino)
			le.PutUint64(rec[8:], uint64(d.NextOff))
			le.PutUint16(rec[16:], uint16(reclen))
			rec[18] = d.Type
			copy(rec[19:], d.Name)
		} else {
			reclen := (18 + len(d.Name) + 2 + 7) &^ 7
			rec = make([]byte, reclen)
			le.PutUint64(rec[0:], d.Ino)
			le.PutUint64(rec[8:], uint64(d.NextOff))
			le.PutUint16(rec[16:], uint16(reclen))
			copy(rec[18:], d.Name)
			rec[reclen-1] = d.Type
		}
		if len(out)+len(rec) > size {
			return false
		}
		out = append(out, rec...)
		return true
	})
	if err != nil {
		return 0, err
	}
	if len(out) == 0 {
		// Either the end, or the buffer is too small for one entry.
		var more bool
		f.IterDirents(t, func(vfs.Dirent) bool { more = true; return false })
		if more {
			return 0, unix.EINVAL
		}
		return 0, nil
	}
	if _, err := t.CopyOut(a[1].Pointer(), out); err != nil {
		return 0, err
	}
	return uintptr(len(out)), nil
}

// Getdents implements getdents(2).
func Getdents(t *kernel.Task, a args) (uintptr, error) { return getdents(t, a, false) }

// Getdents64 implements getdents64(2).
func Getdents64(t *kernel.Task, a args) (uintptr, error) { return getdents(t, a, true) }

func readlinkat(t *kernel.Task, dirfd int32, pathAddr, buf uintptr, size int32) (uintptr, error) {
	path, err := copyInPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	if size <= 0 {
		return 0, unix.EINVAL
	}
	var vd vfs.VirtualDentry
	if path == "" {
		// An O_PATH descriptor of the link itself.
		if dirfd == unix.AT_FDCWD {
			return 0, unix.ENOENT
		}
		f, err := getFile(t, dirfd)
		if err != nil {
			return 0, err
		}
		vd = f.VirtualDentry()
		f.DecRef()
		if vd.Dentry.Mode()&vfs.S_IFMT != vfs.S_IFLNK {
			return 0, unix.ENOENT
		}
	} else if vd, err = t.Resolve(dirfd, path, false); err != nil {
		return 0, err
	}
	target, err := vd.Dentry.Readlink(t)
	if err != nil {
		return 0, err
	}
	b := []byte(target)
	if len(b) > int(size) {
		b = b[:size]
	}
	n, err := t.CopyOut(buf, b)
	if err != nil {
		return 0, err
	}
	return uintptr(n), nil
}

// Readlink implements readlink(2).
func Readlink(t *kernel.Task, a args) (uintptr, error) {
	return readlinkat(t, unix.AT_FDCWD, a[0].Pointer(), a[1].Pointer(), a[2].Int())
}

// Readlinkat implements readlinkat(2).
func Readlinkat(t *kernel.Task, a args) (uintptr, error) {
	return readlinkat(t, a[0].Int(), a[1].Pointer(), a[2].Pointer(), a[3].Int())
}

func faccessat(t *kernel.Task, dirfd int32, pathAddr uintptr, mode uint32, flags uint32) (uintptr, error) {
	const rOK, wOK, xOK = 4, 2, 1
	if mode&^(rOK|wOK|xOK) != 0 {
		return 0, unix.EINVAL
	}
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EACCESS|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	path, err := copyInPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	// Without AT_EACCESS the walk and the check use the real IDs.
	c := t.Credentials()
	ctx := context.Context(t)
	if flags&unix.AT_EACCESS == 0 {
		c = accessCreds(c)
		ctx = credsContext{t, c}
	}
	var vd vfs.VirtualDentry
	if path == "" {
		if flags&unix.AT_EMPTY_PATH == 0 {
			return 0, unix.ENOENT
		}
		vd, err = t.StartDir(dirfd, "")
	} else if vd, err = t.StartDir(dirfd, path); err == nil {
		o := vfs.ResolveOpts{Root: t.FSContext().Root(), Start: vd, FollowFinal: flags&unix.AT_SYMLINK_NOFOLLOW == 0}
		vd, err = t.Kernel().MountNS.Resolve(ctx, path, o)
	}
	if err != nil {
		return 0, err
	}
	st, err := vd.Dentry.Stat(t)
	if err != nil {
		return 0, err
	}
	if mode&wOK != 0 && vd.Mount.ReadOnly && (st.Mode&vfs.S_IFMT == vfs.S_IFREG || st.Mode&vfs.S_IFMT == vfs.S_IFDIR || st.Mode&vfs.S_IFMT == vfs.S_IFLNK) {
		return 0, unix.EROFS
	}
	if !mayAccess(st, c.FSUID, c.FSGID, slices.Contains(c.Groups, st.GID), c.HasCapability(unix.CAP_DAC_OVERRIDE), c.HasCapability(unix.CAP_DAC_READ_SEARCH), mode) {
		return 0, unix.EACCES
	}
	return 0, nil
}

// accessCreds returns the credentials access(2) checks with (faccessat
// without AT_EACCESS), as Linux makes them: the real user and group as
// the filesystem IDs, and no capabilities for a real user other than
// root, whose effective set becomes its permitted set.
func accessCreds(c *auth.Credentials) *auth.Credentials {
	n := c.Copy()
	n.FSUID, n.FSGID = c.RealUID, c.RealGID
	if c.RealUID != 0 {
		n.EffectiveCaps = 0
	} else {
		n.EffectiveCaps = c.PermittedCaps
	}
	return n
}

// credsContext is a task acting with other credentials (the path walk
// of access(2)).
type credsContext struct {
	*kernel.Task
	creds *auth.Credentials
}

// Credentials returns the credentials the task acts with.
func (c credsContext) Credentials() *auth.Credentials { return c.creds }

// mayAccess applies the classic Unix permission check (vfs.MayAccess).
func mayAccess(st vfs.Statx, uid, gid uint32, inGroup, dacOverride, readSearch bool, want uint32) bool {
	return vfs.MayAccess(st, uid, gid, inGroup, dacOverride, readSearch, want)
}

// Access implements access(2).
func Access(t *kernel.Task, a args) (uintptr, error) {
	return faccessat(t, unix.AT_FDCWD, a[0].Pointer(), a[1].Uint(), 0)
}

// Faccessat implements faccessat(2).
func Faccessat(t *kernel.Task, a args) (uintptr, error) {
	return faccessat(t, a[0].Int(), a[1].Pointer(), a[2].Uint(), 0)
}

// Faccessat2 implements faccessat2(2).
func Faccessat2(t *kernel.Task, a args) (uintptr, error) {
	return faccessat(t, a[0].Int(), a[1].Pointer(), a[2].Uint(), a[3].Uint())
}

// Getcwd implements getcwd(2).
func Getcwd(t *kernel.Task, a args) (uintptr, error) {
	fsc := t.FSContext()
	p, ok := t.Kernel().MountNS.PathOf(fsc.Root(), fsc.Cwd())
	if !ok {
		p = "(unreachable)" + p
	}
	b := append([]byte(p), 0)
	if uint(len(b)) > a[1].SizeT() {
		return 0, unix.ERANGE
	}
	if _, err := t.CopyOut(a[0].Pointer(), b); err != nil {
		return 0, err
	}
	return uintptr(len(b)), nil
}

// Chdir implements chdir(2).
func Chdir(t *kernel.Task, a args) (uintptr, error) {
	path, err := copyInPath(t, a[0].Pointer())
	if err != nil {
		return 0, err
	}
	vd, err := searchableDir(t, path)
	if err != nil {
		return 0, err
	}
	t.FSContext().SetCwd(vd)
	return 0, nil
}

// searchableDir resolves path to a directory the caller may search, as
// chdir and chroot need.
func searchableDir(t *kernel.Task, path string) (vfs.VirtualDentry, error) {
	vd, err := t.Resolve(unix.AT_FDCWD, path, true)
	if err != nil {
		return vfs.VirtualDentry{}, err
	}
	return vd, mayEnter(t, vd)
}

// mayEnter checks that vd is a directory the caller may search.
func mayEnter(t *kernel.Task, vd vfs.VirtualDentry) error {
	if vd.Dentry.Mode()&vfs.S_IFMT != vfs.S_IFDIR {
		return unix.ENOTDIR
	}
	return vfs.MaySearch(t, vd.Dentry)
}

// Chroot implements chroot(2).
func Chroot(t *kernel.Task, a args) (uintptr, error) {
	path, err := copyInPath(t, a[0].Pointer())
	if err != nil {
		return 0, err
	}
	vd, err := searchableDir(t, path)
	if err != nil {
		return 0, err
	}
	if !t.Credentials().HasCapability(auth.CAP_SYS_CHROOT) {
		return 0, unix.EPERM
	}
	t.FSContext().SetRoot(vd)
	return 0, nil
}

// Fchdir implements fchdir(2).
func Fchdir(t *kernel.Task, a args) (uintptr, error) {
	f, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	vd := f.VirtualDentry()
	if err := mayEnter(t, vd); err != nil {
		return 0, err
	}
	t.FSContext().SetCwd(vd)
	return 0, nil
}

func nofile(t *kernel.Task) int {
	return int(t.ThreadGroup().Limits().Get(kernel.RLIMIT_NOFILE).Cur)
}

// Dup implements dup(2).
func Dup(t *kernel.Task, a args) (uintptr, error) {
	f, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	fd, err := t.FDTable().NewFD(0, f, false, nofile(t))
	return uintptr(fd), err
}

// Dup2 implements dup2(2).
func Dup2(t *kernel.Task, a args) (uintptr, error) {
	if a[0].Int() == a[1].Int() {
		f, err := getFile(t, a[0].Int())
		if err != nil {
			return 0, err
		}
		f.DecRef()
		return uintptr(a[1].Int()), nil
	}
	return dup3(t, a[0].Int(), a[1].Int(), 0)
}

// Dup3 implements dup3(2).
func Dup3(t *kernel.Task, a args) (uintptr, error) {
	if a[2].Uint()&^unix.O_CLOEXEC != 0 || a[0].Int() == a[1].Int() {
		return 0, unix.EINVAL
	}
	return dup3(t, a[0].Int(), a[1].Int(), a[2].Uint())
}

func dup3(t *kernel.Task, oldfd, newfd int32, flags uint32) (uintptr, error) {
	f, err := getFile(t, oldfd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	old, err := t.FDTable().NewFDAt(int(newfd), f, flags&unix.O_CLOEXEC != 0, nofile(t))
	if err != nil {
		return 0, err
	}
	if old != nil {
		old.DecRef()
	}
	return uintptr(newfd), nil
}

// Fcntl implements fcntl(2).
func Fcntl(t *kernel.Task, a args) (uintptr, error) {
	fd := a[0].Int()
	f, cloexec := t.FDTable().Get(int(fd))
	if f == nil {
		return 0, unix.EBADF
	}
	defer f.DecRef()
	cmd := a[1].Int()
	if f.IsPath() {
		switch cmd {
		case unix.F_DUPFD, unix.F_DUPFD_CLOEXEC, unix.F_GETFD, unix.F_SETFD, unix.F_GETFL:
		default:
			return 0, unix.EBADF
		}
	}
	switch cmd {
	case unix.F_DUPFD, unix.F_DUPFD_CLOEXEC:
		min := a[2].Int()
		if min < 0 || int(min) >= nofile(t) {
			return 0, unix.EINVAL
		}
		n, err := t.FDTable().NewFD(int(min), f, cmd == unix.F_DUPFD_CLOEXEC, nofile(t))
		return uintptr(n), err
	case unix.F_GETFD:
		if cloexec {
			return unix.FD_CLOEXEC, nil
		}
		return 0, nil
	case unix.F_SETFD:
		return 0, t.FDTable().SetCloexec(int(fd), a[2].Int()&unix.FD_CLOEXEC != 0)
	case unix.F_GETFL:
		return uintptr(f.Flags()), nil
	case unix.F_SETFL:
		old := f.SwapStatusFlags(a[2].Uint())
		if (old^f.Flags())&unix.O_ASYNC != 0 {
			// Linux starts and stops I/O signals only when F_SETFL
			// changes O_ASYNC (not at open).
			setAsync(t, f, a[0].Int(), f.Flags()&unix.O_ASYNC != 0)
		}
		return 0, nil
	case unix.F_GETPIPE_SZ, unix.F_SETPIPE_SZ:
		return pipeFcntl(t, f, cmd, a[2].Uint64())
	case unix.F_GETLK, unix.F_SETLK, unix.F_SETLKW, fOFDGetlk, fOFDSetlk, fOFDSetlkw:
		return fcntlLock(t, f, cmd, a[2].Pointer())
	case unix.F_GETOWN, unix.F_SETOWN, unix.F_GETOWN_EX, unix.F_SETOWN_EX:
		return fcntlOwner(t, f, cmd, a[2].Pointer())
	case unix.F_GETSIG:
		return uintptr(f.Sig()), nil
	case unix.F_SETSIG:
		sig := a[2].Int()
		if sig < 0 || sig > kernel.NumSignals {
			return 0, unix.EINVAL
		}
		f.SetSig(sig)
		return 0, nil
	case unix.F_GETLEASE:
		return unix.F_UNLCK, nil
	case fAddSeals, fGetSeals:
		return fcntlSeals(f, cmd, a[2].Uint())
	}
	t.Kernel().LogUnimplemented(t, unix.SYS_FCNTL<<16|uintptr(cmd), "fcntl cmd "+itoa(int(cmd)), false)
	return 0, unix.EINVAL
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	neg := i < 0
	if neg {
		i = -i
	}
	var b []byte
	for i > 0 {
		b = append([]byte{byte('0' + i%10)}, b...)
		i /= 10
	}
	if neg {
		b = append([]byte{'-'}, b...)
	}
	return string(b)
}

// ioctl requests handled for every file.
const (
	fionclex = 0x5450
	fioclex  = 0x5451
	fionbio  = 0x5421
)

// Ioctl implements ioctl(2).
func Ioctl(t *kernel.Task, a args) (uintptr, error) {
	fd := a[0].Int()
	f, err := getFile(t, fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if f.IsPath() {
		return 0, unix.EBADF
	}
	switch cmd := a[1].Uint(); cmd {
	case fioclex, fionclex:
		return 0, t.FDTable().SetCloexec(int(fd), cmd == fioclex)
	case fionbio:
		v, err := t.MemoryManager().CopyInUint32(a[2].Pointer())
		if err != nil {
			return 0, err
		}
		fl := f.Flags()
		if v != 0 {
			fl |= unix.O_NONBLOCK
		} else {
			fl &^= unix.O_NONBLOCK
		}
		f.SetStatusFlags(fl)
		return 0, nil
	default:
		return f.Ioctl(t, t.MemoryManager(), cmd, a[2].Pointer())
	}
}

// Statfs implements statfs(2).
func Statfs(t *kernel.Task, a args) (uintptr, error) {
	path, err := copyInPath(t, a[0].Pointer())
	if err != nil {
		return 0, err
	}
	vd, err := t.Resolve(unix.AT_FDCWD, path, true)
	if err != nil {
		return 0, err
	}
	return copyOutStatfs(t, vd, a[1].Pointer())
}

// Fstatfs implements fstatfs(2).
func Fstatfs(t *kernel.Task, a args) (uintptr, error) {
	f, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	return copyOutStatfs(t, f.VirtualDentry(), a[1].Pointer())
}

func copyOutStatfs(t *kernel.Task, vd vfs.VirtualDentry, addr uintptr) (uintptr, error) {
	s, err := vd.Mount.FS.Statfs(t)
	if err != nil {
		return 0, err
	}
	// f_flags: ST_VALID, then the mount's flags as statvfs(3) names
	// them (ST_RDONLY, ST_NOSUID, ST_NODEV, ST_NOEXEC).
	s.Flags |= 0x20
	if vd.Mount.ReadOnly {
		s.Flags |= 1
	}
	mf := vd.Mount.Flags()
	for _, f := range []struct {
		mount uint32
		st    uint64
	}{{vfs.MountNoSuid, 2}, {vfs.MountNoDev, 4}, {vfs.MountNoExec, 8}} {
		if mf&f.mount != 0 {
			s.Flags |= f.st
		}
	}
	_, err = t.CopyOut(addr, s.Marshal())
	return 0, err
}

// Umask implements umask(2).
func Umask(t *kernel.Task, a args) (uintptr, error) {
	return uintptr(t.FSContext().SwapUmask(a[0].Uint())), nil
}

// Fadvise64 implements fadvise64(2).
func Fadvise64(t *kernel.Task, a args) (uintptr, error) {
	f, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if a[3].Int() < 0 || a[3].Int() > 5 || a[2].Int64() < 0 {
		return 0, unix.EINVAL
	}
	if !isRegular(f) && f.Dentry().Mode()&vfs.S_IFMT != vfs.S_IFDIR {
		return 0, unix.ESPIPE
	}
	return 0, nil
}
