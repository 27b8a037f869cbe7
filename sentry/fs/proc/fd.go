package proc

import (
	"context"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/fs/synth"
	"palisade.dev/sentry/vfs"
)

// fdDir supplies /proc/[pid]/fd: a magic link per open descriptor.
type fdDir struct{ x *target }

// file returns the description at fd n of the task, with a reference.
func (x *target) file(n int) (*vfs.FileDescription, bool) {
	t := x.live()
	if t == nil {
		return nil, false
	}
	return t.FDTable().Get(n)
}

// Lookup implements synth.Dynamic.Lookup.
func (d fdDir) Lookup(ctx context.Context, parent *synth.Dir, name string) (vfs.Dentry, error) {
	n, ok := parseFD(name)
	if !ok {
		return nil, unix.ENOENT
	}
	f, _ := d.x.file(n)
	if f == nil {
		return nil, unix.ENOENT
	}
	flags := f.Flags()
	f.DecRef()
	// The link's mode says how the file is open: r-x for reading, -wx for
	// writing, as in Linux.
	var perm uint32
	if flags&unix.O_PATH == 0 {
		switch flags & unix.O_ACCMODE {
		case unix.O_RDONLY:
			perm = 0o500
		case unix.O_WRONLY:
			perm = 0o300
		default:
			perm = 0o700
		}
	}
	x := d.x
	follow := func(context.Context) (vfs.VirtualDentry, error) {
		f, _ := x.file(n)
		if f == nil {
			return vfs.VirtualDentry{}, unix.ENOENT
		}
		defer f.DecRef()
		return f.VirtualDentry(), nil
	}
	l := parent.FS().NewMagicLink(parent, name, perm, x.linkText(follow), follow)
	l.Owner, l.Access = x.owner, x.mayRead
	return l, nil
}

// List implements synth.Dynamic.List.
func (d fdDir) List(ctx context.Context, parent *synth.Dir) ([]vfs.Dirent, error) {
	return d.x.fdList(vfs.S_IFLNK), nil
}

func (x *target) fdList(mode uint32) []vfs.Dirent {
	t := x.live()
	if t == nil {
		return nil
	}
	var out []vfs.Dirent
	for _, n := range t.FDTable().FDs() {
		out = append(out, vfs.Dirent{Name: strconv.Itoa(n), Ino: fdIno(x, n, mode), Type: vfs.DirentType(mode)})
	}
	return out
}

// fdIno is the inode number a descriptor's entry is listed with.
func fdIno(x *target, n int, mode uint32) uint64 {
	ino := uint64(x.tg.ID())<<32 | uint64(n)<<1
	if mode == vfs.S_IFREG {
		ino |= 1
	}
	return ino | 1<<63
}

// parseFD parses a descriptor number as a /proc/[pid]/fd name.
func parseFD(name string) (int, bool) {
	if name == "" || name[0] == '0' && len(name) > 1 {
		return 0, false
	}
	n, err := strconv.ParseUint(name, 10, 31)
	if err != nil {
		return 0, false
	}
	return int(n), true
}

// fdInfoDir supplies /proc/[pid]/fdinfo: a file per descriptor saying
// its offset, flags, mount and inode.
type fdInfoDir struct{ x *target }

// Lookup implements synth.Dynamic.Lookup.
func (d fdInfoDir) Lookup(ctx context.Context, parent *synth.Dir, name string) (vfs.Dentry, error) {
	n, ok := parseFD(name)
	if !ok {
		return nil, unix.ENOENT
	}
	x := d.x
	f, _ := x.file(n)
	if f == nil {
		return nil, unix.ENOENT
	}
	f.DecRef()
	node := parent.FS().NewDataFile(parent, name, 0o444, func(ctx context.Context) ([]byte, error) {
		f, cloexec := x.file(n)
		if f == nil {
			return nil, unix.ENOENT
		}
		defer f.DecRef()
		// Only files whose operations never wait have an offset to ask
		// for: asking waits for the offset lock, which a blocked read of
		// a pipe or terminal holds.
		var pos int64
		if ft := f.Dentry().Mode() & vfs.S_IFMT; ft == vfs.S_IFREG || ft == vfs.S_IFDIR {
			if p, err := f.Seek(ctx, 0, unix.SEEK_CUR); err == nil {
				pos = p
			}
		}
		flags := f.Flags()
		if cloexec {
			flags |= unix.O_CLOEXEC
		}
		vd := f.VirtualDentry()
		mnt := 0
		if vd.Mount != nil {
			mnt = vd.Mount.ID
		}
		st, _ := f.Stat(ctx)
		return []byte(fmt.Sprintf("pos:\t%d\nflags:\t0%o\nmnt_id:\t%d\nino:\t%d\n", pos, flags, mnt, st.Ino)), nil
	})
	node.Owner, node.Access = x.owner, x.mayRead
	return node, nil
}

// List implements synth.Dynamic.List.
func (d fdInfoDir) List(ctx context.Context, parent *synth.Dir) ([]vfs.Dirent, error) {
	return d.x.fdList(vfs.S_IFREG), nil
}
