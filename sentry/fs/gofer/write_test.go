package gofer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/platform"
	"palisade.dev/sentry/kernel/auth"
	"palisade.dev/sentry/mm"
	"palisade.dev/sentry/vfs"
)

var ctx = context.Background()

// user is an unprivileged creator.
var user = auth.New(1000, 1001, []uint32{1002}, 0)

func hostStat(t *testing.T, path string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatalf("lstat %s: %v", path, err)
	}
	return st
}

func hostContent(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b)
}

func dirWriter(t *testing.T, d vfs.Dentry) vfs.DirWriter {
	t.Helper()
	w, ok := d.(vfs.DirWriter)
	if !ok {
		t.Fatalf("%T is not a vfs.DirWriter", d)
	}
	return w
}

func write(t *testing.T, f *vfs.FileDescription, s string) {
	t.Helper()
	if n, err := f.Write(ctx, []byte(s)); err != nil || n != len(s) {
		t.Fatalf("Write(%q): got %d, %v", s, n, err)
	}
}

func pread(t *testing.T, f *vfs.FileDescription, n int, off int64) string {
	t.Helper()
	b := make([]byte, n)
	got, err := f.PRead(ctx, b, off)
	if err != nil {
		t.Fatalf("PRead: %v", err)
	}
	return string(b[:got])
}

func statOf(t *testing.T, d vfs.Dentry) vfs.Statx {
	t.Helper()
	st, err := d.Stat(ctx)
	if err != nil {
		t.Fatalf("Stat %s: %v", d.Name(), err)
	}
	return st
}

func TestReadOnlyTreeRefusesWrites(t *testing.T) {
	dir := makeTree(t)
	before := treeListing(t, dir)
	fs := serve(t, dir)
	if fs.Writable() {
		t.Fatalf("Writable: got true for a read-only gofer")
	}
	root := dirWriter(t, fs.Root())
	o := vfs.CreateOptions{Mode: vfs.S_IFREG | 0o644, Creds: user}
	if _, err := root.Create(ctx, "new", o); err != unix.EROFS {
		t.Errorf("Create: got %v, want EROFS", err)
	}
	if err := root.Mkdir(ctx, "new", o); err != unix.EROFS {
		t.Errorf("Mkdir: got %v, want EROFS", err)
	}
	if err := root.Symlink(ctx, "new", "x", o); err != unix.EROFS {
		t.Errorf("Symlink: got %v, want EROFS", err)
	}
	if err := root.Unlink(ctx, "file.txt"); err != unix.EROFS {
		t.Errorf("Unlink: got %v, want EROFS", err)
	}
	if err := root.Rename(ctx, "file.txt", fs.Root(), "x", 0); err != unix.EROFS {
		t.Errorf("Rename: got %v, want EROFS", err)
	}
	file := lookup(t, fs.Root(), "file.txt")
	if err := file.(vfs.Setter).SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_MODE, Stat: vfs.Statx{Mode: 0o600}}); err != unix.EROFS {
		t.Errorf("SetStat: got %v, want EROFS", err)
	}
	if err := file.(vfs.Xattrs).SetXattr(ctx, "user.x", "y", 0); err != unix.EROFS {
		t.Errorf("SetXattr: got %v, want EROFS", err)
	}
	for _, fl := range []uint32{unix.O_WRONLY, unix.O_RDWR, unix.O_RDONLY | unix.O_TRUNC} {
		if _, err := file.Open(ctx, vfs.VirtualDentry{Dentry: file}, fl); err != unix.EROFS {
			t.Errorf("Open(%#x): got %v, want EROFS", fl, err)
		}
	}
	if sf, err := fs.Statfs(ctx); err != nil || sf.Flags&1 == 0 {
		t.Errorf("Statfs: got %+v, %v; want ST_RDONLY", sf, err)
	}
	if after := treeListing(t, dir); after != before {
		t.Errorf("tree changed:\n%s\nwant\n%s", after, before)
	}
}

// treeListing describes the files under dir and their contents.
func treeListing(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		b.WriteString(p + " " + fi.Mode().String())
		if fi.Mode().IsRegular() {
			c, _ := os.ReadFile(p)
			b.WriteString(" " + string(c))
		}
		b.WriteString("\n")
		return nil
	})
	return b.String()
}

func TestCreateWriteRead(t *testing.T) {
	dir := makeTree(t)
	fs := serveRW(t, dir)
	if sf, err := fs.Statfs(ctx); err != nil || sf.Flags&1 != 0 {
		t.Errorf("Statfs: got %+v, %v; want writable", sf, err)
	}
	sub := lookup(t, fs.Root(), "dir")
	c, err := dirWriter(t, sub).Create(ctx, "new.txt", vfs.CreateOptions{Mode: vfs.S_IFREG | 0o640, Creds: user})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	path := filepath.Join(dir, "dir", "new.txt")
	st := hostStat(t, path)
	if st.Mode != unix.S_IFREG|0o640 || st.Uid != 1000 || st.Gid != 1001 {
		t.Errorf("host file: mode %#o owner %d:%d; want %#o 1000:1001", st.Mode, st.Uid, st.Gid, unix.S_IFREG|0o640)
	}
	// The new dentry is cached as the child.
	if got := lookup(t, sub, "new.txt"); got != c {
		t.Errorf("Lookup after Create: got another dentry")
	}
	f := open(t, c, unix.O_RDWR)
	defer f.DecRef()
	write(t, f, "hello, ")
	write(t, f, "world")
	if got := hostContent(t, path); got != "hello, world" {
		t.Errorf("host content: got %q", got)
	}
	if got := pread(t, f, 100, 7); got != "world" {
		t.Errorf("PRead: got %q, want %q", got, "world")
	}
	sst := statOf(t, c)
	st = hostStat(t, path)
	if sst.Size != 12 || sst.Mtime.Sec != st.Mtim.Sec || sst.Mtime.Nsec != st.Mtim.Nsec || sst.Blocks != uint64(st.Blocks) {
		t.Errorf("Stat after writes: size %d mtime %v blocks %d; host size %d mtime %v blocks %d",
			sst.Size, sst.Mtime, sst.Blocks, st.Size, st.Mtim, st.Blocks)
	}
	if off, err := f.Seek(ctx, 0, unix.SEEK_END); err != nil || off != 12 {
		t.Errorf("SEEK_END: got %d, %v; want 12", off, err)
	}
	// Creating an existing name fails.
	if _, err := dirWriter(t, sub).Create(ctx, "new.txt", vfs.CreateOptions{Mode: vfs.S_IFREG | 0o644}); err != unix.EEXIST {
		t.Errorf("Create existing: got %v, want EEXIST", err)
	}
	// A file opened read-only can't be written.
	r := open(t, lookup(t, fs.Root(), "file.txt"), unix.O_RDONLY)
	defer r.DecRef()
	if _, err := r.Write(ctx, []byte("x")); err != unix.EBADF {
		t.Errorf("Write to O_RDONLY file: got %v, want EBADF", err)
	}
}

func TestAppendAndTruncate(t *testing.T) {
	dir := makeTree(t)
	fs := serveRW(t, dir)
	path := filepath.Join(dir, "file.txt")
	d := lookup(t, fs.Root(), "file.txt")
	f := open(t, d, unix.O_WRONLY|unix.O_APPEND)
	write(t, f, "more\n")
	// O_APPEND writes at the end whatever the offset says.
	if n, err := f.PWrite(ctx, []byte("end\n"), 0); err != nil || n != 4 {
		t.Errorf("PWrite with O_APPEND: got %d, %v", n, err)
	}
	want := "hello, gofer\nmore\nend\n"
	if got := hostContent(t, path); got != want {
		t.Errorf("after appends: got %q, want %q", got, want)
	}
	// The host file grew outside the sandbox: appends follow it.
	hf, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	hf.WriteString("host\n")
	hf.Close()
	write(t, f, "again\n")
	want += "host\nagain\n"
	if got := hostContent(t, path); got != want {
		t.Errorf("after a host append: got %q, want %q", got, want)
	}
	// Without O_APPEND, writes go to the offset.
	f.SetStatusFlags(0)
	if _, err := f.Seek(ctx, 0, unix.SEEK_SET); err != nil {
		t.Fatal(err)
	}
	write(t, f, "HELLO")
	want = "HELLO" + want[5:]
	if got := hostContent(t, path); got != want {
		t.Errorf("after a write at 0: got %q, want %q", got, want)
	}
	// ftruncate with a writable file open works on its descriptor, also
	// once the file is unlinked.
	setter := d.(vfs.Setter)
	if err := setter.SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_SIZE, Stat: vfs.Statx{Size: 5}}); err != nil {
		t.Fatalf("SetStat size: %v", err)
	}
	if got := hostContent(t, path); got != "HELLO" {
		t.Errorf("after truncate: got %q", got)
	}
	if st := statOf(t, d); st.Size != 5 {
		t.Errorf("Stat size after truncate: %d, want 5", st.Size)
	}
	f.DecRef()
	// Without an open writer, the gofer truncates.
	if err := setter.SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_SIZE, Stat: vfs.Statx{Size: 2}}); err != nil {
		t.Fatalf("SetStat size through the gofer: %v", err)
	}
	if got := hostContent(t, path); got != "HE" || statOf(t, d).Size != 2 {
		t.Errorf("after gofer truncate: got %q, size %d", got, statOf(t, d).Size)
	}
	// O_TRUNC.
	g := open(t, d, unix.O_WRONLY|unix.O_TRUNC)
	if got := hostContent(t, path); got != "" || statOf(t, d).Size != 0 {
		t.Errorf("after O_TRUNC: got %q, size %d", got, statOf(t, d).Size)
	}
	// fallocate grows the file; fsync flushes.
	al := g.Impl().(interface {
		Allocate(ctx context.Context, mode uint32, off, length int64) error
	})
	if err := al.Allocate(ctx, 0, 0, 10000); err != nil {
		t.Errorf("Allocate: %v", err)
	}
	if st := statOf(t, d); st.Size != 10000 || hostStat(t, path).Size != 10000 {
		t.Errorf("size after Allocate: %d (host %d), want 10000", st.Size, hostStat(t, path).Size)
	}
	if err := g.Impl().(interface{ Sync(context.Context) error }).Sync(ctx); err != nil {
		t.Errorf("Sync: %v", err)
	}
	g.DecRef()
}

func TestDirectoryChanges(t *testing.T) {
	dir := realTree(t)
	fs := serveRW(t, dir)
	root := fs.Root()
	rw := dirWriter(t, root)
	o := func(mode uint32) vfs.CreateOptions { return vfs.CreateOptions{Mode: mode, Creds: user} }

	// mkdir, and the new directory is usable at once.
	if err := rw.Mkdir(ctx, "made", o(vfs.S_IFDIR|0o750)); err != nil {
		t.Fatalf("Mkdir: %v", err)
	}
	made := lookup(t, root, "made")
	if st := hostStat(t, filepath.Join(dir, "made")); st.Mode != unix.S_IFDIR|0o750 || st.Uid != 1000 {
		t.Errorf("host dir: mode %#o uid %d", st.Mode, st.Uid)
	}
	if _, err := dirWriter(t, made).Create(ctx, "inner", o(vfs.S_IFREG|0o600)); err != nil {
		t.Errorf("Create in new dir: %v", err)
	}
	// mknod, symlink.
	if err := rw.Mknod(ctx, "pipe", o(vfs.S_IFIFO|0o600)); err != nil {
		t.Errorf("Mknod: %v", err)
	} else if st := hostStat(t, filepath.Join(dir, "pipe")); st.Mode != unix.S_IFIFO|0o600 {
		t.Errorf("host fifo: mode %#o", st.Mode)
	}
	if err := rw.Symlink(ctx, "sl", "/etc/passwd", o(vfs.S_IFLNK|0o777)); err != nil {
		t.Fatalf("Symlink: %v", err)
	}
	if target, err := lookup(t, root, "sl").Readlink(ctx); err != nil || target != "/etc/passwd" {
		t.Errorf("Readlink: got %q, %v", target, err)
	}
	// link: both names share one inode and its link count.
	file := lookup(t, root, "file.txt")
	if err := rw.Link(ctx, "hard", file); err != nil {
		t.Fatalf("Link: %v", err)
	}
	hard := lookup(t, root, "hard")
	if a, b := statOf(t, file), statOf(t, hard); a.Ino != b.Ino || a.Nlink != 2 || b.Nlink != 2 {
		t.Errorf("after Link: ino %d/%d nlink %d/%d; want one inode, nlink 2", a.Ino, b.Ino, a.Nlink, b.Nlink)
	}
	// A write through one name shows in the other's size.
	f := open(t, hard, unix.O_WRONLY|unix.O_APPEND)
	write(t, f, "!")
	f.DecRef()
	if st := statOf(t, file); st.Size != uint64(len("hello, gofer\n!")) {
		t.Errorf("size through the other link: %d", st.Size)
	}
	if err := rw.Link(ctx, "dirhard", made); err == nil {
		t.Errorf("Link a directory: got nil, want an error")
	}

	// unlink: the name goes, the dentry is deleted, a file open through
	// it goes on working.
	g := open(t, file, unix.O_RDWR)
	if err := rw.Unlink(ctx, "file.txt"); err != nil {
		t.Fatalf("Unlink: %v", err)
	}
	if _, err := root.Lookup(ctx, "file.txt"); err != unix.ENOENT {
		t.Errorf("Lookup unlinked: got %v, want ENOENT", err)
	}
	if !file.(vfs.Deleted).IsDeleted() || hard.(vfs.Deleted).IsDeleted() {
		t.Errorf("IsDeleted: unlinked %v, other link %v; want true, false", file.(vfs.Deleted).IsDeleted(), hard.(vfs.Deleted).IsDeleted())
	}
	if st := statOf(t, hard); st.Nlink != 1 {
		t.Errorf("nlink of the remaining link: %d, want 1", st.Nlink)
	}
	write(t, g, "X")
	if got := hostContent(t, filepath.Join(dir, "hard")); got != "Xello, gofer\n!" {
		t.Errorf("write through the unlinked name: host %q", got)
	}
	g.DecRef()
	if err := rw.Unlink(ctx, "made"); err != unix.EISDIR {
		t.Errorf("Unlink a directory: got %v, want EISDIR", err)
	}
	if err := rw.Rmdir(ctx, "made"); err != unix.ENOTEMPTY {
		t.Errorf("Rmdir non-empty: got %v, want ENOTEMPTY", err)
	}
	if err := dirWriter(t, made).Unlink(ctx, "inner"); err != nil {
		t.Errorf("Unlink inner: %v", err)
	}
	if err := rw.Rmdir(ctx, "made"); err != nil {
		t.Errorf("Rmdir: %v", err)
	}
	if !made.(vfs.Deleted).IsDeleted() {
		t.Errorf("removed directory not deleted")
	}
	if _, err := made.Lookup(ctx, "inner"); err != unix.ENOENT {
		t.Errorf("Lookup in removed dir: got %v, want ENOENT", err)
	}
	if _, err := dirWriter(t, made).Create(ctx, "x", o(vfs.S_IFREG|0o644)); err != unix.ENOENT {
		t.Errorf("Create in removed dir: got %v, want ENOENT", err)
	}

	// rename moves the dentry.
	sub := lookup(t, root, "dir")
	a := lookup(t, sub, "a")
	if err := dirWriter(t, sub).Rename(ctx, "a", root, "moved", 0); err != nil {
		t.Fatalf("Rename: %v", err)
	}
	if got := lookup(t, root, "moved"); got != a || a.Name() != "moved" || a.Parent() != root {
		t.Errorf("after Rename: dentry %p name %q parent %v; want %p moved root", got, a.Name(), a.Parent(), a)
	}
	if _, err := sub.Lookup(ctx, "a"); err != unix.ENOENT {
		t.Errorf("old name after Rename: got %v, want ENOENT", err)
	}
	if got := hostContent(t, filepath.Join(dir, "moved")); got != "a" {
		t.Errorf("host after Rename: %q", got)
	}
	// The moved file opens by its new name.
	h := open(t, a, unix.O_RDONLY)
	if got := pread(t, h, 10, 0); got != "a" {
		t.Errorf("read moved file: %q", got)
	}
	h.DecRef()
	// rename over a file: the victim is deleted.
	b := lookup(t, sub, "b")
	if err := rw.Rename(ctx, "moved", sub, "b", 0); err != nil {
		t.Fatalf("Rename over: %v", err)
	}
	if !b.(vfs.Deleted).IsDeleted() || lookup(t, sub, "b") != a {
		t.Errorf("Rename over: victim deleted %v", b.(vfs.Deleted).IsDeleted())
	}
	// NOREPLACE and EXCHANGE.
	if err := rw.Rename(ctx, "hard", sub, "b", unix.RENAME_NOREPLACE); err != unix.EEXIST {
		t.Errorf("RENAME_NOREPLACE: got %v, want EEXIST", err)
	}
	if err := rw.Rename(ctx, "hard", sub, "b", unix.RENAME_EXCHANGE); err != nil {
		t.Fatalf("RENAME_EXCHANGE: %v", err)
	}
	if lookup(t, root, "hard") != a || lookup(t, sub, "b") != hard || hard.Name() != "b" || a.Name() != "hard" {
		t.Errorf("after exchange: names %q %q", a.Name(), hard.Name())
	}
	if got := hostContent(t, filepath.Join(dir, "hard")); got != "a" {
		t.Errorf("host after exchange: %q", got)
	}
	// Renaming a directory keeps its children reachable.
	if err := rw.Rename(ctx, "dir", root, "dir2", 0); err != nil {
		t.Fatalf("Rename dir: %v", err)
	}
	if got := lookup(t, root, "dir2", "sub"); got.Parent() != sub {
		t.Errorf("child of renamed dir: parent %v", got.Parent())
	}
	if names := dirNames(t, open(t, sub, unix.O_RDONLY), 100); !equal(names, []string{".", "..", "b", "sub"}) {
		t.Errorf("listing of renamed dir: %v", names)
	}
	// Cross-filesystem operations.
	other := serveRW(t, makeTree(t))
	if err := rw.Rename(ctx, "hard", other.Root(), "x", 0); err != unix.EXDEV {
		t.Errorf("Rename across filesystems: got %v, want EXDEV", err)
	}
	if err := rw.Link(ctx, "x", lookup(t, other.Root(), "file.txt")); err != unix.EXDEV {
		t.Errorf("Link across filesystems: got %v, want EXDEV", err)
	}
}

func TestUnlinkedReleasesHostFile(t *testing.T) {
	dir := realTree(t)
	fs := serveRW(t, dir)
	path := filepath.Join(dir, "big.bin")
	d := lookup(t, fs.Root(), "big.bin")
	f := open(t, d, unix.O_RDWR)
	if err := dirWriter(t, fs.Root()).Unlink(ctx, "big.bin"); err != nil {
		t.Fatal(err)
	}
	// The open file still works, truncation too.
	if err := d.(vfs.Setter).SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_SIZE, Stat: vfs.Statx{Size: 3}}); err != nil {
		t.Errorf("ftruncate of an unlinked file: %v", err)
	}
	if got := pread(t, f, 10, 0); got != string(bigContent()[:3]) {
		t.Errorf("read unlinked: %q", got)
	}
	if n := fdsTo(t, path+" (deleted)"); n == 0 {
		t.Errorf("no descriptor open on the unlinked file while it is open")
	}
	f.DecRef()
	// Closed: nothing holds the host file any more (the gofer's FID
	// went back), so its space is freed.
	checkFDsTo(t, path+" (deleted)", 0, "after the last close of an unlinked file")
}

func TestSetStatAndXattrs(t *testing.T) {
	dir := makeTree(t)
	fs := serveRW(t, dir)
	path := filepath.Join(dir, "file.txt")
	d := lookup(t, fs.Root(), "file.txt")
	s := d.(vfs.Setter)
	err := s.SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_MODE | vfs.STATX_UID | vfs.STATX_GID,
		Stat: vfs.Statx{Mode: vfs.S_IFREG | 0o2751, UID: 12, GID: 34}})
	if err != nil {
		t.Fatalf("SetStat: %v", err)
	}
	st := hostStat(t, path)
	sst := statOf(t, d)
	if st.Mode != unix.S_IFREG|0o2751 || st.Uid != 12 || st.Gid != 34 || sst.Mode != st.Mode || sst.UID != 12 || d.Mode() != st.Mode {
		t.Errorf("after SetStat: host mode %#o owner %d:%d; Stat %+v", st.Mode, st.Uid, st.Gid, sst)
	}
	err = s.SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_ATIME | vfs.STATX_MTIME,
		Stat: vfs.Statx{Atime: vfs.Timespec{Sec: 100, Nsec: 1}, Mtime: vfs.Timespec{Nsec: vfs.UTIME_OMIT}}})
	st = hostStat(t, path)
	if err != nil || st.Atim.Sec != 100 || st.Atim.Nsec != 1 || statOf(t, d).Atime.Sec != 100 {
		t.Errorf("SetStat atime: %v; host atime %v", err, st.Atim)
	}
	if err := lookup(t, fs.Root(), "dir").(vfs.Setter).SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_SIZE}); err != unix.EISDIR {
		t.Errorf("truncate a directory: got %v, want EISDIR", err)
	}

	x := d.(vfs.Xattrs)
	if err := x.SetXattr(ctx, "user.k", "v", 0); err == unix.EOPNOTSUPP {
		t.Skip("no user xattrs on the test filesystem")
	} else if err != nil {
		t.Fatalf("SetXattr: %v", err)
	}
	if v, err := x.GetXattr(ctx, "user.k", 0); err != nil || v != "v" {
		t.Errorf("GetXattr: %q, %v", v, err)
	}
	if names, err := x.ListXattr(ctx, 0); err != nil || len(names) != 1 || names[0] != "user.k" {
		t.Errorf("ListXattr: %q, %v", names, err)
	}
	if err := x.RemoveXattr(ctx, "user.k"); err != nil {
		t.Errorf("RemoveXattr: %v", err)
	}
	if _, err := x.GetXattr(ctx, "user.k", 0); err != unix.ENODATA {
		t.Errorf("GetXattr removed: got %v, want ENODATA", err)
	}
	if err := x.SetXattr(ctx, "trusted.k", "v", 0); err != unix.EOPNOTSUPP {
		t.Errorf("SetXattr trusted: got %v, want EOPNOTSUPP", err)
	}
}

func TestSetgidDirectory(t *testing.T) {
	dir := makeTree(t)
	sg := filepath.Join(dir, "sg")
	if err := os.Mkdir(sg, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chown(sg, 0, 4242)
	unix.Chmod(sg, 0o2775)
	fs := serveRW(t, dir)
	d := dirWriter(t, lookup(t, fs.Root(), "sg"))
	if _, err := d.Create(ctx, "f", vfs.CreateOptions{Mode: vfs.S_IFREG | 0o644, Creds: user}); err != nil {
		t.Fatal(err)
	}
	if err := d.Mkdir(ctx, "d", vfs.CreateOptions{Mode: vfs.S_IFDIR | 0o755, Creds: user}); err != nil {
		t.Fatal(err)
	}
	if st := hostStat(t, filepath.Join(sg, "f")); st.Gid != 4242 || st.Uid != 1000 {
		t.Errorf("file in setgid dir: owner %d:%d, want 1000:4242", st.Uid, st.Gid)
	}
	if st := hostStat(t, filepath.Join(sg, "d")); st.Gid != 4242 || st.Mode != unix.S_IFDIR|0o2755 {
		t.Errorf("dir in setgid dir: gid %d mode %#o, want 4242 %#o", st.Gid, st.Mode, unix.S_IFDIR|0o2755)
	}
}

// mapPage maps the file page at off of m and returns the sentry's view of
// it, as the application's mapping writes it; done drops the reference.
func mapPage(t *testing.T, m mm.Mappable, off uint64) (b []byte, done func()) {
	t.Helper()
	ts, err := m.Translate(off, off+linux.PageSize, off)
	if err != nil || len(ts) != 1 {
		t.Fatalf("Translate(%#x): %+v, %v", off, ts, err)
	}
	mem := memFile(t)
	return mem.Slice(ts[0].MemOff, linux.PageSize), func() { mem.DecRef(ts[0].MemOff, linux.PageSize) }
}

func TestSharedWritableMapping(t *testing.T) {
	dir := makeTree(t)
	fs := serveRW(t, dir)
	path := filepath.Join(dir, "big.bin")
	want := bigContent()
	d := lookup(t, fs.Root(), "big.bin")
	f := open(t, d, unix.O_RDWR)
	defer f.DecRef()
	r := open(t, d, unix.O_RDONLY)
	defer r.DecRef()

	// A shared mapping through a read-only file may not write.
	ro := mm.MMapOpts{Length: linux.PageSize, Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess}
	if err := r.ConfigureMMap(ctx, &ro); err != unix.EACCES {
		t.Errorf("shared writable mapping of an O_RDONLY file: got %v, want EACCES", err)
	}
	opts := mm.MMapOpts{Length: 4 * linux.PageSize, Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess}
	if err := f.ConfigureMMap(ctx, &opts); err != nil {
		t.Fatalf("ConfigureMMap: %v", err)
	}
	if !opts.MaxPerms.Write {
		t.Errorf("shared mapping of an O_RDWR file: MaxPerms %v, want writable", opts.MaxPerms)
	}
	m := opts.Mappable
	page1, done1 := mapPage(t, m, linux.PageSize)
	if !bytes.Equal(page1, want[linux.PageSize:2*linux.PageSize]) {
		t.Errorf("mapped page differs from the file")
	}
	// The application writes through the mapping: reads through any
	// description of the file see it at once.
	copy(page1[10:], "MAPPED")
	if got := pread(t, r, 6, linux.PageSize+10); got != "MAPPED" {
		t.Errorf("read after a write through the mapping: got %q", got)
	}
	// write(2) shows in the mapping.
	if _, err := f.PWrite(ctx, []byte("WRITTEN"), linux.PageSize+100); err != nil {
		t.Fatal(err)
	}
	if got := string(page1[100:107]); got != "WRITTEN" {
		t.Errorf("mapping after write(2): got %q", got)
	}
	// A private mapping made now shares the page until it writes.
	priv := mm.MMapOpts{Length: linux.PageSize, Private: true, Perms: platform.Read, MaxPerms: platform.AnyAccess}
	if err := r.ConfigureMMap(ctx, &priv); err != nil || priv.Mappable != m {
		t.Errorf("private mapping: %v, mappable %v", err, priv.Mappable)
	}
	// fsync writes the mapping's changes back to the host file.
	if err := f.Impl().(interface{ Sync(context.Context) error }).Sync(ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	host := []byte(hostContent(t, path))
	if string(host[linux.PageSize+10:linux.PageSize+16]) != "MAPPED" || string(host[linux.PageSize+100:linux.PageSize+107]) != "WRITTEN" {
		t.Errorf("host file after fsync lacks the changes")
	}
	// msync's hook writes back too.
	copy(page1[200:], "SYNCED")
	if err := m.(interface{ Sync(start, end uint64) error }).Sync(linux.PageSize, 2*linux.PageSize); err != nil {
		t.Errorf("mappable Sync: %v", err)
	}
	if host := []byte(hostContent(t, path)); string(host[linux.PageSize+200:linux.PageSize+206]) != "SYNCED" {
		t.Errorf("host file after msync lacks the change")
	}
	// Truncation while mapped: the file reads as zeros past the end if
	// it grows again, and a fault past the end is a bus error.
	s := d.(vfs.Setter)
	if err := s.SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_SIZE, Stat: vfs.Statx{Size: linux.PageSize + 50}}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Translate(2*linux.PageSize, 3*linux.PageSize, 2*linux.PageSize); err != mm.ErrBusError {
		t.Errorf("Translate past the new end: got %v, want ErrBusError", err)
	}
	if err := s.SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_SIZE, Stat: vfs.Statx{Size: 2 * linux.PageSize}}); err != nil {
		t.Fatal(err)
	}
	if got := pread(t, r, 10, linux.PageSize+100); got != strings.Repeat("\x00", 10) {
		t.Errorf("bytes past a truncation read back %q, want zeros", got)
	}
	// Changes after the last fsync reach the host when the last mapping
	// goes, and only up to the file's size.
	copy(page1[20:], "LAST")
	done1()
	m.(mm.MappingRefs).DecMappings() // the private mapping
	m.(mm.MappingRefs).DecMappings() // the shared one
	host = []byte(hostContent(t, path))
	if len(host) != 2*linux.PageSize || string(host[linux.PageSize+20:linux.PageSize+24]) != "LAST" {
		t.Errorf("host file after the last unmap: size %d, content at %#x %q", len(host), linux.PageSize+20, host[linux.PageSize+20:linux.PageSize+24])
	}
	if in := d.(*dentry).inode(); in.cached.Load() || in.cacheFD >= 0 {
		t.Errorf("cache still there after the last mapping went")
	}
	// Without a cache, reads and writes go straight to the host.
	if got := pread(t, r, 4, linux.PageSize+20); got != "LAST" {
		t.Errorf("read after unmap: %q", got)
	}
}

func TestMappingSharedAcrossHardLinks(t *testing.T) {
	dir := makeTree(t)
	if err := os.Link(filepath.Join(dir, "big.bin"), filepath.Join(dir, "other")); err != nil {
		t.Fatal(err)
	}
	fs := serveRW(t, dir)
	a := open(t, lookup(t, fs.Root(), "big.bin"), unix.O_RDWR)
	defer a.DecRef()
	b := open(t, lookup(t, fs.Root(), "other"), unix.O_RDWR)
	defer b.DecRef()
	opts := mm.MMapOpts{Length: linux.PageSize, Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess}
	if err := a.ConfigureMMap(ctx, &opts); err != nil {
		t.Fatal(err)
	}
	defer opts.Mappable.(mm.MappingRefs).DecMappings()
	page, done := mapPage(t, opts.Mappable, 0)
	defer done()
	copy(page, "via-a")
	if got := pread(t, b, 5, 0); got != "via-a" {
		t.Errorf("read through the other link: %q, want %q", got, "via-a")
	}
	if _, err := b.PWrite(ctx, []byte("via-b"), 0); err != nil {
		t.Fatal(err)
	}
	if got := string(page[:5]); got != "via-b" {
		t.Errorf("mapping after a write through the other link: %q", got)
	}
}

func TestDirFsyncAndListAfterChanges(t *testing.T) {
	dir := makeTree(t)
	fs := serveRW(t, dir)
	rw := dirWriter(t, fs.Root())
	for _, n := range []string{"z1", "z2"} {
		if _, err := rw.Create(ctx, n, vfs.CreateOptions{Mode: vfs.S_IFREG | 0o644}); err != nil {
			t.Fatal(err)
		}
	}
	rw.Unlink(ctx, "file.txt")
	f := open(t, fs.Root(), unix.O_RDONLY)
	defer f.DecRef()
	names := dirNames(t, f, 100)
	sort.Strings(names)
	if strings.Contains(strings.Join(names, ","), "file.txt") || !strings.Contains(strings.Join(names, ","), "z1,z2") {
		t.Errorf("listing after changes: %v", names)
	}
	if err := f.Impl().(interface{ Sync(context.Context) error }).Sync(ctx); err != nil {
		t.Errorf("fsync directory: %v", err)
	}
}
