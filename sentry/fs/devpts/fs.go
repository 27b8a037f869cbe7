// Package devpts is the pseudo-terminal filesystem mounted at /dev/pts
// (pts(4), devpts in mount(8)): opening its ptmx allocates a pseudo-terminal
// pair, whose master is the opened file and whose slave appears as the
// node pts/N until the master is closed.
//
// The terminal is the sentry's own: a line discipline (termios, canonical
// editing, echo, signal characters, VMIN/VTIME, output processing) sits
// between the two sides, and the session, foreground process group and
// job control live in package kernel, which knows a pair's slave as a
// kernel.TTY (see kernel/tty.go). No host terminal is involved.
//
// Lock order: FS.mu, then Terminal.mu, then waiter.Queue.mu. Terminal.mu
// is never held while calling into package kernel (which takes
// Kernel.taskMu); queues are notified after Terminal.mu is dropped.
package devpts

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/kernel"
	"palisade.dev/sentry/vfs"
)

// devptsMagic is what statfs(2) reports (DEVPTS_SUPER_MAGIC).
const devptsMagic = 0x1cd1

// Device numbers: ptmx is 5:2, slave N is 136:N.
const (
	ptmxMajor  = 5
	ptmxMinor  = 2
	slaveMajor = 136
)

// Options are devpts mount options.
type Options struct {
	// Mode is the permission of new slave nodes (mode=, default 0600).
	Mode uint32
	// PtmxMode is the permission of the ptmx node (ptmxmode=, default 0).
	PtmxMode uint32
	// UID and GID, when set (uid=, gid=), own new slave nodes; otherwise
	// the opener of ptmx does.
	UID, GID       uint32
	SetUID, SetGID bool
	// Max is the most pairs the instance holds (max=, default 4096 as
	// /proc/sys/kernel/pty/max).
	Max int
}

// DefaultOptions returns the options of a devpts mounted with none.
func DefaultOptions() Options { return Options{Mode: 0o600, PtmxMode: 0, Max: 4096} }

// ParseOptions parses a mount's option list (as an OCI spec gives it).
// Generic mount flags are ignored; an unknown devpts option is an error,
// as Linux refuses it.
func ParseOptions(opts []string) (Options, error) {
	o := DefaultOptions()
	for _, opt := range opts {
		name, val, hasVal := strings.Cut(opt, "=")
		num := func(base int, bits int) (uint64, error) {
			if !hasVal {
				return 0, fmt.Errorf("devpts option %q needs a value", name)
			}
			n, err := strconv.ParseUint(val, base, bits)
			if err != nil {
				return 0, fmt.Errorf("devpts option %q: bad value %q", name, val)
			}
			return n, nil
		}
		switch name {
		case "mode", "ptmxmode":
			n, err := num(8, 32)
			if err != nil {
				return o, err
			}
			if name == "mode" {
				o.Mode = uint32(n) & 0o7777
			} else {
				o.PtmxMode = uint32(n) & 0o7777
			}
		case "uid", "gid":
			n, err := num(10, 32)
			if err != nil {
				return o, err
			}
			if name == "uid" {
				o.UID, o.SetUID = uint32(n), true
			} else {
				o.GID, o.SetGID = uint32(n), true
			}
		case "max":
			n, err := num(10, 31)
			if err != nil {
				return o, err
			}
			o.Max = int(min(n, 1<<20))
		case "newinstance", "ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec",
			"relatime", "norelatime", "noatime", "atime", "strictatime", "nodiratime", "diratime",
			"sync", "async", "bind", "rbind", "private", "rprivate", "shared", "rshared", "slave", "rslave":
		default:
			return o, fmt.Errorf("unknown devpts option %q", opt)
		}
	}
	return o, nil
}

// FS is one devpts instance.
type FS struct {
	opts    Options
	dev     uint32
	created vfs.Timespec
	root    *rootDentry
	ptmx    *ptmxDentry

	// mu protects the fields below.
	mu sync.Mutex
	// ptys are the pairs by index, until both sides are closed.
	ptys map[uint32]*Terminal
}

// New returns a devpts filesystem with options o.
func New(o Options) *FS {
	if o.Max <= 0 {
		o.Max = DefaultOptions().Max
	}
	fs := &FS{opts: o, dev: vfs.NewAnonDev(), created: now(), ptys: make(map[uint32]*Terminal)}
	fs.root = &rootDentry{fs: fs}
	fs.ptmx = &ptmxDentry{fs: fs}
	return fs
}

// Name implements vfs.Filesystem.Name.
func (fs *FS) Name() string { return "devpts" }

// Root implements vfs.Filesystem.Root.
func (fs *FS) Root() vfs.Dentry { return fs.root }

// Statfs implements vfs.Filesystem.Statfs.
func (fs *FS) Statfs(context.Context) (vfs.Statfs, error) {
	return vfs.Statfs{Type: devptsMagic, Bsize: 4096, Namelen: vfs.NameMax, Frsize: 4096}, nil
}

func now() vfs.Timespec {
	t := time.Now()
	return vfs.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

// newTerminal allocates the lowest free index for a new pair (ENOSPC when
// the instance is full).
func (fs *FS) newTerminal(ctx context.Context) (*Terminal, error) {
	var k *kernel.Kernel
	uid, gid := fs.opts.UID, fs.opts.GID
	if t := kernel.TaskFromContext(ctx); t != nil {
		k = t.Kernel()
		c := t.Credentials()
		if !fs.opts.SetUID {
			uid = c.FSUID
		}
		if !fs.opts.SetGID {
			gid = c.FSGID
		}
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.ptys) >= fs.opts.Max {
		return nil, unix.ENOSPC
	}
	idx := uint32(0)
	for fs.ptys[idx] != nil {
		idx++
	}
	tm := newTerminal(fs, idx, k)
	ts := now()
	tm.node = &slaveDentry{tm: tm, mode: fs.opts.Mode, uid: uid, gid: gid, atime: ts, mtime: ts, ctime: ts}
	fs.ptys[idx] = tm
	return tm, nil
}

// release frees tm's index once both of its sides are closed.
func (fs *FS) release(tm *Terminal) {
	fs.mu.Lock()
	if fs.ptys[tm.index] == tm {
		delete(fs.ptys, tm.index)
	}
	fs.mu.Unlock()
}

// lookup returns the slave node of pair idx while its master is open.
func (fs *FS) lookup(idx uint32) *slaveDentry {
	fs.mu.Lock()
	tm := fs.ptys[idx]
	fs.mu.Unlock()
	if tm == nil || tm.masterClosed() {
		return nil
	}
	return tm.node
}

// names returns the indices of the pairs whose slave nodes exist, sorted.
func (fs *FS) names() []uint32 {
	fs.mu.Lock()
	var out []uint32
	for i, tm := range fs.ptys {
		if !tm.masterClosed() {
			out = append(out, i)
		}
	}
	fs.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// rootDentry is the devpts root: ptmx and a node per pair.
type rootDentry struct{ fs *FS }

func (d *rootDentry) Name() string       { return "" }
func (d *rootDentry) Parent() vfs.Dentry { return nil }
func (d *rootDentry) Mode() uint32       { return vfs.S_IFDIR | 0o755 }
func (d *rootDentry) Readlink(context.Context) (string, error) {
	return "", unix.EINVAL
}

// Lookup implements vfs.Dentry.Lookup.
func (d *rootDentry) Lookup(_ context.Context, name string) (vfs.Dentry, error) {
	if name == "ptmx" {
		return d.fs.ptmx, nil
	}
	n, err := strconv.ParseUint(name, 10, 32)
	if err != nil || strconv.FormatUint(n, 10) != name {
		return nil, unix.ENOENT
	}
	if s := d.fs.lookup(uint32(n)); s != nil {
		return s, nil
	}
	return nil, unix.ENOENT
}

// Stat implements vfs.Dentry.Stat.
func (d *rootDentry) Stat(context.Context) (vfs.Statx, error) {
	ts := d.fs.created
	return vfs.Statx{
		Mask: vfs.STATX_BASIC_STATS, Blksize: 4096, Nlink: 2, Mode: d.Mode(), Ino: 1,
		Atime: ts, Mtime: ts, Ctime: ts, DevMinor: d.fs.dev,
	}, nil
}

// Open implements vfs.Dentry.Open.
func (d *rootDentry) Open(_ context.Context, vd vfs.VirtualDentry, flags uint32) (*vfs.FileDescription, error) {
	if flags&unix.O_ACCMODE != unix.O_RDONLY {
		return nil, unix.EISDIR
	}
	f := &dirFile{d: d}
	f.List = d.list
	return vfs.NewFileDescription(f, vd, flags), nil
}

func (d *rootDentry) list(ctx context.Context) ([]vfs.Dirent, error) {
	out := vfs.SelfAndParent(ctx, d)
	out = append(out, vfs.Dirent{Name: "ptmx", Ino: 2, Type: vfs.DirentType(vfs.S_IFCHR)})
	for _, i := range d.fs.names() {
		out = append(out, vfs.Dirent{Name: strconv.FormatUint(uint64(i), 10), Ino: uint64(i) + 3, Type: vfs.DirentType(vfs.S_IFCHR)})
	}
	return out, nil
}

type dirFile struct {
	vfs.FileDefaults
	vfs.DirIter
	d *rootDentry
}

func (f *dirFile) Read(context.Context, []byte) (int, error)         { return 0, unix.EISDIR }
func (f *dirFile) PRead(context.Context, []byte, int64) (int, error) { return 0, unix.EISDIR }
func (f *dirFile) Seek(ctx context.Context, off int64, whence int) (int64, error) {
	return f.DirIter.Seek(ctx, off, whence)
}
func (f *dirFile) IterDirents(ctx context.Context, cb func(vfs.Dirent) bool) error {
	return f.DirIter.IterDirents(ctx, cb)
}

// ptmxDentry is the multiplexor: each open makes a new pair.
type ptmxDentry struct{ fs *FS }

func (d *ptmxDentry) Name() string       { return "ptmx" }
func (d *ptmxDentry) Parent() vfs.Dentry { return d.fs.root }
func (d *ptmxDentry) Mode() uint32       { return vfs.S_IFCHR | d.fs.opts.PtmxMode }
func (d *ptmxDentry) Lookup(context.Context, string) (vfs.Dentry, error) {
	return nil, unix.ENOTDIR
}
func (d *ptmxDentry) Readlink(context.Context) (string, error) { return "", unix.EINVAL }

// Stat implements vfs.Dentry.Stat.
func (d *ptmxDentry) Stat(context.Context) (vfs.Statx, error) {
	ts := d.fs.created
	return vfs.Statx{
		Mask: vfs.STATX_BASIC_STATS, Blksize: 4096, Nlink: 1, Mode: d.Mode(), Ino: 2,
		Atime: ts, Mtime: ts, Ctime: ts, RdevMajor: ptmxMajor, RdevMinor: ptmxMinor, DevMinor: d.fs.dev,
	}, nil
}

// Open implements vfs.Dentry.Open: a new pair, its slave locked until
// TIOCSPTLCK unlocks it (unlockpt(3)). The master never becomes a
// controlling terminal.
func (d *ptmxDentry) Open(ctx context.Context, vd vfs.VirtualDentry, flags uint32) (*vfs.FileDescription, error) {
	tm, err := d.fs.newTerminal(ctx)
	if err != nil {
		return nil, err
	}
	tm.mount = vd.Mount
	f := &masterFile{tm: tm}
	f.fd = vfs.NewFileDescription(f, vd, flags)
	return f.fd, nil
}

// slaveDentry is the node pts/N of a pair.
type slaveDentry struct {
	tm *Terminal

	// Attributes, protected by Terminal.mu.
	mode, uid, gid      uint32
	atime, mtime, ctime vfs.Timespec
}

func (d *slaveDentry) Name() string       { return strconv.FormatUint(uint64(d.tm.index), 10) }
func (d *slaveDentry) Parent() vfs.Dentry { return d.tm.fs.root }
func (d *slaveDentry) Mode() uint32 {
	d.tm.mu.Lock()
	defer d.tm.mu.Unlock()
	return vfs.S_IFCHR | d.mode
}
func (d *slaveDentry) Lookup(context.Context, string) (vfs.Dentry, error) {
	return nil, unix.ENOTDIR
}
func (d *slaveDentry) Readlink(context.Context) (string, error) { return "", unix.EINVAL }

// Stat implements vfs.Dentry.Stat.
func (d *slaveDentry) Stat(context.Context) (vfs.Statx, error) {
	tm := d.tm
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return vfs.Statx{
		Mask: vfs.STATX_BASIC_STATS, Blksize: 1024, Nlink: 1, UID: d.uid, GID: d.gid,
		Mode: vfs.S_IFCHR | d.mode, Ino: uint64(tm.index) + 3,
		Atime: d.atime, Mtime: d.mtime, Ctime: d.ctime,
		RdevMajor: slaveMajor, RdevMinor: tm.index, DevMinor: tm.fs.dev,
	}, nil
}

// SetStat implements vfs.Setter (chmod, chown and utimes of a terminal,
// as mesg(1) and login programs do).
func (d *slaveDentry) SetStat(_ context.Context, o vfs.SetStatOptions) error {
	if o.Mask&vfs.STATX_SIZE != 0 {
		return unix.EINVAL
	}
	tm := d.tm
	tm.mu.Lock()
	defer tm.mu.Unlock()
	ts := now()
	if o.Mask&vfs.STATX_MODE != 0 {
		d.mode = o.Stat.Mode & 0o7777
	}
	if o.Mask&vfs.STATX_UID != 0 {
		d.uid = o.Stat.UID
	}
	if o.Mask&vfs.STATX_GID != 0 {
		d.gid = o.Stat.GID
	}
	set := func(dst *vfs.Timespec, v vfs.Timespec) {
		switch v.Nsec {
		case vfs.UTIME_OMIT:
		case vfs.UTIME_NOW:
			*dst = ts
		default:
			*dst = v
		}
	}
	if o.Mask&vfs.STATX_ATIME != 0 {
		set(&d.atime, o.Stat.Atime)
	}
	if o.Mask&vfs.STATX_MTIME != 0 {
		set(&d.mtime, o.Stat.Mtime)
	}
	d.ctime = ts
	return nil
}

// Open implements vfs.Dentry.Open: opening a slave without O_NOCTTY makes
// it the controlling terminal of a session leader that has none.
func (d *slaveDentry) Open(ctx context.Context, vd vfs.VirtualDentry, flags uint32) (*vfs.FileDescription, error) {
	return d.tm.openSlave(ctx, vd, flags, true)
}
