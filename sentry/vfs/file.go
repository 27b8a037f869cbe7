package vfs

import (
	"context"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/kernel/auth"
	"palisade.dev/sentry/mm"
)

// UserMemory is the application memory an ioctl reads and writes.
type UserMemory interface {
	CopyIn(addr uintptr, dst []byte) (int, error)
	CopyOut(addr uintptr, src []byte) (int, error)
}

// Dirent is one directory entry.
type Dirent struct {
	Name string
	Ino  uint64
	Type uint8
	// NextOff is the offset of the entry after this one (d_off).
	NextOff int64
}

// FileImpl is what a filesystem implements for an open file. Embed
// FileDefaults to get Linux's answers for operations a file doesn't
// support.
type FileImpl interface {
	// Release frees the file's resources when the last reference to the
	// description goes.
	Release()
	// Read reads at the file's own offset (or from a stream).
	Read(ctx context.Context, dst []byte) (int, error)
	PRead(ctx context.Context, dst []byte, off int64) (int, error)
	Write(ctx context.Context, src []byte) (int, error)
	PWrite(ctx context.Context, src []byte, off int64) (int, error)
	Seek(ctx context.Context, off int64, whence int) (int64, error)
	// IterDirents calls cb with entries from the current directory
	// offset on, until cb returns false (the entry wasn't consumed) or
	// the directory ends; the offset advances past consumed entries.
	IterDirents(ctx context.Context, cb func(d Dirent) bool) error
	Ioctl(ctx context.Context, mem UserMemory, cmd uint32, arg uintptr) (uintptr, error)
	// ConfigureMMap sets the mappable of a file mapping.
	ConfigureMMap(ctx context.Context, opts *mm.MMapOpts) error
}

// Stater is implemented by files whose attributes are not their dentry's
// (host files, pipes).
type Stater interface {
	Stat(ctx context.Context) (Statx, error)
}

// FileDefaults implements the operations of FileImpl with the errors
// Linux gives for files that don't support them.
type FileDefaults struct{}

func (FileDefaults) Release()                                          {}
func (FileDefaults) Read(context.Context, []byte) (int, error)         { return 0, unix.EINVAL }
func (FileDefaults) PRead(context.Context, []byte, int64) (int, error) { return 0, unix.ESPIPE }
func (FileDefaults) Write(context.Context, []byte) (int, error)        { return 0, unix.EINVAL }
func (FileDefaults) PWrite(context.Context, []byte, int64) (int, error) {
	return 0, unix.ESPIPE
}
func (FileDefaults) Seek(context.Context, int64, int) (int64, error) { return 0, unix.ESPIPE }
func (FileDefaults) IterDirents(context.Context, func(Dirent) bool) error {
	return unix.ENOTDIR
}
func (FileDefaults) Ioctl(context.Context, UserMemory, uint32, uintptr) (uintptr, error) {
	return 0, unix.ENOTTY
}
func (FileDefaults) ConfigureMMap(context.Context, *mm.MMapOpts) error { return unix.ENODEV }

// Open flags the file description keeps (status flags and access mode).
const (
	statusFlagsMask = unix.O_APPEND | unix.O_NONBLOCK | unix.O_DSYNC | unix.O_SYNC | unix.O_DIRECT | unix.O_NOATIME | unix.O_ASYNC
	// O_PATH descriptions refuse I/O.
	O_PATH = unix.O_PATH
)

// FileDescription is an open file.
type FileDescription struct {
	impl  FileImpl
	vd    VirtualDentry
	refs  atomic.Int64
	flags atomic.Uint32 // access mode, status flags and O_PATH

	// mu serialises operations that use the file offset, as Linux's
	// f_pos_lock does.
	mu sync.Mutex

	// hooks run when the last reference goes (epoll drops its
	// registrations of the file).
	hooksMu sync.Mutex
	hooks   map[int]func()
	nextID  int

	// ofdLocked and flocked say the description took description record
	// locks or a flock, to drop when it goes.
	ofdLocked, flocked atomic.Bool

	// owner is F_SETOWN's process or group (F_SETOWN_EX type and ID),
	// and ownerCreds the credentials of the task that set it; sig is
	// F_SETSIG's signal (0: SIGIO); stopAsync ends the delivery of I/O
	// signals that setting O_ASYNC started.
	ownerMu    sync.Mutex
	ownerType  int32
	ownerID    int32
	ownerCreds *auth.Credentials
	sig        int32
	stopAsync  func()
}

// Fasyncer is implemented by files that signal their owner when I/O
// becomes possible while O_ASYNC is set (fcntl(2)): pipes, terminals,
// inotify. They are waiter.Waitables; the events they report are the
// ones signalled.
type Fasyncer interface {
	Fasync()
}

// Owner returns the F_SETOWN_EX owner type and ID (0, 0 when unset).
func (fd *FileDescription) Owner() (typ, id int32) {
	fd.ownerMu.Lock()
	defer fd.ownerMu.Unlock()
	return fd.ownerType, fd.ownerID
}

// SetOwner records the process or process group that F_SETOWN names,
// and the credentials of the task that named it.
func (fd *FileDescription) SetOwner(typ, id int32, creds *auth.Credentials) {
	fd.ownerMu.Lock()
	fd.ownerType, fd.ownerID, fd.ownerCreds = typ, id, creds
	fd.ownerMu.Unlock()
}

// OwnerCreds returns the credentials of the task that set the owner.
func (fd *FileDescription) OwnerCreds() *auth.Credentials {
	fd.ownerMu.Lock()
	defer fd.ownerMu.Unlock()
	return fd.ownerCreds
}

// Sig returns F_SETSIG's signal (0 for the default, SIGIO).
func (fd *FileDescription) Sig() int32 {
	fd.ownerMu.Lock()
	defer fd.ownerMu.Unlock()
	return fd.sig
}

// SetSig records F_SETSIG's signal.
func (fd *FileDescription) SetSig(sig int32) {
	fd.ownerMu.Lock()
	fd.sig = sig
	fd.ownerMu.Unlock()
}

// SetAsync replaces the function that stops the delivery of I/O signals
// and returns the one it replaces (nil if none).
func (fd *FileDescription) SetAsync(stop func()) (old func()) {
	fd.ownerMu.Lock()
	defer fd.ownerMu.Unlock()
	old, fd.stopAsync = fd.stopAsync, stop
	return old
}

// OnRelease arranges for fn to run when the last reference to the
// description goes, before the file is released. It returns a function
// that cancels the arrangement.
func (fd *FileDescription) OnRelease(fn func()) (cancel func()) {
	fd.hooksMu.Lock()
	defer fd.hooksMu.Unlock()
	if fd.hooks == nil {
		fd.hooks = make(map[int]func())
	}
	id := fd.nextID
	fd.nextID++
	fd.hooks[id] = fn
	return func() {
		fd.hooksMu.Lock()
		delete(fd.hooks, id)
		fd.hooksMu.Unlock()
	}
}

// NewFileDescription returns a description with one reference.
func NewFileDescription(impl FileImpl, vd VirtualDentry, flags uint32) *FileDescription {
	fd := &FileDescription{impl: impl, vd: vd}
	fd.refs.Store(1)
	fd.flags.Store(flags & (unix.O_ACCMODE | statusFlagsMask | O_PATH | unix.O_LARGEFILE))
	return fd
}

// Impl returns the filesystem's implementation.
func (fd *FileDescription) Impl() FileImpl { return fd.impl }

// VirtualDentry returns the path the file was opened by.
func (fd *FileDescription) VirtualDentry() VirtualDentry { return fd.vd }

// Dentry returns the file's dentry.
func (fd *FileDescription) Dentry() Dentry { return fd.vd.Dentry }

// IncRef takes a reference.
func (fd *FileDescription) IncRef() { fd.refs.Add(1) }

// DecRef drops a reference, releasing the file with the last one.
func (fd *FileDescription) DecRef() {
	if fd.refs.Add(-1) == 0 {
		fd.hooksMu.Lock()
		hooks := fd.hooks
		fd.hooks = nil
		fd.hooksMu.Unlock()
		for _, h := range hooks {
			h()
		}
		if fd.ofdLocked.Load() || fd.flocked.Load() {
			releaseDescriptionLocks(fd)
		}
		if watching.Load() && !fd.IsPath() {
			if fd.Writable() {
				NotifyFile(fd.vd.Dentry, InCloseWrite)
			} else {
				NotifyFile(fd.vd.Dentry, InCloseNo)
			}
		}
		fd.impl.Release()
	}
}

// Flags returns the access mode and status flags (F_GETFL).
func (fd *FileDescription) Flags() uint32 { return fd.flags.Load() }

// SetStatusFlags replaces the changeable status flags (F_SETFL).
func (fd *FileDescription) SetStatusFlags(f uint32) { fd.SwapStatusFlags(f) }

// SwapStatusFlags replaces the changeable status flags (F_SETFL) and
// returns the flags they replaced.
func (fd *FileDescription) SwapStatusFlags(f uint32) (old uint32) {
	const settable = unix.O_APPEND | unix.O_NONBLOCK | unix.O_DIRECT | unix.O_NOATIME | unix.O_ASYNC
	for {
		old := fd.flags.Load()
		n := old&^settable | f&settable
		if fd.flags.CompareAndSwap(old, n) {
			return old
		}
	}
}

// IsPath reports whether the file was opened with O_PATH.
func (fd *FileDescription) IsPath() bool { return fd.flags.Load()&O_PATH != 0 }

// Readable reports whether the file was opened for reading.
func (fd *FileDescription) Readable() bool {
	f := fd.flags.Load()
	return f&O_PATH == 0 && (f&unix.O_ACCMODE == unix.O_RDONLY || f&unix.O_ACCMODE == unix.O_RDWR)
}

// Writable reports whether the file was opened for writing.
func (fd *FileDescription) Writable() bool {
	f := fd.flags.Load()
	return f&O_PATH == 0 && (f&unix.O_ACCMODE == unix.O_WRONLY || f&unix.O_ACCMODE == unix.O_RDWR)
}

// Read implements read(2) at the file offset.
func (fd *FileDescription) Read(ctx context.Context, dst []byte) (int, error) {
	if !fd.Readable() {
		return 0, unix.EBADF
	}
	fd.mu.Lock()
	defer fd.mu.Unlock()
	return fd.impl.Read(ctx, dst)
}

// PRead implements pread64(2).
func (fd *FileDescription) PRead(ctx context.Context, dst []byte, off int64) (int, error) {
	if !fd.Readable() {
		return 0, unix.EBADF
	}
	if off < 0 {
		return 0, unix.EINVAL
	}
	return fd.impl.PRead(ctx, dst, off)
}

// Write implements write(2) at the file offset.
func (fd *FileDescription) Write(ctx context.Context, src []byte) (int, error) {
	if !fd.Writable() {
		return 0, unix.EBADF
	}
	fd.mu.Lock()
	defer fd.mu.Unlock()
	return fd.impl.Write(ctx, src)
}

// PWrite implements pwrite64(2).
func (fd *FileDescription) PWrite(ctx context.Context, src []byte, off int64) (int, error) {
	if !fd.Writable() {
		return 0, unix.EBADF
	}
	if off < 0 {
		return 0, unix.EINVAL
	}
	return fd.impl.PWrite(ctx, src, off)
}

// Seek implements lseek(2).
func (fd *FileDescription) Seek(ctx context.Context, off int64, whence int) (int64, error) {
	if fd.IsPath() {
		return 0, unix.EBADF
	}
	fd.mu.Lock()
	defer fd.mu.Unlock()
	return fd.impl.Seek(ctx, off, whence)
}

// IterDirents implements getdents64(2) iteration.
func (fd *FileDescription) IterDirents(ctx context.Context, cb func(d Dirent) bool) error {
	if fd.IsPath() {
		return unix.EBADF
	}
	fd.mu.Lock()
	defer fd.mu.Unlock()
	return fd.impl.IterDirents(ctx, cb)
}

// Stat implements fstat(2).
func (fd *FileDescription) Stat(ctx context.Context) (Statx, error) {
	if s, ok := fd.impl.(Stater); ok {
		return s.Stat(ctx)
	}
	return fd.vd.Dentry.Stat(ctx)
}

// Ioctl implements ioctl(2).
func (fd *FileDescription) Ioctl(ctx context.Context, mem UserMemory, cmd uint32, arg uintptr) (uintptr, error) {
	if fd.IsPath() {
		return 0, unix.EBADF
	}
	return fd.impl.Ioctl(ctx, mem, cmd, arg)
}

// ConfigureMMap prepares a file mapping.
func (fd *FileDescription) ConfigureMMap(ctx context.Context, opts *mm.MMapOpts) error {
	if fd.IsPath() {
		return unix.EBADF
	}
	if err := fd.impl.ConfigureMMap(ctx, opts); err != nil {
		return err
	}
	if opts.Mappable != nil {
		opts.File = fd.vd // named in /proc/[pid]/maps
	}
	return nil
}
