package dev

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/fs/pipe"
	"palisade.dev/sentry/fs/synth"
	"palisade.dev/sentry/memfile"
	"palisade.dev/sentry/vfs"
)

// Device is a device node to make in /dev (an OCI spec's
// linux.devices entry).
type Device struct {
	// Path is the node's path under /dev ("fuse", "net/tun"); missing
	// directories are made, mode 0755.
	Path string
	// Type is S_IFCHR, S_IFBLK or S_IFIFO.
	Type         uint32
	Major, Minor uint32
	// Perm holds the permission bits.
	Perm     uint32
	UID, GID uint32
}

// AddDevices adds device nodes to the /dev filesystem fs (made by New),
// in place of any of the same name. A character device with the numbers
// of one the sentry implements (the memory devices 1:3, 1:5, 1:7, 1:8,
// 1:9 and the tty 5:0) behaves as that device; opening any other device
// node fails with ENXIO, as Linux's open does for a number no driver
// claims: host devices never reach the sandbox. A FIFO is a pipe of the
// sentry's own. Nothing is added if an entry is bad.
func AddDevices(fs *synth.FS, mf *memfile.MemoryFile, devs []Device) error {
	for _, d := range devs {
		if err := checkDevice(fs.RootDir(), d); err != nil {
			return err
		}
	}
	root := fs.RootDir()
	for _, d := range devs {
		parts := strings.Split(d.Path, "/")
		dir := root
		for _, name := range parts[:len(parts)-1] {
			if c, ok := dir.Child(name).(*synth.Dir); ok {
				dir = c
			} else {
				dir = dir.Subdir(name, 0o755, nil)
			}
		}
		name := parts[len(parts)-1]
		n := &deviceNode{File: fs.NewFile(dir, name, d.Type|d.Perm&0o7777, nil), dev: d}
		n.UID, n.GID = d.UID, d.GID
		switch {
		case d.Type == vfs.S_IFIFO:
			n.fifo = new(pipe.NamedPipe)
		case d.Type == vfs.S_IFCHR && d.Major == 1:
			n.impl = memDevice(mf, d.Minor)
		case d.Type == vfs.S_IFCHR && d.Major == 5 && d.Minor == 0:
			n.tty = true
		}
		dir.Add(name, n)
	}
	return nil
}

// checkDevice checks that d can be made in root: a path of valid names
// whose directories are directories or missing, ending in a name that
// is not a directory, and a device type.
func checkDevice(root *synth.Dir, d Device) error {
	switch d.Type {
	case vfs.S_IFCHR, vfs.S_IFBLK, vfs.S_IFIFO:
	default:
		return fmt.Errorf("device %q: type %#o is not a device", d.Path, d.Type)
	}
	var dir vfs.Dentry = root
	for _, name := range strings.Split(d.Path, "/") {
		if name == "" || name == "." || name == ".." || len(name) > vfs.NameMax {
			return fmt.Errorf("device %q: bad path", d.Path)
		}
		if dir == nil {
			continue
		}
		sd, ok := dir.(*synth.Dir)
		if !ok {
			return fmt.Errorf("device %q: not a directory on the way", d.Path)
		}
		dir = sd.Child(name)
	}
	if _, ok := dir.(*synth.Dir); ok {
		return fmt.Errorf("device %q: a directory is there", d.Path)
	}
	return nil
}

// deviceNode is a device node made from the spec.
type deviceNode struct {
	*synth.File
	dev Device
	// impl, if set, makes the open file of a device the sentry
	// implements; tty makes it /dev/tty; fifo is a FIFO's pipe.
	impl func() vfs.FileImpl
	tty  bool
	fifo *pipe.NamedPipe
}

// Stat implements vfs.Dentry.Stat.
func (n *deviceNode) Stat(ctx context.Context) (vfs.Statx, error) {
	st, err := n.File.Stat(ctx)
	if n.dev.Type != vfs.S_IFIFO {
		st.RdevMajor, st.RdevMinor = n.dev.Major, n.dev.Minor
	}
	return st, err
}

// Open implements vfs.Dentry.Open.
func (n *deviceNode) Open(ctx context.Context, vd vfs.VirtualDentry, flags uint32) (*vfs.FileDescription, error) {
	switch {
	case n.impl != nil:
		return vfs.NewFileDescription(n.impl(), vd, flags), nil
	case n.tty:
		return (&ttyDev{File: n.File}).Open(ctx, vd, flags)
	case n.fifo != nil:
		if vd.Dentry == nil {
			vd.Dentry = n
		}
		return n.fifo.Open(ctx, vd, flags, nil)
	}
	return nil, unix.ENXIO
}

// Opener returns what opens the device nodes of other filesystems (a
// tmpfs's Devices option): the memory devices (1:3 null, 1:5 zero, 1:7
// full, 1:8 random, 1:9 urandom) behave as the sentry's own; any other
// device number is ENXIO, so that no host device is ever reached.
func Opener(mf *memfile.MemoryFile) func(ctx context.Context, typ, major, minor, flags uint32) (vfs.FileImpl, error) {
	return func(_ context.Context, typ, major, minor, _ uint32) (vfs.FileImpl, error) {
		if typ == vfs.S_IFCHR && major == 1 {
			if impl := memDevice(mf, minor); impl != nil {
				return impl(), nil
			}
		}
		return nil, unix.ENXIO
	}
}
