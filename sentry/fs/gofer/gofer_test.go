package gofer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/gofer/protocol"
	"palisade.dev/gofer/server"
	"palisade.dev/platform"
	"palisade.dev/sentry/memfile"
	"palisade.dev/sentry/mm"
	"palisade.dev/sentry/vfs"
)

// bigSize is the size of big.bin: three pages and a bit, so that the end
// of the file falls inside a page.
const bigSize = 3*linux.PageSize + 100

var (
	mfOnce sync.Once
	mf     *memfile.MemoryFile
	mfErr  error
)

// memFile returns the memory file the tests share (each one reserves a
// large range of address space).
func memFile(t *testing.T) *memfile.MemoryFile {
	t.Helper()
	mfOnce.Do(func() { mf, mfErr = memfile.New("gofer-test") })
	if mfErr != nil {
		t.Fatalf("memfile.New: %v", mfErr)
	}
	return mf
}

func bigContent() []byte {
	b := make([]byte, bigSize)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// makeTree creates:
//
//	file.txt      "hello, gofer\n"
//	big.bin       bigContent()
//	empty.txt     empty
//	dir/a dir/b   files
//	dir/sub/      directory
//	emptydir/     directory
//	link          -> file.txt
//	dirlink       -> dir
//	dangling      -> nope
//	fifo          FIFO
//	sock          unix socket (if the path fits)
func makeTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("making tree: %v", err)
		}
	}
	must(os.WriteFile(filepath.Join(root, "file.txt"), []byte("hello, gofer\n"), 0o644))
	must(os.WriteFile(filepath.Join(root, "big.bin"), bigContent(), 0o644))
	must(os.WriteFile(filepath.Join(root, "empty.txt"), nil, 0o644))
	must(os.MkdirAll(filepath.Join(root, "dir", "sub"), 0o755))
	must(os.WriteFile(filepath.Join(root, "dir", "a"), []byte("a"), 0o644))
	must(os.WriteFile(filepath.Join(root, "dir", "b"), []byte("b"), 0o644))
	must(os.Mkdir(filepath.Join(root, "emptydir"), 0o755))
	must(os.Symlink("file.txt", filepath.Join(root, "link")))
	must(os.Symlink("dir", filepath.Join(root, "dirlink")))
	must(os.Symlink("nope", filepath.Join(root, "dangling")))
	must(unix.Mkfifo(filepath.Join(root, "fifo"), 0o644))
	if sock := filepath.Join(root, "sock"); len(sock) < 100 {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		must(err)
		must(unix.Bind(fd, &unix.SockaddrUnix{Name: sock}))
		unix.Close(fd)
	}
	return root
}

// serve starts a gofer over dir in this process and returns a Filesystem
// attached to it. The connection is closed and the server stopped at the
// end of the test.
func serve(t *testing.T, dir string) *Filesystem {
	t.Helper()
	return serveOpts(t, dir, server.Options{})
}

// serveRW is serve with the tree served read-write.
func serveRW(t *testing.T, dir string) *Filesystem {
	t.Helper()
	return serveOpts(t, dir, server.Options{Writable: true})
}

// serveOpts is serve with serving options.
func serveOpts(t *testing.T, dir string, o server.Options) *Filesystem {
	t.Helper()
	return serveWith(t, dir, o, Options{})
}

// serveWith is serve with serving options and the Filesystem's options.
func serveWith(t *testing.T, dir string, o server.Options, fo Options) *Filesystem {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	rootFD, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	done := make(chan error, 1)
	go func() { done <- server.ServeWith(fds[1], rootFD, o) }()
	client, err := protocol.NewClient(fds[0])
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	fs, err := NewWithOptions(client, memFile(t), fo)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		client.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Serve did not return")
		}
		unix.Close(fds[1])
		unix.Close(rootFD)
	})
	return fs
}

func lookup(t *testing.T, d vfs.Dentry, names ...string) vfs.Dentry {
	t.Helper()
	for _, n := range names {
		c, err := d.Lookup(context.Background(), n)
		if err != nil {
			t.Fatalf("Lookup(%q): %v", n, err)
		}
		d = c
	}
	return d
}

func open(t *testing.T, d vfs.Dentry, flags uint32) *vfs.FileDescription {
	t.Helper()
	f, err := d.Open(context.Background(), vfs.VirtualDentry{Dentry: d}, flags)
	if err != nil {
		t.Fatalf("Open(%q, %#x): %v", d.Name(), flags, err)
	}
	return f
}

// fdsTo counts this process's descriptors open on path (the gofer
// server runs in the test process: each FID holds an O_PATH descriptor of
// its file, and each open regular file a donated one).
func fdsTo(t *testing.T, path string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && target == path {
			n++
		}
	}
	return n
}

// checkFDsTo checks that want descriptors are open on path, allowing a
// moment for the server to close its copy of a descriptor it donated
// (it does so after sending the response that carries it).
func checkFDsTo(t *testing.T, path string, want int, what string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		got := fdsTo(t, path)
		if got == want {
			return
		}
		if got < want || time.Now().After(deadline) {
			t.Errorf("%s: %d descriptors open on %s, want %d", what, got, path, want)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// realTree is makeTree with symlinks in its path resolved, as
// /proc/self/fd shows paths.
func realTree(t *testing.T) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(makeTree(t))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLookupAndStat(t *testing.T) {
	dir := makeTree(t)
	fs := serve(t, dir)
	ctx := context.Background()
	root := fs.Root()
	if root.Parent() != nil || root.Name() != "" {
		t.Errorf("root: parent %v, name %q; want nil, \"\"", root.Parent(), root.Name())
	}
	if fs.Name() != "9p" {
		t.Errorf("Name: got %q", fs.Name())
	}
	for _, tc := range []struct {
		path []string
		typ  uint32
	}{
		{[]string{"file.txt"}, vfs.S_IFREG},
		{[]string{"dir"}, vfs.S_IFDIR},
		{[]string{"dir", "sub"}, vfs.S_IFDIR},
		{[]string{"dir", "a"}, vfs.S_IFREG},
		{[]string{"link"}, vfs.S_IFLNK},
		{[]string{"dangling"}, vfs.S_IFLNK},
		{[]string{"fifo"}, vfs.S_IFIFO},
	} {
		d := lookup(t, root, tc.path...)
		var host unix.Stat_t
		if err := unix.Lstat(filepath.Join(append([]string{dir}, tc.path...)...), &host); err != nil {
			t.Fatal(err)
		}
		if d.Mode()&vfs.S_IFMT != tc.typ {
			t.Errorf("%v: mode %#o, want type %#o", tc.path, d.Mode(), tc.typ)
		}
		st, err := d.Stat(ctx)
		if err != nil {
			t.Fatalf("%v: Stat: %v", tc.path, err)
		}
		if st.Mode != host.Mode || st.Ino != host.Ino || st.Size != uint64(host.Size) ||
			st.Nlink != uint32(host.Nlink) || st.UID != host.Uid || st.Mtime.Sec != host.Mtim.Sec ||
			st.Mtime.Nsec != host.Mtim.Nsec {
			t.Errorf("%v: Stat %+v does not match the host's %+v", tc.path, st, host)
		}
		if st.DevMajor != 0 || st.DevMinor != fs.dev {
			t.Errorf("%v: device %d:%d, want the sentry's 0:%d", tc.path, st.DevMajor, st.DevMinor, fs.dev)
		}
		if name := tc.path[len(tc.path)-1]; d.Name() != name {
			t.Errorf("%v: Name %q, want %q", tc.path, d.Name(), name)
		}
	}
	if p := lookup(t, root, "dir", "sub").Parent(); p != lookup(t, root, "dir") {
		t.Errorf("dir/sub's parent is %v, want dir", p)
	}
	for _, tc := range []struct {
		path []string
		err  error
	}{
		{[]string{"nope"}, unix.ENOENT},
		{[]string{"file.txt", "x"}, unix.ENOTDIR},
	} {
		d := lookup(t, root, tc.path[:len(tc.path)-1]...)
		if _, err := d.Lookup(ctx, tc.path[len(tc.path)-1]); !errors.Is(err, tc.err) {
			t.Errorf("Lookup %v: got %v, want %v", tc.path, err, tc.err)
		}
	}
	sf, err := fs.Statfs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sf.Type != 0x01021997 || sf.Flags&1 == 0 || sf.Bsize == 0 || sf.Namelen == 0 {
		t.Errorf("Statfs: got %+v", sf)
	}
}

func TestDentryCache(t *testing.T) {
	dir := realTree(t)
	fs := serve(t, dir)
	root := fs.Root()
	a := lookup(t, root, "dir", "a")
	if b := lookup(t, root, "dir", "a"); a != b {
		t.Errorf("second Lookup returned a different dentry: %p, %p", a, b)
	}
	// Cached lookups make no walks (each would hold a descriptor in the
	// gofer), and the cached dentry is used even after the host file goes:
	// dentries live as long as the mount.
	d := lookup(t, root, "dir")
	path := filepath.Join(dir, "dir", "a")
	checkFDsTo(t, path, 1, "after the first lookup")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if got := lookup(t, d, "a"); got != a {
			t.Fatalf("cached Lookup returned a different dentry")
		}
	}
	checkFDsTo(t, path+" (deleted)", 1, "after repeated cached lookups")
	// Misses are not cached.
	if _, err := d.Lookup(context.Background(), "new"); err != unix.ENOENT {
		t.Fatalf("Lookup(new): got %v, want ENOENT", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dir", "new"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	lookup(t, d, "new")
}

func TestConcurrentLookups(t *testing.T) {
	dir := realTree(t)
	fs := serve(t, dir)
	d := lookup(t, fs.Root(), "dir")
	const n = 32
	got := make([]vfs.Dentry, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			c, err := d.Lookup(context.Background(), "b")
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = c
		}()
	}
	close(start)
	wg.Wait()
	for i := 1; i < n; i++ {
		if got[i] != got[0] {
			t.Fatalf("concurrent lookups returned different dentries: %p and %p", got[0], got[i])
		}
	}
	// The gofer holds one O_PATH descriptor per live FID: the losers of
	// the race must have been clunked, leaving one.
	checkFDsTo(t, filepath.Join(dir, "dir", "b"), 1, "after concurrent lookups")
}

func TestReadlink(t *testing.T) {
	fs := serve(t, makeTree(t))
	ctx := context.Background()
	root := fs.Root()
	link := lookup(t, root, "link")
	for i := 0; i < 2; i++ {
		if got, err := link.Readlink(ctx); got != "file.txt" || err != nil {
			t.Errorf("Readlink #%d: got %q, %v; want file.txt", i, got, err)
		}
	}
	if got, err := lookup(t, root, "dangling").Readlink(ctx); got != "nope" || err != nil {
		t.Errorf("Readlink(dangling): got %q, %v; want nope", got, err)
	}
	for _, name := range []string{"file.txt", "dir", "fifo"} {
		if _, err := lookup(t, root, name).Readlink(ctx); err != unix.EINVAL {
			t.Errorf("Readlink(%s): got %v, want EINVAL", name, err)
		}
	}
	if _, err := link.Open(ctx, vfs.VirtualDentry{Dentry: link}, unix.O_RDONLY); err != unix.ELOOP {
		t.Errorf("Open(symlink): got %v, want ELOOP", err)
	}
}

// TestResolveThroughVFS resolves paths in a mount namespace over the gofer.
func TestResolveThroughVFS(t *testing.T) {
	fs := serve(t, makeTree(t))
	ctx := context.Background()
	ns := vfs.NewMountNamespace(fs, "gofer", true)
	root := ns.Root()
	opts := vfs.ResolveOpts{Root: root, Start: root, FollowFinal: true}
	vd, err := ns.Resolve(ctx, "/dirlink/../link", opts)
	if err != nil || vd.Dentry != lookup(t, fs.Root(), "file.txt") {
		t.Errorf("/dirlink/../link: got %v, %v; want file.txt", vd.Dentry, err)
	}
	if _, err := ns.Resolve(ctx, "/dangling", opts); err != unix.ENOENT {
		t.Errorf("/dangling: got %v, want ENOENT", err)
	}
	if p, ok := ns.PathOf(root, vd); p != "/file.txt" || !ok {
		t.Errorf("PathOf: got %q, %v", p, ok)
	}
}

func TestOpenErrors(t *testing.T) {
	fs := serve(t, makeTree(t))
	ctx := context.Background()
	root := fs.Root()
	tests := []struct {
		name  string
		flags uint32
		err   error
	}{
		{"file.txt", unix.O_WRONLY, unix.EROFS},
		{"file.txt", unix.O_RDWR, unix.EROFS},
		{"file.txt", unix.O_RDONLY | unix.O_TRUNC, unix.EROFS},
		{"file.txt", unix.O_WRONLY | unix.O_CREAT, unix.EROFS},
		{"file.txt", unix.O_RDONLY | unix.O_CREAT, nil}, // exists: not created
		{"file.txt", unix.O_RDONLY | unix.O_APPEND, nil},
		{"dir", unix.O_WRONLY, unix.EISDIR},
		{"dir", unix.O_RDWR, unix.EISDIR},
		{"dir", unix.O_RDONLY | unix.O_CREAT, unix.EISDIR},
		{"dir", unix.O_RDONLY | unix.O_TRUNC, unix.EISDIR},
		{"link", unix.O_RDONLY, unix.ELOOP},
		{"link", unix.O_WRONLY, unix.ELOOP},
		// A FIFO is the sentry's pipe: these never wait (TestFIFO).
		{"fifo", unix.O_RDONLY | unix.O_NONBLOCK, nil},
		{"fifo", unix.O_WRONLY | unix.O_NONBLOCK, unix.ENXIO},
		{"fifo", unix.O_RDWR, nil},
		{"fifo", unix.O_WRONLY | unix.O_NONBLOCK | unix.O_TRUNC, unix.ENXIO},
		{"sock", unix.O_RDONLY, unix.ENXIO},
	}
	for _, tc := range tests {
		d, err := root.Lookup(ctx, tc.name)
		if err != nil {
			if tc.name == "sock" {
				continue // the temp path was too long for a socket
			}
			t.Fatal(err)
		}
		f, err := d.Open(ctx, vfs.VirtualDentry{Dentry: d}, tc.flags)
		if err != tc.err {
			t.Errorf("Open(%s, %#x): got %v, want %v", tc.name, tc.flags, err, tc.err)
		}
		if f != nil {
			f.DecRef()
		}
	}
}

func TestReadRegular(t *testing.T) {
	fs := serve(t, makeTree(t))
	ctx := context.Background()
	want := bigContent()
	f := open(t, lookup(t, fs.Root(), "big.bin"), unix.O_RDONLY)
	defer f.DecRef()

	// Read through the file offset in uneven chunks.
	var got []byte
	buf := make([]byte, 1000)
	for {
		n, err := f.Read(ctx, buf)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if n == 0 {
			break
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Read: got %d bytes, want the file's %d (equal: false)", len(got), len(want))
	}
	// PRead doesn't move the offset.
	n, err := f.PRead(ctx, buf[:10], 4096)
	if n != 10 || err != nil || !bytes.Equal(buf[:10], want[4096:4106]) {
		t.Errorf("PRead(10 at 4096): got %d, %v, %x", n, err, buf[:n])
	}
	n, err = f.PRead(ctx, buf, bigSize-5)
	if n != 5 || err != nil || !bytes.Equal(buf[:5], want[bigSize-5:]) {
		t.Errorf("PRead across EOF: got %d, %v; want the last 5 bytes", n, err)
	}
	if n, err := f.PRead(ctx, buf, bigSize+10); n != 0 || err != nil {
		t.Errorf("PRead past EOF: got %d, %v; want 0, nil", n, err)
	}
	if _, err := f.PRead(ctx, buf, -1); err != unix.EINVAL {
		t.Errorf("PRead at -1: got %v, want EINVAL", err)
	}
	if off, err := f.Seek(ctx, 0, unix.SEEK_CUR); off != bigSize || err != nil {
		t.Errorf("offset after reading all: got %d, %v; want %d", off, err, bigSize)
	}
	// Seek, then Read from there.
	for _, tc := range []struct {
		off    int64
		whence int
		want   int64
	}{
		{100, unix.SEEK_SET, 100},
		{50, unix.SEEK_CUR, 150},
		{-10, unix.SEEK_END, bigSize - 10},
		{5, unix.SEEK_DATA, 5},
		{5, unix.SEEK_HOLE, bigSize},
	} {
		off, err := f.Seek(ctx, tc.off, tc.whence)
		if off != tc.want || err != nil {
			t.Errorf("Seek(%d, %d): got %d, %v; want %d", tc.off, tc.whence, off, err, tc.want)
		}
	}
	if _, err := f.Seek(ctx, 100, unix.SEEK_SET); err != nil {
		t.Fatal(err)
	}
	if n, err := f.Read(ctx, buf[:20]); n != 20 || err != nil || !bytes.Equal(buf[:20], want[100:120]) {
		t.Errorf("Read after Seek(100): got %d, %v", n, err)
	}
	if _, err := f.Seek(ctx, -1, unix.SEEK_SET); err != unix.EINVAL {
		t.Errorf("Seek(-1): got %v, want EINVAL", err)
	}
	if off, _ := f.Seek(ctx, 0, unix.SEEK_CUR); off != 120 {
		t.Errorf("offset after a failed Seek: got %d, want 120", off)
	}
	// Not writable, not a directory.
	if _, err := f.Write(ctx, buf); err != unix.EBADF {
		t.Errorf("Write: got %v, want EBADF", err)
	}
	if err := f.IterDirents(ctx, func(vfs.Dirent) bool { return true }); err != unix.ENOTDIR {
		t.Errorf("IterDirents on a file: got %v, want ENOTDIR", err)
	}
	st, err := f.Stat(ctx)
	if err != nil || st.Size != bigSize || st.Mode&vfs.S_IFMT != vfs.S_IFREG {
		t.Errorf("Stat: got %+v, %v", st, err)
	}

	// An empty file.
	e := open(t, lookup(t, fs.Root(), "empty.txt"), unix.O_RDONLY)
	defer e.DecRef()
	if n, err := e.Read(ctx, buf); n != 0 || err != nil {
		t.Errorf("Read of an empty file: got %d, %v", n, err)
	}
}

func TestReleaseClosesHostFD(t *testing.T) {
	dir := realTree(t)
	fs := serve(t, dir)
	// A cache that keeps nothing idle: the last close closes the host
	// descriptor (fdcache_test.go tests the cache).
	fs.cache = newFDCache(0, time.Minute)
	d := lookup(t, fs.Root(), "file.txt")
	dd := lookup(t, fs.Root(), "dir")
	path := filepath.Join(dir, "file.txt")
	// One for the FID of the dentry.
	checkFDsTo(t, path, 1, "before opening")
	f := open(t, d, unix.O_RDONLY)
	checkFDsTo(t, path, 2, "with the file open")
	f.IncRef()
	f.DecRef()
	checkFDsTo(t, path, 2, "after dropping an extra reference")
	g := open(t, d, unix.O_RDONLY)
	checkFDsTo(t, path, 2, "with two files open, which share one")
	g.DecRef()
	checkFDsTo(t, path, 2, "with one file left open")
	f.DecRef()
	checkFDsTo(t, path, 1, "after the last reference")
	// Opening a directory holds no host descriptor.
	h := open(t, dd, unix.O_RDONLY)
	checkFDsTo(t, filepath.Join(dir, "dir"), 1, "with a directory open")
	h.DecRef()
}

func dirNames(t *testing.T, f *vfs.FileDescription, max int) []string {
	t.Helper()
	var names []string
	err := f.IterDirents(context.Background(), func(d vfs.Dirent) bool {
		if max >= 0 && len(names) == max {
			return false
		}
		names = append(names, d.Name)
		return true
	})
	if err != nil {
		t.Fatalf("IterDirents: %v", err)
	}
	return names
}

func TestDirectory(t *testing.T) {
	dir := makeTree(t)
	fs := serve(t, dir)
	ctx := context.Background()
	d := lookup(t, fs.Root(), "dir")
	f := open(t, d, unix.O_RDONLY|unix.O_DIRECTORY)
	defer f.DecRef()

	var ents []vfs.Dirent
	if err := f.IterDirents(ctx, func(e vfs.Dirent) bool { ents = append(ents, e); return true }); err != nil {
		t.Fatal(err)
	}
	var names []string
	byName := map[string]vfs.Dirent{}
	for i, e := range ents {
		names = append(names, e.Name)
		byName[e.Name] = e
		if e.NextOff != int64(i+1) {
			t.Errorf("entry %d (%s): NextOff %d, want %d", i, e.Name, e.NextOff, i+1)
		}
	}
	if len(names) < 2 || names[0] != "." || names[1] != ".." {
		t.Errorf("listing starts %v, want . and ..", names)
	}
	sort.Strings(names)
	if want := []string{".", "..", "a", "b", "sub"}; !equal(names, want) {
		t.Errorf("listing: got %v, want %v", names, want)
	}
	var st unix.Stat_t
	unix.Lstat(filepath.Join(dir, "dir", "a"), &st)
	if e := byName["a"]; e.Ino != st.Ino || e.Type != unix.DT_REG {
		t.Errorf("entry a: %+v, want ino %d, DT_REG", e, st.Ino)
	}
	if e := byName["sub"]; e.Type != unix.DT_DIR {
		t.Errorf("entry sub: type %d, want DT_DIR", e.Type)
	}
	dst, _ := d.Stat(ctx)
	rst, _ := fs.Root().Stat(ctx)
	if byName["."].Ino != dst.Ino || byName[".."].Ino != rst.Ino {
		t.Errorf(". and ..: inos %d, %d; want %d, %d", byName["."].Ino, byName[".."].Ino, dst.Ino, rst.Ino)
	}
	if got := dirNames(t, f, -1); len(got) != 0 {
		t.Errorf("at the end: got %v", got)
	}

	// Rewind re-lists: a new host entry shows up.
	if err := os.WriteFile(filepath.Join(dir, "dir", "c"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if off, err := f.Seek(ctx, 0, unix.SEEK_SET); off != 0 || err != nil {
		t.Fatalf("rewind: %d, %v", off, err)
	}
	got := dirNames(t, f, -1)
	sort.Strings(got)
	if want := []string{".", "..", "a", "b", "c", "sub"}; !equal(got, want) {
		t.Errorf("after rewind: got %v, want %v", got, want)
	}
	// Partial reads and seeks to a d_off.
	f.Seek(ctx, 0, unix.SEEK_SET)
	first := dirNames(t, f, 3)
	off, _ := f.Seek(ctx, 0, unix.SEEK_CUR)
	if off != 3 {
		t.Errorf("offset after 3 entries: %d, want 3", off)
	}
	f.Seek(ctx, 2, unix.SEEK_SET)
	if again := dirNames(t, f, 1); len(again) != 1 || again[0] != first[2] {
		t.Errorf("entry at offset 2: got %v, want %s", again, first[2])
	}
	if _, err := f.Seek(ctx, 0, unix.SEEK_END); err != unix.EINVAL {
		t.Errorf("Seek(SEEK_END) on a directory: got %v, want EINVAL", err)
	}
	buf := make([]byte, 4)
	if _, err := f.Read(ctx, buf); err != unix.EISDIR {
		t.Errorf("Read of a directory: got %v, want EISDIR", err)
	}
	if _, err := f.PRead(ctx, buf, 0); err != unix.EISDIR {
		t.Errorf("PRead of a directory: got %v, want EISDIR", err)
	}
	if st, err := f.Stat(ctx); err != nil || st.Mode&vfs.S_IFMT != vfs.S_IFDIR {
		t.Errorf("Stat of the open directory: %+v, %v", st, err)
	}

	// An empty directory lists only . and ..; so does the root.
	e := open(t, lookup(t, fs.Root(), "emptydir"), unix.O_RDONLY)
	defer e.DecRef()
	if got := dirNames(t, e, -1); !equal(got, []string{".", ".."}) {
		t.Errorf("empty directory: got %v", got)
	}
	r := open(t, fs.Root(), unix.O_RDONLY)
	defer r.DecRef()
	got = dirNames(t, r, -1)
	sort.Strings(got)
	want := []string{".", "..", "big.bin", "dangling", "dir", "dirlink", "empty.txt", "emptydir", "fifo", "file.txt", "link"}
	if _, err := os.Lstat(filepath.Join(dir, "sock")); err == nil {
		want = append(want, "sock")
		sort.Strings(want)
	}
	if !equal(got, want) {
		t.Errorf("root: got %v, want %v", got, want)
	}
}

// TestBigDirectory lists a directory of many entries, each once. (Paging
// over several protocol round trips is tested in gofer/protocol and
// gofer/server; creating the files for it here would make this slow.)
func TestBigDirectory(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("n", 200)
	want := map[string]bool{".": true, "..": true}
	for i := 0; i < 64; i++ {
		name := long + "-" + itoa(i)
		fd, err := unix.Open(filepath.Join(dir, name), unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		unix.Close(fd)
		want[name] = true
	}
	fs := serve(t, dir)
	f := open(t, fs.Root(), unix.O_RDONLY)
	defer f.DecRef()
	got := dirNames(t, f, -1)
	if len(got) != len(want) {
		t.Errorf("got %d entries, want %d", len(got), len(want))
	}
	for _, name := range got {
		if !want[name] {
			t.Errorf("unexpected or repeated entry %q", name)
		}
		delete(want, name)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestConfigureMMap(t *testing.T) {
	fs := serve(t, makeTree(t))
	ctx := context.Background()
	mem := memFile(t)
	want := bigContent()
	d := lookup(t, fs.Root(), "big.bin")
	f := open(t, d, unix.O_RDONLY)

	opts := mm.MMapOpts{Length: 2 * linux.PageSize, Private: true, Perms: platform.Read, MaxPerms: platform.AnyAccess}
	if err := f.ConfigureMMap(ctx, &opts); err != nil {
		t.Fatalf("ConfigureMMap: %v", err)
	}
	cache, ok := opts.Mappable.(*mappable)
	if !ok {
		t.Fatalf("Mappable is %T, want *mappable", opts.Mappable)
	}
	if !opts.MaxPerms.Write {
		t.Errorf("private mapping: MaxPerms %v, want writable (copy-on-write)", opts.MaxPerms)
	}
	// A second mapping, through another open file, shares the cache.
	g := open(t, d, unix.O_RDONLY)
	opts2 := mm.MMapOpts{Length: linux.PageSize, Perms: platform.Read, MaxPerms: platform.AnyAccess}
	if err := g.ConfigureMMap(ctx, &opts2); err != nil {
		t.Fatalf("ConfigureMMap (shared): %v", err)
	}
	if opts2.Mappable != cache {
		t.Errorf("second mapping got a different page cache")
	}
	if opts2.MaxPerms.Write {
		t.Errorf("shared mapping of a read-only file: MaxPerms %v allows writing", opts2.MaxPerms)
	}
	opts3 := mm.MMapOpts{Length: linux.PageSize, Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess}
	if err := g.ConfigureMMap(ctx, &opts3); err != unix.EACCES {
		t.Errorf("shared writable mapping: got %v, want EACCES", err)
	}
	// Each successful ConfigureMMap gives the caller a mapping reference
	// for MMap to take over; a failed one gives none.
	if got := mappings(cache); got != 2 {
		t.Errorf("mapping references after two configured mappings: %d, want 2", got)
	}
	// The mappings outlive the files; the cache lives while they do.
	defer func() {
		in := d.(*dentry).inode()
		cache.DecMappings()
		if in.cacheFD < 0 || !in.cached.Load() {
			t.Errorf("cache released while still mapped")
		}
		cache.DecMappings()
		if in.cacheFD != -1 || in.pages.Len() != 0 || in.cached.Load() {
			t.Errorf("cache not released with its last mapping: fd %d, %d page ranges", in.cacheFD, in.pages.Len())
		}
	}()
	g.DecRef()
	// Closing the files doesn't stop the cache reading the file.
	f.DecRef()

	const end = 4 * linux.PageSize // the file's pages, rounded up
	ts, err := cache.Translate(0, end, 0)
	if err != nil {
		t.Fatalf("Translate: %v", err)
	}
	var pos uint64
	for _, tr := range ts {
		if tr.Start != pos {
			t.Fatalf("translations not contiguous: %+v", ts)
		}
		b := mem.Slice(tr.MemOff, tr.End-tr.Start)
		for i, c := range b {
			o := int(tr.Start) + i
			var w byte
			if o < len(want) {
				w = want[o]
			}
			if c != w {
				t.Fatalf("byte %d through the page cache: got %#x, want %#x", o, c, w)
			}
		}
		pos = tr.End
	}
	if pos != end {
		t.Errorf("translations end at %#x, want %#x", pos, end)
	}
	for _, tr := range ts {
		mem.DecRef(tr.MemOff, tr.End-tr.Start)
	}
	// A second translation of a page gives the same memory.
	ts1, err := cache.Translate(linux.PageSize, 2*linux.PageSize, linux.PageSize)
	if err != nil || len(ts1) != 1 || ts1[0].MemOff != ts[0].MemOff+linux.PageSize {
		t.Errorf("second Translate of page 1: got %+v, %v; want memory at %#x", ts1, err, ts[0].MemOff+linux.PageSize)
	}
	for _, tr := range ts1 {
		mem.DecRef(tr.MemOff, tr.End-tr.Start)
	}
	// Beyond the end of the file, a bus error; asking past the end for a
	// page before it is cut short.
	if _, err := cache.Translate(end, end+linux.PageSize, end); !errors.Is(err, mm.ErrBusError) {
		t.Errorf("Translate beyond EOF: got %v, want ErrBusError", err)
	}
	ts2, err := cache.Translate(3*linux.PageSize, 6*linux.PageSize, 3*linux.PageSize)
	if err != nil || len(ts2) != 1 || ts2[0].End != end {
		t.Errorf("Translate across EOF: got %+v, %v; want one range ending at %#x", ts2, err, end)
	}
	for _, tr := range ts2 {
		mem.DecRef(tr.MemOff, tr.End-tr.Start)
	}
}

// mappings returns the mapping count of a file's cache.
func mappings(m *mappable) int {
	in := (*inode)(m)
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.mappings
}
