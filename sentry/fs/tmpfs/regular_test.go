package tmpfs

import (
	"bytes"
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/sentry/kernel/auth"
	"palisade.dev/sentry/mm"
	"palisade.dev/sentry/vfs"
)

const page = linux.PageSize

func TestCreateWriteRead(t *testing.T) {
	e := newEnv(t, Options{})
	data := pattern(3*page+123, 1)
	d := e.writeFile("f", data)
	if got := e.readAll(d); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, differs from the %d written", len(got), len(data))
	}
	st := stat(t, d)
	if st.Size != uint64(len(data)) || st.Blocks != 4*page/512 || st.Nlink != 1 || st.Mode != vfs.S_IFREG|0o644 {
		t.Errorf("stat = size %d blocks %d nlink %d mode %#o; want %d, %d, 1, %#o", st.Size, st.Blocks, st.Nlink, st.Mode, len(data), 4*page/512, vfs.S_IFREG|0o644)
	}
	if st.Mask&STATX_BTIME == 0 || st.Btime.Sec == 0 {
		t.Errorf("no birth time: mask %#x btime %v", st.Mask, st.Btime)
	}

	fd := e.open(d, unix.O_RDWR)
	defer fd.DecRef()
	buf := make([]byte, 10)
	if n, err := fd.PRead(ctx, buf, page-5); n != 10 || err != nil || !bytes.Equal(buf, data[page-5:page+5]) {
		t.Errorf("pread across a page boundary = %d, %v, %v", n, err, buf)
	}
	if n, err := fd.PRead(ctx, buf, int64(len(data))-3); n != 3 || err != nil {
		t.Errorf("pread at the end = %d, %v; want 3", n, err)
	}
	if n, err := fd.PRead(ctx, buf, int64(len(data))+100); n != 0 || err != nil {
		t.Errorf("pread past the end = %d, %v; want 0", n, err)
	}
	if off, err := fd.Seek(ctx, -10, unix.SEEK_END); off != int64(len(data))-10 || err != nil {
		t.Errorf("SEEK_END = %d, %v", off, err)
	}
	if n, _ := fd.Read(ctx, buf); n != 10 || !bytes.Equal(buf, data[len(data)-10:]) {
		t.Errorf("read after seek = %d %v", n, buf)
	}
	if _, err := fd.Seek(ctx, -1, unix.SEEK_SET); err != unix.EINVAL {
		t.Errorf("seek to -1: %v, want EINVAL", err)
	}
	// Overwrite in the middle.
	if n, err := fd.PWrite(ctx, []byte("hello"), 100); n != 5 || err != nil {
		t.Fatalf("pwrite = %d, %v", n, err)
	}
	copy(data[100:], "hello")
	if got := e.readAll(d); !bytes.Equal(got, data) {
		t.Errorf("contents after overwrite differ")
	}
}

func TestSparse(t *testing.T) {
	e := newEnv(t, Options{})
	d := e.create("sparse")
	fd := e.open(d, unix.O_RDWR)
	defer fd.DecRef()
	const far = 1 << 40 // larger than any test machine's memory
	if n, err := fd.PWrite(ctx, []byte("end"), far); n != 3 || err != nil {
		t.Fatalf("pwrite at 1 TiB = %d, %v", n, err)
	}
	if n, err := fd.PWrite(ctx, []byte("start"), 2*page); n != 5 || err != nil {
		t.Fatalf("pwrite = %d, %v", n, err)
	}
	st := stat(t, d)
	if st.Size != far+3 || st.Blocks != 2*page/512 {
		t.Errorf("size %d blocks %d; want %d, %d", st.Size, st.Blocks, far+3, 2*page/512)
	}
	buf := bytes.Repeat([]byte{0xff}, 3*page)
	if n, err := fd.PRead(ctx, buf, page); n != len(buf) || err != nil {
		t.Fatalf("pread of a hole = %d, %v", n, err)
	}
	want := make([]byte, 3*page)
	copy(want[page:], "start")
	if !bytes.Equal(buf, want) {
		t.Errorf("hole does not read as zeros around the data")
	}
	for _, c := range []struct {
		off    int64
		whence int
		want   int64
		err    error
	}{
		{0, unix.SEEK_DATA, 2 * page, nil},
		{0, unix.SEEK_HOLE, 0, nil},
		{2*page + 10, unix.SEEK_DATA, 2*page + 10, nil},
		{2*page + 10, unix.SEEK_HOLE, 3 * page, nil},
		{3 * page, unix.SEEK_DATA, far, nil},
		{far + 1, unix.SEEK_HOLE, far + 3, nil},
		{far + 3, unix.SEEK_DATA, 0, unix.ENXIO},
		{-1, unix.SEEK_HOLE, 0, unix.ENXIO},
	} {
		got, err := fd.Seek(ctx, c.off, c.whence)
		if got != c.want || err != c.err {
			t.Errorf("lseek(%d, %d) = %d, %v; want %d, %v", c.off, c.whence, got, err, c.want, c.err)
		}
	}
}

func TestAppend(t *testing.T) {
	e := newEnv(t, Options{})
	d := e.writeFile("log", []byte("one\n"))
	fd := e.open(d, unix.O_WRONLY|unix.O_APPEND)
	defer fd.DecRef()
	if _, err := fd.Write(ctx, []byte("two\n")); err != nil {
		t.Fatal(err)
	}
	// pwrite on an O_APPEND description appends too, as in Linux.
	if _, err := fd.PWrite(ctx, []byte("three\n"), 0); err != nil {
		t.Fatal(err)
	}
	other := e.open(d, unix.O_WRONLY)
	other.PWrite(ctx, []byte("four\n"), int64(stat(t, d).Size))
	other.DecRef()
	if _, err := fd.Write(ctx, []byte("five\n")); err != nil {
		t.Fatal(err)
	}
	if got := string(e.readAll(d)); got != "one\ntwo\nthree\nfour\nfive\n" {
		t.Errorf("contents %q", got)
	}
	if off, _ := fd.Seek(ctx, 0, unix.SEEK_CUR); off != int64(len("one\ntwo\nthree\nfour\nfive\n")) {
		t.Errorf("offset after append = %d", off)
	}
	// Clearing O_APPEND with fcntl writes at the offset again.
	fd.SetStatusFlags(0)
	fd.Seek(ctx, 0, unix.SEEK_SET)
	fd.Write(ctx, []byte("ONE"))
	if got := string(e.readAll(d)); got[:4] != "ONE\n" {
		t.Errorf("write after clearing O_APPEND: %q", got)
	}
}

func TestTruncate(t *testing.T) {
	e := newEnv(t, Options{})
	data := pattern(3*page, 2)
	d := e.writeFile("f", data)
	base := e.fs.UsedBytes()
	// Shrink into the middle of a page: the rest of the page must read as
	// zeros when the file grows again, and later pages are freed.
	if err := d.SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_SIZE, Stat: vfs.Statx{Size: 100}}); err != nil {
		t.Fatal(err)
	}
	if got := e.fs.UsedBytes(); got != base-2*page {
		t.Errorf("after shrinking, %d bytes used; want %d", got, base-2*page)
	}
	if err := d.SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_SIZE, Stat: vfs.Statx{Size: 2 * page}}); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 2*page)
	copy(want, data[:100])
	if got := e.readAll(d); !bytes.Equal(got, want) {
		t.Errorf("extended file does not read as the old prefix and zeros")
	}
	if st := stat(t, d); st.Size != 2*page || st.Blocks != page/512 {
		t.Errorf("size %d blocks %d after extension; want %d, %d", st.Size, st.Blocks, 2*page, page/512)
	}

	// O_TRUNC.
	fd := e.open(d, unix.O_WRONLY|unix.O_TRUNC)
	fd.DecRef()
	if st := stat(t, d); st.Size != 0 || st.Blocks != 0 {
		t.Errorf("after O_TRUNC: size %d blocks %d", st.Size, st.Blocks)
	}

	// Sizes that aren't for regular files.
	dir := e.mkdir("dir", 0o755)
	wantErr(t, "truncate a directory", dir.SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_SIZE}), unix.EISDIR)
	e.root().Symlink(ctx, "link", "f", opts(vfs.S_IFLNK|0o777))
	wantErr(t, "truncate a symlink", e.lookup("link").SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_SIZE}), unix.EINVAL)
	wantErr(t, "truncate too far", d.SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_SIZE, Stat: vfs.Statx{Size: 1 << 63}}), unix.EFBIG)
}

// checkNoLeak fails the test if the memory file holds more at its end
// than at its start.
func checkNoLeak(t *testing.T, e *env) {
	t.Helper()
	before := e.fs.mf.InUse()
	t.Cleanup(func() {
		if after := e.fs.mf.InUse(); after != before {
			t.Errorf("memory file: %d bytes in use at the start, %d at the end", before, after)
		}
	})
}

func TestUnlinkWhileOpen(t *testing.T) {
	e := newEnv(t, Options{})
	checkNoLeak(t, e)
	inodes := e.fs.inodes.Load()
	data := pattern(5*page, 3)
	d := e.writeFile("f", data)
	fd := e.open(d, unix.O_RDWR)
	if err := e.root().Unlink(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	if !d.IsDeleted() {
		t.Error("unlinked dentry not deleted")
	}
	if _, err := e.root().Lookup(ctx, "f"); err != unix.ENOENT {
		t.Errorf("lookup after unlink: %v", err)
	}
	if st := stat(t, d); st.Nlink != 0 {
		t.Errorf("nlink %d after unlink", st.Nlink)
	}
	if got := readFD(t, fd); !bytes.Equal(got, data) {
		t.Error("contents changed after unlink")
	}
	if n, err := fd.PWrite(ctx, []byte("still"), 0); n != 5 || err != nil {
		t.Errorf("write after unlink = %d, %v", n, err)
	}
	if e.fs.UsedBytes() != 5*page {
		t.Errorf("%d bytes used while open; want %d", e.fs.UsedBytes(), 5*page)
	}
	fd.DecRef()
	if e.fs.UsedBytes() != 0 || e.fs.inodes.Load() != inodes {
		t.Errorf("after the last close: %d bytes, %d inodes; want 0, %d", e.fs.UsedBytes(), e.fs.inodes.Load(), inodes)
	}
}

func TestLinkKeepsData(t *testing.T) {
	e := newEnv(t, Options{})
	d := e.writeFile("a", []byte("shared"))
	if err := e.root().Link(ctx, "b", d); err != nil {
		t.Fatal(err)
	}
	b := e.lookup("b")
	if stat(t, d).Nlink != 2 || stat(t, b).Ino != stat(t, d).Ino {
		t.Errorf("links: nlink %d, inodes %d and %d", stat(t, d).Nlink, stat(t, b).Ino, stat(t, d).Ino)
	}
	e.root().Unlink(ctx, "a")
	if string(e.readAll(b)) != "shared" || stat(t, b).Nlink != 1 {
		t.Errorf("after unlinking one name: %q nlink %d", e.readAll(b), stat(t, b).Nlink)
	}
	if d.IsDeleted() == false || b.IsDeleted() {
		t.Errorf("deleted: a %v b %v; want true false", d.IsDeleted(), b.IsDeleted())
	}
	// A file without links can't get a new one.
	e.root().Unlink(ctx, "b")
	wantErr(t, "link to an unlinked file", e.root().Link(ctx, "c", b), unix.ENOENT)
	// Directories can't be linked; other filesystems are EXDEV.
	dir := e.mkdir("dir", 0o755)
	wantErr(t, "link a directory", e.root().Link(ctx, "dir2", dir), unix.EPERM)
	other := newEnv(t, Options{})
	f := other.create("x")
	wantErr(t, "link across filesystems", e.root().Link(ctx, "x", f), unix.EXDEV)
	wantErr(t, "link over an existing name", e.root().Link(ctx, "dir", e.create("y")), unix.EEXIST)
}

func TestMmapCoherence(t *testing.T) {
	e := newEnv(t, Options{})
	checkNoLeak(t, e)
	mf := e.fs.mf
	d := e.create("m")
	fd := e.open(d, unix.O_RDWR)
	defer fd.DecRef()
	defer e.root().Unlink(ctx, "m")
	fd.PWrite(ctx, pattern(2*page+100, 4), 0)

	o := mm.MMapOpts{Length: 4 * page}
	if err := fd.ConfigureMMap(ctx, &o); err != nil {
		t.Fatal(err)
	}
	m := o.Mappable
	defer m.(mm.MappingRefs).DecMappings()
	ts, err := m.Translate(0, 4*page, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The object ends with the page holding the end of file.
	if len(ts) == 0 || ts[len(ts)-1].End != 3*page {
		t.Fatalf("translations %+v; want [0, %d)", ts, 3*page)
	}
	view := func(off uint64) []byte {
		for _, tr := range ts {
			if off >= tr.Start && off < tr.End {
				return mf.Slice(tr.MemOff+(off-tr.Start), tr.End-off)
			}
		}
		t.Fatalf("offset %d not translated", off)
		return nil
	}
	defer func() {
		for _, tr := range ts {
			mf.DecRef(tr.MemOff, tr.End-tr.Start)
		}
	}()
	// write(2) is seen by the mapping...
	fd.PWrite(ctx, []byte("via write"), page+7)
	if got := string(view(page + 7)[:9]); got != "via write" {
		t.Errorf("mapping sees %q after write", got)
	}
	// ...and a store through the mapping by read(2).
	copy(view(2*page+10), "via mapping")
	buf := make([]byte, 11)
	fd.PRead(ctx, buf, 2*page+10)
	if string(buf) != "via mapping" {
		t.Errorf("read sees %q after a store through the mapping", buf)
	}
	// Beyond the end of file: SIGBUS.
	if _, err := m.Translate(3*page, 4*page, 3*page); !errors.Is(err, mm.ErrBusError) {
		t.Errorf("translate beyond EOF: %v, want ErrBusError", err)
	}
	// Truncation while mapped: the mapping sees zeros, and growing the
	// file again doesn't bring back what was there.
	d.SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_SIZE, Stat: vfs.Statx{Size: page}})
	if !bytes.Equal(view(page)[:page], make([]byte, page)) {
		t.Error("truncated page still has data in the mapping")
	}
	if _, err := m.Translate(page, 2*page, page); !errors.Is(err, mm.ErrBusError) {
		t.Errorf("translate beyond the new EOF: %v, want ErrBusError", err)
	}
	copy(view(page), "stale store")
	d.SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_SIZE, Stat: vfs.Statx{Size: 2 * page}})
	fd.PRead(ctx, buf, page)
	if !bytes.Equal(buf, make([]byte, 11)) {
		t.Errorf("re-extended file reads %q; want zeros", buf)
	}
}

func TestMmapHoleAndLifetime(t *testing.T) {
	e := newEnv(t, Options{})
	checkNoLeak(t, e)
	d := e.create("m")
	fd := e.open(d, unix.O_RDWR)
	d.SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_SIZE, Stat: vfs.Statx{Size: 8 * page}})
	o := mm.MMapOpts{Length: 8 * page}
	fd.ConfigureMMap(ctx, &o)
	m := o.Mappable
	// A fault in a hole allocates the file's page: later writes go there.
	ts, err := m.Translate(2*page, 3*page, 2*page)
	if err != nil || len(ts) != 1 {
		t.Fatalf("translate a hole = %+v, %v", ts, err)
	}
	fd.PWrite(ctx, []byte("x"), 2*page)
	if e.fs.mf.Slice(ts[0].MemOff, 1)[0] != 'x' {
		t.Error("write after a fault in a hole went elsewhere")
	}
	// Unlinked and closed, the mapping keeps the file.
	e.root().Unlink(ctx, "m")
	fd.DecRef()
	if e.fs.UsedBytes() != page {
		t.Errorf("%d bytes used while mapped; want %d", e.fs.UsedBytes(), page)
	}
	if ts2, err := m.Translate(0, page, 0); err != nil {
		t.Errorf("translate while mapped after close: %v", err)
	} else {
		e.fs.mf.DecRef(ts2[0].MemOff, page)
	}
	e.fs.mf.DecRef(ts[0].MemOff, page)
	m.(mm.MappingRefs).DecMappings()
	if e.fs.UsedBytes() != 0 {
		t.Errorf("%d bytes used after the last unmap", e.fs.UsedBytes())
	}
}

func TestNoSpace(t *testing.T) {
	e := newEnv(t, Options{Size: 3 * page, NrInodes: 4})
	d := e.create("f")
	fd := e.open(d, unix.O_RDWR)
	defer fd.DecRef()
	n, err := fd.Write(ctx, pattern(4*page, 5))
	if n != 3*page || err != nil {
		t.Fatalf("write over the limit = %d, %v; want %d, nil", n, err, 3*page)
	}
	if n, err := fd.Write(ctx, []byte("more")); n != 0 || err != unix.ENOSPC {
		t.Errorf("write when full = %d, %v; want 0, ENOSPC", n, err)
	}
	if st := stat(t, d); st.Size != 3*page {
		t.Errorf("size %d after short write", st.Size)
	}
	// Overwriting allocated pages still works.
	if n, err := fd.PWrite(ctx, []byte("in place"), 10); n != 8 || err != nil {
		t.Errorf("overwrite when full = %d, %v", n, err)
	}
	sf, _ := e.fs.Statfs(ctx)
	if sf.Type != TMPFS_MAGIC || sf.Blocks != 3 || sf.Bfree != 0 || sf.Bavail != 0 || sf.Bsize != page {
		t.Errorf("statfs when full: %+v", sf)
	}
	// fallocate is all or nothing.
	wantErr(t, "fallocate when full", fd.Impl().(*regularFile).Allocate(ctx, 0, 3*page, page), unix.ENOSPC)
	if st := stat(t, d); st.Size != 3*page {
		t.Errorf("failed fallocate changed the size to %d", st.Size)
	}
	// Truncation frees space.
	d.SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_SIZE, Stat: vfs.Statx{Size: page}})
	sf, _ = e.fs.Statfs(ctx)
	if sf.Bfree != 2 {
		t.Errorf("free blocks %d after truncation; want 2", sf.Bfree)
	}
	// Inode limit: the root and f are two of four.
	if sf.Files != 4 || sf.Ffree != 2 {
		t.Errorf("files %d free %d; want 4, 2", sf.Files, sf.Ffree)
	}
	e.create("g")
	e.mkdir("h", 0o755)
	wantErr(t, "create beyond the inode limit", e.root().Mkdir(ctx, "i", opts(vfs.S_IFDIR|0o755)), unix.ENOSPC)
	e.root().Rmdir(ctx, "h")
	if err := e.root().Mkdir(ctx, "i", opts(vfs.S_IFDIR|0o755)); err != nil {
		t.Errorf("mkdir after rmdir freed an inode: %v", err)
	}
}

func TestMappedFaultBeyondLimit(t *testing.T) {
	e := newEnv(t, Options{Size: page})
	d := e.create("f")
	fd := e.open(d, unix.O_RDWR)
	defer fd.DecRef()
	d.SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_SIZE, Stat: vfs.Statx{Size: 4 * page}})
	o := mm.MMapOpts{Length: 4 * page}
	fd.ConfigureMMap(ctx, &o)
	defer o.Mappable.(mm.MappingRefs).DecMappings()
	ts, err := o.Mappable.Translate(0, 4*page, 0)
	if err != nil || len(ts) != 1 || ts[0].End != page {
		t.Fatalf("translate with one page of room = %+v, %v; want one page", ts, err)
	}
	e.fs.mf.DecRef(ts[0].MemOff, page)
	if _, err := o.Mappable.Translate(page, 2*page, page); err != unix.ENOSPC {
		t.Errorf("fault beyond the limit: %v, want ENOSPC (SIGBUS)", err)
	}
}

func TestFallocate(t *testing.T) {
	e := newEnv(t, Options{})
	d := e.create("f")
	fd := e.open(d, unix.O_RDWR)
	defer fd.DecRef()
	f := fd.Impl().(*regularFile)
	if err := f.Allocate(ctx, 0, 100, 2*page); err != nil {
		t.Fatal(err)
	}
	if st := stat(t, d); st.Size != 2*page+100 || st.Blocks != 3*page/512 {
		t.Errorf("after fallocate: size %d blocks %d", st.Size, st.Blocks)
	}
	if err := f.Allocate(ctx, FALLOC_FL_KEEP_SIZE, 0, 8*page); err != nil {
		t.Fatal(err)
	}
	if st := stat(t, d); st.Size != 2*page+100 || st.Blocks != 8*page/512 {
		t.Errorf("after fallocate KEEP_SIZE: size %d blocks %d", st.Size, st.Blocks)
	}
	fd.PWrite(ctx, bytes.Repeat([]byte{1}, 4*page), 0)
	if err := f.Allocate(ctx, FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE, 10, 2*page); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4*page)
	fd.PRead(ctx, got, 0)
	want := bytes.Repeat([]byte{1}, 4*page)
	clear(want[10 : 10+2*page])
	if !bytes.Equal(got, want) {
		t.Error("punched hole doesn't read as zeros, or zeroed too much")
	}
	// The one whole page inside the hole is freed.
	if st := stat(t, d); st.Size != 4*page || st.Blocks != 7*page/512 {
		t.Errorf("after punching: size %d blocks %d; want %d, %d", st.Size, st.Blocks, 4*page, 7*page/512)
	}
	for _, mode := range []uint32{FALLOC_FL_PUNCH_HOLE, 0x8, 0x10, 0x20, 0x40} {
		wantErr(t, "unsupported fallocate mode", f.Allocate(ctx, mode, 0, page), unix.EOPNOTSUPP)
	}
	wantErr(t, "fallocate of length 0", f.Allocate(ctx, 0, 0, 0), unix.EINVAL)
	if err := f.Sync(ctx); err != nil {
		t.Errorf("fsync: %v", err)
	}
}

func TestWriteKillsPrivileges(t *testing.T) {
	e := newEnv(t, Options{})
	d := e.writeFile("suid", []byte("x"))
	d.SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_MODE, Stat: vfs.Statx{Mode: 0o6755}})
	user := auth.New(1000, 1000, nil, 0)
	fd, err := d.Open(withCreds(user), vfs.VirtualDentry{Mount: e.mnt, Dentry: d}, unix.O_WRONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.DecRef()
	// A privileged writer keeps the bits.
	fd.Impl().PWrite(withCreds(rootCreds), []byte("y"), 0)
	if m := d.Mode(); m != vfs.S_IFREG|0o6755 {
		t.Errorf("mode %#o after a privileged write", m)
	}
	fd.Impl().PWrite(withCreds(user), []byte("y"), 0)
	if m := d.Mode(); m != vfs.S_IFREG|0o755 {
		t.Errorf("mode %#o after an unprivileged write; want %#o", m, vfs.S_IFREG|0o755)
	}
}

func TestTmpfile(t *testing.T) {
	e := newEnv(t, Options{})
	fd, err := e.root().Tmpfile(ctx, e.mnt, unix.O_RDWR, opts(0o600))
	if err != nil {
		t.Fatal(err)
	}
	defer fd.DecRef()
	fd.Write(ctx, []byte("tmp"))
	d := fd.Dentry().(*Dentry)
	if !d.IsDeleted() || stat(t, d).Nlink != 0 {
		t.Errorf("tmpfile: deleted %v nlink %d", d.IsDeleted(), stat(t, d).Nlink)
	}
	if len(e.names(e.root())) != 0 {
		t.Error("tmpfile listed")
	}
	if err := e.root().Link(ctx, "named", d); err != nil {
		t.Fatalf("link a tmpfile: %v", err)
	}
	if string(e.readAll(e.lookup("named"))) != "tmp" || stat(t, d).Nlink != 1 {
		t.Error("linked tmpfile differs")
	}

	excl, _ := e.root().Tmpfile(ctx, e.mnt, unix.O_RDWR|unix.O_EXCL, opts(0o600))
	defer excl.DecRef()
	wantErr(t, "link an O_EXCL tmpfile", e.root().Link(ctx, "x", excl.Dentry()), unix.ENOENT)
}

// TestConcurrentData runs writers, readers, truncations, hole punches and
// faults on one file at once (run it with -race).
func TestConcurrentData(t *testing.T) {
	e := newEnv(t, Options{Size: 64 * page})
	checkNoLeak(t, e)
	d := e.create("f")
	fd := e.open(d, unix.O_RDWR)
	defer fd.DecRef()
	o := mm.MMapOpts{Length: 32 * page}
	fd.ConfigureMMap(ctx, &o)
	m := o.Mappable
	done := make(chan struct{})
	for g := 0; g < 6; g++ {
		go func(g int) {
			defer func() { done <- struct{}{} }()
			buf := make([]byte, 3*page)
			for i := 0; i < 300; i++ {
				off := int64((i*7 + g) % (32 * page))
				switch (i + g) % 6 {
				case 0:
					fd.PWrite(ctx, buf[:1+i%len(buf)], off)
				case 1:
					fd.PRead(ctx, buf, off)
				case 2:
					d.SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_SIZE, Stat: vfs.Statx{Size: uint64(off)}})
				case 3:
					fd.Impl().(*regularFile).Allocate(ctx, FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE, off, page)
				case 4:
					p := uint64(off) &^ (page - 1)
					if ts, err := m.Translate(p, p+2*page, p); err == nil {
						for _, tr := range ts {
							e.fs.mf.DecRef(tr.MemOff, tr.End-tr.Start)
						}
					}
				case 5:
					stat(t, d)
					fd.Seek(ctx, 0, unix.SEEK_DATA)
				}
			}
		}(g)
	}
	for g := 0; g < 6; g++ {
		<-done
	}
	m.(mm.MappingRefs).DecMappings()
	d.SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_SIZE, Stat: vfs.Statx{Size: 0}})
	if e.fs.UsedBytes() != 0 {
		t.Errorf("%d bytes used after truncating to 0 unmapped", e.fs.UsedBytes())
	}
}
