// Package dev is the sandbox's /dev: the memory devices (null, zero, full,
// random, urandom), tty (the caller's controlling terminal) and console,
// the fd/stdin/stdout/stderr links into /proc, ptmx (a link to the devpts
// instance mounted on pts, as in containers), and the pts and shm mount
// points; AddDevices adds the device nodes a container's spec lists.
package dev

import (
	"context"
	"crypto/rand"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/fs/synth"
	"palisade.dev/sentry/kernel"
	"palisade.dev/sentry/memfile"
	"palisade.dev/sentry/mm"
	"palisade.dev/sentry/vfs"
)

// tmpfsMagic is what statfs reports for /dev (Linux's devtmpfs is tmpfs).
const tmpfsMagic = 0x01021994

// Option configures New.
type Option func(*options)

type options struct {
	console func(ctx context.Context, flags uint32) (*vfs.FileDescription, error)
}

// WithConsole makes /dev/console open the file open returns (the
// container's terminal). Without it, opening /dev/console fails with
// ENODEV, as Linux's does when there is no console device.
func WithConsole(open func(ctx context.Context, flags uint32) (*vfs.FileDescription, error)) Option {
	return func(o *options) { o.console = open }
}

// New returns a /dev filesystem.
func New(mf *memfile.MemoryFile, opts ...Option) *synth.FS {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	fs := synth.NewFS("tmpfs", tmpfsMagic, 0o755)
	root := fs.RootDir()
	for _, d := range []struct {
		name  string
		minor uint32
	}{{"null", 3}, {"zero", 5}, {"full", 7}, {"random", 8}, {"urandom", 9}} {
		impl := memDevice(mf, d.minor)
		root.Add(d.name, fs.NewCharDev(root, d.name, 0o666, 1, d.minor, func(context.Context, *synth.File, uint32) (vfs.FileImpl, error) {
			return impl(), nil
		}))
	}
	root.Add("tty", &ttyDev{File: fs.NewCharDev(root, "tty", 0o666, 5, 0, nil)})
	root.Add("console", &consoleDev{File: fs.NewCharDev(root, "console", 0o600, 5, 1, nil), open: o.console})
	for name, target := range map[string]string{
		"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2",
		"ptmx": "pts/ptmx", "core": "/proc/kcore",
	} {
		root.Add(name, fs.NewSymlink(root, name, synth.StaticTarget(target)))
	}
	root.Subdir("pts", 0o755, nil)
	root.Subdir("shm", 0o1777, nil)
	return fs
}

// memDevice returns what makes the open file of memory device 1:minor, or
// nil if the sentry has no such device.
func memDevice(mf *memfile.MemoryFile, minor uint32) func() vfs.FileImpl {
	switch minor {
	case 3:
		return func() vfs.FileImpl { return nullFile{} }
	case 5:
		return func() vfs.FileImpl { return zeroFile{mf: mf} }
	case 7:
		return func() vfs.FileImpl { return fullFile{} }
	case 8, 9:
		return func() vfs.FileImpl { return randomFile{} }
	}
	return nil
}

// ttyDev is /dev/tty: opening it opens the caller's controlling terminal,
// ENXIO without one.
type ttyDev struct{ *synth.File }

// Open implements vfs.Dentry.Open.
func (d *ttyDev) Open(ctx context.Context, vd vfs.VirtualDentry, flags uint32) (*vfs.FileDescription, error) {
	t := kernel.TaskFromContext(ctx)
	if t == nil {
		return nil, unix.ENXIO
	}
	tty := t.ControllingTTY()
	if tty == nil {
		return nil, unix.ENXIO
	}
	return tty.OpenTTY(ctx, vd, flags)
}

// consoleDev is /dev/console.
type consoleDev struct {
	*synth.File
	open func(ctx context.Context, flags uint32) (*vfs.FileDescription, error)
}

// Open implements vfs.Dentry.Open.
func (d *consoleDev) Open(ctx context.Context, _ vfs.VirtualDentry, flags uint32) (*vfs.FileDescription, error) {
	if d.open == nil {
		return nil, unix.ENODEV
	}
	return d.open(ctx, flags)
}

// charDev gives character devices Linux's answers for seeking: they
// accept any seek and report offset 0.
type charDev struct{ vfs.FileDefaults }

func (charDev) Seek(context.Context, int64, int) (int64, error) { return 0, nil }

type nullFile struct{ charDev }

func (nullFile) Read(context.Context, []byte) (int, error)                { return 0, nil }
func (nullFile) PRead(context.Context, []byte, int64) (int, error)        { return 0, nil }
func (nullFile) Write(_ context.Context, b []byte) (int, error)           { return len(b), nil }
func (nullFile) PWrite(_ context.Context, b []byte, _ int64) (int, error) { return len(b), nil }

type zeroFile struct {
	charDev
	mf *memfile.MemoryFile
}

func (zeroFile) Read(_ context.Context, b []byte) (int, error) { clear(b); return len(b), nil }
func (zeroFile) PRead(_ context.Context, b []byte, _ int64) (int, error) {
	clear(b)
	return len(b), nil
}
func (zeroFile) Write(_ context.Context, b []byte) (int, error)           { return len(b), nil }
func (zeroFile) PWrite(_ context.Context, b []byte, _ int64) (int, error) { return len(b), nil }

// ConfigureMMap makes a private mapping of /dev/zero anonymous memory and
// a shared one shared anonymous memory, as Linux does.
func (f zeroFile) ConfigureMMap(_ context.Context, opts *mm.MMapOpts) error {
	if opts.Private {
		opts.Mappable = nil
		opts.Offset = 0
		return nil
	}
	opts.Mappable = mm.NewSharedAnon(f.mf, opts.Length)
	opts.Offset = 0
	return nil
}

type fullFile struct{ charDev }

func (fullFile) Read(_ context.Context, b []byte) (int, error) { clear(b); return len(b), nil }
func (fullFile) PRead(_ context.Context, b []byte, _ int64) (int, error) {
	clear(b)
	return len(b), nil
}
func (fullFile) Write(context.Context, []byte) (int, error)         { return 0, unix.ENOSPC }
func (fullFile) PWrite(context.Context, []byte, int64) (int, error) { return 0, unix.ENOSPC }

type randomFile struct{ charDev }

func (randomFile) Read(_ context.Context, b []byte) (int, error) { rand.Read(b); return len(b), nil }
func (randomFile) PRead(_ context.Context, b []byte, _ int64) (int, error) {
	rand.Read(b)
	return len(b), nil
}
func (randomFile) Write(_ context.Context, b []byte) (int, error) { return len(b), nil }
func (randomFile) PWrite(_ context.Context, b []byte, _ int64) (int, error) {
	return len(b), nil
}
