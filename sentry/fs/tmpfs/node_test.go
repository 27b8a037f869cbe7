package tmpfs

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/sentry/kernel/auth"
	"palisade.dev/sentry/vfs"
)

func TestNewOptions(t *testing.T) {
	e := newEnv(t, Options{})
	st := stat(t, e.root())
	if st.Mode != vfs.S_IFDIR|0o1777 || st.UID != 0 || st.GID != 0 || st.Nlink != 2 {
		t.Errorf("default root: mode %#o uid %d gid %d nlink %d", st.Mode, st.UID, st.GID, st.Nlink)
	}
	e = newEnv(t, Options{Mode: 0o700, UID: 5, GID: 6})
	st = stat(t, e.root())
	if st.Mode != vfs.S_IFDIR|0o700 || st.UID != 5 || st.GID != 6 {
		t.Errorf("root: mode %#o uid %d gid %d", st.Mode, st.UID, st.GID)
	}
	if e.fs.Name() != "tmpfs" || e.fs.Root() != vfs.Dentry(e.root()) || e.root().Parent() != nil {
		t.Error("name, root or root's parent wrong")
	}
	sf, _ := e.fs.Statfs(ctx)
	if sf.Type != TMPFS_MAGIC || sf.Namelen != 255 || sf.Blocks == 0 || sf.Bfree != sf.Blocks || sf.Files == 0 || sf.Ffree != sf.Files-1 {
		t.Errorf("unlimited statfs: %+v", sf)
	}
	e.writeFile("f", make([]byte, 10))
	sf2, _ := e.fs.Statfs(ctx)
	if sf2.Bfree != sf.Bfree-1 || sf2.Ffree != sf.Ffree-1 {
		t.Errorf("statfs after a one-page file: free %d files %d; want %d, %d", sf2.Bfree, sf2.Ffree, sf.Bfree-1, sf.Ffree-1)
	}
	// The size limit rounds up to pages.
	e = newEnv(t, Options{Size: 10*page + 1})
	if sf, _ := e.fs.Statfs(ctx); sf.Blocks != 11 {
		t.Errorf("blocks %d for a size of 10 pages and a byte; want 11", sf.Blocks)
	}
}

func TestOwnersAndSetgid(t *testing.T) {
	e := newEnv(t, Options{})
	user := auth.New(1000, 1000, []uint32{50}, 0)
	c := vfs.CreateOptions{Mode: 0o755, Creds: user}
	e.root().Mkdir(ctx, "plain", vfs.CreateOptions{Mode: vfs.S_IFDIR | 0o755, Creds: user})
	if st := stat(t, e.lookup("plain")); st.UID != 1000 || st.GID != 1000 {
		t.Errorf("owner %d:%d, want 1000:1000", st.UID, st.GID)
	}
	// mkdir ignores a set-group-ID bit in its mode...
	sg := e.mkdir("sg", 0o2775)
	if m := sg.Mode(); m != vfs.S_IFDIR|0o775 {
		t.Errorf("mkdir with mode 02775: %#o", m)
	}
	// ...which chmod sets.
	sg.SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_GID | vfs.STATX_MODE, Stat: vfs.Statx{GID: 100, Mode: 0o2775}})
	f, _ := sg.Create(ctx, "f", c)
	if st := stat(t, f); st.UID != 1000 || st.GID != 100 || st.Mode != vfs.S_IFREG|0o755 {
		t.Errorf("file in setgid dir: %d:%d mode %#o; want 1000:100 %#o", st.UID, st.GID, st.Mode, vfs.S_IFREG|0o755)
	}
	sg.Mkdir(ctx, "sub", vfs.CreateOptions{Mode: vfs.S_IFDIR | 0o755, Creds: user})
	if st := stat(t, e.lookup("sg/sub")); st.GID != 100 || st.Mode != vfs.S_IFDIR|0o2755 {
		t.Errorf("dir in setgid dir: gid %d mode %#o; want 100, %#o", st.GID, st.Mode, vfs.S_IFDIR|0o2755)
	}
	// A group-executable setgid file made by a non-member loses the bit;
	// a member keeps it.
	sg.Create(ctx, "x", vfs.CreateOptions{Mode: 0o2755, Creds: user})
	if m := e.lookup("sg/x").Mode(); m != vfs.S_IFREG|0o755 {
		t.Errorf("setgid file by a non-member: mode %#o", m)
	}
	member := auth.New(1000, 1000, []uint32{100}, 0)
	sg.Create(ctx, "y", vfs.CreateOptions{Mode: 0o2755, Creds: member})
	if m := e.lookup("sg/y").Mode(); m != vfs.S_IFREG|0o2755 {
		t.Errorf("setgid file by a member: mode %#o", m)
	}
	// Outside a setgid directory the mode is as given.
	e.root().Create(ctx, "z", vfs.CreateOptions{Mode: 0o2755, Creds: user})
	if m := e.lookup("z").Mode(); m != vfs.S_IFREG|0o2755 {
		t.Errorf("setgid file elsewhere: mode %#o", m)
	}
}

func TestSetStat(t *testing.T) {
	e := newEnv(t, Options{})
	d := e.create("f")
	if err := d.SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_MODE | vfs.STATX_UID | vfs.STATX_GID, Stat: vfs.Statx{Mode: vfs.S_IFDIR | 0o4700, UID: 7, GID: 8}}); err != nil {
		t.Fatal(err)
	}
	if st := stat(t, d); st.Mode != vfs.S_IFREG|0o4700 || st.UID != 7 || st.GID != 8 {
		t.Errorf("after setattr: mode %#o %d:%d", st.Mode, st.UID, st.GID)
	}
	before := stat(t, d)
	e.clock.advance(time.Second)
	d.SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_ATIME | vfs.STATX_MTIME, Stat: vfs.Statx{
		Atime: vfs.Timespec{Sec: 5, Nsec: 6}, Mtime: vfs.Timespec{Nsec: vfs.UTIME_OMIT}}})
	st := stat(t, d)
	if st.Atime != (vfs.Timespec{Sec: 5, Nsec: 6}) || st.Mtime != before.Mtime || st.Ctime == before.Ctime {
		t.Errorf("utimes: atime %v mtime %v (was %v) ctime %v (was %v)", st.Atime, st.Mtime, before.Mtime, st.Ctime, before.Ctime)
	}
	e.clock.advance(time.Second)
	d.SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_MTIME, Stat: vfs.Statx{Mtime: vfs.Timespec{Nsec: vfs.UTIME_NOW}}})
	if st := stat(t, d); st.Mtime != e.fs.now() || st.Ctime != e.fs.now() {
		t.Errorf("UTIME_NOW: mtime %v ctime %v, want %v", st.Mtime, st.Ctime, e.fs.now())
	}
	// Truncation by someone without CAP_FSETID drops setuid.
	d.SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_SIZE, Creds: auth.New(7, 8, nil, 0)})
	if m := d.Mode(); m != vfs.S_IFREG|0o700 {
		t.Errorf("mode %#o after unprivileged truncation", m)
	}
}

func TestTimes(t *testing.T) {
	e := newEnv(t, Options{})
	root := e.root()
	tick := func() vfs.Timespec {
		e.clock.advance(time.Second)
		return e.fs.now()
	}
	now := tick()
	d := e.create("f")
	st := stat(t, d)
	if st.Atime != now || st.Mtime != now || st.Ctime != now || st.Btime != now {
		t.Errorf("new file times %v %v %v %v; want all %v", st.Atime, st.Mtime, st.Ctime, st.Btime, now)
	}
	if rs := stat(t, root); rs.Mtime != now || rs.Ctime != now {
		t.Errorf("parent after create: mtime %v ctime %v", rs.Mtime, rs.Ctime)
	}
	fd := e.open(d, unix.O_RDWR)
	defer fd.DecRef()

	// Write: mtime and ctime.
	now = tick()
	fd.Write(ctx, []byte("data"))
	st = stat(t, d)
	if st.Mtime != now || st.Ctime != now || st.Atime == now {
		t.Errorf("after write: atime %v mtime %v ctime %v; now %v", st.Atime, st.Mtime, st.Ctime, now)
	}
	// Read: atime, once (relatime) until the next change.
	now = tick()
	fd.PRead(ctx, make([]byte, 4), 0)
	if st = stat(t, d); st.Atime != now {
		t.Errorf("after read: atime %v, want %v", st.Atime, now)
	}
	tick()
	fd.PRead(ctx, make([]byte, 4), 0)
	if st2 := stat(t, d); st2.Atime != now {
		t.Errorf("second read moved atime to %v (relatime keeps %v)", st2.Atime, now)
	}
	e.clock.advance(25 * time.Hour)
	now = e.fs.now()
	fd.PRead(ctx, make([]byte, 4), 0)
	if st2 := stat(t, d); st2.Atime != now {
		t.Errorf("read a day later: atime %v, want %v", st2.Atime, now)
	}
	// Zero-length I/O changes nothing.
	tick()
	fd.Write(ctx, nil)
	if st2 := stat(t, d); st2.Mtime == e.fs.now() {
		t.Error("empty write changed mtime")
	}

	// Link, rename, unlink: the parent's mtime and ctime, the inode's
	// ctime.
	for _, op := range []struct {
		what string
		do   func() error
	}{
		{"link", func() error { return root.Link(ctx, "g", d) }},
		{"rename", func() error { return root.Rename(ctx, "g", root, "h", 0) }},
		{"unlink", func() error { return root.Unlink(ctx, "h") }},
	} {
		now = tick()
		if err := op.do(); err != nil {
			t.Fatalf("%s: %v", op.what, err)
		}
		rs, fs := stat(t, root), stat(t, d)
		if rs.Mtime != now || rs.Ctime != now || fs.Ctime != now {
			t.Errorf("%s: parent mtime %v ctime %v, file ctime %v; want %v", op.what, rs.Mtime, rs.Ctime, fs.Ctime, now)
		}
	}
	// Directory listing: the directory's atime.
	now = tick()
	e.names(root)
	if rs := stat(t, root); rs.Atime != now {
		t.Errorf("getdents: atime %v, want %v", rs.Atime, now)
	}
	// O_NOATIME reads leave atime alone.
	e.clock.advance(48 * time.Hour)
	na := e.open(d, unix.O_RDONLY|unix.O_NOATIME)
	na.Read(ctx, make([]byte, 1))
	na.DecRef()
	if st2 := stat(t, d); st2.Atime == e.fs.now() {
		t.Error("O_NOATIME read changed atime")
	}
}

func TestSymlink(t *testing.T) {
	e := newEnv(t, Options{})
	if err := e.root().Symlink(ctx, "l", "some/target", opts(vfs.S_IFLNK|0o777)); err != nil {
		t.Fatal(err)
	}
	l := e.lookup("l")
	if tgt, err := l.Readlink(ctx); tgt != "some/target" || err != nil {
		t.Errorf("readlink = %q, %v", tgt, err)
	}
	if st := stat(t, l); st.Size != uint64(len("some/target")) || st.Mode != vfs.S_IFLNK|0o777 {
		t.Errorf("symlink size %d mode %#o", st.Size, st.Mode)
	}
	if _, err := l.Open(ctx, vfs.VirtualDentry{Mount: e.mnt, Dentry: l}, unix.O_RDONLY); err != unix.ELOOP {
		t.Errorf("open symlink: %v", err)
	}
	if _, err := e.create("f").Readlink(ctx); err != unix.EINVAL {
		t.Errorf("readlink of a file: %v", err)
	}
	// Path resolution follows it.
	e.mkdir("some", 0o755)
	e.writeFile("some/target", []byte("t"))
	ns := vfs.NewMountNamespace(e.fs, "tmpfs", false)
	vd, err := ns.Resolve(ctx, "/l", vfs.ResolveOpts{Root: ns.Root(), Start: ns.Root(), FollowFinal: true})
	if err != nil || vd.Dentry != vfs.Dentry(e.lookup("some/target")) {
		t.Errorf("resolve through the symlink: %v, %v", vd.Dentry, err)
	}
}

func TestXattrs(t *testing.T) {
	e := newEnv(t, Options{})
	d := e.create("f")
	if err := d.SetXattr(ctx, "user.a", "one", 0); err != nil {
		t.Fatal(err)
	}
	if v, err := d.GetXattr(ctx, "user.a", 0); v != "one" || err != nil {
		t.Errorf("get with size 0 = %q, %v", v, err)
	}
	if v, err := d.GetXattr(ctx, "user.a", 3); v != "one" || err != nil {
		t.Errorf("get with exact size = %q, %v", v, err)
	}
	if _, err := d.GetXattr(ctx, "user.a", 2); err != unix.ERANGE {
		t.Errorf("get into too small a buffer: %v", err)
	}
	d.SetXattr(ctx, "trusted.b", "", 0)
	d.SetXattr(ctx, "user.c", strings.Repeat("v", 65536), 0)
	for _, c := range []struct {
		what string
		err  error
		want error
	}{
		{"create existing", d.SetXattr(ctx, "user.a", "x", XATTR_CREATE), unix.EEXIST},
		{"replace missing", d.SetXattr(ctx, "user.new", "x", XATTR_REPLACE), unix.ENODATA},
		{"both flags on missing", d.SetXattr(ctx, "user.new", "x", XATTR_CREATE|XATTR_REPLACE), unix.ENODATA},
		{"bad flags", d.SetXattr(ctx, "user.a", "x", 4), unix.EINVAL},
		{"value too big", d.SetXattr(ctx, "user.big", strings.Repeat("v", 65537), 0), unix.E2BIG},
		{"security namespace", d.SetXattr(ctx, "security.selinux", "x", 0), unix.EOPNOTSUPP},
		{"no namespace", d.SetXattr(ctx, "plain", "x", 0), unix.EOPNOTSUPP},
		{"empty suffix", d.SetXattr(ctx, "user.", "x", 0), unix.EINVAL},
		{"empty name", d.SetXattr(ctx, "", "x", 0), unix.ERANGE},
		{"long name", d.SetXattr(ctx, "user."+strings.Repeat("n", 251), "x", 0), unix.ERANGE},
		{"get missing", func() error { _, err := d.GetXattr(ctx, "user.none", 0); return err }(), unix.ENODATA},
		{"remove missing", d.RemoveXattr(ctx, "user.none"), unix.ENODATA},
		{"replace existing", d.SetXattr(ctx, "user.a", "two", XATTR_REPLACE), nil},
	} {
		wantErr(t, c.what, c.err, c.want)
	}
	if v, _ := d.GetXattr(ctx, "user.a", 0); v != "two" {
		t.Errorf("after replace: %q", v)
	}
	names, err := d.ListXattr(ctx, 0)
	if strings.Join(names, ",") != "trusted.b,user.a,user.c" || err != nil {
		t.Errorf("list = %v, %v", names, err)
	}
	if _, err := d.ListXattr(ctx, uint64(len("trusted.b,user.a,user.c"))); err != unix.ERANGE {
		t.Errorf("list into too small a buffer: %v", err)
	}
	if _, err := d.ListXattr(ctx, uint64(len("trusted.b,user.a,user.c,"))); err != nil {
		t.Errorf("list into an exact buffer: %v", err)
	}
	// Unprivileged callers don't see or touch trusted.*.
	user := withCreds(auth.New(1000, 1000, nil, 0))
	if names, _ := d.ListXattr(user, 0); strings.Join(names, ",") != "user.a,user.c" {
		t.Errorf("unprivileged list = %v", names)
	}
	if _, err := d.GetXattr(user, "trusted.b", 0); err != unix.ENODATA {
		t.Errorf("unprivileged get trusted: %v", err)
	}
	wantErr(t, "unprivileged set trusted", d.SetXattr(user, "trusted.b", "x", 0), unix.EPERM)
	if v, err := d.GetXattr(withCreds(rootCreds), "trusted.b", 0); v != "" || err != nil {
		t.Errorf("empty value = %q, %v", v, err)
	}
	if err := d.RemoveXattr(ctx, "user.a"); err != nil {
		t.Fatal(err)
	}
	if names, _ := d.ListXattr(ctx, 0); strings.Join(names, ",") != "trusted.b,user.c" {
		t.Errorf("after remove: %v", names)
	}
	// user.* only on regular files and directories.
	e.root().Symlink(ctx, "l", "f", opts(vfs.S_IFLNK|0o777))
	l := e.lookup("l")
	wantErr(t, "user xattr on a symlink", l.SetXattr(ctx, "user.a", "x", 0), unix.EPERM)
	if _, err := l.GetXattr(ctx, "user.a", 0); err != unix.ENODATA {
		t.Errorf("get user xattr of a symlink: %v", err)
	}
	if err := l.SetXattr(ctx, "trusted.a", "x", 0); err != nil {
		t.Errorf("trusted xattr on a symlink: %v", err)
	}
	if err := e.root().SetXattr(ctx, "user.dir", "x", 0); err != nil {
		t.Errorf("user xattr on a directory: %v", err)
	}
}

func TestFIFO(t *testing.T) {
	e := newEnv(t, Options{})
	if err := e.root().Mknod(ctx, "p", opts(vfs.S_IFIFO|0o644)); err != nil {
		t.Fatal(err)
	}
	p := e.lookup("p")
	vd := vfs.VirtualDentry{Mount: e.mnt, Dentry: p}
	// No reader: a non-blocking writer gets ENXIO, a non-blocking reader
	// opens at once.
	if _, err := p.Open(ctx, vd, unix.O_WRONLY|unix.O_NONBLOCK); err != unix.ENXIO {
		t.Errorf("non-blocking write open without readers: %v", err)
	}
	r, err := p.Open(ctx, vd, unix.O_RDONLY|unix.O_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	w, err := p.Open(ctx, vd, unix.O_WRONLY|unix.O_NONBLOCK)
	if err != nil {
		t.Fatalf("non-blocking write open with a reader: %v", err)
	}
	w.Write(ctx, []byte("through the fifo"))
	buf := make([]byte, 100)
	if n, _ := r.Read(ctx, buf); string(buf[:n]) != "through the fifo" {
		t.Errorf("read %q", buf[:n])
	}
	st, _ := r.Stat(ctx)
	if st.Ino != p.Ino() || st.Mode != vfs.S_IFIFO|0o644 {
		t.Errorf("fstat of the fifo: ino %d mode %#o; want the node's %d", st.Ino, st.Mode, p.Ino())
	}
	if r.Dentry() != vfs.Dentry(p) {
		t.Error("description's dentry is not the node")
	}
	r.DecRef()
	w.DecRef()

	// A blocking reader waits for a writer.
	opened := make(chan *vfs.FileDescription)
	go func() {
		r, err := p.Open(ctx, vd, unix.O_RDONLY)
		if err != nil {
			t.Errorf("blocking read open: %v", err)
		}
		opened <- r
	}()
	select {
	case <-opened:
		t.Fatal("read open didn't wait for a writer")
	case <-time.After(50 * time.Millisecond):
	}
	w, err = p.Open(ctx, vd, unix.O_WRONLY)
	if err != nil {
		t.Fatalf("write open with a waiting reader: %v", err)
	}
	r = <-opened
	w.Write(ctx, []byte("x"))
	if n, _ := r.Read(ctx, buf); n != 1 {
		t.Errorf("read %d bytes", n)
	}
	w.DecRef()
	// The writer gone, the reader sees end of file.
	if n, err := r.Read(ctx, buf); n != 0 || err != nil {
		t.Errorf("read after the writer left = %d, %v", n, err)
	}
	r.DecRef()

	// O_RDWR never waits; an interrupted wait fails.
	rw, err := p.Open(ctx, vd, unix.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	rw.DecRef()
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := p.Open(cctx, vd, unix.O_WRONLY); err != unix.EINTR {
		t.Errorf("cancelled write open: %v", err)
	}
	f := p.inode.fifo
	if f.Readers() != 0 || f.Writers() != 0 || p.inode.refs != 0 {
		t.Errorf("after all closed: %d readers, %d writers, %d refs", f.Readers(), f.Writers(), p.inode.refs)
	}
}

// taskCtx blocks as a task does, and is interrupted at once.
type taskCtx struct{ context.Context }

func (taskCtx) Block(ch <-chan struct{}, _ time.Time) error { return context.Canceled }

func TestFIFOInterrupted(t *testing.T) {
	e := newEnv(t, Options{})
	e.root().Mknod(ctx, "p", opts(vfs.S_IFIFO|0o644))
	p := e.lookup("p")
	if _, err := p.Open(taskCtx{ctx}, vfs.VirtualDentry{Mount: e.mnt, Dentry: p}, unix.O_RDONLY); err != linux.ERESTARTSYS {
		t.Errorf("interrupted open: %v, want ERESTARTSYS", err)
	}
}

type devFile struct {
	vfs.FileDefaults
	major, minor uint32
}

func TestDevicesAndSockets(t *testing.T) {
	e := newEnv(t, Options{})
	root := e.root()
	root.Mknod(ctx, "null", vfs.CreateOptions{Mode: vfs.S_IFCHR | 0o666, Dev: unix.Mkdev(1, 3), Creds: rootCreds})
	root.Mknod(ctx, "sda", vfs.CreateOptions{Mode: vfs.S_IFBLK | 0o660, Dev: unix.Mkdev(8, 0), Creds: rootCreds})
	root.Mknod(ctx, "sock", opts(vfs.S_IFSOCK|0o755))
	null := e.lookup("null")
	if st := stat(t, null); st.RdevMajor != 1 || st.RdevMinor != 3 || st.Mode != vfs.S_IFCHR|0o666 {
		t.Errorf("device stat: %d:%d mode %#o", st.RdevMajor, st.RdevMinor, st.Mode)
	}
	for _, n := range []string{"null", "sda", "sock"} {
		d := e.lookup(n)
		if _, err := d.Open(ctx, vfs.VirtualDentry{Mount: e.mnt, Dentry: d}, unix.O_RDWR); err != unix.ENXIO {
			t.Errorf("open %s without an opener: %v", n, err)
		}
	}

	e = newEnv(t, Options{Devices: func(_ context.Context, typ, major, minor, _ uint32) (vfs.FileImpl, error) {
		if typ != vfs.S_IFCHR {
			return nil, unix.ENXIO
		}
		return &devFile{major: major, minor: minor}, nil
	}})
	e.root().Mknod(ctx, "null", vfs.CreateOptions{Mode: vfs.S_IFCHR | 0o666, Dev: unix.Mkdev(1, 3), Creds: rootCreds})
	null = e.lookup("null")
	fd, err := null.Open(ctx, vfs.VirtualDentry{Mount: e.mnt, Dentry: null}, unix.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	if f := fd.Impl().(*devFile); f.major != 1 || f.minor != 3 || fd.Dentry() != vfs.Dentry(null) {
		t.Errorf("opened device %d:%d", f.major, f.minor)
	}
	fd.DecRef()

	// A socket bound by the socket layer leads to its endpoint.
	ep := new(int)
	if _, err := e.root().MknodSocket(ctx, "bound", opts(0o755), ep); err != nil {
		t.Fatal(err)
	}
	if got := e.lookup("bound").SocketEndpoint(); got != ep {
		t.Errorf("endpoint %v, want %v", got, ep)
	}
	if _, err := e.root().MknodSocket(ctx, "bound", opts(0o755), ep); err != unix.EEXIST {
		t.Errorf("bind to a taken name: %v", err)
	}
}
